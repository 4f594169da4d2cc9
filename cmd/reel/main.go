// Command reel is the short-video backend: one binary that serves the API,
// runs migrations and administers users.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/config"
)

func main() {
	if err := run(context.Background(), os.Args, config.Getenv(os.LookupEnv), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "reel: %v\n", err)
		os.Exit(1)
	}
}

// command is one subcommand: its name, a line of help, and its body, which
// receives the arguments after the name.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, args []string, env *environment) error
}

// environment is what run was given, passed on to the subcommands so that
// tests drive the real program without touching the process's globals.
type environment struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

var commands = []command{
	{"serve", "[flags]", "run the HTTP server and the embedded job workers", runServe},
	{"worker", "[flags]", "run only the job workers (transcodes, cleanups)", runWorker},
	{"migrate", "[up|status] [flags]", "apply pending database migrations (up, the default) or list them (status)", runMigrate},
	{"user", "promote|demote NAME [flags]", "grant or revoke administrator rights", runUser},
	{"seed", "[--wait] [flags]", "create demo users, clips, follows, likes and comments (idempotent)", runSeed},
	{"version", "", "print the version", runVersion},
}

// run is the whole program; main only calls it. It returns an error instead
// of exiting so that every resource it opened is closed on the way out.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := &environment{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) < 2 {
		usage(stderr)
		return errors.New("no command given")
	}
	name, rest := args[1], args[2:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 {
			return run(ctx, []string{args[0], rest[0], "--help"}, getenv, stdout, stderr)
		}
		usage(stdout)
		return nil
	case "-v", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name == name {
			err := c.run(ctx, rest, env)
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", name)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "reel — a short-video backend\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  reel %-8s %-28s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'reel COMMAND --help' for the flags of a command. Every flag can also be\n"+
		"set through its REEL_* environment variable; see the README.\n")
}

// newFlags returns a flag set whose usage names the command and its arguments.
func newFlags(name, args, summary string, env *environment) *flag.FlagSet {
	fs := flag.NewFlagSet("reel "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: reel %s %s\n\n%s\n\nFlags (each also read from the REEL_* variable of the same name):\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

func runVersion(_ context.Context, args []string, env *environment) error {
	fs := newFlags("version", "", "Print the version of this binary.", env)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "reel %s (%s %s/%s%s)\n", reel.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, vcsRevision())
	return nil
}

func vcsRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			return ", " + s.Value
		}
	}
	return ""
}
