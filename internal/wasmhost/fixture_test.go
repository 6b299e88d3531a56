package wasmhost

import (
	"bufio"
	"encoding/binary"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

var checkRe = regexp.MustCompile(`check (.+?): (ok|FAIL.*)$`)

// guestChecks returns the self-checks a guest reported: name → "ok" or
// the failure. It fails the test for every failed check.
func guestChecks(t *testing.T, log string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		m := checkRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		out[m[1]] = m[2]
		if m[2] != "ok" {
			t.Errorf("guest check %s: %s", m[1], m[2])
		}
	}
	return out
}

func requireChecks(t *testing.T, got map[string]string, names ...string) {
	t.Helper()
	for _, n := range names {
		if got[n] != "ok" {
			t.Errorf("guest check %q not reported ok (got %q)", n, got[n])
		}
	}
}

// --- the "events" datasource: one static field of every kind ---

func newEventsDS(t testing.TB) *datasource.DataSource {
	ds := datasource.New("events", datasource.TypeSingle)
	for _, f := range []struct {
		name         string
		kind         datasource.Kind
		offset, size uint32
	}{
		{"b", datasource.Bool, 0, 1},
		{"i8", datasource.Int8, 1, 1},
		{"i16", datasource.Int16, 2, 2},
		{"i32", datasource.Int32, 4, 4},
		{"i64", datasource.Int64, 8, 8},
		{"u8", datasource.Uint8, 16, 1},
		{"u16", datasource.Uint16, 18, 2},
		{"u32", datasource.Uint32, 20, 4},
		{"u64", datasource.Uint64, 24, 8},
		{"f32", datasource.Float32, 32, 4},
		{"f64", datasource.Float64, 40, 8},
		{"comm", datasource.CString, 48, 16},
		{"raw", datasource.Bytes, 64, 4},
	} {
		if _, err := ds.AddStaticField(nil, f.name, f.kind, f.offset, f.size, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A dynamic field added before the guest runs, as enrichment would.
	if _, err := ds.AddField(nil, "dyn", datasource.String, 0); err != nil {
		t.Fatal(err)
	}
	return ds
}

// eventsBatch returns n records; record i holds values derived from i.
func eventsBatch(ds *datasource.DataSource, n int) *pipeline.Batch {
	b := &pipeline.Batch{DS: ds}
	ne := binary.NativeEndian
	for k := 0; k < n; k++ {
		i := int64(k)
		r := ds.NewRecord()
		p := r.Payload[0]
		p[0] = byte(i % 2)
		p[1] = byte(int8(-i))
		ne.PutUint16(p[2:], uint16(int16(-100*i)))
		ne.PutUint32(p[4:], uint32(int32(-100000*i)))
		ne.PutUint64(p[8:], uint64(-10000000000*i))
		p[16] = byte(i)
		ne.PutUint16(p[18:], uint16(100*i))
		ne.PutUint32(p[20:], uint32(i))
		ne.PutUint64(p[24:], uint64(10000000000*i))
		ne.PutUint32(p[32:], math.Float32bits(float32(i)+0.5))
		ne.PutUint64(p[40:], math.Float64bits(float64(i)+0.25))
		copy(p[48:64], "comm"+strconv.Itoa(k))
		copy(p[64:68], []byte{byte(i), byte(i + 1), byte(i + 2), byte(i + 3)})
		ds.Field("dyn").SetString(r, "dyn"+strconv.Itoa(k))
		b.Records = append(b.Records, r)
	}
	return b
}

// verifyEvents checks what a guest wrote into eventsBatch records; the
// records whose u32 is in discarded must be gone.
func verifyEvents(t *testing.T, ds *datasource.DataSource, b *pipeline.Batch, n int, discarded ...int) {
	t.Helper()
	var want []int
	for k := 0; k < n; k++ {
		if !slices.Contains(discarded, k) {
			want = append(want, k)
		}
	}
	if len(b.Records) != len(want) {
		t.Fatalf("%d records left, want %d", len(b.Records), len(want))
	}
	f := ds.Field
	for idx, r := range b.Records {
		i := int64(f("u32").Uint64(r))
		if int(i) != want[idx] {
			t.Errorf("record %d is event %d, want %d", idx, i, want[idx])
			continue
		}
		errf := func(name string, got, want any) {
			if got != want {
				t.Errorf("event %d: %s = %v, want %v", i, name, got, want)
			}
		}
		errf("w_bool", f("w_bool").Bool(r), i%2 == 0)
		errf("w_i8", f("w_i8").Int64(r), -i-1)
		errf("w_i16", f("w_i16").Int64(r), -100*i-1)
		errf("w_i32", f("w_i32").Int64(r), -100000*i-1)
		errf("w_i64", f("w_i64").Int64(r), -10000000000*i-1)
		errf("w_u8", f("w_u8").Uint64(r), uint64(i+1))
		errf("w_u16", f("w_u16").Uint64(r), uint64(100*i+1))
		errf("w_u32", f("w_u32").Uint64(r), uint64(i+1))
		errf("w_u64", f("w_u64").Uint64(r), uint64(10000000000*i+1))
		errf("w_f32", f("w_f32").Float64(r), float64((float32(i)+0.5)*2))
		errf("w_f64", f("w_f64").Float64(r), (float64(i)+0.25)*2)
		errf("w_str", string(f("w_str").Text(r)), "s"+strconv.Itoa(int(i)))
		errf("w_cstr", string(f("w_cstr").Text(r)), "c"+strconv.Itoa(int(i)))
		errf("w_bytes", string(f("w_bytes").Raw(r)), string([]byte{byte(i), 0xff}))
		errf("b (static)", f("b").Bool(r), i%2 == 0)
		errf("i8 (static)", f("i8").Int64(r), -i-1)
		errf("i16 (static)", f("i16").Int64(r), -100*i-1)
		errf("i32 (static)", f("i32").Int64(r), -100000*i-1)
		errf("i64 (static)", f("i64").Int64(r), -10000000000*i-1)
		errf("u8 (static)", f("u8").Uint64(r), uint64(i+1))
		errf("u16 (static)", f("u16").Uint64(r), uint64(100*i+1))
		errf("u64 (static)", f("u64").Uint64(r), uint64(10000000000*i+5))
		errf("f32 (static)", f("f32").Float64(r), float64((float32(i)+0.5)*2))
		errf("f64 (static)", f("f64").Float64(r), (float64(i)+0.25)*2)
		errf("comm (static)", string(f("comm").Text(r)), "new"+strconv.Itoa(int(i)))
		errf("raw (static)", string(f("raw").Raw(r)), "\x09\x09\x09\x09")
		errf("dyn", string(f("dyn").Text(r)), "DYN"+strconv.Itoa(int(i)))
	}
}

func newSnapDS(t testing.TB) *datasource.DataSource {
	ds := datasource.New("snap", datasource.TypeArray)
	if _, err := ds.AddStaticField(nil, "n", datasource.Uint32, 0, 4, 0); err != nil {
		t.Fatal(err)
	}
	return ds
}

func snapBatch(ds *datasource.DataSource, n int) *pipeline.Batch {
	b := &pipeline.Batch{DS: ds}
	for k := 0; k < n; k++ {
		r := ds.NewRecord()
		ds.Field("n").SetUint64(r, uint64(k))
		b.Records = append(b.Records, r)
	}
	return b
}

// --- the "bench" datasource: pid, ts, comm ---

func newBenchDS(t testing.TB) *datasource.DataSource {
	ds := datasource.New("bench", datasource.TypeSingle)
	for _, f := range []struct {
		name         string
		kind         datasource.Kind
		offset, size uint32
	}{
		{"pid", datasource.Uint32, 0, 4},
		{"ts", datasource.Uint64, 8, 8},
		{"comm", datasource.CString, 16, 16},
	} {
		if _, err := ds.AddStaticField(nil, f.name, f.kind, f.offset, f.size, 0); err != nil {
			t.Fatal(err)
		}
	}
	return ds
}

func benchBatch(ds *datasource.DataSource, n int) *pipeline.Batch {
	b := &pipeline.Batch{DS: ds}
	for k := 0; k < n; k++ {
		r := ds.NewRecord()
		binary.NativeEndian.PutUint32(r.Payload[0][0:], uint32(1000+k))
		binary.NativeEndian.PutUint64(r.Payload[0][8:], uint64(k))
		copy(r.Payload[0][16:], "process"+strconv.Itoa(k%10))
		b.Records = append(b.Records, r)
	}
	return b
}

func verifyBench(t testing.TB, ds *datasource.DataSource, b *pipeline.Batch) {
	t.Helper()
	for k, r := range b.Records {
		want := uint64(1000+k) + 8 + uint64(k&1)
		if got := ds.Field("score").Uint64(r); got != want {
			t.Fatalf("record %d: score %d, want %d", k, got, want)
		}
	}
}

// --- eBPF fixtures for maps and perf buffers ---

type bpfFixture struct {
	testmap, perfmap, outer, inner *ebpf.Map
	prog                           *ebpf.Program
}

// newBPFFixture creates the maps the everything guest uses and an XDP
// program that writes 0x1122334455667788 to perfmap. It returns nil when
// the kernel or the privileges do not allow it.
func newBPFFixture(t *testing.T) *bpfFixture {
	t.Helper()
	var f bpfFixture
	var err error
	fail := func(what string, err error) *bpfFixture {
		t.Logf("eBPF map and perf checks skipped: %s: %v", what, err)
		f.close()
		return nil
	}
	if f.testmap, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 8}); err != nil {
		return fail("hash map", err)
	}
	if err := f.testmap.Put(uint32(1), uint64(100)); err != nil {
		return fail("hash map", err)
	}
	if f.perfmap, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.PerfEventArray}); err != nil {
		return fail("perf event array", err)
	}
	if f.inner, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1}); err != nil {
		return fail("array", err)
	}
	if err := f.inner.Put(uint32(0), uint64(77)); err != nil {
		return fail("array", err)
	}
	f.outer, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.HashOfMaps, KeySize: 4, ValueSize: 4, MaxEntries: 1,
		InnerMap: &ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1}})
	if err != nil {
		return fail("hash of maps", err)
	}
	if err := f.outer.Put(uint32(0), f.inner); err != nil {
		return fail("hash of maps", err)
	}
	f.prog, err = ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.XDP,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.R1),
			asm.LoadImm(asm.R0, 0x1122334455667788, asm.DWord),
			asm.StoreMem(asm.RFP, -8, asm.R0, asm.DWord),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.LoadMapPtr(asm.R2, f.perfmap.FD()),
			asm.LoadImm(asm.R3, 0xffffffff, asm.DWord), // BPF_F_CURRENT_CPU
			asm.Mov.Reg(asm.R4, asm.RFP),
			asm.Add.Imm(asm.R4, -8),
			asm.Mov.Imm(asm.R5, 8),
			asm.FnPerfEventOutput.Call(),
			asm.Mov.Imm(asm.R0, 2), // XDP_PASS
			asm.Return(),
		},
	})
	if err != nil {
		return fail("XDP program", err)
	}
	return &f
}

func (f *bpfFixture) emitSample(t *testing.T) {
	t.Helper()
	if _, err := f.prog.Run(&ebpf.RunOptions{Data: make([]byte, 64)}); err != nil {
		t.Fatalf("run XDP program: %v", err)
	}
}

func (f *bpfFixture) lookup(name string) *ebpf.Map {
	switch name {
	case "testmap":
		return f.testmap
	case "perfmap":
		return f.perfmap
	case "outer":
		return f.outer
	}
	return nil
}

func (f *bpfFixture) close() {
	for _, c := range []interface{ Close() error }{f.testmap, f.perfmap, f.outer, f.inner, f.prog} {
		if c != nil && !isNilCloser(c) {
			c.Close()
		}
	}
}

func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *ebpf.Map:
		return v == nil
	case *ebpf.Program:
		return v == nil
	}
	return false
}

// firstKallsym returns a symbol of /proc/kallsyms.
func firstKallsym(t *testing.T) string {
	data, err := os.ReadFile("/proc/kallsyms")
	if err != nil {
		t.Skipf("no kallsyms: %v", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 3 {
		t.Skip("empty kallsyms")
	}
	return f[2]
}

func tracefsHasSyscalls() bool {
	_, err := readSyscallParams("openat")
	return err == nil
}
