package playback

import (
	"bufio"
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var (
	secretOld = []byte("previous-secret-previous-secret-0123456789")
	secretNew = []byte("current-secret-current-secret-current-0123")
	t0        = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

const ttl = time.Hour

// newTestSigner returns a Signer whose clock reads whatever *clock holds.
func newTestSigner(current, previous []byte, clock *time.Time) *Signer {
	s := NewSigner(current, previous, ttl)
	s.now = func() time.Time { return *clock }
	return s
}

// parseRequest reads target the way the HTTP server does, so tests see the
// same URL.Path and RawPath a real request would have. It returns nil when
// the server would have refused the request line itself.
func parseRequest(target, remote string) *http.Request {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: reel.test\r\n\r\n")))
	if err != nil {
		return nil
	}
	r.RemoteAddr = remote
	return r
}

const client = "203.0.113.7:41000"

func verify(s *Signer, target, remote string) (string, error) {
	r := parseRequest(target, remote)
	if r == nil {
		return "", errors.New("the server refuses this request line")
	}
	return s.Verify(r)
}

func TestSignVerify(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	hls := WithPrefix("/media/videos/42/hls/")
	for _, tc := range []struct {
		name, path string
		opts       []SignOption
		remote     string
		// tail, when set, replaces the signed key: another object under the prefix.
		tail, wantKey string
	}{
		{name: "cover", path: "/media/videos/42/cover.jpg", wantKey: "videos/42/cover.jpg"},
		{name: "mp4 bound to IPv4", path: "/media/videos/42/video.mp4", opts: []SignOption{WithClientIP("203.0.113.7")}, wantKey: "videos/42/video.mp4"},
		{name: "bound to IPv6", path: "/media/videos/42/video.mp4", opts: []SignOption{WithClientIP("2001:db8::1")}, remote: "[2001:db8::1]:443", wantKey: "videos/42/video.mp4"},
		{name: "master", path: "/media/videos/42/hls/master.m3u8", opts: []SignOption{hls}, wantKey: "videos/42/hls/master.m3u8"},
		{name: "segment under master", path: "/media/videos/42/hls/master.m3u8", opts: []SignOption{hls}, tail: "videos/42/hls/720p/seg_00001.m4s", wantKey: "videos/42/hls/720p/seg_00001.m4s"},
		{name: "prefix bound to IPv4", path: "/media/videos/42/hls/master.m3u8", opts: []SignOption{hls, WithClientIP("203.0.113.7")}, tail: "videos/42/hls/240p/init.mp4", wantKey: "videos/42/hls/240p/init.mp4"},
		{name: "video directory", path: "/media/videos/42/hls/master.m3u8", opts: []SignOption{WithPrefix("/media/videos/42/")}, tail: "videos/42/cover.webp", wantKey: "videos/42/cover.webp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := s.SignPath(tc.path, tc.opts...)
			if tc.tail != "" {
				u = u[:strings.Index(u, "/videos/")+1] + tc.tail
			}
			remote := cmp.Or(tc.remote, client)
			key, err := verify(s, u, remote)
			if err != nil || key != tc.wantKey {
				t.Fatalf("Verify(%s) = %q, %v; want %q", u, key, err, tc.wantKey)
			}
		})
	}
}

func TestURLShapes(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	obj := s.SignPath("/media/videos/42/cover.jpg")
	if !strings.HasPrefix(obj, "/media/videos/42/cover.jpg?exp=") || !strings.Contains(obj, "&kid="+s.currentKID+"&sig=") {
		t.Errorf("object URL %s", obj)
	}
	bound := s.SignPath("/media/videos/42/cover.jpg", WithClientIP("2001:db8::1"))
	if !strings.Contains(bound, "&ip=2001%3Adb8%3A%3A1&") {
		t.Errorf("bound object URL %s", bound)
	}
	pfx := s.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/"), WithClientIP("203.0.113.7"))
	want := "/media/s/" + s.currentKID + "." // kid.exp.3.cb007107.sig
	if !strings.HasPrefix(pfx, want) || !strings.Contains(pfx, ".3.cb007107.") || !strings.HasSuffix(pfx, "/videos/42/hls/master.m3u8") {
		t.Errorf("prefix URL %s", pfx)
	}
	if len(s.currentKID) != 8 {
		t.Errorf("kid %q is not 8 hex characters", s.currentKID)
	}
}

func TestExpiry(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	for _, u := range []string{
		s.SignPath("/media/videos/42/cover.jpg"),
		s.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/")),
	} {
		exp := expOf(t, u)
		if lo, hi := t0.Add(ttl), t0.Add(ttl*5/4); exp.Before(lo) || exp.After(hi) {
			t.Errorf("expiry %v outside [%v, %v]", exp, lo, hi)
		}
		for _, tc := range []struct {
			at      time.Time
			wantErr error
		}{
			{t0, nil},
			{exp.Add(-time.Second), nil},
			{exp, ErrExpired},
			{exp.Add(24 * time.Hour), ErrExpired},
		} {
			clock = tc.at
			_, err := verify(s, u, client)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Verify at exp%+v = %v, want %v", tc.at.Sub(exp), err, tc.wantErr)
			}
		}
		clock = t0
	}

	// Within one rounding window everyone gets the same URL, which caches share.
	clock = t0.Add(time.Minute)
	a := s.SignPath("/media/videos/42/cover.jpg")
	clock = t0.Add(2 * time.Minute)
	if b := s.SignPath("/media/videos/42/cover.jpg"); a != b {
		t.Errorf("a minute apart the URL changed:\n%s\n%s", a, b)
	}
}

func expOf(t *testing.T, signed string) time.Time {
	t.Helper()
	var raw string
	if rest, ok := strings.CutPrefix(signed, Mount+prefixed); ok {
		raw = strings.Split(rest, ".")[1]
	} else {
		u, err := url.Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		raw = u.Query().Get("exp")
	}
	exp, err := parseExp(raw)
	if err != nil {
		t.Fatalf("exp %q: %v", raw, err)
	}
	return time.Unix(exp, 0)
}

// TestTamper changes, one at a time, every character of every part a
// signature vouches for, and deletes each one: none of the results may pass.
func TestTamper(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, secretOld, &clock)
	hls := WithPrefix("/media/videos/42/hls/")
	ip := WithClientIP("203.0.113.7")
	for _, tc := range []struct {
		name   string
		signed string
		// free is where the part no signature covers begins: the rest of a
		// path under a signed prefix.
		free int
	}{
		{name: "object", signed: s.SignPath("/media/videos/42/cover.jpg")},
		{name: "object bound", signed: s.SignPath("/media/videos/42/cover.jpg", ip)},
		{name: "prefix", signed: s.SignPath("/media/videos/42/hls/master.m3u8", hls)},
		{name: "prefix bound", signed: s.SignPath("/media/videos/42/hls/master.m3u8", hls, ip)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := verify(s, tc.signed, client); err != nil {
				t.Fatalf("the untouched URL fails: %v", err)
			}
			end := len(tc.signed)
			if strings.HasPrefix(tc.signed, Mount+prefixed) {
				end = strings.LastIndex(tc.signed, "/") + 1
			}
			tried := 0
			for i := range end {
				for _, c := range replacements(tc.signed[i]) {
					u := tc.signed[:i] + string(c) + tc.signed[i+1:]
					tried++
					if key, err := verify(s, u, client); err == nil {
						t.Errorf("position %d %q→%q accepted (key %q): %s", i, tc.signed[i], c, key, u)
					}
				}
				u := tc.signed[:i] + tc.signed[i+1:]
				if key, err := verify(s, u, client); err == nil {
					t.Errorf("deleting position %d accepted (key %q): %s", i, key, u)
				}
			}
			if tried < 1000 {
				t.Errorf("only %d variants tried", tried)
			}
		})
	}
}

// replacements are characters to put in place of c: neighbours, case
// changes, and every character with a meaning in a URL.
func replacements(c byte) []byte {
	var out []byte
	for _, r := range []byte{c + 1, c - 1, c ^ 0x20, '0', 'a', 'A', 'f', 'z', '-', '_', '.', '~', '/', '\\', '%', '?', '&', '=', '+', ';', '#', ':'} {
		if r != c && r > ' ' && r < 0x7f {
			out = append(out, r)
		}
	}
	return out
}

func TestKeyIDs(t *testing.T) {
	clock := t0
	a := newTestSigner(secretNew, nil, &clock)
	stranger := newTestSigner([]byte("someone-elses-secret-someone-elses-0123"), nil, &clock)
	u := stranger.SignPath("/media/videos/42/cover.jpg")
	if _, err := verify(a, u, client); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "unknown key id") {
		t.Errorf("URL from another secret: %v", err)
	}
	// The stranger's signature under our key id is simply wrong.
	forged := strings.Replace(u, "kid="+stranger.currentKID, "kid="+a.currentKID, 1)
	if _, err := verify(a, forged, client); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "signature mismatch") {
		t.Errorf("foreign signature under our kid: %v", err)
	}
	for _, q := range []string{"", "?exp=1&kid=&sig=", "?kid=" + a.currentKID} {
		if _, err := verify(a, "/media/videos/42/cover.jpg"+q, client); !errors.Is(err, ErrInvalid) {
			t.Errorf("query %q: %v", q, err)
		}
	}
}

func TestRotation(t *testing.T) {
	clock := t0
	before := newTestSigner(secretOld, nil, &clock)
	during := newTestSigner(secretNew, secretOld, &clock)
	after := newTestSigner(secretNew, nil, &clock)
	for _, old := range []string{
		before.SignPath("/media/videos/42/cover.jpg"),
		before.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/")),
	} {
		if _, err := verify(during, old, client); err != nil {
			t.Errorf("an old URL fails while the previous secret is configured: %v", err)
		}
		if _, err := verify(after, old, client); !errors.Is(err, ErrInvalid) {
			t.Errorf("an old URL passes after the previous secret was dropped: %v", err)
		}
	}
	fresh := during.SignPath("/media/videos/42/cover.jpg")
	if !strings.Contains(fresh, "kid="+after.currentKID) {
		t.Errorf("new URLs must be signed with the current secret: %s", fresh)
	}
	if _, err := verify(after, fresh, client); err != nil {
		t.Errorf("a URL signed during rotation fails after it: %v", err)
	}
	if _, err := verify(before, fresh, client); !errors.Is(err, ErrInvalid) {
		t.Errorf("a node still on the old secret accepts the new one: %v", err)
	}
}

func TestPrefixEscapes(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	master := s.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls/"))
	base := master[:strings.Index(master, "/videos/")] // /media/s/<token>
	object := s.SignPath("/media/videos/42/cover.jpg")
	query := object[strings.Index(object, "?"):]
	for _, u := range []string{
		base + "/videos/42/hls/../cover.jpg",
		base + "/videos/42/hls/720p/../../cover.jpg",
		base + "/videos/42/hls/%2e%2e/cover.jpg",
		base + "/videos/42/hls/%2E%2E/cover.jpg",
		base + "/videos/42/hls/.%2e/cover.jpg",
		base + "/videos/42/hls%2F..%2Fcover.jpg",
		base + "/videos/42/hls/..%2fcover.jpg",
		base + "/videos/42/hls/%6Daster.m3u8",
		base + "/videos/42/hls//720p/seg_00001.m4s",
		base + "/videos/42/hls/./master.m3u8",
		base + "/videos/42/hls/720p\\..\\..\\cover.jpg",
		base + "/videos/42/hls\\master.m3u8",
		base + "/videos/420/hls/master.m3u8",
		base + "/videos/42/hlsx/master.m3u8",
		base + "/videos/42/hls",
		base + "/videos/42/hls/",
		base + "/videos/42/cover.jpg",
		base + "//videos/42/hls/master.m3u8",
		base + "/videos/42/hls/master.m3u8?x=1",
		base + "/videos/42/hls/master.m3u8?",
		base + "/videos/42/hls/master%20.m3u8",
		"/media/./s/" + strings.TrimPrefix(master, "/media/s/"),
		"/media//s/" + strings.TrimPrefix(master, "/media/s/"),
		"/x/../media/videos/42/cover.jpg" + query,
		"/media/videos/42/../42/cover.jpg" + query,
		"/media/videos//42/cover.jpg" + query,
		"/media/videos/42/cover.jpg/" + query,
		"/media/videos%2F42/cover.jpg" + query,
		"/media/videos/42/cover%2Ejpg" + query,
		"/media/videos/420/cover.jpg" + query,
		"/media/videos/42/cover.jpg" + query + "&x=1",
		"/media/videos/42/cover.jpg" + query + "&sig=x",
		"/media/videos/42/cover.jpg" + strings.Replace(query, "&", ";", 1),
		"http://evil.test/media/videos/42/cover.jpg" + strings.Replace(query, "kid", "k%69d", 1),
	} {
		if key, err := verify(s, u, client); err == nil {
			t.Errorf("accepted %s as %q", u, key)
		}
	}
	// Control: the same tricks without the trick pass.
	for _, u := range []string{base + "/videos/42/hls/720p/seg_00001.m4s", object, "http://reel.test" + object} {
		if _, err := verify(s, u, client); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestClientIP(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	for _, tc := range []struct {
		bound, remote string
		ok            bool
	}{
		{"203.0.113.7", "203.0.113.7:5555", true},
		{"203.0.113.7", "203.0.113.7", true}, // a proxy middleware that sets a bare address
		{"203.0.113.7", "[::ffff:203.0.113.7]:5555", true},
		{"::ffff:203.0.113.7", "203.0.113.7:5555", true},
		{"2001:db8::1", "[2001:db8::1]:5555", true},
		{"203.0.113.7", "203.0.113.8:5555", false},
		{"203.0.113.7", "198.51.100.7:5555", false},
		{"2001:db8::1", "[2001:db8::2]:5555", false},
		{"203.0.113.7", "", false},
		{"203.0.113.7", "not an address", false},
	} {
		for _, opts := range [][]SignOption{
			{WithClientIP(tc.bound)},
			{WithClientIP(tc.bound), WithPrefix("/media/videos/42/")},
		} {
			u := s.SignPath("/media/videos/42/video.mp4", opts...)
			_, err := verify(s, u, tc.remote)
			if (err == nil) != tc.ok {
				t.Errorf("bound to %s, from %q: %v (want ok=%v) %s", tc.bound, tc.remote, err, tc.ok, u)
			}
		}
	}
	u := s.SignPath("/media/videos/42/video.mp4", WithClientIP("203.0.113.7"))
	unbound := strings.Replace(u, "&ip=203.0.113.7", "", 1)
	if _, err := verify(s, unbound, "198.51.100.7:1"); err == nil {
		t.Errorf("dropping ip= unbinds the URL")
	}
}

func TestSignPathRefusesMistakes(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	for _, tc := range []struct {
		name string
		sign func()
	}{
		{"outside mount", func() { s.SignPath("/api/v1/me") }},
		{"relative", func() { s.SignPath("media/videos/42/cover.jpg") }},
		{"dot dot", func() { s.SignPath("/media/videos/../secret") }},
		{"trailing slash", func() { s.SignPath("/media/videos/42/") }},
		{"needs escaping", func() { s.SignPath("/media/videos/42/my cover.jpg") }},
		{"reserved s/", func() { s.SignPath("/media/s/x") }},
		{"prefix without slash", func() {
			s.SignPath("/media/videos/42/hls/master.m3u8", WithPrefix("/media/videos/42/hls"))
		}},
		{"prefix not holding the path", func() {
			s.SignPath("/media/videos/420/hls/master.m3u8", WithPrefix("/media/videos/42/"))
		}},
		{"prefix of everything", func() { s.SignPath("/media/videos/42/cover.jpg", WithPrefix("/media/")) }},
		{"prefix outside mount", func() { s.SignPath("/media/videos/42/cover.jpg", WithPrefix("/")) }},
		{"bad ip", func() { WithClientIP("203.0.113.7:80") }},
		{"empty ip", func() { WithClientIP("") }},
		{"empty secret", func() { NewSigner(nil, nil, ttl) }},
		{"zero ttl", func() { NewSigner(secretNew, nil, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			tc.sign()
		})
	}
}

// TestGenerations: a URL signed for a media generation carries it, verifies
// with it, and cannot be rewritten to another generation or spelling.
func TestGenerations(t *testing.T) {
	clock := t0
	s := newTestSigner(secretNew, nil, &clock)
	for _, opts := range [][]SignOption{
		{WithGeneration(7)},
		{WithGeneration(7), WithPrefix("/media/videos/42/")},
		{WithGeneration(7), WithClientIP("203.0.113.7")},
		{WithGeneration(7), WithClientIP("203.0.113.7"), WithPrefix("/media/videos/42/")},
	} {
		signed := s.SignPath("/media/videos/42/play.mp4", opts...)
		r := parseRequest(signed, client)
		g, err := s.verify(r)
		if err != nil || g.Key != "videos/42/play.mp4" || g.Generation != 7 {
			t.Fatalf("%s: %+v %v", signed, g, err)
		}
		var forged []string
		if strings.Contains(signed, "&gen=7") {
			for _, spelling := range []string{"&gen=8", "&gen=6", "&gen=07", "&gen=+7", "&gen=0", ""} {
				forged = append(forged, strings.Replace(signed, "&gen=7", spelling, 1))
			}
		} else {
			for _, spelling := range []string{".g8.", ".g6.", ".g07.", ".g+7.", ".g0.", ".", ".g7.g7.", ".G7."} {
				forged = append(forged, strings.Replace(signed, ".g7.", spelling, 1))
			}
		}
		for _, f := range forged {
			if _, err := verify(s, f, client); !errors.Is(err, ErrInvalid) {
				t.Errorf("forged generation %s: %v, want ErrInvalid", f, err)
			}
		}
	}
	// Generation 0 is the URL of before generations existed.
	if a, b := s.SignPath("/media/videos/42/play.mp4", WithGeneration(0)), s.SignPath("/media/videos/42/play.mp4"); a != b || strings.Contains(a, "gen") {
		t.Errorf("generation 0 changes the URL: %s vs %s", a, b)
	}
	if g, err := s.verify(parseRequest(s.SignPath("/media/videos/42/play.mp4"), client)); err != nil || g.Generation != 0 {
		t.Errorf("unversioned URL: %+v %v", g, err)
	}
}
