package media

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
)

func TestRemux(t *testing.T) {
	for _, c := range append(goodClips, goodClip{kind: "subtitled", width: 640, height: 360, audio: "aac", canRemux: true}) {
		if !c.canRemux {
			continue
		}
		t.Run(c.kind, func(t *testing.T) {
			t.Parallel()
			dst := filepath.Join(t.TempDir(), "play.mp4")
			if err := Remux(context.Background(), clip(t, c.kind), dst, nil); err != nil {
				t.Fatal(err)
			}
			faststart(t, dst)
			decodes(t, dst)

			// Players must show it the way the source shows: the rotation
			// is kept, as metadata, since the pixels are copied as they are.
			info, err := Probe(context.Background(), dst)
			if err != nil {
				t.Fatal(err)
			}
			if info.Width != c.width || info.Height != c.height || info.Rotation != c.rotation {
				t.Errorf("remuxed display %dx%d rotation %d, want %dx%d rotation %d",
					info.Width, info.Height, info.Rotation, c.width, c.height, c.rotation)
			}
			// Only the video and the audio survive: no subtitles, no data.
			var kinds []string
			for _, s := range streams(t, dst) {
				kinds = append(kinds, s.CodecType)
			}
			want := []string{"video"}
			if c.audio != "" {
				want = append(want, "audio")
			}
			if !slices.Equal(kinds, want) {
				t.Errorf("remuxed streams %v, want %v", kinds, want)
			}
		})
	}
}
