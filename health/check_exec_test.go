package health

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

func execCheck(timeout time.Duration, argv ...string) *config.Check {
	return &config.Check{Type: config.CheckExec, Command: argv, Interval: config.D(10 * timeout), Timeout: config.D(timeout), Rise: 1, Fall: 1}
}

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExecCheckExitStatus(t *testing.T) {
	dir := t.TempDir()
	expect(t, mustChecker(t, execCheck(5*time.Second, "/bin/true")), "")
	path := script(t, dir, "echo checking\necho 'backend down: 0 of 2 workers' >&2\nexit 3\n")
	expect(t, mustChecker(t, execCheck(5*time.Second, path)),
		"exec "+path+": exit status 3; output: checking | backend down: 0 of 2 workers")
	expect(t, mustChecker(t, execCheck(5*time.Second, "/nonexistent/check")),
		"exec /nonexistent/check: fork/exec /nonexistent/check: no such file or directory")
}

func TestExecCheckPassesArgvAndEnvWithoutAShell(t *testing.T) {
	path := script(t, t.TempDir(), `[ "$1" = '$HOME; exit 0' ] || { echo "argument: $1"; exit 1; }
[ "$BACKEND_URL" = http://127.0.0.1:8080/ ] || { echo "BACKEND_URL: $BACKEND_URL"; exit 1; }
[ -z "$HOME" ] || { echo "inherited HOME=$HOME"; exit 1; }
command -v sleep >/dev/null || { echo "no PATH: $PATH"; exit 1; }
`)
	c := execCheck(5*time.Second, path, "$HOME; exit 0")
	c.Env = map[string]string{"BACKEND_URL": "http://127.0.0.1:8080/"}
	expect(t, mustChecker(t, c), "")
	delete(c.Env, "BACKEND_URL")
	expect(t, mustChecker(t, c), "exec "+path+": exit status 1; output: BACKEND_URL:")
}

func TestExecCheckKeepsTheTailOfLongOutput(t *testing.T) {
	path := script(t, t.TempDir(), "i=0\nwhile [ $i -lt 100 ]; do echo line $i; i=$((i+1)); done\nexit 1\n")
	err := mustChecker(t, execCheck(5*time.Second, path)).Check(t.Context())
	if err == nil {
		t.Fatal("check passed")
	}
	reason := err.Error()
	if !strings.HasPrefix(reason, "exec "+path+": exit status 1; output: ...") || !strings.HasSuffix(reason, "line 98 | line 99") || strings.Contains(reason, "line 1 |") {
		t.Errorf("reason %q, want the last lines of the output after \"...\"", reason)
	}
	if _, output, _ := strings.Cut(reason, "; output: "); len(output) > 2*outputTail {
		t.Errorf("the reason keeps %d bytes of output, want the output cut to its last %d", len(output), outputTail)
	}
}

// TestExecCheckKillsTheWholeProcessGroupAtItsTimeout runs a script that
// starts a shell that starts `sleep 600`, then waits for them. At the
// timeout the script, its child and its grandchild must all end, and the
// script must not be left a zombie.
func TestExecCheckKillsTheWholeProcessGroupAtItsTimeout(t *testing.T) {
	dir := t.TempDir()
	path := script(t, dir, `echo $$ > "$DIR/leader"
/bin/sh -c 'sleep 600 & echo $! > "$DIR/grandchild.tmp"; mv "$DIR/grandchild.tmp" "$DIR/grandchild"; wait' &
echo started
wait
`)
	c := execCheck(500*time.Millisecond, path)
	c.Env = map[string]string{"DIR": dir}
	expect(t, mustChecker(t, c), "exec "+path+": timed out after 500ms, killed its process group; output: started")

	leader, grandchild := readPid(t, dir, "leader"), readPid(t, dir, "grandchild")
	if err := syscall.Kill(leader, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the script (pid %d) is still there after the check returned (kill 0: %v); want it killed and reaped", leader, err)
	}
	eventually(t, "the grandchild sleep 600 is gone", func() bool { return gone(grandchild) })
}

func TestExecCheckEndsWhatACommandLeftBehind(t *testing.T) {
	dir := t.TempDir()
	path := script(t, dir, `sleep 600 &
echo $! > "$DIR/child"
echo ok
`)
	c := execCheck(5*time.Second, path)
	c.Env = map[string]string{"DIR": dir}
	expect(t, mustChecker(t, c), "")
	child := readPid(t, dir, "child")
	eventually(t, "the background sleep 600 is gone", func() bool { return gone(child) })
}

func readPid(t *testing.T, dir, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("the script did not record its %s pid: %v", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("%s pid %q: %v", name, b, err)
	}
	return pid
}

// gone reports whether process pid has ended: it no longer exists, or it is
// a zombie that its new parent has not reaped yet.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// The state follows the command name, which is in parentheses.
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z")
}
