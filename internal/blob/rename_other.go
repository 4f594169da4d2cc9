//go:build !linux

package blob

import "os"

// renameInto always copies where there is no renameat(2) in package syscall:
// renaming by path would not be confined to the store.
func renameInto(localPath string, dir *os.Root, name string) error {
	return errCrossDevice
}
