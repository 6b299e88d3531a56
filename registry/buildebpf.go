package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/cilium/ebpf"
	"github.com/gadgetkit/ig/sdk"
)

// buildEBPF compiles src (relative to the gadget directory) once per target
// architecture and returns the stripped, validated objects.
func (b *builder) buildEBPF(ctx context.Context, src string, cflags []string) (map[string][]byte, error) {
	include, err := b.headers()
	if err != nil {
		return nil, err
	}
	vmlinuxDir, err := b.vmlinux(ctx)
	if err != nil {
		return nil, b.fail("get vmlinux.h", "", err)
	}
	hostArch, ok := kernelArch(runtime.GOARCH)
	if !ok {
		hostArch = runtime.GOARCH
	}

	programs := map[string][]byte{}
	for _, arch := range b.opts.Archs {
		karch, _ := kernelArch(arch)
		out := filepath.Join(b.tmp, arch+".bpf.o")
		args := []string{
			"-target", "bpf", "-Wall", "-g", "-O2",
			"-D__TARGET_ARCH_" + karch,
			"-I" + include,
			"-I" + vmlinuxDir,
		}
		// Gadgets written against the kernel's UAPI headers (<linux/bpf.h>
		// rather than vmlinux.h) need the host's <asm/...> directory.
		if dir := multiarchInclude(); dir != "" {
			args = append(args, "-idirafter", dir)
		}
		// Paths end up in the BTF line info: map the temporary and the
		// gadget directory to fixed names so that builds are reproducible.
		args = append(args, prefixMap(b.tmp, "/ig-build")...)
		args = append(args, prefixMap(b.dir, ".")...)
		// vmlinux.h describes the build host's kernel; a compat header
		// bridges the differences when targeting another architecture.
		if karch != hostArch {
			compat := filepath.Join(include, "gadget", "compat", karch+"_on_"+hostArch+".h")
			if _, err := os.Stat(compat); err == nil {
				args = append(args, "-include", compat)
			}
		}
		args = append(args, cflags...)
		args = append(args, b.opts.CFlags...)
		args = append(args, "-c", src, "-o", out)
		cmd := exec.CommandContext(ctx, b.opts.Clang, args...)
		cmd.Dir = b.dir
		if err := b.run(cmd, true); err != nil {
			return nil, b.fail("compile eBPF", arch, err)
		}
		if err := b.run(exec.CommandContext(ctx, b.opts.LLVMStrip, "-g", out), false); err != nil {
			return nil, b.fail("strip eBPF object", arch, err)
		}
		elf, err := os.ReadFile(out)
		if err != nil {
			return nil, b.fail("read eBPF object", arch, err)
		}
		if _, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(elf)); err != nil {
			return nil, b.fail("validate eBPF object", arch, err)
		}
		programs[arch] = elf
	}
	return programs, nil
}

// prefixMap returns clang flags that replace dir by to in recorded file
// names, for both its absolute and its symlink-free spelling.
func prefixMap(dir, to string) []string {
	var flags []string
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	flags = append(flags, "-ffile-prefix-map="+abs+"="+to)
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		flags = append(flags, "-ffile-prefix-map="+real+"="+to)
	}
	return flags
}

// headers returns the directory of the SDK headers, extracting them on
// first use: the eBPF and the C wasm builds share one copy.
func (b *builder) headers() (string, error) {
	if b.include != "" {
		return b.include, nil
	}
	dir, err := b.extractHeaders()
	if err != nil {
		return "", b.fail("extract SDK headers", "", err)
	}
	b.include = dir
	return dir, nil
}

// extractHeaders writes the embedded SDK headers to <tmp>/include and
// returns that directory.
func (b *builder) extractHeaders() (string, error) {
	root := filepath.Join(b.tmp, "include")
	tree, err := fs.Sub(sdk.Include, "include")
	if err != nil {
		return "", err
	}
	return root, fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(root, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(tree, p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

// vmlinux returns a directory holding vmlinux.h: $IG_VMLINUX_H if set,
// else one generated from the running kernel's BTF with bpftool and cached
// under <cache>/vmlinux/<sha256 of the BTF>.h.
func (b *builder) vmlinux(ctx context.Context) (string, error) {
	dir := filepath.Join(b.tmp, "vmlinux")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	header := filepath.Join(dir, "vmlinux.h")

	if p := os.Getenv("IG_VMLINUX_H"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("IG_VMLINUX_H: %w", err)
		}
		return dir, os.Symlink(abs, header)
	}

	btf, err := os.Open(kernelBTF)
	if err != nil {
		return "", fmt.Errorf("%w (set IG_VMLINUX_H to a vmlinux.h to build without kernel BTF)", err)
	}
	h := sha256.New()
	_, err = io.Copy(h, btf)
	btf.Close()
	if err != nil {
		return "", err
	}
	cacheDir := filepath.Join(b.opts.CacheDir, "vmlinux")
	cached := filepath.Join(cacheDir, hex.EncodeToString(h.Sum(nil))+".h")
	if _, err := os.Stat(cached); err == nil {
		return dir, os.Symlink(cached, header)
	}

	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, b.opts.Bpftool, "btf", "dump", "file", kernelBTF, "format", "c")
	cmd.Stdout = &out
	if err := b.run(cmd, false); err != nil {
		return "", err
	}
	// The cache is an optimisation: if it cannot be written (read-only
	// home, say), the header is only kept for this build.
	if os.MkdirAll(cacheDir, 0o755) == nil && writeFileAtomic(cacheDir, filepath.Base(cached), out.Bytes()) == nil {
		return dir, os.Symlink(cached, header)
	}
	if err := os.WriteFile(header, out.Bytes(), 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// multiarchInclude returns the Debian multiarch include directory of the
// build host (/usr/include/x86_64-linux-gnu), or "" if there is none.
func multiarchInclude() string {
	triple := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	if triple == "" {
		return ""
	}
	dir := filepath.Join("/usr/include", triple)
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}
