package registry

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/wasmbin"
	"github.com/gadgetkit/ig/sdk/gosrc"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// v1Imports are the host functions of module "ig" with their wasm types,
// as Inspektor Gadget's host defines them, plus ig's dataDiscard. A guest
// importing anything else, or with another type, does not link.
var v1Imports = map[string]string{
	"gadgetLog":                 "(i32,i64)",
	"gadgetShouldLog":           "(i32)i32",
	"newDataSource":             "(i64,i32)i32",
	"getDataSource":             "(i64)i32",
	"dataSourceSubscribe":       "(i32,i32,i32,i64)i32",
	"dataSourceGetField":        "(i32,i64)i32",
	"dataSourceAddField":        "(i32,i64,i32)i32",
	"dataSourceNewPacketSingle": "(i32)i32",
	"dataSourceNewPacketArray":  "(i32)i32",
	"dataSourceEmitAndRelease":  "(i32,i32)i32",
	"dataSourceRelease":         "(i32,i32)i32",
	"dataSourceUnreference":     "(i32)i32",
	"dataSourceIsReferenced":    "(i32)i32",
	"dataArrayNew":              "(i32)i32",
	"dataArrayAppend":           "(i32,i32)i32",
	"dataArrayRelease":          "(i32,i32)i32",
	"dataArrayLen":              "(i32)i32",
	"dataArrayGet":              "(i32,i32)i32",
	"fieldGetScalar":            "(i32,i32,i32,i32)i64",
	"fieldGetBuffer":            "(i32,i32,i32,i64)i32",
	"fieldSet":                  "(i32,i32,i32,i64)i32",
	"fieldAddTag":               "(i32,i64)i32",
	"getParamValue":             "(i64,i64)i32",
	"setConfig":                 "(i64,i64,i32)i32",
	"newMap":                    "(i64,i32,i32,i32,i32)i32",
	"getMap":                    "(i64)i32",
	"mapLookup":                 "(i32,i64,i64)i32",
	"mapUpdate":                 "(i32,i64,i64,i64)i32",
	"mapDelete":                 "(i32,i64)i32",
	"mapRelease":                "(i32)i32",
	"newPerfReader":             "(i32,i32,i32)i32",
	"perfReaderPause":           "(i32)i32",
	"perfReaderResume":          "(i32)i32",
	"perfReaderRead":            "(i32,i64)i32",
	"perfReaderClose":           "(i32)i32",
	"releaseHandle":             "(i32)i32",
	"getSyscallName":            "(i32,i64)i32",
	"getSyscallID":              "(i64)i32",
	"getSyscallDeclaration":     "(i64,i64)i32",
	"kallsymsSymbolExists":      "(i64)i32",
	"shouldDiscardMntnsID":      "(i64)i32",
}

const discardImport = "dataDiscard"

// sdkExports are the functions the SDK exports, with their types.
var sdkExports = map[string]string{
	"gadgetAPIVersion":        "()i64",
	"dataSourceCallback":      "(i64,i32,i32)",
	"gadgetBatchBuffer":       "(i32)i32",
	"dataSourceCallbackBatch": "(i64,i32,i32,i32)i64",
	"_initialize":             "()",
}

// TestBuildGoSDK builds the Go guests of testdata with the network off and
// an empty module cache: the SDK must come from the ig binary. The builds
// are shared by the subtests because a cold Go wasm build takes 10-15 s.
func TestBuildGoSDK(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("go not installed: %v", err)
	}
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOMODCACHE", t.TempDir())
	t.Setenv("GOWORK", "")
	// -mod=mod is refused in workspace mode: the build must drop it.
	t.Setenv("GOFLAGS", "-mod=mod -buildvcs=false")
	s := openTestStore(t)

	build := func(t *testing.T, dir string) ([]byte, string, error) {
		img, out, err := buildDir(t, s, dir)
		if err != nil {
			return nil, out, err
		}
		return img.Wasm, out, nil
	}
	mustBuild := func(t *testing.T, dir string) *wasmModule {
		t.Helper()
		wasm, out, err := build(t, dir)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		m, err := parseWasm(wasm)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	sdkGuest := mustBuild(t, filepath.Join("testdata", "sdkguest"))
	upstreamGuest := mustBuild(t, filepath.Join("testdata", "upstreamguest"))

	t.Run("sdk guest", func(t *testing.T) {
		checkImports(t, sdkGuest)
		checkExports(t, sdkGuest, "gadgetInit")
		if _, ok := sdkGuest.imports["ig."+discardImport]; !ok {
			t.Errorf("a guest calling Discard does not import ig.%s", discardImport)
		}
	})

	t.Run("upstream-style guest", func(t *testing.T) {
		checkImports(t, upstreamGuest)
		checkExports(t, upstreamGuest, "gadgetInit", "gadgetPreStart", "gadgetStart", "gadgetStop")
		// It uses every v1 group; a guest that never calls Discard must
		// not import it, or it would not run on Inspektor Gadget.
		if _, ok := upstreamGuest.imports["ig."+discardImport]; ok {
			t.Errorf("ig.%s imported by a guest that never calls Discard", discardImport)
		}
		for _, name := range []string{"fieldGetBuffer", "mapUpdate", "newPerfReader", "getSyscallDeclaration", "dataArrayGet", "setConfig"} {
			if _, ok := upstreamGuest.imports["ig."+name]; !ok {
				t.Errorf("ig.%s not imported", name)
			}
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		// The same source in another directory gives the same module.
		dir := filepath.Join(t.TempDir(), "sdkguest")
		copyDir(t, filepath.Join("testdata", "sdkguest"), dir)
		again := mustBuild(t, dir)
		if !bytes.Equal(again.raw, sdkGuest.raw) {
			t.Error("rebuilding the guest elsewhere gave other bytes")
		}
	})

	t.Run("own replace", func(t *testing.T) {
		// A gadget that replaces the SDK with its own copy builds alone,
		// as before, against that copy.
		dir := filepath.Join(t.TempDir(), "replaced")
		copyDir(t, filepath.Join("testdata", "sdkguest"), dir)
		sdk := filepath.Join(dir, "sdkcopy")
		if err := os.MkdirAll(sdk, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := gosrc.Extract(sdk); err != nil {
			t.Fatal(err)
		}
		appendFile(t, filepath.Join(dir, "go", "go.mod"), "\nreplace "+gosrc.ModulePath+" => ../sdkcopy\n")
		m := mustBuild(t, dir)
		if _, ok := m.imports["ig."+discardImport]; !ok {
			t.Error("replaced SDK: no dataDiscard import")
		}
	})

	t.Run("compile error", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "broken")
		copyDir(t, filepath.Join("testdata", "sdkguest"), dir)
		appendFile(t, filepath.Join(dir, "go", "program.go"), "\nvar _ int = api.GetDataSource\n")
		_, out, err := build(t, dir)
		var te *ToolError
		if !errors.As(err, &te) {
			t.Fatalf("err %v, want a ToolError", err)
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\n") || !strings.Contains(msg, "build wasm module: go exited with status 1") {
			t.Errorf("error %q", msg)
		}
		if !strings.Contains(out, "program.go") || !strings.Contains(out, "GetDataSource") {
			t.Errorf("compiler output not written:\n%s", out)
		}
	})
}

// buildDir builds the gadget in dir into s and loads its amd64 image; on a
// build error it returns the tools' output with it.
func buildDir(t *testing.T, s *Store, dir string) (*Image, string, error) {
	t.Helper()
	ctx := context.Background()
	var out bytes.Buffer
	if _, err := Build(ctx, dir, BuildOptions{Store: s, Output: &out, CacheDir: testCacheDir}); err != nil {
		return nil, out.String(), err
	}
	img, err := s.Load(ctx, filepath.Base(dir), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	return img, out.String(), nil
}

// TestBuildCWasm builds the C guest of testdata/cwasm, which build.yaml
// names with wasm: program.c, into a freestanding module.
func TestBuildCWasm(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Fatalf("clang not installed (run make setup): %v", err)
	}
	if _, err := exec.LookPath("wasm-ld"); err != nil {
		t.Fatalf("wasm-ld not installed (run make setup): %v", err)
	}
	ctx := context.Background()
	s := openTestStore(t)
	src := filepath.Join("testdata", "cwasm")

	build := func(t *testing.T, dir string) ([]byte, string, error) {
		img, out, err := buildDir(t, s, dir)
		if err != nil {
			return nil, out, err
		}
		if img.Program != nil || len(img.Manifest.Layers) != 1 || img.Manifest.Layers[0].MediaType != MediaTypeWasm {
			t.Fatalf("layers %+v, want the wasm one only", img.Manifest.Layers)
		}
		return img.Wasm, out, nil
	}
	wasm, out, err := build(t, src)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	t.Run("module", func(t *testing.T) {
		rt := wazero.NewRuntime(ctx)
		defer rt.Close(ctx)
		cm, err := rt.CompileModule(ctx, wasm)
		if err != nil {
			t.Fatalf("not a valid module: %v", err)
		}
		exports := map[string]string{}
		for name, fn := range cm.ExportedFunctions() {
			exports[name] = funcType(fn)
		}
		want := map[string]string{"gadgetAPIVersion": "()i64", "gadgetInit": "()i32"}
		if !mapsEqual(exports, want) {
			t.Errorf("exported functions %v, want %v", exports, want)
		}
		var imports []string
		for _, fn := range cm.ImportedFunctions() {
			mod, name, _ := fn.Import()
			imports = append(imports, mod+"."+name+funcType(fn))
		}
		if len(imports) != 1 || imports[0] != "ig.gadgetLog(i32,i64)" {
			t.Errorf("imported functions %v, want ig.gadgetLog(i32,i64) only", imports)
		}
		if _, ok := cm.ExportedMemories()["memory"]; !ok {
			t.Error("memory not exported")
		}

		// Run it against a stand-in for the host: the data segment, the
		// stack and memory.copy must work without libc or WASI.
		var logged []string
		_, err = rt.NewHostModuleBuilder("ig").NewFunctionBuilder().
			WithFunc(func(_ context.Context, m api.Module, level uint32, msg uint64) {
				data, ok := m.Memory().Read(uint32(msg), uint32(msg>>32))
				if !ok {
					t.Errorf("gadgetLog: message %#x out of memory", msg)
				}
				logged = append(logged, fmt.Sprintf("%d %s", level, data))
			}).
			Export("gadgetLog").Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		g, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		if res, err := g.ExportedFunction("gadgetAPIVersion").Call(ctx); err != nil || res[0] != 1 {
			t.Errorf("gadgetAPIVersion() = %v, %v", res, err)
		}
		if res, err := g.ExportedFunction("gadgetInit").Call(ctx); err != nil || res[0] != 0 {
			t.Errorf("gadgetInit() = %v, %v", res, err)
		}
		// __FILE__ is the name as build.yaml gives it, not a path.
		if len(logged) != 1 || logged[0] != "2 hello from program.c" {
			t.Errorf("logged %q", logged)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		// The same source in another directory gives the same module.
		dir := filepath.Join(t.TempDir(), "cwasm")
		copyDir(t, src, dir)
		again, out, err := build(t, dir)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !bytes.Equal(again, wasm) {
			t.Error("rebuilding the guest elsewhere gave other bytes")
		}
	})

	t.Run("compile error", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "broken")
		copyDir(t, src, dir)
		appendFile(t, filepath.Join(dir, "program.c"), "\nint broken(void) { return undefined_symbol_xyz; }\n")
		_, out, err := build(t, dir)
		var be *BuildError
		var te *ToolError
		if !errors.As(err, &be) || !errors.As(err, &te) {
			t.Fatalf("err %v, want a BuildError wrapping a ToolError", err)
		}
		want := "build " + dir + ": build wasm module: clang exited with status 1 (see compiler output above)"
		if err.Error() != want {
			t.Errorf("error:\n%s\nwant:\n%s", err, want)
		}
		if !strings.Contains(out, "program.c") || !strings.Contains(out, "undefined_symbol_xyz") {
			t.Errorf("compiler output not written:\n%s", out)
		}
	})

	// clangOnly returns a $PATH holding a clang that is a script of its
	// own (so that nothing lies next to its real binary) and, if ld is
	// not "", a link named ld to the real wasm-ld.
	clangOnly := func(t *testing.T, ld string) string {
		bin := t.TempDir()
		script := "#!/bin/sh\nexec " + clang + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, "clang"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if ld != "" {
			real, err := exec.LookPath("wasm-ld")
			if err != nil {
				t.Fatal(err)
			}
			if real, err = filepath.EvalSymlinks(real); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(real, filepath.Join(bin, ld)); err != nil {
				t.Fatal(err)
			}
		}
		return bin
	}
	t.Run("no wasm-ld", func(t *testing.T) {
		t.Setenv("PATH", clangOnly(t, ""))
		_, out, err := build(t, src)
		var be *BuildError
		if !errors.As(err, &be) || !errors.Is(err, errNoWasmLD) {
			t.Fatalf("err %v, want a BuildError wrapping errNoWasmLD", err)
		}
		want := "build " + src + ": build wasm module: wasm-ld not found (install lld)"
		if err.Error() != want {
			t.Errorf("error:\n%s\nwant:\n%s", err, want)
		}
		if out != "" {
			t.Errorf("clang ran:\n%s", out)
		}
	})
	// Of versioned linkers the newest is used, not the first by name: a
	// broken wasm-ld-9 next to a working wasm-ld-99.
	t.Run("newest wasm-ld-NN", func(t *testing.T) {
		bin := clangOnly(t, "wasm-ld-99")
		if err := os.WriteFile(filepath.Join(bin, "wasm-ld-9"), []byte("#!/bin/sh\necho wrong linker >&2\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PATH", bin)
		if _, out, err := build(t, src); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	// Whatever name clang would look for itself (Debian's clang-14 runs
	// wasm-ld-14), the linker found is the one used.
	for _, ld := range []string{"wasm-ld", "wasm-ld-99"} {
		t.Run("only "+ld, func(t *testing.T) {
			t.Setenv("PATH", clangOnly(t, ld))
			got, out, err := build(t, src)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !bytes.Equal(got, wasm) {
				t.Error("a different module than with the default tools")
			}
		})
	}
}

// funcType writes a function's type as "(i32,i64)i32".
func funcType(fn api.FunctionDefinition) string {
	name := func(types []api.ValueType) string {
		var s []string
		for _, t := range types {
			s = append(s, api.ValueTypeName(t))
		}
		return strings.Join(s, ",")
	}
	return "(" + name(fn.ParamTypes()) + ")" + name(fn.ResultTypes())
}

func TestGoVersionLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"1.24", "1.26.0", true},
		{"1.26.0", "1.24", false},
		{"1.24", "1.24.0", true},
		{"1.24.0", "1.24", false},
		{"1.9", "1.24", true},
		{"1.24", "1.24", false},
	} {
		if got := goVersionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("goVersionLess(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
	if got := dropModFlags("-mod=mod -trimpath --modfile=x.mod -buildvcs=false"); got != "-trimpath -buildvcs=false" {
		t.Errorf("dropModFlags: %q", got)
	}
}

func checkImports(t *testing.T, m *wasmModule) {
	t.Helper()
	for name, typ := range m.imports {
		mod, fn, _ := strings.Cut(name, ".")
		switch {
		case mod == "wasi_snapshot_preview1":
		case mod == "ig" && fn == discardImport:
			if typ != "(i32)i32" {
				t.Errorf("import %s has type %s", name, typ)
			}
		case mod == "ig":
			want, ok := v1Imports[fn]
			if !ok {
				t.Errorf("import %s is not a v1 host function", name)
			} else if typ != want {
				t.Errorf("import %s has type %s, the host's is %s", name, typ, want)
			}
		default:
			t.Errorf("import %s from an unknown module", name)
		}
	}
}

func checkExports(t *testing.T, m *wasmModule, lifecycle ...string) {
	t.Helper()
	for name, want := range sdkExports {
		if got, ok := m.exports[name]; !ok || got != want {
			t.Errorf("export %s: %q, want %q", name, got, want)
		}
	}
	for _, name := range lifecycle {
		if got := m.exports[name]; got != "()i32" {
			t.Errorf("export %s: %q, want ()i32", name, got)
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// wasmModule is what the tests need of a module: its function imports and
// exports ("module.name" and "name") with their types, written "(i32,i64)i32".
type wasmModule struct {
	raw     []byte
	imports map[string]string
	exports map[string]string
}

// parseWasm reads the type, import, function and export sections of a
// wasm binary (https://webassembly.github.io/spec/core/binary/).
func parseWasm(b []byte) (*wasmModule, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" || binary.LittleEndian.Uint32(b[4:]) != 1 {
		return nil, errors.New("not a wasm 1 module")
	}
	m := &wasmModule{raw: b, imports: map[string]string{}, exports: map[string]string{}}
	var types []string
	var funcTypes []uint32 // imported functions first, then defined ones
	type export struct {
		name string
		idx  uint32
	}
	var exports []export
	r := &wasmReader{wasmbin.Reader{B: b, Pos: 8}}
	for r.Err == nil && r.Pos < len(b) {
		id := r.Byte()
		size := r.U32()
		end := r.Pos + int(size)
		if r.Err != nil || end > len(b) || end < r.Pos {
			return nil, fmt.Errorf("section %d overruns the module", id)
		}
		switch id {
		case 1: // type
			for range r.U32() {
				if r.Byte() != 0x60 {
					return nil, errors.New("type section: not a function type")
				}
				params, results := r.valtypes(), r.valtypes()
				types = append(types, "("+strings.Join(params, ",")+")"+strings.Join(results, ","))
			}
		case 2: // import
			for range r.U32() {
				mod, name := r.Name(), r.Name()
				switch kind := r.Byte(); kind {
				case 0:
					ti := r.U32()
					if int(ti) >= len(types) {
						return nil, fmt.Errorf("import %s.%s: type %d out of range", mod, name, ti)
					}
					funcTypes = append(funcTypes, ti)
					m.imports[mod+"."+name] = types[ti]
				case 1: // table: reftype, limits
					r.Byte()
					r.limits()
				case 2: // memory
					r.limits()
				case 3: // global: valtype, mutability
					r.Byte()
					r.Byte()
				default:
					return nil, fmt.Errorf("import %s.%s: unknown kind %d", mod, name, kind)
				}
			}
		case 3: // function
			for range r.U32() {
				funcTypes = append(funcTypes, r.U32())
			}
		case 7: // export
			for range r.U32() {
				name := r.Name()
				kind, idx := r.Byte(), r.U32()
				if kind == 0 {
					exports = append(exports, export{name, idx})
				}
			}
		}
		r.Pos = end
	}
	if r.Err != nil {
		return nil, r.Err
	}
	for _, e := range exports {
		if int(e.idx) >= len(funcTypes) || int(funcTypes[e.idx]) >= len(types) {
			return nil, fmt.Errorf("export %s: function %d out of range", e.name, e.idx)
		}
		m.exports[e.name] = types[funcTypes[e.idx]]
	}
	return m, nil
}

// wasmReader adds the type-level reads this test needs to wasmbin.Reader.
type wasmReader struct{ wasmbin.Reader }

func (r *wasmReader) valtypes() []string {
	var out []string
	for range r.U32() {
		switch t := r.Byte(); t {
		case 0x7f:
			out = append(out, "i32")
		case 0x7e:
			out = append(out, "i64")
		case 0x7d:
			out = append(out, "f32")
		case 0x7c:
			out = append(out, "f64")
		default:
			out = append(out, fmt.Sprintf("0x%x", t))
		}
	}
	return out
}

func (r *wasmReader) limits() {
	if flags := r.Byte(); flags&1 != 0 {
		r.U32()
		r.U32()
	} else {
		r.U32()
	}
}
