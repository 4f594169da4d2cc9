//go:build !linux

package blob

import "os"

// openFast has no single-syscall form here: the caller uses os.Root.
func (d *Disk) openFast(string) (*os.File, bool, error) { return nil, false, nil }
