package loader

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// waiter blocks an idle reader until one of its buffers has something to
// read. It holds an epoll instance of its own, with the buffers' file
// descriptors and an eventfd that interrupts a wait. The Go runtime's
// network poller is not used on purpose: the kernel notifies a buffer's
// waiters also while the reader is pausing (a BPF ring buffer on the first
// record after every catch-up, a perf buffer at its watermark), and a
// thread of the Go runtime blocked in its poller would then be woken for
// nothing once per pause. A private epoll instance that nobody waits on
// just takes note.
type waiter struct {
	epfd, evfd int
	// evMu orders kick against close: a kick must not write to a
	// descriptor number close released (and the process reused).
	evMu   sync.Mutex
	events [8]unix.EpollEvent
	// pending reports whether a buffer has something to read.
	pending func() bool
}

// init creates the epoll instance and the eventfd and registers fds,
// level-triggered. The caller closes w on error.
func (w *waiter) init(pending func() bool, fds ...int) error {
	w.pending = pending
	var err error
	if w.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	if w.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	for _, fd := range append(fds, w.evfd) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fmt.Errorf("epoll add: %w", err)
		}
	}
	return nil
}

// wait blocks until pending or stop returns true (both are checked after
// every wake-up and every kick) or deadline passes
// (os.ErrDeadlineExceeded).
func (w *waiter) wait(deadline time.Time, stop func() bool) error {
	for {
		if w.pending() || stop() {
			return nil
		}
		timeout := -1
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			timeout = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.EpollWait(w.epfd, w.events[:], timeout)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range w.events[:max(n, 0)] {
			if int(ev.Fd) == w.evfd {
				var buf [8]byte
				_, _ = unix.Read(w.evfd, buf[:])
			}
		}
	}
}

// kick makes a wait in progress, or the next one, look at stop.
func (w *waiter) kick() {
	w.evMu.Lock()
	defer w.evMu.Unlock()
	if w.evfd >= 0 {
		one := [8]byte{1}
		_, _ = unix.Write(w.evfd, one[:])
	}
}

// close closes the epoll instance and the eventfd.
func (w *waiter) close() error {
	w.evMu.Lock()
	defer w.evMu.Unlock()
	var err error
	for _, fd := range []int{w.epfd, w.evfd} {
		if fd >= 0 {
			err = errors.Join(err, unix.Close(fd))
		}
	}
	w.epfd, w.evfd = -1, -1
	return err
}
