package captions

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/reel-video/reel"
)

// MaxLabelLen bounds a caption's label, in characters.
const MaxLabelLen = 64

// simpleTag is the shape of the tags reel keeps: a language (2 or 3
// letters), an optional script (4 letters) and an optional region (2
// letters or 3 digits), as canonicalised. Variants, extensions and private
// use are refused: players do not tell captions apart by them, and the tag
// names the caption's files.
var simpleTag = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z][a-z]{3})?(-(?:[A-Z]{2}|[0-9]{3}))?$`)

// Tag validates a BCP 47 language tag and returns its canonical form
// ("pt-br" → "pt-BR", "zh-hans" → "zh-Hans", "iw" → "he").
func Tag(raw string) (string, error) {
	refuse := func() (string, error) {
		return "", reel.Errorf(reel.EBADREQUEST, "%q is not a language tag reel accepts: use a BCP 47 tag with a language, "+
			"and optionally a script and a region, such as en, pt-BR or zh-Hans", clip(raw, 40))
	}
	if raw == "" || len(raw) > 16 {
		return refuse()
	}
	t, err := language.Parse(raw)
	if err != nil {
		return refuse()
	}
	if _, conf := t.Base(); conf != language.Exact { // "und" and the like
		return refuse()
	}
	tag := t.String()
	if !simpleTag.MatchString(tag) {
		return refuse()
	}
	return tag, nil
}

// Label returns the label a caption is shown with: label, checked, or
// when empty the language's name in itself ("English", "Português
// (Brasil)"), which is what a viewer looking for their language reads.
func Label(label, tag string) (string, error) {
	label = strings.TrimSpace(label)
	if label == "" {
		return selfName(tag), nil
	}
	if !utf8.ValidString(label) || utf8.RuneCountInString(label) > MaxLabelLen {
		return "", reel.Errorf(reel.EBADREQUEST, "label must be valid UTF-8 of at most %d characters", MaxLabelLen)
	}
	// The label is written into the master playlist as a quoted string,
	// which cannot hold a double quote or a line break.
	for _, r := range label {
		if r == '"' || unicode.IsControl(r) {
			return "", reel.Errorf(reel.EBADREQUEST, "label may not contain double quotes or control characters")
		}
	}
	return label, nil
}

// selfName is the name of the language of tag in itself, with its region
// when the name does not tell it ("British English", but "Português
// (Brasil)"), capitalised as a label starts; the tag when it has none.
func selfName(tag string) string {
	t := language.Make(tag)
	name := display.Self.Name(t)
	if name == "" {
		return tag
	}
	if region, conf := t.Region(); conf == language.Exact {
		base, _ := t.Base()
		script, _ := t.Script()
		if noRegion, err := language.Compose(base, script); err == nil && display.Self.Name(noRegion) == name {
			name += " (" + display.Regions(t).Name(region) + ")"
		}
	}
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[size:]
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
