package membership

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// quietTicker ticks like time.Ticker, from a timerfd that the poller waits
// on.
//
// It exists for the idle cost, as quietUDP does. Go's monitor thread
// (sysmon) sleeps until the next Go timer is due, wakes when it is, naps
// 20 µs or more and parks again: every tick of a time.Ticker costs two
// context switches besides the tick's own. A timerfd is not a Go timer, so
// the heartbeat loop's ticks (the most frequent wake-up of an idle host)
// wake only the thread that runs them.
type quietTicker struct {
	// C receives the time each tick was due, as time.Ticker's does;
	// ticks the loop is too slow for are dropped.
	C <-chan time.Time

	file *os.File
	done sync.WaitGroup
}

// newQuietTicker starts a ticker with the given period.
func newQuietTicker(period time.Duration) (*quietTicker, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating the heartbeat timer (timerfd_create): %w", err)
	}
	spec := unix.NsecToTimespec(period.Nanoseconds())
	start := time.Now()
	if err := unix.TimerfdSettime(fd, 0, &unix.ItimerSpec{Interval: spec, Value: spec}, nil); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("arming the heartbeat timer (timerfd_settime): %w", err)
	}
	// A non-blocking descriptor is registered with the poller.
	file := os.NewFile(uintptr(fd), "heartbeat-timerfd")
	rc, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, err
	}
	c := make(chan time.Time, 1)
	t := &quietTicker{C: c, file: file}
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		var ticks uint64
		for {
			n, err := readExpirations(rc)
			if err != nil {
				// Stop closed the file: with an 8-byte buffer, reading a
				// timerfd fails for nothing else.
				return
			}
			ticks += n
			select {
			case c <- start.Add(time.Duration(ticks) * period):
			default:
			}
		}
	}()
	return t, nil
}

// readExpirations waits for the timer and returns how many periods ended
// since the last read.
func readExpirations(rc syscall.RawConn) (uint64, error) {
	var count uint64
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			_, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&count)), unsafe.Sizeof(count))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // not due yet: wait in the poller
			}
			errno = e
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, os.NewSyscallError("read timerfd", errno)
	}
	return count, nil
}

// Stop stops the ticker and waits for its reader to end.
func (t *quietTicker) Stop() {
	t.file.Close()
	t.done.Wait()
}
