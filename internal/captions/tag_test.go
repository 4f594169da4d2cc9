package captions

import (
	"testing"

	"github.com/reel-video/reel"
)

func TestTag(t *testing.T) {
	for in, want := range map[string]string{
		"en": "en", "EN": "en", "pt-br": "pt-BR", "pt_BR": "pt-BR", "zh-hans": "zh-Hans", "zh-Hant-TW": "zh-Hant-TW",
		"es-419": "es-419", "iw": "he", "fil": "fil",
	} {
		if got, err := Tag(in); err != nil || got != want {
			t.Errorf("Tag(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "und", "xx-YY", "e", "english", "en-x-private", "de-DE-1996", "en-US-u-ca-gregory", "../etc", "en/../../x",
		"en.vtt", "en US", "i-default", "abcdefghijklmnopqrstuvwxyz"} {
		if got, err := Tag(in); reel.ErrorCode(err) != reel.EBADREQUEST {
			t.Errorf("Tag(%q) = %q, %v; want bad_request", in, got, err)
		}
	}
}

func TestLabel(t *testing.T) {
	for _, c := range []struct{ label, tag, want string }{
		{"", "en", "English"}, {"", "pt-BR", "Português (Brasil)"}, {"", "de", "Deutsch"}, {"", "en-GB", "British English"},
		{"", "zh-Hant-TW", "繁體中文 (台灣)"},
		{"  Director's commentary ", "en", "Director's commentary"},
	} {
		if got, err := Label(c.label, c.tag); err != nil || got != c.want {
			t.Errorf("Label(%q, %q) = %q, %v; want %q", c.label, c.tag, got, err, c.want)
		}
	}
	for _, label := range []string{`say "hi"`, "two\nlines", "\xff", string(make([]rune, MaxLabelLen+1))} {
		if _, err := Label(label, "en"); reel.ErrorCode(err) != reel.EBADREQUEST {
			t.Errorf("Label(%q) = %v; want bad_request", label, err)
		}
	}
}
