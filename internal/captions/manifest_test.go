package captions

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/grafov/m3u8"
)

// The master Ladder writes without audio (one rendition of the video
// carrying its sound, or a silent clip) and with its one audio rendition.
const (
	masterNoAudio = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",FRAME-RATE=30.000\n360p/index.m3u8\n\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=350000,RESOLUTION=426x240,CODECS=\"avc1.640015,mp4a.40.2\",FRAME-RATE=30.000\n240p/index.m3u8\n"
	masterAudio = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Audio\",LANGUAGE=\"und\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\"\n\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=800000,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\",FRAME-RATE=30.000,AUDIO=\"audio\"\n360p/index.m3u8\n"
)

var (
	english = Rendition{Lang: "en", Label: "English", Playlist: "captions/en.1.m3u8", VTT: "captions/en.1.vtt", Bandwidth: 80}
	brazil  = Rendition{Lang: "pt-BR", Label: "Português (Brasil)", Playlist: "captions/pt-BR.2.m3u8", VTT: "captions/pt-BR.2.vtt", Bandwidth: 90}
	// Two labels alike: NAME must still be unique in the group.
	english2 = Rendition{Lang: "en-GB", Label: "English", Playlist: "captions/en-GB.3.m3u8", VTT: "captions/en-GB.3.vtt", Bandwidth: 80}
)

func TestEditMaster(t *testing.T) {
	for name, master := range map[string]string{"without audio": masterNoAudio, "with audio": masterAudio} {
		t.Run(name, func(t *testing.T) {
			two, err := EditMaster([]byte(master), []Rendition{english, brazil, english2})
			if err != nil {
				t.Fatal(err)
			}
			// Idempotent, and undone by editing with none.
			again, err := EditMaster(two, []Rendition{english, brazil, english2})
			if err != nil || !bytes.Equal(again, two) {
				t.Errorf("editing again changed the master (%v):\n%s\nthen\n%s", err, two, again)
			}
			none, err := EditMaster(two, nil)
			if err != nil || string(none) != master {
				t.Errorf("editing with no captions (%v):\n%s\nwant the master as it was:\n%s", err, none, master)
			}
			one, err := EditMaster(two, []Rendition{brazil})
			if err != nil || strings.Contains(string(one), `LANGUAGE="en"`) || strings.Count(string(one), "TYPE=SUBTITLES") != 1 {
				t.Errorf("editing down to one language (%v):\n%s", err, one)
			}

			p, listType, err := m3u8.DecodeFrom(bytes.NewReader(two), true)
			if err != nil || listType != m3u8.MASTER {
				t.Fatalf("grafov/m3u8: %v, %v\n%s", err, listType, two)
			}
			mp := p.(*m3u8.MasterPlaylist)
			for _, v := range mp.Variants {
				if v.Subtitles != GroupID {
					t.Errorf("variant %s: SUBTITLES=%q", v.URI, v.Subtitles)
				}
				if strings.Contains(master, "AUDIO=") != (v.Audio == "audio") {
					t.Errorf("variant %s: AUDIO=%q", v.URI, v.Audio)
				}
				var subs []string
				seen := map[string]bool{}
				for _, a := range v.Alternatives {
					// grafov/m3u8 may attach one rendition to a
					// variant more than once: count each once.
					if a.Type == "SUBTITLES" && !seen[a.URI] {
						seen[a.URI] = true
						subs = append(subs, a.Language+"|"+a.Name+"|"+a.URI+"|"+a.GroupId)
					}
				}
				want := []string{"en|English|captions/en.1.m3u8|subs", "pt-BR|Português (Brasil)|captions/pt-BR.2.m3u8|subs", "en-GB|English (en-GB)|captions/en-GB.3.m3u8|subs"}
				if strings.Join(subs, " ") != strings.Join(want, " ") {
					t.Errorf("variant %s: subtitles %v, want %v", v.URI, subs, want)
				}
			}
			// The subtitle lines follow the audio rendition's, before the variants.
			text := string(two)
			if a := strings.Index(text, "TYPE=AUDIO"); a >= 0 && a > strings.Index(text, "TYPE=SUBTITLES") {
				t.Errorf("subtitles before the audio rendition:\n%s", text)
			}
			if strings.Index(text, "TYPE=SUBTITLES") > strings.Index(text, "#EXT-X-STREAM-INF") {
				t.Errorf("subtitles after a variant:\n%s", text)
			}
		})
	}
	if _, err := EditMaster([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\nseg.m4s\n"), nil); err == nil {
		t.Error("a media playlist edited as a master")
	}
}

func TestMediaPlaylist(t *testing.T) {
	b := MediaPlaylist("en.1.vtt", 5_250)
	want := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:5.250,\nen.1.vtt\n#EXT-X-ENDLIST\n"
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	p, listType, err := m3u8.DecodeFrom(bytes.NewReader(b), true)
	if err != nil || listType != m3u8.MEDIA {
		t.Fatalf("grafov/m3u8: %v, %v", err, listType)
	}
	mp := p.(*m3u8.MediaPlaylist)
	if mp.TargetDuration != 6 || mp.Count() != 1 || mp.Segments[0].Duration != 5.25 || !mp.Closed || mp.MediaType != m3u8.VOD {
		t.Errorf("parsed %+v", mp)
	}
}

const mpd = `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT5.250S" profiles="urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019">
  <Period id="0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <Representation id="360p" bandwidth="800000" width="640" height="360" codecs="avc1.64001e"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="und">
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2"/>
    </AdaptationSet>
  </Period>
</MPD>
`

func TestEditMPD(t *testing.T) {
	odd := Rendition{Lang: "fr", Label: `Français <"sous-titres"> & co`, VTT: "captions/fr.4.vtt", Bandwidth: 10}
	b, err := EditMPD([]byte(mpd), []Rendition{english, odd})
	if err != nil {
		t.Fatal(err)
	}
	again, err := EditMPD(b, []Rendition{english, odd})
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("editing again changed the MPD (%v):\n%s\nthen\n%s", err, b, again)
	}
	if none, err := EditMPD(b, nil); err != nil || string(none) != mpd {
		t.Errorf("editing with no captions (%v):\n%s", err, none)
	}
	var doc struct {
		Period struct {
			Sets []struct {
				ContentType string `xml:"contentType,attr"`
				MimeType    string `xml:"mimeType,attr"`
				Lang        string `xml:"lang,attr"`
				Label       string `xml:"Label"`
				Role        struct {
					Value string `xml:"value,attr"`
				} `xml:"Role"`
				Reps []struct {
					Bandwidth int    `xml:"bandwidth,attr"`
					BaseURL   string `xml:"BaseURL"`
				} `xml:"Representation"`
			} `xml:"AdaptationSet"`
		} `xml:"Period"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the edited MPD is not XML: %v\n%s", err, b)
	}
	sets := doc.Period.Sets
	if len(sets) != 4 || sets[0].ContentType != "video" || sets[1].ContentType != "audio" {
		t.Fatalf("adaptation sets: %+v", sets)
	}
	for i, r := range []Rendition{english, odd} {
		s := sets[2+i]
		if s.ContentType != "text" || s.MimeType != "text/vtt" || s.Lang != r.Lang || s.Label != r.Label || s.Role.Value != "subtitle" ||
			len(s.Reps) != 1 || s.Reps[0].BaseURL != r.VTT || s.Reps[0].Bandwidth != r.Bandwidth {
			t.Errorf("text adaptation set %d: %+v, want %+v", i, s, r)
		}
	}
	if _, err := EditMPD([]byte("<MPD></MPD>"), nil); err == nil {
		t.Error("an MPD without a Period edited")
	}
}
