# The README's quick start is `make run` and `make test`; each makes its own
# prerequisites true (see scripts/deps.sh).
GO      ?= go
BIN     := bin/reel
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/reel-video/reel.Version=$(VERSION)

.PHONY: build run demo test bench clean

# The web app first (scripts/web.sh: npm ci && npm run build in web/, only
# when its sources changed): the binary embeds web/dist.
build:
	@scripts/deps.sh go
	@scripts/web.sh
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/reel

run: build
	@scripts/deps.sh ffmpeg
	./$(BIN) serve

# A fresh install with a living feed: demo users, clips, follows, likes and
# comments (reel seed, idempotent), then the server, whose workers process
# the clips while it serves.
demo: build
	@scripts/deps.sh ffmpeg fonts
	./$(BIN) seed
	./$(BIN) serve

test:
	@scripts/test.sh

# Measures reel beside baselines in one run (see bench/main.go); minutes.
bench: build
	@scripts/deps.sh ffmpeg nginx wrk versitygw redis
	$(GO) run ./bench -bin $(BIN)

clean:
	rm -rf bin
