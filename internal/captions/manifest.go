package captions

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Rendition is a caption as the manifests list it, with URIs relative to
// the directory of the master playlist and the MPD.
type Rendition struct {
	Lang, Label string
	Playlist    string // its one-segment HLS playlist
	VTT         string // the WebVTT file
	Bandwidth   int    // bits per second of the file spread over the video, for the MPD
}

// GroupID is the HLS SUBTITLES group every caption is in.
const GroupID = "subs"

// MediaPlaylist is the HLS media playlist of one caption: its whole
// WebVTT file as one segment lasting the video. TARGETDURATION is the
// duration rounded up, as RFC 8216 asks (each EXTINF, rounded, at most the
// target), and the playlist is a finished VOD one like the video's.
func MediaPlaylist(vttURI string, durationMS int64) []byte {
	durationMS = max(durationMS, 1)
	target := int64(math.Ceil(float64(durationMS) / 1000))
	return fmt.Appendf(nil, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:%d.%03d,\n%s\n#EXT-X-ENDLIST\n",
		target, durationMS/1000, durationMS%1000, vttURI)
}

var (
	errNotMaster = errors.New("captions: not an HLS master playlist")
	// subtitlesAttr is the SUBTITLES attribute of a variant stream.
	subtitlesAttr = regexp.MustCompile(`,SUBTITLES="[^"]*"`)
)

// EditMaster returns the master playlist with exactly renditions as its
// subtitles: the SUBTITLES renditions and attributes it had are removed
// first, so editing again with the same captions changes nothing. The new
// EXT-X-MEDIA lines follow the playlist's others (the audio rendition's,
// when there is one) before the variant streams, each of which names the
// group.
func EditMaster(master []byte, renditions []Rendition) ([]byte, error) {
	text := strings.ReplaceAll(string(master), "\r\n", "\n")
	if !strings.HasPrefix(text, "#EXTM3U") {
		return nil, errNotMaster
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	kept := lines[:0:0]
	firstVariant := -1
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#EXT-X-MEDIA:") && strings.Contains(l, "TYPE=SUBTITLES"):
			continue
		case strings.HasPrefix(l, "#EXT-X-STREAM-INF:"):
			l = subtitlesAttr.ReplaceAllString(l, "")
			if len(renditions) > 0 {
				l += `,SUBTITLES="` + GroupID + `"`
			}
			if firstVariant < 0 {
				firstVariant = len(kept)
			}
		}
		kept = append(kept, l)
	}
	if firstVariant < 0 {
		return nil, errNotMaster
	}
	// Before the blank lines that set the variants apart.
	at := firstVariant
	for at > 0 && strings.TrimSpace(kept[at-1]) == "" {
		at--
	}
	media := make([]string, len(renditions))
	names := map[string]bool{}
	for i, r := range renditions {
		// NAME must be unique in the group; two labels may be alike.
		name := r.Label
		if names[name] {
			name += " (" + r.Lang + ")"
		}
		names[name] = true
		media[i] = fmt.Sprintf(`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="%s",NAME="%s",LANGUAGE="%s",DEFAULT=NO,AUTOSELECT=YES,URI="%s"`,
			GroupID, name, r.Lang, r.Playlist)
	}
	out := append(append(kept[:at:at], media...), kept[at:]...)
	return []byte(strings.Join(out, "\n") + "\n"), nil
}

// EditMPD returns the MPD with exactly renditions as its text adaptation
// sets: one per language, before the Period's end, each a sidecar WebVTT
// file (the same one HLS lists). The text/vtt adaptation sets it had are
// removed first, so editing again with the same captions changes nothing.
func EditMPD(mpd []byte, renditions []Rendition) ([]byte, error) {
	text := string(mpd)
	for {
		start, end, ok := textAdaptationSet(text)
		if !ok {
			break
		}
		text = text[:start] + text[end:]
	}
	at := strings.LastIndex(text, "</Period>")
	if at < 0 {
		return nil, errors.New("captions: the MPD has no </Period>")
	}
	at = strings.LastIndexByte(text[:at], '\n') + 1 // the start of its line
	var b strings.Builder
	for _, r := range renditions {
		fmt.Fprintf(&b, "    <AdaptationSet contentType=\"text\" mimeType=\"text/vtt\" lang=\"%s\">\n", xmlEscape(r.Lang))
		fmt.Fprintf(&b, "      <Label>%s</Label>\n", xmlEscape(r.Label))
		b.WriteString("      <Role schemeIdUri=\"urn:mpeg:dash:role:2011\" value=\"subtitle\"/>\n")
		fmt.Fprintf(&b, "      <Representation id=\"captions-%s\" bandwidth=\"%d\">\n", xmlEscape(r.Lang), max(r.Bandwidth, 1))
		fmt.Fprintf(&b, "        <BaseURL>%s</BaseURL>\n", xmlEscape(r.VTT))
		b.WriteString("      </Representation>\n    </AdaptationSet>\n")
	}
	return []byte(text[:at] + b.String() + text[at:]), nil
}

// textAdaptationSet finds the first AdaptationSet of mimeType text/vtt in
// an MPD: from the start of its line to past the end of its closing tag's
// line.
func textAdaptationSet(text string) (start, end int, ok bool) {
	for from := 0; ; {
		i := strings.Index(text[from:], "<AdaptationSet")
		if i < 0 {
			return 0, 0, false
		}
		i += from
		tagEnd := strings.IndexByte(text[i:], '>')
		if tagEnd < 0 {
			return 0, 0, false
		}
		if !strings.Contains(text[i:i+tagEnd], `mimeType="text/vtt"`) {
			from = i + tagEnd
			continue
		}
		closing := strings.Index(text[i:], "</AdaptationSet>")
		if closing < 0 {
			return 0, 0, false
		}
		end = i + closing + len("</AdaptationSet>")
		if nl := strings.IndexByte(text[end:], '\n'); nl >= 0 && strings.TrimSpace(text[end:end+nl]) == "" {
			end += nl + 1
		}
		start = strings.LastIndexByte(text[:i], '\n') + 1
		if strings.TrimSpace(text[start:i]) != "" {
			start = i // not alone on its line: remove the element only
		}
		return start, end, true
	}
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to a buffer: cannot fail
	return b.String()
}

// bandwidth is the bits per second of size bytes over durationMS.
func bandwidth(size, durationMS int64) int {
	if durationMS <= 0 {
		return 1
	}
	return int(max(size*8*1000/durationMS, 1))
}
