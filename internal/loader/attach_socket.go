package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// Socket filter programs run on AF_PACKET sockets: one raw ETH_P_ALL
// socket per program and network namespace, bound to every interface.
//
// The sockets are never read. A filter returning 0 queues nothing; for
// one returning non-zero, the receive buffer is set to the kernel minimum
// (SO_RCVBUF 0, about 2 KiB), so at most about one packet stays queued and
// the kernel drops the rest before copying them. That bounds memory
// without a reader goroutine and a syscall per packet.

// netnsSockets are the sockets of every socket filter program in one
// network namespace, shared by the attachments to it.
type netnsSockets struct {
	ino    uint64
	refs   int
	fds    []int
	closed bool
}

func (n *netnsSockets) close() error {
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, fd := range n.fds {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fmt.Errorf("close socket of netns %d: %w", n.ino, err))
		}
	}
	n.fds = nil
	return errors.Join(errs...)
}

// AttachNetns attaches every socket filter program of the gadget in the
// network namespace at netnsPath (e.g. /proc/<pid>/ns/net or
// /run/netns/<name>), on one AF_PACKET socket per program. Attachments
// are counted per namespace: a second call for the same namespace (two
// containers sharing it) shares the sockets, and they are closed when
// every detach has been called, or by [Gadget.Detach] or [Gadget.Close].
// detach may be called more than once, also after Detach or Close.
//
// A gadget without socket filter programs attaches nothing.
func (g *Gadget) AttachNetns(netnsPath string) (detach func() error, err error) {
	if netnsPath == "" {
		return nil, errors.New("attach netns: empty path")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, fmt.Errorf("attach netns %s: %w", netnsPath, ErrClosed)
	}
	if len(g.programsOfType(ebpf.SocketFilter)) == 0 {
		return func() error { return nil }, nil
	}
	n, err := g.attachNetnsLocked(netnsPath)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if n.closed {
				return // by Detach or Close
			}
			if n.refs--; n.refs == 0 {
				delete(g.att.netns, n.ino)
				err = n.close()
			}
		})
		return err
	}, nil
}

// attachNetnsLocked takes a reference to the sockets of the network
// namespace at nsPath, or of the calling thread's for "", creating them
// if needed. g.mu must be held.
func (g *Gadget) attachNetnsLocked(nsPath string) (*netnsSockets, error) {
	current := nsPath == ""
	if current {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		nsPath = "/proc/thread-self/ns/net"
	}
	wrap := func(err error) error { return fmt.Errorf("attach netns %s: %w", nsPath, err) }
	nsfd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, wrap(err)
	}
	defer unix.Close(nsfd)
	if typ, err := unix.IoctlRetInt(nsfd, unix.NS_GET_NSTYPE); err != nil || typ != unix.CLONE_NEWNET {
		return nil, wrap(errors.New("not a network namespace"))
	}
	var st unix.Stat_t
	if err := unix.Fstat(nsfd, &st); err != nil {
		return nil, wrap(err)
	}
	if n := g.att.netns[st.Ino]; n != nil {
		n.refs++
		return n, nil
	}

	progs := g.programsOfType(ebpf.SocketFilter)
	var fds []int
	open := func() error {
		for _, p := range progs {
			fd, err := openPacketSocket(p.prog)
			if err != nil {
				for _, fd := range fds {
					unix.Close(fd)
				}
				return fmt.Errorf("attach program %s (%s) in netns %s: %w", p.name, p.spec.SectionName, nsPath, err)
			}
			fds = append(fds, fd)
		}
		return nil
	}
	if current {
		err = open()
	} else {
		err = inNetnsFD(nsfd, open)
	}
	if err != nil {
		return nil, err
	}
	n := &netnsSockets{ino: st.Ino, refs: 1, fds: fds}
	if g.att.netns == nil {
		g.att.netns = map[uint64]*netnsSockets{}
	}
	g.att.netns[st.Ino] = n
	return n, nil
}

// inNetnsFD runs fn on a new OS thread moved into the network namespace
// nsfd. The thread is never unlocked, so the Go runtime ends it with the
// goroutine instead of reusing it in the wrong namespace.
func inNetnsFD(nsfd int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// openPacketSocket returns an AF_PACKET raw socket of the current network
// namespace with prog attached. The socket is created with protocol 0, so
// that it receives nothing until it is bound, after the filter is in
// place, to ETH_P_ALL on every interface.
func openPacketSocket(prog *ebpf.Program) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("create AF_PACKET socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 0); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set SO_RCVBUF: %w", err)
	}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, prog.FD())
	runtime.KeepAlive(prog)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("set SO_ATTACH_BPF: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind AF_PACKET socket: %w", err)
	}
	return fd, nil
}

// htons converts a 16-bit value to network byte order.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
