package reel

import (
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestValidateCredentials(t *testing.T) {
	cases := []struct {
		username, password string
		badFields          []string
	}{
		{"alice", "secret", nil},
		{"A.b_c-9", strings.Repeat("p", 72), nil},
		{"abc", "héllo!", nil},
		{"张三", "secret", nil},                 // two wide characters: 4 columns
		{"张", "secret", []string{"username"}}, // 2 columns
		{"ａｂ", "secret", nil},                 // full-width: 4 columns
		{"ａ", "secret", []string{"username"}},
		{"a张", "secret", nil}, // 3 columns
		{"张三丰", "secret", nil},
		{"josé", "secret", nil},
		{"jose\u0301", "secret", nil}, // NFD spelling of josé
		{"zoë", "secret", nil},
		{"Ωμέγα", "secret", nil},
		{"हिन्दी", "secret", nil},                                 // Devanagari needs combining vowel signs and virama
		{"مريم_٣", "secret", nil},                                 // Arabic letters and an Arabic-Indic digit
		{strings.Repeat("界", 16), "secret", nil},                  // 32 columns
		{strings.Repeat("界", 17), "secret", []string{"username"}}, // 34 columns
		{strings.Repeat("界", 15) + "ab", "secret", nil},           // 32 columns
		{strings.Repeat("界", 16) + "a", "secret", []string{"username"}},
		{strings.Repeat("é", 32), "secret", nil},       // 64 bytes, 32 characters
		{strings.Repeat("e\u0301", 32), "secret", nil}, // 32 characters once composed
		{"ab", "secret", []string{"username"}},
		{strings.Repeat("a", 33), "secret", []string{"username"}},
		{"has space", "secret", []string{"username"}},
		{"tab\tname", "secret", []string{"username"}},
		{"nbsp\u00a0name", "secret", []string{"username"}},
		{"zero\u200bwidth", "secret", []string{"username"}},
		{"joiner\u200dname", "secret", []string{"username"}},
		{"rtl\u202ename", "secret", []string{"username"}},
		{"emoji😀", "secret", []string{"username"}},
		{"1\ufe0f\u20e3ab", "secret", []string{"username"}}, // keycap emoji
		{"a\ufe0fbc", "secret", []string{"username"}},       // variation selector
		{"\u0301abc", "secret", []string{"username"}},       // a mark with no letter before it
		{"../x", "secret", []string{"username"}},
		{"a@b.c", "secret", []string{"username"}},
		{"ab\xff", "secret", []string{"username"}},
		{"alice", "12345", []string{"password"}},
		{"alice", strings.Repeat("p", 73), []string{"password"}},
		{"alice", "abc\xffdef", []string{"password"}},
		{"", "", []string{"username", "password"}},
	}
	for _, tc := range cases {
		err := ValidateCredentials(tc.username, tc.password)
		if len(tc.badFields) == 0 {
			if err != nil {
				t.Errorf("%q/%q: unexpected %v", tc.username, tc.password, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Code != EINVALID || len(e.Fields) != len(tc.badFields) {
			t.Errorf("%q/%q: got %v, want invalid %v", tc.username, tc.password, err, tc.badFields)
			continue
		}
		for _, f := range tc.badFields {
			if e.Fields[f] == "" {
				t.Errorf("%q/%q: field %s not named in %v", tc.username, tc.password, f, e.Fields)
			}
		}
	}
}

func TestUsernameKey(t *testing.T) {
	same := [][]string{
		{"alice", "Alice", "ALICE", "aLiCe", "ａｌｉｃｅ"},
		{"josé", "jose\u0301", "JOSÉ", "JOSE\u0301"},
		{"straße", "STRASSE", "Strasse"},
		{"Ωμέγα", "ΩΜΈΓΑ", "ωμέγα"},
		{"张三丰", "张三丰"},
	}
	for _, group := range same {
		for _, name := range group {
			if UsernameKey(name) != UsernameKey(group[0]) {
				t.Errorf("UsernameKey(%q) = %q, UsernameKey(%q) = %q: want one key", name, UsernameKey(name), group[0], UsernameKey(group[0]))
			}
		}
	}
	different := []string{"alice", "alicf", "jose", "josé", "张三丰", "张三风", "strase"}
	seen := map[string]string{}
	for _, name := range different {
		if other, dup := seen[UsernameKey(name)]; dup {
			t.Errorf("%q and %q share the key %q", name, other, UsernameKey(name))
		}
		seen[UsernameKey(name)] = name
	}
	// ASCII names (all that existed before Unicode names were allowed) key
	// to strings.ToLower, which the migration used for existing rows.
	for _, name := range []string{"Alice_1", "BOB.smith", "x-Y-z", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0189_.-"} {
		if UsernameKey(name) != strings.ToLower(name) {
			t.Errorf("UsernameKey(%q) = %q, want %q", name, UsernameKey(name), strings.ToLower(name))
		}
	}
}

func TestNormalizeUsername(t *testing.T) {
	nfd := "jose\u0301"
	if got := NormalizeUsername(nfd); got != "josé" || !norm.NFC.IsNormalString(got) {
		t.Errorf("NormalizeUsername(%q) = %q, want NFC josé", nfd, got)
	}
	// Case is kept: it is how the user wrote their name.
	if got := NormalizeUsername("Alice"); got != "Alice" {
		t.Errorf("NormalizeUsername changed case: %q", got)
	}
}
