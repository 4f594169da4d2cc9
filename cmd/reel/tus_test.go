package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reel-video/reel/internal/blob/s3test"
	"github.com/reel-video/reel/internal/media/mediatest"
	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/upload"
)

// tusReq sends one tus request; headers come in name, value pairs.
func tusReq(t *testing.T, method, url, token string, body []byte, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func tusMetadata(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// createUpload starts a tus upload and returns its URL and video id.
func createUpload(t *testing.T, srv *instance, token string, size int, headers ...string) (string, int64) {
	t.Helper()
	h := append([]string{"Upload-Length", strconv.Itoa(size), "Upload-Metadata", tusMetadata("filename", "clip.mp4", "title", "resumed")}, headers...)
	resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, nil, h...)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create upload: %d", resp.StatusCode)
	}
	id, err := strconv.ParseInt(resp.Header.Get("Video-ID"), 10, 64)
	if err != nil || resp.Header.Get("Location") == "" {
		t.Fatalf("create upload: Video-ID %q Location %q", resp.Header.Get("Video-ID"), resp.Header.Get("Location"))
	}
	if _, err := http.ParseTime(resp.Header.Get("Upload-Expires")); err != nil {
		t.Errorf("Upload-Expires %q: %v", resp.Header.Get("Upload-Expires"), err)
	}
	return resp.Header.Get("Location"), id
}

// TestTusResumesAfterInterruption is a phone on a bad network: the upload
// is cut midway, the client asks the server where it stopped, sends the
// rest, and the video is processed.
func TestTusResumesAfterInterruption(t *testing.T) {
	onEachStore(t, nil, testTusResumesAfterInterruption)
}

func testTusResumesAfterInterruption(t *testing.T, env map[string]string, s *s3test.Server) {
	srv := startServer(t, env)
	token, stranger := signUp(t, srv, "phone"), signUp(t, srv, "stranger")
	data, err := os.ReadFile(mediatest.Clip(t, "landscape"))
	if err != nil {
		t.Fatal(err)
	}
	loc, videoID := createUpload(t, srv, token, len(data))

	r := srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", videoID), token, nil)
	var v videoJSON
	r.json(t, &v)
	if v.Status != "uploading" || v.Title != "resumed" {
		t.Errorf("after creation: %s", r.Body)
	}

	// Half the body, then the connection drops.
	u, _ := url.Parse(loc)
	conn := dial(t, u.Host)
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nTus-Resumable: 1.0.0\r\n"+
		"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		u.Path, u.Host, token, len(data))
	half := len(data) / 2
	if _, err := conn.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	// The server kept what arrived; the client resumes from its offset.
	var offset int
	waitFor(t, "the server to settle the interrupted upload", func() bool {
		resp := tusReq(t, "HEAD", loc, token, nil)
		offset, _ = strconv.Atoi(resp.Header.Get("Upload-Offset"))
		return resp.StatusCode == http.StatusOK && offset > 0
	})
	if offset > half {
		t.Fatalf("offset %d beyond the %d bytes sent", offset, half)
	}
	if resp := tusReq(t, "HEAD", loc, stranger, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a stranger's HEAD: %d, want 404", resp.StatusCode)
	}
	if resp := tusReq(t, "PATCH", loc, stranger, data[offset:], "Upload-Offset", strconv.Itoa(offset)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a stranger's PATCH: %d, want 404", resp.StatusCode)
	}
	if resp := tusReq(t, "HEAD", loc, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HEAD without a token: %d, want 401", resp.StatusCode)
	}
	if resp := tusReq(t, "PATCH", loc, token, data[offset:], "Upload-Offset", "1"); resp.StatusCode != http.StatusConflict {
		t.Errorf("PATCH at a wrong offset: %d, want 409", resp.StatusCode)
	}
	resp := tusReq(t, "PATCH", loc, token, data[offset:], "Upload-Offset", strconv.Itoa(offset))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("resuming PATCH: %d, offset %s", resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}
	v = waitVideo(t, srv, token, videoID)
	if v.Status != "ready" || v.SizeBytes != int64(len(data)) || len(v.SHA256) != 64 {
		t.Fatalf("after the upload: %+v", v)
	}
	probe(t, v.HLSURL)
	// The finished upload left the upload area.
	if resp := tusReq(t, "HEAD", loc, token, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of a processed upload: %d, want 404", resp.StatusCode)
	}
	expectNoUploads(t, s)
}

// expectNoUploads fails the test when the bucket holds an object or an
// incomplete multipart upload of a tus upload (nothing to check on disk).
func expectNoUploads(t *testing.T, s *s3test.Server) {
	t.Helper()
	expectUploads(t, s, nil)
}

// expectUploads fails the test unless the objects and multipart uploads of
// tus uploads in the bucket are want (as uploadObjects lists them).
func expectUploads(t *testing.T, s *s3test.Server, want []string) {
	t.Helper()
	if got := uploadObjects(t, s); !slices.Equal(got, want) {
		t.Errorf("the bucket keeps %v of tus uploads, want %v", got, want)
	}
}

// uploadObjects lists the keys of tus uploads in the bucket, then their
// incomplete multipart uploads as "multipart:KEY"; nil on disk.
func uploadObjects(t *testing.T, s *s3test.Server) []string {
	t.Helper()
	if s == nil {
		return nil
	}
	prefix := "reel/" + upload.UploadsPrefix
	keys := s.Keys(t, prefix)
	for _, k := range s.MultipartUploads(t, prefix) {
		keys = append(keys, "multipart:"+k)
	}
	return keys
}

func TestTusProtocol(t *testing.T) {
	onEachStore(t, map[string]string{"REEL_MAX_UPLOAD_BYTES": "1000000"}, testTusProtocol)
}

func testTusProtocol(t *testing.T, env map[string]string, s *s3test.Server) {
	srv := startServer(t, env)
	token := signUp(t, srv, "tusker")

	plain := tusReq(t, "OPTIONS", srv.URL+"/api/v1/uploads/", "", nil)
	for _, ext := range []string{"creation", "creation-with-upload", "termination", "concatenation", "expiration"} {
		if !strings.Contains(","+plain.Header.Get("Tus-Extension")+",", ","+ext+",") {
			t.Errorf("Tus-Extension %q lacks %s", plain.Header.Get("Tus-Extension"), ext)
		}
	}
	// A browser's preflight (tus-js-client, Uppy) may send the token.
	resp := tusReq(t, "OPTIONS", srv.URL+"/api/v1/uploads/", "", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if resp.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("CORS preflight: %v", resp.Header)
	}
	// The browser may read the headers it needs from the creation's answer.
	resp = tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, nil, "Origin", "https://app.example", "Upload-Length", "10")
	for _, h := range []string{"Location", "Video-ID", "Upload-Expires", "Upload-Offset"} {
		if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), h) {
			t.Errorf("cross-origin creation does not expose %s: %q", h, resp.Header.Get("Access-Control-Expose-Headers"))
		}
	}

	// Bad creations, each with a JSON error and no video.
	for _, tc := range []struct {
		name    string
		token   string
		headers []string
		status  int
	}{
		{"no token", "", []string{"Upload-Length", "10"}, 401},
		{"forged token", "x.y.z", []string{"Upload-Length", "10"}, 401},
		{"too large", token, []string{"Upload-Length", "1000001"}, 413},
		{"bad visibility", token, []string{"Upload-Length", "10", "Upload-Metadata", tusMetadata("visibility", "secret")}, 422},
		{"no length", token, nil, 400},
	} {
		resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", tc.token, nil, tc.headers...)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s, want %d JSON", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
		}
	}

	// Termination deletes the upload and its video, and every object and
	// multipart upload of it.
	before := uploadObjects(t, s)
	loc, id := createUpload(t, srv, token, 100)
	if resp := tusReq(t, "PATCH", loc, token, []byte("some bytes"), "Upload-Offset", "0"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH before termination: %d", resp.StatusCode)
	}
	if resp := tusReq(t, "DELETE", loc, token, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE upload: %d", resp.StatusCode)
	}
	expect(t, srv.do("GET", fmt.Sprintf("/api/v1/videos/%d", id), token, nil), 404, "not_found")
	expectUploads(t, s, before)

	// Concatenation: two parts sent in parallel, then joined.
	data, err := os.ReadFile(mediatest.Clip(t, "noaudio"))
	if err != nil {
		t.Fatal(err)
	}
	cut := len(data) / 3
	var parts []string
	for _, chunk := range [][]byte{data[:cut], data[cut:]} {
		resp := tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, chunk,
			"Upload-Length", strconv.Itoa(len(chunk)), "Upload-Concat", "partial")
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(chunk)) {
			t.Fatalf("partial upload with creation-with-upload: %d offset %s", resp.StatusCode, resp.Header.Get("Upload-Offset"))
		}
		if resp.Header.Get("Video-ID") != "" {
			t.Error("a partial upload got a video")
		}
		parts = append(parts, resp.Header.Get("Location"))
	}
	stranger := signUp(t, srv, "thief")
	resp = tusReq(t, "POST", srv.URL+"/api/v1/uploads/", stranger, nil, "Upload-Concat", "final;"+strings.Join(parts, " "))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("joining someone else's parts: %d, want 404", resp.StatusCode)
	}
	resp = tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, nil, "Upload-Concat", "final;"+strings.Join(parts, " "),
		"Upload-Metadata", tusMetadata("title", "joined"))
	id, err = strconv.ParseInt(resp.Header.Get("Video-ID"), 10, 64)
	if resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("final upload: %d Video-ID %q", resp.StatusCode, resp.Header.Get("Video-ID"))
	}
	v := waitVideo(t, srv, token, id)
	if v.Status != "ready" || v.Title != "joined" || v.SizeBytes != int64(len(data)) {
		t.Errorf("joined video: %+v", v)
	}

	// Random bytes arrive fine through tus, and are refused when they are
	// complete, as a multipart upload is: 415, and the video is gone.
	junk, _ := os.ReadFile(mediatest.Clip(t, "random"))
	resp = tusReq(t, "POST", srv.URL+"/api/v1/uploads/", token, junk, "Upload-Length", strconv.Itoa(len(junk)))
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("random bytes through tus: %d, want 415", resp.StatusCode)
	}
	// The parts went with the joined video's job, the refused upload at once.
	expectUploads(t, s, before)
}

// TestTusAcrossNodes: two serve nodes, each with its own data directory,
// share PostgreSQL and the bucket; an upload whose PATCHes alternate
// between them completes, is processed, and leaves nothing in the upload
// area.
func TestTusAcrossNodes(t *testing.T) {
	env, s := withS3(t, map[string]string{
		"REEL_DATABASE_URL": sqltest.PostgresURL(t),
		"REEL_SECRET":       "a shared secret of at least thirty-two bytes",
	}, "reel")
	a := startServer(t, env)
	b := startServer(t, env)
	token := signUp(t, a, "traveller")
	data, err := os.ReadFile(mediatest.Clip(t, "landscape"))
	if err != nil {
		t.Fatal(err)
	}
	loc, videoID := createUpload(t, a, token, len(data))
	path := loc[strings.Index(loc, "/api/"):]
	nodes := []*instance{b, a}
	chunk := len(data)/5 + 1
	for offset, i := 0, 0; offset < len(data); i++ {
		node := nodes[i%2]
		// Each node first learns the offset from the bucket, as a client
		// resuming on another node does.
		resp := tusReq(t, "HEAD", node.URL+path, token, nil)
		if got := resp.Header.Get("Upload-Offset"); resp.StatusCode != http.StatusOK || got != strconv.Itoa(offset) {
			t.Fatalf("HEAD on node %d: %d offset %s, want %d", i%2, resp.StatusCode, got, offset)
		}
		end := min(offset+chunk, len(data))
		resp = tusReq(t, "PATCH", node.URL+path, token, data[offset:end], "Upload-Offset", strconv.Itoa(offset))
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(end) {
			t.Fatalf("PATCH %d on node %d: %d offset %s", i, i%2, resp.StatusCode, resp.Header.Get("Upload-Offset"))
		}
		offset = end
	}
	v := waitVideo(t, b, token, videoID)
	if v.Status != "ready" || v.SizeBytes != int64(len(data)) {
		t.Fatalf("after the upload: %+v", v)
	}
	sum := sha256.Sum256(data)
	if v.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("stored SHA-256 %s, want the source's %x", v.SHA256, sum)
	}
	probe(t, v.HLSURL)
	expectNoUploads(t, s)
}

// TestTusVideoDeletedMidUpload: deleting the video of an unfinished upload
// removes the upload through the delete job, which finds it by the upload
// id the video keeps (on S3 the tus id adds the multipart upload's id).
func TestTusVideoDeletedMidUpload(t *testing.T) {
	onEachStore(t, nil, func(t *testing.T, base map[string]string, s *s3test.Server) {
		dataDir := t.TempDir()
		env := map[string]string{"REEL_DATA_DIR": dataDir}
		for k, v := range base {
			env[k] = v
		}
		srv := startServer(t, env)
		token := signUp(t, srv, "changedmind")
		before := uploadObjects(t, s)
		loc, id := createUpload(t, srv, token, 1000)
		if resp := tusReq(t, "PATCH", loc, token, []byte("the start"), "Upload-Offset", "0"); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d", resp.StatusCode)
		}
		expect(t, srv.do("DELETE", fmt.Sprintf("/api/v1/videos/%d", id), token, nil), http.StatusNoContent, "")
		waitFor(t, "the upload to be removed", func() bool {
			if s != nil {
				return slices.Equal(uploadObjects(t, s), before)
			}
			entries, _ := os.ReadDir(filepath.Join(dataDir, "uploads"))
			return len(entries) == 0
		})
		if resp := tusReq(t, "HEAD", loc, token, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD of the deleted video's upload: %d, want 404", resp.StatusCode)
		}
	})
}
