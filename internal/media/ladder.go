package media

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/reel-video/reel"
)

// Rung is one rendition of the ladder, sized by its short side so that
// portrait and landscape clips get the same treatment: the 720 rung of a
// 1080x1920 clip is 720x1280.
type Rung struct {
	Short     int // pixels on the short side
	VideoKbps int // target video bitrate
}

// DefaultRungs is reel's ladder, highest first.
var DefaultRungs = []Rung{{1080, 4500}, {720, 2500}, {480, 1000}, {360, 600}, {240, 300}}

// PlanRungs picks the rungs a source is encoded to, highest first: those no
// larger than the source, so nothing is upscaled, and always at least one.
// A source smaller than every rung gets a single rung at its own size, with
// the smallest rung's bitrate scaled to its area. nil rungs means
// DefaultRungs.
func PlanRungs(info *Info, rungs []Rung) []Rung {
	if len(rungs) == 0 {
		rungs = DefaultRungs
	}
	sorted := slices.Clone(rungs)
	slices.SortStableFunc(sorted, func(a, b Rung) int { return b.Short - a.Short })
	sorted = slices.CompactFunc(sorted, func(a, b Rung) bool { return a.Short == b.Short })

	short := min(info.Width, info.Height)
	var plan []Rung
	for _, r := range sorted {
		if r.Short <= short {
			plan = append(plan, r)
		}
	}
	if len(plan) > 0 {
		return plan
	}
	smallest := sorted[len(sorted)-1]
	own := max(2, short&^1)
	kbps := smallest.VideoKbps * own * own / (smallest.Short * smallest.Short)
	return []Rung{{Short: own, VideoKbps: max(kbps, minVideoKbps)}}
}

// minVideoKbps keeps a tiny source's bitrate from scaling down to nothing.
const minVideoKbps = 50

// LadderOptions tune Ladder; the zero value encodes DefaultRungs.
type LadderOptions struct {
	Rungs []Rung // candidates for PlanRungs; nil means DefaultRungs
	// ProgressiveMP4 also writes a single MP4 (H.264 + AAC, moov first) of
	// at most 720 on the short side, for sources Remux could not take.
	ProgressiveMP4 bool
	// AudioFilter is an ffmpeg audio filter chain (one chain: no labels, no
	// ';') applied to the source's audio before it is encoded, for the audio
	// rendition and the progressive MP4 alike; "" applies none.
	AudioFilter string
	// Storyboard also writes storyboard/: sprite sheets of thumbnails taken
	// from the same decode, and the WebVTT file that maps time to them.
	Storyboard bool
	// FastFirstRung encodes the lowest rung and the audio in an ffmpeg
	// process of their own, beside the one that encodes the other rungs,
	// the MP4 and the storyboard: their segments are not held back by the
	// large rungs, which encode in lockstep with them in a single process,
	// so a watcher can publish a playable rendition within seconds
	// (FirstRung names it). It costs a second decode of the source; the
	// job asks for it only when there is no remuxed MP4 to play meanwhile.
	FastFirstRung bool
	// Progress receives 0..99 as encoding advances, never twice the same
	// value and never going back; 100 is the caller's to report once it has
	// stored the result. It is called from a goroutine of Ladder's, never
	// concurrently and never after Ladder returns. A slow call only delays
	// later reports (the pipe from ffmpeg buffers them), but Ladder does not
	// return before it does.
	Progress func(percent int)
}

// Rendition is one HLS video variant Ladder wrote. It holds video only:
// the audio is one rendition of its own that every variant plays with.
type Rendition struct {
	Width, Height int
	// Bandwidth and AverageBandwidth are what the master playlist says:
	// the variant's video plus the audio rendition, in bits per second,
	// at its peak and over the whole video.
	Bandwidth        int
	AverageBandwidth int
	Playlist         string // relative to outDir, e.g. "720p/index.m3u8"
	Codecs           string // the video codec alone (RFC 6381), e.g. "avc1.64001f"
}

// AudioRendition is the one HLS audio rendition Ladder wrote.
type AudioRendition struct {
	Playlist         string // "audio/index.m3u8"
	Bandwidth        int    // peak bits per second
	AverageBandwidth int    // bits per second over the whole rendition
	Codecs           string // "mp4a.40.2"
}

// LadderResult says what Ladder wrote under outDir, as relative paths.
type LadderResult struct {
	Master         string // "master.m3u8"
	Renditions     []Rendition
	Audio          *AudioRendition // nil when the source has no audio
	ProgressiveMP4 string          // "play.mp4", or "" when not asked for
	Storyboard     string          // "storyboard/storyboard.vtt", or "" when not asked for
}

// Names of what Ladder writes under outDir. Each rendition gets a directory
// named for its short side ("720p/", or "audio/") holding index.m3u8,
// init.mp4 and the segments, so every URI in every playlist is a plain
// relative name.
const (
	masterName      = reel.MasterName
	progressiveName = "play.mp4"
	variantName     = "index.m3u8"
	liveName        = reel.LiveName // the growing copy of a variant playlist the job publishes
	audioDir        = "audio"
	initName        = "init.mp4"
	segmentPattern  = "seg_%03d.m4s"
)

// HLS packaging: CMAF segments of 4 s cut at keyframes forced every 2 s in
// every rendition at the same instants, so a player can switch rendition at
// any segment boundary.
const (
	segmentSeconds  = 4
	keyframeSeconds = 2
	maxFrameRate    = 60
	// The audio rendition: AAC-LC, stereo, 48 kHz.
	audioKbps   = 128
	audioCodecs = "mp4a.40.2"
	// progressiveShort is the largest short side of the progressive MP4: it
	// is the fallback for clients without HLS, and 720p plays everywhere.
	progressiveShort = 720
)

// Ladder encodes src into the HLS renditions PlanRungs(info, opts.Rungs)
// picks, under outDir, in one ffmpeg process that decodes the source once:
// one video-only rendition per rung, one audio rendition when the source
// has audio, and, when asked, the progressive MP4 and the storyboard. While
// ffmpeg runs, the variant playlists are EVENT playlists, valid as they grow
// (a watcher may publish them); once it is done, Ladder turns each into a
// VOD playlist and writes the master playlist itself from the sizes of the
// segments actually written. The master playlist is written last, to a
// temporary name and renamed: when it exists, everything it names is
// complete. On error, outDir may hold partial files; the caller removes it.
func Ladder(ctx context.Context, src, outDir string, info *Info, opts LadderOptions) (*LadderResult, error) {
	if info == nil {
		var err error
		if info, err = Probe(ctx, src); err != nil {
			return nil, err
		}
	}
	paths, err := absPaths(src, outDir)
	if err != nil {
		return nil, err
	}
	src, outDir = paths[0], paths[1]

	p := planLadder(info, opts)
	for _, dir := range p.dirs() {
		if err := os.MkdirAll(filepath.Join(outDir, dir), 0o755); err != nil {
			return nil, fmt.Errorf("media: ladder: %w", err)
		}
	}

	totalFrames := int64(float64(info.DurationMS) / 1000 * p.rate.float())
	progress := &progressWriter{totalFrames: totalFrames, report: opts.Progress, last: -1}
	stdout := &lineWriter{fn: progress.handle}
	// ffmpeg runs in outDir so that every output name, and every URI the
	// HLS muxer writes into the variant playlists, is relative.
	b := boundsFor(info)
	dirs := []string{filepath.Dir(src), outDir}
	first, rest, split := p.splitFirstRung(opts.FastFirstRung)
	if !split {
		err = bounded(ctx, b, outDir, stdout, dirs, "ffmpeg", ladderArgs(src, b, p)...)
	} else {
		// Progress follows the process of the large rungs, the longer one.
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return bounded(gctx, b, outDir, nil, dirs, "ffmpeg", ladderArgs(src, b, first)...) })
		g.Go(func() error { return bounded(gctx, b, outDir, stdout, dirs, "ffmpeg", ladderArgs(src, b, rest)...) })
		err = g.Wait()
	}
	progress.stop()
	if err != nil {
		return nil, err
	}
	return p.finish(ctx, b, outDir)
}

// FirstRung is the rung that LadderOptions.FastFirstRung encodes on its
// own (the lowest of those planned), and whether there is one: a ladder of
// a single rung has nothing to split.
func FirstRung(info *Info, rungs []Rung) (Rung, bool) {
	plan := PlanRungs(info, rungs)
	if len(plan) < 2 {
		return Rung{}, false
	}
	return plan[len(plan)-1], true
}

// splitFirstRung divides the plan between two ffmpeg processes when fast
// is set and there is more than one rung: first encodes the lowest rung
// and the audio rendition (and the MP4, should it ride on that rung),
// rest the other rungs, the storyboard, and the MP4's audio when the MP4
// is theirs. Together they write exactly what p writes.
func (p ladderPlan) splitFirstRung(fast bool) (first, rest ladderPlan, ok bool) {
	n := len(p.encodings)
	if !fast || n < 2 || p.encodings[n-1].dir == "" {
		return p, p, false
	}
	first, rest = p, p
	first.encodings = p.encodings[n-1:]
	first.storyboard = nil
	rest.encodings = p.encodings[:n-1]
	rest.noAudioRendition = true
	rest.audio = p.audio && rest.audioCarrier() >= 0
	if !rest.audio {
		rest.filter = ""
	}
	return first, rest, true
}

// LadderCommand returns the ffmpeg arguments Ladder would run for src (an
// absolute path), and the directories it needs under the output directory,
// in which ffmpeg must run. Benchmarks use it to time the very same command
// by hand.
func LadderCommand(src string, info *Info, opts LadderOptions) (args, dirs []string) {
	p := planLadder(info, opts)
	return ladderArgs(src, boundsFor(info), p), p.dirs()
}

// ladderPlan is everything one run of Ladder writes, decided before ffmpeg
// starts.
type ladderPlan struct {
	rate      frameRate
	encodings []encoding
	audio     bool // the source has audio: write the audio rendition
	// noAudioRendition: the audio goes to the MP4 only (the fast first
	// rung's process writes the audio rendition).
	noAudioRendition bool
	filter           string // LadderOptions.AudioFilter
	storyboard       *storyboard
}

func planLadder(info *Info, opts LadderOptions) ladderPlan {
	rate := outputFrameRate(info.FrameRate)
	p := ladderPlan{
		rate:      rate,
		encodings: planEncodings(info, rate, PlanRungs(info, opts.Rungs), opts.ProgressiveMP4),
		audio:     info.HasAudio,
		filter:    opts.AudioFilter,
	}
	if opts.Storyboard {
		p.storyboard = planStoryboard(info)
	}
	return p
}

// dirs are the directories ffmpeg writes into, relative to outDir.
func (p ladderPlan) dirs() []string {
	var dirs []string
	for _, e := range p.encodings {
		if e.dir != "" {
			dirs = append(dirs, e.dir)
		}
	}
	if p.audio {
		dirs = append(dirs, audioDir)
	}
	if p.storyboard != nil {
		dirs = append(dirs, storyboardDir)
	}
	return dirs
}

// audioCarrier is the index of the encoding whose output also carries the
// audio: the one that writes the progressive MP4, which needs the audio
// anyway, so that the audio is encoded once for both; -1 when there is no
// MP4 and the audio rendition is an output of its own.
func (p ladderPlan) audioCarrier() int {
	if !p.audio {
		return -1
	}
	return slices.IndexFunc(p.encodings, func(e encoding) bool { return e.mp4 != "" })
}

// finish checks what ffmpeg wrote against the bounds, turns the playlists
// into VOD playlists, writes the storyboard's WebVTT file and, last, the
// master playlist.
func (p ladderPlan) finish(ctx context.Context, b bounds, outDir string) (*LadderResult, error) {
	result := &LadderResult{Master: masterName}
	if p.audio {
		playlist := path.Join(audioDir, variantName)
		peak, average, err := finishPlaylist(b, outDir, playlist, maxBytesAt(audioKbps, b))
		if err != nil {
			return nil, err
		}
		result.Audio = &AudioRendition{Playlist: playlist, Bandwidth: peak, AverageBandwidth: average, Codecs: audioCodecs}
	}
	for _, e := range p.encodings {
		if e.mp4 != "" {
			if _, err := os.Stat(filepath.Join(outDir, e.mp4)); err != nil {
				return nil, fmt.Errorf("media: ladder: ffmpeg did not write the progressive MP4: %w", err)
			}
			if err := checkVideo(ctx, b, filepath.Join(outDir, e.mp4), e.maxBytes(b, p.audio)); err != nil {
				return nil, err
			}
			result.ProgressiveMP4 = e.mp4
		}
		if e.dir == "" {
			continue
		}
		playlist := path.Join(e.dir, variantName)
		peak, average, err := finishPlaylist(b, outDir, playlist, e.maxBytes(b, false))
		if err != nil {
			return nil, err
		}
		if err := checkInit(ctx, b, filepath.Join(outDir, e.dir, initName), e.width, e.height); err != nil {
			return nil, err
		}
		r := Rendition{Width: e.width, Height: e.height, Bandwidth: peak, AverageBandwidth: average,
			Playlist: playlist, Codecs: e.level.codecs()}
		if a := result.Audio; a != nil {
			r.Bandwidth += a.Bandwidth
			r.AverageBandwidth += a.AverageBandwidth
		}
		result.Renditions = append(result.Renditions, r)
	}
	if p.storyboard != nil {
		vtt, err := p.storyboard.finish(outDir)
		if err != nil {
			return nil, err
		}
		result.Storyboard = vtt
	}
	if err := writeAtomic(filepath.Join(outDir, masterName), masterPlaylist(result.Renditions, result.Audio, p.rate)); err != nil {
		return nil, fmt.Errorf("media: writing master playlist: %w", err)
	}
	return result, nil
}

// finishPlaylist checks a rendition ffmpeg wrote (what -t and -fs cannot
// see from inside the HLS muxer: its duration and bytes), turns its EVENT
// playlist into a VOD playlist, and returns its peak and average bitrates.
func finishPlaylist(b bounds, outDir, playlist string, maxBytes int64) (peak, average int, err error) {
	if err := markVOD(outDir, playlist); err != nil {
		return 0, 0, err
	}
	peak, average, seconds, size, err := measureVariant(outDir, playlist)
	if err != nil {
		return 0, 0, err
	}
	if err := b.checkDuration(time.Duration(seconds * float64(time.Second))); err != nil {
		return 0, 0, err
	}
	if size >= maxBytes {
		return 0, 0, reel.Errorf(reel.EINVALID, "the %s rendition grew to %d bytes, beyond its %d-byte bound", path.Dir(playlist), size, maxBytes)
	}
	return peak, average, nil
}

const (
	eventType = "#EXT-X-PLAYLIST-TYPE:EVENT"
	vodType   = "#EXT-X-PLAYLIST-TYPE:VOD"
	endList   = "#EXT-X-ENDLIST"
)

// markVOD turns the complete EVENT playlist ffmpeg wrote at playlist
// (relative to outDir) into a VOD playlist: a player then knows that
// nothing will be added, and may seek anywhere at once. The rewrite is
// atomic, as ffmpeg's own were, so whoever reads the playlist meanwhile
// sees one or the other.
func markVOD(outDir, playlist string) error {
	name := filepath.Join(outDir, playlist)
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("media: ladder: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	typed := slices.Index(lines, eventType)
	if typed < 0 || !slices.Contains(lines, endList) {
		return fmt.Errorf("media: ladder: ffmpeg left %s without %s and %s", playlist, eventType, endList)
	}
	lines[typed] = vodType
	if err := writeAtomic(name, []byte(strings.Join(lines, "\n"))); err != nil {
		return fmt.Errorf("media: ladder: %w", err)
	}
	return nil
}

// writeAtomic writes data to a temporary name beside name and renames it
// into place, so that a reader never sees a partial file.
func writeAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// encoding is one H.264 encode in the ladder's ffmpeg process. It feeds an
// HLS rendition (dir), the progressive MP4 (mp4), or both: the MP4 rides on
// the rendition of its size instead of costing an encode of its own.
type encoding struct {
	Rung
	width, height int
	level         h264Level
	dir           string // the rendition's directory, "" when only the MP4
	mp4           string // progressiveName when this encode also writes it
}

func planEncodings(info *Info, rate frameRate, rungs []Rung, progressive bool) []encoding {
	encodings := make([]encoding, 0, len(rungs)+1)
	for _, r := range rungs {
		encodings = append(encodings, newEncoding(info, rate, r, rungDir(r)))
	}
	if !progressive {
		return encodings
	}
	for i := range encodings { // highest first: the first that fits is the best
		if encodings[i].Short <= progressiveShort {
			encodings[i].mp4 = progressiveName
			return encodings
		}
	}
	// Every rung is above 720 (a custom ladder): encode the MP4 on its own,
	// at the default ladder's 720 rate.
	mp4 := newEncoding(info, rate, Rung{Short: progressiveShort, VideoKbps: 2500}, "")
	mp4.mp4 = progressiveName
	return append(encodings, mp4)
}

// rungDir is the directory of a rung's rendition: "720p".
func rungDir(r Rung) string { return fmt.Sprintf("%dp", r.Short) }

func newEncoding(info *Info, rate frameRate, r Rung, dir string) encoding {
	w, h := rungSize(info, r.Short)
	return encoding{
		Rung: r, width: w, height: h, dir: dir,
		level: levelFor(w, h, rate.float(), maxrateKbps(r.VideoKbps), bufsizeKbps(r.VideoKbps)),
	}
}

// rungSize is the picture size of a rung: the short side as asked, the long
// side keeping the display aspect ratio, both even.
func rungSize(info *Info, short int) (int, int) {
	w, h := max(info.Width, 1), max(info.Height, 1)
	long := even(float64(short) * float64(max(w, h)) / float64(min(w, h)))
	short = max(2, short&^1)
	if w >= h {
		return long, short
	}
	return short, long
}

// Rate control: capped VBR whose peak stays near the target, so the peak
// BANDWIDTH a player plans for is close to what it gets.
func maxrateKbps(kbps int) int { return kbps * 107 / 100 }
func bufsizeKbps(kbps int) int { return kbps * 3 / 2 }

// ladderArgs is the whole ffmpeg command line of the ladder (after
// "ffmpeg"), built in this one place. ffmpeg applies the source's rotation
// before the filter graph (autorotate) and then writes no display matrix to
// its encoded outputs, so every rendition is upright with no rotation
// metadata.
func ladderArgs(src string, b bounds, p ladderPlan) []string {
	args := ffmpegArgs("-progress", "pipe:1")
	args = append(args, inputArgs(b, src)...)
	args = append(args, "-filter_complex", p.graph())
	carrier := p.audioCarrier()
	for i, e := range p.encodings {
		withAudio := i == carrier
		args = append(args, "-map", fmt.Sprintf("[v%d]", i))
		if withAudio {
			args = append(args, "-map", p.audioSource())
		}
		args = append(args,
			"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-level:v", e.level.String(),
			"-b:v", kbpsArg(e.VideoKbps), "-maxrate", kbpsArg(maxrateKbps(e.VideoKbps)), "-bufsize", kbpsArg(bufsizeKbps(e.VideoKbps)),
			// Keyframes exactly every 2 s and nowhere else, on a constant
			// frame rate, so all renditions cut segments at the same instants.
			"-sc_threshold", "0",
			"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%d)", keyframeSeconds),
			"-fps_mode", "cfr",
		)
		if withAudio {
			args = append(args, audioArgs...)
		}
		args = append(args, noMetadata...)
		args = append(args, outputArgs(b, e.maxBytes(b, withAudio))...)
		args = append(args, muxerArgs(e.outputs(withAudio, withAudio && !p.noAudioRendition))...)
	}
	if p.audio && carrier < 0 && !p.noAudioRendition {
		args = append(args, "-map", p.audioSource())
		args = append(args, audioArgs...)
		args = append(args, noMetadata...)
		args = append(args, outputArgs(b, maxBytesAt(audioKbps, b))...)
		args = append(args, muxerArgs([]output{hlsOutput(audioDir, "")})...)
	}
	if p.storyboard != nil {
		args = append(args, p.storyboard.outputArgs(b)...)
	}
	return args
}

// audioArgs encode the audio rendition (and the MP4's audio, the same
// stream): AAC-LC, stereo, 48 kHz, whatever the source's layout and rate.
var audioArgs = []string{"-c:a", "aac", "-b:a", kbpsArg(audioKbps), "-ac", "2", "-ar", "48000"}

// noMetadata drops the source's metadata: phones record their location in
// it, and viewers need none of it.
var noMetadata = []string{"-map_metadata", "-1", "-map_chapters", "-1"}

// maxBytes bounds what one encoding writes (its HLS rendition, video only,
// and its MP4, with the audio when it has some): see maxBytesAt.
func (e encoding) maxBytes(b bounds, withAudio bool) int64 {
	kbps := maxrateKbps(e.VideoKbps)
	if withAudio {
		kbps += audioKbps
	}
	return maxBytesAt(kbps, b)
}

// maxBytesAt bounds an output of kbps at its peak: twice that rate over the
// longest output, plus room for headers. The rate control keeps an encode
// near its peak rate, so only a broken encode comes near this.
func maxBytesAt(kbps int, b bounds) int64 {
	return 2*int64(kbps)*1000/8*int64(b.duration/time.Millisecond)/1000 + 4<<20
}

// graph decodes once, brings the video to the output frame rate once, and
// splits it into one scaled copy per encoding (and one for the storyboard).
// The sizes are computed from the display size, and setsar=1 makes the
// output pixels square, so non-square sources keep their shape. The audio
// filter, when there is one, runs once, before the one audio encode.
func (p ladderPlan) graph() string {
	var b strings.Builder
	branches := len(p.encodings)
	if p.storyboard != nil {
		branches++
	}
	fmt.Fprintf(&b, "[0:V:0]fps=%s,split=%d", p.rate, branches)
	for i := range branches {
		fmt.Fprintf(&b, "[s%d]", i)
	}
	for i, e := range p.encodings {
		fmt.Fprintf(&b, ";[s%d]scale=%d:%d,setsar=1,format=yuv420p[v%d]", i, e.width, e.height, i)
	}
	if p.storyboard != nil {
		fmt.Fprintf(&b, ";[s%d]%s[%s]", len(p.encodings), p.storyboard.filter(), storyboardLabel)
	}
	if p.audio && p.filter != "" {
		fmt.Fprintf(&b, ";[0:a:0]%s[a]", p.filter)
	}
	return b.String()
}

// audioSource is what the audio encode reads: the filtered audio, or the
// source's first audio stream as it is.
func (p ladderPlan) audioSource() string {
	if p.filter != "" {
		return "[a]"
	}
	return "0:a:0"
}

// output is one file (or HLS rendition) an ffmpeg output writes, through
// the muxer format with opts; sel picks the streams it takes when several
// share the output through the tee muxer ("v", "a"; "" for all).
type output struct {
	format, sel, target string
	opts                [][2]string
}

// hlsOutput is a CMAF HLS rendition in dir: fMP4 segments carrying the
// cmfc brand, and an EVENT playlist, valid while it grows (markVOD turns
// it into a VOD playlist at the end).
func hlsOutput(dir, sel string) output {
	return output{format: "hls", sel: sel, target: path.Join(dir, variantName), opts: [][2]string{
		{"hls_time", strconv.Itoa(segmentSeconds)},
		{"hls_playlist_type", "event"},
		{"hls_segment_type", "fmp4"},
		{"hls_flags", "independent_segments"},
		{"hls_segment_options", "movflags=+cmaf"},
		{"hls_fmp4_init_filename", initName}, // written beside the playlist
		{"hls_segment_filename", path.Join(dir, segmentPattern)},
	}}
}

var mp4Output = output{format: "mp4", target: progressiveName, opts: [][2]string{{"movflags", "+faststart"}}}

// outputs are what an encoding writes: its video rendition, the MP4, and
// the audio rendition when it carries the audio and writes its rendition.
func (e encoding) outputs(withAudio, audioRendition bool) []output {
	var outs []output
	if e.dir != "" {
		sel := ""
		if withAudio {
			sel = "v"
		}
		outs = append(outs, hlsOutput(e.dir, sel))
	}
	if audioRendition {
		outs = append(outs, hlsOutput(audioDir, "a"))
	}
	if e.mp4 != "" {
		outs = append(outs, mp4Output)
	}
	return outs
}

// muxerArgs write one output as it is, or several through the tee muxer
// (which needs the codec headers global).
func muxerArgs(outs []output) []string {
	if len(outs) == 1 {
		o := outs[0]
		args := []string{"-f", o.format}
		for _, opt := range o.opts {
			args = append(args, "-"+opt[0], opt[1])
		}
		return append(args, o.target)
	}
	slaves := make([]string, len(outs))
	for i, o := range outs {
		opts := []string{"f=" + o.format}
		if o.sel != "" {
			opts = append(opts, "select="+o.sel)
		}
		for _, opt := range o.opts {
			opts = append(opts, opt[0]+"="+opt[1])
		}
		// onfail=abort: by default tee carries on when one output fails.
		opts = append(opts, "onfail=abort")
		slaves[i] = "[" + strings.Join(opts, ":") + "]" + o.target
	}
	return []string{"-flags", "+global_header", "-f", "tee", strings.Join(slaves, "|")}
}

func kbpsArg(kbps int) string { return strconv.Itoa(kbps) + "k" }

// LiveMaster is the master playlist a job publishes while Ladder still
// runs, over the growing playlists it uploads as {dir}/live.m3u8 (and
// audio/live.m3u8): the shape of Ladder's master for the same info and
// rungs, with the nominal bitrates (each rung's maxrate plus the audio's)
// since no segment size is known yet.
func LiveMaster(info *Info, rungs []Rung) []byte {
	rate := outputFrameRate(info.FrameRate)
	var audio *AudioRendition
	if info.HasAudio {
		bps := audioKbps * 1000
		audio = &AudioRendition{Playlist: path.Join(audioDir, liveName), Bandwidth: bps, AverageBandwidth: bps, Codecs: audioCodecs}
	}
	var renditions []Rendition
	for _, r := range PlanRungs(info, rungs) {
		e := newEncoding(info, rate, r, rungDir(r))
		v := Rendition{Width: e.width, Height: e.height, Bandwidth: maxrateKbps(r.VideoKbps) * 1000,
			AverageBandwidth: r.VideoKbps * 1000, Playlist: path.Join(e.dir, liveName), Codecs: e.level.codecs()}
		if audio != nil {
			v.Bandwidth += audio.Bandwidth
			v.AverageBandwidth += audio.AverageBandwidth
		}
		renditions = append(renditions, v)
	}
	return masterPlaylist(renditions, audio, rate)
}

// masterPlaylist is the master playlist of renditions, in the order given
// (highest first), each with the audio rendition when there is one. It is
// the one writer of the format, for Ladder's master and LiveMaster's.
func masterPlaylist(renditions []Rendition, audio *AudioRendition, rate frameRate) []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	if audio != nil {
		fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=%q,NAME=\"Audio\",LANGUAGE=\"und\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=%q\n",
			audioGroup, audio.Playlist)
	}
	for _, r := range renditions {
		codecs, group := r.Codecs, ""
		if audio != nil {
			codecs += "," + audio.Codecs
			group = fmt.Sprintf(",AUDIO=%q", audioGroup)
		}
		fmt.Fprintf(&b, "\n#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%dx%d,CODECS=%q,FRAME-RATE=%.3f%s\n%s\n",
			r.Bandwidth, r.AverageBandwidth, r.Width, r.Height, codecs, rate.float(), group, r.Playlist)
	}
	return b.Bytes()
}

// audioGroup is the GROUP-ID of the audio rendition in the master playlist.
const audioGroup = "audio"

// measureVariant reads a variant playlist and the sizes of its segments and
// returns its peak and average bitrates. The peak follows Apple's HLS
// authoring rules: the highest rate over any run of consecutive segments
// lasting 0.5 to 1.5 target durations, so a short last segment does not
// count as a peak on its own.
func measureVariant(outDir, playlist string) (peak, average int, totalSeconds float64, totalBytes int64, err error) {
	data, err := os.ReadFile(filepath.Join(outDir, playlist))
	if err != nil {
		return 0, 0, 0, 0, fmt.Errorf("media: ladder: %w", err)
	}
	type segment struct {
		seconds float64
		bytes   int64
	}
	var segments []segment
	target, seconds := 0.0, -1.0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			target = parseFloat(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
		case strings.HasPrefix(line, "#EXTINF:"):
			d, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			seconds = parseFloat(d)
		case line != "" && !strings.HasPrefix(line, "#") && seconds >= 0:
			fi, err := os.Stat(filepath.Join(outDir, path.Dir(playlist), line))
			if err != nil {
				return 0, 0, 0, 0, fmt.Errorf("media: ladder: %w", err)
			}
			segments = append(segments, segment{seconds, fi.Size()})
			seconds = -1
		}
	}
	for _, s := range segments {
		totalBytes += s.bytes
		totalSeconds += s.seconds
	}
	if len(segments) == 0 || totalSeconds <= 0 {
		return 0, 0, 0, 0, fmt.Errorf("media: ladder: %s has no segments", playlist)
	}
	bps := func(bytes int64, seconds float64) int { return int(math.Ceil(float64(bytes) * 8 / seconds)) }
	average = bps(totalBytes, totalSeconds)
	peak = average
	for i := range segments {
		var bytes int64
		seconds := 0.0
		for _, s := range segments[i:] {
			bytes += s.bytes
			seconds += s.seconds
			if seconds > 1.5*target {
				break
			}
			if seconds >= 0.5*target {
				peak = max(peak, bps(bytes, seconds))
			}
		}
	}
	return peak, average, totalSeconds, totalBytes, nil
}

// progressWriter takes ffmpeg's -progress lines and reports the share of
// the duration encoded so far, until it is stopped.
// progressWriter turns ffmpeg's -progress output into percents. It counts
// the frames of the first video output (a rendition, whose frame rate is
// the ladder's constant one), not out_time: out_time is the furthest any
// output has reached, and the storyboard's sprite sheet, one frame that
// stands for up to 100 seconds, reaches the end at its first frame.
type progressWriter struct {
	totalFrames int64
	report      func(int)
	mu          sync.Mutex // held while reporting, so stop waits for a report under way
	last        int
	stopped     bool
}

// stop makes sure report is not running and will not run again: the pipe
// copy that feeds the writer can outlive the ffmpeg process by up to
// waitDelay.
func (p *progressWriter) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
}

func (p *progressWriter) handle(line string) {
	frames, ok := strings.CutPrefix(strings.TrimSpace(line), "frame=")
	if !ok || p.report == nil || p.totalFrames <= 0 {
		return
	}
	done, err := strconv.ParseInt(strings.TrimSpace(frames), 10, 64)
	if err != nil {
		return
	}
	percent := min(99, int(done*100/p.totalFrames))
	p.mu.Lock()
	defer p.mu.Unlock()
	if percent > p.last && !p.stopped {
		p.last = percent
		p.report(percent)
	}
}

// frameRate is the constant output frame rate of the ladder, as a fraction
// so that NTSC rates stay exact.
type frameRate struct{ num, den int }

func (r frameRate) String() string {
	if r.den == 1 {
		return strconv.Itoa(r.num)
	}
	return fmt.Sprintf("%d/%d", r.num, r.den)
}

func (r frameRate) float() float64 { return float64(r.num) / float64(r.den) }

var standardRates = []frameRate{{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {48, 1}, {50, 1}, {60000, 1001}, {60, 1}}

// outputFrameRate picks the constant rate for a source's average rate:
// capped at 60, and snapped to a standard rate when within 1.5% of one,
// since phones record variable rates averaging just off 30 or 60.
func outputFrameRate(fps float64) frameRate {
	if fps <= 0 {
		return frameRate{30, 1}
	}
	if fps >= maxFrameRate {
		return frameRate{maxFrameRate, 1}
	}
	best := frameRate{}
	for _, r := range standardRates {
		if math.Abs(r.float()-fps)/fps <= 0.015 && (best.den == 0 || math.Abs(r.float()-fps) < math.Abs(best.float()-fps)) {
			best = r
		}
	}
	if best.den != 0 {
		return best
	}
	num, den := int(math.Round(fps*1000)), 1000
	a, b := num, den
	for b != 0 {
		a, b = b, a%b
	}
	return frameRate{num / a, den / a}
}

// h264Level is a row of the H.264 level limits (ITU-T H.264 Table A-1).
// Ladder picks, per rendition, the lowest level that fits, encodes with it,
// and writes the same level into CODECS, so players can tell what they can
// decode before fetching anything.
type h264Level struct {
	idc     int // level_idc: 31 for level 3.1
	maxMBPS int // macroblocks per second
	maxFS   int // macroblocks per frame
	maxBR   int // kbit/s, Baseline/Main; High allows 1.25x
	maxCPB  int // kbit, Baseline/Main; High allows 1.25x
}

var h264Levels = []h264Level{
	{10, 1485, 99, 64, 175},
	{11, 3000, 396, 192, 500},
	{12, 6000, 396, 384, 1000},
	{13, 11880, 396, 768, 2000},
	{20, 11880, 396, 2000, 2000},
	{21, 19800, 792, 4000, 4000},
	{22, 20250, 1620, 4000, 4000},
	{30, 40500, 1620, 10000, 10000},
	{31, 108000, 3600, 14000, 14000},
	{32, 216000, 5120, 20000, 20000},
	{40, 245760, 8192, 20000, 25000},
	{41, 245760, 8192, 50000, 62500},
	{42, 522240, 8704, 50000, 62500},
	{50, 589824, 22080, 135000, 135000},
	{51, 983040, 36864, 240000, 240000},
	{52, 2073600, 36864, 240000, 240000},
}

func levelFor(width, height int, fps float64, maxrateKbps, bufsizeKbits int) h264Level {
	mbW, mbH := (width+15)/16, (height+15)/16
	frame := mbW * mbH
	for _, l := range h264Levels {
		// A side may not exceed sqrt(8*MaxFS) macroblocks.
		side := int(math.Sqrt(float64(8 * l.maxFS)))
		if frame <= l.maxFS && mbW <= side && mbH <= side &&
			float64(frame)*fps <= float64(l.maxMBPS) &&
			maxrateKbps*4 <= l.maxBR*5 && bufsizeKbits*4 <= l.maxCPB*5 {
			return l
		}
	}
	return h264Levels[len(h264Levels)-1]
}

func (l h264Level) String() string { return fmt.Sprintf("%d.%d", l.idc/10, l.idc%10) }

// codecs is the video's CODECS attribute: High profile (0x64), no
// constraint flags (what x264 writes for High), the level.
func (l h264Level) codecs() string { return fmt.Sprintf("avc1.6400%02x", l.idc) }
