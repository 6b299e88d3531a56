package loader

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

const (
	tcpListen = 10 // TCP_LISTEN
	tcpClose  = 7  // TCP_CLOSE: an unconnected UDP socket
)

// loadNoAttach loads spec without attaching: iterators need no Attach.
func loadNoAttach(tb testing.TB, spec *gadgetspec.Spec) *Gadget {
	tb.Helper()
	g, err := Load(spec, Options{})
	if err != nil {
		tb.Fatalf("Load: %+v", err)
	}
	tb.Cleanup(func() { g.Close() })
	return g
}

// fetcher returns the fetcher of datasource ds.
func fetcher(tb testing.TB, g *Gadget, ds string) Fetcher {
	tb.Helper()
	for _, f := range g.Fetchers() {
		if f.DataSource().Name == ds {
			return f
		}
	}
	tb.Fatalf("no fetcher for datasource %s", ds)
	return nil
}

// fetchRecords runs one fetch into fresh records.
func fetchRecords(tb testing.TB, f Fetcher, fetch func(func() *datasource.Record) (int, error)) []*datasource.Record {
	tb.Helper()
	var recs []*datasource.Record
	n, err := fetch(func() *datasource.Record {
		r := f.DataSource().NewRecord()
		recs = append(recs, r)
		return r
	})
	if err != nil {
		tb.Fatalf("fetch %s: %v", f.DataSource().Name, err)
	}
	if n != len(recs) {
		tb.Fatalf("fetch %s returned %d, asked for %d records", f.DataSource().Name, n, len(recs))
	}
	return recs
}

func field(tb testing.TB, ds *datasource.DataSource, name string) *datasource.Field {
	tb.Helper()
	f := ds.Field(name)
	if f == nil {
		tb.Fatalf("datasource %s has no field %s (fields %v)", ds.Name, name, ds.FieldNames())
	}
	return f
}

func TestFetchers(t *testing.T) {
	requireKernel(t)
	const yaml = `
datasources:
  procs:
    annotations:
      ebpf.iter.fetch-on-stop: "true"
`
	spec := newSpec(t, "iter.bpf.c", yaml)
	g := loadNoAttach(t, spec)
	if err := g.Attach(); err != nil {
		t.Fatalf("Attach of a gadget with iterators: %v", err)
	}
	var got, want []string
	for _, f := range g.Fetchers() {
		got = append(got, f.DataSource().Name)
	}
	for _, it := range spec.Iters {
		want = append(want, it.DataSource.Name)
	}
	if !slices.Equal(got, want) || len(got) != 2 {
		t.Fatalf("fetchers %v, want %v (2 iterators)", got, want)
	}
	for _, f := range g.Fetchers() {
		if f.DataSource().Type != datasource.TypeArray {
			t.Errorf("%s: type %v", f.DataSource().Name, f.DataSource().Type)
		}
		if want := f.DataSource().Name == "procs"; f.FetchOnStop() != want {
			t.Errorf("%s: FetchOnStop = %v, want %v", f.DataSource().Name, f.FetchOnStop(), want)
		}
	}
	socks := fetcher(t, g, "sockets").(*IterFetcher)
	if !slices.Equal(socks.Programs(), []string{"ig_it_tcp", "ig_it_udp"}) || !socks.NetnsScoped() {
		t.Errorf("sockets: programs %v, netns scoped %v", socks.Programs(), socks.NetnsScoped())
	}
	if fetcher(t, g, "procs").(*IterFetcher).NetnsScoped() {
		t.Error("procs is netns scoped")
	}
}

func TestIterTask(t *testing.T) {
	requireKernel(t)
	g := loadNoAttach(t, newSpec(t, "iter.bpf.c", ""))
	f := fetcher(t, g, "procs").(*IterFetcher)
	ds := f.DataSource()
	pidF, tidF, commF := field(t, ds, "pid"), field(t, ds, "tid"), field(t, ds, "comm")

	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		child.Process.Kill()
		child.Wait()
	})
	self, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]string{
		uint64(os.Getpid()):       string(bytes.TrimSpace(self)),
		uint64(child.Process.Pid): "sleep",
	}

	// Fetch twice: each fetch is a fresh snapshot of the same tasks.
	for round := range 2 {
		recs := fetchRecords(t, f, f.Fetch)
		found := map[uint64]string{}
		for _, r := range recs {
			if pid := pidF.Uint64(r); want[pid] != "" {
				if tid := tidF.Uint64(r); tid != pid {
					t.Errorf("round %d: pid %d: tid %d, want the leader", round, pid, tid)
				}
				found[pid] = string(commF.Text(r))
			}
		}
		for pid, comm := range want {
			if found[pid] != comm {
				t.Errorf("round %d: pid %d: comm %q, want %q (%d records)", round, pid, found[pid], comm, len(recs))
			}
		}
	}
}

// socketEntry is a decoded record of the sockets datasource.
type socketEntry struct {
	saddr                [4]byte
	port                 uint64
	family, proto, state uint64
}

func sockets(t *testing.T, f Fetcher, fetch func(func() *datasource.Record) (int, error)) []socketEntry {
	t.Helper()
	ds := f.DataSource()
	saddr, sport := field(t, ds, "saddr"), field(t, ds, "sport")
	family, proto, state := field(t, ds, "family"), field(t, ds, "proto"), field(t, ds, "state")
	var out []socketEntry
	for _, r := range fetchRecords(t, f, fetch) {
		e := socketEntry{port: sport.Uint64(r), family: family.Uint64(r), proto: proto.Uint64(r), state: state.Uint64(r)}
		copy(e.saddr[:], saddr.Raw(r))
		out = append(out, e)
	}
	return out
}

func TestIterSockets(t *testing.T) {
	requireKernel(t)
	g := loadNoAttach(t, newSpec(t, "iter.bpf.c", ""))
	f := fetcher(t, g, "sockets").(*IterFetcher)

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	loopback := [4]byte{127, 0, 0, 1}
	wantTCP := socketEntry{saddr: loopback, port: uint64(ln.Addr().(*net.TCPAddr).Port), family: unix.AF_INET, proto: 6, state: tcpListen}
	wantUDP := socketEntry{saddr: loopback, port: uint64(pc.LocalAddr().(*net.UDPAddr).Port), family: unix.AF_INET, proto: 17, state: tcpClose}

	got := sockets(t, f, f.Fetch)
	for _, want := range []socketEntry{wantTCP, wantUDP} {
		if !slices.Contains(got, want) {
			t.Errorf("snapshot of %d sockets lacks %+v", len(got), want)
		}
	}
	// TCP records come first: the programs' output is concatenated in
	// marker order.
	if i := slices.IndexFunc(got, func(e socketEntry) bool { return e.proto == 17 }); i >= 0 &&
		slices.ContainsFunc(got[i:], func(e socketEntry) bool { return e.proto == 6 }) {
		t.Error("a TCP record follows a UDP record")
	}
}

// newNetns creates a network namespace holding a TCP listener on an
// ephemeral port and returns a path to the namespace and the port.
func newNetns(t *testing.T) (string, int) {
	t.Helper()
	type result struct {
		ln  net.Listener
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread is discarded with the namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		// lo is down in a new namespace: listen on the wildcard address.
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			unix.Close(fd)
		}
		ch <- result{ln, fd, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("create netns: %v", r.err)
	}
	t.Cleanup(func() {
		r.ln.Close()
		unix.Close(r.fd)
	})
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), r.fd), r.ln.Addr().(*net.TCPAddr).Port
}

func TestIterSocketsInNetns(t *testing.T) {
	requireKernel(t)
	g := loadNoAttach(t, newSpec(t, "iter.bpf.c", ""))
	f := fetcher(t, g, "sockets").(*IterFetcher)
	// Not /proc/self: the main thread may be parked in another netns by a
	// goroutine that locked it and exited.
	hostNS, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	path, port := newNetns(t)
	want := socketEntry{port: uint64(port), family: unix.AF_INET, proto: 6, state: tcpListen}

	inNS := sockets(t, f, func(next func() *datasource.Record) (int, error) { return f.FetchInNetns(path, next) })
	if !slices.Contains(inNS, want) {
		t.Errorf("snapshot of %d sockets in the netns lacks %+v: %+v", len(inNS), want, inNS)
	}
	if host := sockets(t, f, f.Fetch); slices.Contains(host, want) {
		t.Errorf("the host netns shows the listener %+v of the other netns", want)
	}

	_, err = f.FetchInNetns("/nonexistent/ns/net", func() *datasource.Record { return f.DataSource().NewRecord() })
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/ns/net") {
		t.Errorf("FetchInNetns with a bad path: %v", err)
	}
	// No thread of the process was left in the other netns.
	for range 20 {
		if self, _ := os.Readlink("/proc/thread-self/ns/net"); self != hostNS {
			t.Fatalf("a test thread is in netns %s, want %s", self, hostNS)
		}
		runtime.Gosched()
	}
}

type elemKey struct{ ID, Pad uint32 }
type elemVal struct{ A, B uint64 }

func TestIterMapElem(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "iter.bpf.c", "", "-DWITH_MAP_ELEM")
	g, err := Load(spec, Options{})
	if errors.Is(err, unix.EPERM) && strings.Contains(err.Error(), "program ig_it_elem") {
		// Seen on the 6.18 build VM: every map-targeted iterator
		// (bpf_map_elem, sockmap, bpf_sk_storage_map), even one that only
		// returns 0, is refused at load while other iterators load.
		t.Skipf("this kernel refuses iter/bpf_map_elem programs: %v", err)
	}
	if err != nil {
		t.Fatalf("Load: %+v", err)
	}
	t.Cleanup(func() { g.Close() })
	f := fetcher(t, g, "elems")
	ds := f.DataSource()
	idF, aF, bF := field(t, ds, "id"), field(t, ds, "a"), field(t, ds, "b")

	m := g.Collection().Maps["ig_it_elems"]
	const n = 300
	want := map[uint32]elemVal{}
	for i := range uint32(n) {
		k, v := elemKey{ID: i + 1}, elemVal{A: uint64(i) * 10, B: ^uint64(i)}
		if err := m.Put(k, v); err != nil {
			t.Fatal(err)
		}
		want[k.ID] = v
	}

	for round := range 2 {
		got := map[uint32]elemVal{}
		for _, r := range fetchRecords(t, f, f.Fetch) {
			got[uint32(idF.Uint64(r))] = elemVal{A: aF.Uint64(r), B: bF.Uint64(r)}
		}
		if len(got) != n {
			t.Fatalf("round %d: %d records, want %d", round, len(got), n)
		}
		for id, v := range want {
			if got[id] != v {
				t.Errorf("round %d: id %d = %+v, want %+v", round, id, got[id], v)
			}
		}
		// Non-destructive: the map still holds every element.
		var k elemKey
		var v elemVal
		left := 0
		for it := m.Iterate(); it.Next(&k, &v); {
			left++
		}
		if left != n {
			t.Errorf("round %d: the map holds %d elements after the fetch, want %d", round, left, n)
		}
	}
}

func TestIterBadSize(t *testing.T) {
	requireKernel(t)
	g := loadNoAttach(t, newSpec(t, "iter.bpf.c", "", "-DBAD_SIZE"))
	f := fetcher(t, g, "bad")
	calls := 0
	n, err := f.Fetch(func() *datasource.Record {
		calls++
		return f.DataSource().NewRecord()
	})
	if err == nil {
		t.Fatal("Fetch succeeded")
	}
	t.Log(err)
	for _, s := range []string{"fetch bad", "program ig_it_bad", "wrote 20 bytes", "24-byte struct"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if n != 0 || calls != 0 {
		t.Errorf("Fetch returned %d and asked for %d records, want 0", n, calls)
	}
}

// TestFetcherChecks covers what Load refuses before touching the kernel.
func TestFetcherChecks(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		change func(*gadgetspec.Spec)
		want   []string
	}{
		{"no target map", "iter.bpf.c", func(s *gadgetspec.Spec) { delete(s.IterTargets, "ig_it_elem") },
			[]string{"iterator elems", "program ig_it_elem (iter/bpf_map_elem) needs a target map", "GADGET_ITER_TARGET_MAP"}},
		{"unsupported kind", "iter.bpf.c", func(s *gadgetspec.Spec) { s.Collection.Programs["ig_it_task"].SectionName = "iter/cgroup" },
			[]string{"iterator procs", `program ig_it_task: unsupported section "iter/cgroup"`}},
		{"array map", "mapiter.bpf.c", func(s *gadgetspec.Spec) { s.Collection.Maps["ig_it_counts"].Type = ebpf.Array },
			[]string{"map iterator calls", "map ig_it_counts is a Array map, want Hash or LRUHash"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := newSpec(t, tt.src, "", "-DWITH_MAP_ELEM")
			tt.change(spec)
			g, err := Load(spec, Options{})
			if err == nil {
				g.Close()
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestFetchAfterClose(t *testing.T) {
	requireKernel(t)
	g, err := Load(newSpec(t, "iter.bpf.c", ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := g.Fetchers()
	if err := g.Detach(); err != nil {
		t.Fatal(err)
	}
	// Iterators keep working after Detach, for a fetch at stop.
	fetchRecords(t, fs[0], fs[0].Fetch)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if _, err := f.Fetch(f.DataSource().NewRecord); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Fetch after Close: %v, want ErrClosed", f.DataSource().Name, err)
		}
	}
}
