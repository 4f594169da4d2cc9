//go:build !unix

package upload

import (
	"github.com/tus/tusd/v2/pkg/filelocker"
	"github.com/tus/tusd/v2/pkg/handler"
)

// newLocker is tusd's file locker where flock(2) is missing; it needs a
// little free space to take a lock.
func newLocker(dir string) handler.Locker { return filelocker.New(dir) }
