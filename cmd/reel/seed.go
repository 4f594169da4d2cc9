package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/auth"
	"github.com/reel-video/reel/internal/config"
	"github.com/reel-video/reel/internal/media"
	"github.com/reel-video/reel/internal/publish"
	"github.com/reel-video/reel/internal/upload"
)

// runSeed fills an install with demo data through the same services the API
// uses: users, generated clips published like uploads (probe, store, job),
// and follows, likes and comments between them. Every step first looks for
// what it would create, so running it again adds only what is missing.
func runSeed(ctx context.Context, args []string, env *environment) error {
	fs := newFlags("seed", "[--wait] [flags]", "Create demo users (password "+strconv.Quote(demoPassword)+"), publish generated clips through the real pipeline\n"+
		"and add follows, likes and comments among them, so that a fresh install shows a living feed.\n"+
		"Running it again adds only what is missing.", env)
	wait := fs.Bool("wait", false, "process the clips in this process and wait until they are ready (default: queue them for reel serve or reel worker)")
	waitTimeout := fs.Duration("wait-timeout", 10*time.Minute, "with --wait, give up after this long")
	cfg, rest, err := config.Load(fs, args, env.getenv, seedFlags...)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		fs.Usage()
		return fmt.Errorf("seed takes no arguments, got %q", rest)
	}
	log := newLogger(cfg, env).With("process", "seed")
	ctx, stopSignals := shutdownOnSignal(ctx, log, env)
	defer stopSignals()

	workers := 0 // queue only: the server's workers process the clips
	if *wait {
		workers = max(cfg.Workers, 1)
	}
	b, err := openBackend(ctx, cfg, env.getenv, log, workers)
	if err != nil {
		return err
	}
	defer b.closeWithin(ctx, cfg.ShutdownTimeout, log)

	s := &seeder{
		users:     b.db,
		videos:    b.db,
		social:    b.db,
		publisher: &publish.Publisher{Videos: b.db, Blobs: b.blobs, Limits: b.limits, WorkDir: b.dirs.work},
		hasher:    auth.NewHasher(auth.DefaultParams, 2),
		workDir:   b.dirs.work,
		out:       env.stdout,
		ids:       map[string]int64{},
		clips:     map[string]*reel.Video{},
	}
	if err := s.seed(ctx); err != nil {
		return err
	}
	s.summary()
	if *wait {
		return s.waitReady(ctx, *waitTimeout)
	}
	ready, pending, failed, err := s.progress(ctx)
	if err != nil {
		return err
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("demo videos failed to process: %s", strings.Join(failed, "; "))
	case len(pending) > 0:
		fmt.Fprintf(env.stdout, "%d of %d clips are ready; the rest are queued: `reel serve` (or `reel worker`) processes them,\n"+
			"and the feed fills as each becomes ready.\n", ready, len(demoClips))
	default:
		fmt.Fprintln(env.stdout, "All demo videos are ready.")
	}
	return nil
}

// seedFlags are the variables seed uses: the store's, and the pipeline's for
// --wait.
var seedFlags = []string{"REEL_DATA_DIR", "REEL_DATABASE_URL", "REEL_SECRET", "REEL_WORKERS", "REEL_MAX_DURATION",
	"REEL_MAX_PIXELS", "REEL_JOB_TIMEOUT", "REEL_SHUTDOWN_TIMEOUT", "REEL_LOG_LEVEL", "REEL_LOG_FORMAT"}

// demoPassword signs in every demo user that seed creates.
const demoPassword = "reel-demo"

var demoUsers = []string{"ava", "ben", "chloe", "dev"}

// demoClip is one generated clip. A title identifies it among its author's
// videos, so it is published once.
type demoClip struct {
	author, title, description string
	source, options            string // lavfi video source and its extra options
	width, height, seconds     int
	tone                       int // Hz of the sine soundtrack
}

// Landscape and portrait mixed, as a feed of phone clips is; small and short,
// so that a laptop processes all of them in seconds.
var demoClips = []demoClip{
	{"ava", "Hello, reel!", "The first clip on a fresh install. Swipe for more.", "testsrc2", "", 640, 360, 5, 440},
	{"ben", "Into the fractal", "Zooming into the Mandelbrot set, one frame at a time.", "mandelbrot", "", 360, 640, 6, 330},
	{"chloe", "Game of Life", "Conway's rules, 25 generations a second.", "life", "mold=10:ratio=0.1:death_color=0x1B2A3A:life_color=0x3FE0A0", 640, 360, 5, 523},
	{"dev", "Colour bars", "Test card at noon. Sound check, one kilohertz.", "smptebars", "", 640, 360, 4, 1000},
	{"ava", "Pocket pattern", "The test pattern, phone-shaped.", "testsrc2", "", 360, 640, 4, 660},
	{"chloe", "Life, upright", "Same rules, portrait edition.", "life", "mold=5:ratio=0.2:death_color=0x2A1030:life_color=0xFFB040", 360, 640, 5, 392},
}

// Mutual pairs are friends: ava and ben, ava and chloe, ben and dev.
var demoFollows = [][2]string{
	{"ava", "ben"}, {"ben", "ava"}, {"ava", "chloe"}, {"chloe", "ava"},
	{"ben", "dev"}, {"dev", "ben"}, {"chloe", "dev"}, {"dev", "ava"},
}

// demoLikes lists who likes each clip, by title; the last clip has none, so
// the feed shows a zero too.
var demoLikes = []struct {
	title string
	users []string
}{
	{"Hello, reel!", []string{"ben", "chloe", "dev"}},
	{"Into the fractal", []string{"ava", "chloe"}},
	{"Game of Life", []string{"ava", "ben", "dev"}},
	{"Colour bars", []string{"ben"}},
	{"Pocket pattern", []string{"chloe", "dev"}},
}

var demoComments = []struct{ user, title, text string }{
	{"ben", "Hello, reel!", "Welcome to reel!"},
	{"chloe", "Hello, reel!", "Those colours 🎨"},
	{"ava", "Into the fractal", "How deep does it go?"},
	{"ben", "Into the fractal", "All the way down."},
	{"dev", "Game of Life", "Glider spotted at 0:03."},
	{"ava", "Colour bars", "A classic."},
	{"ben", "Pocket pattern", "Vertical video done right."},
}

// seeder creates the demo data and counts what it created and found.
type seeder struct {
	users     reel.UserService
	videos    reel.VideoService
	social    reel.SocialService
	publisher *publish.Publisher
	hasher    *auth.Hasher
	workDir   string
	out       io.Writer

	ids   map[string]int64       // user ids by name
	clips map[string]*reel.Video // seeded videos by title
	font  *string                // the titles' font file once looked up; "" lets fontconfig choose

	usersNew, usersOld, videosNew, videosOld, follows, likes, comments int
}

func (s *seeder) seed(ctx context.Context) error {
	for _, name := range demoUsers {
		if err := s.user(ctx, name); err != nil {
			return fmt.Errorf("demo user %s: %w", name, err)
		}
	}
	if err := s.publishClips(ctx); err != nil {
		return err
	}
	for _, f := range demoFollows {
		if err := s.follow(ctx, s.ids[f[0]], s.ids[f[1]]); err != nil {
			return fmt.Errorf("%s follows %s: %w", f[0], f[1], err)
		}
	}
	for _, l := range demoLikes {
		for _, name := range l.users {
			if err := s.like(ctx, s.ids[name], s.clips[l.title].ID); err != nil {
				return fmt.Errorf("%s likes %q: %w", name, l.title, err)
			}
		}
	}
	for _, c := range demoComments {
		if err := s.comment(ctx, s.ids[c.user], s.clips[c.title], c.text); err != nil {
			return fmt.Errorf("%s comments on %q: %w", c.user, c.title, err)
		}
	}
	return nil
}

// user finds or creates a demo user. An existing one keeps its password.
func (s *seeder) user(ctx context.Context, name string) error {
	creds, err := s.users.FindCredentials(ctx, name)
	if err == nil {
		s.ids[name] = creds.UserID
		s.usersOld++
		return nil
	}
	if reel.ErrorCode(err) != reel.ENOTFOUND {
		return err
	}
	hash, err := s.hasher.Hash(ctx, demoPassword)
	if err != nil {
		return err
	}
	u, err := s.users.CreateUser(ctx, name, hash)
	if err != nil {
		return err
	}
	s.ids[name] = u.ID
	s.usersNew++
	return nil
}

// publishClips publishes each clip its author does not have yet. A failed
// video does not count as having it, and neither does one stuck uploading
// (an interrupted earlier run: it expires on its own).
func (s *seeder) publishClips(ctx context.Context) error {
	have := map[string]*reel.Video{}
	for _, name := range demoUsers {
		id := s.ids[name]
		for cursor := ""; ; {
			videos, next, err := s.videos.ListUserVideos(ctx, id, id, cursor, 50)
			if err != nil {
				return fmt.Errorf("videos of %s: %w", name, err)
			}
			for _, v := range videos {
				if (v.Status == reel.StatusProcessing || v.Status == reel.StatusReady) && have[name+"\x00"+v.Title] == nil {
					have[name+"\x00"+v.Title] = v
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}

	var dir string
	for _, c := range demoClips {
		if v := have[c.author+"\x00"+c.title]; v != nil {
			s.clips[c.title] = v
			s.videosOld++
			continue
		}
		if dir == "" {
			// In the scratch directory, which is beside the default disk
			// store (storing the clip is then a rename); on S3 it is uploaded.
			var err error
			if dir, err = os.MkdirTemp(s.workDir, "seed-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
		}
		path, err := s.generate(ctx, dir, c)
		if err != nil {
			return fmt.Errorf("generate %q: %w", c.title, err)
		}
		rec, err := received(path)
		if err != nil {
			return err
		}
		v, err := s.publisher.Publish(ctx, s.ids[c.author], rec, publish.Options{Title: c.title, Description: c.description})
		if err != nil {
			return fmt.Errorf("publish %q: %w", c.title, err)
		}
		fmt.Fprintf(s.out, "published video %d %q by %s (%dx%d, %ds)\n", v.ID, c.title, c.author, c.width, c.height, c.seconds)
		s.clips[c.title] = v
		s.videosNew++
	}
	return nil
}

// received describes a generated file as the upload handlers would.
func received(path string) (*upload.Received, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, err
	}
	return &upload.Received{Path: path, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Filename: filepath.Base(path)}, nil
}

// generate renders c as an H.264/AAC MP4 in dir, its title and author drawn
// over the picture and a running clock in a corner, so every clip is
// recognisable and visibly moving in any player.
func (s *seeder) generate(ctx context.Context, dir string, c demoClip) (string, error) {
	font, err := s.titleFont(ctx)
	if err != nil {
		return "", err
	}
	// Texts go through files, which need no escaping in the filter graph;
	// ffmpeg runs in dir so that their names are short and plain.
	base := fmt.Sprintf("clip-%d", time.Now().UnixNano())
	texts := map[string]string{"title": c.title, "author": "@" + c.author, "clock": "%{pts:hms}"}
	for name, text := range texts {
		if err := os.WriteFile(filepath.Join(dir, base+"-"+name+".txt"), []byte(text), 0o600); err != nil {
			return "", err
		}
	}
	short := min(c.width, c.height)
	size := short / 13
	filters := strings.Join([]string{
		drawtext(font, base+"-title.txt", size, "(w-text_w)/2", "h*0.62", true),
		drawtext(font, base+"-author.txt", size*2/3, "(w-text_w)/2", "h*0.62+"+strconv.Itoa(size*2), true),
		// Top right: testsrc2 has a counter of its own top left.
		drawtext(font, base+"-clock.txt", size/2, "w-text_w-"+strconv.Itoa(size/2), strconv.Itoa(size/2), false),
	}, ",")
	src := fmt.Sprintf("%s=size=%dx%d:rate=25", c.source, c.width, c.height)
	if c.options != "" {
		src += ":" + c.options
	}
	out := base + ".mp4"
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", src,
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=44100", c.tone),
		"-vf", filters, "-t", strconv.Itoa(c.seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50",
		"-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", out}
	if err := runFFmpeg(ctx, dir, args...); err != nil {
		return "", err
	}
	return filepath.Join(dir, out), nil
}

// drawtext is one drawtext filter over a text file, white on a dark box.
func drawtext(font, textfile string, size int, x, y string, literal bool) string {
	f := "drawtext="
	if font != "" {
		f += "fontfile=" + font + ":"
	}
	f += fmt.Sprintf("textfile=%s:fontsize=%d:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw=%d:x=%s:y=%s",
		textfile, size, max(size/4, 4), x, y)
	if literal {
		f += ":expansion=none"
	}
	return f
}

// fontFiles are where common distributions keep DejaVu Sans, the font the
// titles are drawn with when it is found.
var fontFiles = []string{
	"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", // Debian, Ubuntu: fonts-dejavu-core
	"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
	"/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",               // Arch
	"/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf", // Fedora
	"/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",            // Alpine
}

var drawtextFilter = regexp.MustCompile(`(?m)^\s*\S+\s+drawtext\s`)

// titleFont checks, once, that this ffmpeg can draw text, and returns the
// font file to draw with ("" when only fontconfig knows one). What is
// missing is named with the package that provides it.
func (s *seeder) titleFont(ctx context.Context) (string, error) {
	if s.font != nil {
		return *s.font, nil
	}
	if err := media.Available(); err != nil {
		return "", err
	}
	filters, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-filters").Output()
	if err != nil {
		return "", fmt.Errorf("ffmpeg -filters: %w", err)
	}
	if !drawtextFilter.Match(filters) {
		return "", errors.New("this ffmpeg has no drawtext filter (it is built without libfreetype), which the demo clips' titles need: " +
			"install a full build, e.g. Debian's: sudo apt-get install -y ffmpeg")
	}
	font := ""
	for _, f := range fontFiles {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			font = f
			break
		}
	}
	if font == "" {
		// None where we looked; fontconfig may still know one. One frame tells.
		err := runFFmpeg(ctx, "", "-hide_banner", "-nostdin", "-loglevel", "error",
			"-f", "lavfi", "-i", "color=size=64x64:duration=0.04", "-vf", "drawtext=text=reel", "-f", "null", "-")
		if err != nil {
			return "", fmt.Errorf("ffmpeg finds no font to draw the demo clips' titles with: "+
				"install one with  sudo apt-get install -y fonts-dejavu-core  (or run scripts/deps.sh fonts): %w", err)
		}
	}
	s.font = &font
	return font, nil
}

// runFFmpeg runs ffmpeg in dir and returns what it printed on failure.
func runFFmpeg(ctx context.Context, dir string, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.Dir = dir
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 1000 {
			msg = "…" + msg[len(msg)-1000:]
		}
		return fmt.Errorf("ffmpeg: %v: %s", err, msg)
	}
	return nil
}

// follow, like and comment count only what they add: follows and likes are
// idempotent in the store, so the count comes from looking first.
func (s *seeder) follow(ctx context.Context, follower, followee int64) error {
	u, err := s.users.FindUserByID(ctx, followee, follower)
	if err != nil || u.IsFollowing {
		return err
	}
	s.follows++
	return s.social.Follow(ctx, follower, followee)
}

func (s *seeder) like(ctx context.Context, user, video int64) error {
	v, err := s.videos.FindVideoByID(ctx, video, user)
	if err != nil || v.IsLiked {
		return err
	}
	s.likes++
	return s.social.Like(ctx, user, video)
}

// comment adds text unless user already wrote it on v. The list is read as
// the video's author, who sees it whatever its state.
func (s *seeder) comment(ctx context.Context, user int64, v *reel.Video, text string) error {
	for p := (reel.Page{Limit: 50}); ; {
		comments, next, err := s.social.Comments(ctx, v.ID, v.AuthorID, p)
		if err != nil {
			return err
		}
		for _, c := range comments {
			if c.User != nil && c.User.ID == user && c.Text == text {
				return nil
			}
		}
		if next == "" {
			break
		}
		p.Cursor = next
	}
	s.comments++
	_, err := s.social.AddComment(ctx, user, v.ID, text)
	return err
}

func (s *seeder) summary() {
	w := s.out
	fmt.Fprintf(w, "users:    %d created, %d already there (%s)\n", s.usersNew, s.usersOld, strings.Join(demoUsers, ", "))
	fmt.Fprintf(w, "videos:   %d published, %d already there\n", s.videosNew, s.videosOld)
	fmt.Fprintf(w, "social:   %d follows, %d likes, %d comments added\n", s.follows, s.likes, s.comments)
	if s.usersNew+s.videosNew+s.follows+s.likes+s.comments == 0 {
		fmt.Fprintln(w, "Nothing new: the demo data was already there.")
	}
	fmt.Fprintf(w, "Sign in as %s or %s with the password %q", strings.Join(demoUsers[:len(demoUsers)-1], ", "), demoUsers[len(demoUsers)-1], demoPassword)
	if s.usersOld > 0 {
		fmt.Fprint(w, " (users that existed before keep their own)")
	}
	fmt.Fprintln(w, ".")
}

// waitReady polls the seeded videos until each is ready or failed, printing
// progress as it changes.
func (s *seeder) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := -1
	for {
		ready, pending, failed, err := s.progress(ctx)
		if err != nil {
			return err
		}
		if ready != last {
			fmt.Fprintf(s.out, "ready: %d of %d\n", ready, len(demoClips))
			last = ready
		}
		switch {
		case len(failed) > 0:
			return fmt.Errorf("demo videos failed to process: %s", strings.Join(failed, "; "))
		case len(pending) == 0:
			fmt.Fprintln(s.out, "All demo videos are ready.")
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("demo videos not ready after %v (still processing: %s); reel serve finishes them", timeout, strings.Join(pending, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// progress reads the state of every seeded video.
func (s *seeder) progress(ctx context.Context) (ready int, pending, failed []string, err error) {
	for _, c := range demoClips {
		v, err := s.videos.FindVideoByID(ctx, s.clips[c.title].ID, s.ids[c.author])
		if err != nil {
			return 0, nil, nil, err
		}
		switch v.Status {
		case reel.StatusReady:
			ready++
		case reel.StatusFailed:
			failed = append(failed, fmt.Sprintf("%q: %s", c.title, v.Error))
		default:
			pending = append(pending, fmt.Sprintf("%q %d%%", c.title, v.Progress))
		}
	}
	return ready, pending, failed, nil
}
