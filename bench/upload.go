package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// benchUploads streams one large file through both upload paths. The file
// is a short faststart MP4 padded with zeros to the size: ffprobe accepts
// it as a video, so the server does all it does for a real upload.
func benchUploads(ctx context.Context, o options, dir string, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	src := filepath.Join(dir, "big.mp4")
	if err := makeBigVideo(src, o.uploadBytes); err != nil {
		return err
	}

	// Baseline: a plain copy of the file onto the same disk, synced as the
	// blob store syncs what it stores. The unsynced copy is printed too: it
	// only measures the page cache, a ceiling no network upload approaches.
	copyTime, err := timeCopy(src, filepath.Join(dir, "copy.mp4"), true)
	if err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, "copy.mp4"))
	copyRate := mbps(o.uploadBytes, copyTime)
	rawTime, err := timeCopy(src, filepath.Join(dir, "copy.mp4"), false)
	if err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, "copy.mp4"))
	rawRate := mbps(o.uploadBytes, rawTime)

	// No workers: the transcode of the uploads would only disturb the figures.
	srv, err := startServer(o.bin, filepath.Join(dir, "data"), "REEL_WORKERS=0", "REEL_MAX_UPLOAD_BYTES="+strconv.FormatInt(o.uploadBytes+1<<20, 10))
	if err != nil {
		return err
	}
	defer srv.stop()
	size := fmt.Sprintf("%d MiB", o.uploadBytes>>20)

	var elapsed time.Duration
	rss, err := srv.peakRSS(func() error {
		start := time.Now()
		_, err := uploadMultipart(srv, src)
		elapsed = time.Since(start)
		return err
	})
	if err != nil {
		return fmt.Errorf("multipart: %w", err)
	}
	rate := mbps(o.uploadBytes, elapsed)
	row(out, "plain copy "+size+" without fsync MB/s", "-", fmt.Sprintf("%.0f cp", rawRate), 0)
	row(out, "upload multipart "+size+" MB/s", fmt.Sprintf("%.0f", rate), fmt.Sprintf("%.0f cp+sync", copyRate), rate/copyRate)
	row(out, "upload multipart peak RSS growth", fmt.Sprintf("%.1f MiB", rss), "-", 0)

	rss, err = srv.peakRSS(func() error {
		start := time.Now()
		err := uploadTus(srv, src, o.uploadBytes)
		elapsed = time.Since(start)
		return err
	})
	if err != nil {
		return fmt.Errorf("tus: %w", err)
	}
	rate = mbps(o.uploadBytes, elapsed)
	row(out, "upload tus "+size+" MB/s", fmt.Sprintf("%.0f", rate), fmt.Sprintf("%.0f cp+sync", copyRate), rate/copyRate)
	row(out, "upload tus peak RSS growth", fmt.Sprintf("%.1f MiB", rss), "-", 0)
	return nil
}

func makeBigVideo(path string, size int64) error {
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make clip: %v: %s", err, b)
	}
	return os.Truncate(path, size)
}

func timeCopy(src, dst string, sync bool) (time.Duration, error) {
	start := time.Now()
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	outf, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(outf, in); err != nil {
		outf.Close()
		return 0, err
	}
	if sync {
		if err := outf.Sync(); err != nil {
			outf.Close()
			return 0, err
		}
	}
	return time.Since(start), outf.Close()
}

// uploadMultipart streams the file as a browser form would, without
// holding it in the client's memory either, and returns the video's id.
func uploadMultipart(srv *server, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filepath.Base(path))
		if err == nil {
			_, err = io.Copy(part, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", srv.url+"/api/v1/videos", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("upload: status %d: %s", resp.StatusCode, b)
	}
	var v struct{ ID int64 }
	return v.ID, json.NewDecoder(resp.Body).Decode(&v)
}

// uploadTus creates an upload and sends it in one PATCH, as tus-js-client
// does by default.
func uploadTus(srv *server, path string, size int64) error {
	req, _ := http.NewRequest("POST", srv.url+"/api/v1/uploads/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	drain(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create: status %d", resp.StatusCode)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	req, _ = http.NewRequest("PATCH", resp.Header.Get("Location"), f)
	req.ContentLength = size
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	drain(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("patch: status %d", resp.StatusCode)
	}
	return nil
}
