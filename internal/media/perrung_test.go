package media

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The per-rendition commands are the ladder's own encodings, one per
// process: each decodes the source itself and then encodes and segments
// exactly as the ladder does for that rendition.
func TestPerRungCommandsArgs(t *testing.T) {
	info := &Info{Width: 1920, Height: 1080, FrameRate: 30, HasAudio: true, DurationMS: 60_000}
	opts := LadderOptions{ProgressiveMP4: true}
	src := "/data/originals/42.mp4"
	cmds, dirs := PerRungCommands(src, info, opts)
	ladder, ladderDirs := LadderCommand(src, info, opts)
	if !slices.Equal(dirs, ladderDirs) {
		t.Errorf("dirs %v, the ladder's %v", dirs, ladderDirs)
	}
	if len(cmds) != 5 {
		t.Fatalf("%d commands, want one per rung of a 1080p source", len(cmds))
	}
	sizes := []string{"1920:1080", "1280:720", "854:480", "640:360", "426:240"}
	for i, args := range cmds {
		t.Logf("ffmpeg %s", shellQuote(args))
		if n := countArg(args, "-i"); n != 1 || countArg(args, "-c:v") != 1 {
			t.Errorf("command %d: want one input and one video encode: %v", i, args)
		}
		graph := args[slices.Index(args, "-filter_complex")+1]
		if want := fmt.Sprintf("[0:V:0]fps=30,split=1[s0];[s0]scale=%s,", sizes[i]); !strings.HasPrefix(graph, want) {
			t.Errorf("command %d: graph %q, want it to start with %q", i, graph, want)
		}
		// Everything from the output's -map on is the ladder's for the same
		// encoding, apart from the label of the filter output it maps.
		own := outputSection(args, 0)
		theirs := outputSection(ladder, i)
		if own == nil || !slices.Equal(own[2:], theirs[2:]) {
			t.Errorf("command %d's output arguments differ from the ladder's:\n%v\n%v", i, own, theirs)
		}
	}
	if !slices.Contains(cmds[1], "tee") {
		t.Errorf("the progressive MP4 should ride on the 720p command, as in the ladder: %v", cmds[1])
	}
}

// outputSection returns the arguments of the i-th encoding's output in an
// ffmpeg command of the ladder: from its "-map" of the filter output [vi]
// up to the next filter output's "-map".
func outputSection(args []string, i int) []string {
	start := slices.Index(args, fmt.Sprintf("[v%d]", i))
	if start < 1 {
		return nil
	}
	end := slices.Index(args, fmt.Sprintf("[v%d]", i+1))
	if end < 0 {
		end = len(args) + 1
	}
	return args[start-1 : end-1]
}

func countArg(args []string, s string) int {
	n := 0
	for _, a := range args {
		if a == s {
			n++
		}
	}
	return n
}

// Run as they are, the commands write the ladder's renditions, at the
// ladder's sizes, one process each.
func TestPerRungCommandsRun(t *testing.T) {
	src := clip(t, "landscape")
	info, err := Probe(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	cmds, dirs := PerRungCommands(src, info, LadderOptions{})
	outDir := t.TempDir()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(outDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range cmds {
		cmd := exec.Command("ffmpeg", args...)
		cmd.Dir = outDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %s: %v\n%s", shellQuote(args), err, out)
		}
	}
	var sizes []string
	for _, d := range dirs {
		playlist := filepath.Join(outDir, d, "index.m3u8")
		decodes(t, playlist)
		for _, s := range streams(t, playlist) {
			if s.CodecType == "video" {
				sizes = append(sizes, fmt.Sprintf("%dx%d", s.Width, s.Height))
			}
		}
	}
	if !slices.Equal(sizes, landscapeRungs) {
		t.Errorf("renditions %v, want %v", sizes, landscapeRungs)
	}
}
