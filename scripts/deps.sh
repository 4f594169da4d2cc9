#!/usr/bin/env bash
# Makes the prerequisites of `make run` and `make test` true on a Debian
# machine, installing what is missing when run as root, or stopping with the
# exact command to run otherwise. Usage: scripts/deps.sh go|ffmpeg|fonts|postgres|nginx|wrk|versitygw|redis|node|chromium...
# `postgres` prints the export line of a reachable test database on stdout;
# everything else goes to stderr.
set -euo pipefail

say() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: %s\n' "$*" >&2; exit 1; }

apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		die "$1 is missing: run  sudo apt-get update && sudo apt-get install -y $*  and try again"
	fi
	command -v apt-get >/dev/null || die "$1 is missing and this is not a Debian-like system: install $* with your package manager"
	say "installing $* with apt-get"
	if [ -z "${REEL_APT_UPDATED:-}" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		export REEL_APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

need_go() {
	command -v go >/dev/null || die "Go is missing: install Go 1.26 or newer from https://go.dev/dl/ and put it on PATH"
	local v
	v=$(go env GOVERSION | sed 's/^go//')
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%.*}
	if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 26 ]; }; then
		die "Go $v is too old: install Go 1.26 or newer from https://go.dev/dl/"
	fi
}

need_ffmpeg() {
	if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
		apt_install ffmpeg
	fi
}

# need_fonts: a font for ffmpeg's drawtext, which reel seed titles its clips with.
need_fonts() {
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || fc-list 2>/dev/null | grep -q . || apt_install fonts-dejavu-core
}

need_nginx() {
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
}

# need_versitygw: the S3-compatible server the tests run (internal/blob/s3test
# starts one per test); built from its Go module, pinned like the others.
versitygw_version=v1.8.0
need_versitygw() {
	local gobin
	gobin="$(go env GOPATH)/bin"
	# go install records the module's version in the binary.
	if go version -m "$gobin/versitygw" 2>/dev/null | grep -q "mod[[:space:]]*github.com/versity/versitygw[[:space:]]*$versitygw_version"; then
		return
	fi
	say "installing versitygw $versitygw_version (go install)"
	GOBIN="$gobin" go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version" >&2 ||
		die "could not build versitygw: run  go install github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
}

# need_redis: redis-server, which the shared-state tests start one of per
# test (internal/shared/redistest) so that they can kill and restart it;
# the machine's own Redis is never touched.
need_redis() {
	command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || apt_install redis-server
}

# need_node: Node.js 18 or newer and npm, which build the web app (web/);
# Debian 12's nodejs is 18.
need_node() {
	if ! command -v node >/dev/null; then
		apt_install nodejs npm
	elif ! command -v npm >/dev/null; then
		apt_install npm
	fi
	local v
	v=$(node --version | sed 's/^v//')
	if [ "${v%%.*}" -lt 18 ]; then
		die "Node.js $v is too old for the web app's build: install Node.js 18 or newer (sudo apt-get install -y nodejs npm on Debian 12, or https://nodejs.org/)"
	fi
}

# need_chromium: Debian's Chromium, which the browser test drives through
# playwright-core (npx playwright install does not work offline), and a
# font with Chinese glyphs, without which the app's Simplified Chinese shows
# as boxes in the test's screenshots: any the machine has, else
# fonts-wqy-zenhei (7 MB to download, 16 MB installed; fonts-noto-cjk is
# 57 MB and 91 MB).
need_chromium() {
	[ -x /usr/bin/chromium ] || apt_install chromium
	[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || fc-list :lang=zh 2>/dev/null | grep -q . || apt_install fonts-wqy-zenhei
}

need_wrk() {
	command -v wrk >/dev/null || apt_install wrk
}

# pg_answers URL: true when a PostgreSQL server accepts a connection at URL.
pg_answers() {
	command -v psql >/dev/null || return 1
	psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

# need_postgres prints `export REEL_TEST_POSTGRES_URL=...` for a database the
# tests may use: the one given, the machine's default, or one it sets up.
need_postgres() {
	local given=${REEL_TEST_POSTGRES_URL:-}
	local default='postgres://root@127.0.0.1:5432/test?sslmode=disable'
	local own='postgres://reel_test:reel_test@127.0.0.1:5432/reel_test?sslmode=disable'
	command -v psql >/dev/null || apt_install postgresql-client
	if [ -n "$given" ]; then
		pg_answers "$given" || die "REEL_TEST_POSTGRES_URL does not answer: start that server or unset the variable"
		echo "export REEL_TEST_POSTGRES_URL='$given'"
		return
	fi
	for url in "$default" "$own"; do
		if pg_answers "$url"; then
			echo "export REEL_TEST_POSTGRES_URL='$url'"
			return
		fi
	done

	# No usable database: start the local server, installing it if needed,
	# and give the tests a role and database of their own.
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL does not answer at 127.0.0.1:5432: start it (sudo pg_ctlcluster <version> main start, or install it with sudo apt-get install -y postgresql), or set REEL_TEST_POSTGRES_URL"
	command -v pg_ctlcluster >/dev/null || apt_install postgresql
	local cluster
	cluster=$(pg_lsclusters -h 2>/dev/null | head -n1 | awk '{print $1" "$2}')
	[ -n "$cluster" ] || die "PostgreSQL is installed but has no cluster: run  pg_createcluster --start 15 main"
	say "starting PostgreSQL cluster $cluster"
	# shellcheck disable=SC2086
	pg_ctlcluster --skip-systemctl-redirect $cluster start >&2 2>&1 || true
	for _ in $(seq 1 60); do
		runuser -u postgres -- psql -Atqc 'select 1' >/dev/null 2>&1 && break
		sleep 0.5
	done
	runuser -u postgres -- psql -Atqc 'select 1' >/dev/null 2>&1 || die "PostgreSQL did not start: see /var/log/postgresql/"
	if pg_answers "$default"; then
		echo "export REEL_TEST_POSTGRES_URL='$default'"
		return
	fi
	say "creating role and database reel_test"
	runuser -u postgres -- psql -qc "DO \$\$BEGIN CREATE ROLE reel_test LOGIN PASSWORD 'reel_test'; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$;" >&2
	runuser -u postgres -- psql -Atqc "select 1 from pg_database where datname='reel_test'" | grep -q 1 ||
		runuser -u postgres -- createdb -O reel_test reel_test >&2
	pg_answers "$own" || die "could not connect to the reel_test database at 127.0.0.1:5432 (check pg_hba.conf allows password logins on 127.0.0.1)"
	echo "export REEL_TEST_POSTGRES_URL='$own'"
}

for need in "$@"; do
	case "$need" in
	go) need_go ;;
	ffmpeg) need_ffmpeg ;;
	postgres) need_postgres ;;
	fonts) need_fonts ;;
	nginx) need_nginx ;;
	wrk) need_wrk ;;
	versitygw) need_versitygw ;;
	redis) need_redis ;;
	node) need_node ;;
	chromium) need_chromium ;;
	*) die "unknown prerequisite $need" ;;
	esac
done
