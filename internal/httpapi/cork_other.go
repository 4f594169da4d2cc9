//go:build !linux

package httpapi

import "syscall"

// setCork is a no-op where TCP_CORK does not exist: answers are written
// as net/http writes them.
func setCork(syscall.RawConn, bool) bool { return false }
