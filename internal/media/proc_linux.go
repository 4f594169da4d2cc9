package media

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the tool if reel itself dies (kill -9,
// OOM): an orphaned ffmpeg would go on burning CPU beside the retry of its
// job. The context cancellation covers every orderly exit.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
