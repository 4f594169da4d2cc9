// Package reel holds the domain of the reel short-video backend: its types,
// the service interfaces the HTTP layer depends on, and the Error type with
// stable codes. It imports no infrastructure; internal/* packages implement
// the interfaces and cmd/reel wires them together.
package reel

// Version is set at build time with -ldflags "-X github.com/reel-video/reel.Version=...".
var Version = "dev"

// MaxID is the largest id reel hands out: ids stay exact in JavaScript numbers.
const MaxID = 1<<53 - 1
