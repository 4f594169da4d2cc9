package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/media/mediatest"
)

// TestMultiNode runs two API nodes that only enqueue (REEL_WORKERS=0) and
// one worker, each with its own empty data directory, on one PostgreSQL
// schema and one bucket, and checks what a user and an operator would:
// uploads continue on any node, crashes of any process lose nothing, and
// the bucket holds exactly what the API says exists. The steps build on
// each other, so the first failure ends the test.
func TestMultiNode(t *testing.T) {
	c := newCluster(t)
	a := c.start(t, "serve-a", "serve", "REEL_WORKERS=0")
	b := c.start(t, "serve-b", "serve", "REEL_WORKERS=0")
	worker := c.start(t, "worker-1", "worker", "REEL_WORKERS=1")
	user := signUp(t, a, "traveller")
	heavy := readClip(t, "heavy")
	var videos []int64

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"tus PATCHes alternate between nodes", func(t *testing.T) {
			// Chunks smaller than an S3 part, so that the tail of the data that
			// is not a part yet changes hands between nodes, then the rest in
			// one PATCH that completes parts.
			u := user.createUpload(t, a, len(heavy))
			videos = append(videos, u.videoID)
			sizes := []int{3 << 20, 6 << 20, 1 << 20, len(heavy)} // the last one takes the rest
			nodes := []*node{b, a, b, a}
			offset := 0
			for i, size := range sizes {
				end := min(offset+size, len(heavy))
				n := nodes[i]
				if got := user.offset(t, n, u); got != offset {
					t.Fatalf("HEAD on %s: offset %d, want %d", n.name, got, offset)
				}
				resp, body := user.do(t, n, "PATCH", u.path, bytes.NewReader(heavy[offset:end]), tusHeaders(offset)...)
				if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(end) {
					t.Fatalf("PATCH %d-%d on %s: %d, offset %q: %s", offset, end, n.name, resp.StatusCode, resp.Header.Get("Upload-Offset"), body)
				}
				offset = end
			}
			// The upload was created on a; b has seen it only through the
			// store, and hands out its own URLs.
			v := user.waitProcessed(t, b, u.videoID, 3*time.Minute)
			if v.Status != "ready" {
				t.Fatalf("after the upload: %+v", v)
			}
			if !strings.HasPrefix(v.HLSURL, b.URL+"/") {
				t.Fatalf("hls_url %q is not served by %s", v.HLSURL, b.URL)
			}
			if n := probeVideoStreams(t, v.HLSURL); n == 0 {
				t.Fatalf("ffprobe found no video stream in %s", v.HLSURL)
			}
			checkOriginal(t, c, user, b, v.ID, heavy)
		}},
		{"serve node killed mid-PATCH, the upload resumes on another", func(t *testing.T) {
			u := user.createUpload(t, a, len(heavy))
			videos = append(videos, u.videoID)
			sent, stored := u.patchUntilKilled(t, c, user, a, heavy, 24<<20)
			// a's lock on the upload outlives a until its lease expires; the
			// client retries as tus clients do, asking for the offset each time.
			waitFor(t, "another node to take the upload of the killed node", 2*time.Minute, func() bool {
				resp, body := user.do(t, b, "HEAD", u.path, nil, "Tus-Resumable", "1.0.0")
				if stillLocked(t, b, "HEAD", resp, body) {
					return false
				}
				offset, err := strconv.Atoi(resp.Header.Get("Upload-Offset"))
				if err != nil {
					t.Fatalf("HEAD on %s: Upload-Offset %q", b.name, resp.Header.Get("Upload-Offset"))
				}
				// What reached the bucket is kept; what did not is sent again.
				if offset < int(stored) || offset > sent {
					t.Fatalf("offset %d after the crash: want from the %d bytes stored in parts to the %d sent", offset, stored, sent)
				}
				t.Logf("killed after %d bytes sent, %d of them in the bucket's parts; resuming from %d", sent, stored, offset)
				resp, body = user.do(t, b, "PATCH", u.path, bytes.NewReader(heavy[offset:]), tusHeaders(offset)...)
				if stillLocked(t, b, "PATCH", resp, body) {
					return false
				}
				if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(heavy)) {
					t.Fatalf("resuming PATCH from %d on %s: %d, offset %q: %s", offset, b.name, resp.StatusCode, resp.Header.Get("Upload-Offset"), body)
				}
				return true
			})
			v := user.waitProcessed(t, b, u.videoID, 3*time.Minute)
			if v.Status != "ready" {
				t.Fatalf("after the resumed upload: %+v", v)
			}
			checkOriginal(t, c, user, b, v.ID, heavy)
			// A replacement node joins with an empty data directory.
			a = c.start(t, "serve-a2", "serve", "REEL_WORKERS=0")
		}},
		{"worker killed mid-ladder, a second worker finishes the video", func(t *testing.T) {
			v := user.uploadMultipart(t, a, mediatest.Clip(t, "slow"))
			videos = append(videos, v.ID)
			waitFor(t, "the ladder to run", 5*time.Minute, func() bool {
				v = user.video(t, b, v.ID)
				if v.Status != "processing" {
					t.Fatalf("video %d left processing before the worker could be killed mid-ladder: %+v", v.ID, v)
				}
				// The cover (5) and the remux (10) are done; ready is 100.
				return v.Progress > 10 && v.Progress < 90
			})
			worker.kill(t)
			if v = user.video(t, b, v.ID); v.Status != "processing" {
				t.Fatalf("after the worker was killed: %+v", v)
			}
			worker = c.start(t, "worker-2", "worker", "REEL_WORKERS=1")
			v = user.waitProcessed(t, a, v.ID, 6*time.Minute)
			if v.Status != "ready" {
				t.Fatalf("after the second worker: %+v", v)
			}
			if !strings.Contains(worker.log.String(), "rescued jobs of a stopped node") {
				t.Error("the second worker did not rescue the killed worker's job")
			}
			if n := probeVideoStreams(t, v.HLSURL); n == 0 {
				t.Fatalf("ffprobe found no video stream in %s", v.HLSURL)
			}
			for _, u := range []string{v.PlayURL, v.CoverURL} {
				if code := getStatus(t, u); code != http.StatusOK {
					t.Errorf("GET %s: %d", u, code)
				}
			}
		}},
		{"deleted videos leave nothing in the bucket", func(t *testing.T) {
			for i, id := range videos {
				n := []*node{a, b}[i%2]
				user.json(t, n, "DELETE", fmt.Sprintf("/api/v1/videos/%d", id), nil, http.StatusNoContent, nil)
				user.json(t, []*node{b, a}[i%2], "GET", fmt.Sprintf("/api/v1/videos/%d", id), nil, http.StatusNotFound, nil)
			}
			for _, id := range videos {
				prefix := path.Join(c.prefix, reel.VideoKeyPrefix(id)) + "/"
				waitFor(t, "the objects under "+prefix+" to be deleted", time.Minute, func() bool {
					return len(c.s3.Keys(t, prefix)) == 0
				})
			}
			// Nothing else of theirs either: not an upload, not a part.
			if keys := c.s3.Keys(t, c.prefix+"/"); len(keys) != 0 {
				t.Errorf("the bucket still holds %v", keys)
			}
			if ups := c.s3.MultipartUploads(t, ""); len(ups) != 0 {
				t.Errorf("unfinished multipart uploads remain: %v", ups)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}

func readClip(t *testing.T, kind string) []byte {
	t.Helper()
	b, err := os.ReadFile(mediatest.Clip(t, kind))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stillLocked tells whether a tus answer says that the upload's lock is
// held elsewhere (423, or 500/503 when the lock could not be had in time),
// which a client retries; any other answer but success fails the test.
func stillLocked(t *testing.T, n *node, method string, resp *http.Response, body []byte) bool {
	t.Helper()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return false
	case http.StatusLocked, http.StatusInternalServerError, http.StatusServiceUnavailable:
		t.Logf("%s on %s: %d (%s): retrying", method, n.name, resp.StatusCode, bytes.TrimSpace(body))
		return true
	}
	t.Fatalf("%s on %s after the crash: %d: %s", method, n.name, resp.StatusCode, body)
	return false
}

// upload is a tus upload, addressed by path so that any node can take it.
type upload struct {
	path    string
	videoID int64
}

func tusHeaders(offset int) []string {
	return []string{"Tus-Resumable", "1.0.0", "Upload-Offset", strconv.Itoa(offset), "Content-Type", "application/offset+octet-stream"}
}

// createUpload starts a tus upload of size bytes on n.
func (c *client) createUpload(t *testing.T, n *node, size int) upload {
	t.Helper()
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("clip.mp4")) +
		",title " + base64.StdEncoding.EncodeToString([]byte("across nodes"))
	resp, body := c.do(t, n, "POST", "/api/v1/uploads/", nil,
		"Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(size), "Upload-Metadata", meta)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create upload on %s: %d: %s", n.name, resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Path == "" {
		t.Fatalf("create upload on %s: Location %q", n.name, resp.Header.Get("Location"))
	}
	id, err := strconv.ParseInt(resp.Header.Get("Video-ID"), 10, 64)
	if err != nil {
		t.Fatalf("create upload on %s: Video-ID %q", n.name, resp.Header.Get("Video-ID"))
	}
	return upload{path: loc.Path, videoID: id}
}

// offset returns the offset n reports for the upload (tus HEAD).
func (c *client) offset(t *testing.T, n *node, u upload) int {
	t.Helper()
	resp, body := c.do(t, n, "HEAD", u.path, nil, "Tus-Resumable", "1.0.0")
	off, err := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	if resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("HEAD %s on %s: %d, Upload-Offset %q: %s", u.path, n.name, resp.StatusCode, resp.Header.Get("Upload-Offset"), body)
	}
	return off
}

// patchUntilKilled streams data to n in one PATCH and, once cut bytes are
// sent and a part of them has reached the bucket, kills n in the middle of
// the request. It returns how many bytes the client handed to the
// connection and how many the bucket held in parts before the crash.
func (u upload) patchUntilKilled(t *testing.T, c *cluster, user *client, n *node, data []byte, cut int) (sent int, stored int64) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("PATCH", n.URL+u.path, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Authorization", "Bearer "+user.token)
	for h := tusHeaders(0); len(h) > 1; h = h[2:] {
		req.Header.Set(h[0], h[1])
	}
	answered := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		answered <- err
	}()
	for sent < cut {
		k, err := pw.Write(data[sent:min(sent+256<<10, cut)])
		sent += k
		if err != nil {
			t.Fatalf("PATCH on %s failed after %d bytes, before the crash: %v", n.name, sent, err)
		}
	}
	waitFor(t, "a part of the upload to reach the bucket", time.Minute, func() bool {
		stored = c.partBytes(t)
		return stored > 0
	})
	n.kill(t)
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-answered; err == nil || strings.HasPrefix(err.Error(), "answered") {
		t.Fatalf("the PATCH cut by the crash of %s: %v", n.name, err)
	}
	return sent, stored
}

// partBytes sums the parts of the bucket's unfinished multipart uploads
// under the uploads prefix.
func (c *cluster) partBytes(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	client := c.s3.Client(t)
	ups, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(c.s3.Bucket), Prefix: aws.String(c.prefix + "/uploads/")})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var n int64
	for _, up := range ups.Uploads {
		parts, err := client.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(c.s3.Bucket), Key: up.Key, UploadId: up.UploadId})
		if err != nil {
			t.Fatalf("list parts of %s: %v", aws.ToString(up.Key), err)
		}
		for _, p := range parts.Parts {
			n += aws.ToInt64(p.Size)
		}
	}
	return n
}

// uploadMultipart posts the file at p through n's multipart endpoint.
func (c *client) uploadMultipart(t *testing.T, n *node, p string) video {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.WriteField("title", "slow")
	mw.Close()
	resp, b := c.do(t, n, "POST", "/api/v1/videos", &body, "Content-Type", mw.FormDataContentType())
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("multipart upload on %s: %d: %s", n.name, resp.StatusCode, b)
	}
	var v video
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkOriginal compares the stored original, as the API states it and as
// the bucket holds it, with what the client sent.
func checkOriginal(t *testing.T, c *cluster, user *client, n *node, id int64, want []byte) {
	t.Helper()
	sum := sha256.Sum256(want)
	v := user.video(t, n, id)
	if v.SHA256 != hex.EncodeToString(sum[:]) || v.SizeBytes != int64(len(want)) {
		t.Errorf("the API states sha256 %s and %d bytes, want %x and %d", v.SHA256, v.SizeBytes, sum, len(want))
	}
	key := path.Join(c.prefix, reel.OriginalKey(id))
	obj, err := c.s3.Client(t).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(c.s3.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s from the bucket: %v", key, err)
	}
	defer obj.Body.Close()
	h := sha256.New()
	size, err := io.Copy(h, obj.Body)
	if err != nil {
		t.Fatalf("read %s from the bucket: %v", key, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum[:]) || size != int64(len(want)) {
		t.Errorf("the bucket's %s: sha256 %x and %d bytes, want %x and %d", key, got, size, sum, len(want))
	}
}

// probeVideoStreams is what a player does: ffprobe reads the HLS master
// and its variants over HTTP. It returns the number of video streams.
func probeVideoStreams(t *testing.T, u string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-print_format", "json", "-show_streams", u).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", u, err)
	}
	var p struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range p.Streams {
		if s.CodecType == "video" {
			n++
		}
	}
	return n
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
