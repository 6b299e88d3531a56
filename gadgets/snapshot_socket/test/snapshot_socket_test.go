package snapshot_socket_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

type endpoint struct {
	Addr     string `json:"addr"`
	Port     uint16 `json:"port"`
	Proto    string `json:"proto"`
	ProtoRaw int    `json:"proto_raw"`
	Version  int    `json:"version"`
}

type socket struct {
	Src      endpoint `json:"src"`
	Dst      endpoint `json:"dst"`
	State    string   `json:"state"`
	StateRaw int      `json:"state_raw"`
	Ino      uint64   `json:"ino"`
	NetnsID  uint64   `json:"netns_id"`
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

func igWithSnapshotSocket(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "snapshot_socket")
}

// socketIno returns the inode of the socket behind a net.Conn/Listener.
func socketIno(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return st.Ino
}

func netns(t *testing.T) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestListenerAndUDPSocket(t *testing.T) {
	ig := igWithSnapshotSocket(t)

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lport := uint16(ln.Addr().(*net.TCPAddr).Port)

	// One established connection: both of its ends are sockets.
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cport := uint16(client.LocalAddr().(*net.TCPAddr).Port)

	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	uport := uint16(udp.LocalAddr().(*net.UDPAddr).Port)

	cmd := ig.Command("run", "snapshot_socket", "-o", "json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("ig: %v; stderr: %s", err, errb.String())
	}
	t.Logf("ig exited by itself after %v", time.Since(start))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d output lines, want one array:\n%s", len(lines), out.String())
	}
	var socks []socket
	if err := json.Unmarshal([]byte(lines[0]), &socks); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out.String())
	}

	find := func(proto string, src, dst uint16) *socket {
		for i, s := range socks {
			if s.Src.Proto == proto && s.Src.Port == src && s.Dst.Port == dst && s.Src.Addr == "127.0.0.1" {
				return &socks[i]
			}
		}
		return nil
	}
	ns := netns(t)
	check := func(what string, s *socket, state string, stateRaw int, ino uint64, dstAddr string) {
		t.Helper()
		if s == nil {
			t.Errorf("%s not found among %d sockets:\n%s", what, len(socks), out.String())
			return
		}
		if s.State != state || s.StateRaw != stateRaw {
			t.Errorf("%s: state %q (%d), want %s (%d)", what, s.State, s.StateRaw, state, stateRaw)
		}
		if s.Ino != ino {
			t.Errorf("%s: ino %d, want %d", what, s.Ino, ino)
		}
		if s.NetnsID != ns {
			t.Errorf("%s: netns_id %d, want %d", what, s.NetnsID, ns)
		}
		if s.Src.Version != 4 || s.Dst.Version != 4 || s.Dst.Addr != dstAddr || s.Dst.Proto != s.Src.Proto {
			t.Errorf("%s: src %+v dst %+v, want IPv4 to %s", what, s.Src, s.Dst, dstAddr)
		}
	}
	check(fmt.Sprintf("TCP listener 127.0.0.1:%d", lport), find("TCP", lport, 0),
		"LISTEN", 10, socketIno(t, ln.(*net.TCPListener)), "0.0.0.0")
	check(fmt.Sprintf("client 127.0.0.1:%d -> %d", cport, lport), find("TCP", cport, lport),
		"ESTABLISHED", 1, socketIno(t, client.(*net.TCPConn)), "127.0.0.1")
	check(fmt.Sprintf("server 127.0.0.1:%d -> %d", lport, cport), find("TCP", lport, cport),
		"ESTABLISHED", 1, socketIno(t, server.(*net.TCPConn)), "127.0.0.1")
	check(fmt.Sprintf("UDP socket 127.0.0.1:%d", uport), find("UDP", uport, 0),
		"CLOSE", 7, socketIno(t, udp.(*net.UDPConn)), "0.0.0.0")
	for _, s := range socks {
		if (s.Src.Proto == "TCP") != (s.Src.ProtoRaw == 6) || (s.Src.Proto == "UDP") != (s.Src.ProtoRaw == 17) {
			t.Errorf("proto %q does not match proto_raw %d", s.Src.Proto, s.Src.ProtoRaw)
		}
	}
}

// TestTimeWait closes a connection from the client first: the client end
// lingers in TIME_WAIT, which the TCP iterator yields as a mini socket.
func TestTimeWait(t *testing.T) {
	ig := igWithSnapshotSocket(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cport := uint16(client.LocalAddr().(*net.TCPAddr).Port)
	lport := uint16(ln.Addr().(*net.TCPAddr).Port)
	client.Close()
	time.Sleep(20 * time.Millisecond) // FIN reaches the server
	server.Close()
	time.Sleep(20 * time.Millisecond) // last ACK: client in TIME_WAIT

	out := ig.MustRun(t, "run", "snapshot_socket", "-o", "json")
	var socks []socket
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &socks); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	for _, s := range socks {
		if s.Src.Port == cport && s.Dst.Port == lport && s.Src.Proto == "TCP" {
			if s.State != "TIME_WAIT" || s.Ino != 0 {
				t.Errorf("closed client end: state %q ino %d, want TIME_WAIT and 0", s.State, s.Ino)
			}
			return
		}
	}
	t.Fatalf("no socket 127.0.0.1:%d -> %d after close:\n%s", cport, lport, out)
}

// TestIPv6Listener checks an IPv6 listener on ::1.
func TestIPv6Listener(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	ig := igWithSnapshotSocket(t)
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	out := ig.MustRun(t, "run", "snapshot_socket", "-o", "json")
	var socks []socket
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &socks); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	for _, s := range socks {
		if s.Src.Port == port && s.Src.Proto == "TCP" && s.State == "LISTEN" {
			if s.Src.Version != 6 || s.Src.Addr != "::1" || s.Dst.Addr != "::" || s.Ino != socketIno(t, ln.(*net.TCPListener)) {
				t.Errorf("IPv6 listener: %+v", s)
			}
			return
		}
	}
	t.Fatalf("no listener on [::1]:%d:\n%s", port, out)
}
