package agent

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/vipd/vipd/config"
)

// notifyQueue bounds the hook runs waiting to start; beyond it, runs are
// dropped with a log line rather than blocking the reconcile loop.
const notifyQueue = 256

type hookRun struct {
	hook config.NotifyHook
	env  []string
}

// notifier runs notify hooks one at a time, in the order of the changes,
// off the reconcile loop.
type notifier struct {
	log   *slog.Logger
	queue chan hookRun
	mu    sync.Mutex
	// Dropped counts runs dropped because the queue was full.
	dropped int
}

func newNotifier(log *slog.Logger) *notifier {
	return &notifier{log: log, queue: make(chan hookRun, notifyQueue)}
}

// stateChanged queues every hook for change c. VIPD_STATE is this host's
// role (owner, standby, ...), VIPD_HEALTH the VIP's health (ok, no-owner,
// conflict, split); the previous values are "none" for a new VIP.
func (n *notifier) stateChanged(hooks []config.NotifyHook, c Change) {
	v, to := c.VIP, c.To.role
	env := []string{
		"VIPD_VIP=" + v.Name,
		"VIPD_ADDRESS=" + v.Address.Addr().String(),
		"VIPD_INTERFACE=" + v.Interface,
		"VIPD_UNIT=" + v.Unit(),
		"VIPD_STATE=" + string(c.To.role),
		"VIPD_PREVIOUS_STATE=" + orNone(string(c.From.role)),
		"VIPD_HEALTH=" + string(c.To.health),
		"VIPD_PREVIOUS_HEALTH=" + orNone(string(c.From.health)),
		"VIPD_OWNER=" + c.To.owner,
		"VIPD_REASON=" + c.To.reason,
	}
	for _, h := range hooks {
		select {
		case n.queue <- hookRun{hook: h, env: env}:
		default:
			n.mu.Lock()
			n.dropped++
			n.mu.Unlock()
			n.log.Error("notify hook dropped: too many state changes waiting; make the hook faster", "command", h.Command[0], "vip", v.Name, "state", to)
		}
	}
}

func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-n.queue:
			n.runHook(ctx, r)
		}
	}
}

// runHook runs one hook to its end or its timeout; at the timeout its whole
// process group is killed so a hook cannot leave children behind.
func (n *notifier) runHook(ctx context.Context, r hookRun) {
	timeout := r.hook.Timeout.Duration
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.hook.Command[0], r.hook.Command[1:]...)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		n.log.Error("notify hook killed at its timeout; make it return sooner or raise notify[].timeout",
			"command", r.hook.Command[0], "timeout", timeout, "output", tail(out.Bytes()))
	case err != nil:
		n.log.Error("notify hook failed", "command", r.hook.Command[0], "err", err, "output", tail(out.Bytes()))
	default:
		n.log.Debug("notify hook ran", "command", r.hook.Command[0])
	}
}

func tail(b []byte) string {
	const max = 512
	b = bytes.TrimSpace(b)
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
