package playback

import (
	"strings"
	"testing"
	"time"

	"github.com/reel-video/reel/internal/blob"
)

// FuzzVerify feeds arbitrary request targets to Verify. Whatever it gets,
// Verify must not panic, and it may only accept a URL that SignPath produced:
// exactly one of the object URLs below, or a path strictly under one of the
// signed prefixes with that prefix's token.
func FuzzVerify(f *testing.F) {
	clock := t0.Add(time.Minute)
	s := newTestSigner(secretNew, secretOld, &clock)
	old := newTestSigner(secretOld, nil, &clock)
	const remote = "192.0.2.1:1234"
	bind := WithClientIP("192.0.2.1")

	objects := []string{
		s.SignPath("/media/videos/42/cover.jpg"),
		s.SignPath("/media/videos/42/video.mp4", bind),
		old.SignPath("/media/videos/42/cover.webp"),
	}
	type grant struct{ base, dir string } // base is /media/s/<token>/
	var prefixes []grant
	for _, p := range []struct {
		signer *Signer
		prefix string
		opts   []SignOption
	}{
		{s, "/media/videos/42/hls/", nil},
		{s, "/media/videos/7/", []SignOption{bind}},
		{old, "/media/videos/9/hls/", nil},
	} {
		u := p.signer.SignPath(p.prefix+"master.m3u8", append(p.opts, WithPrefix(p.prefix))...)
		base := u[:len(Mount+prefixed)+strings.Index(u[len(Mount+prefixed):], "/")+1]
		prefixes = append(prefixes, grant{base: base, dir: strings.TrimPrefix(p.prefix, Mount)})
		f.Add(u)
		f.Add(base + p.prefix[len(Mount):] + "720p/seg_00001.m4s")
		f.Add(base + p.prefix[len(Mount):] + "../cover.jpg")
		f.Add(base + p.prefix[len(Mount):] + "%2e%2e/cover.jpg")
	}
	for _, u := range objects {
		f.Add(u)
		f.Add(strings.Replace(u, "42", "420", 1))
		f.Add(strings.Replace(u, "/42/", "/42//", 1))
		f.Add(u + "&sig=x")
	}
	f.Add("/media/videos/42/cover.jpg")
	f.Add("/media/s/")
	f.Add("/media/s/x.1.1.x/a/b")
	f.Add("/media/videos%2f42/cover.jpg?exp=1&kid=00000000&sig=")

	f.Fuzz(func(t *testing.T, target string) {
		r := parseRequest(target, remote)
		if r == nil {
			return
		}
		key, err := s.Verify(r)
		if err != nil {
			if key != "" {
				t.Fatalf("Verify(%q) returned key %q with error %v", target, key, err)
			}
			return
		}
		if blob.ValidKey(key) != nil {
			t.Fatalf("Verify(%q) granted the invalid key %q", target, key)
		}
		got := r.URL.Path
		if r.URL.RawQuery != "" {
			got += "?" + r.URL.RawQuery
		}
		for _, u := range objects {
			if got == u && key == strings.TrimPrefix(r.URL.Path, Mount) {
				return
			}
		}
		for _, g := range prefixes {
			if r.URL.RawQuery == "" && got == g.base+key && strings.HasPrefix(key, g.dir) && len(key) > len(g.dir) {
				return
			}
		}
		t.Fatalf("Verify(%q) accepted a URL that was never signed (key %q)", target, key)
	})
}
