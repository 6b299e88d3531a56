package registry

// Media types and artifact type of a gadget image (see the package
// documentation for the layout they describe).
const (
	// ArtifactType is the artifactType of every per-architecture manifest.
	ArtifactType = "application/vnd.gadget.v1+binary"
	// MediaTypeConfig is the manifest config: the gadget.yaml bytes.
	MediaTypeConfig = "application/vnd.gadget.config.v1+yaml"
	// MediaTypeEBPF is the eBPF ELF layer, one per architecture.
	MediaTypeEBPF = "application/vnd.gadget.ebpf.program.v1+binary"
	// MediaTypeWasm is the wasm module layer, the same in every manifest.
	MediaTypeWasm = "application/vnd.gadget.wasm.program.v1+binary"
	// MediaTypeBTFGen is a tarball of minimal BTF files for kernels without
	// BTF. Recognised when loading; [Build] does not produce it.
	MediaTypeBTFGen = "application/vnd.gadget.btfgen.v1+binary"
)

// Annotation keys specific to gadget images. The others are the standard
// org.opencontainers.image.* keys of image-spec.
const (
	// AnnotationBuilderVersion records the version of the ig that built
	// the image.
	AnnotationBuilderVersion = "io.inspektor-gadget.builder.version"
)

// DefaultArchs returns the architectures [Build] targets by default, in
// the order their manifests appear in the index.
func DefaultArchs() []string { return []string{"amd64", "arm64"} }

// kernelArch maps a Go architecture name to the kernel's name for it, as
// used by __TARGET_ARCH_* and vmlinux.h compat headers.
func kernelArch(goarch string) (string, bool) {
	switch goarch {
	case "amd64":
		return "x86", true
	case "arm64":
		return "arm64", true
	}
	return "", false
}
