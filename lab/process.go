package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// defaultStopGrace is how long Stop waits after SIGTERM before SIGKILL.
const defaultStopGrace = 5 * time.Second

// Process is a long-running command started in a node's namespace, leader of
// its own process group, with stdout and stderr in a log file.
//
// The group is signalled only while the leader is alive or a zombie: until it
// is reaped its PID, and so the group ID, cannot be given to another process.
// When the leader exits, whatever is left of its group is killed.
type Process struct {
	node    *Node
	argv    []string
	cmd     *exec.Cmd
	logPath string
	grace   time.Duration
	exited  chan struct{} // closed once the leader has been reaped

	mu      sync.Mutex // held while signalling and while reaping
	reaped  bool
	waitErr error
}

// Start starts argv inside the namespace and returns at once. The lab stops
// the process at cleanup if the test has not.
func (n *Node) Start(argv ...string) (*Process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("start in %s: empty command", n.name)
	}
	logFile, err := os.CreateTemp(n.lab.dir, n.name+"-"+filepath.Base(argv[0])+"-*.log")
	if err != nil {
		return nil, fmt.Errorf("start %q in %s: %w", argv, n.name, err)
	}
	// The child gets its own copy of the descriptor, so no goroutine copies
	// output and Wait returns as soon as the process ends.
	defer logFile.Close()

	cmd := exec.Command("ip", append([]string{"netns", "exec", n.netns}, argv...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q in %s: %w", argv, n.name, err)
	}
	p := &Process{node: n, argv: argv, cmd: cmd, logPath: logFile.Name(),
		grace: defaultStopGrace, exited: make(chan struct{})}
	go p.reap()
	n.lab.track(p)
	return p, nil
}

func (p *Process) reap() {
	if err := waitExitedNoReap(p.Pid()); err != nil {
		p.node.lab.t.Logf("wait for %s: %v", p, err)
	}
	p.mu.Lock()
	if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.node.lab.t.Logf("kill what is left of %s: %v", p, err)
	}
	p.waitErr = p.cmd.Wait()
	p.reaped = true
	p.mu.Unlock()
	close(p.exited)
}

// waitExitedNoReap blocks until the process has exited but leaves it a zombie.
func waitExitedNoReap(pid int) error {
	const pPID = 1 // P_PID from <sys/wait.h>
	var siginfo [128]byte
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&siginfo[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}

func (p *Process) String() string {
	return fmt.Sprintf("%q (pid %d) in %s", p.argv, p.Pid(), p.node.name)
}

// Pid is the process ID, which is also its process group ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait blocks until the process exits and returns how it ended.
func (p *Process) Wait() error {
	<-p.exited
	return p.waitErr
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends SIGTERM to the process group, waits for the leader to exit and
// sends SIGKILL to the group if it has not exited within the grace period.
// It returns an error only if SIGKILL was needed. Calling it again is harmless.
func (p *Process) Stop() error { return p.StopWithin(p.grace) }

// StopWithin is Stop with its own grace period, as a unit's TimeoutStopSec
// gives systemd's stop.
func (p *Process) StopWithin(grace time.Duration) error {
	p.signalGroup(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	p.Kill()
	return fmt.Errorf("stop %s: still running %v after SIGTERM, killed", p, grace)
}

// Kill sends SIGKILL to the process group and waits for the leader to exit.
func (p *Process) Kill() {
	p.signalGroup(syscall.SIGKILL)
	<-p.exited
}

func (p *Process) signalGroup(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return
	}
	// ESRCH: only the zombie leader is left, which the reaper is about to collect.
	if err := syscall.Kill(-p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		p.node.lab.t.Logf("signal %v to %s: %v", sig, p, err)
	}
}

// LogPath is the file holding the process's stdout and stderr.
func (p *Process) LogPath() string { return p.logPath }

// Log returns what the process has written so far.
func (p *Process) Log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return string(b)
}

// tail keeps the last n lines of s, enough to explain a failure.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
