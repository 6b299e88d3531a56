// Package registry is where gadget images live: their OCI format, their
// names, the local store, and how they are built.
//
// # Image format
//
// A gadget image is an OCI image index with one image manifest per
// architecture (amd64, arm64, in that order), compatible with images built
// by Inspektor Gadget v1:
//
//	index  application/vnd.oci.image.index.v1+json
//	├── manifest  platform linux/amd64, artifactType application/vnd.gadget.v1+binary
//	│   ├── config  application/vnd.gadget.config.v1+yaml    the gadget.yaml bytes
//	│   │           (the OCI empty descriptor when there is no gadget.yaml)
//	│   ├── layer   application/vnd.gadget.ebpf.program.v1+binary   amd64.bpf.o
//	│   ├── layer   application/vnd.gadget.wasm.program.v1+binary   program.wasm
//	│   └── layer   application/vnd.gadget.btfgen.v1+binary         (read, never built)
//	└── manifest  platform linux/arm64 ... the same, with arm64.bpf.o
//
// Layers come in that order, each media type at most once; the eBPF layer
// is omitted for wasm-only gadgets, the wasm layer when there is no module.
// The org.opencontainers.image.{title,description,url,documentation,source,
// created} annotations (from gadget.yaml's name, description, homepageURL,
// documentationURL, sourceURL, and the build time or $SOURCE_DATE_EPOCH),
// io.inspektor-gadget.builder.version and gadget.yaml's own annotations are
// written on the config descriptor, every manifest, every manifest
// descriptor and the index. Packing is deterministic: the same [Artifact]
// gives the same digests.
//
// # Names
//
// A [Resolver] turns short names into full references: "trace_open" is
// "<prefix>/trace_open:latest" with the prefix ghcr.io/gadgetkit/gadget by
// default; "myorg/foo" takes the prefix's registry ("ghcr.io/myorg/foo");
// a first element with a "." or ":" or equal to "localhost" is a registry.
// The store keys images by the normalised string.
//
// # Local store
//
// A [Store] is an OCI image layout directory (oci-layout, index.json,
// blobs/sha256/...) with, as index.json entries, one descriptor per tag
// whose org.opencontainers.image.ref.name annotation is the full
// normalised reference. Blob writing goes through oras-go's content/oci
// store. The default location is [DefaultStorePath].
//
// Lock protocol. All access is coordinated with flock(2) on
// <store>/index.json.lock, which works between processes and between
// goroutines alike:
//
//   - Readers ([Store.Load], [Store.List], [Store.Resolve])
//     hold a shared lock while they read index.json and the blobs.
//   - Writers ([Store.Put], [Store.Tag], [Store.Remove], [Store.Update])
//     hold the exclusive lock for the whole transaction: they re-read
//     index.json under the lock (so no update is lost), write new blobs
//     first, record tags in a staging copy of index.json, then replace
//     index.json atomically (temporary file, fsync, rename). Only then
//     are blobs that nothing references any more deleted. A transaction
//     that fails leaves index.json byte for byte as it was; blobs it wrote
//     are deleted by the next successful one, as are staging directories
//     of a process that died.
//   - A commit keeps tagged entries and untagged manifests whose subject is
//     kept (referrers such as signatures), and drops everything else.
//
// Signatures live next to the images they sign, so that images can be
// verified offline ([Verify]): tagged <repository>:sha256-<hex>.sig
// (cosign's legacy tag), or as untagged OCI 1.1 referrers (cosign's
// referrer form, Sigstore bundles). A transaction drops them, and the
// blobs only they used, when the last tag of their image goes: removed
// ([Store.Remove]) or moved to another image ([Store.Put], [Store.Tag],
// [Pull], [Import]).
//
// index.json can therefore also be read without the lock by other tools:
// it is always a complete document.
//
// # Build
//
// [Build] turns a gadget directory (program.bpf.c, gadget.yaml, optional
// build.yaml and wasm guest: prebuilt, in C or in Go) into an image in the
// store, using clang, llvm-strip, bpftool, wasm-ld and go from the host and
// the C headers embedded in package sdk.
//
// # Errors
//
// The sentinels are in errors.go; test with [errors.Is]. [ErrNotFound]
// means the image is not in the local store (its message names the
// normalised reference and the store, so callers may print it as is),
// [ErrArchNotFound] that the image exists without a manifest for the
// requested architecture (the message lists those it has),
// [ErrInvalidReference] a name that cannot be parsed, [ErrInvalidImage]
// content that is not a gadget image. Every [Build] error is a *[BuildError]
// naming the gadget directory, the step and the architecture on one line;
// a tool that failed is a *[ToolError] inside it, and its diagnostics went
// to [BuildOptions].Output. gadget.yaml errors wrap metadata.ErrInvalid and
// name the file and line. Other errors (I/O, a cancelled context) are
// returned wrapped with the operation.
package registry
