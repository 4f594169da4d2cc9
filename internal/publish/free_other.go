//go:build !unix

package publish

import "errors"

// FreeBytes is not known on this system: uploads are admitted and a full
// disk is noticed when a write fails.
func FreeBytes(string) (int64, error) { return 0, errors.New("free space unknown on this system") }
