package sdk_test

// Tests that run header code in the kernel: the path walk, user stack
// fields, the task iterator, the socket enricher lookups (packet variants
// with BPF_PROG_TEST_RUN, the struct sock variant on a real TCP socket)
// and the packet filter stub.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// hostSpec compiles testdata/src for this machine and returns its spec.
func hostSpec(t *testing.T, tc *toolchain, src string) *ebpf.CollectionSpec {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", src))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := tc.compile(t, hostGoarch(), abs)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ebpf.LoadCollectionSpec(obj)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func newCollection(t *testing.T, spec *ebpf.CollectionSpec, vars map[string]any) *ebpf.Collection {
	t.Helper()
	for name, v := range vars {
		vs := spec.Variables[name]
		if vs == nil {
			t.Fatalf("variable %s not in the object", name)
		}
		if err := vs.Set(v); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("load: %v\n%s", err, tail(ve.Log, 40))
		}
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { coll.Close() })
	return coll
}

// layout gives byte offsets of (nested) members of BTF structs.
type layout struct {
	t    *testing.T
	spec *btf.Spec
}

// offset returns the offset of member path (e.g. "ustack", "inode")
// inside struct name.
func (l layout) offset(name string, path ...string) uint32 {
	l.t.Helper()
	var st *btf.Struct
	if err := l.spec.TypeByName(name, &st); err != nil {
		l.t.Fatalf("struct %s: %v", name, err)
	}
	var off uint32
	var typ btf.Type = st
	for _, member := range path {
		s, ok := btf.UnderlyingType(typ).(*btf.Struct)
		if !ok {
			l.t.Fatalf("%s.%s: %v is not a struct", name, strings.Join(path, "."), typ)
		}
		found := false
		for _, m := range s.Members {
			if m.Name == member {
				off += m.Offset.Bytes()
				typ = m.Type
				found = true
				break
			}
		}
		if !found {
			l.t.Fatalf("%s: no member %s", name, strings.Join(path, "."))
		}
	}
	return off
}

func u32(b []byte, off uint32) uint32 { return binary.NativeEndian.Uint32(b[off:]) }
func u64(b []byte, off uint32) uint64 { return binary.NativeEndian.Uint64(b[off:]) }
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func statOf(t *testing.T, path string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// TestPathsAndStacks runs the open tracer with --paths and
// --collect-ustack on this process' own opens: the path walk must give
// the real path, and the user stack fields must describe this process.
func TestPathsAndStacks(t *testing.T) {
	requireRoot(t)
	tc := newToolchain(t)
	spec := hostSpec(t, tc, "trace_open.bpf.c")
	l := layout{t, spec.Types}
	coll := newCollection(t, spec, map[string]any{
		"paths":            true,
		"collect_ustack":   true,
		"collect_build_id": true,
		"targ_pid":         uint32(os.Getpid()),
	})
	for _, p := range []struct{ prog, event string }{
		{"ig_openat_e", "sys_enter_openat"},
		{"ig_openat_x", "sys_exit_openat"},
	} {
		lk, err := link.Tracepoint("syscalls", p.event, coll.Programs[p.prog], nil)
		if err != nil {
			t.Fatalf("attach %s: %v", p.event, err)
		}
		t.Cleanup(func() { lk.Close() })
	}
	rd, err := ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })

	// Files and the path the walk must find for them. The temporary file
	// is nested a few levels; /proc, /dev and /sys are other mounts.
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(dir, "a", "b c", "file.txt")
	if err := os.MkdirAll(filepath.Dir(nested), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(nested, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		nested:              nested,
		"/":                 "/",
		"/proc/self/status": "/proc/" + strconv.Itoa(os.Getpid()) + "/status",
		"/dev/null":         "/dev/null",
		"/sys/kernel/btf":   "/sys/kernel/btf",
	}
	for name := range want {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}

	exe := statOf(t, "/proc/self/exe")
	pidns := statOf(t, "/proc/self/ns/pid")
	var (
		fname  = l.offset("event", "fname")
		fpath  = l.offset("event", "fpath")
		tid    = l.offset("event", "proc", "tid")
		kstack = l.offset("event", "kstack_raw")
		us     = func(m string) uint32 { return l.offset("event", "ustack", m) }
	)
	rd.SetDeadline(time.Now().Add(10 * time.Second))
	for len(want) > 0 {
		rec, err := rd.Read()
		if err != nil {
			t.Fatalf("read events (still waiting for %v): %v", want, err)
		}
		ev := rec.RawSample
		name := cstr(ev[fname:fpath])
		wantPath, ok := want[name]
		if !ok {
			continue // another open of this process
		}
		delete(want, name)
		if got := cstr(ev[fpath:]); got != wantPath {
			t.Errorf("open(%q): path %q, want %q", name, got, wantPath)
		}

		if id := int32(u32(ev, us("stack_id"))); id < 0 {
			t.Errorf("open(%q): user stack id %d", name, id)
		} else {
			var frames [127]uint64
			if err := coll.Maps["ig_ustack"].Lookup(uint32(id), &frames); err != nil || frames[0] == 0 {
				t.Errorf("open(%q): user stack %d: %v, first frame %#x", name, id, err, frames[0])
			}
			if _, err := coll.Maps["ig_build_id"].LookupBytes(uint32(id)); err != nil {
				t.Errorf("open(%q): build ids of stack %d: %v", name, id, err)
			}
		}
		for _, c := range []struct {
			field     string
			got, want uint64
		}{
			{"inode", u64(ev, us("inode")), exe.Ino},
			{"mtime_sec", u64(ev, us("mtime_sec")), uint64(exe.Mtim.Sec)},
			{"mtime_nsec", uint64(u32(ev, us("mtime_nsec"))), uint64(exe.Mtim.Nsec)},
			{"major", uint64(u32(ev, us("major"))), uint64(unix.Major(exe.Dev))},
			{"minor", uint64(u32(ev, us("minor"))), uint64(unix.Minor(exe.Dev))},
			{"tgid_level0", uint64(u32(ev, us("tgid_level0"))), uint64(os.Getpid())},
			{"pid_level0", uint64(u32(ev, us("pid_level0"))), uint64(u32(ev, tid))},
			{"pidns_level0", uint64(u32(ev, us("pidns_level0"))), pidns.Ino},
		} {
			if c.got != c.want {
				t.Errorf("open(%q): ustack.%s = %d, want %d", name, c.field, c.got, c.want)
			}
		}
		if u32(ev, us("base_addr_hash")) == 0 || u64(ev, us("boot_timestamp")) == 0 {
			t.Errorf("open(%q): ustack base_addr_hash or boot_timestamp not set", name)
		}

		var kframes [127]uint64
		if err := coll.Maps["ig_kstack"].Lookup(u32(ev, kstack), &kframes); err != nil || kframes[0] == 0 {
			t.Errorf("open(%q): kernel stack %d: %v", name, u32(ev, kstack), err)
		}
	}
}

// process mirrors struct gadget_process.
type process struct {
	Comm     [16]byte
	Pid, Tid uint32
	MntnsID  uint64
	UID, GID uint32
	PComm    [16]byte
	PPid     uint32
	PTid     uint32
}

// TestTaskIterator runs the snapshot iterator filtered on this process.
func TestTaskIterator(t *testing.T) {
	requireRoot(t)
	tc := newToolchain(t)
	base := hostSpec(t, tc, "snapshot_process.bpf.c")
	if size, err := btf.Sizeof(mustStruct(t, base.Types, "gadget_process")); err != nil || size != int(unsafe.Sizeof(process{})) {
		t.Fatalf("struct gadget_process: %d bytes (%v), Go mirror %d", size, err, unsafe.Sizeof(process{}))
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	mntns := statOf(t, "/proc/self/ns/mnt").Ino
	pid := uint32(os.Getpid())

	for _, threads := range []bool{false, true} {
		coll := newCollection(t, base.Copy(), map[string]any{
			"show_threads": threads,
			"targ_pid":     pid,
		})
		it, err := link.AttachIter(link.IterOptions{Program: coll.Programs["ig_snap_proc"]})
		if err != nil {
			t.Fatal(err)
		}
		rd, err := it.Open()
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(rd)
		rd.Close()
		it.Close()
		if err != nil {
			t.Fatal(err)
		}
		recSize := int(unsafe.Sizeof(process{}))
		if len(out) == 0 || len(out)%recSize != 0 {
			t.Fatalf("threads=%v: %d bytes of output, want a non-zero multiple of %d", threads, len(out), recSize)
		}
		var leader int
		for i := 0; i < len(out); i += recSize {
			var p process
			if err := binary.Read(bytes.NewReader(out[i:i+recSize]), binary.NativeEndian, &p); err != nil {
				t.Fatal(err)
			}
			if p.Pid != pid || p.MntnsID != mntns || p.UID != uint32(os.Getuid()) || p.PPid != uint32(os.Getppid()) {
				t.Errorf("threads=%v: record %+v: want pid %d, mntns %d, uid %d, ppid %d",
					threads, p, pid, mntns, os.Getuid(), os.Getppid())
			}
			if p.Tid == pid {
				leader++
				if got := cstr(p.Comm[:]); got != strings.TrimSpace(string(comm)) {
					t.Errorf("threads=%v: comm %q, want %q", threads, got, comm)
				}
			}
		}
		n := len(out) / recSize
		if leader != 1 || (!threads && n != 1) || (threads && n < 2) {
			t.Errorf("threads=%v: %d records, %d of the leader", threads, n, leader)
		}
	}
}

func mustStruct(t *testing.T, spec *btf.Spec, name string) *btf.Struct {
	t.Helper()
	var st *btf.Struct
	if err := spec.TypeByName(name, &st); err != nil {
		t.Fatalf("struct %s: %v", name, err)
	}
	return st
}

// socketKey and socketValue are the gadget_sockets contract seen from Go,
// as the runtime's socket enricher writes the map.
type socketKey struct {
	Netns  uint32
	Family uint16
	Proto  uint8
	_      uint8
	Port   uint16
	_      uint16
}

type socketValue struct {
	Mntns             uint64
	PidTgid           uint64
	UIDGid            uint64
	Task              [16]byte
	PTask             [16]byte
	PPid              uint32
	PTid              uint32
	Sock              uint64
	DeletionTimestamp uint64
	IPv6Only          uint8
	_                 [7]byte
	Cwd               [512]byte
	Exepath           [512]byte
}

func comm16(s string) (b [16]byte) {
	copy(b[:15], s)
	return b
}

// owner is the value of a socket owned by process pid.
func owner(pid uint32, comm string) socketValue {
	return socketValue{
		Mntns:   4026531840 + uint64(pid),
		PidTgid: uint64(pid)<<32 | uint64(pid+1),
		UIDGid:  uint64(2000)<<32 | 1000,
		Task:    comm16(comm),
		PTask:   comm16("parent"),
		PPid:    1,
		PTid:    2,
	}
}

// TestSocketMapLayout pins the contract: the Go mirror, which is what the
// runtime writes, matches the C structs member by member.
func TestSocketMapLayout(t *testing.T) {
	tc := newToolchain(t)
	spec := hostSpec(t, tc, "socket_lookup.bpf.c")
	for _, c := range []struct {
		name   string
		goType any
		fields map[string]uintptr
	}{
		{"gadget_socket_key", socketKey{}, map[string]uintptr{
			"netns": unsafe.Offsetof(socketKey{}.Netns), "family": unsafe.Offsetof(socketKey{}.Family),
			"proto": unsafe.Offsetof(socketKey{}.Proto), "port": unsafe.Offsetof(socketKey{}.Port),
		}},
		{"gadget_socket_value", socketValue{}, map[string]uintptr{
			"mntns": unsafe.Offsetof(socketValue{}.Mntns), "pid_tgid": unsafe.Offsetof(socketValue{}.PidTgid),
			"uid_gid": unsafe.Offsetof(socketValue{}.UIDGid), "task": unsafe.Offsetof(socketValue{}.Task),
			"ptask": unsafe.Offsetof(socketValue{}.PTask), "ppid": unsafe.Offsetof(socketValue{}.PPid),
			"ptid": unsafe.Offsetof(socketValue{}.PTid), "sock": unsafe.Offsetof(socketValue{}.Sock),
			"deletion_timestamp": unsafe.Offsetof(socketValue{}.DeletionTimestamp),
			"ipv6only":           unsafe.Offsetof(socketValue{}.IPv6Only),
			"cwd":                unsafe.Offsetof(socketValue{}.Cwd), "exepath": unsafe.Offsetof(socketValue{}.Exepath),
		}},
	} {
		st := mustStruct(t, spec.Types, c.name)
		if got, want := int(st.Size), binary.Size(c.goType); got != want {
			t.Errorf("%s: %d bytes, Go mirror %d", c.name, got, want)
		}
		named := 0
		for _, m := range st.Members {
			if strings.HasPrefix(m.Name, "__") {
				continue // padding
			}
			named++
			off, ok := c.fields[m.Name]
			if !ok {
				t.Errorf("%s.%s has no Go mirror", c.name, m.Name)
			} else if uintptr(m.Offset.Bytes()) != off {
				t.Errorf("%s.%s at %d, Go mirror at %d", c.name, m.Name, m.Offset.Bytes(), off)
			}
		}
		if named != len(c.fields) {
			t.Errorf("%s: %d named members, Go mirror has %d", c.name, named, len(c.fields))
		}
	}
}

// Packet builders for BPF_PROG_TEST_RUN.

const (
	ethIPv4 = 0x0800
	ethIPv6 = 0x86DD
	ethARP  = 0x0806
	ipTCP   = 6
	ipUDP   = 17
)

// ether frames payload; host=true addresses it to the test device
// (all-zero MAC: the kernel sets pkt_type PACKET_HOST), else elsewhere.
func ether(host bool, typ uint16, payload []byte) []byte {
	b := make([]byte, 14, 14+len(payload))
	if !host {
		copy(b, []byte{0x02, 0, 0, 0, 0, 0x01})
	}
	copy(b[6:], []byte{0x02, 0, 0, 0, 0, 0x02})
	binary.BigEndian.PutUint16(b[12:], typ)
	return append(b, payload...)
}

func l4(proto uint8, sport, dport uint16) []byte {
	size := 8
	if proto == ipTCP {
		size = 20
	}
	b := make([]byte, size+16) // + some payload
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	if proto == ipTCP {
		b[12] = 5 << 4
	}
	return b
}

// ipv4 wraps seg; optWords adds IP options (4 bytes each).
func ipv4(proto uint8, optWords int, seg []byte) []byte {
	hl := 20 + 4*optWords
	b := make([]byte, hl, hl+len(seg))
	b[0] = 0x40 | byte(hl/4)
	binary.BigEndian.PutUint16(b[2:], uint16(hl+len(seg)))
	b[8] = 64
	b[9] = proto
	copy(b[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	for i := 20; i < hl; i++ {
		b[i] = 1 // NOP option
	}
	return append(b, seg...)
}

// ipv6 wraps seg behind the extension headers exts (each: its type, a
// hop-by-hop-like 8-byte header or a fragment header).
func ipv6(exts []uint8, proto uint8, seg []byte) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	b[7] = 64
	b[23], b[39] = 1, 2
	next := proto
	if len(exts) > 0 {
		next = exts[0]
	}
	b[6] = next
	for i := range exts {
		n := proto
		if i+1 < len(exts) {
			n = exts[i+1]
		}
		b = append(b, n, 0, 1, 4, 0, 0, 0, 0) // next, len 0 (8 bytes), PadN
	}
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)-40+len(seg)))
	return append(b, seg...)
}

// result mirrors struct result of socket_lookup.bpf.c.
type result struct {
	Found, Discard uint32
	Proc           process
}

// TestSocketLookup runs the packet lookups of sockets-map.h on crafted
// frames, with gadget_sockets filled as the runtime would.
func TestSocketLookup(t *testing.T) {
	requireRoot(t)
	tc := newToolchain(t)
	base := hostSpec(t, tc, "socket_lookup.bpf.c")

	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	skbType := mustStruct(t, kspec, "__sk_buff")
	cbOff := layout{t, kspec}.offset("__sk_buff", "cb")
	skbCtx := func(netns uint32) []byte {
		b := make([]byte, skbType.Size)
		binary.NativeEndian.PutUint32(b[cbOff:], netns)
		return b
	}

	const netns = 42
	entries := map[socketKey]socketValue{
		{Netns: netns, Family: unix.AF_INET, Proto: ipUDP, Port: 53}:    owner(100, "dnsserver"),
		{Netns: netns, Family: unix.AF_INET, Proto: ipUDP, Port: 5353}:  owner(101, "dnsclient"),
		{Netns: netns, Family: unix.AF_INET6, Proto: ipUDP, Port: 53}:   owner(102, "dns6"),
		{Netns: netns, Family: unix.AF_INET6, Proto: ipTCP, Port: 443}:  owner(103, "https6"),
		{Netns: netns, Family: unix.AF_INET6, Proto: ipTCP, Port: 8080}: owner(104, "dualstack"),
	}
	v6only := owner(105, "v6only")
	v6only.IPv6Only = 1
	entries[socketKey{Netns: netns, Family: unix.AF_INET6, Proto: ipTCP, Port: 8081}] = v6only

	udp4 := func(host bool) []byte { return ether(host, ethIPv4, ipv4(ipUDP, 0, l4(ipUDP, 5353, 53))) }
	cases := []struct {
		name  string
		prog  string
		pkt   []byte
		netns uint32
		want  uint32 // owner pid, 0: none
	}{
		{"udp4 to host by dport", "lookup_pkt_type", udp4(true), netns, 100},
		{"udp4 from host by sport", "lookup_pkt_type", udp4(false), netns, 101},
		{"ingress by dport", "lookup_ingress", udp4(false), netns, 100},
		{"egress by sport", "lookup_egress", udp4(true), netns, 101},
		{"ipv4 options", "lookup_pkt_type", ether(true, ethIPv4, ipv4(ipUDP, 2, l4(ipUDP, 5353, 53))), netns, 100},
		{"ipv6 hop+frag udp", "lookup_pkt_type", ether(true, ethIPv6, ipv6([]uint8{0, 44}, ipUDP, l4(ipUDP, 1234, 53))), netns, 102},
		{"ipv6 hop tcp", "lookup_pkt_type", ether(true, ethIPv6, ipv6([]uint8{0}, ipTCP, l4(ipTCP, 40000, 443))), netns, 103},
		{"ipv4 to dual-stack", "lookup_pkt_type", ether(true, ethIPv4, ipv4(ipTCP, 0, l4(ipTCP, 40000, 8080))), netns, 104},
		{"ipv4 to v6only", "lookup_pkt_type", ether(true, ethIPv4, ipv4(ipTCP, 0, l4(ipTCP, 40000, 8081))), netns, 0},
		{"other netns", "lookup_pkt_type", udp4(true), 7, 0},
		{"tcp is not udp", "lookup_pkt_type", ether(true, ethIPv4, ipv4(ipTCP, 0, l4(ipTCP, 5353, 53))), netns, 0},
		{"not ip", "lookup_pkt_type", ether(true, ethARP, make([]byte, 28)), netns, 0},
	}

	run := func(t *testing.T, coll *ebpf.Collection, prog string, pkt []byte, ns uint32) result {
		t.Helper()
		if _, err := coll.Programs[prog].Run(&ebpf.RunOptions{Data: pkt, Context: skbCtx(ns)}); err != nil {
			t.Fatalf("run %s: %v", prog, err)
		}
		var r result
		if err := coll.Maps["results"].Lookup(uint32(0), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	fill := func(t *testing.T, coll *ebpf.Collection) {
		t.Helper()
		for k, v := range entries {
			if err := coll.Maps["gadget_sockets"].Put(k, v); err != nil {
				t.Fatalf("put %+v: %v", k, err)
			}
		}
	}

	t.Run("lookups", func(t *testing.T) {
		coll := newCollection(t, base.Copy(), nil)
		fill(t, coll)
		for _, c := range cases {
			r := run(t, coll, c.prog, c.pkt, c.netns)
			if got := r.Proc.Pid; (r.Found == 1) != (c.want != 0) || got != c.want {
				t.Errorf("%s: found %d, pid %d, want pid %d", c.name, r.Found, got, c.want)
			}
			if r.Discard != 0 {
				t.Errorf("%s: discarded without any filter", c.name)
			}
		}
		// Every member of the owner reaches struct gadget_process.
		r := run(t, coll, "lookup_pkt_type", udp4(true), netns)
		want := process{
			Comm: comm16("dnsserver"), Pid: 100, Tid: 101, MntnsID: 4026531940,
			UID: 1000, GID: 2000, PComm: comm16("parent"), PPid: 1, PTid: 2,
		}
		if r.Proc != want {
			t.Errorf("populated %+v, want %+v", r.Proc, want)
		}
	})

	t.Run("filter", func(t *testing.T) {
		coll := newCollection(t, base.Copy(), map[string]any{"targ_pid": uint32(100)})
		fill(t, coll)
		for _, c := range []struct {
			name    string
			pkt     []byte
			netns   uint32
			discard uint32
		}{
			{"owner matches", udp4(true), netns, 0},
			{"other owner", udp4(false), netns, 1},
			{"unknown owner", udp4(true), 7, 1},
		} {
			if r := run(t, coll, "lookup_pkt_type", c.pkt, c.netns); r.Discard != c.discard {
				t.Errorf("%s: discard %d, want %d", c.name, r.Discard, c.discard)
			}
		}
	})

	t.Run("packet filter stub", func(t *testing.T) {
		coll := newCollection(t, base.Copy(), nil)
		ret, err := coll.Programs["pf_stub"].Run(&ebpf.RunOptions{Data: udp4(true), Context: skbCtx(0)})
		if err != nil {
			t.Fatal(err)
		}
		if ret != 1 {
			t.Errorf("stub filter returned %d for a packet, want 1 (match)", ret)
		}
	})
}

// TestSocketLookupSock runs gadget_socket_lookup(sk, netns) from
// tp_btf/inet_sock_set_state on a real TCP connection: the socket whose
// local port is in gadget_sockets is attributed to its (fake) owner.
func TestSocketLookupSock(t *testing.T) {
	requireRoot(t)
	tc := newToolchain(t)
	spec := hostSpec(t, tc, "trace_tcp.bpf.c")
	delete(spec.Programs, "ig_tcp_close") // fentry: refused by this kernel
	l := layout{t, spec.Types}
	coll := newCollection(t, spec, nil)
	lk, err := link.AttachTracing(link.TracingOptions{Program: coll.Programs["ig_tcp_state"]})
	if err != nil {
		t.Fatalf("attach tp_btf/inet_sock_set_state: %v", err)
	}
	t.Cleanup(func() { lk.Close() })
	rd, err := ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	netns := uint32(statOf(t, "/proc/self/ns/net").Ino)
	key := socketKey{Netns: netns, Family: unix.AF_INET, Proto: ipTCP, Port: port}
	if err := coll.Maps["gadget_sockets"].Put(key, owner(4242, "fakeowner")); err != nil {
		t.Fatal(err)
	}

	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	// A reset closes both ends at once (no FIN_WAIT/TIME_WAIT).
	server.(*net.TCPConn).SetLinger(0)
	server.Close()

	var (
		srcPort = l.offset("event", "src", "port")
		pidOff  = l.offset("event", "proc", "pid")
		commOff = l.offset("event", "proc", "comm")
		nsOff   = l.offset("event", "netns_id")
	)
	rd.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		rec, err := rd.Read()
		if err != nil {
			t.Fatalf("no close event for local port %d: %v", port, err)
		}
		ev := rec.RawSample
		if binary.NativeEndian.Uint16(ev[srcPort:]) != port {
			continue
		}
		if got := u32(ev, pidOff); got != 4242 {
			t.Errorf("owner pid %d, want 4242", got)
		}
		if got := cstr(ev[commOff : commOff+16]); got != "fakeowner" {
			t.Errorf("owner comm %q, want fakeowner", got)
		}
		if got := u32(ev, nsOff); got != netns {
			t.Errorf("netns %d, want %d", got, netns)
		}
		return
	}
}
