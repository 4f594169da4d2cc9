package captions

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/reel-video/reel"
)

// Limits on an uploaded captions file.
const (
	MaxBytes = 512 << 10 // of the file as uploaded
	MaxCues  = 10_000
	// maxTimeMS bounds cue times (100 hours): far past any video reel
	// accepts, and short of any overflow.
	maxTimeMS = 100 * 3600 * 1000
)

// Formats Parse recognises.
const (
	FormatWebVTT = "webvtt"
	FormatSRT    = "srt"
)

// Track is an uploaded captions file made into clean WebVTT.
type Track struct {
	WebVTT []byte
	Cues   int
	Format string // what was uploaded: FormatWebVTT or FormatSRT
}

// Parse reads a WebVTT or SRT file (told apart by their first line) and
// writes it out again as WebVTT that every player reads alike: UTF-8
// without a byte order mark, LF line ends, every timestamp parsed and
// written hh:mm:ss.mmm (an SRT's commas become dots), cues in order of
// their start, SRT cue numbers dropped, and the cue text kept as text:
// markup WebVTT defines (<b>, <i>, <u>, <c.x>, <v Name>, <lang x>, <ruby>,
// <rt>, timestamps, character references) stays, anything else that looks
// like a tag or an entity is escaped, so that a player that renders cue
// text as HTML shows it literally. NOTE and STYLE blocks are dropped: STYLE
// is CSS that would load what it names in the viewer's page. Anything that
// is not captions is refused with a reason (EBADREQUEST; ETOOLARGE over
// MaxBytes).
func Parse(data []byte) (*Track, error) {
	if len(data) > MaxBytes {
		return nil, reel.Errorf(reel.ETOOLARGE, "captions file exceeds %d KiB", MaxBytes>>10)
	}
	text, err := plainText(data)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(text, "\n")
	p := &parser{}
	switch {
	case isWebVTTSignature(lines[0]):
		p.format = FormatWebVTT
		err = p.parseBlocks(lines, 1)
	case looksLikeSRT(lines):
		p.format = FormatSRT
		err = p.parseBlocks(lines, 0)
	default:
		return nil, bad("this is neither WebVTT (which begins with the line WEBVTT) nor SRT (which begins with a cue number and a line such as 00:00:01,000 --> 00:00:02,000)")
	}
	if err != nil {
		return nil, err
	}
	if len(p.cues) == 0 {
		return nil, bad("the file holds no cues")
	}
	slices.SortStableFunc(p.cues, func(a, b cue) int { return int(a.start - b.start) })
	return &Track{WebVTT: p.write(), Cues: len(p.cues), Format: p.format}, nil
}

// bad is a refusal of the file, for its uploader.
func bad(format string, args ...any) error {
	return reel.Errorf(reel.EBADREQUEST, "captions: "+format, args...)
}

// plainText checks that data is UTF-8 text and returns it without its
// byte order mark and with LF line ends.
func plainText(data []byte) (string, error) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return "", bad("the file is UTF-16: save it as UTF-8")
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	// Control characters first: binary data is seldom valid UTF-8, and
	// "not text" is the better reason for it.
	for i, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7F {
			return "", bad("the file is not text: it holds the control character %U at byte %d", rune(c), i)
		}
	}
	if !utf8.Valid(data) {
		return "", bad("the file is not UTF-8 text: save it as UTF-8")
	}
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n"), nil
}

// isWebVTTSignature reports whether line is a WebVTT file's first line:
// WEBVTT, alone or followed by a space or tab and any text.
func isWebVTTSignature(line string) bool {
	rest, ok := strings.CutPrefix(line, "WEBVTT")
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// looksLikeSRT reports whether the first line that is not blank is an SRT
// cue number or a timing line.
func looksLikeSRT(lines []string) bool {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		return isCueNumber(l) || strings.Contains(l, "-->")
	}
	return false
}

func isCueNumber(l string) bool {
	_, err := strconv.ParseUint(strings.TrimSpace(l), 10, 32)
	return err == nil
}

type cue struct {
	id         string // WebVTT only
	start, end int64  // milliseconds
	settings   string // WebVTT only
	text       []string
}

type parser struct {
	format  string
	regions [][]string // WebVTT REGION blocks, kept as they are
	cues    []cue
}

// parseBlocks reads the blocks (runs of lines between blank ones) from
// lines[from:]; for WebVTT, the rest of the header block is skipped first.
func (p *parser) parseBlocks(lines []string, from int) error {
	i := from
	if p.format == FormatWebVTT {
		// Header lines (metadata of old drafts) are dropped; a timing line
		// ends the header as it does for browsers, blank line or not.
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" && !strings.Contains(lines[i], "-->") {
			i++
		}
	}
	for i < len(lines) {
		if strings.TrimSpace(lines[i]) == "" {
			i++
			continue
		}
		start := i
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			i++
		}
		if err := p.block(lines[start:i], start+1); err != nil {
			return err
		}
	}
	return nil
}

// block reads one block whose first line is line number n (from 1).
func (p *parser) block(b []string, n int) error {
	if p.format == FormatWebVTT && !strings.Contains(b[0], "-->") {
		switch word := firstWord(b[0]); {
		case word == "NOTE", word == "STYLE" && !anyContains(b, "-->"):
			return nil
		case word == "REGION" && !anyContains(b, "-->"):
			if len(p.cues) == 0 { // the standard allows regions before the cues only
				p.regions = append(p.regions, regionBlock(b))
			}
			return nil
		}
	}
	var c *cue
	id := ""
	for k, line := range b {
		if !strings.Contains(line, "-->") {
			switch {
			case c != nil:
				c.text = append(c.text, line)
			case k == 0:
				id = line
			default:
				return bad("line %d: expected a cue timing line such as %s", n+k, p.example())
			}
			continue
		}
		if c != nil {
			// A timing line inside a cue's text: the blank line between
			// two cues is missing. In SRT the line before it is the next
			// cue's number.
			if p.format == FormatSRT && len(c.text) > 0 && isCueNumber(c.text[len(c.text)-1]) {
				c.text = c.text[:len(c.text)-1]
			}
			if err := p.add(c); err != nil {
				return err
			}
		}
		next, err := p.timing(line, n+k)
		if err != nil {
			return err
		}
		if p.format == FormatWebVTT && k == 1 {
			next.id = strings.TrimSpace(id)
		}
		c = next
	}
	if c == nil {
		if p.format == FormatSRT && len(b) == 1 && isCueNumber(b[0]) {
			return bad("line %d: cue %s has no timing line", n, strings.TrimSpace(b[0]))
		}
		return bad("line %d: expected a cue timing line such as %s", n, p.example())
	}
	return p.add(c)
}

func (p *parser) add(c *cue) error {
	if len(p.cues) == MaxCues {
		return bad("the file holds more than %d cues", MaxCues)
	}
	for i, l := range c.text {
		c.text[i] = cueText(l, p.format == FormatSRT)
	}
	p.cues = append(p.cues, *c)
	return nil
}

func (p *parser) example() string {
	if p.format == FormatSRT {
		return "00:00:01,000 --> 00:00:02,500"
	}
	return "00:00:01.000 --> 00:00:02.500"
}

// timing parses a cue timing line, line number n.
func (p *parser) timing(line string, n int) (*cue, error) {
	left, right, _ := strings.Cut(line, "-->")
	fields := strings.Fields(right)
	if len(fields) == 0 {
		return nil, bad("line %d: the cue has no end time; expected a line such as %s", n, p.example())
	}
	start, err := p.timestamp(strings.TrimSpace(left), n)
	if err != nil {
		return nil, err
	}
	end, err := p.timestamp(fields[0], n)
	if err != nil {
		return nil, err
	}
	if end <= start {
		return nil, bad("line %d: the cue ends (%s) before it starts (%s)", n, formatTime(end), formatTime(start))
	}
	c := &cue{start: start, end: end}
	if p.format == FormatWebVTT {
		// SRT's extras on this line (X1:… coordinates) mean nothing in WebVTT.
		c.settings = cueSettings(fields[1:])
	}
	return c, nil
}

var (
	webvttTime = regexp.MustCompile(`^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$`)
	srtTime    = regexp.MustCompile(`^(\d{1,3}):([0-5]\d):([0-5]\d)[,.](\d{3})$`)
)

// timestamp parses a WebVTT ([hh:]mm:ss.mmm) or SRT (hh:mm:ss,mmm) time
// into milliseconds.
func (p *parser) timestamp(s string, n int) (int64, error) {
	re, want := webvttTime, "mm:ss.mmm or hh:mm:ss.mmm"
	if p.format == FormatSRT {
		re, want = srtTime, "hh:mm:ss,mmm"
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, bad("line %d: %q is not a timestamp (%s)", n, s, want)
	}
	var parts [4]int64
	for i, f := range m[1:] {
		if f == "" {
			continue
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v > maxTimeMS {
			return 0, bad("line %d: timestamp %q is out of range", n, s)
		}
		parts[i] = v
	}
	ms := ((parts[0]*60+parts[1])*60+parts[2])*1000 + parts[3]
	if ms >= maxTimeMS {
		return 0, bad("line %d: timestamp %q is past 100 hours", n, s)
	}
	return ms, nil
}

func formatTime(ms int64) string {
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// cueSetting is a WebVTT cue setting (vertical, line, position, size,
// align, region) with a value of the characters those use.
var cueSetting = regexp.MustCompile(`^(vertical|line|position|size|align|region):[A-Za-z0-9.%,_-]+$`)

// cueSettings keeps the settings WebVTT defines and drops the rest.
func cueSettings(fields []string) string {
	kept := fields[:0:0]
	for _, f := range fields {
		if cueSetting.MatchString(f) {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " ")
}

var (
	// cueTag is markup WebVTT defines in cue text: class, italics, bold,
	// underline, ruby, ruby text, voice and language spans (with classes
	// and, on start tags, an annotation), and timestamps.
	cueTag = regexp.MustCompile(`^(?:<(?:b|i|u|c|v|lang|ruby|rt)(?:\.[A-Za-z0-9_-]+)*(?:[ \t][^<>&]*)?>|</(?:b|i|u|c|v|lang|ruby|rt)>|<(?:\d{2,}:)?[0-5]\d:[0-5]\d\.\d{3}>)`)
	// cueEntity is a character reference WebVTT defines, or a numeric one.
	cueEntity = regexp.MustCompile(`^&(?:amp|lt|gt|lrm|rlm|nbsp|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});`)
	// srtOnly is markup of SRT files that WebVTT lacks: <font …> tags and
	// the {\an8}-style override codes of SubStation Alpha.
	srtOnly = regexp.MustCompile(`(?i)</?font(?:\s[^<>]*)?>|\{\\[^{}]*\}`)
	srtTag  = regexp.MustCompile(`(?i)</?[biu]>`)
)

// cueText returns a line of cue text with only WebVTT's own markup left
// as markup: every other '<', '>' or '&' is escaped, so it shows as the
// character it is.
func cueText(line string, srt bool) string {
	if srt {
		line = srtOnly.ReplaceAllString(line, "")
		line = srtTag.ReplaceAllStringFunc(line, strings.ToLower)
	}
	var b strings.Builder
	for i := 0; i < len(line); {
		switch line[i] {
		case '<':
			if m := cueTag.FindString(line[i:]); m != "" {
				b.WriteString(m)
				i += len(m)
				continue
			}
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			if m := cueEntity.FindString(line[i:]); m != "" {
				b.WriteString(m)
				i += len(m)
				continue
			}
			b.WriteString("&amp;")
		default:
			b.WriteByte(line[i])
		}
		i++
	}
	return b.String()
}

// timestampMap says that cue time 0 is media time 0. RFC 8216 (3.5) lets
// a client assume exactly that when the header is absent, but players
// differ there (Shaka and video.js once offset cues without it), and
// reel's segments make the statement true: ffmpeg writes fMP4 HLS whose
// first fragment decodes at 0 (tfdt 0), so the media timeline, and
// hls.js's initPTS for fMP4, start at 0. (For MPEG-TS segments, which
// start at 1.4 s or 10 s of PTS, MPEGTS:0 would be wrong; reel writes none.)
const timestampMap = "X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000"

// write returns the cues as a WebVTT file.
func (p *parser) write() []byte {
	var b bytes.Buffer
	b.WriteString("WEBVTT\n" + timestampMap + "\n")
	for _, r := range p.regions {
		b.WriteString("\n" + strings.Join(r, "\n") + "\n")
	}
	for _, c := range p.cues {
		b.WriteByte('\n')
		if c.id != "" {
			b.WriteString(c.id + "\n")
		}
		b.WriteString(formatTime(c.start) + " --> " + formatTime(c.end))
		if c.settings != "" {
			b.WriteString(" " + c.settings)
		}
		b.WriteByte('\n')
		for _, l := range c.text {
			b.WriteString(l + "\n")
		}
	}
	return b.Bytes()
}

// regionSetting is a line of a REGION block: a setting and its value.
var regionSetting = regexp.MustCompile(`^[A-Za-z]+:[A-Za-z0-9.%,_-]+$`)

// regionBlock keeps a REGION block's settings, for cues that name the
// region, and drops lines that are none.
func regionBlock(b []string) []string {
	kept := []string{"REGION"}
	for _, f := range strings.Fields(strings.Join(b[1:], " ")) {
		if regionSetting.MatchString(f) {
			kept = append(kept, f)
		}
	}
	return kept
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func anyContains(lines []string, sub string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, sub) })
}
