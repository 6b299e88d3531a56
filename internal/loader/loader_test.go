package loader

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// openEvent is a decoded event of testdata/trace_open.bpf.c.
type openEvent struct {
	pid, tid uint32
	ret      int64
	comm     string
	fname    string
}

func decode(ds *datasource.DataSource, rec *datasource.Record) openEvent {
	return openEvent{
		pid:   uint32(ds.Field("pid").Uint64(rec)),
		tid:   uint32(ds.Field("tid").Uint64(rec)),
		ret:   ds.Field("ret").Int64(rec),
		comm:  string(ds.Field("comm").Text(rec)),
		fname: string(ds.Field("fname").Text(rec)),
	}
}

// readUntil reads events until one is for path marker, returning the
// events seen before it from this process. It fails after timeout.
func readUntil(t *testing.T, r *Reader, marker string, timeout time.Duration) []openEvent {
	t.Helper()
	ds := r.DataSource()
	rec := ds.NewRecord()
	r.SetDeadline(time.Now().Add(timeout))
	defer r.SetDeadline(time.Time{})
	var seen []openEvent
	for {
		if err := r.ReadInto(rec); err != nil {
			t.Fatalf("no event for %s: %v (seen %v)", marker, err, seen)
		}
		ev := decode(ds, rec)
		if ev.fname == marker {
			return seen
		}
		if ev.pid == uint32(os.Getpid()) {
			seen = append(seen, ev)
		}
	}
}

func TestTraceOpen(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	g := load(t, spec, Options{Params: map[string]any{"pid": uint32(os.Getpid())}})
	rs := g.Readers()
	if len(rs) != 1 || rs[0].DataSource().Name != "open" || rs[0].MapName() != "events" {
		t.Fatalf("readers = %v", rs)
	}

	path := filepath.Join(t.TempDir(), "trace-open-target")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	r := rs[0]
	ds := r.DataSource()
	rec := ds.NewRecord()
	r.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		if err := r.ReadInto(rec); err != nil {
			t.Fatalf("no event for %s: %v", path, err)
		}
		ev := decode(ds, rec)
		if ev.fname != path {
			continue
		}
		if ev.pid != uint32(os.Getpid()) || ev.tid == 0 || ev.ret < 0 {
			t.Errorf("event = %+v, want pid %d, a tid and ret >= 0", ev, os.Getpid())
		}
		if !strings.HasPrefix("loader.test", ev.comm) || ev.comm == "" {
			t.Errorf("comm = %q, want a prefix of loader.test", ev.comm)
		}
		if ts := ds.Field("timestamp_raw").Uint64(rec); ts == 0 {
			t.Error("timestamp_raw is 0")
		}
		if len(rec.Payload[0]) != int(ds.StaticSize) || len(rec.Rest) != 0 {
			t.Errorf("payload %d bytes + %d rest, want %d + 0", len(rec.Payload[0]), len(rec.Rest), ds.StaticSize)
		}
		return
	}
}

func TestParams(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "does-not-exist")
	pid := uint32(os.Getpid())

	tests := []struct {
		name        string
		params      map[string]any
		wantMissing bool
	}{
		{"default ignores failed opens", map[string]any{"pid": pid}, false},
		{"ignore_failed=false", map[string]any{"pid": pid, "ignore_failed": false}, true},
		{"string values are parsed", map[string]any{"pid": fmt.Sprint(pid), "ignore_failed": "false"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := load(t, spec, Options{Params: tt.params})
			openPath(missing)
			openPath(marker)
			seen := readUntil(t, g.Readers()[0], marker, 5*time.Second)
			got := false
			for _, ev := range seen {
				if ev.fname == missing {
					got = true
					if ev.ret != -int64(unix.ENOENT) {
						t.Errorf("ret = %d, want -ENOENT", ev.ret)
					}
				}
			}
			if got != tt.wantMissing {
				t.Errorf("event for the missing file: got %v, want %v", got, tt.wantMissing)
			}
		})
	}

	t.Run("pid filter", func(t *testing.T) {
		// No process has this pid: nothing of ours may come through.
		g := load(t, spec, Options{Params: map[string]any{"pid": uint32(0x7ffffff0)}})
		openPath(marker)
		r := g.Readers()[0]
		rec := r.DataSource().NewRecord()
		r.SetDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			err := r.ReadInto(rec)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev := decode(r.DataSource(), rec); ev.pid == pid {
				t.Fatalf("got event %+v despite the pid filter", ev)
			}
		}
	})
}

func TestLoadErrors(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	for name, tt := range map[string]struct {
		opts Options
		is   error
	}{
		"unknown param": {Options{Params: map[string]any{"nope": 1}}, ErrUnknownParam},
		"unknown var":   {Options{Vars: map[string]any{"nope": 1}}, ErrUnknownParam},
		"unparsable":    {Options{Params: map[string]any{"pid": "abc"}}, gadgetspec.ErrInvalidParamValue},
		"bad ring size": {Options{RingBufferSize: 5000}, nil},
		"wrong Go type": {Options{Params: map[string]any{"pid": uint64(1)}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			g, err := Load(spec, tt.opts)
			if err == nil {
				g.Close()
				t.Fatal("Load succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			t.Log(err)
		})
	}
}

func TestMinRingBufferSize(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "") // events: 256 KiB
	sized := newSpec(t, "trace_open.bpf.c", "", "-DEVENTS_MAX_ENTRIES=(128*1024)")
	for name, tt := range map[string]struct {
		spec *gadgetspec.Spec
		opts Options
		want int
	}{
		"raised":             {spec, Options{MinRingBufferSize: 1 << 20}, 1 << 20},
		"never lowered":      {spec, Options{MinRingBufferSize: 64 << 10}, 256 << 10},
		"explicit size wins": {spec, Options{RingBufferSize: 128 << 10, MinRingBufferSize: 1 << 20}, 128 << 10},
		"gadget sizes it":    {sized, Options{MinRingBufferSize: 1 << 20}, 128 << 10},
		"no minimum":         {spec, Options{}, 256 << 10},
	} {
		t.Run(name, func(t *testing.T) {
			g, err := Load(tt.spec, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if got := g.Readers()[0].BufferSize(); got != tt.want {
				t.Errorf("ring buffer of %d bytes, want %d", got, tt.want)
			}
		})
	}
	// A size that is no map size names the variable and the value.
	for define, want := range map[string]string{
		"-DEVENTS_MAX_ENTRIES_S32=-1":         "events_max_entries: -1 is not a valid size for map events",
		"-DEVENTS_MAX_ENTRIES_U64=(1ULL<<32)": "events_max_entries: 4294967296 is not a valid size for map events",
	} {
		if _, err := Load(newSpec(t, "trace_open.bpf.c", "", define), Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Load = %v, want %q", define, err, want)
		}
	}
	if _, err := Load(spec, Options{MinRingBufferSize: 5000}); err == nil {
		t.Error("a minimum that is not a power of two was accepted")
	}
}

func TestPerfReader(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "perf.bpf.c", "")
	g := load(t, spec, Options{Params: map[string]any{"targ_pid": uint32(os.Getpid())}, PerfBufferPages: 8})
	r := g.Readers()[0]
	if r.perf == nil {
		t.Fatal("not a perf reader")
	}
	path := filepath.Join(t.TempDir(), "perf-target")
	openPath(path)

	ds := r.DataSource()
	rec := ds.NewRecord()
	r.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		if err := r.ReadInto(rec); err != nil {
			t.Fatalf("no event for %s: %v", path, err)
		}
		if string(ds.Field("fname").Text(rec)) == path {
			if got := ds.Field("pid").Uint64(rec); got != uint64(os.Getpid()) {
				t.Errorf("pid = %d", got)
			}
			break
		}
	}
	if n, err := r.Lost(); err != nil || n != 0 {
		t.Errorf("Lost() = %d, %v", n, err)
	}
}

// TestLostSamples: one page holds 20-46 events; of many more produced
// without reading, every one is either read or counted lost.
func TestLostSamples(t *testing.T) { onePageBuffers(t, testLostSamples) }

func testLostSamples(t *testing.T, g *Gadget) {
	r := g.Readers()[0]
	const n = 200
	missing := filepath.Join(t.TempDir(), "missing")
	// A perf buffer reports its losses in a record it writes before the
	// next event it has room for: read the buffer, then one more event,
	// on the same CPU (each CPU has its buffer).
	opens := func(k int) {
		onOneCPU(t, func() {
			for range k {
				openPath(missing)
			}
		})
	}
	opens(n)
	read := 0
	rec := r.DataSource().NewRecord()
	for _, more := range []int{0, 1} {
		opens(more)
		r.SetDeadline(time.Now().Add(100 * time.Millisecond))
		for r.ReadInto(rec) == nil {
			read++
		}
	}
	lost, err := r.Lost()
	if err != nil {
		t.Fatal(err)
	}
	if lost < n/2 || read+int(lost) != n+1 {
		t.Errorf("read %d events and Lost() = %d, want at least %d lost and %d in all", read, lost, n/2, n+1)
	}
	if n, err := r.Lost(); err != nil || n != 0 {
		t.Errorf("second Lost() = %d, %v; want 0 (reset)", n, err)
	}
}

func TestReadDeadline(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	g := load(t, spec, Options{Params: map[string]any{"pid": uint32(0x7ffffff0)}})
	r := g.Readers()[0]
	r.SetDeadline(time.Now().Add(10 * time.Millisecond))
	if err := r.ReadInto(r.DataSource().NewRecord()); err != os.ErrDeadlineExceeded {
		t.Fatalf("ReadInto = %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestAttachKinds(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "attach.bpf.c", "")
	g := load(t, spec, Options{})
	if _, ok := g.Collection().Programs["ig_disabled"]; ok {
		t.Error("disabled program was loaded")
	}
	if len(g.links) != 3 {
		t.Errorf("got %d links, want 3", len(g.links))
	}
	for range 10 {
		unix.Getppid()
	}
	hits := g.Collection().Maps["hits"]
	for i, name := range []string{"raw_tp", "tp_btf", "tracepoint"} {
		var n uint64
		if err := hits.Lookup(uint32(i), &n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s program did not run", name)
		}
	}
}

func TestAttachOverride(t *testing.T) {
	requireKernel(t)
	const yaml = "programs:\n  ig_tracepoint:\n    attach_to: gadget_program_disabled\n  ig_raw_tp:\n    attach_to: sys_exit\n"
	spec := newSpec(t, "attach.bpf.c", yaml)
	g := load(t, spec, Options{})
	if _, ok := g.Collection().Programs["ig_tracepoint"]; ok {
		t.Error("program disabled by gadget.yaml was loaded")
	}
	if len(g.links) != 2 {
		t.Errorf("got %d links, want 2", len(g.links))
	}
}

func TestKprobe(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "attach.bpf.c", "", "-DWITH_KPROBE")
	g, err := Load(spec, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer g.Close()
	err = g.Attach()
	if err == nil {
		expectHitOnOpen(t, g, 3, "kprobe/do_sys_openat2")
		return
	}
	var fe *FeatureError
	if !errors.As(err, &fe) || !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Attach: %v (not a FeatureError)", err)
	}
	want := "attach program ig_kprobe (kprobe/do_sys_openat2): kprobes are not supported by this kernel (CONFIG_KPROBES): "
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\ndoes not start with %q", err, want)
	}
	if len(g.links) != 0 {
		t.Errorf("%d links left after a failed Attach", len(g.links))
	}
	t.Logf("kprobes unavailable, as expected on this kernel: %v", err)
}

func TestFentry(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "attach.bpf.c", "", "-DWITH_FENTRY")
	g, err := Load(spec, Options{})
	if err == nil {
		defer g.Close()
		if err := g.Attach(); err != nil {
			t.Fatalf("fentry loaded but Attach failed: %v", err)
		}
		expectHitOnOpen(t, g, 5, "fentry/do_sys_openat2")
		return
	}
	var fe *FeatureError
	if !errors.As(err, &fe) || !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Load: %v (not a FeatureError)", err)
	}
	want := "load program ig_fentry (fentry/do_sys_openat2): fentry/fexit programs are not supported by this kernel"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\ndoes not start with %q", err, want)
	}
	t.Logf("fentry unavailable, as expected on this kernel: %v", err)
}

// expectHitOnOpen opens a file and fails unless the program of attach.bpf.c
// that counts in hits[i] ran.
func expectHitOnOpen(t *testing.T, g *Gadget, i uint32, what string) {
	t.Helper()
	f, err := os.Open("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	var n uint64
	if err := g.Collection().Maps["hits"].Lookup(i, &n); err != nil || n == 0 {
		t.Fatalf("%s attached but did not run on an open: hits[%d] = %d, %v", what, i, n, err)
	}
}

// TestLSM: lsm/ programs attach where the kernel runs BPF LSM; elsewhere
// (this project's machine: no lsm=bpf) the load or the attach fails with
// a FeatureError naming what is missing, not "unsupported section".
func TestLSM(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "attach.bpf.c", "", "-DWITH_LSM")
	g, err := Load(spec, Options{})
	if err == nil {
		defer g.Close()
		err = g.Attach()
		if err == nil {
			expectHitOnOpen(t, g, 6, "lsm/file_open")
			return
		}
	}
	var fe *FeatureError
	if !errors.As(err, &fe) || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "LSM programs are not supported") {
		t.Fatalf("LSM: %v, want a FeatureError about LSM programs", err)
	}
	t.Logf("BPF LSM unavailable on this kernel: %v", err)
}

func TestUnsupportedSection(t *testing.T) {
	requireKernel(t)
	// XDP is not supported (as upstream).
	spec := newSpec(t, "attach.bpf.c", "", "-DWITH_XDP")
	g, err := Load(spec, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	defer g.Close()
	err = g.Attach()
	if !errors.Is(err, ErrUnsupportedSection) || !strings.Contains(err.Error(), `unsupported section "xdp" of program ig_xdp`) {
		t.Fatalf("Attach = %v, want an unsupported section error", err)
	}
	if len(g.links) != 0 {
		t.Errorf("%d links left after a failed Attach", len(g.links))
	}
}

func TestVerifierError(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "attach.bpf.c", "", "-DWITH_BAD_VERIFIER")
	_, err := Load(spec, Options{})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	var ve *ebpf.VerifierError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a verifier error", err)
	}
	short, long := err.Error(), fmt.Sprintf("%+v", err)
	if strings.Contains(short, "\n") || !strings.Contains(short, "ig_bad") {
		t.Errorf("summary %q is not one line naming the program", short)
	}
	if strings.Count(long, "\n") < 3 || !strings.HasPrefix(long, "load gadget: ") {
		t.Errorf("%%+v does not print the log:\n%s", long)
	}
	t.Log(short)
}

func TestClose(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "trace_open.bpf.c", "")
	g, err := Load(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Attach(); err != nil {
		t.Fatal(err)
	}
	var progIDs []ebpf.ProgramID
	for name, p := range g.Collection().Programs {
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, ok := info.ID()
		if !ok {
			t.Fatalf("no ID for program %s", name)
		}
		progIDs = append(progIDs, id)
	}
	var linkIDs []link.ID
	for _, l := range g.links {
		info, err := l.Info()
		if err != nil {
			t.Fatalf("link info: %v", err)
		}
		linkIDs = append(linkIDs, info.ID)
	}
	if len(progIDs) != 2 || len(linkIDs) != 2 {
		t.Fatalf("got %d programs and %d links, want 2 and 2", len(progIDs), len(linkIDs))
	}
	r := g.Readers()[0]

	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := r.ReadInto(r.DataSource().NewRecord()); err != ErrClosed {
		t.Errorf("ReadInto after Close = %v, want ErrClosed", err)
	}
	if err := g.Attach(); !errors.Is(err, ErrClosed) {
		t.Errorf("Attach after Close = %v, want ErrClosed", err)
	}

	// The kernel frees programs and links asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for {
		alive := 0
		for _, id := range progIDs {
			if p, err := ebpf.NewProgramFromID(id); err == nil {
				p.Close()
				alive++
			}
		}
		for _, id := range linkIDs {
			if l, err := link.NewFromID(id); err == nil {
				l.Close()
				alive++
			}
		}
		if alive == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d programs or links still alive after Close", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRewriteRingBufs(t *testing.T) {
	cs := &ebpf.CollectionSpec{Maps: map[string]*ebpf.MapSpec{
		"events": {Name: "events", Type: ebpf.RingBuf, MaxEntries: 1 << 20},
		"other":  {Name: "other", Type: ebpf.RingBuf, MaxEntries: 1 << 20},
		"hash":   {Name: "hash", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 10},
	}}
	rewriteRingBufs(cs, []string{"events", "hash", "missing"})
	if m := cs.Maps["events"]; m.Type != ebpf.PerfEventArray || m.KeySize != 4 || m.ValueSize != 4 || m.MaxEntries != 0 {
		t.Errorf("events = %+v", m)
	}
	if m := cs.Maps["other"]; m.Type != ebpf.RingBuf {
		t.Errorf("a ring buffer that is no tracer map was rewritten: %+v", m)
	}
	if m := cs.Maps["hash"]; m.Type != ebpf.Hash || m.KeySize != 4 || m.ValueSize != 8 {
		t.Errorf("hash = %+v", m)
	}
}
