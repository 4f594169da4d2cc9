package blob

import (
	"errors"
	"os"
	"syscall"
)

// atFDCWD is AT_FDCWD of the Linux ABI (the same on every architecture),
// which package syscall does not export: old paths resolve as usual.
const atFDCWD = -0x64

// renameInto renames localPath to name inside dir with renameat(2) on the
// directory's descriptor: a path string would be resolved again by the
// kernel, following any symlink planted among the store's directories.
func renameInto(localPath string, dir *os.Root, name string) error {
	f, err := dir.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	err = rc.Control(func(fd uintptr) {
		rerr = syscall.Renameat(atFDCWD, localPath, int(fd), name)
	})
	if err != nil {
		return err
	}
	if errors.Is(rerr, syscall.EXDEV) {
		return errCrossDevice
	}
	if rerr != nil {
		return &os.LinkError{Op: "rename", Old: localPath, New: name, Err: rerr}
	}
	return f.Sync()
}
