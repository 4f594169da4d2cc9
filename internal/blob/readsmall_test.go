package blob

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// ReadSmall reads an object up to its bound, refuses one past it, and
// reports a missing one as fs.ErrNotExist, as Open does.
func TestReadSmall(t *testing.T) {
	s, err := NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for key, n := range map[string]int{"a/fits": 10, "a/over": 11} {
		if _, err := s.Put(ctx, key, bytes.NewReader(bytes.Repeat([]byte("x"), n))); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := ReadSmall(ctx, s, "a/fits", 10); err != nil || len(b) != 10 {
		t.Errorf("ReadSmall(10 bytes, max 10) = %d bytes, %v", len(b), err)
	}
	if _, err := ReadSmall(ctx, s, "a/over", 10); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Errorf("ReadSmall(11 bytes, max 10) = %v, want a refusal", err)
	}
	if _, err := ReadSmall(ctx, s, "a/missing", 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSmall(missing) = %v, want fs.ErrNotExist", err)
	}
}
