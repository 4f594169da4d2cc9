package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The web app's budgets (issue: the app's JavaScript at most 250 KB
// gzipped, hls.js included; the first video playing within 1 s on
// loopback).
const (
	webJSBudgetKiB  = 250.0
	webFirstPlayMS  = 1000.0
	webReadyTimeout = 5 * time.Minute
)

// webTools finds what the web scenario needs besides the reel binary:
// node (with the app's packages installed in web/), Chromium and ffmpeg.
func webTools() (chromium string, err error) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", fmt.Errorf("node is missing: apt-get install -y nodejs npm")
	}
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return "", fmt.Errorf("ffmpeg is missing: apt-get install -y ffmpeg")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		return "", fmt.Errorf("chromium is missing at %s: apt-get install -y chromium (or set CHROMIUM)", chromium)
	}
	return chromium, nil
}

// webDir finds the repository's web/ directory from the working directory
// (the repository root under make bench, bench/ under go test).
func webDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "web", "package.json")); err == nil {
			return filepath.Join(dir, "web"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no web/package.json above the working directory")
		}
		dir = parent
	}
}

// benchWeb prints the web app's bundle size against its budget, then the
// time from navigation to the first video's playing event in Chromium,
// against reel on loopback with one ready video in its feed.
func benchWeb(ctx context.Context, o options, dir string, out io.Writer) error {
	chromium, err := webTools()
	if err != nil {
		return err
	}
	web, err := webDir()
	if err != nil {
		return err
	}
	dist := filepath.Join(web, "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		return fmt.Errorf("the web app is not built (no %s): run make build", filepath.Join(dist, "index.html"))
	}
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core")); err != nil {
		return fmt.Errorf("the web app's packages are not installed: cd web && npm ci")
	}
	jsGz, jsRaw, total, err := bundleSize(dist)
	if err != nil {
		return err
	}
	kib := func(n int64) float64 { return float64(n) / 1024 }
	row(out, "web app JavaScript gzipped (KiB), budget", fmt.Sprintf("%.1f", kib(jsGz)), fmt.Sprintf("%.1f", webJSBudgetKiB), kib(jsGz)/webJSBudgetKiB)
	row(out, "web app JavaScript / all files (KiB)", fmt.Sprintf("%.1f", kib(jsRaw)), fmt.Sprintf("%.1f", kib(total)), 0)

	srv, err := startServer(o.bin, filepath.Join(dir, "server"))
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := servesApp(srv.url); err != nil {
		return err
	}
	clip := filepath.Join(dir, "clip.mp4")
	secs, size := "6", "480x854"
	if o.clipSeconds < 10 { // smoke mode: a smaller clip
		secs, size = "3", "240x426"
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", secs, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", clip)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, b)
	}
	id, err := uploadMultipart(srv, clip)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(webReadyTimeout); ; time.Sleep(100 * time.Millisecond) {
		status, reason, err := srv.video(id)
		if err != nil {
			return err
		}
		if status == "failed" {
			return fmt.Errorf("video failed: %s", reason)
		}
		if status == "ready" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("video not ready after %s", webReadyTimeout)
		}
	}
	rounds := "5"
	if o.clipSeconds < 10 {
		rounds = "1"
	}
	run := exec.CommandContext(ctx, "node", filepath.Join(web, "test", "firstplay.mjs"))
	run.Env = append(os.Environ(), "REEL_URL="+srv.url, "CHROMIUM="+chromium, "ROUNDS="+rounds)
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		return fmt.Errorf("firstplay.mjs: %v: %s%s", err, stderr.String(), stdout.String())
	}
	var res struct {
		Rounds []float64 `json:"rounds_ms"`
		Median float64   `json:"median_ms"`
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || len(res.Rounds) == 0 {
		return fmt.Errorf("firstplay.mjs printed %q: %v", stdout.String(), err)
	}
	row(out, fmt.Sprintf("web first video playing (ms, p50 of %d), target", len(res.Rounds)),
		fmt.Sprintf("%.0f", res.Median), fmt.Sprintf("%.0f", webFirstPlayMS), res.Median/webFirstPlayMS)
	return nil
}

// bundleSize sums the app's JavaScript, raw and gzipped (best compression,
// as a server that compresses once would), and every file of the build.
func bundleSize(dist string) (jsGz, jsRaw, total int64, err error) {
	err = filepath.WalkDir(dist, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		total += int64(len(b))
		if strings.HasSuffix(path, ".js") {
			jsRaw += int64(len(b))
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(b)
			zw.Close()
			jsGz += int64(buf.Len())
		}
		return nil
	})
	if err == nil && jsRaw == 0 {
		err = fmt.Errorf("no JavaScript in %s", dist)
	}
	return jsGz, jsRaw, total, err
}

// servesApp checks that the binary embeds the built app, not the fallback
// page of a checkout where it was never built.
func servesApp(base string) error {
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("/assets/")) {
		return fmt.Errorf("the reel binary does not serve the built web app at / (status %d): run make build", resp.StatusCode)
	}
	return nil
}
