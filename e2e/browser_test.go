package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium is Debian's Chromium (scripts/deps.sh chromium), which
// playwright-core drives: npx playwright install does not work here.
const chromium = "/usr/bin/chromium"

// TestBrowserJourney runs the web app's journey (web/test/journey.mjs, a
// playwright-core script that knows only what is on the screen) in a real
// Chromium against the built binary, with the app embedded, on a fresh
// SQLite database: two users sign up, upload a generated clip with tus and
// watch it become ready, play it in the feed, like, comment, follow each
// other, exchange a message and resume an upload after a reload. The
// screenshots it takes are kept in the folder the test names (see
// shotsDir) for a person to look at.
func TestBrowserJourney(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	script := needBrowserScript(t, root, "journey.mjs", "playwright-core")
	clip := makeJourneyClip(t)
	shots := shotsDir(t, root)

	c := &cluster{t: t, env: []string{
		"REEL_ADDR=127.0.0.1:0",
		"REEL_ADMIN_ADDR=off",
		"REEL_LOG_FORMAT=json",
		"REEL_LOG_LEVEL=info",
		"REEL_SHUTDOWN_TIMEOUT=5s",
		"REEL_WORKERS=2",
		// The journey signs up a few users from one address.
		"REEL_SIGNUP_LIMIT=1000/1m",
	}}
	n := c.start(t, "web", "serve")
	// The binary must carry the app itself, not the page a checkout
	// without a build gets (web/dist-fallback).
	resp, err := http.Get(n.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(page), "was not built") {
		t.Fatalf("GET / answers %d without the web app: build it before the binary (scripts/web.sh, as make test does)\n%s", resp.StatusCode, page)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = root
	cmd.Env = append(environ(),
		"REEL_URL="+n.URL,
		"REEL_CLIP="+clip,
		"REEL_SHOTS="+shots,
		"CHROMIUM="+chromium,
	)
	cmd.WaitDelay = 10 * time.Second // the browser's pipes, should node leave it behind
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node web/test/journey.mjs failed after %s: %v\n%s", time.Since(start).Round(time.Second), err, out)
	}
	t.Logf("journey passed in %s:\n%s", time.Since(start).Round(time.Second), out)

	if n := countShots(shots, start.Add(-time.Second)); n < 3 {
		t.Errorf("the journey left %d screenshots in %s, want the feed, the upload page and a profile at least", n, shots)
	}
	t.Logf("screenshots: %s", shots)
	fmt.Printf("browser journey screenshots: %s\n", shots)
}

// needBrowserScript returns the path of the web app's browser script name
// (web/test/name) after checking that it can run: the script, the npm
// modules it loads (installed by scripts/web.sh), node and Chromium. What
// is missing fails the test with the command that installs it.
func needBrowserScript(t *testing.T, root, name string, modules ...string) string {
	t.Helper()
	script := filepath.Join(root, "web", "test", name)
	needs := []struct{ path, fix string }{{script, "the browser script " + name + " of the web app is missing"}}
	for _, m := range modules {
		needs = append(needs, struct{ path, fix string }{filepath.Join(root, "web", "node_modules", m), "run scripts/web.sh (npm ci in web/), or make test, which does"})
	}
	needs = append(needs, struct{ path, fix string }{chromium, "run scripts/deps.sh chromium (apt-get install -y chromium)"})
	for _, need := range needs {
		if _, err := os.Stat(need.path); err != nil {
			t.Fatalf("%s: %s", need.path, need.fix)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is missing: run scripts/deps.sh node")
	}
	return script
}

// makeJourneyClip generates the clip the journey uploads: about 6 s of
// H.264 and AAC in a phone's portrait shape, small, moov first, so that it
// plays past 2 s as soon as the fast path has remuxed it.
func makeJourneyClip(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("ffmpeg is missing: run scripts/deps.sh ffmpeg")
	}
	clip := filepath.Join(t.TempDir(), "journey.mp4")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x568:rate=30:duration=6",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=6",
		"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "60",
		"-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart", clip)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return clip
}

// shotsDir is where the journey's screenshots go: REEL_TEST_SHOTS when
// set, else bin/browser-shots in the repository (ignored by git), emptied
// first so that what is there is this run's. It outlives the test.
func shotsDir(t *testing.T, root string) string {
	t.Helper()
	dir := os.Getenv("REEL_TEST_SHOTS")
	if dir == "" {
		dir = filepath.Join(root, "bin", "browser-shots")
		// Only the folder of our own choosing is emptied, never one a
		// person named.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// countShots counts the PNG files in dir written since start.
func countShots(dir string, start time.Time) int {
	n := 0
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".png") && !info.ModTime().Before(start) {
			n++
		}
	}
	return n
}
