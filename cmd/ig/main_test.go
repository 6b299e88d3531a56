package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

// oneLineError checks that stderr ends with exactly one "Error: " line that
// contains every want.
func oneLineError(t *testing.T, stderr string, want ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "Error: ") {
		t.Fatalf("last stderr line is not an error: %q\nstderr:\n%s", last, stderr)
	}
	if n := strings.Count(stderr, "Error: "); n != 1 {
		t.Errorf("%d error lines in stderr, want 1:\n%s", n, stderr)
	}
	for _, w := range want {
		if !strings.Contains(last, w) {
			t.Errorf("error %q does not mention %q", last, w)
		}
	}
}

func readIndex(t *testing.T, store string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(store, "index.json"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

func gadgetDir(t *testing.T, program, meta string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "broken")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "program.bpf.c"), []byte(program), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gadget.yaml"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const okProgram = `#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <gadget/buffer.h>
#include <gadget/macros.h>
struct event { __u32 pid; };
GADGET_TRACER_MAP(events, 4096 * 16);
GADGET_TRACER(ds, events, event);
SEC("tracepoint/syscalls/sys_enter_getpid")
int prog(void *ctx) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`

func TestBadInput(t *testing.T) {
	testutil.RequireRoot(t)
	ig := testutil.NewCmd(t)
	// A store with one good image, to check that failures change nothing.
	ig.MustRun(t, "image", "build", "-t", "good", gadgetDir(t, okProgram, "name: good\n"))
	before := readIndex(t, ig.Store)

	t.Run("unknown image", func(t *testing.T) {
		_, stderr, err := ig.Run("run", "no_such_gadget")
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, "ghcr.io/gadgetkit/gadget/no_such_gadget:latest", "not found")
	})
	t.Run("C does not compile", func(t *testing.T) {
		dir := gadgetDir(t, okProgram+"\nint broken( {\n", "name: broken\n")
		_, stderr, err := ig.Run("image", "build", "-t", "broken", dir)
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, dir, "compile")
		if !strings.Contains(stderr, "program.bpf.c:") || !strings.Contains(stderr, "error:") {
			t.Errorf("compiler output not shown:\n%s", stderr)
		}
	})
	t.Run("malformed gadget.yaml", func(t *testing.T) {
		dir := gadgetDir(t, okProgram, "name: x\ndatasources:\n  ds:\n    fields: [\n")
		_, stderr, err := ig.Run("image", "build", "-t", "badyaml", dir)
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, "gadget.yaml:")
	})
	t.Run("gadget.yaml with a wrong type", func(t *testing.T) {
		dir := gadgetDir(t, okProgram, "name: x\ndatasources:\n  ds:\n    fields: 3\n")
		_, stderr, err := ig.Run("image", "build", "-t", "badyaml", dir)
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, "gadget.yaml:4")
	})
	t.Run("missing directory", func(t *testing.T) {
		_, stderr, err := ig.Run("image", "build", "-t", "nodir", filepath.Join(t.TempDir(), "nope"))
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, "nope")
	})
	t.Run("unknown flag", func(t *testing.T) {
		_, stderr, err := ig.Run("run", "good", "--no-such-flag")
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, "no-such-flag")
	})
	t.Run("bad output mode", func(t *testing.T) {
		_, stderr, err := ig.Run("run", "good", "-o", "xml", "--timeout", "1")
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, "xml", "columns")
	})
	t.Run("archive that is not one", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "notatar")
		if err := os.WriteFile(path, []byte("not a tar"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, err := ig.Run("image", "import", path)
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, path, "read archive")
	})
	t.Run("invalid image name", func(t *testing.T) {
		_, stderr, err := ig.Run("run", "Bad Name!")
		if err == nil {
			t.Fatal("exit 0")
		}
		oneLineError(t, stderr, "Bad Name!")
	})
	if after := readIndex(t, ig.Store); after != before {
		t.Errorf("failed commands changed index.json:\nbefore %s\nafter  %s", before, after)
	}
}

func TestImageList(t *testing.T) {
	testutil.RequireRoot(t)
	ig := testutil.NewCmd(t)
	ig.MustRun(t, "image", "build", "-t", "mine:dev", gadgetDir(t, okProgram, "name: mine\n"))
	out := ig.MustRun(t, "image", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "REPOSITORY") {
		t.Fatalf("unexpected listing:\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[0] != "mine" || f[1] != "dev" || len(f[2]) != 12 {
		t.Errorf("listing line %q, want repository mine, tag dev, 12-char digest", lines[1])
	}
}

func TestRunHelpListsGadgetParams(t *testing.T) {
	testutil.RequireRoot(t)
	ig := testutil.NewCmd(t)
	ig.MustRun(t, "image", "build", "-t", "trace_open", filepath.Join(testutil.RepoRoot(t), "gadgets", "trace_open"))
	out := ig.MustRun(t, "run", "trace_open", "--help")
	for _, want := range []string{"--failed", "Show only failed opens", "--timeout", "--output", "--pid", "--comm"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}

func TestImageInspect(t *testing.T) {
	testutil.RequireRoot(t)
	ig := testutil.NewCmd(t)
	ig.MustRun(t, "image", "build", "-t", "trace_open", filepath.Join(testutil.RepoRoot(t), "gadgets", "trace_open"))
	out := ig.MustRun(t, "image", "inspect", "trace_open", "-o", "json")
	var info struct {
		Name        string
		DataSources []struct {
			Name   string
			Type   string
			Fields []struct{ Name, Kind string }
		}
		Params []struct {
			Key, Kind, Default string
		}
		Programs []struct{ Name, Section string }
		Maps     []struct{ Name, Type string }
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("inspect -o json is not JSON: %v\n%s", err, out)
	}
	if info.Name != "trace_open" || len(info.DataSources) != 1 || info.DataSources[0].Name != "open" {
		t.Fatalf("inspect: %+v", info)
	}
	kinds := map[string]string{}
	for _, f := range info.DataSources[0].Fields {
		kinds[f.Name] = f.Kind
	}
	for name, kind := range map[string]string{"fname": "cstring", "fd": "uint32", "error_raw": "uint32", "proc.pid": "uint32", "proc.comm": "cstring", "proc": "struct"} {
		if kinds[name] != kind {
			t.Errorf("field %s: kind %q, want %q", name, kinds[name], kind)
		}
	}
	found := false
	for _, p := range info.Params {
		if p.Key == "failed" && p.Kind == "bool" && p.Default == "false" {
			found = true
		}
	}
	if !found {
		t.Errorf("param failed missing: %+v", info.Params)
	}
	sections := map[string]string{}
	for _, p := range info.Programs {
		sections[p.Name] = p.Section
	}
	if sections["ig_openat_x"] != "tracepoint/syscalls/sys_exit_openat" {
		t.Errorf("programs: %+v", info.Programs)
	}
	maps := map[string]string{}
	for _, m := range info.Maps {
		maps[m.Name] = m.Type
	}
	if maps["events"] != "RingBuf" || maps["events_lost_samples"] != "PerCPUArray" {
		t.Errorf("maps: %+v", info.Maps)
	}
	// YAML is the default and carries the same.
	y := ig.MustRun(t, "image", "inspect", "trace_open")
	if !strings.Contains(y, "name: open") || !strings.Contains(y, "key: failed") {
		t.Errorf("yaml inspect lacks datasource or param:\n%s", y)
	}
}

// TestLegacyVerbs: `ig trace open` runs the trace_open gadget, legacy
// filter and column syntax included.
func TestLegacyVerbs(t *testing.T) {
	testutil.RequireRoot(t)
	ig := testutil.NewCmd(t)
	ig.MustRun(t, "image", "build", "-t", "trace_open", filepath.Join(testutil.RepoRoot(t), "gadgets", "trace_open"))
	path := filepath.Join(t.TempDir(), "legacy")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 15; i++ {
			time.Sleep(100 * time.Millisecond)
			_ = os.WriteFile(path, []byte("x"), 0o644)
		}
	}()
	out := ig.MustRun(t, "trace", "open", "--timeout", "2", "--filter", "path:"+path, "-o", "columns=comm,path,flags")
	<-done
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[0]); len(f) != 3 || f[0] != "COMM" || f[1] != "FNAME" || f[2] != "FLAGS" {
		t.Fatalf("header %q, want COMM FNAME FLAGS (legacy names mapped)", lines[0])
	}
	if len(lines) < 2 || !strings.Contains(out, path) || !strings.Contains(out, "O_WRONLY|O_CREAT|O_TRUNC") {
		t.Fatalf("no write of %s:\n%s", path, out)
	}
	if _, stderr, err := ig.Run("trace"); err == nil || !strings.Contains(stderr, "missing gadget name") {
		t.Errorf("ig trace without a name: %v %s", err, stderr)
	}
}
