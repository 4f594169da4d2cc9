package httpapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

const testGzipMin = 1024

// seen is what a middleware outside gzipJSON (like the access log) observes.
type seen struct {
	status, size int
	written      bool
}

// gzipEngine is an engine with gzipJSON(testGzipMin) on every route and a
// recorder of c.Writer's Status and Size outside it.
func gzipEngine(obs *seen) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(func(c *gin.Context) {
		c.Next()
		if obs != nil {
			*obs = seen{status: c.Writer.Status(), size: c.Writer.Size(), written: c.Writer.Written()}
		}
	}, gzipJSON(testGzipMin))
	return e
}

func serveGzip(e *gin.Engine, method, path, acceptEncoding string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// bigList is a JSON value of well over testGzipMin bytes.
func bigList() gin.H {
	items := make([]gin.H, 100)
	for i := range items {
		items[i] = gin.H{"id": i, "title": fmt.Sprintf("video number %d", i), "status": "ready"}
	}
	return gin.H{"videos": items}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("bad gzip stream: %v", err)
	}
	return out
}

func hasVary(h http.Header) bool {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}

func TestGzipSmallJSONNotCompressed(t *testing.T) {
	var obs seen
	e := gzipEngine(&obs)
	e.GET("/small", func(c *gin.Context) { c.JSON(http.StatusCreated, gin.H{"id": 1}) })

	rec := serveGzip(e, "GET", "/small", "gzip")
	if rec.Code != http.StatusCreated || rec.Header().Get("Content-Encoding") != "" {
		t.Fatalf("status %d, Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	if rec.Body.String() != `{"id":1}` {
		t.Errorf("body %q", rec.Body)
	}
	if !hasVary(rec.Header()) {
		t.Errorf("no Vary: Accept-Encoding on a JSON response: %v", rec.Header())
	}
	if obs.status != http.StatusCreated || obs.size != rec.Body.Len() {
		t.Errorf("observed %+v, want status 201 size %d", obs, rec.Body.Len())
	}
}

func TestGzipLargeJSONCompressed(t *testing.T) {
	var obs seen
	e := gzipEngine(&obs)
	e.GET("/big", func(c *gin.Context) {
		c.Header("ETag", `"v1"`)
		c.JSON(http.StatusOK, bigList())
	})

	plain := serveGzip(e, "GET", "/big", "")
	if plain.Header().Get("Content-Encoding") != "" || plain.Body.Len() <= testGzipMin {
		t.Fatalf("plain response: Content-Encoding %q, %d bytes", plain.Header().Get("Content-Encoding"), plain.Body.Len())
	}
	if !hasVary(plain.Header()) {
		t.Error("no Vary on the uncompressed variant")
	}

	rec := serveGzip(e, "GET", "/big", "gzip")
	h := rec.Header()
	if rec.Code != http.StatusOK || h.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q", rec.Code, h.Get("Content-Encoding"))
	}
	if !hasVary(h) || h.Get("Content-Length") != "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Errorf("headers %v", h)
	}
	if h.Get("ETag") != `W/"v1"` {
		t.Errorf("ETag %q, want the weak W/\"v1\"", h.Get("ETag"))
	}
	if got := gunzip(t, rec.Body.Bytes()); !bytes.Equal(got, plain.Body.Bytes()) {
		t.Errorf("decompressed body differs:\n%s\n%s", got, plain.Body)
	}
	if rec.Body.Len() >= plain.Body.Len() {
		t.Errorf("compressed %d bytes, plain %d", rec.Body.Len(), plain.Body.Len())
	}
	// The access log sees the status and the bytes on the wire.
	if obs.status != http.StatusOK || obs.size != rec.Body.Len() || !obs.written {
		t.Errorf("observed %+v, want status 200 size %d", obs, rec.Body.Len())
	}
}

func TestGzipAcceptEncoding(t *testing.T) {
	e := gzipEngine(nil)
	e.GET("/big", func(c *gin.Context) { c.JSON(http.StatusOK, bigList()) })
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZip", true},
		{"x-gzip", true},
		{"deflate, gzip", true},
		{" br ;q=1.0 , gzip ; q=0.5 ", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0, *", false},
		{"*", true},
		{"*;q=0", false},
		{"*;q=0, gzip;q=0.1", true},
		{"identity", false},
		{"br, deflate", false},
		{"gzip;q=abc", false},
		{"gzip;q=2", false},
		{"gzip;level=1", true},
		{"gzipx, xgzip", false},
	} {
		rec := serveGzip(e, "GET", "/big", tc.header)
		got := rec.Header().Get("Content-Encoding") == "gzip"
		if got != tc.want {
			t.Errorf("Accept-Encoding %q: compressed %v, want %v", tc.header, got, tc.want)
		}
		if got {
			gunzip(t, rec.Body.Bytes())
		}
		if !hasVary(rec.Header()) {
			t.Errorf("Accept-Encoding %q: no Vary", tc.header)
		}
	}
	// Several header lines are one list.
	req := httptest.NewRequest("GET", "/big", nil)
	req.Header.Add("Accept-Encoding", "br")
	req.Header.Add("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Error("gzip in a second Accept-Encoding line not honoured")
	}
}

func TestGzipLeavesNonJSONAlone(t *testing.T) {
	big := bytes.Repeat([]byte("abcdefgh"), 1000)
	e := gzipEngine(nil)
	e.GET("/video", func(c *gin.Context) { c.Data(http.StatusOK, "video/mp4", big) })
	e.GET("/text", func(c *gin.Context) { c.Data(http.StatusOK, "text/plain; charset=utf-8", big) })
	e.GET("/untyped", func(c *gin.Context) { _, _ = c.Writer.Write(big) })
	e.GET("/encoded", func(c *gin.Context) {
		c.Header("Content-Encoding", "br")
		c.Data(http.StatusOK, "application/json", big)
	})
	e.GET("/partial", func(c *gin.Context) {
		c.Header("Content-Range", fmt.Sprintf("bytes 0-%d/99999", len(big)-1))
		c.Data(http.StatusPartialContent, "application/json", big)
	})
	for _, path := range []string{"/video", "/text", "/untyped", "/encoded", "/partial"} {
		rec := serveGzip(e, "GET", path, "gzip")
		if ce := rec.Header().Get("Content-Encoding"); ce == "gzip" {
			t.Errorf("%s: compressed", path)
		}
		if !bytes.Equal(rec.Body.Bytes(), big) {
			t.Errorf("%s: body changed (%d bytes)", path, rec.Body.Len())
		}
		json := path == "/encoded" || path == "/partial"
		if hasVary(rec.Header()) != json {
			t.Errorf("%s: Vary %q", path, rec.Header().Values("Vary"))
		}
	}
}

// Many small writes that together pass the threshold are compressed, and a
// Flush in the middle of a compressed body keeps the stream valid.
func TestGzipManySmallWrites(t *testing.T) {
	var want bytes.Buffer
	want.WriteString("[")
	for i := range 300 {
		if i > 0 {
			want.WriteString(",")
		}
		fmt.Fprintf(&want, `{"n":%d}`, i)
	}
	want.WriteString("]")

	var obs seen
	var flushed []byte // what the client had after the Flush, decompressed
	rec := httptest.NewRecorder()
	e := gzipEngine(&obs)
	e.GET("/chunks", func(c *gin.Context) {
		c.Header("Content-Type", "application/json")
		b := want.Bytes()
		for i := 0; i < len(b); i += 7 {
			chunk := b[i:min(i+7, len(b))]
			if i%2 == 0 {
				_, _ = c.Writer.Write(chunk)
			} else {
				_, _ = c.Writer.WriteString(string(chunk))
			}
			if i == 2100 {
				c.Writer.Flush()
				if zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes())); err == nil {
					flushed, _ = io.ReadAll(zr) // ends in io.ErrUnexpectedEOF: the stream goes on
				}
			}
		}
	})
	req := httptest.NewRequest("GET", "/chunks", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	e.ServeHTTP(rec, req)
	if !rec.Flushed || !bytes.Equal(flushed, want.Bytes()[:2107]) {
		t.Errorf("after Flush the client had %q", flushed)
	}
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("not compressed: %v", rec.Header())
	}
	if got := gunzip(t, rec.Body.Bytes()); !bytes.Equal(got, want.Bytes()) {
		t.Errorf("decompressed %q", got)
	}
	if obs.status != http.StatusOK || obs.size != rec.Body.Len() {
		t.Errorf("observed %+v, wire %d bytes", obs, rec.Body.Len())
	}

	// Exactly the threshold is not "over 1 KiB".
	e.GET("/exact", func(c *gin.Context) {
		c.Header("Content-Type", "application/json")
		for range testGzipMin / 4 {
			_, _ = c.Writer.WriteString("1234")
		}
	})
	rec = serveGzip(e, "GET", "/exact", "gzip")
	if rec.Header().Get("Content-Encoding") != "" || rec.Body.Len() != testGzipMin {
		t.Errorf("exactly %d bytes: Content-Encoding %q, %d bytes", testGzipMin, rec.Header().Get("Content-Encoding"), rec.Body.Len())
	}
}

// Inside the chain, Size counts the bytes the handler wrote, and Status the
// status it set, before anything reached the client.
func TestGzipWriterStatusAndSizeInside(t *testing.T) {
	e := gzipEngine(nil)
	var before, small, large, afterStatus, finalStatus int
	var writtenBefore bool
	e.GET("/", func(c *gin.Context) {
		writtenBefore = c.Writer.Written()
		before = c.Writer.Size()
		c.Header("Content-Type", "application/json")
		c.Status(http.StatusAccepted)
		afterStatus = c.Writer.Status()
		_, _ = c.Writer.WriteString("[")
		small = c.Writer.Size()
		_, _ = c.Writer.Write(bytes.Repeat([]byte("1,"), 1000))
		_, _ = c.Writer.WriteString("1]")
		large = c.Writer.Size()
		finalStatus = c.Writer.Status()
	})
	rec := serveGzip(e, "GET", "/", "gzip")
	if rec.Code != http.StatusAccepted || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	if writtenBefore || before != -1 || afterStatus != http.StatusAccepted || finalStatus != http.StatusAccepted || small != 1 || large != 2003 {
		t.Errorf("written %v, sizes %d %d %d, status %d then %d", writtenBefore, before, small, large, afterStatus, finalStatus)
	}
}

func TestGzipNoBody(t *testing.T) {
	var obs seen
	e := gzipEngine(&obs)
	e.GET("/nocontent", func(c *gin.Context) { c.JSON(http.StatusNoContent, bigList()) })
	e.GET("/notmodified", func(c *gin.Context) {
		c.Header("Content-Type", "application/json")
		c.Status(http.StatusNotModified)
	})
	e.HEAD("/big", func(c *gin.Context) { c.JSON(http.StatusOK, bigList()) })
	e.GET("/nothing", func(*gin.Context) {})
	e.GET("/status-only", func(c *gin.Context) { c.Writer.WriteHeader(http.StatusAccepted) })
	e.GET("/abort", func(c *gin.Context) { c.AbortWithStatus(http.StatusForbidden) })

	for _, tc := range []struct {
		method, path string
		status       int
		vary         bool
	}{
		{"GET", "/nocontent", http.StatusNoContent, true},
		{"GET", "/notmodified", http.StatusNotModified, true},
		{"HEAD", "/big", http.StatusOK, true},
		{"GET", "/nothing", http.StatusOK, false},
		{"GET", "/status-only", http.StatusAccepted, false},
		{"GET", "/abort", http.StatusForbidden, false},
	} {
		rec := serveGzip(e, tc.method, tc.path, "gzip")
		if rec.Code != tc.status || rec.Header().Get("Content-Encoding") != "" {
			t.Errorf("%s %s: status %d, Content-Encoding %q", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Encoding"))
		}
		if tc.method == "GET" && rec.Body.Len() != 0 {
			t.Errorf("%s: body %q", tc.path, rec.Body)
		}
		if hasVary(rec.Header()) != tc.vary {
			t.Errorf("%s %s: Vary %q", tc.method, tc.path, rec.Header().Values("Vary"))
		}
		if obs.status != tc.status {
			t.Errorf("%s %s: observed status %d", tc.method, tc.path, obs.status)
		}
	}
}

// Server-Sent Events pass uncompressed, and every event reaches the client
// while the handler is still running: the handler waits for the client to
// have read an event before it writes the next one.
func TestGzipPassesEventStreams(t *testing.T) {
	const events = 4
	ack := make(chan struct{})
	done := make(chan seen, 1)
	deadlineErr := make(chan error, 1)
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(func(c *gin.Context) {
		c.Next()
		done <- seen{status: c.Writer.Status(), size: c.Writer.Size()}
	}, gzipJSON(testGzipMin))
	e.GET("/events", func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		// Reaching the connection through Unwrap.
		deadlineErr <- rc.SetWriteDeadline(time.Now().Add(time.Minute))
		c.Header("Content-Type", "text/event-stream")
		c.Status(http.StatusOK)
		data := strings.Repeat("x", 1500) // each event alone is over the threshold
		for i := range events {
			if _, err := fmt.Fprintf(c.Writer, "event: n\ndata: %d %s\n\n", i, data); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-ack:
			case <-c.Request.Context().Done():
				return
			}
		}
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
	// Set by hand, so that the transport does not decompress behind our back.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("headers %v", resp.Header)
	}
	if err := <-deadlineErr; err != nil {
		t.Errorf("SetWriteDeadline through the wrapper: %v", err)
	}

	lines := make(chan string)
	go func() {
		defer close(lines)
		br := bufio.NewReader(resp.Body)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()
	total := 0
	for i := range events {
		want := fmt.Sprintf("data: %d ", i)
		for {
			var l string
			var ok bool
			select {
			case l, ok = <-lines:
			case <-time.After(10 * time.Second):
				t.Fatalf("event %d not delivered while the handler waits: buffered", i)
			}
			if !ok {
				t.Fatalf("stream ended before event %d", i)
			}
			total += len(l)
			if strings.HasPrefix(l, want) {
				break
			}
		}
		// The blank line that ends the event.
		if l := <-lines; l != "\n" {
			t.Fatalf("event %d ends with %q", i, l)
		}
		total++
		ack <- struct{}{}
	}
	if _, ok := <-lines; ok {
		t.Error("data after the last event")
	}
	obs := <-done
	if obs.status != http.StatusOK || obs.size != total {
		t.Errorf("observed %+v, client read %d bytes", obs, total)
	}
}

// A JSON handler that flushes before reaching the threshold is sent as it is.
func TestGzipFlushBeforeThreshold(t *testing.T) {
	e := gzipEngine(nil)
	e.GET("/", func(c *gin.Context) {
		c.Header("Content-Type", "application/json")
		_, _ = c.Writer.WriteString(`{"a":"`)
		c.Writer.Flush()
		_, _ = c.Writer.WriteString(strings.Repeat("b", 2000) + `"}`)
	})
	rec := serveGzip(e, "GET", "/", "gzip")
	if rec.Header().Get("Content-Encoding") != "" || !hasVary(rec.Header()) || rec.Body.Len() != 2008 || !rec.Flushed {
		t.Errorf("headers %v, %d bytes, flushed %v", rec.Header(), rec.Body.Len(), rec.Flushed)
	}
}

func TestGzipHijack(t *testing.T) {
	e := gzipEngine(nil)
	e.GET("/raw", func(c *gin.Context) {
		conn, brw, err := http.NewResponseController(c.Writer).Hijack()
		if err != nil {
			c.String(http.StatusInternalServerError, "hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nraw")
		_ = brw.Flush()
	})
	var hijackErr error
	e.GET("/late", func(c *gin.Context) {
		c.Header("Content-Type", "application/json")
		_, _ = c.Writer.WriteString("[1]")
		_, _, hijackErr = c.Writer.Hijack()
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/raw", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "raw" {
		t.Errorf("hijacked response %d %q", resp.StatusCode, body)
	}

	rec := serveGzip(e, "GET", "/late", "gzip")
	if hijackErr == nil || rec.Body.String() != "[1]" {
		t.Errorf("hijack after the body: err %v, body %q", hijackErr, rec.Body)
	}
}

// A panic before anything was sent drops the held-back body, so that
// recovery can answer with the JSON error.
func TestGzipPanicLeavesRecoveryTheAnswer(t *testing.T) {
	s := testServer(io.Discard)
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(s.recovery(), gzipJSON(testGzipMin))
	e.GET("/boom", func(c *gin.Context) {
		c.Header("Content-Type", "application/json")
		_, _ = c.Writer.WriteString(`{"partial":`)
		panic("boom")
	})
	rec := serveGzip(e, "GET", "/boom", "gzip")
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if rec.Code != http.StatusInternalServerError || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code != "internal" {
		t.Errorf("status %d, body %q", rec.Code, rec.Body)
	}
}

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                 true,
		"application/json; charset=utf-8":  true,
		"Application/JSON ;charset=UTF-8":  true,
		"application/problem+json":         true,
		"application/jsonp":                false,
		"text/json":                        false,
		"video/mp4":                        false,
		"application/vnd.apple.mpegurl":    false,
		"text/event-stream":                false,
		"":                                 false,
		"application/x-ndjson":             false,
		"application/json-seq":             false,
		"multipart/form-data; boundary=xy": false,
	} {
		if isJSON(ct) != want {
			t.Errorf("isJSON(%q) = %v", ct, !want)
		}
	}
}
