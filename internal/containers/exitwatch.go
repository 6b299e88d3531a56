package containers

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// exitWatcher reports the exit of container init processes as it happens:
// it holds a pidfd per process (which also pins its identity against pid
// reuse) and waits for them with one epoll set, so removal does not depend
// on any runtime sending an event (bare runc has none) and costs no
// polling.
type exitWatcher struct {
	epfd   int
	wake   int // eventfd that interrupts run
	onExit func(pid uint32)

	mu   sync.Mutex
	fds  map[uint32]int // pid → pidfd
	pids map[int]uint32 // pidfd → pid
	done bool
}

func newExitWatcher(onExit func(uint32)) (*exitWatcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("epoll add: %w", err)
	}
	return &exitWatcher{epfd: epfd, wake: wake, onExit: onExit, fds: map[uint32]int{}, pids: map[int]uint32{}}, nil
}

// watch starts watching pid; it fails if the process is gone.
func (w *exitWatcher) watch(pid uint32) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errors.New("closed")
	}
	if _, ok := w.fds[pid]; ok {
		return nil
	}
	fd, err := unix.PidfdOpen(int(pid), 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("epoll add pidfd: %w", err)
	}
	w.fds[pid], w.pids[fd] = fd, pid
	return nil
}

// unwatch stops watching pid (no-op if not watched).
func (w *exitWatcher) unwatch(pid uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if fd, ok := w.fds[pid]; ok {
		_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, fd, nil)
		unix.Close(fd)
		delete(w.fds, pid)
		delete(w.pids, fd)
	}
}

// run waits for exits until close.
func (w *exitWatcher) run() {
	evs := make([]unix.EpollEvent, 32)
	for {
		n, err := unix.EpollWait(w.epfd, evs, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		var exited []uint32
		w.mu.Lock()
		if w.done {
			w.mu.Unlock()
			return
		}
		for _, ev := range evs[:n] {
			if pid, ok := w.pids[int(ev.Fd)]; ok {
				exited = append(exited, pid)
			}
		}
		w.mu.Unlock()
		for _, pid := range exited {
			w.onExit(pid) // calls unwatch through the collection
			w.unwatch(pid)
		}
	}
}

func (w *exitWatcher) close() error {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return nil
	}
	w.done = true
	for _, fd := range w.fds {
		unix.Close(fd)
	}
	w.fds, w.pids = nil, nil
	w.mu.Unlock()
	one := [8]byte{1} // an eventfd counter increment, little-endian 1
	_, _ = unix.Write(w.wake, one[:])
	return nil // run returns on the wake-up; release closes the rest
}

// release closes the epoll and event fds once run has returned.
func (w *exitWatcher) release() {
	unix.Close(w.epfd)
	unix.Close(w.wake)
}
