package douyin

import (
	"bytes"
	"context"
	"encoding/json"
	"math/bits"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/reel-video/reel"
)

// conversation is a SocialService holding one conversation, for
// messagesAfter; it counts the reads.
type conversation struct {
	reel.SocialService
	messages []*reel.Message // by id
	reads    int
}

func (s *conversation) Conversation(_ context.Context, _, _, afterID int64) ([]*reel.Message, error) {
	s.reads++
	i, _ := slices.BinarySearchFunc(s.messages, afterID+1, func(m *reel.Message, id int64) int { return int(m.ID - id) })
	return slices.Clone(s.messages[i:min(len(s.messages), i+reel.MaxMessagesPage)]), nil
}

func (s *conversation) LatestMessages(_ context.Context, _ int64, others []int64) (map[int64]*reel.Message, error) {
	s.reads++
	latest := map[int64]*reel.Message{}
	if len(s.messages) > 0 {
		latest[others[0]] = s.messages[len(s.messages)-1]
	}
	return latest, nil
}

// messagesAfter answers, for every point in a long conversation, a page
// that starts exactly at the first newer message, in a number of reads that
// grows with the logarithm of the ids, not with the conversation.
func TestMessagesAfter(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	for _, n := range []int{0, 1, 99, 100, 101, 1000} {
		s := &conversation{}
		for i := range n {
			// Other conversations take ids in between; some messages share
			// a millisecond.
			s.messages = append(s.messages, &reel.Message{ID: int64(7*i + 3), CreatedAt: base.Add(time.Duration(i/2) * time.Millisecond).Add(300 * time.Microsecond)})
		}
		maxReads := 3 + bits.Len64(uint64(7*n+3))
		for afterMS := base.UnixMilli() - 1; afterMS <= base.UnixMilli()+int64(n/2)+1; afterMS++ {
			var want []*reel.Message
			for _, m := range s.messages {
				if m.CreatedAt.UnixMilli() > afterMS && len(want) < reel.MaxMessagesPage {
					want = append(want, m)
				}
			}
			s.reads = 0
			got, err := messagesAfter(t.Context(), s, 1, 2, afterMS)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) > 0 && len(got) == 0 || len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
				t.Fatalf("%d messages, after %d: got %d starting %v, want %d", n, afterMS, len(got), ids(got), len(want))
			}
			if s.reads > maxReads {
				t.Errorf("%d messages, after %d: %d reads, want at most %d", n, afterMS, s.reads, maxReads)
			}
		}
		if got, _ := messagesAfter(t.Context(), s, 1, 2, 0); len(got) != min(n, reel.MaxMessagesPage) {
			t.Errorf("%d messages: the whole history answers %d", n, len(got))
		}
	}
}

func ids(ms []*reel.Message) []int64 {
	out := []int64{}
	for _, m := range ms[:min(3, len(ms))] {
		out = append(out, m.ID)
	}
	return out
}

// Parameters come from the query or the form, urlencoded or multipart; the
// form wins; the time parameters take seconds or milliseconds.
func TestParameters(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	a := newAPI(Deps{MaxFormBytes: 1 << 10})
	e := gin.New()
	e.POST("/p", a.handle(func(c *gin.Context) (any, error) {
		ms, sec, err := timeParam(c, "latest_time")
		if err != nil {
			return nil, err
		}
		return gin.H{"token": param(c, "token"), "title": param(c, "title"), "ms": ms, "sec": sec}, nil
	}))
	call := func(query, contentType string, body []byte) map[string]any {
		t.Helper()
		req := httptest.NewRequest("POST", "/p?"+query, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	m := call("token=q&title=t&latest_time=1700000000", "application/x-www-form-urlencoded", []byte("token=f&title="))
	if m["token"] != "f" || m["title"] != "t" || m["ms"] != 1700000000000.0 || m["sec"] != true {
		t.Errorf("urlencoded: %v", m)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("token", "f")
	mw.WriteField("latest_time", "1700000000123")
	mw.Close()
	m = call("token=q", mw.FormDataContentType(), body.Bytes())
	if m["token"] != "f" || m["ms"] != 1700000000123.0 || m["sec"] != false {
		t.Errorf("multipart: %v", m)
	}
	for _, bad := range []string{"latest_time=abc", "latest_time=-1", "latest_time=1.5", "%zz"} {
		if m := call(bad, "", nil); m["status_code"] != float64(CodeBadParam) {
			t.Errorf("%s: %v", bad, m)
		}
	}
	if m := call("", "application/x-www-form-urlencoded", []byte("title="+strings.Repeat("x", 2<<10))); m["status_code"] != float64(CodeTooLarge) {
		t.Errorf("oversized form: %v", m)
	}
}
