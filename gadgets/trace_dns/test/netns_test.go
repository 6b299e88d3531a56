package trace_dns_test

// The test's own network: a network namespace with lo up, a DNS server on
// 127.0.0.53:53 (UDP and TCP) and [::1]:53 (UDP), and clients sending
// queries to it and to 127.0.0.54:53, where nobody listens. Every socket
// is created in that namespace; nothing leaves it.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a network namespace created by the test (ip netns add), with
// one OS thread locked in it that creates the test's sockets.
type netns struct {
	name  string
	path  string
	inode uint64
	work  chan func()
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	name := fmt.Sprintf("igdns-%d-%d", os.Getpid(), rand.IntN(1<<20))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", name, err, out)
	}
	n := &netns{name: name, path: filepath.Join("/run/netns", name), work: make(chan func())}
	t.Cleanup(func() {
		close(n.work)
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v\n%s", name, err, out)
	}
	var st unix.Stat_t
	if err := unix.Stat(n.path, &st); err != nil {
		t.Fatal(err)
	}
	n.inode = st.Ino

	fd, err := unix.Open(n.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan error)
	go func() {
		// Never unlocked: the thread ends with the goroutine instead of
		// going back to the Go scheduler in the wrong namespace.
		runtime.LockOSThread()
		err := unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		ready <- err
		if err != nil {
			return
		}
		for fn := range n.work {
			fn()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("setns: %v", err)
	}
	return n
}

// do runs fn on the thread in the namespace: sockets it creates are there.
func (n *netns) do(fn func()) {
	done := make(chan struct{})
	n.work <- func() { fn(); close(done) }
	<-done
}

// command runs name with args in the namespace (nsenter changes only the
// network namespace, unlike `ip netns exec`, which remounts /sys).
func (n *netns) command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + n.path, name}, args...)...)
}

// --- DNS messages ---

func appendName(b []byte, name string) []byte {
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func newQuery(id uint16, name string, qtype uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0) // RD, one question
	b = appendName(b, name)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1)
}

// The server's zone.
var zone = map[string][]answer{
	"example.test.":       {{typ: 1, data: []byte{192, 0, 2, 1}}},
	"tcp.example.test.":   {{typ: 1, data: []byte{192, 0, 2, 4}}},
	"v6.example.test.":    {{typ: 28, data: net.ParseIP("2001:db8::1").To16()}},
	"cname.example.test.": {{typ: 5, data: appendName(nil, "example.test.")}, {typ: 1, data: []byte{192, 0, 2, 2}}, {typ: 1, data: []byte{192, 0, 2, 3}}},
}

type answer struct {
	typ  uint16
	data []byte
}

// respond answers query q: the records of its name in the zone (all
// pointing at the question's name), or NXDOMAIN.
func respond(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	off := 12
	var labels []string
	for off < len(q) && q[off] != 0 {
		l := int(q[off])
		if off+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[off+1:off+1+l]))
		off += 1 + l
	}
	off += 5 // root label, type, class
	if off > len(q) {
		return nil
	}
	name := strings.Join(labels, ".") + "."
	answers, ok := zone[name]
	rcode := byte(0)
	if !ok {
		rcode = 3
	}
	r := append([]byte(nil), q[:2]...)
	r = append(r, 0x81, 0x80|rcode, 0, 1)
	r = binary.BigEndian.AppendUint16(r, uint16(len(answers)))
	r = append(r, 0, 0, 0, 0)
	r = append(r, q[12:off]...)
	for _, a := range answers {
		r = append(r, 0xc0, 12)
		r = binary.BigEndian.AppendUint16(r, a.typ)
		r = append(r, 0, 1, 0, 0, 0, 60)
		r = binary.BigEndian.AppendUint16(r, uint16(len(a.data)))
		r = append(r, a.data...)
	}
	return r
}

// serve runs the DNS server in n until the test ends. ipv6 reports
// whether [::1]:53 could be served.
func serve(t *testing.T, n *netns) (ipv6 bool) {
	var udp4, udp6 net.PacketConn
	var tcp net.Listener
	var err4, err6, errT error
	n.do(func() {
		udp4, err4 = net.ListenPacket("udp4", "127.0.0.53:53")
		udp6, err6 = net.ListenPacket("udp6", "[::1]:53")
		tcp, errT = net.Listen("tcp4", "127.0.0.53:53")
	})
	if err := errors.Join(err4, errT); err != nil {
		t.Fatalf("DNS server: %v", err)
	}
	conns := []io.Closer{udp4, tcp}
	pcs := []net.PacketConn{udp4}
	if err6 == nil {
		conns = append(conns, udp6)
		pcs = append(pcs, udp6)
	} else {
		t.Logf("no IPv6 on lo (%v): the IPv6 case is skipped", err6)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for _, pc := range pcs {
		go func() {
			buf := make([]byte, 2048)
			for {
				n, addr, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				if r := respond(buf[:n]); r != nil {
					_, _ = pc.WriteTo(r, addr)
				}
			}
		}()
	}
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				q := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				r := respond(q)
				_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(r))), r...))
			}()
		}
	}()
	return err6 == nil
}

// sent is one query a client sent.
type sent struct {
	id       uint16
	name     string
	server   string // "127.0.0.53:53", ...
	proto    string // "UDP" or "TCP"
	src      string // the client's ip:port
	answered bool   // a response came back
}

// traffic sends queries from n every interval until stopped.
type traffic struct {
	mu      sync.Mutex
	queries []sent
	stop    chan struct{}
	done    sync.WaitGroup
	nextID  atomic.Uint32
}

func (tr *traffic) record(s sent) {
	tr.mu.Lock()
	tr.queries = append(tr.queries, s)
	tr.mu.Unlock()
}

func (tr *traffic) id() uint16 { return uint16(tr.nextID.Add(1)) }

// Stop ends the clients and returns what they sent.
func (tr *traffic) Stop() []sent {
	close(tr.stop)
	tr.done.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.queries
}

type udpCase struct {
	network, server, name string
	qtype                 uint16
	wantAnswer            bool
}

func startTraffic(t *testing.T, n *netns, ipv6 bool, interval time.Duration) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	tr.nextID.Store(uint32(rand.IntN(30000)))
	cases := []udpCase{
		{"udp4", "127.0.0.53:53", "example.test.", 1, true},
		{"udp4", "127.0.0.53:53", "cname.example.test.", 1, true},
		{"udp4", "127.0.0.53:53", "missing.example.test.", 1, true},
		{"udp4", "127.0.0.54:53", "nothere.example.test.", 1, false},
	}
	if ipv6 {
		cases = append(cases, udpCase{"udp6", "[::1]:53", "v6.example.test.", 28, true})
	}
	for _, c := range cases {
		var pc net.PacketConn
		var err error
		local := "127.0.0.1:0"
		if c.network == "udp6" {
			local = "[::1]:0"
		}
		n.do(func() { pc, err = net.ListenPacket(c.network, local) })
		if err != nil {
			t.Fatalf("client socket: %v", err)
		}
		server, err := net.ResolveUDPAddr(c.network, c.server)
		if err != nil {
			t.Fatal(err)
		}
		tr.done.Add(1)
		go func() {
			defer tr.done.Done()
			defer pc.Close()
			buf := make([]byte, 2048)
			for {
				select {
				case <-tr.stop:
					return
				case <-time.After(interval):
				}
				id := tr.id()
				if _, err := pc.WriteTo(newQuery(id, c.name, c.qtype), server); err != nil {
					t.Errorf("send %s to %s: %v", c.name, c.server, err)
					return
				}
				s := sent{id: id, name: c.name, server: c.server, proto: "UDP", src: pc.LocalAddr().String()}
				if c.wantAnswer {
					_ = pc.SetReadDeadline(time.Now().Add(time.Second))
					if m, _, err := pc.ReadFrom(buf); err == nil && m >= 2 && binary.BigEndian.Uint16(buf) == id {
						s.answered = true
					}
				}
				tr.record(s)
			}
		}()
	}

	// DNS over TCP: one connection per query.
	tr.done.Add(1)
	go func() {
		defer tr.done.Done()
		for {
			select {
			case <-tr.stop:
				return
			case <-time.After(interval):
			}
			var c net.Conn
			var err error
			n.do(func() { c, err = net.DialTimeout("tcp4", "127.0.0.53:53", time.Second) })
			if err != nil {
				t.Errorf("TCP client: %v", err)
				return
			}
			id := tr.id()
			q := newQuery(id, "tcp.example.test.", 1)
			s := sent{id: id, name: "tcp.example.test.", server: "127.0.0.53:53", proto: "TCP", src: c.LocalAddr().String()}
			_ = c.SetDeadline(time.Now().Add(time.Second))
			// Length and message in one write: one segment.
			if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err == nil {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err == nil {
					r := make([]byte, binary.BigEndian.Uint16(l[:]))
					if _, err := io.ReadFull(c, r); err == nil && binary.BigEndian.Uint16(r) == id {
						s.answered = true
					}
				}
			}
			c.Close()
			tr.record(s)
		}
	}()
	return tr
}
