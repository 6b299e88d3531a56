package registry

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const tinyProgram = `// A minimal gadget: one ring buffer, one tracepoint.
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`

const tinyMetadata = `name: tiny
description: opens files
sourceURL: https://example.com/tiny
annotations:
  io.example/kind: test
`

// goGuest is a Go wasm guest using the standard library only.
var goGuest = map[string]string{
	"go/go.mod": "module example.com/tiny\n\ngo 1.24\n",
	"go/main.go": `package main

//go:wasmexport gadgetAPIVersion
func gadgetAPIVersion() uint64 { return 1 }

func main() {}
`,
}

// requireTools fails the test when the build tools are missing: the build
// tests exercise the real toolchain, not a fake, and make setup installs it.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (run make setup): %v", tool, err)
		}
	}
	if os.Getenv("IG_VMLINUX_H") == "" {
		if _, err := os.Stat(kernelBTF); err != nil {
			t.Fatalf("no kernel BTF and no IG_VMLINUX_H: %v", err)
		}
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func tinyGadget(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "tiny")
	writeFiles(t, dir, map[string]string{"program.bpf.c": tinyProgram, "gadget.yaml": tinyMetadata})
	return dir
}

func testBuildOptions(s *Store, out *bytes.Buffer) BuildOptions {
	return BuildOptions{Store: s, BuilderVersion: "v9.9.9-test", Output: out, CacheDir: testCacheDir}
}

// readBlob reads a blob straight from the layout, as any OCI tool would.
func readBlob(t *testing.T, s *Store, d digest.Digest) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.Path(), "blobs", d.Algorithm().String(), d.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	if digest.FromBytes(data) != d {
		t.Fatalf("blob %s has the wrong digest", d)
	}
	return data
}

func TestBuild(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "bpftool")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	ctx := context.Background()
	s := openTestStore(t)
	var out bytes.Buffer
	opts := testBuildOptions(s, &out)
	opts.Tag = "tiny:v1"
	desc, err := Build(ctx, tinyGadget(t), opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}

	// Read the layout with image-spec types only.
	var layout ocispec.Index
	if err := json.Unmarshal(readFileT(t, filepath.Join(s.Path(), "index.json")), &layout); err != nil {
		t.Fatal(err)
	}
	if len(layout.Manifests) != 1 || layout.Manifests[0].Digest != desc.Digest ||
		layout.Manifests[0].Annotations[ocispec.AnnotationRefName] != "ghcr.io/gadgetkit/gadget/tiny:v1" {
		t.Fatalf("index.json entries: %+v", layout.Manifests)
	}
	var index ocispec.Index
	if err := json.Unmarshal(readBlob(t, s, desc.Digest), &index); err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{
		ocispec.AnnotationTitle:       "tiny",
		ocispec.AnnotationDescription: "opens files",
		ocispec.AnnotationSource:      "https://example.com/tiny",
		ocispec.AnnotationCreated:     "2023-11-14T22:13:20Z",
		AnnotationBuilderVersion:      "v9.9.9-test",
		"io.example/kind":             "test",
	}
	if index.MediaType != ocispec.MediaTypeImageIndex || !mapsEqual(index.Annotations, wantAnn) {
		t.Errorf("index: media type %q annotations %v", index.MediaType, index.Annotations)
	}
	if len(index.Manifests) != 2 {
		t.Fatalf("%d manifests, want 2", len(index.Manifests))
	}
	for i, arch := range []string{"amd64", "arm64"} {
		md := index.Manifests[i]
		if md.Platform == nil || md.Platform.OS != "linux" || md.Platform.Architecture != arch {
			t.Errorf("manifest %d: platform %+v", i, md.Platform)
		}
		if !mapsEqual(md.Annotations, wantAnn) {
			t.Errorf("%s: manifest descriptor annotations %v", arch, md.Annotations)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(readBlob(t, s, md.Digest), &m); err != nil {
			t.Fatal(err)
		}
		if m.ArtifactType != ArtifactType || !mapsEqual(m.Annotations, wantAnn) || !mapsEqual(m.Config.Annotations, wantAnn) {
			t.Errorf("%s: artifactType %q, annotations %v, config annotations %v", arch, m.ArtifactType, m.Annotations, m.Config.Annotations)
		}
		if m.Config.MediaType != MediaTypeConfig || string(readBlob(t, s, m.Config.Digest)) != tinyMetadata {
			t.Errorf("%s: config %+v", arch, m.Config)
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeEBPF || m.Layers[0].Annotations[ocispec.AnnotationTitle] != arch+".bpf.o" {
			t.Fatalf("%s: layers %+v", arch, m.Layers)
		}
		obj := readBlob(t, s, m.Layers[0].Digest)
		checkBPFObject(t, arch, obj)
	}
}

func readFileT(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkBPFObject checks an object is a BPF ELF with BTF and no DWARF, and
// that cilium/ebpf finds the program and the ring buffer in it.
func checkBPFObject(t *testing.T, arch string, obj []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("%s: %v", arch, err)
	}
	if f.Machine != elf.EM_BPF {
		t.Errorf("%s: machine %v, want EM_BPF", arch, f.Machine)
	}
	if f.Section(".BTF") == nil {
		t.Errorf("%s: no .BTF section", arch)
	}
	for _, s := range f.Sections {
		if strings.HasPrefix(s.Name, ".debug_") {
			t.Errorf("%s: DWARF section %s not stripped", arch, s.Name)
		}
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("%s: %v", arch, err)
	}
	if spec.Programs["enter_openat"] == nil || spec.Maps["events"] == nil || spec.Maps["events"].Type != ebpf.RingBuf {
		t.Errorf("%s: programs %v maps %v", arch, spec.Programs, spec.Maps)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "bpftool", "go")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	ctx := context.Background()
	var digests []digest.Digest
	for range 2 {
		var out bytes.Buffer
		// A fresh directory and store each time: paths must not leak in.
		dir := tinyGadget(t)
		writeFiles(t, dir, goGuest)
		d, err := Build(ctx, dir, testBuildOptions(openTestStore(t), &out))
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		digests = append(digests, d.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("same input, digests %s and %s", digests[0], digests[1])
	}
}

func TestBuildCompileError(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "bpftool")
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := s.Put(ctx, "existing", fakeArtifact("existing")); err != nil {
		t.Fatal(err)
	}
	before := readFileT(t, filepath.Join(s.Path(), "index.json"))

	dir := filepath.Join(t.TempDir(), "broken")
	writeFiles(t, dir, map[string]string{
		"program.bpf.c": "#include <vmlinux.h>\nint f(void) { return undefined_symbol_xyz; }\n",
	})
	var out bytes.Buffer
	_, err := Build(ctx, dir, testBuildOptions(s, &out))
	if err == nil {
		t.Fatal("no error")
	}
	want := "build " + dir + ": compile eBPF for amd64: clang exited with status 1 (see compiler output above)"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	var be *BuildError
	var te *ToolError
	if !errors.As(err, &be) || be.Arch != "amd64" || !errors.As(err, &te) || te.ExitCode != 1 {
		t.Errorf("error %#v is not a BuildError for amd64 wrapping a ToolError", err)
	}
	if !strings.Contains(out.String(), "undefined_symbol_xyz") || !strings.Contains(out.String(), "error:") {
		t.Errorf("compiler output not written:\n%s", out.String())
	}
	if after := readFileT(t, filepath.Join(s.Path(), "index.json")); !bytes.Equal(before, after) {
		t.Error("index.json changed")
	}
}

func TestBuildBadMetadata(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	before := readFileT(t, filepath.Join(s.Path(), "index.json"))
	dir := filepath.Join(t.TempDir(), "badmeta")
	writeFiles(t, dir, map[string]string{
		"program.bpf.c": tinyProgram,
		"gadget.yaml":   "name: bad\ndescription: x\nannotations: [unterminated\n",
	})
	var out bytes.Buffer
	_, err := Build(ctx, dir, testBuildOptions(s, &out))
	if !errors.Is(err, metadata.ErrInvalid) {
		t.Fatalf("err = %v, want metadata.ErrInvalid", err)
	}
	if msg := err.Error(); !strings.Contains(msg, filepath.Join(dir, "gadget.yaml")+":") || strings.Contains(msg, "\n") {
		t.Errorf("error does not name the file on one line: %q", msg)
	}
	if !regexp.MustCompile(`gadget\.yaml:\d+: `).MatchString(err.Error()) {
		t.Errorf("error has no line: %q", err)
	}
	if out.Len() != 0 {
		t.Errorf("tools ran: %s", out.String())
	}
	if after := readFileT(t, filepath.Join(s.Path(), "index.json")); !bytes.Equal(before, after) || blobCount(t, s) != 0 {
		t.Error("store changed")
	}
}

func TestBuildInputErrors(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"empty/gadget.yaml":         "name: empty\n",
		"badbuild/build.yaml":       "ebpfsource: [\n",
		"badbuild/program.bpf.c":    tinyProgram,
		"missingsrc/build.yaml":     "ebpfsource: other.bpf.c\n",
		"rust/build.yaml":           "wasm: src/lib.rs\n",
		"rust/src/lib.rs":           "",
		"rust/Cargo.toml":           "",
		"rust/program.bpf.c":        tinyProgram,
		"badtag/program.bpf.c":      tinyProgram,
		"missingmeta/build.yaml":    "metadata: meta.yaml\n",
		"missingmeta/program.bpf.c": tinyProgram,
	})
	for _, tc := range []struct {
		dir, tag, want string
		is             error
	}{
		{"nope", "", "build " + filepath.Join(root, "nope") + ": read gadget directory: no such file or directory", fs.ErrNotExist},
		{"empty", "", "nothing to build: no eBPF source and no wasm module (no program.bpf.c)", ErrNoProgram},
		{"badbuild", "", filepath.Join(root, "badbuild", "build.yaml") + ":1: did not find expected node content", nil},
		{"missingsrc", "", "build.yaml names other.bpf.c, which does not exist", nil},
		{"rust", "", "not supported (only .wasm files, C files and Go packages can be used)", ErrUnsupported},
		{"badtag", "Bad:Tag", "invalid image name", ErrInvalidReference},
		{"missingmeta", "", "build.yaml names meta.yaml, which does not exist", nil},
	} {
		var out bytes.Buffer
		opts := testBuildOptions(s, &out)
		opts.Tag = tc.tag
		_, err := Build(ctx, filepath.Join(root, tc.dir), opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line containing %q", tc.dir, err, tc.want)
			continue
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v does not wrap %v", tc.dir, err, tc.is)
		}
		var be *BuildError
		if !errors.As(err, &be) {
			t.Errorf("%s: %T is not a *BuildError", tc.dir, err)
		}
	}
	if blobCount(t, s) != 0 {
		t.Error("store changed")
	}
}

func TestBuildGoWasm(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "bpftool", "go")
	ctx := context.Background()
	s := openTestStore(t)
	dir := tinyGadget(t)
	writeFiles(t, dir, goGuest)
	var out bytes.Buffer
	if _, err := Build(ctx, dir, testBuildOptions(s, &out)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var wasm digest.Digest
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := s.Load(ctx, "tiny", arch)
		if err != nil {
			t.Fatal(err)
		}
		layers := img.Manifest.Layers
		if len(layers) != 2 || layers[0].MediaType != MediaTypeEBPF || layers[1].MediaType != MediaTypeWasm {
			t.Fatalf("%s: layers %+v", arch, layers)
		}
		if !bytes.HasPrefix(img.Wasm, []byte("\x00asm")) {
			t.Errorf("%s: not a wasm module: % x", arch, img.Wasm[:min(8, len(img.Wasm))])
		}
		if !bytes.Contains(img.Wasm, []byte("gadgetAPIVersion")) {
			t.Errorf("%s: gadgetAPIVersion not exported", arch)
		}
		if wasm != "" && layers[1].Digest != wasm {
			t.Errorf("wasm differs between manifests")
		}
		wasm = layers[1].Digest
	}
}

func TestBuildPrebuiltWasmOnly(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	dir := filepath.Join(t.TempDir(), "wasmonly")
	module := "\x00asm\x01\x00\x00\x00"
	writeFiles(t, dir, map[string]string{"build.yaml": "wasm: prebuilt.wasm\n", "prebuilt.wasm": module})
	var out bytes.Buffer
	if _, err := Build(ctx, dir, testBuildOptions(s, &out)); err != nil {
		t.Fatal(err)
	}
	img, err := s.Load(ctx, "wasmonly", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if string(img.Wasm) != module || img.Program != nil || img.Metadata != nil {
		t.Errorf("Wasm %q Program %q Metadata %q", img.Wasm, img.Program, img.Metadata)
	}
}

// TestBuildTraceOpen builds the repository's trace_open gadget with the SDK
// headers, when both exist.
func TestBuildTraceOpen(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "bpftool")
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(file))
	dir := filepath.Join(repo, "gadgets", "trace_open")
	for _, p := range []string{
		filepath.Join(repo, "sdk", "include", "gadget", "macros.h"),
		filepath.Join(dir, "program.bpf.c"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	s := openTestStore(t)
	if _, err := Build(context.Background(), dir, testBuildOptions(s, &out)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := s.Load(context.Background(), "trace_open", arch)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.NewFile(bytes.NewReader(img.Program))
		if err != nil || f.Machine != elf.EM_BPF {
			t.Errorf("%s: %v %v", arch, err, f)
		}
	}
}

// The generated vmlinux.h is cached under the BTF's digest, and
// IG_VMLINUX_H replaces it (bpftool is then not needed).
func TestBuildVmlinuxHeader(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "bpftool")
	ctx := context.Background()
	cache := t.TempDir()
	var out bytes.Buffer
	opts := testBuildOptions(openTestStore(t), &out)
	opts.CacheDir = cache
	opts.Archs = []string{"amd64"}
	if _, err := Build(ctx, tinyGadget(t), opts); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	cached, _ := filepath.Glob(filepath.Join(cache, "vmlinux", "*.h"))
	if len(cached) != 1 || len(strings.TrimSuffix(filepath.Base(cached[0]), ".h")) != 64 {
		t.Fatalf("cache holds %v, want one <sha256>.h", cached)
	}

	t.Setenv("IG_VMLINUX_H", cached[0])
	opts.Bpftool = "/nonexistent/bpftool"
	opts.CacheDir = t.TempDir()
	if _, err := Build(ctx, tinyGadget(t), opts); err != nil {
		t.Fatalf("with IG_VMLINUX_H: %v\n%s", err, out.String())
	}

	t.Setenv("IG_VMLINUX_H", filepath.Join(t.TempDir(), "missing.h"))
	_, err := Build(ctx, tinyGadget(t), opts)
	if err == nil || !strings.Contains(err.Error(), "get vmlinux.h: IG_VMLINUX_H:") {
		t.Errorf("missing IG_VMLINUX_H: %v", err)
	}
}

// Gadgets written against the kernel's UAPI headers instead of vmlinux.h
// (as some upstream gadgets are) build too.
func TestBuildUAPIHeaders(t *testing.T) {
	requireTools(t, "clang", "llvm-strip", "bpftool")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"gadget.yaml": "name: uapi\n",
		"program.bpf.c": `#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <gadget/macros.h>
struct event { __u32 len; };
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } events SEC(".maps");
GADGET_TRACER(pkts, events, event);
SEC("socket1")
int ig_uapi(struct __sk_buff *skb) { return ETH_P_IP == 0x0800 ? 0 : 1; }
char LICENSE[] SEC("license") = "GPL";
`,
	})
	var out bytes.Buffer
	s := openTestStore(t)
	opts := testBuildOptions(s, &out)
	opts.Tag = "uapi"
	if _, err := Build(context.Background(), dir, opts); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}
