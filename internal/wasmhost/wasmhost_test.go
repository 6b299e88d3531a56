package wasmhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/tetratelabs/wazero"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"
)

// emitted collects copies of what a guest emits.
type emitted struct {
	created []*datasource.DataSource
	recs    map[string][]*datasource.Record
	then    func(ds *datasource.DataSource, recs []*datasource.Record) error
}

func (e *emitted) newDS(name string, typ datasource.Type) (*datasource.DataSource, error) {
	ds := datasource.New(name, typ)
	e.created = append(e.created, ds)
	return ds, nil
}

func (e *emitted) emit(ds *datasource.DataSource, recs []*datasource.Record) error {
	if e.recs == nil {
		e.recs = map[string][]*datasource.Record{}
	}
	for _, r := range recs {
		c := &datasource.Record{}
		for _, p := range r.Payload {
			c.Payload = append(c.Payload, append([]byte(nil), p...))
		}
		e.recs[ds.Name] = append(e.recs[ds.Name], c)
	}
	if e.then != nil {
		return e.then(ds, recs)
	}
	return nil
}

func TestEverything(t *testing.T) {
	wasm := guest(t, "everything")
	ctx := context.Background()

	events, snap := newEventsDS(t), newSnapDS(t)
	bpf := newBPFFixture(t)
	if bpf != nil {
		defer bpf.close()
	}
	tracefs := tracefsHasSyscalls()
	params := map[string]string{
		"greeting": "hello",
		"read_id":  strconv.Itoa(unix.SYS_READ),
		"ksym":     firstKallsym(t),
		"events":   "10",
		"maps":     map[bool]string{true: "1", false: "0"}[bpf != nil],
		"tracefs":  map[bool]string{true: "1", false: "0"}[tracefs],
		"poststop": "fail",
	}
	gadget, err := metadata.Parse([]byte("name: test\nprograms:\n  ig_open:\n    attach_to: old\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	var out emitted
	var inst *Instance
	// The runtime runs the guest's stage on what the guest emits on a
	// datasource it subscribed to, synchronously.
	out.then = func(ds *datasource.DataSource, recs []*datasource.Record) error {
		if st := inst.Stage(ds); st != nil {
			return st.Process(&pipeline.Batch{DS: ds, Records: recs})
		}
		return nil
	}
	stderr := &testutil.Buffer{}
	env := Env{
		DataSources:        []*datasource.DataSource{events, snap},
		Params:             params,
		Config:             gadget,
		NewDataSource:      out.newDS,
		Emit:               out.emit,
		ShouldDiscardMntns: func(m uint64) bool { return m == 42 },
	}
	if bpf != nil {
		env.Map = bpf.lookup
	}

	mod, err := Compile(ctx, wasm, Config{Name: "everything", Stderr: stderr, LogLevel: LevelDebug, CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	inst, err = mod.Instantiate(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)

	if err := inst.Init(ctx); err != nil {
		t.Fatal(err)
	}
	evStage, snapStage := inst.Stage(events), inst.Stage(snap)
	if evStage == nil || snapStage == nil {
		t.Fatal("no stage for a subscribed datasource")
	}
	if inst.Stage(newBenchDS(t)) != nil {
		t.Error("a stage for a datasource the guest does not know")
	}
	if err := inst.PreStart(ctx); err != nil {
		t.Fatal(err)
	}
	if bpf != nil {
		bpf.emitSample(t)
	}
	if err := inst.Start(ctx); err != nil {
		t.Fatal(err)
	}

	b := eventsBatch(events, 10)
	if err := evStage.Process(b); err != nil {
		t.Fatal(err)
	}
	verifyEvents(t, events, b, 10, 7)

	sb := snapBatch(snap, 5)
	if err := snapStage.Process(sb); err != nil {
		t.Fatal(err)
	}
	var ns []uint64
	for _, r := range sb.Records {
		ns = append(ns, snap.Field("n").Uint64(r))
	}
	if want := []uint64{100, 101, 102, 104, 999}; !equal(ns, want) {
		t.Errorf("snapshot after the guest: %v, want %v", ns, want)
	}

	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	err = inst.PostStop(ctx)
	if err == nil || !strings.Contains(err.Error(), `wasm module "everything": gadgetPostStop returned 7`) {
		t.Errorf("PostStop: %v", err)
	}

	log := stderr.String()
	t.Logf("guest log:\n%s", log)
	checks := guestChecks(t, log)
	requireChecks(t, checks, "shouldLog", "getDataSource", "getField dyn", "addField w_bytes", "fieldAddTag",
		"subscribe data", "subscribe bad type", "subscribe array on single", "subscribe snap",
		"newDataSource", "newDataSource duplicate", "getParamValue", "getParamValue small buffer",
		"getSyscallID", "getSyscallName", "getSyscallName unknown", "getSyscallDeclaration bad name",
		"kallsymsSymbolExists", "kallsymsSymbolExists missing", "shouldDiscardMntnsID",
		"string out of bounds", "string over 1 MiB", "fieldGetScalar bad data", "batch handle outside a batch",
		"handle limit", "setConfig", "setConfig kind", "setConfig not a mapping",
		"fieldGetScalar wrong size", "fieldGetBuffer small buffer", "fieldSet too long for a static field",
		"fieldSet field of another datasource", "array subscription", "packet subscription",
		"emit single", "emit array", "emit to the wrong datasource", "dataSourceRelease", "unreference", "callbacks",
		"subscribe results", "nested callback 1", "nested callback 2", "nested callbacks")
	if tracefs {
		requireChecks(t, checks, "getSyscallDeclaration")
	}
	if bpf != nil {
		requireChecks(t, checks, "newMap", "mapLookup", "mapUpdate", "mapDelete", "mapRelease", "newPerfReader",
			"perfReaderRead empty", "getMap", "mapLookup testmap", "map of maps", "release inner map",
			"perfReaderRead", "perfReaderRead drained", "perfReaderClose")
		var v uint64
		if err := bpf.testmap.Lookup(uint32(2), &v); err != nil || v != 200 {
			t.Errorf("testmap[2] = %d, %v; want 200", v, err)
		}
		if err := bpf.testmap.Lookup(uint32(1), &v); !errors.Is(err, ebpf.ErrKeyNotExist) {
			t.Errorf("testmap[1] not deleted: %v", err)
		}
	}
	for _, s := range []string{
		`wasm module "everything": debug: debug line`,
		`wasm module "everything": warn: getDataSource: buffer of 2097152 bytes is over the 1 MiB limit`,
		`wasm module "everything": warn: getDataSource: buffer [0xfffffff0, +10) is outside guest memory`,
		`wasm module "everything": warn: dataSourceGetField: invalid datasource handle 4000`,
		`wasm module "everything": warn: gadgetLog: buffer [0xfffffff0, +10) is outside guest memory`,
		`wasm module "everything": warn: fieldGetScalar: errPtr 0xfffffff0 is outside guest memory`,
		`wasm module "everything": info: stop failures=0`,
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q", s)
		}
	}
	if strings.Contains(log, "trace line") {
		t.Error("a trace message was printed at debug level")
	}

	// What the guest left in the run.
	if got := gadget.Config["programs"].(map[string]any)["ig_open"].(map[string]any)["attach_to"]; got != "do_sys_openat2" {
		t.Errorf("programs.ig_open.attach_to = %v", got)
	}
	if !events.Field("w_str").HasTag("wasm:tagged") || !events.Field("w_str").HasTag("src:wasm") {
		t.Errorf("w_str tags: %v", events.Field("w_str").Tags)
	}
	var names []string
	for _, ds := range inst.DataSources() {
		names = append(names, ds.Name)
	}
	if strings.Join(names, ",") != "results,arrout" || len(out.created) != 2 {
		t.Errorf("guest datasources: %v", names)
	}
	if !inst.Unreferenced(out.created[1]) || inst.Unreferenced(out.created[0]) {
		t.Error("unreference not recorded")
	}
	res := out.recs["results"]
	if len(res) != 2 {
		t.Fatalf("results: %d records emitted, want 2", len(res))
	}
	rds := out.created[0]
	if msg, num := string(rds.Field("msg").Text(res[0])), rds.Field("num").Uint64(res[0]); msg != "hello from wasm" || num != 42 {
		t.Errorf("emitted %q %d", msg, num)
	}
	arr := out.recs["arrout"]
	if len(arr) != 2 || out.created[1].Field("v").Uint64(arr[0]) != 1 || out.created[1].Field("v").Uint64(arr[1]) != 2 {
		t.Errorf("emitted array: %d records", len(arr))
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// startGuest compiles the named guest, runs it with params on a new
// events datasource and starts it; its log goes to the returned buffer.
// The instance is closed when the test ends.
func startGuest(t *testing.T, name string, params map[string]string) (*Instance, *datasource.DataSource, *testutil.Buffer) {
	t.Helper()
	return startGuestEnv(t, name, Env{Params: params})
}

// startGuestEnv is startGuest with env (its DataSources are the events
// datasource; an Emit that returns a nil slice leaves it unset).
func startGuestEnv(t *testing.T, name string, env Env) (*Instance, *datasource.DataSource, *testutil.Buffer) {
	t.Helper()
	wasm := guest(t, name)
	ctx := context.Background()
	events := newEventsDS(t)
	stderr := &testutil.Buffer{}
	mod, err := Compile(ctx, wasm, Config{Name: name, Stderr: stderr, CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	env.DataSources = []*datasource.DataSource{events}
	inst, err := mod.Instantiate(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(ctx) })
	if err := inst.Init(ctx); err != nil {
		t.Fatalf("%v\nguest log:\n%s", err, stderr)
	}
	if err := inst.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return inst, events, stderr
}

func runBatchGuest(t *testing.T, mode string) (*pipeline.Batch, *datasource.DataSource, string) {
	t.Helper()
	ctx := context.Background()
	inst, events, stderr := startGuest(t, "batch", map[string]string{"mode": mode})
	b := eventsBatch(events, 10)
	// The batch guest checks in a second pass what the first wrote.
	passes := 1
	if mode == "check" {
		passes = 2
	}
	for range passes {
		if err := inst.Stage(events).Process(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return b, events, stderr.String()
}

func TestBatch(t *testing.T) {
	b, events, log := runBatchGuest(t, "check")
	t.Logf("guest log:\n%s", log)
	requireChecks(t, guestChecks(t, log), "batch")
	verifyEvents(t, events, b, 10, 3, 7)
}

func TestBatchFallback(t *testing.T) {
	b, events, log := runBatchGuest(t, "refuse")
	requireChecks(t, guestChecks(t, log), "fallback")
	for _, r := range b.Records {
		if got, want := events.Field("w_u32").Uint64(r), events.Field("u32").Uint64(r)+1; got != want {
			t.Errorf("w_u32 = %d, want %d", got, want)
		}
	}
}

// TestSDKValues runs the sdkvalues guest, written with the Go SDK, on the
// host: what it sets through the SDK (every scalar kind, strings, bytes,
// static and dynamic fields) and its discards must be what the host's
// records hold afterwards.
func TestSDKValues(t *testing.T) {
	inst, events, log := startGuest(t, "sdkvalues", nil)
	b := eventsBatch(events, 10)
	if err := inst.Stage(events).Process(b); err != nil {
		t.Fatalf("%v\nguest log:\n%s", err, log)
	}
	verifyEvents(t, events, b, 10, 3, 7)
	for _, r := range b.Records {
		if n := events.Field("errs").Uint64(r); n != 0 {
			t.Errorf("event %d: %d getters or setters failed in the guest", events.Field("u32").Uint64(r), n)
		}
	}
	// All of it through the batch: the SDK made no host call on a record.
	if inst.batchHandleCalls != 0 {
		t.Errorf("%d host calls on batch records: the SDK left the batch", inst.batchHandleCalls)
	}
	if log.String() != "" {
		t.Errorf("guest log:\n%s", log)
	}
}

// TestEmitInsideBatch: the guest emits, from its batch callback, an
// event on the datasource it is running (after taking a new field
// handle, which changes the datasource's batch table); the host runs the
// new event through the guest at once. The nested call's record handle is
// numbered like a record of the running batch: the SDK must leave it to
// the host (it read and set the outer batch's record 0 instead), and the
// outer batch's changes must still be read with the layout it was
// encoded with.
func TestEmitInsideBatch(t *testing.T) {
	var inst *Instance
	emitted := 0
	inst, events, log := startGuestEnv(t, "sdkvalues", Env{Params: map[string]string{"mode": "nest"},
		Emit: func(ds *datasource.DataSource, recs []*datasource.Record) error {
			emitted += len(recs)
			return inst.Stage(ds).Process(&pipeline.Batch{DS: ds, Records: recs})
		}})
	b := eventsBatch(events, 10)
	if err := inst.Stage(events).Process(b); err != nil {
		t.Fatalf("%v\nguest log:\n%s", err, log)
	}
	if emitted != 1 {
		t.Fatalf("%d events emitted, want 1\nguest log:\n%s", emitted, log)
	}
	verifyEvents(t, events, b, 10, 3, 7)
	for _, r := range b.Records {
		if n := events.Field("errs").Uint64(r); n != 0 {
			t.Errorf("event %d: %d getters or setters failed in the guest", events.Field("u32").Uint64(r), n)
		}
	}
}

// TestSDKShortRecord: a record too short for some static fields fails
// only the getters and setters of those fields on that record, in the
// guest, as in v1; the batch goes through and the other records get all
// their values.
func TestSDKShortRecord(t *testing.T) {
	inst, events, log := startGuest(t, "sdkvalues", nil)
	b := eventsBatch(events, 10)
	short := b.Records[5]
	short.Payload[0] = short.Payload[0][:32] // without f32, f64, comm and raw
	if err := inst.Stage(events).Process(b); err != nil {
		t.Fatalf("%v\nguest log:\n%s", err, log)
	}
	k := slices.Index(b.Records, short)
	if k < 0 {
		t.Fatal("the short record is gone")
	}
	rest := &pipeline.Batch{DS: events, Records: slices.Delete(slices.Clone(b.Records), k, k+1)}
	verifyEvents(t, events, rest, 10, 3, 5, 7)
	f := events.Field
	for _, r := range rest.Records {
		if n := f("errs").Uint64(r); n != 0 {
			t.Errorf("event %d: %d getters or setters failed in the guest", f("u32").Uint64(r), n)
		}
	}
	// 4 getters and 4 setters of f32, f64, comm and raw, and comm read
	// back; the fields the record holds are set.
	if n := f("errs").Uint64(short); n != 9 {
		t.Errorf("short record: %d getters or setters failed, want 9", n)
	}
	// Only the fields flagged host-only went to the host: for each of the
	// 10 records, 4 getters and 4 setters of f32, f64, comm and raw, and
	// comm read back.
	if inst.batchHandleCalls != 90 {
		t.Errorf("%d host calls on batch records, want 90", inst.batchHandleCalls)
	}
	if i16, u64, w := f("i16").Int64(short), f("u64").Uint64(short), f("w_u32").Uint64(short); i16 != -501 || u64 != 50000000005 || w != 6 {
		t.Errorf("short record: i16 %d, u64 %d, w_u32 %d, want -501, 50000000005, 6", i16, u64, w)
	}
	if s := string(f("w_str").Text(short)); s != "s5" {
		t.Errorf("short record: w_str %q, want \"s5\"", s)
	}
}

// TestCompilationCache compiles a real guest twice with the same cache
// directory; the second compile reads the file cache.
func TestCompilationCache(t *testing.T) {
	wasm := guest(t, "everything")
	ctx := context.Background()
	dir := t.TempDir()
	var took [2]time.Duration
	for k := range took {
		start := time.Now()
		mod, err := Compile(ctx, wasm, Config{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		took[k] = time.Since(start)
		mod.Close(ctx)
	}
	t.Logf("compile of a %d KiB Go guest: cold %v, from the file cache %v", len(wasm)>>10, took[0], took[1])
}

// TestRewriteCache: with a cache directory the preemption rewrite is kept
// once the module compiled, reused, and redone when the kept copy is
// damaged; the module still gets its preemption points either way.
func TestRewriteCache(t *testing.T) {
	wasm := guest(t, "everything")
	ctx := context.Background()
	dir := t.TempDir()
	want, err := preempt.Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	path := string(rewriteEntryOf(wasm, "", dir))
	compile := func(step string) {
		t.Helper()
		mod, err := Compile(ctx, wasm, Config{CacheDir: dir})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		defer mod.Close(ctx)
		if mod.mode != interruptPreempt {
			t.Fatalf("%s: module compiled without preemption points (mode %d)", step, mod.mode)
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: cached rewrite %d bytes, %v; want the %d bytes of the rewrite", step, len(got), err, len(want))
		}
	}
	compile("first compile")
	compile("from the cache")
	if _, _, cached, err := rewriteEntryOf(wasm, "", dir).instrument(wasm, true); !cached || err != nil {
		t.Fatalf("instrument: cached %v, %v", cached, err)
	}
	if err := os.WriteFile(path, []byte("\x00asm damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	compile("damaged cache entry")
	// A module that fails validation leaves no entry behind.
	bad := wmod{funcs: []wfunc{{results: []byte{tI64}, body: i64c(1), export: "notTheVersion"}}, memMin: 1}.encode()
	if _, err := Compile(ctx, bad, Config{CacheDir: dir}); err == nil {
		t.Fatal("module without gadgetAPIVersion compiled")
	}
	if _, err := os.Stat(string(rewriteEntryOf(bad, "", dir))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rewrite of a refused module cached: %v", err)
	}
}

// TestRewriteCacheDigest: with Config.SHA256 the rewrite cache is keyed
// by it and, when the cache holds the rewrite, the bytes given are not
// read at all; anything but a SHA-256 in lowercase hex is ignored.
func TestRewriteCacheDigest(t *testing.T) {
	wasm := guest(t, "everything")
	ctx := context.Background()
	dir := t.TempDir()
	b := sha256.Sum256(wasm)
	sum := hex.EncodeToString(b[:])
	if got, want := rewriteEntryOf(nil, sum, dir), rewriteEntryOf(wasm, "", dir); got != want {
		t.Fatalf("entry from the digest %q, from the bytes %q", got, want)
	}
	for _, bad := range []string{"", "sha256:" + sum, strings.ToUpper(sum), sum[1:], sum[1:] + "g"} {
		if got, want := rewriteEntryOf(wasm, bad, dir), rewriteEntryOf(wasm, "", dir); got != want {
			t.Errorf("SHA256 %q: entry %q, want the bytes' %q", bad, got, want)
		}
	}
	mod, err := Compile(ctx, wasm, Config{CacheDir: dir, SHA256: sum, SingleInstance: true})
	if err != nil {
		t.Fatal(err)
	}
	mod.Close(ctx)
	// Zeroed bytes of the same digest compile from the cache: Compile
	// trusts the digest and reads nothing else.
	mod, err = Compile(ctx, make([]byte, len(wasm)), Config{CacheDir: dir, SHA256: sum, SingleInstance: true})
	if err != nil {
		t.Fatalf("compile from the cache with the digest: %v", err)
	}
	mod.Close(ctx)
	if _, err := Compile(ctx, make([]byte, len(wasm)), Config{CacheDir: dir, SingleInstance: true}); err == nil {
		t.Error("zeroed bytes compiled without the digest")
	}
}

// TestSingleInstance: a module compiled with SingleInstance keeps no
// reference to the caller's bytes and refuses a second instance; without
// it, a second instance is compiled again from them.
func TestSingleInstance(t *testing.T) {
	wasm := guest(t, "everything")
	ctx := context.Background()
	for _, single := range []bool{false, true} {
		mod, err := Compile(ctx, wasm, Config{CacheDir: t.TempDir(), SingleInstance: single})
		if err != nil {
			t.Fatal(err)
		}
		if got := mod.src != nil; got == single {
			t.Errorf("SingleInstance %v: module keeps the source: %v", single, got)
		}
		for k := range 2 {
			inst, err := mod.Instantiate(ctx, Env{})
			switch {
			case k == 1 && single:
				if !errors.Is(err, ErrSingleInstance) {
					t.Errorf("second instance of a single-instance module: %v, want ErrSingleInstance", err)
				}
			case err != nil:
				t.Fatalf("SingleInstance %v, instance %d: %v", single, k, err)
			default:
				inst.Close(ctx)
			}
		}
		mod.Close(ctx)
	}
}

// TestSyscallTable checks the generated table against x/sys.
func TestSyscallTable(t *testing.T) {
	for name, nr := range map[string]int{"read": unix.SYS_READ, "openat": unix.SYS_OPENAT, "execve": unix.SYS_EXECVE, "bpf": unix.SYS_BPF} {
		if got := syscallName(uint32(nr)); got != name {
			t.Errorf("syscall %d: %q, want %q", nr, got, name)
		}
		if got := syscallIDs()[name]; got != nr {
			t.Errorf("syscall %q: %d, want %d", name, got, nr)
		}
	}
	if got := syscallName(0xabcdef); got != "syscall_abcdef" {
		t.Errorf("unknown syscall: %q", got)
	}
}

// TestFieldValues covers the field codecs on records that predate fields
// added later (shorter payload lists).
func TestFieldValues(t *testing.T) {
	ds := datasource.New("x", datasource.TypeSingle)
	r := ds.NewRecord() // before any field exists
	f, _ := ds.AddField(nil, "late", datasource.Int16, 0)
	s, _ := ds.AddField(nil, "text", datasource.String, 0)
	if v, ok := getScalar(r, f, datasource.Int16); !ok || v != 0 {
		t.Errorf("unset dynamic field: %d, %v", v, ok)
	}
	if !setScalar(r, f, datasource.Int16, uint64(0xffff)) {
		t.Fatal("setScalar on a short record")
	}
	if v, _ := getScalar(r, f, datasource.Int16); int64(v) != -1 {
		t.Errorf("int16 -1 read back as %d", int64(v))
	}
	if _, ok := getScalar(r, f, datasource.Int32); ok {
		t.Error("read an int16 field as int32")
	}
	if !setBuffer(r, s, datasource.String, []byte("hi")) || string(s.Text(r)) != "hi" {
		t.Error("setBuffer on a short record")
	}
	if _, ok := getBuffer(r, f, datasource.Bytes); ok {
		t.Error("read a scalar field as bytes")
	}
}

// TestBatchTableHostOnly: the batch table flags (kindHostOnly) the fields
// the host cannot read or set through their slots in some record of the
// batch, and those only.
func TestBatchTableHostOnly(t *testing.T) {
	ds := newEventsDS(t)
	// A static scalar of another size than its kind's: never settable.
	if _, err := ds.AddStaticField(nil, "odd", datasource.Uint32, 0, 2, 0); err != nil {
		t.Fatal(err)
	}
	st := &dsState{ds: ds}
	for k, name := range ds.FieldNames() {
		st.fields = append(st.fields, &fieldRef{handle: uint32(k + 1), ds: st, f: ds.Field(name)})
	}
	st.rebuildTable()
	flagged := func(b *pipeline.Batch) string {
		rs := &runState{}
		rs.reset(st, b)
		rs.setLayout()
		buf := make([]byte, batchSize(rs))
		encodeBatch(buf, rs)
		var out []string
		for j, c := range st.cols {
			if binary.LittleEndian.Uint32(buf[batchHeaderSize+j*batchFieldSize+4:])&kindHostOnly != 0 {
				out = append(out, c.f.Name)
			}
		}
		return strings.Join(out, " ")
	}
	b := eventsBatch(ds, 3)
	if got := flagged(b); got != "odd" {
		t.Errorf("full records: flagged %q, want \"odd\"", got)
	}
	b.Records[1].Payload[0] = b.Records[1].Payload[0][:32]
	if got := flagged(b); got != "f32 f64 comm raw odd" {
		t.Errorf("a record of 32 bytes: flagged %q, want \"f32 f64 comm raw odd\"", got)
	}
}

// TestEveryHostFunctionImported makes sure the everything guest calls
// every host function, so TestEverything exercises the whole of "ig".
func TestEveryHostFunctionImported(t *testing.T) {
	wasm := guest(t, "everything")
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, d := range cm.ImportedFunctions() {
		if mod, name, _ := d.Import(); mod == "ig" {
			imported[name] = true
		}
	}
	for _, name := range HostFunctions() {
		if !imported[name] {
			t.Errorf("the everything guest does not call %s", name)
		}
	}
	if len(HostFunctions()) != 42 {
		t.Errorf("%d host functions, want 41 of v1 and dataDiscard", len(HostFunctions()))
	}
}
