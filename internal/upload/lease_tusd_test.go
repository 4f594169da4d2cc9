package upload

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/reel-video/reel/internal/sqlstore/sqltest"
	"github.com/reel-video/reel/internal/testwait"
)

// tusd on two nodes with lease lockers on one database (and, here, one
// upload directory): a PATCH that stalls on node A is stopped when node B
// asks for the upload, and the client resumes on node B from the offset
// that B's HEAD reports.
func TestLeaseLockerTusdAcrossNodes(t *testing.T) {
	sqltest.Engines(t, func(t *testing.T, url string) {
		dir := t.TempDir()
		db := sqltest.OpenDB(t, url)
		node := func() *httptest.Server {
			// The store and the locker as NewTus composes them: the disk
			// area's store, and the lease locker behind the write gate.
			area, err := NewDiskArea(dir)
			if err != nil {
				t.Fatal(err)
			}
			composer := handler.NewStoreComposer()
			composeStore(composer, area.store())
			composer.UseLocker(gated(NewLeaseLocker(sqltest.OpenDB(t, url), LeaseOptions{Renew: 50 * time.Millisecond, Poll: 10 * time.Millisecond})))
			h, err := handler.NewHandler(handler.Config{BasePath: "/files/", StoreComposer: composer,
				Logger: expslog.New(expslog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, withWriteGate(r)) })
			s := httptest.NewServer(http.StripPrefix("/files/", gate))
			t.Cleanup(s.Close)
			return s
		}
		a, b := node(), node()
		data := bytes.Repeat([]byte("0123456789"), 10)
		do := func(method, url string, body io.Reader, headers ...string) *http.Response {
			t.Helper()
			req, err := http.NewRequestWithContext(t.Context(), method, url, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Tus-Resumable", "1.0.0")
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, url, err)
			}
			resp.Body.Close()
			return resp
		}

		resp := do("POST", a.URL+"/files/", nil, "Upload-Length", strconv.Itoa(len(data)))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create: %s", resp.Status)
		}
		loc := resp.Header.Get("Location")
		id := path.Base(loc)

		// A PATCH on node A that sends a part and then stalls, holding the lock.
		pr, pw := io.Pipe()
		defer pw.Close()
		patched := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("PATCH", a.URL+"/files/"+id, pr)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			req.ContentLength = int64(len(data))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				patched <- -1
				return
			}
			resp.Body.Close()
			patched <- resp.StatusCode
		}()
		if _, err := pw.Write(data[:30]); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "node A's PATCH to take a lease", 30*time.Second, 10*time.Millisecond, func() bool {
			var n int
			if err := db.SQL().QueryRowContext(t.Context(), "SELECT count(*) FROM upload_locks WHERE id = "+firstParam(db.Engine()), id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 1
		})

		// The client gives up on node A and asks node B where it stands.
		resp = do("HEAD", b.URL+"/files/"+id, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD on node B while node A's PATCH stalls: %s", resp.Status)
		}
		select {
		case code := <-patched:
			if code == http.StatusNoContent {
				t.Errorf("node A's stalled PATCH ended with %d, want it interrupted", code)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("node A's PATCH still runs after node B took the upload")
		}
		offset, err := strconv.Atoi(resp.Header.Get("Upload-Offset"))
		if err != nil || offset > 30 {
			t.Fatalf("HEAD on node B: offset %q, want at most the 30 bytes sent", resp.Header.Get("Upload-Offset"))
		}
		resp = do("PATCH", b.URL+"/files/"+id, bytes.NewReader(data[offset:]),
			"Upload-Offset", strconv.Itoa(offset), "Content-Type", "application/offset+octet-stream")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
			t.Fatalf("resuming on node B: %s, offset %s", resp.Status, resp.Header.Get("Upload-Offset"))
		}
		if got, err := os.ReadFile(filepath.Join(dir, id)); err != nil || !bytes.Equal(got, data) {
			t.Errorf("the upload holds %q (%v), want %q", got, err, data)
		}
	})
}

func firstParam(engine string) string {
	if engine == "postgres" {
		return "$1"
	}
	return "?"
}
