package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/reel-video/reel"
)

// Info is what Probe learns about a video file.
type Info struct {
	DurationMS int64
	// Width and Height are the size a player shows: the sample aspect ratio
	// is applied to the width, then the rotation, so a 1920x1080 stream
	// rotated 90° is 1080x1920. They may be odd.
	Width, Height int
	// Rotation is how many degrees clockwise a player turns the stored
	// picture to show it upright (0, 90, 180 or 270): the meaning of the
	// legacy "rotate" tag, so a phone held upright records 90.
	Rotation   int
	VideoCodec string // ffprobe codec_name, e.g. "h264", "vp9"
	AudioCodec string // "" when there is no audio
	HasAudio   bool
	FrameRate  float64 // avg_frame_rate, or r_frame_rate when that is unknown
	PixFmt     string
	FormatName string // ffprobe format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	Bitrate    int64  // bits per second over the whole file, 0 when unknown

	// checked is the Limits that passed this Info (see Limits.Check): Cover,
	// Remux and Ladder bound their runs by them.
	checked *Limits
}

// Probe runs ffprobe on the file at path. A file that is not a video reel can
// process is an *reel.Error with code reel.EUNSUPPORTED and a reason a user
// can read: unreadable, no video stream, a container outside the allowed
// ones, or a picture. Pictures (PNG, JPEG, GIF: ffprobe's image2, gif and
// *_pipe formats) and anything shorter than 0.1 s are not videos, even though
// ffprobe shows them as a video stream. Limits are checked separately, by
// Limits.Check.
func Probe(ctx context.Context, path string) (*Info, error) {
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	// Open it ourselves so that a missing or unreadable file is reported as
	// what it is, not as "not a video".
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("media: probe: %w", err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("media: probe: %w", err)
	}
	return probe(ctx, fileInput(abs), fi.Size())
}

// ProbeURL is Probe of a file that ffprobe reads over http(s) from rawURL,
// size bytes long: an upload kept in an S3-compatible store, read through a
// short-lived presigned URL, so that checking it does not copy it first.
// ffprobe reads only what it needs (the headers, an index) with range
// requests. Every bound of Probe holds, and only the protocols an http(s)
// URL needs may be opened. A failure to read the URL (the server down, an
// expired URL) is an error of its own, never taken for a file that is not
// a video; the URL, whose query is a credential, is never part of an error.
func ProbeURL(ctx context.Context, rawURL string, size int64) (*Info, error) {
	in, err := urlInput(rawURL)
	if err != nil {
		return nil, err
	}
	return probe(ctx, in, size)
}

func probe(ctx context.Context, in input, size int64) (*Info, error) {
	out := &limitedBuffer{max: 4 << 20}
	if err := runProbe(ctx, in, out, "-show_format", "-show_streams", "-print_format", "json"); err != nil {
		return nil, err
	}
	if out.overflow {
		return nil, unsupported("too many streams")
	}
	var probed probeOutput
	if err := json.Unmarshal(out.Bytes(), &probed); err != nil {
		return nil, fmt.Errorf("media: reading ffprobe output: %w", err)
	}
	info, err := probed.info()
	if err != nil {
		return nil, err
	}
	if info.DurationMS <= 0 {
		// Browsers' MediaRecorder writes WebM with no duration in it:
		// measure it from the packets, which reads the file but decodes
		// nothing.
		span := &packetSpan{}
		if err := runProbe(ctx, in, &lineWriter{fn: span.add}, "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0"); err != nil {
			return nil, err
		}
		info.DurationMS = span.milliseconds()
	}
	if time.Duration(info.DurationMS)*time.Millisecond < minDuration {
		return nil, unsupported("too short to be a video (a single picture?)")
	}
	if info.Bitrate <= 0 {
		info.Bitrate = size * 8 * 1000 / info.DurationMS
	}
	return info, nil
}

// runProbe runs ffprobe on in. ffprobe exiting with an error means it
// could not read the file: that is the file's fault, and the user's to hear
// about, as EUNSUPPORTED, unless the input is a URL that could not be read.
// A file in a container outside the allowed ones is refused by ffprobe
// before it reads anything the file names, so the reason is the same
// whether such a named file exists or not.
func runProbe(ctx context.Context, in input, stdout io.Writer, args ...string) error {
	args = append(append([]string{"-v", "error"}, args...), in.args(probeBounds)...)
	err := bounded(ctx, probeBounds, "", stdout, in.redact, "ffprobe", args...)
	var toolErr *ToolError
	var exit *exec.ExitError
	if errors.As(err, &toolErr) {
		toolErr.Stderr = in.hide(toolErr.Stderr)
	}
	if errors.As(err, &toolErr) && errors.As(toolErr.Err, &exit) && exit.ExitCode() > 0 {
		if m := notOnWhitelist.FindStringSubmatch(toolErr.Stderr); m != nil {
			return refusedFormat(m[1])
		}
		if in.url != "" && unreadableURL.MatchString(toolErr.Stderr) {
			return fmt.Errorf("media: probe: the upload could not be read from the store: %s", tellingLine(toolErr.Stderr))
		}
		return unsupported("not a media file ffprobe can read%s", reasonSuffix(toolErr.Stderr))
	}
	return err
}

// unreadableURL is how ffmpeg's http, tls and tcp protocols say that a URL
// could not be read: the store's fault or the network's, not the file's.
var unreadableURL = regexp.MustCompile(`Server returned|Connection refused|Connection reset|[Tt]imed out|Network is unreachable|Failed to resolve|Stream ends prematurely|Protocol '[^']*' not on whitelist|Input/output error|Error in the pull function|TLS`)

// notOnWhitelist is how ffmpeg says it recognised a container outside
// -format_whitelist; the bracket names the demuxer it found.
var notOnWhitelist = regexp.MustCompile(`\[([a-z0-9_,]+) @ 0x[0-9a-f]+\] Format not on whitelist`)

// refusedFormat is the reason a file in the container ffprobe names format
// (a format_name or a demuxer name) is refused.
func refusedFormat(format string) error {
	switch {
	case format == "image2" || strings.HasSuffix(format, "_pipe") || format == "gif":
		return unsupported("an image, not a video")
	case format == "tty": // ffprobe takes any .txt file for ANSI art
		return unsupported("a text file, not a video")
	}
	return unsupported("unsupported container format %q", format)
}

// Limits bound what reel accepts. Sizes are compared by the long and the
// short side so that portrait and landscape clips are treated alike. A zero
// field means no limit.
type Limits struct {
	MaxDuration time.Duration
	MaxLong     int // pixels on the long side
	MaxShort    int // pixels on the short side
}

// DefaultLimits accept up to 10 minutes of 4K, landscape or portrait.
var DefaultLimits = Limits{MaxDuration: 10 * time.Minute, MaxLong: 4096, MaxShort: 2160}

// Check returns a reel.EINVALID *reel.Error saying which limit info exceeds,
// or nil. An Info that passes remembers l: Cover, Remux and Ladder given it
// then hold what they decode and write to l as well, whatever the file's
// header said (DefaultLimits for an Info never checked).
func (l Limits) Check(info *Info) error {
	d := time.Duration(info.DurationMS) * time.Millisecond
	if l.MaxDuration > 0 && d > l.MaxDuration {
		// Whole seconds read best, unless rounding makes d look within the limit.
		shown := d.Round(time.Second)
		if shown <= l.MaxDuration {
			shown = d.Round(time.Millisecond)
		}
		return reel.Errorf(reel.EINVALID, "duration %s exceeds the %s limit",
			formatDuration(shown), formatDuration(l.MaxDuration))
	}
	long, short := max(info.Width, info.Height), min(info.Width, info.Height)
	if (l.MaxLong > 0 && long > l.MaxLong) || (l.MaxShort > 0 && short > l.MaxShort) {
		return reel.Errorf(reel.EINVALID, "%dx%d exceeds %dx%d", info.Width, info.Height, l.MaxLong, l.MaxShort)
	}
	info.checked = &l
	return nil
}

// minDuration is the shortest file treated as a video: below it there is at
// most a frame or two, which is a picture, not a clip.
const minDuration = 100 * time.Millisecond

type probeOutput struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

type probeStream struct {
	CodecType         string `json:"codec_type"`
	CodecName         string `json:"codec_name"`
	Width             int    `json:"width"`
	Height            int    `json:"height"`
	PixFmt            string `json:"pix_fmt"`
	SampleAspectRatio string `json:"sample_aspect_ratio"`
	AvgFrameRate      string `json:"avg_frame_rate"`
	RFrameRate        string `json:"r_frame_rate"`
	Duration          string `json:"duration"`
	Disposition       struct {
		AttachedPic int `json:"attached_pic"`
	} `json:"disposition"`
	Tags         map[string]string `json:"tags"`
	SideDataList []struct {
		SideDataType string  `json:"side_data_type"`
		Rotation     float64 `json:"rotation"`
	} `json:"side_data_list"`
}

func (p *probeOutput) info() (*Info, error) {
	var video, audio *probeStream
	for i := range p.Streams {
		s := &p.Streams[i]
		switch {
		// Cover art in an audio file is a video stream too; it is not a video.
		case s.CodecType == "video" && s.Disposition.AttachedPic == 0 && video == nil:
			video = s
		case s.CodecType == "audio" && audio == nil:
			audio = s
		}
	}
	format := p.Format.FormatName
	switch {
	case !acceptedFormat(format): // ffprobe's whitelist already refused it
		return nil, refusedFormat(format)
	case video == nil:
		return nil, unsupported("no video stream")
	case video.Width <= 0 || video.Height <= 0:
		return nil, unsupported("video stream has no picture size")
	}

	seconds := parseFloat(p.Format.Duration)
	if seconds <= 0 {
		seconds = parseFloat(video.Duration)
	}
	info := &Info{
		DurationMS: int64(math.Round(seconds * 1000)),
		Rotation:   video.rotation(),
		VideoCodec: video.CodecName,
		PixFmt:     video.PixFmt,
		FormatName: format,
		FrameRate:  parseRate(video.AvgFrameRate),
	}
	if info.FrameRate <= 0 {
		info.FrameRate = parseRate(video.RFrameRate)
	}
	info.Bitrate, _ = strconv.ParseInt(p.Format.BitRate, 10, 64)
	if audio != nil {
		info.HasAudio = true
		info.AudioCodec = audio.CodecName
	}
	info.Width, info.Height = video.Width, video.Height
	if sar := parseRate(video.SampleAspectRatio); sar > 0 && sar != 1 {
		info.Width = int(math.Round(float64(video.Width) * sar))
	}
	if info.Rotation == 90 || info.Rotation == 270 {
		info.Width, info.Height = info.Height, info.Width
	}
	return info, nil
}

// rotation reads the display matrix (ffmpeg 5+) or, from older muxers'
// files, the rotate tag. ffprobe gives the matrix angle counter-clockwise
// and the tag clockwise; Info.Rotation is clockwise.
func (s *probeStream) rotation() int {
	degrees := 0.0
	if tag, ok := s.Tags["rotate"]; ok {
		degrees = parseFloat(tag)
	}
	for _, sd := range s.SideDataList {
		if sd.SideDataType == "Display Matrix" {
			degrees = -sd.Rotation
		}
	}
	quarter := int(math.Round(degrees / 90))
	return ((quarter%4 + 4) % 4) * 90
}

// packetSpan takes ffprobe's "pts_time,duration_time" packet lines as they
// stream by and keeps only the span they cover, so memory stays flat however
// long the file.
type packetSpan struct {
	start, end float64
	seen       bool
}

func (p *packetSpan) add(line string) {
	fields := strings.Split(strings.TrimSpace(line), ",")
	pts, err := strconv.ParseFloat(fields[0], 64)
	if err != nil { // "N/A"
		return
	}
	end := pts
	if len(fields) > 1 {
		end += parseFloat(fields[1])
	}
	if !p.seen {
		p.start, p.end, p.seen = pts, end, true
	}
	p.start, p.end = min(p.start, pts), max(p.end, end)
}

func (p *packetSpan) milliseconds() int64 {
	return int64(math.Round((p.end - p.start) * 1000))
}

func unsupported(format string, args ...any) error {
	return reel.Errorf(reel.EUNSUPPORTED, format, args...)
}

// reasonSuffix turns ffprobe's complaint into ": <complaint>" for a user-facing
// message. The path prefix ffprobe puts before it has been redacted to the
// base name already; what remains after the last ": " is the reason.
func reasonSuffix(stderr string) string {
	line := tellingLine(stderr)
	if i := strings.LastIndex(line, ": "); i >= 0 {
		line = line[i+2:]
	}
	if line == "" {
		return ""
	}
	if len(line) > 200 { // a hostile file can make ffprobe print a lot
		line = strings.ToValidUTF8(line[:200], "") + "..."
	}
	return " (" + line + ")"
}

// parseRate reads ffprobe's "num/den" rates and ratios ("30000/1001",
// "4:3"); anything unreadable or with a zero denominator is 0.
func parseRate(s string) float64 {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		num, den, ok = strings.Cut(s, ":")
	}
	if !ok {
		return parseFloat(s)
	}
	n, d := parseFloat(num), parseFloat(den)
	if d == 0 {
		return 0
	}
	return n / d
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// formatDuration writes d for people: "10m" rather than "10m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
