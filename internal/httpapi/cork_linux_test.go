package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gin-gonic/gin"
)

// corkState reads TCP_CORK on the connection of c; -1 when it cannot.
func corkState(c *gin.Context) int {
	conn, _ := c.Request.Context().Value(connKey{}).(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if conn == nil {
		return -1
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1
	}
	v := -1
	_ = raw.Control(func(fd uintptr) {
		if n, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK); err == nil {
			v = n
		}
	})
	return v
}

// TestLargeAnswersCorked: through the server NewHTTPServer makes, a large
// JSON answer is written with the socket corked and leaves it uncorked,
// whole and with its length; a small one and a compressed one are not
// corked; and every answer on the one keep-alive connection arrives.
func TestLargeAnswersCorked(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	large := []byte(`{"videos":"` + strings.Repeat("0123456789abcdef", 4<<10) + `"}`) // 64 KiB
	small := []byte(`{"videos":[]}`)
	type seen struct{ during, after int }
	seenCh := make(chan seen, 1)
	e := gin.New()
	// Under gzipJSON, as in the API's chain: sees the cork at the first
	// write of the body.
	e.Use(func(c *gin.Context) {
		p := &corkProbe{ResponseWriter: c.Writer, c: c, during: -2}
		c.Writer = p
		c.Next()
		seenCh <- seen{during: p.during, after: corkState(c)}
	})
	e.Use(gzipJSON(gzipMinSize))
	answer := func(body []byte) gin.HandlerFunc {
		return func(c *gin.Context) { writeBody(c, body) }
	}
	e.GET("/large", answer(large))
	e.GET("/small", answer(small))
	srv := httptest.NewUnstartedServer(e)
	srv.Config = NewHTTPServer("", e, ServerOptions{})
	srv.Start()
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxConnsPerHost = 1 // one keep-alive connection
	client.Transport.(*http.Transport).DisableCompression = true

	for i, tc := range []struct {
		path       string
		gzip       bool
		want       []byte
		corkDuring int
	}{
		{"/large", false, large, 1},
		{"/small", false, small, 0},
		{"/large", false, large, 1},
		{"/large", true, large, 0}, // compressed: not corked
		{"/small", false, small, 0},
		{"/large", false, large, 1},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		if tc.gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%d %s: %v", i, tc.path, err)
		}
		var r io.Reader = resp.Body
		if tc.gzip {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%d %s: not compressed", i, tc.path)
			}
			if r, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		} else if n, _ := strconv.Atoi(resp.Header.Get("Content-Length")); n != len(tc.want) {
			t.Errorf("%d %s: Content-Length %q, want %d", i, tc.path, resp.Header.Get("Content-Length"), len(tc.want))
		}
		got, err := io.ReadAll(r)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Fatalf("%d %s: %d bytes (%v), want the %d written", i, tc.path, len(got), err, len(tc.want))
		}
		s := <-seenCh
		if s.during != tc.corkDuring {
			t.Errorf("%d %s: TCP_CORK %d while writing, want %d", i, tc.path, s.during, tc.corkDuring)
		}
		if s.after != 0 {
			t.Errorf("%d %s: TCP_CORK %d after the answer, want 0", i, tc.path, s.after)
		}
	}
}

// corkProbe records TCP_CORK at the first body write that reaches it.
type corkProbe struct {
	gin.ResponseWriter
	c      *gin.Context
	during int // -2 until a write
}

func (p *corkProbe) Write(b []byte) (int, error) {
	if p.during == -2 {
		p.during = corkState(p.c)
	}
	return p.ResponseWriter.Write(b)
}

func (p *corkProbe) WriteString(s string) (int, error) { return p.Write([]byte(s)) }
