package media

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/media/mediatest"
)

// hostileLimits sit just above what the hostile clips' headers state, so
// that what their headers hide is beyond them.
var hostileLimits = Limits{MaxDuration: 10 * time.Second, MaxLong: mediatest.HostileWidth, MaxShort: mediatest.HostileHeight}

// A file whose header states less than what it holds (a gap of an hour in
// its timestamps, a frame size that grows mid-stream) never makes Cover,
// Remux or Ladder write more than the limits allow: each either fails with
// an EINVALID reason or writes an output that an unbounded ffprobe finds
// within the limits.
func TestHostileClipsStayWithinLimits(t *testing.T) {
	tests := []struct {
		kind string
		// honest is whether the header states what the file holds: gap-ts
		// states its hour, and Check refuses it; the test then makes its
		// Info lie, as a header could.
		honest bool
		// want* are the reasons the steps must fail with ("" when the step
		// may succeed, within the limits).
		wantCover, wantRemux, wantLadder string
	}{
		{kind: "gap", wantLadder: "timestamps run past its stated duration"},
		// ffmpeg closes timestamp jumps in MPEG-TS (where broadcasts have
		// them): the outputs come out as long as the header now says.
		{kind: "gap-ts", honest: true},
		{kind: "resize", wantCover: "320x240 exceeds 160x120", wantRemux: "320x240 exceeds 160x120", wantLadder: "320x240 exceeds 160x120"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			src := clip(t, tt.kind)
			info, err := Probe(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			err = hostileLimits.Check(info)
			if tt.honest {
				if e := wantCode(t, err, reel.EINVALID); !strings.Contains(e.Message, "exceeds the 10s limit") {
					t.Fatalf("Check of the honest header: %q", e.Message)
				}
				info.DurationMS = mediatest.HostileSeconds * 1000 // as a lying header would say
				err = hostileLimits.Check(info)
			}
			if err != nil {
				t.Fatalf("Check: %v (the header states %dx%d, %d ms)", err, info.Width, info.Height, info.DurationMS)
			}
			if info.Width != mediatest.HostileWidth || info.Height != mediatest.HostileHeight || info.DurationMS != mediatest.HostileSeconds*1000 {
				t.Fatalf("the header states %dx%d, %d ms; the clip is not the hostile one the test expects", info.Width, info.Height, info.DurationMS)
			}
			if !CanRemux(info) {
				t.Fatalf("the %s clip should take the remux path", tt.kind)
			}
			// The longest any output may play: what the header states plus the slack.
			bound := mediatest.HostileSeconds*time.Second + durationSlack(mediatest.HostileSeconds*time.Second)
			dir := t.TempDir()

			jpg, webp := filepath.Join(dir, "cover.jpg"), filepath.Join(dir, "cover.webp")
			err = Cover(ctx, src, info, jpg, webp)
			if wantFailure(t, "Cover", err, tt.wantCover) {
				for _, p := range []string{jpg, webp} {
					withinLimits(t, p, bound)
				}
			}

			mp4 := filepath.Join(dir, "play.mp4")
			err = Remux(ctx, src, mp4, info)
			if wantFailure(t, "Remux", err, tt.wantRemux) {
				withinLimits(t, mp4, bound)
			} else if _, statErr := os.Stat(mp4); statErr == nil {
				t.Error("Remux failed but left its output behind")
			}

			hls := filepath.Join(dir, "hls")
			res, err := Ladder(ctx, src, hls, info, LadderOptions{ProgressiveMP4: true, Storyboard: true})
			if wantFailure(t, "Ladder", err, tt.wantLadder) {
				withinLimits(t, filepath.Join(hls, res.ProgressiveMP4), bound)
			}
			// Whatever a step left on disk, finished or not, is small.
			var total int64
			_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					info, _ := d.Info()
					total += info.Size()
				}
				return nil
			})
			if total > hostileMaxBytes {
				t.Errorf("the steps wrote %d bytes, beyond %d", total, hostileMaxBytes)
			}
		})
	}
}

// wantFailure checks err against want, the reason a step must fail with
// ("" when it must not fail), and reports whether the step succeeded.
func wantFailure(t *testing.T, step string, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("%s: %v", step, err)
		}
		return err == nil
	}
	if err == nil {
		t.Errorf("%s succeeded, want it to fail with %q", step, want)
		return true
	}
	if reel.ErrorCode(err) != reel.EINVALID || !strings.Contains(reel.ErrorMessage(err), want) {
		t.Errorf("%s: %v, want an invalid-input error saying %q", step, err, want)
	}
	return false
}

// hostileMaxBytes bounds what the steps may write for a hostile clip: a few
// seconds of 160x120 take tens of kilobytes; an hour of it, megabytes.
const hostileMaxBytes = 1 << 20

// withinLimits decodes every frame of the file at path with an ffprobe that
// has no bounds of its own, and checks that none is beyond hostileLimits and
// that it plays no longer than bound.
func withinLimits(t *testing.T, path string, bound time.Duration) {
	t.Helper()
	if fi, err := os.Stat(path); err != nil || fi.Size() > hostileMaxBytes {
		t.Errorf("%s: %v, want a file of at most %d bytes", filepath.Base(path), err, hostileMaxBytes)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "frame=width,height,best_effort_timestamp_time,duration_time", "-of", "compact=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", filepath.Base(path), err)
	}
	frames, end := 0, 0.0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := map[string]string{}
		for _, kv := range strings.Split(line, "|") {
			k, v, _ := strings.Cut(kv, "=")
			f[k] = v
		}
		if f["width"] == "" {
			continue
		}
		frames++
		w, _ := strconv.Atoi(f["width"])
		h, _ := strconv.Atoi(f["height"])
		if max(w, h) > hostileLimits.MaxLong || min(w, h) > hostileLimits.MaxShort {
			t.Errorf("%s has a frame of %dx%d, beyond %dx%d", filepath.Base(path), w, h, hostileLimits.MaxLong, hostileLimits.MaxShort)
			return
		}
		ts, _ := strconv.ParseFloat(f["best_effort_timestamp_time"], 64)
		d, _ := strconv.ParseFloat(f["duration_time"], 64)
		end = max(end, ts+d)
	}
	if frames == 0 {
		t.Errorf("%s has no frames", filepath.Base(path))
	}
	if played := time.Duration(end * float64(time.Second)); played > bound {
		t.Errorf("%s plays for %s, beyond %s", filepath.Base(path), played, bound)
	}
}

// An upload that is a playlist or a concat script naming another file is
// refused before ffmpeg opens the file it names, with the same reason
// whether that file exists or not; and Cover, Remux and Ladder, handed one
// as if it had passed Probe, open nothing it names either.
func TestReferencesNeverOpened(t *testing.T) {
	for _, kind := range []string{"hls", "ffconcat"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			// The file a reference names sits beside it, as an upload
			// area or a scratch directory would have it.
			b, err := os.ReadFile(clip(t, "noaudio"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "other.mp4"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			targets := []string{"other.mp4", "missing.mp4"}
			var reasons []string
			for i, target := range targets {
				ref := filepath.Join(dir, strconv.Itoa(i)+map[string]string{"hls": ".m3u8", "ffconcat": ".ffconcat"}[kind])
				mediatest.Reference(t, ref, kind, target)
				if target == "other.mp4" {
					// The threat is real: ffprobe without the whitelist
					// reads the named file as the reference's video.
					out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", ref).Output()
					if err != nil || !strings.Contains(string(out), "video") {
						t.Fatalf("plain ffprobe of the %s reference: %v %q, want it to read the named clip", kind, err, out)
					}
				}

				_, err := Probe(ctx, ref)
				e := wantCode(t, err, reel.EUNSUPPORTED)
				reasons = append(reasons, e.Message)
				if strings.Contains(e.Message, target) || strings.Contains(e.Message, dir) {
					t.Errorf("reason %q names the target or a server path", e.Message)
				}

				// Steps that trust a forged Info read nothing either.
				info := &Info{Width: 640, Height: 360, DurationMS: 3000, FrameRate: 30, VideoCodec: "h264", PixFmt: "yuv420p"}
				out := filepath.Join(dir, "out-"+strconv.Itoa(i))
				if err := Cover(ctx, ref, info, out+".jpg", out+".webp"); err == nil {
					t.Errorf("Cover read the %s reference to %s", kind, target)
				}
				if err := Remux(ctx, ref, out+".mp4", info); err == nil {
					t.Errorf("Remux read the %s reference to %s", kind, target)
				}
				if _, err := Ladder(ctx, ref, out+"-hls", info, LadderOptions{Rungs: []Rung{{240, 300}}}); err == nil {
					t.Errorf("Ladder read the %s reference to %s", kind, target)
				}
			}
			if reasons[0] != reasons[1] {
				t.Errorf("the reason depends on whether the named file exists: %q vs %q", reasons[0], reasons[1])
			}
			if want := `unsupported container format "` + map[string]string{"hls": "hls", "ffconcat": "concat"}[kind] + `"`; reasons[0] != want {
				t.Errorf("reason %q, want %q", reasons[0], want)
			}
		})
	}
}
