#!/usr/bin/env bash
# The one test command (make test): prerequisites, static checks, then every
# test with the race detector, store tests on SQLite and PostgreSQL both.
set -euo pipefail
cd "$(dirname "$0")/.."

# fonts: reel seed burns titles into its clips; nginx and wrk: the benchmark
# smoke test (bench/) measures against them; versitygw: the S3-compatible
# server of the blob store's S3 tests; redis-server: the shared-state tests
# start their own.
# node builds the web app, which the binary embeds and the browser test
# (e2e/browser_test.go) drives in Debian's chromium.
scripts/deps.sh go ffmpeg fonts nginx wrk versitygw redis node chromium
# Before anything is compiled: the Go package web embeds web/dist.
scripts/web.sh
# The S3 tests (internal/blob/s3test) start versitygw from GOPATH/bin.
export REEL_TEST_VERSITYGW="$(go env GOPATH)/bin/versitygw"
export REEL_TEST_REDIS_SERVER="$(command -v redis-server || echo /usr/bin/redis-server)"
# A failed assignment stops the script (set -e); eval "$(...)" alone would not.
pg=$(scripts/deps.sh postgres)
eval "$pg"
echo "tests use PostgreSQL at ${REEL_TEST_POSTGRES_URL%%\?*}" | sed 's#//[^@]*@#//#'

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

# staticcheck, pinned like every other dependency, is installed
# into GOPATH/bin when it is missing or another version.
staticcheck_version=v0.7.0
staticcheck="$(go env GOPATH)/bin/staticcheck"
if ! "$staticcheck" -version 2>/dev/null | grep -q "($staticcheck_version)"; then
	echo "installing staticcheck $staticcheck_version" >&2
	GOBIN="$(go env GOPATH)/bin" go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
"$staticcheck" ./...
go test -race -count=1 -timeout 20m "$@" ./...
