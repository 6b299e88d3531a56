package registry

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Artifact is the content of a gadget image before it is packed into OCI
// blobs. [Build] produces one; [Store.Put] packs and stores it.
type Artifact struct {
	// Metadata is the gadget.yaml document, or nil for none (the config is
	// then the OCI empty descriptor). It must parse with metadata.Parse.
	Metadata []byte
	// Programs holds one eBPF ELF per architecture ("amd64", "arm64").
	// Either empty (a wasm-only gadget) or one entry per Archs element.
	Programs map[string][]byte
	// Wasm is the wasm module put in every manifest, or nil.
	Wasm []byte
	// Archs lists the architectures to emit manifests for. Nil means the
	// keys of Programs, or [DefaultArchs] when Programs is empty.
	Archs []string
	// BuilderVersion becomes the io.inspektor-gadget.builder.version
	// annotation when not empty.
	BuilderVersion string
	// Created becomes org.opencontainers.image.created (RFC 3339, UTC).
	// The zero value means now.
	Created time.Time
}

// blob is one piece of content to store: descriptor and bytes.
type blob struct {
	desc ocispec.Descriptor
	data []byte
}

// packed is an Artifact turned into blobs, in push order (children before
// parents), with the index last.
type packed struct {
	blobs []blob
	index ocispec.Descriptor
}

// pack lays out a gadget image. It is pure: the same Artifact always gives
// the same bytes and digests.
func pack(a *Artifact) (*packed, error) {
	archs, err := a.archs()
	if err != nil {
		return nil, err
	}
	annotations, err := imageAnnotations(a)
	if err != nil {
		return nil, err
	}
	p := &packed{}
	add := func(mediaType string, data []byte, ann map[string]string) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, data)
		for _, b := range p.blobs {
			if b.desc.Digest == d.Digest {
				d.Annotations = ann
				return d
			}
		}
		p.blobs = append(p.blobs, blob{desc: d, data: data})
		d.Annotations = ann
		return d
	}

	var config ocispec.Descriptor
	if a.Metadata != nil {
		config = add(MediaTypeConfig, a.Metadata, annotations)
	} else {
		config = add(ocispec.MediaTypeEmptyJSON, []byte("{}"), annotations)
	}
	var wasm ocispec.Descriptor
	if a.Wasm != nil {
		wasm = add(MediaTypeWasm, a.Wasm, map[string]string{ocispec.AnnotationTitle: "program.wasm"})
	}

	index := ocispec.Index{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageIndex,
		Manifests:   []ocispec.Descriptor{},
		Annotations: annotations,
	}
	for _, arch := range archs {
		m := ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: ArtifactType,
			Config:       config,
			Layers:       []ocispec.Descriptor{},
			Annotations:  annotations,
		}
		if elf, ok := a.Programs[arch]; ok {
			m.Layers = append(m.Layers, add(MediaTypeEBPF, elf, map[string]string{ocispec.AnnotationTitle: arch + ".bpf.o"}))
		}
		if a.Wasm != nil {
			m.Layers = append(m.Layers, wasm)
		}
		data, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		d := add(ocispec.MediaTypeImageManifest, data, annotations)
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		index.Manifests = append(index.Manifests, d)
	}
	data, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	p.index = add(ocispec.MediaTypeImageIndex, data, nil)
	p.index.Annotations = nil
	return p, nil
}

func (a *Artifact) archs() ([]string, error) {
	archs := a.Archs
	if archs == nil {
		archs = slices.Collect(maps.Keys(a.Programs))
		if len(archs) == 0 {
			archs = DefaultArchs()
		}
	}
	archs, err := normalizeArchs(archs)
	if err != nil {
		return nil, err
	}
	for _, arch := range archs {
		if len(a.Programs) > 0 && a.Programs[arch] == nil {
			return nil, fmt.Errorf("no eBPF program for architecture %s", arch)
		}
	}
	for arch := range a.Programs {
		if !slices.Contains(archs, arch) {
			return nil, fmt.Errorf("eBPF program for architecture %s, which is not a target", arch)
		}
	}
	if len(a.Programs) == 0 && a.Wasm == nil {
		return nil, ErrNoProgram
	}
	return archs, nil
}

// normalizeArchs sorts and deduplicates archs and checks that each is one
// a gadget can target.
func normalizeArchs(archs []string) ([]string, error) {
	archs = slices.Clone(archs)
	slices.Sort(archs)
	archs = slices.Compact(archs)
	if len(archs) == 0 {
		return nil, fmt.Errorf("no target architecture: %w", ErrUnsupported)
	}
	for _, arch := range archs {
		if _, ok := kernelArch(arch); !ok {
			return nil, fmt.Errorf("target architecture %q (want amd64 or arm64): %w", arch, ErrUnsupported)
		}
	}
	return archs, nil
}

// imageAnnotations derives the annotations written on the config
// descriptor, each manifest, each manifest descriptor and the index.
func imageAnnotations(a *Artifact) (map[string]string, error) {
	ann := map[string]string{}
	var fromYAML map[string]string
	if a.Metadata != nil {
		g, err := metadata.Parse(a.Metadata, metadata.DefaultFile)
		if err != nil {
			return nil, err
		}
		for k, v := range map[string]string{
			ocispec.AnnotationTitle:         g.Name,
			ocispec.AnnotationDescription:   g.Description,
			ocispec.AnnotationURL:           g.HomepageURL,
			ocispec.AnnotationDocumentation: g.DocumentationURL,
			ocispec.AnnotationSource:        g.SourceURL,
		} {
			if v != "" {
				ann[k] = v
			}
		}
		fromYAML = g.Annotations
	}
	created := a.Created
	if created.IsZero() {
		created = time.Now()
	}
	ann[ocispec.AnnotationCreated] = created.UTC().Format(time.RFC3339)
	if a.BuilderVersion != "" {
		ann[AnnotationBuilderVersion] = a.BuilderVersion
	}
	maps.Copy(ann, fromYAML) // gadget.yaml annotations have the last word
	return ann, nil
}
