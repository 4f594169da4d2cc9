// Package media runs ffprobe and ffmpeg over local files: Probe reads what a
// file is, Cover grabs a representative frame, Remux rewraps an H.264 source as
// a progressive MP4, and Ladder encodes every HLS rendition in one ffmpeg
// process. Each function takes a context: cancelling it kills the ffmpeg or
// ffprobe process it runs, so a cancelled job leaves no process behind.
//
// Every function except Probe expects a file that Probe accepted: Probe only
// lets through containers that cannot make ffmpeg read other files (see
// containers in probe.go).
package media

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Available reports whether ffmpeg and ffprobe can be run, and if not, what is
// missing and how to get it, in words an operator can act on.
func Available() error {
	var missing []string
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("media: %s not found on PATH; install it with `apt-get install -y ffmpeg` (Debian/Ubuntu; the package provides both ffmpeg and ffprobe)",
		strings.Join(missing, " and "))
}

// ToolError is an ffmpeg or ffprobe run that failed for a reason other than
// the input being unusable or the context ending: a crash, an encoder error,
// a full disk. Stderr is the cleaned tail of what the tool printed, short
// enough to store as a video's failure reason.
type ToolError struct {
	Tool   string // "ffmpeg" or "ffprobe"
	Err    error  // usually an *exec.ExitError
	Stderr string
}

// Error is one line: the tool, the most telling line it printed, how it ended.
func (e *ToolError) Error() string {
	if line := tellingLine(e.Stderr); line != "" {
		return fmt.Sprintf("%s: %s (%v)", e.Tool, line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Tool, e.Err)
}

func (e *ToolError) Unwrap() error { return e.Err }

// waitDelay bounds how long Wait waits for ffmpeg's output pipes once the
// process has been killed; ffmpeg starts no children, so this is a safety net.
const waitDelay = 5 * time.Second

// runWatched runs tool with args in dir (the current directory when ""),
// sending its stdout to stdout and its stderr to watch as well. It returns
// ctx.Err() when the context ended the run, a *ToolError when the tool
// failed, and nil otherwise. The directories in redact are cut from the
// stderr kept on errors, so that failure reasons shown to users name files
// without revealing server paths. Only bounded calls it: every run goes
// through the bounds of bounds.go.
func runWatched(ctx context.Context, dir string, stdout, watch io.Writer, redact []string, tool string, args ...string) error {
	stderr := &tailBuffer{max: 64 << 10}
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = dir
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, watch)
	cmd.WaitDelay = waitDelay
	dieWithParent(cmd)
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if err != nil {
		return &ToolError{Tool: tool, Err: err, Stderr: cleanStderr(stderr.String(), redact)}
	}
	return nil
}

// ffmpegArgs starts every ffmpeg command line: quiet except for errors (so the
// stderr tail is the reason, not a banner), never reading stdin (a worker has
// none), overwriting outputs (callers hand us fresh paths or temp dirs).
func ffmpegArgs(args ...string) []string {
	return append([]string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"}, args...)
}

// absPath makes a path absolute, so ffmpeg can neither mistake it for a URL
// nor resolve it against the working directory Ladder gives it.
func absPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("media: %w", err)
	}
	return abs, nil
}

// dirsOf lists the directories of paths, for run's redact.
func dirsOf(paths ...string) []string {
	dirs := make([]string, len(paths))
	for i, p := range paths {
		dirs[i] = filepath.Dir(p)
	}
	return dirs
}

// lineWriter hands each line written to it to fn, so a tool's output can be
// read as it streams by instead of being kept.
type lineWriter struct {
	fn      func(line string)
	partial []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(w.partial) < 4096 { // the lines we read are short; drop garbage
				w.partial = append(w.partial, b...)
			}
			break
		}
		w.fn(string(append(w.partial, b[:i]...)))
		w.partial = w.partial[:0]
		b = b[i+1:]
	}
	return n, nil
}

// tailBuffer keeps the last max bytes written to it: ffmpeg may print
// megabytes of warnings before failing, and only the end says why.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		p = p[len(p)-t.max:]
		t.b = t.b[:0]
	}
	if over := len(t.b) + len(p) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	t.b = append(t.b, p...)
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// limitedBuffer keeps at most max bytes and remembers whether more came, so a
// hostile file cannot make ffprobe's JSON grow without bound in memory.
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := l.max - l.Len(); len(p) > room {
		p = p[:max(room, 0)]
		l.overflow = true
	}
	l.Buffer.Write(p)
	return n, nil
}

const (
	stderrMaxLines = 20
	stderrMaxBytes = 2048
)

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// cleanStderr turns raw stderr into something fit to store and show: valid
// UTF-8 without control characters (ffmpeg echoes a file's own metadata, and
// databases refuse NUL bytes), no terminal escapes or carriage-return
// redraws, no blank or repeated lines, no server directories, the last
// stderrMaxLines lines and at most stderrMaxBytes.
func cleanStderr(raw string, redact []string) string {
	raw = ansiEscape.ReplaceAllString(strings.ToValidUTF8(raw, "?"), "")
	raw = strings.Map(func(r rune) rune {
		if (r < ' ' && r != '\n' && r != '\r') || r == 0x7f {
			return -1
		}
		return r
	}, raw)
	for _, dir := range redact {
		if filepath.IsAbs(dir) && len(dir) > 1 { // never "/": it would take every slash
			raw = strings.ReplaceAll(raw, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator), "")
		}
	}
	var lines []string
	for _, line := range strings.FieldsFunc(raw, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if line == "" || (len(lines) > 0 && lines[len(lines)-1] == line) {
			continue
		}
		lines = append(lines, line)
	}
	if len(lines) > stderrMaxLines {
		lines = lines[len(lines)-stderrMaxLines:]
	}
	out := strings.Join(lines, "\n")
	for len(out) > stderrMaxBytes {
		i := strings.IndexByte(out, '\n')
		if i < 0 {
			out = strings.ToValidUTF8(out[len(out)-stderrMaxBytes:], "")
			break
		}
		out = out[i+1:]
	}
	return out
}

// tellingLine picks the stderr line that best says what went wrong: the
// last one, unless it is ffmpeg's generic sign-off.
func tellingLine(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if line := strings.TrimSpace(lines[i]); line != "" && line != "Conversion failed!" {
			return line
		}
	}
	return ""
}
