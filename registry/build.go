package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gadgetkit/ig/internal/metadata"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"
)

// BuildOptions configures [Build]. The zero value builds for
// [DefaultArchs] with the host tools found in $PATH and stores the result in
// the store at [DefaultStorePath].
type BuildOptions struct {
	// Store receives the image. Nil means Open(DefaultStorePath()).
	Store *Store
	// Tag is the image name, normalised with the store's resolver. Empty
	// means the base name of the gadget directory.
	Tag string
	// Archs are the target architectures. Nil means [DefaultArchs].
	Archs []string
	// BuilderVersion is recorded in the io.inspektor-gadget.builder.version
	// annotation (the building ig's version).
	BuilderVersion string
	// Clang, LLVMStrip, Bpftool and Go name the tools; the defaults are
	// "clang", "llvm-strip", "bpftool" and "go", looked up in $PATH. Clang
	// also builds C wasm modules, with a wasm-ld found in $PATH (wasm-ld or
	// wasm-ld-NN) or next to clang's real binary.
	Clang, LLVMStrip, Bpftool, Go string
	// CFlags are appended to the eBPF compiler flags, after build.yaml's
	// cflags. A C wasm module is compiled without them.
	CFlags []string
	// Output receives the tools' own output (compiler diagnostics). Nil
	// means os.Stderr.
	Output io.Writer
	// CacheDir holds generated vmlinux.h files. Empty means
	// [DefaultCacheDir].
	CacheDir string
}

func (o BuildOptions) withDefaults() BuildOptions {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Clang, "clang")
	def(&o.LLVMStrip, "llvm-strip")
	def(&o.Bpftool, "bpftool")
	def(&o.Go, "go")
	def(&o.CacheDir, DefaultCacheDir())
	if o.Archs == nil {
		o.Archs = DefaultArchs()
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	return o
}

// buildFile is build.yaml.
type buildFile struct {
	EBPFSource string     `yaml:"ebpfsource"`
	Metadata   string     `yaml:"metadata"`
	Wasm       string     `yaml:"wasm"`
	CFlags     stringList `yaml:"cflags"`
}

// stringList accepts a YAML sequence or a whitespace-separated string.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

const (
	buildFileName     = "build.yaml"
	defaultEBPFSource = "program.bpf.c"
	kernelBTF         = "/sys/kernel/btf/vmlinux"
)

// Build builds the gadget in dir and stores it under opts.Tag, returning
// the descriptor of the image index.
//
// dir holds an optional build.yaml (keys ebpfsource, metadata, wasm,
// cflags), an optional gadget.yaml, and at least one of an eBPF source
// (program.bpf.c by default) and a wasm module (build.yaml's wasm: a .wasm
// file taken as is, a C file, or a Go package; without it, a go/ directory
// with a go.mod). gadget.yaml is validated first. The eBPF source is
// compiled with clang once per architecture against the embedded SDK
// headers and a vmlinux.h ($IG_VMLINUX_H, or generated from the running
// kernel's BTF with bpftool and cached), stripped of DWARF (BTF kept) with
// llvm-strip and checked to parse as an eBPF collection. A C wasm module is
// compiled and linked by clang (which runs wasm-ld, from lld) into a
// freestanding reactor without WASI, against the same SDK headers; the
// cflags of build.yaml and opts.CFlags are for the eBPF source only. A Go
// wasm module is built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
//
// The store is only touched once everything is built. With the same inputs
// and $SOURCE_DATE_EPOCH set, the index digest is the same.
//
// Every error is a *[BuildError] whose message is one line; the tools'
// diagnostics go to opts.Output.
func Build(ctx context.Context, dir string, opts BuildOptions) (ocispec.Descriptor, error) {
	b := &builder{dir: dir, opts: opts.withDefaults()}
	desc, err := b.build(ctx)
	if err != nil {
		var be *BuildError
		if !errors.As(err, &be) {
			err = &BuildError{Dir: dir, Err: err}
		}
		return ocispec.Descriptor{}, err
	}
	return desc, nil
}

type builder struct {
	dir     string
	opts    BuildOptions
	tmp     string
	include string // the extracted SDK headers; empty until needed
}

// path resolves a build.yaml path against the gadget directory.
func (b *builder) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(b.dir, name)
}

func (b *builder) fail(step, arch string, err error) error {
	return &BuildError{Dir: b.dir, Step: step, Arch: arch, Err: err}
}

func (b *builder) build(ctx context.Context) (ocispec.Descriptor, error) {
	fi, err := os.Stat(b.dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return ocispec.Descriptor{}, b.fail("read gadget directory", "", err)
	}
	if !fi.IsDir() {
		return ocispec.Descriptor{}, b.fail("read gadget directory", "", errors.New("not a directory"))
	}

	// Everything that can be checked without tools comes first.
	cfg, err := b.readBuildFile()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	meta, err := b.readMetadata(cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	resolver := Resolver{}
	if b.opts.Store != nil {
		resolver = b.opts.Store.Resolver()
	}
	tag := b.opts.Tag
	if tag == "" {
		abs, err := filepath.Abs(b.dir)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		tag = filepath.Base(abs)
	}
	ref, err := resolver.Parse(tag)
	if err != nil {
		return ocispec.Descriptor{}, b.fail("", "", err)
	}
	if b.opts.Archs, err = normalizeArchs(b.opts.Archs); err != nil {
		return ocispec.Descriptor{}, b.fail("", "", err)
	}
	art := &Artifact{Metadata: meta, Archs: b.opts.Archs, BuilderVersion: b.opts.BuilderVersion}
	if art.Created, err = sourceDateEpoch(); err != nil {
		return ocispec.Descriptor{}, b.fail("", "", err)
	}
	src := cfg.EBPFSource
	if src == "" {
		src = defaultEBPFSource
	}
	hasEBPF, err := b.exists(src, cfg.EBPFSource != "")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	wasm, err := b.wasmSource(cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if !hasEBPF && wasm == "" {
		return ocispec.Descriptor{}, b.fail("", "", fmt.Errorf("%w (no %s)", ErrNoProgram, src))
	}

	if b.tmp, err = os.MkdirTemp("", "ig-build-"); err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.RemoveAll(b.tmp)

	if hasEBPF {
		if art.Programs, err = b.buildEBPF(ctx, src, cfg.CFlags); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	if wasm != "" {
		if art.Wasm, err = b.buildWasm(ctx, wasm); err != nil {
			return ocispec.Descriptor{}, err
		}
	}

	store := b.opts.Store
	if store == nil {
		if store, err = Open(DefaultStorePath()); err != nil {
			return ocispec.Descriptor{}, b.fail("", "", err)
		}
	}
	desc, err := store.Put(ctx, ref.String(), art)
	if err != nil {
		return ocispec.Descriptor{}, b.fail("", "", err)
	}
	return desc, nil
}

// exists tells whether dir/name exists; a missing file is an error only if
// required.
func (b *builder) exists(name string, required bool) (bool, error) {
	_, err := os.Stat(b.path(name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist) && !required:
		return false, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, b.fail("", "", fmt.Errorf("%s names %s, which does not exist", buildFileName, name))
	default:
		return false, b.fail("", "", err)
	}
}

func (b *builder) readBuildFile() (*buildFile, error) {
	cfg := &buildFile{}
	path := filepath.Join(b.dir, buildFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, b.fail("", "", err)
	}
	if err := yaml.Unmarshal(data, cfg); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if line, rest, ok := strings.Cut(strings.TrimPrefix(msg, "line "), ": "); ok && strings.HasPrefix(msg, "line ") {
			return nil, b.fail("", "", fmt.Errorf("%s:%s: %s", path, line, rest))
		}
		return nil, b.fail("", "", fmt.Errorf("%s: %s", path, msg))
	}
	return cfg, nil
}

// readMetadata reads and validates gadget.yaml; nil when the default file
// is absent.
func (b *builder) readMetadata(cfg *buildFile) ([]byte, error) {
	name := cfg.Metadata
	if name == "" {
		name = metadata.DefaultFile
	}
	if ok, err := b.exists(name, cfg.Metadata != ""); err != nil || !ok {
		return nil, err
	}
	path := b.path(name)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, b.fail("", "", err)
	}
	if _, err := metadata.Parse(data, path); err != nil {
		return nil, b.fail("", "", err)
	}
	return data, nil
}

func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Now(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds", v)
	}
	return time.Unix(n, 0), nil
}

// run runs a tool with its output going to the build output. A non-zero
// exit becomes a *ToolError.
func (b *builder) run(cmd *exec.Cmd, compiler bool) error {
	if cmd.Stdout == nil {
		cmd.Stdout = b.opts.Output
	}
	cmd.Stderr = b.opts.Output
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &ToolError{Tool: cmd.Args[0], ExitCode: ee.ExitCode(), compiler: compiler}
	}
	return err
}
