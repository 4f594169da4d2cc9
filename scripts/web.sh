#!/usr/bin/env bash
# Builds the web app (web/) into web/dist, which the Go package web embeds,
# when it is needed: no build yet, or a source, package.json or the lock
# file newer than the last one. make build and scripts/test.sh run it before
# compiling anything. A checkout without the app's sources has nothing to
# build: the binary then carries web/dist-fallback (see web/embed.go).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f web/package.json ]; then
	echo "web: no web/package.json, nothing to build (the binary serves web/dist-fallback)" >&2
	exit 0
fi
if [ -f web/dist/index.html ] && [ -d web/node_modules ] && [ -z "$(find web \
	\( -path web/node_modules -o -path web/dist -o -path web/dist-fallback \) -prune -o \
	-type f ! -name '*.go' -newer web/dist/index.html -print -quit)" ]; then
	exit 0 # up to date
fi
scripts/deps.sh node
echo "web: npm ci && npm run build" >&2
(cd web && npm ci --no-audit --no-fund && npm run build) >&2
[ -f web/dist/index.html ] || { echo "web: npm run build wrote no web/dist/index.html" >&2; exit 1; }
# The next check compares with this build, whatever times the bundler kept.
touch web/dist/index.html
