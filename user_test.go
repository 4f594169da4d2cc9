package reel

import (
	"strings"
	"testing"
)

func TestValidateCredentials(t *testing.T) {
	cases := []struct {
		username, password string
		badFields          []string
	}{
		{"alice", "secret", nil},
		{"A.b_c-9", strings.Repeat("p", 72), nil},
		{"abc", "héllo!", nil},
		{"ab", "secret", []string{"username"}},
		{strings.Repeat("a", 33), "secret", []string{"username"}},
		{"has space", "secret", []string{"username"}},
		{"zoë", "secret", []string{"username"}},
		{"../x", "secret", []string{"username"}},
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

func TestErrorCodeAndMessage(t *testing.T) {
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Error("nil error has a code")
	}
	err := Errorf(ENOTFOUND, "video %d not found", 42)
	if ErrorCode(err) != ENOTFOUND || ErrorMessage(err) != "video 42 not found" {
		t.Errorf("got %q %q", ErrorCode(err), ErrorMessage(err))
	}
	plain := strings.NewReader("").UnreadByte() // any non-reel error
	if ErrorCode(plain) != EINTERNAL || ErrorMessage(plain) != "internal error" {
		t.Errorf("internal errors must not leak: %q %q", ErrorCode(plain), ErrorMessage(plain))
	}
	if Invalid(nil) != nil {
		t.Error("Invalid with no fields is an error")
	}
}
