package media

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/abema/go-mp4"

	"github.com/reel-video/reel"
)

// DASH from the same segments. The ladder writes CMAF: one track per file,
// an init segment and fragments that each start with a keyframe at the
// same instants in every rendition. Such files are DASH segments as they
// are, so WriteMPD only describes them: a static MPD beside the HLS master
// whose SegmentTemplates name the very files the HLS playlists name. Its
// SegmentTimelines are read from the segments themselves (each fragment's
// decode time and sample durations, in its track's timescale), not from
// the rounded EXTINF durations, so a DASH player asks for exactly the media
// that is there.

const (
	mpdName = reel.MPDName
	// mpdProfiles: segments are addressed by template (isoff-live), and
	// they are CMAF (the init segments list the cmfc brand).
	mpdProfiles = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019"
	// mpdMedia is segmentPattern as a DASH template.
	mpdMedia = "seg_$Number%03d$.m4s"
)

// WriteMPD reads outDir/master.m3u8 (as Ladder writes it: video-only
// variants, and at most one audio rendition named by an EXT-X-MEDIA of
// TYPE=AUDIO) and the playlists and segments it names, and writes
// outDir/manifest.mpd: one video AdaptationSet with every variant, and one
// audio AdaptationSet when there is audio. durationMS is the presentation's
// duration (the source's), capped at the longest track's; 0 takes the
// longest track's. The MPD is written to a temporary name and renamed
// into place.
func WriteMPD(outDir string, durationMS int64) error {
	master, err := readMasterPlaylist(filepath.Join(outDir, masterName))
	if err != nil {
		return err
	}
	if len(master.variants) == 0 {
		return errors.New("media: mpd: the master playlist names no variant")
	}
	readAll := func(entries []hlsEntry) ([]*dashTrack, error) {
		var tracks []*dashTrack
		for _, e := range entries {
			t, err := readDashTrack(outDir, e.uri)
			if err != nil {
				return nil, err
			}
			tracks = append(tracks, t)
		}
		return tracks, nil
	}
	videos, err := readAll(master.variants)
	if err != nil {
		return err
	}
	audios, err := readAll(master.audio)
	if err != nil {
		return err
	}
	all := slices.Concat(videos, audios)

	// The buffer a player must fill before playing is the longest segment;
	// every bandwidth is then the rate that keeps it fed (DASH's bucket
	// model), which the sizes of the segments give exactly.
	var longest, duration float64
	origin := all[0]
	for _, t := range all {
		longest = max(longest, t.longestSeconds())
		duration = max(duration, t.seconds())
		if t.segments[0].start*int64(origin.timescale) < origin.segments[0].start*int64(t.timescale) {
			origin = t
		}
	}
	// The source's duration, unless the segments hold less: a player must
	// not wait at the end for media that is not there.
	if durationMS > 0 {
		duration = min(duration, float64(durationMS)/1000)
	}
	// One origin for every track: the earliest first sample of them all
	// starts the Period. Each track keeps its offset from the others, so
	// audio and video stay in sync as the files time them (as in HLS).
	offset := func(t *dashTrack) int64 {
		return origin.segments[0].start * int64(t.timescale) / int64(origin.timescale)
	}

	m := mpd{
		XMLNS:                     "urn:mpeg:dash:schema:mpd:2011",
		Profiles:                  mpdProfiles,
		Type:                      "static",
		MediaPresentationDuration: isoSeconds(duration),
		MinBufferTime:             isoSeconds(longest),
		MaxSegmentDuration:        isoSeconds(longest),
		Period:                    mpdPeriod{ID: "0", Start: "PT0S"},
	}
	video := mpdAdaptationSet{ID: 0, ContentType: "video", MimeType: "video/mp4", SegmentAlignment: true, StartWithSAP: 1}
	for i, v := range master.variants {
		t := videos[i]
		w, h, _ := strings.Cut(v.attrs["RESOLUTION"], "x")
		rep := mpdRepresentation{
			ID: t.dir, Bandwidth: t.bandwidth(longest), Codecs: videoCodecs(v.attrs["CODECS"]), SAR: "1:1",
			Width: atoi(w), Height: atoi(h), SegmentTemplate: t.template(offset(t)),
		}
		if fps := parseFloat(v.attrs["FRAME-RATE"]); fps > 0 {
			rep.FrameRate = outputFrameRate(fps).String()
		}
		video.MaxWidth, video.MaxHeight = max(video.MaxWidth, rep.Width), max(video.MaxHeight, rep.Height)
		video.Representations = append(video.Representations, rep)
	}
	m.Period.AdaptationSets = append(m.Period.AdaptationSets, video)
	if len(audios) > 0 {
		audio := mpdAdaptationSet{ID: 1, ContentType: "audio", MimeType: "audio/mp4", SegmentAlignment: true, StartWithSAP: 1}
		for i, a := range master.audio {
			t := audios[i]
			if t.channels == 0 || t.sampleRate == 0 {
				return fmt.Errorf("media: mpd: %s is not an audio track", a.uri)
			}
			audio.Lang = a.attrs["LANGUAGE"]
			audio.Representations = append(audio.Representations, mpdRepresentation{
				ID: t.dir, Bandwidth: t.bandwidth(longest), Codecs: audioCodecsOf(master.variants[0].attrs["CODECS"]),
				AudioSamplingRate: t.sampleRate,
				AudioChannels: &mpdDescriptor{
					SchemeIDURI: "urn:mpeg:dash:23003:3:audio_channel_configuration:2011",
					Value:       strconv.Itoa(t.channels),
				},
				SegmentTemplate: t.template(offset(t)),
			})
		}
		m.Period.AdaptationSets = append(m.Period.AdaptationSets, audio)
	}

	out, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("media: mpd: %w", err)
	}
	data := append([]byte(xml.Header), out...)
	data = append(data, '\n')
	name := filepath.Join(outDir, mpdName)
	if err := os.WriteFile(name+".tmp", data, 0o644); err != nil {
		return fmt.Errorf("media: writing the MPD: %w", err)
	}
	if err := os.Rename(name+".tmp", name); err != nil {
		return fmt.Errorf("media: writing the MPD: %w", err)
	}
	return nil
}

// The MPD, as encoding/xml writes it (it escapes every attribute). Only
// what players use is described; the Period ends with "</Period>" on a
// line of its own, before which captions are added.
type mpd struct {
	XMLName                   xml.Name  `xml:"MPD"`
	XMLNS                     string    `xml:"xmlns,attr"`
	Profiles                  string    `xml:"profiles,attr"`
	Type                      string    `xml:"type,attr"`
	MediaPresentationDuration string    `xml:"mediaPresentationDuration,attr"`
	MinBufferTime             string    `xml:"minBufferTime,attr"`
	MaxSegmentDuration        string    `xml:"maxSegmentDuration,attr"`
	Period                    mpdPeriod `xml:"Period"`
}

type mpdPeriod struct {
	ID             string             `xml:"id,attr"`
	Start          string             `xml:"start,attr"`
	AdaptationSets []mpdAdaptationSet `xml:"AdaptationSet"`
}

type mpdAdaptationSet struct {
	ID               int                 `xml:"id,attr"`
	ContentType      string              `xml:"contentType,attr"`
	MimeType         string              `xml:"mimeType,attr"`
	Lang             string              `xml:"lang,attr,omitempty"`
	SegmentAlignment bool                `xml:"segmentAlignment,attr"`
	StartWithSAP     int                 `xml:"startWithSAP,attr"`
	MaxWidth         int                 `xml:"maxWidth,attr,omitempty"`
	MaxHeight        int                 `xml:"maxHeight,attr,omitempty"`
	Representations  []mpdRepresentation `xml:"Representation"`
}

type mpdRepresentation struct {
	ID                string             `xml:"id,attr"`
	Bandwidth         int                `xml:"bandwidth,attr"`
	Codecs            string             `xml:"codecs,attr"`
	Width             int                `xml:"width,attr,omitempty"`
	Height            int                `xml:"height,attr,omitempty"`
	FrameRate         string             `xml:"frameRate,attr,omitempty"`
	SAR               string             `xml:"sar,attr,omitempty"`
	AudioSamplingRate int                `xml:"audioSamplingRate,attr,omitempty"`
	AudioChannels     *mpdDescriptor     `xml:"AudioChannelConfiguration,omitempty"`
	SegmentTemplate   mpdSegmentTemplate `xml:"SegmentTemplate"`
}

type mpdDescriptor struct {
	SchemeIDURI string `xml:"schemeIdUri,attr"`
	Value       string `xml:"value,attr"`
}

type mpdSegmentTemplate struct {
	Timescale              uint32 `xml:"timescale,attr"`
	PresentationTimeOffset int64  `xml:"presentationTimeOffset,attr,omitempty"`
	Initialization         string `xml:"initialization,attr"`
	Media                  string `xml:"media,attr"`
	StartNumber            int    `xml:"startNumber,attr"`
	Timeline               []mpdS `xml:"SegmentTimeline>S"`
}

// mpdS is one run of a SegmentTimeline: R+1 segments of D each, the first
// starting at T (written only where the timeline does not simply go on).
type mpdS struct {
	T *int64 `xml:"t,attr"`
	D int64  `xml:"d,attr"`
	R int    `xml:"r,attr,omitempty"`
}

// isoSeconds writes seconds as an ISO 8601 duration, to the millisecond.
func isoSeconds(s float64) string {
	return "PT" + strconv.FormatFloat(s, 'f', 3, 64) + "S"
}

// videoCodecs and audioCodecsOf split an HLS CODECS attribute ("avc1.64001f,
// mp4a.40.2") into its video and its audio part.
func videoCodecs(codecs string) string { return pickCodecs(codecs, false) }
func audioCodecsOf(codecs string) string {
	if c := pickCodecs(codecs, true); c != "" {
		return c
	}
	return "mp4a.40.2" // the ladder's AAC-LC
}

func pickCodecs(codecs string, audio bool) string {
	var picked []string
	for _, c := range strings.Split(codecs, ",") {
		c = strings.TrimSpace(c)
		if c != "" && (strings.HasPrefix(c, "mp4a.") || strings.HasPrefix(c, "opus") || strings.HasPrefix(c, "ac-3") || strings.HasPrefix(c, "ec-3")) == audio {
			picked = append(picked, c)
		}
	}
	return strings.Join(picked, ",")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// parsedMaster is what WriteMPD reads of an HLS master playlist: its
// variants and its audio renditions, each with its attributes and URI.
type parsedMaster struct {
	variants, audio []hlsEntry
}

type hlsEntry struct {
	attrs map[string]string
	uri   string
}

func readMasterPlaylist(name string) (*parsedMaster, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("media: mpd: %w", err)
	}
	var (
		m       parsedMaster
		pending map[string]string // an EXT-X-STREAM-INF waiting for its URI
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-MEDIA:"):
			attrs := hlsAttributes(strings.TrimPrefix(line, "#EXT-X-MEDIA:"))
			if attrs["TYPE"] == "AUDIO" && attrs["URI"] != "" {
				uri, err := localURI(attrs["URI"])
				if err != nil {
					return nil, err
				}
				m.audio = append(m.audio, hlsEntry{attrs, uri})
			}
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			pending = hlsAttributes(strings.TrimPrefix(line, "#EXT-X-STREAM-INF:"))
		case line != "" && !strings.HasPrefix(line, "#") && pending != nil:
			uri, err := localURI(line)
			if err != nil {
				return nil, err
			}
			m.variants = append(m.variants, hlsEntry{pending, uri})
			pending = nil
		}
	}
	return &m, sc.Err()
}

// localURI accepts a playlist's URI of the form the ladder writes,
// "dir/name" relative to the master, and nothing that could lead outside
// the output directory or to a template's special characters.
func localURI(uri string) (string, error) {
	dir, name, ok := strings.Cut(uri, "/")
	if !ok || !PlainName(dir) || !PlainName(name) {
		return "", fmt.Errorf("media: mpd: unexpected URI %q in the master playlist", uri)
	}
	return uri, nil
}

// PlainName reports whether s is a file name made only of letters,
// digits, '_', '-' and '.', and not "." or "..": what the ladder names its
// files and directories, and nothing that could climb out of them.
func PlainName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// HLSAttribute returns the value of name in an HLS tag's attribute list
// (the part of line after the tag's ':'), unquoted.
func HLSAttribute(line, name string) (string, bool) {
	_, list, ok := strings.Cut(line, ":")
	if !ok {
		return "", false
	}
	v, ok := hlsAttributes(list)[name]
	return v, ok
}

// MasterURIs lists the playlists an HLS master names: its URI lines and
// the URI attributes of its #EXT-X-MEDIA tags.
func MasterURIs(master []byte) []string {
	var uris []string
	for _, line := range strings.Split(string(master), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#EXT-X-MEDIA:"):
			if uri, ok := HLSAttribute(line, "URI"); ok {
				uris = append(uris, uri)
			}
		case line != "" && !strings.HasPrefix(line, "#"):
			uris = append(uris, line)
		}
	}
	return uris
}

// hlsAttributes parses an HLS attribute list (RFC 8216 4.2): NAME=value
// pairs separated by commas, where a quoted value may hold commas.
func hlsAttributes(list string) map[string]string {
	attrs := map[string]string{}
	for list != "" {
		name, rest, ok := strings.Cut(list, "=")
		if !ok {
			break
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				break
			}
			value, rest = rest[1:end+1], rest[end+2:]
			rest = strings.TrimPrefix(rest, ",")
		} else {
			value, rest, _ = strings.Cut(rest, ",")
		}
		attrs[strings.TrimSpace(name)] = value
		list = rest
	}
	return attrs
}

// variantPlaylist is what a media playlist names: its init segment and its
// segments in order, as file names in the playlist's directory.
type variantPlaylist struct {
	init     string
	segments []string
	seconds  float64 // the sum of the EXTINF durations
}

func readVariantPlaylist(name string) (*variantPlaylist, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	var v variantPlaylist
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			v.init = hlsAttributes(strings.TrimPrefix(line, "#EXT-X-MAP:"))["URI"]
			if !PlainName(v.init) {
				return nil, fmt.Errorf("media: %s: unexpected init segment %q", filepath.Base(name), v.init)
			}
		case strings.HasPrefix(line, "#EXTINF:"):
			d, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			v.seconds += parseFloat(d)
		case line != "" && !strings.HasPrefix(line, "#"):
			if !PlainName(line) {
				return nil, fmt.Errorf("media: %s: unexpected segment %q", filepath.Base(name), line)
			}
			v.segments = append(v.segments, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("media: %s: %w", filepath.Base(name), err)
	}
	if v.init == "" || len(v.segments) == 0 {
		return nil, fmt.Errorf("media: %s names no init segment or no segments", filepath.Base(name))
	}
	return &v, nil
}

// dashTrack is one rendition as the MPD describes it, read from its files.
type dashTrack struct {
	dir        string // relative to the output directory, e.g. "240p"
	init       string
	timescale  uint32
	channels   int // audio only
	sampleRate int // audio only
	segments   []dashSegment
}

// dashSegment is one segment: when it starts (its earliest presentation
// time), how long it lasts, both in the track's timescale, and its size.
type dashSegment struct {
	start, duration int64
	bytes           int64
}

// readDashTrack reads the rendition whose playlist is uri (relative to
// outDir): its init segment's timescale, and the start and duration of
// each of its segments, which must be named as the template names them.
func readDashTrack(outDir, uri string) (*dashTrack, error) {
	dir := path.Dir(uri)
	v, err := readVariantPlaylist(filepath.Join(outDir, filepath.FromSlash(uri)))
	if err != nil {
		return nil, err
	}
	for i, s := range v.segments {
		if want := fmt.Sprintf(segmentPattern, i); s != want {
			return nil, fmt.Errorf("media: mpd: segment %d of %s is %s, not %s", i, uri, s, want)
		}
	}
	t := &dashTrack{dir: dir, init: v.init}
	init, err := readInit(filepath.Join(outDir, dir, v.init))
	if err != nil {
		return nil, err
	}
	t.timescale, t.channels, t.sampleRate = init.timescale, init.channels, init.sampleRate
	for _, s := range v.segments {
		samples, size, err := readSamples(filepath.Join(outDir, dir, s), init)
		if err != nil {
			return nil, err
		}
		if len(samples) == 0 {
			return nil, fmt.Errorf("media: %s/%s holds no samples", dir, s)
		}
		seg := dashSegment{start: samples[0].pts(), bytes: size}
		for _, smp := range samples {
			seg.start = min(seg.start, smp.pts())
			seg.duration += int64(smp.duration)
		}
		t.segments = append(t.segments, seg)
	}
	// A segment lasts until the next one starts, so the timeline has no
	// gap or overlap even where composition offsets shift the starts.
	for i := 0; i+1 < len(t.segments); i++ {
		if next := t.segments[i+1].start - t.segments[i].start; next > 0 {
			t.segments[i].duration = next
		}
	}
	return t, nil
}

// template is the track's SegmentTemplate, its timeline starting the
// Period at pto (in the track's timescale).
func (t *dashTrack) template(pto int64) mpdSegmentTemplate {
	st := mpdSegmentTemplate{
		Timescale:              t.timescale,
		PresentationTimeOffset: pto,
		Initialization:         t.dir + "/" + t.init,
		Media:                  t.dir + "/" + mpdMedia,
		StartNumber:            0,
	}
	next := int64(-1)
	for _, s := range t.segments {
		if last := len(st.Timeline) - 1; last >= 0 && s.start == next && s.duration == st.Timeline[last].D {
			st.Timeline[last].R++
		} else {
			run := mpdS{D: s.duration}
			if s.start != next {
				start := s.start
				run.T = &start
			}
			st.Timeline = append(st.Timeline, run)
		}
		next = s.start + s.duration
	}
	return st
}

// seconds is how long the track plays; longestSeconds its longest segment.
func (t *dashTrack) seconds() float64 {
	last := t.segments[len(t.segments)-1]
	return float64(last.start+last.duration-t.segments[0].start) / float64(t.timescale)
}

func (t *dashTrack) longestSeconds() float64 {
	var longest int64
	for _, s := range t.segments {
		longest = max(longest, s.duration)
	}
	return float64(longest) / float64(t.timescale)
}

// bandwidth is the lowest rate, in bits per second, at which a player
// that starts at any segment, having buffered bufferSeconds of it, never
// runs dry (the meaning of @bandwidth with @minBufferTime): every run of
// segments i..k must have arrived by the time segment k is due.
func (t *dashTrack) bandwidth(bufferSeconds float64) int {
	var bps float64
	for i := range t.segments {
		var bits, due float64
		due = bufferSeconds
		for k := i; k < len(t.segments); k++ {
			bits += float64(t.segments[k].bytes * 8)
			bps = max(bps, bits/due)
			due += float64(t.segments[k].duration) / float64(t.timescale)
		}
	}
	return int(bps) + 1
}

// fMP4 reading, for the MPD and the preview: the timescale and defaults of
// an init segment's single track, and the samples of a media segment.

type initInfo struct {
	timescale            uint32
	trackID              uint32
	defaultDuration      uint32
	defaultSize          uint32
	defaultFlags         uint32
	width, height        int // the track's display size (video only)
	channels, sampleRate int
}

func readInit(name string) (*initInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	defer f.Close()
	var info initInfo
	var tracks int
	_, err = mp4.ReadBoxStructure(f, func(h *mp4.ReadHandle) (any, error) {
		switch h.BoxInfo.Type {
		case mp4.BoxTypeMoov(), mp4.BoxTypeMvex(), mp4.BoxTypeTrak(), mp4.BoxTypeMdia(),
			mp4.BoxTypeMinf(), mp4.BoxTypeStbl(), mp4.BoxTypeStsd():
			return h.Expand()
		case mp4.BoxTypeTkhd():
			tracks++
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			tkhd := box.(*mp4.Tkhd)
			info.trackID = tkhd.TrackID
			info.width, info.height = int(tkhd.GetWidthInt()), int(tkhd.GetHeightInt())
		case mp4.BoxTypeMdhd():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			info.timescale = box.(*mp4.Mdhd).Timescale
		case mp4.BoxTypeTrex():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			trex := box.(*mp4.Trex)
			info.defaultDuration, info.defaultSize, info.defaultFlags = trex.DefaultSampleDuration, trex.DefaultSampleSize, trex.DefaultSampleFlags
		case mp4.BoxTypeMp4a():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			a := box.(*mp4.AudioSampleEntry)
			info.channels, info.sampleRate = int(a.ChannelCount), int(a.SampleRate>>16)
		}
		return nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("media: reading %s: %w", filepath.Base(name), err)
	}
	if tracks != 1 || info.timescale == 0 {
		return nil, fmt.Errorf("media: %s: want one track with a timescale, found %d tracks", filepath.Base(name), tracks)
	}
	return &info, nil
}

// sample is one sample of a fragment: its decode time and duration in the
// track's timescale, its composition offset, its size, and whether it is a
// sync sample (a keyframe).
type sample struct {
	dts      int64
	duration uint32
	cto      int64
	size     uint32
	sync     bool
}

func (s sample) pts() int64 { return s.dts + s.cto }

// Flags of sample flags and of the trun box (ISO/IEC 14496-12 8.8.3.1,
// 8.8.8.1).
const (
	sampleIsNonSync      = 0x10000
	trunFirstSampleFlags = 0x4
	trunSampleDuration   = 0x100
	trunSampleSize       = 0x200
	trunSampleFlags      = 0x400
	trunSampleCTO        = 0x800
)

// readSamples reads every sample of the fragments (moof boxes) of a media
// segment, and the segment's size in bytes. Each value comes from where
// ISO/IEC 14496-12 puts it: the trun entry, else the trun's first sample
// flags, else the tfhd's defaults, else the init's trex.
func readSamples(name string, init *initInfo) ([]sample, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, fmt.Errorf("media: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("media: %w", err)
	}
	var (
		samples []sample
		tfhd    *mp4.Tfhd
		next    int64 = -1 // the decode time after the last sample read
	)
	_, err = mp4.ReadBoxStructure(f, func(h *mp4.ReadHandle) (any, error) {
		switch h.BoxInfo.Type {
		case mp4.BoxTypeMoof():
			return h.Expand()
		case mp4.BoxTypeTraf():
			tfhd = nil
			return h.Expand()
		case mp4.BoxTypeTfhd():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			tfhd = box.(*mp4.Tfhd)
			if tfhd.TrackID != init.trackID {
				return nil, fmt.Errorf("a fragment of track %d, not %d", tfhd.TrackID, init.trackID)
			}
		case mp4.BoxTypeTfdt():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			next = int64(box.(*mp4.Tfdt).GetBaseMediaDecodeTime())
		case mp4.BoxTypeTrun():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			if tfhd == nil || next < 0 {
				return nil, errors.New("a trun without tfhd or tfdt before it")
			}
			samples = appendTrun(samples, box.(*mp4.Trun), tfhd, init, &next)
		}
		return nil, nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("media: reading %s: %w", filepath.Base(name), err)
	}
	return samples, fi.Size(), nil
}

func appendTrun(samples []sample, trun *mp4.Trun, tfhd *mp4.Tfhd, init *initInfo, next *int64) []sample {
	flags := trun.GetFlags()
	duration, size, sampleFlags := init.defaultDuration, init.defaultSize, init.defaultFlags
	if tfhd.CheckFlag(mp4.TfhdDefaultSampleDurationPresent) {
		duration = tfhd.DefaultSampleDuration
	}
	if tfhd.CheckFlag(mp4.TfhdDefaultSampleSizePresent) {
		size = tfhd.DefaultSampleSize
	}
	if tfhd.CheckFlag(mp4.TfhdDefaultSampleFlagsPresent) {
		sampleFlags = tfhd.DefaultSampleFlags
	}
	for i, e := range trun.Entries {
		s := sample{dts: *next, duration: duration, size: size}
		f := sampleFlags
		if flags&trunSampleDuration != 0 {
			s.duration = e.SampleDuration
		}
		if flags&trunSampleSize != 0 {
			s.size = e.SampleSize
		}
		switch {
		case flags&trunSampleFlags != 0:
			f = e.SampleFlags
		case i == 0 && flags&trunFirstSampleFlags != 0:
			f = trun.FirstSampleFlags
		}
		if flags&trunSampleCTO != 0 {
			s.cto = trun.GetSampleCompositionTimeOffset(i)
		}
		s.sync = f&sampleIsNonSync == 0
		samples = append(samples, s)
		*next += int64(s.duration)
	}
	return samples
}
