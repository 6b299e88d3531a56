package wasmhost

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/wasmbin"
)

// Go test guests (testdata/<name>/main.go) are built once per test binary
// with the standard Go toolchain into guestDir.
var (
	// testCache is a compilation cache shared by the tests, so each guest
	// is compiled to machine code once per test binary.
	testCache  string
	guestDir   string
	guestMu    sync.Mutex
	guestBuilt = map[string]*guestBuild{}
)

type guestBuild struct {
	once sync.Once
	wasm []byte
	err  error
	took time.Duration
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-guests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guestDir = dir
	testCache = filepath.Join(dir, "cache")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guests builds the named guests (concurrently) and returns their bytes.
func guests(tb testing.TB, names ...string) [][]byte {
	tb.Helper()
	builds := make([]*guestBuild, len(names))
	var wg sync.WaitGroup
	for k, name := range names {
		guestMu.Lock()
		gb := guestBuilt[name]
		if gb == nil {
			gb = &guestBuild{}
			guestBuilt[name] = gb
		}
		guestMu.Unlock()
		builds[k] = gb
		wg.Add(1)
		go func() {
			defer wg.Done()
			gb.once.Do(func() {
				start := time.Now()
				gb.wasm, gb.err = buildGuest(name)
				gb.took = time.Since(start)
			})
		}()
	}
	wg.Wait()
	out := make([][]byte, len(names))
	for k, gb := range builds {
		if gb.err != nil {
			tb.Fatalf("build guest %s: %v", names[k], gb.err)
		}
		out[k] = gb.wasm
	}
	return out
}

func guest(tb testing.TB, name string) []byte { return guests(tb, name)[0] }

// sdkModule is the Go SDK's module path.
const sdkModule = "github.com/gadgetkit/ig/sdk/go"

// buildGuest compiles testdata/<name>/main.go as a WASI reactor, in a
// module of its own: the guest depends on the standard library only, or
// also on the SDK of this checkout when it imports it.
func buildGuest(name string) ([]byte, error) {
	src, err := os.ReadFile(filepath.Join("testdata", name, "main.go"))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(guestDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		return nil, err
	}
	mod := "module guest\n\ngo 1.26\n"
	if bytes.Contains(src, []byte(`"`+sdkModule+`"`)) {
		// A guest written with the SDK builds against this checkout's.
		sdk, err := filepath.Abs(filepath.Join("..", "..", "sdk", "go"))
		if err != nil {
			return nil, err
		}
		mod += "\nrequire " + sdkModule + " v0.0.0\n\nreplace " + sdkModule + " => " + sdk + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, msg)
	}
	return os.ReadFile(out)
}

// --- a tiny Wasm binary assembler, for hostile guests ---

// Value types and opcodes used by the hand-written modules.
const (
	tI32 = 0x7f
	tI64 = 0x7e

	opUnreachable = 0x00
	opLoop        = 0x03
	opIf          = 0x04
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opDrop        = 0x1a
	opCall        = 0x10
	opLocalGet    = 0x20
	opI32Const    = 0x41
	opI64Const    = 0x42
	opI32Ne       = 0x47
	opMemoryGrow  = 0x40
	blockVoid     = 0x40
)

type wfunc struct {
	params, results []byte
	body            []byte // instructions, without locals and final end
	export          string
}

type wimport struct {
	module, name    string
	params, results []byte
}

type wmod struct {
	imports  []wimport
	funcs    []wfunc
	memMin   uint32 // pages; memory is exported as "memory" when > 0
	data     []byte // at offset 0
	noMemory bool
	start    int // 1 + the index in funcs of the start function (0 = none)
	// tables are funcref tables: minimum, and maximum (-1: none).
	tables [][2]int64
}

var (
	uleb    = wasmbin.AppendULEB
	sleb    = wasmbin.AppendSLEB
	name    = wasmbin.AppendName
	section = wasmbin.AppendSection
)

func i32c(v int32) []byte { return sleb([]byte{opI32Const}, int64(v)) }
func i64c(v int64) []byte { return sleb([]byte{opI64Const}, v) }
func call(idx int) []byte { return uleb([]byte{opCall}, uint64(idx)) }
func ins(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

func (m wmod) encode() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	// One type per import and function, in order.
	var types []byte
	n := 0
	addType := func(params, results []byte) {
		types = append(types, 0x60)
		types = append(uleb(types, uint64(len(params))), params...)
		types = append(uleb(types, uint64(len(results))), results...)
		n++
	}
	for _, im := range m.imports {
		addType(im.params, im.results)
	}
	for _, f := range m.funcs {
		addType(f.params, f.results)
	}
	out = section(out, 1, append(uleb(nil, uint64(n)), types...))
	if len(m.imports) > 0 {
		b := uleb(nil, uint64(len(m.imports)))
		for k, im := range m.imports {
			b = name(b, im.module)
			b = name(b, im.name)
			b = append(b, 0x00)
			b = uleb(b, uint64(k))
		}
		out = section(out, 2, b)
	}
	b := uleb(nil, uint64(len(m.funcs)))
	for k := range m.funcs {
		b = uleb(b, uint64(len(m.imports)+k))
	}
	out = section(out, 3, b)
	if len(m.tables) > 0 {
		tb := uleb(nil, uint64(len(m.tables)))
		for _, t := range m.tables {
			if t[1] < 0 {
				tb = uleb(append(tb, 0x70, 0), uint64(t[0]))
			} else {
				tb = uleb(uleb(append(tb, 0x70, 1), uint64(t[0])), uint64(t[1]))
			}
		}
		out = section(out, 4, tb)
	}
	if m.memMin > 0 {
		out = section(out, 5, uleb([]byte{1, 0}, uint64(m.memMin)))
	}
	var exp []byte
	ne := 0
	for k, f := range m.funcs {
		if f.export != "" {
			exp = name(exp, f.export)
			exp = append(exp, 0x00)
			exp = uleb(exp, uint64(len(m.imports)+k))
			ne++
		}
	}
	if m.memMin > 0 {
		exp = name(exp, "memory")
		exp = append(exp, 0x02, 0x00)
		ne++
	}
	out = section(out, 7, append(uleb(nil, uint64(ne)), exp...))
	if m.start > 0 {
		out = section(out, 8, uleb(nil, uint64(len(m.imports)+m.start-1)))
	}
	code := uleb(nil, uint64(len(m.funcs)))
	for _, f := range m.funcs {
		body := append([]byte{0}, f.body...) // no locals
		body = append(body, opEnd)
		code = uleb(code, uint64(len(body)))
		code = append(code, body...)
	}
	out = section(out, 10, code)
	if len(m.data) > 0 {
		d := []byte{1, 0, opI32Const, 0, opEnd}
		d = uleb(d, uint64(len(m.data)))
		d = append(d, m.data...)
		out = section(out, 11, d)
	}
	return out
}

var (
	fnVersion1 = wfunc{results: []byte{tI64}, body: i64c(1), export: "gadgetAPIVersion"}
	sigI32     = []byte{tI32}
)

// subscribingGuest returns a module whose gadgetInit subscribes (type 1)
// to datasource "events" with callback id 1; extra are more functions.
func subscribingGuest(extra ...wfunc) []byte {
	const dsName = "events"
	init := wfunc{results: sigI32, export: "gadgetInit", body: ins(
		i64c(int64(len(dsName))<<32|0), call(0), // getDataSource("events")
		i32c(1), i32c(0), i64c(1), call(1), // dataSourceSubscribe(ds, 1, 0, 1)
	)}
	return wmod{
		imports: []wimport{
			{"ig", "getDataSource", []byte{tI64}, sigI32},
			{"ig", "dataSourceSubscribe", []byte{tI32, tI32, tI32, tI64}, sigI32},
		},
		funcs:  append([]wfunc{fnVersion1, init}, extra...),
		memMin: 1,
		data:   []byte(dsName),
	}.encode()
}
