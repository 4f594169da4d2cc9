package captions

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/reel-video/reel"
)

func mustParse(t *testing.T, in string) *Track {
	t.Helper()
	tr, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, in)
	}
	return tr
}

const header = "WEBVTT\n" + timestampMap + "\n"

func TestParseWebVTT(t *testing.T) {
	in := "WEBVTT - a title\nKind: captions\n\nNOTE made by hand\n\nSTYLE\n::cue { background-image: url(https://tracker.example/x.png) }\n\n" +
		"REGION\nid:fred width:40%\n\n" +
		"intro\n00:01.000 --> 00:02.500 align:start region:fred onclick:x\n<v Roger Bingham>We are in <b>New York</b> &amp; more\n\n" +
		"00:00:00.500 --> 00:00:01.000\nfirst by time\n"
	got := string(mustParse(t, in).WebVTT)
	want := header + "\nREGION\nid:fred\nwidth:40%\n" +
		"\n00:00:00.500 --> 00:00:01.000\nfirst by time\n" +
		"\nintro\n00:00:01.000 --> 00:00:02.500 align:start region:fred\n<v Roger Bingham>We are in <b>New York</b> &amp; more\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseSRT(t *testing.T) {
	in := "\uFEFF1\r\n00:00:01,000 --> 00:00:02,500 X1:10 Y1:20\r\n<i>Hello</i> <font color=\"red\">there</font>\r\n{\\an8}second line\r\n\r\n" +
		"2\r\n00:00:03,000 --> 00:00:04,000\r\nno blank line after me\r\n3\r\n00:00:05,000 --> 00:00:06,000\r\n<I>end</I>\r\n"
	tr := mustParse(t, in)
	want := header + "\n00:00:01.000 --> 00:00:02.500\n<i>Hello</i> there\nsecond line\n" +
		"\n00:00:03.000 --> 00:00:04.000\nno blank line after me\n" +
		"\n00:00:05.000 --> 00:00:06.000\n<i>end</i>\n"
	if string(tr.WebVTT) != want || tr.Format != FormatSRT || tr.Cues != 3 {
		t.Errorf("got %s, %d cues:\n%s\nwant:\n%s", tr.Format, tr.Cues, tr.WebVTT, want)
	}
}

// A cue right after the WEBVTT line, with no blank line between: browsers
// read it, and so does reel.
func TestParseCueInHeader(t *testing.T) {
	got := string(mustParse(t, "WEBVTT\n00:01.000 --> 00:02.000\nHi\n").WebVTT)
	if want := header + "\n00:00:01.000 --> 00:00:02.000\nHi\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Cue text is text: what is not WebVTT's own markup is escaped, so a
// player that renders cue text as HTML shows it literally.
func TestParseKeepsTextAsText(t *testing.T) {
	for _, format := range []string{"webvtt", "srt"} {
		in := "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n"
		if format == "srt" {
			in = "1\n00:00:01,000 --> 00:00:02,000\n"
		}
		in += `<script>alert(1)</script> <img src=x onerror=alert(1)> a<b & c>d &copy; &#169; <b>ok</b> <v A&B>x` + "\n"
		got := string(mustParse(t, in).WebVTT)
		want := `&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt; a&lt;b &amp; c&gt;d &amp;copy; &#169; <b>ok</b> &lt;v A&amp;B&gt;x`
		if !strings.Contains(got, "\n"+want+"\n") {
			t.Errorf("%s: got\n%s\nwant the cue text\n%s", format, got, want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	many := func(n int, srt bool) string {
		var b strings.Builder
		if !srt {
			b.WriteString("WEBVTT\n")
		}
		for i := range n {
			if srt {
				fmt.Fprintf(&b, "%d\n00:00:%02d,000 --> 00:00:%02d,500\nx\n\n", i+1, i%60, i%60)
			} else {
				fmt.Fprintf(&b, "\n00:%02d.000 --> 00:%02d.500\nx\n", i%60, i%60)
			}
		}
		return b.String()
	}
	if tr := mustParse(t, many(MaxCues, false)); tr.Cues != MaxCues {
		t.Fatalf("%d cues, want %d", tr.Cues, MaxCues)
	}
	huge := "WEBVTT\n\n00:01.000 --> 00:02.000\n" + strings.Repeat("a", MaxBytes) + "\n"
	for name, c := range map[string]struct {
		in, code, msg string
	}{
		"binary":          {"\x00\x01\x02WEBVTT\x89PNG", reel.EBADREQUEST, "not text"},
		"binary later":    {"WEBVTT\n\n00:01.000 --> 00:02.000\nhi\x00there\n", reel.EBADREQUEST, "not text"},
		"latin-1":         {"WEBVTT\n\n00:01.000 --> 00:02.000\ncaf\xe9\n", reel.EBADREQUEST, "not UTF-8"},
		"utf-16":          {"\xff\xfeW\x00E\x00", reel.EBADREQUEST, "UTF-16"},
		"html":            {"<!doctype html><html><body>hi</body></html>", reel.EBADREQUEST, "neither WebVTT"},
		"empty":           {"", reel.EBADREQUEST, "neither WebVTT"},
		"no cues":         {"WEBVTT\n\nNOTE nothing\n", reel.EBADREQUEST, "no cues"},
		"huge":            {huge, reel.ETOOLARGE, "512 KiB"},
		"10001 cues":      {many(MaxCues+1, false), reel.EBADREQUEST, "more than 10000 cues"},
		"10001 srt cues":  {many(MaxCues+1, true), reel.EBADREQUEST, "more than 10000 cues"},
		"vtt comma":       {"WEBVTT\n\n00:00:01,000 --> 00:00:02.000\nx\n", reel.EBADREQUEST, `line 3: "00:00:01,000" is not a timestamp`},
		"bad minutes":     {"WEBVTT\n\n00:61:01.000 --> 01:00:02.000\nx\n", reel.EBADREQUEST, "not a timestamp"},
		"srt letters":     {"1\n00:00:xx,000 --> 00:00:02,000\nx\n", reel.EBADREQUEST, "not a timestamp"},
		"srt no end":      {"1\n00:00:01,000 -->\nx\n", reel.EBADREQUEST, "no end time"},
		"ends before":     {"WEBVTT\n\n00:05.000 --> 00:02.000\nx\n", reel.EBADREQUEST, "ends (00:00:02.000) before it starts (00:00:05.000)"},
		"ends at start":   {"1\n00:00:05,000 --> 00:00:05,000\nx\n", reel.EBADREQUEST, "before it starts"},
		"past 100 hours":  {"WEBVTT\n\n100:00:00.000 --> 100:00:01.000\nx\n", reel.EBADREQUEST, "past 100 hours"},
		"no timing":       {"WEBVTT\n\nhello\nworld\n", reel.EBADREQUEST, "line 4: expected a cue timing line"},
		"srt number only": {"1\n\n", reel.EBADREQUEST, "cue 1 has no timing line"},
	} {
		_, err := Parse([]byte(c.in))
		if reel.ErrorCode(err) != c.code || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: Parse = %v; want %s mentioning %q", name, err, c.code, c.msg)
		}
	}
}

// What Parse writes, it reads back as it is.
func TestParseOwnOutput(t *testing.T) {
	in := "1\n00:00:01,000 --> 00:00:02,500\n<i>a</i> & b\n\n2\n01:02:03,004 --> 01:02:04,000\nc\n"
	first := mustParse(t, in).WebVTT
	if again := mustParse(t, string(first)).WebVTT; !bytes.Equal(first, again) {
		t.Errorf("parsing the output again changed it:\n%s\nthen\n%s", first, again)
	}
}
