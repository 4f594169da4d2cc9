package captions

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reel-video/reel"
	"github.com/reel-video/reel/internal/blob"
)

// memStore keeps captions in memory, for the service's tests; video 1 is
// author 7's, lasting 5.25 s. (The store on both databases has its own
// tests in sqlstore.)
type memStore struct {
	mu       sync.Mutex
	captions map[string]reel.Caption
}

func (m *memStore) owner(videoID, actorID int64) error {
	switch {
	case videoID != 1:
		return reel.Errorf(reel.ENOTFOUND, "video %d not found", videoID)
	case actorID != 7:
		return reel.Errorf(reel.EFORBIDDEN, "not yours")
	}
	return nil
}

func (m *memStore) PutCaption(_ context.Context, videoID, actorID int64, c reel.Caption) (*reel.Caption, error) {
	if err := m.owner(videoID, actorID); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.captions[c.Lang]
	m.captions[c.Lang] = c
	if !ok {
		return nil, nil
	}
	return &old, nil
}

func (m *memStore) DeleteCaption(_ context.Context, videoID, actorID int64, lang string) (*reel.Caption, error) {
	if err := m.owner(videoID, actorID); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.captions[lang]
	delete(m.captions, lang)
	if !ok {
		return nil, nil
	}
	return &old, nil
}

func (m *memStore) ListCaptions(context.Context, int64) ([]reel.Caption, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var list []reel.Caption
	for _, c := range m.captions {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b reel.Caption) int { return strings.Compare(a.Lang, b.Lang) })
	return list, nil
}

func (m *memStore) FindVideoByID(_ context.Context, id, _ int64) (*reel.Video, error) {
	if id != 1 {
		return nil, reel.Errorf(reel.ENOTFOUND, "video %d not found", id)
	}
	return &reel.Video{ID: 1, AuthorID: 7, DurationMS: 5250}, nil
}

func (m *memStore) VideoForJob(ctx context.Context, id int64) (*reel.Video, error) {
	return m.FindVideoByID(ctx, id, 0)
}

func newService(t *testing.T) (*Service, *memStore) {
	t.Helper()
	blobs, err := blob.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &memStore{captions: map[string]reel.Caption{}}
	return &Service{Store: st, Blobs: blobs}, st
}

func (s *Service) get(t *testing.T, key string) string {
	t.Helper()
	obj, err := s.Blobs.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *Service) putFile(t *testing.T, key, body string) {
	t.Helper()
	if _, err := s.Blobs.Put(t.Context(), key, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
}

const srt = "1\n00:00:01,000 --> 00:00:02,000\nHello\n"

func TestPutPublishDelete(t *testing.T) {
	s, st := newService(t)
	ctx := t.Context()
	// No master yet (the video is processing): the caption is kept, and
	// publishing waits for the job.
	if err := s.Put(ctx, 1, 7, "pt-br", "", []byte(srt)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blobs.Stat(ctx, "videos/1/hls/master.m3u8"); err == nil {
		t.Fatal("Put wrote a master that did not exist")
	}
	s.putFile(t, "videos/1/hls/master.m3u8", masterAudio)
	s.putFile(t, "videos/1/hls/manifest.mpd", mpd)
	if err := s.Publish(ctx, 1); err != nil {
		t.Fatal(err)
	}
	first := st.captions["pt-BR"]
	if first.Label != "Português (Brasil)" || !strings.HasPrefix(first.Key, "videos/1/hls/captions/pt-BR.") {
		t.Fatalf("stored %+v", first)
	}
	if got := s.get(t, first.Key); !strings.HasPrefix(got, "WEBVTT\n") || !strings.Contains(got, "00:00:01.000 --> 00:00:02.000\nHello\n") {
		t.Errorf("stored file:\n%s", got)
	}
	rel := strings.TrimPrefix(first.Key, "videos/1/hls/")
	master := s.get(t, "videos/1/hls/master.m3u8")
	if !strings.Contains(master, `URI="`+strings.TrimSuffix(rel, ".vtt")+`.m3u8"`) || !strings.Contains(master, `AUDIO="audio",SUBTITLES="subs"`) {
		t.Errorf("master:\n%s", master)
	}
	if m := s.get(t, "videos/1/hls/manifest.mpd"); !strings.Contains(m, "<BaseURL>"+rel+"</BaseURL>") {
		t.Errorf("MPD:\n%s", m)
	}
	if p := s.get(t, playlistKey(first.Key)); !strings.Contains(p, "#EXT-X-TARGETDURATION:6\n") || !strings.Contains(p, "\n"+rel[len("captions/"):]+"\n") {
		t.Errorf("caption playlist:\n%s", p)
	}

	// A new upload of the language: new files, the old ones removed.
	if err := s.Put(ctx, 1, 7, "pt-BR", "Legendas", []byte("WEBVTT\n\n00:03.000 --> 00:04.000\nOlá\n")); err != nil {
		t.Fatal(err)
	}
	second := st.captions["pt-BR"]
	if second.Key == first.Key || second.Label != "Legendas" {
		t.Fatalf("replaced by %+v", second)
	}
	for _, key := range []string{first.Key, playlistKey(first.Key)} {
		if _, err := s.Blobs.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s of the replaced upload: %v", key, err)
		}
	}
	if master := s.get(t, "videos/1/hls/master.m3u8"); strings.Count(master, "TYPE=SUBTITLES") != 1 || !strings.Contains(master, `NAME="Legendas"`) {
		t.Errorf("master after the replacement:\n%s", master)
	}

	if err := s.Delete(ctx, 1, 7, "pt-BR"); err != nil {
		t.Fatal(err)
	}
	if master := s.get(t, "videos/1/hls/master.m3u8"); master != masterAudio {
		t.Errorf("master after the deletion:\n%s\nwant it as the job wrote it", master)
	}
	if m := s.get(t, "videos/1/hls/manifest.mpd"); m != mpd {
		t.Errorf("MPD after the deletion:\n%s", m)
	}
	if left, err := s.Blobs.List(ctx, reel.CaptionKeyPrefix(1)); err != nil || len(left) != 0 {
		t.Errorf("caption files left: %v, %v", left, err)
	}
	if err := s.Delete(ctx, 1, 7, "pt-BR"); err != nil {
		t.Errorf("deleting what is gone: %v", err)
	}

	for name, c := range map[string]struct {
		video, actor int64
		lang, body   string
		code         string
	}{
		"not the owner": {1, 8, "en", srt, reel.EFORBIDDEN},
		"no video":      {2, 7, "en", srt, reel.ENOTFOUND},
		"bad tag":       {1, 7, "english", srt, reel.EBADREQUEST},
		"bad file":      {1, 7, "en", "<html>", reel.EBADREQUEST},
	} {
		if err := s.Put(ctx, c.video, c.actor, c.lang, "", []byte(c.body)); reel.ErrorCode(err) != c.code {
			t.Errorf("%s: Put = %v; want %s", name, err, c.code)
		}
	}
	if left, err := s.Blobs.List(ctx, reel.CaptionKeyPrefix(1)); err != nil || len(left) != 0 {
		t.Errorf("refused uploads left files: %v, %v", left, err)
	}
}

// Changes racing on several "nodes" end with the manifests listing
// exactly the stored captions.
func TestConcurrentChangesPublishWhatIsStored(t *testing.T) {
	s, st := newService(t)
	s.putFile(t, "videos/1/hls/master.m3u8", masterNoAudio)
	s.putFile(t, "videos/1/hls/manifest.mpd", mpd)
	langs := []string{"en", "fr", "de", "es", "it", "ja"}
	var wg sync.WaitGroup
	for i, lang := range langs {
		wg.Go(func() {
			for round := range 5 {
				var err error
				if (i+round)%3 == 2 {
					err = s.Delete(t.Context(), 1, 7, lang)
				} else {
					err = s.Put(t.Context(), 1, 7, lang, "", []byte(srt))
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	stored, _ := st.ListCaptions(t.Context(), 1)
	master := s.get(t, "videos/1/hls/master.m3u8")
	mpdNow := s.get(t, "videos/1/hls/manifest.mpd")
	if strings.Count(master, "TYPE=SUBTITLES") != len(stored) || strings.Count(mpdNow, `mimeType="text/vtt"`) != len(stored) {
		t.Errorf("%d captions stored; master:\n%s\nMPD:\n%s", len(stored), master, mpdNow)
	}
	for _, c := range stored {
		rel := strings.TrimPrefix(c.Key, "videos/1/hls/")
		if !strings.Contains(master, strings.TrimSuffix(rel, ".vtt")+".m3u8") || !strings.Contains(mpdNow, rel) {
			t.Errorf("%s (%s) is stored but not listed:\n%s\n%s", c.Lang, c.Key, master, mpdNow)
		}
		s.get(t, c.Key)
		s.get(t, playlistKey(c.Key))
	}
	files, _ := s.Blobs.List(t.Context(), reel.CaptionKeyPrefix(1))
	if len(files) < 2*len(stored) {
		t.Errorf("%d caption files for %d captions", len(files), len(stored))
	}
}
