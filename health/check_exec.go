package health

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/vipd/vipd/config"
)

// execPath is the PATH a command starts with; the check's env may set
// another.
const execPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// outputTail is how many bytes of a command's output, the last ones, a
// failure's reason keeps.
const outputTail = 256

// pipeGrace is how long a probe waits for the command's output to close
// after the command has exited. Only a process that left the command's
// process group can keep it open that long.
const pipeGrace = 200 * time.Millisecond

// execChecker runs a command, without a shell, and passes when it exits 0.
//
// The command leads a process group of its own. When it runs out of time
// the whole group is killed, so a script that started children leaves none
// behind; when it exits in time, what it left running in its group is
// killed too. The leader is always waited for, so it leaves no zombie.
type execChecker struct {
	argv    []string
	env     []string
	timeout time.Duration
}

func newExecChecker(c *config.Check) (*execChecker, error) {
	if len(c.Command) == 0 || !filepath.IsAbs(c.Command[0]) {
		return nil, fmt.Errorf("exec check: command %q must start with an absolute path", c.Command)
	}
	env := []string{execPath}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		env = append(env, k+"="+c.Env[k])
	}
	return &execChecker{argv: slices.Clone(c.Command), env: env, timeout: c.Timeout.Duration}, nil
}

func (e *execChecker) Check(ctx context.Context) error {
	probeCtx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()

	output := &tailWriter{max: outputTail}
	cmd := &exec.Cmd{
		Path:        e.argv[0],
		Args:        e.argv,
		Env:         e.env,
		Stdout:      output,
		Stderr:      output,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
		WaitDelay:   pipeGrace,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", e.argv[0], err)
	}
	pgid := cmd.Process.Pid

	exited := make(chan error, 1)
	go func() { exited <- waitExited(pgid) }()
	var killed bool
	select {
	case <-exited:
	case <-probeCtx.Done():
		killed = syscall.Kill(-pgid, syscall.SIGKILL) == nil
		<-exited
	}
	// The leader has exited but nobody has reaped it yet, so its PID, which
	// is the group's ID, cannot have gone to another process: whatever is
	// left of the group is the command's, and ends here.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	waitErr := cmd.Wait()

	var exitErr *exec.ExitError
	switch {
	case killed && ctx.Err() != nil:
		return ctx.Err()
	case killed:
		return fmt.Errorf("exec %s: %s, killed its process group%s", e.argv[0], timedOutAfter(e.timeout), output.reason())
	case waitErr == nil, errors.Is(waitErr, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		return nil
	case errors.As(waitErr, &exitErr):
		return fmt.Errorf("exec %s: %s%s", e.argv[0], exitErr.ProcessState, output.reason())
	}
	return fmt.Errorf("exec %s: %w%s", e.argv[0], waitErr, output.reason())
}

// waitExited blocks until process pid has exited, without reaping it.
func waitExited(pid int) error {
	const pPID = 1     // P_PID in <sys/wait.h>
	var info [128]byte // siginfo_t, not read
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		}
		return fmt.Errorf("waitid %d: %w", pid, errno)
	}
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
	cut bool
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if extra := len(w.buf) - w.max; extra > 0 {
		w.buf = append(w.buf[:0], w.buf[extra:]...)
		w.cut = true
	}
	return len(p), nil
}

// reason renders the tail as the end of a one-line reason: its lines
// joined by " | ", or "" when there was no output.
func (w *tailWriter) reason() string {
	var lines []string
	for line := range strings.Lines(strings.ToValidUTF8(string(w.buf), "")) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	text := strings.Join(lines, " | ")
	if w.cut {
		text = "..." + text
	}
	return "; output: " + text
}
