package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reel-video/reel/internal/media"
)

// Targets of issue 12 for the time from an upload's end to something a
// player can start on.
const (
	firstPlayTargetHEVC = 5 * time.Second // the first HLS segment, while the ladder runs
	firstPlayTargetH264 = 2 * time.Second // the remuxed MP4 (or HLS)
)

// benchMedia measures the media pipeline's output and its cost: the
// one-pass ladder against the per-rendition approach, bytes and quality per
// rung, and how soon an upload can be played.
func benchMedia(ctx context.Context, o options, dir string, out io.Writer) error {
	if err := benchRungs(ctx, o, filepath.Join(dir, "rungs"), out); err != nil {
		return err
	}
	return benchFirstPlay(ctx, o, filepath.Join(dir, "firstplay"), out)
}

// mediaTools checks for what the media scenario runs: ffmpeg with libx265
// (for the HEVC clip) and ffprobe.
func mediaTools() error {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: apt-get install -y ffmpeg", tool)
		}
	}
	encoders, err := exec.Command("ffmpeg", "-hide_banner", "-encoders").Output()
	if err != nil || !bytes.Contains(encoders, []byte(" libx265 ")) {
		return fmt.Errorf("ffmpeg has no libx265 encoder: %v", err)
	}
	return nil
}

// makeClip writes a generated clip: testsrc2 (moving, detailed) at 30 fps
// with a sine tone in AAC, the video in H.264 or, for codec "hevc", in HEVC
// tagged hvc1 as phones record it (ultrafast: only the clip is made here).
func makeClip(dst, size string, seconds int, codec string) error {
	video := []string{"-c:v", "libx264", "-preset", "veryfast"}
	if codec == "hevc" {
		video = []string{"-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-x265-params", "log-level=error"}
	}
	args := []string{"-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=30:duration=%d", size, seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds)}
	args = append(append(args, video...), "-pix_fmt", "yuv420p", "-c:a", "aac", dst)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("make %s clip: %v: %s", codec, err, b)
	}
	return nil
}

// runFFmpeg runs one ffmpeg command in dir (the ladder's commands name
// their outputs relative to it).
func runFFmpeg(ctx context.Context, dir string, args []string) error {
	var stderr strings.Builder
	c := exec.CommandContext(ctx, "ffmpeg", args...)
	c.Dir, c.Stdout, c.Stderr = dir, io.Discard, &stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, stderr.String())
	}
	return nil
}

// runConcurrently runs the commands in dir, at most n at a time, as a job
// queue with n workers would.
func runConcurrently(ctx context.Context, dir string, cmds [][]string, n int) error {
	queue := make(chan []string)
	errs := make(chan error, len(cmds))
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for args := range queue {
				errs <- runFFmpeg(ctx, dir, args)
			}
		})
	}
	for _, args := range cmds {
		queue <- args
	}
	close(queue)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// benchRungs times reel's one-pass ladder (one ffmpeg decoding the source
// once for every rung) against the per-rendition approach of PeerTube and
// MediaCMS (one ffmpeg per rung, each decoding the source again, with the
// same encoder settings and segmenting), run one after the other as a
// single-worker queue does and two at a time; then it prints each rung's
// bytes in both and its quality against the source.
func benchRungs(ctx context.Context, o options, dir string, out io.Writer) error {
	// The clip and options of the ladder scenario.
	src, info, opts, err := ladderSource(ctx, o, dir)
	if err != nil {
		return err
	}
	onePass, dirs := media.LadderCommand(src, info, opts)
	perRung, _ := media.PerRungCommands(src, info, opts)

	// fresh makes an output directory holding the renditions' directories.
	fresh := func(name string) (string, error) {
		d := filepath.Join(dir, name)
		for _, r := range dirs {
			if err := os.MkdirAll(filepath.Join(d, r), 0o700); err != nil {
				return "", err
			}
		}
		return d, nil
	}
	type side struct {
		name string
		run  func(dir string) error
		best time.Duration
		kept string // the first round's output, kept for the byte counts
	}
	sides := []*side{
		{name: "one", run: func(d string) error { return runFFmpeg(ctx, d, onePass) }},
		{name: "seq", run: func(d string) error { return runConcurrently(ctx, d, perRung, 1) }},
		{name: "two", run: func(d string) error { return runConcurrently(ctx, d, perRung, 2) }},
	}
	for round := range o.rounds {
		for _, s := range sides {
			d, err := fresh(fmt.Sprintf("%s-%d", s.name, round))
			if err != nil {
				return err
			}
			start := time.Now()
			if err := s.run(d); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			if took := time.Since(start); s.best == 0 || took < s.best {
				s.best = took
			}
			if s.kept == "" {
				s.kept = d
			} else {
				os.RemoveAll(d)
			}
		}
	}
	one, seq, two := sides[0], sides[1], sides[2]
	name := fmt.Sprintf("rungs %s %ds (best of %d)", o.clipSize, o.clipSeconds, o.rounds)
	procs := fmt.Sprintf(" %d procs", len(perRung))
	row(out, name+": one pass vs per-rendition", secs(one.best), secs(seq.best)+procs, one.best.Seconds()/seq.best.Seconds())
	row(out, name+": vs per-rendition, 2 at a time", secs(one.best), secs(two.best)+procs, one.best.Seconds()/two.best.Seconds())

	for _, r := range dirs {
		reelBytes, err := renditionBytes(filepath.Join(one.kept, r))
		if err != nil {
			return err
		}
		baseBytes, err := renditionBytes(filepath.Join(seq.kept, r))
		if err != nil {
			return err
		}
		q, err := rungQuality(ctx, src, filepath.Join(one.kept, r, "index.m3u8"))
		if err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
		label := "rung " + r
		if q.width > 0 {
			label += fmt.Sprintf(" %dx%d", q.width, q.height)
		}
		row(out, label+": MiB (init+segments)", fmt.Sprintf("%.2f", mib(reelBytes)), fmt.Sprintf("%.2f per-rend.", mib(baseBytes)), float64(reelBytes)/float64(baseBytes))
		if q.width == 0 { // an audio rendition: no picture to compare
			continue
		}
		row(out, label+": SSIM (All) vs source", fmt.Sprintf("%.4f", q.ssim), "-", 0)
		row(out, label+": PSNR (average) vs source, dB", fmt.Sprintf("%.2f", q.psnr), "-", 0)
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// renditionBytes is what a rendition stores besides its playlists: its
// init segment and media segments.
func renditionBytes(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".m3u8") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}

// quality is a rung's picture size and its fidelity to the source.
type quality struct {
	width, height int
	ssim          float64 // ffmpeg's ssim "All"
	psnr          float64 // ffmpeg's psnr "average", dB
}

var (
	ssimAll     = regexp.MustCompile(`SSIM .*All:([0-9.]+)`)
	psnrAverage = regexp.MustCompile(`PSNR .*average:([0-9.]+|inf)`)
)

// rungQuality decodes a rung from its playlist and compares it with the
// source scaled to the rung's size, as the ladder scales it, with ffmpeg's
// ssim and psnr filters: the figures then measure the encode alone. The
// bench's source and the rungs are both 30 fps, so frames pair one to one.
// A rendition without video (audio) gets a zero quality.
func rungQuality(ctx context.Context, src, playlist string) (quality, error) {
	var q quality
	size, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=width,height", "-of", "csv=p=0:s=x", playlist).Output()
	if err != nil {
		return q, fmt.Errorf("ffprobe %s: %w", playlist, err)
	}
	if strings.TrimSpace(string(size)) == "" {
		return q, nil
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(size)), "%dx%d", &q.width, &q.height); err != nil {
		return q, fmt.Errorf("ffprobe %s: size %q", playlist, size)
	}
	graph := fmt.Sprintf("[0:v]setpts=PTS-STARTPTS,split[d0][d1];"+
		"[1:v]scale=%d:%d,setsar=1,format=yuv420p,setpts=PTS-STARTPTS,split[r0][r1];"+
		"[d0][r0]ssim;[d1][r1]psnr", q.width, q.height)
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-hide_banner", "-nostats",
		"-i", playlist, "-i", src, "-lavfi", graph, "-f", "null", "-")
	c.Stderr = &stderr
	if err := c.Run(); err != nil {
		return q, fmt.Errorf("ssim/psnr: %v: %s", err, stderr.String())
	}
	s, p := ssimAll.FindSubmatch(stderr.Bytes()), psnrAverage.FindSubmatch(stderr.Bytes())
	if s == nil || p == nil {
		return q, fmt.Errorf("no SSIM or PSNR summary in: %s", stderr.String())
	}
	q.ssim, _ = strconv.ParseFloat(string(s[1]), 64)
	q.psnr, _ = strconv.ParseFloat(string(p[1]), 64)
	return q, nil
}

// benchFirstPlay uploads an HEVC clip (which cannot be remuxed: it waits
// for the ladder) and an H.264 clip (remuxed in seconds) to a running reel
// and times, from each upload's response, until a player could start: the
// HEVC clip's first HLS segment (and first audio segment, when audio is a
// rendition of its own) served through the API's hls_url and decodable,
// and for the H.264 clip its play_url (or hls_url, if that comes first)
// served and decodable. While the ladder runs, hls_url points at the live
// master; where only the finished ladder sets it, the figure is simply
// later.
func benchFirstPlay(ctx context.Context, o options, dir string, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	clips := []struct {
		name, codec string
		target      time.Duration
		hlsOnly     bool
	}{
		{"HEVC", "hevc", firstPlayTargetHEVC, true},
		{"H.264", "h264", firstPlayTargetH264, false},
	}
	for _, c := range clips {
		if err := makeClip(filepath.Join(dir, c.codec+".mp4"), o.playSize, o.playSeconds, c.codec); err != nil {
			return err
		}
	}
	srv, err := startServer(o.bin, filepath.Join(dir, "data"), "REEL_WORKERS=1")
	if err != nil {
		return err
	}
	defer srv.stop()
	for _, c := range clips {
		p, err := firstPlay(ctx, srv, filepath.Join(dir, c.codec+".mp4"), dir, c.hlsOnly)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		label := fmt.Sprintf("first play %s %s %ds", c.name, o.playSize, o.playSeconds)
		row(out, label+" (s), target", fmt.Sprintf("%.2f", p.took.Seconds()), fmt.Sprintf("%.2f", c.target.Seconds()), p.took.Seconds()/c.target.Seconds())
		row(out, fmt.Sprintf("first play %s: played from, video status", c.name), p.from, p.status, 0)
		// The next clip's job must not queue behind this one's ladder.
		if err := waitReady(srv, p.id); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
	}
	return nil
}

// played is what firstPlay found.
type played struct {
	id     int64
	took   time.Duration // from the upload's response
	from   string        // the name of what played: live.m3u8, master.m3u8, play.mp4
	status string        // the video's status then
}

// errNotYet says a playlist lists no segment yet.
var errNotYet = errors.New("no segment yet")

// firstPlay uploads src and polls the video until a player could start on
// it: a URL from the API whose media is served and decodes. hlsOnly ignores
// play_url.
func firstPlay(ctx context.Context, srv *server, src, tmp string, hlsOnly bool) (played, error) {
	id, err := uploadMultipart(srv, src)
	if err != nil {
		return played{}, err
	}
	start := time.Now()
	for deadline := start.Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		v, err := srv.videoURLs(id)
		if err != nil {
			return played{}, err
		}
		if v.Status == "failed" {
			return played{}, fmt.Errorf("video failed: %s", v.Error)
		}
		var from string
		switch {
		case !hlsOnly && v.PlayURL != "":
			from, err = v.PlayURL, decodable(ctx, v.PlayURL, "video")
		case v.HLSURL != "":
			from, err = v.HLSURL, firstSegments(ctx, v.HLSURL, tmp)
		default:
			continue
		}
		if errors.Is(err, errNotYet) {
			continue
		}
		if err != nil {
			return played{}, err
		}
		took := time.Since(start)
		u, _ := url.Parse(from)
		return played{id: id, took: took, from: path.Base(u.Path), status: v.Status}, nil
	}
	return played{}, fmt.Errorf("video %d not playable after 10 minutes", id)
}

// firstSegments follows an HLS master to its first variant (and its audio
// rendition, if any), fetches each one's init segment and first media
// segment, and checks that ffprobe decodes them concatenated, as a player
// starting there would.
func firstSegments(ctx context.Context, masterURL, tmp string) error {
	master, err := get(masterURL)
	if err != nil {
		return err
	}
	variant, audio := parseMaster(master)
	if variant == "" {
		return fmt.Errorf("no variant in the master playlist:\n%s", master)
	}
	renditions := [][2]string{{variant, "video"}}
	if audio != "" {
		renditions = append(renditions, [2]string{audio, "audio"})
	}
	for _, r := range renditions {
		playlistURL, err := resolve(masterURL, r[0])
		if err != nil {
			return err
		}
		if err := firstSegment(ctx, playlistURL, r[1], tmp); err != nil {
			return err
		}
	}
	return nil
}

func firstSegment(ctx context.Context, playlistURL, kind, tmp string) error {
	playlist, err := get(playlistURL)
	if err != nil {
		return err
	}
	init, segment := parseMedia(playlist)
	if segment == "" {
		return errNotYet
	}
	var data []byte
	for _, uri := range []string{init, segment} {
		if uri == "" {
			continue
		}
		u, err := resolve(playlistURL, uri)
		if err != nil {
			return err
		}
		b, err := get(u)
		if err != nil {
			return err
		}
		data = append(data, b...)
	}
	file := filepath.Join(tmp, "first-"+kind+".mp4")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return err
	}
	return decodable(ctx, file, kind)
}

var uriAttr = regexp.MustCompile(`URI="([^"]+)"`)

// parseMaster returns the URI of a master playlist's first variant and of
// its audio rendition ("" when the audio rides in the variants).
func parseMaster(b []byte) (variant, audio string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	inf := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-MEDIA:") && strings.Contains(line, "TYPE=AUDIO") && audio == "":
			if m := uriAttr.FindStringSubmatch(line); m != nil {
				audio = m[1]
			}
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			inf = true
		case inf && line != "" && !strings.HasPrefix(line, "#") && variant == "":
			variant = line
		}
	}
	return variant, audio
}

// parseMedia returns the init segment (EXT-X-MAP) and the first media
// segment of a media playlist; segment is "" while it lists none.
func parseMedia(b []byte) (init, segment string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			if m := uriAttr.FindStringSubmatch(line); m != nil {
				init = m[1]
			}
		case line != "" && !strings.HasPrefix(line, "#"):
			return init, line
		}
	}
	return init, ""
}

func resolve(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(r).String(), nil
}

var mediaClient = &http.Client{Timeout: time.Minute}

func get(u string) ([]byte, error) {
	resp, err := mediaClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %s", u, resp.StatusCode, b)
	}
	return b, nil
}

// decodable checks that ffprobe decodes a first frame of the given kind
// ("video" or "audio") from input, a file or a URL (read as a player would,
// with range requests).
func decodable(ctx context.Context, input, kind string) error {
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-select_streams", kind[:1]+":0",
		"-read_intervals", "%+#2", "-show_entries", "frame=media_type", "-of", "csv=p=0", input)
	c.Stderr = &stderr
	got, err := c.Output()
	if err != nil || !strings.Contains(string(got), kind) {
		return fmt.Errorf("ffprobe decoded no %s frame from %s: %v: %s", kind, input, err, stderr.String())
	}
	return nil
}

// videoState is what firstPlay reads of a video from the API.
type videoState struct {
	Status  string `json:"status"`
	Error   string `json:"error"`
	PlayURL string `json:"play_url"`
	HLSURL  string `json:"hls_url"`
}

func (s *server) videoURLs(id int64) (videoState, error) {
	var v videoState
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/videos/%d", s.url, id), nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := mediaClient.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("GET video %d: status %d", id, resp.StatusCode)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// waitReady polls a video until it is ready.
func waitReady(srv *server, id int64) error {
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		status, reason, err := srv.video(id)
		switch {
		case err != nil:
			return err
		case status == "failed":
			return fmt.Errorf("video failed: %s", reason)
		case status == "ready":
			return nil
		}
	}
	return fmt.Errorf("video %d not ready after 10 minutes", id)
}
