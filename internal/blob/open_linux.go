package blob

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// openFast opens key for reading with a single openat2(2) on the store's
// directory, the kernel refusing any path that leaves it or crosses a
// symlink (RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS). os.Root gives the same
// guarantee by opening every directory level in turn; media requests open
// a file each, so the one syscall matters. ok is false where the kernel
// (before 5.6) or a seccomp policy refuses openat2: then the caller uses
// os.Root.
func (d *Disk) openFast(key string) (f *os.File, ok bool, err error) {
	dirFd, err := d.dirFd()
	if err != nil {
		return nil, false, nil
	}
	fd, err := unix.Openat2(dirFd, key, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	switch {
	case errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM):
		return nil, false, nil
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
		// A symlink or an escape: nothing this store wrote.
		return nil, true, os.ErrNotExist
	case err != nil:
		return nil, true, &os.PathError{Op: "openat2", Path: key, Err: err}
	}
	return os.NewFile(uintptr(fd), key), true, nil
}

// dirFd is a descriptor of the store's directory, opened once.
func (d *Disk) dirFd() (int, error) {
	d.dirOnce.Do(func() {
		d.dirFile, d.dirErr = d.root.Open(".")
	})
	if d.dirErr != nil {
		return -1, d.dirErr
	}
	return int(d.dirFile.Fd()), nil
}
