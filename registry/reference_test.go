package registry

import (
	"errors"
	"strings"
	"testing"
)

func TestResolverParse(t *testing.T) {
	const dgst = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
	for _, tc := range []struct {
		prefix, in, want string
	}{
		{"", "trace_open", "ghcr.io/gadgetkit/gadget/trace_open:latest"},
		{"", "trace_open:v0.1", "ghcr.io/gadgetkit/gadget/trace_open:v0.1"},
		{"", "trace_open@" + dgst, "ghcr.io/gadgetkit/gadget/trace_open@" + dgst},
		{"", "trace_open:v1@" + dgst, "ghcr.io/gadgetkit/gadget/trace_open@" + dgst},
		{"", "myorg/foo", "ghcr.io/myorg/foo:latest"},
		{"", "myorg/team/foo:dev", "ghcr.io/myorg/team/foo:dev"},
		{"", "docker.io/library/x", "docker.io/library/x:latest"},
		{"", "localhost/foo", "localhost/foo:latest"},
		{"", "localhost:5000/foo:1", "localhost:5000/foo:1"},
		{"", "127.0.0.1:5000/a/b@" + dgst, "127.0.0.1:5000/a/b@" + dgst},
		{"", "ghcr.io/gadgetkit/gadget/trace_open:latest", "ghcr.io/gadgetkit/gadget/trace_open:latest"},
		// A first element without '.' or ':' is a path, not a domain.
		{"", "registry/foo", "ghcr.io/registry/foo:latest"},
		// Configurable prefix (mirrors).
		{"mirror.example.com:5000/ig", "trace_open", "mirror.example.com:5000/ig/trace_open:latest"},
		{"mirror.example.com:5000/ig", "myorg/foo", "mirror.example.com:5000/myorg/foo:latest"},
		{"localhost:5000", "trace_open", "localhost:5000/trace_open:latest"},
		{"localhost:5000/", "trace_open", "localhost:5000/trace_open:latest"},
	} {
		got, err := Resolver{Prefix: tc.prefix}.Normalize(tc.in)
		if err != nil {
			t.Errorf("Resolver{%q}.Normalize(%q): %v", tc.prefix, tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Resolver{%q}.Normalize(%q) = %q, want %q", tc.prefix, tc.in, got, tc.want)
		}
	}
}

func TestResolverParseFields(t *testing.T) {
	r, err := ParseReference("localhost:5000/a/b:v2")
	if err != nil {
		t.Fatal(err)
	}
	if r.Registry != "localhost:5000" || r.Repository != "a/b" || r.Tag != "v2" || r.Digest != "" {
		t.Errorf("got %+v", r)
	}
	if r.Name() != "localhost:5000/a/b" {
		t.Errorf("Name() = %q", r.Name())
	}
}

func TestResolverParseErrors(t *testing.T) {
	for _, tc := range []struct {
		prefix, in, want string
	}{
		{"", "", "empty name"},
		{"", "Trace_Open", `invalid repository "gadgetkit/gadget/Trace_Open"`},
		{"", "trace_open:", "empty tag"},
		{"", "trace_open:bad/tag", `invalid registry "trace_open:bad"`},
		{"", "trace_open:-x", `invalid tag "-x"`},
		{"", "trace_open@sha256:abc", `invalid digest "sha256:abc"`},
		{"", "foo//bar", "invalid repository"},
		{"", "ghcr.io/", "empty repository"},
		{"", " trace_open", "leading or trailing space"},
		{"gadgets", "x", `default prefix "gadgets" must start with a registry domain`},
	} {
		_, err := Resolver{Prefix: tc.prefix}.Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q): no error", tc.in)
			continue
		}
		if !errors.Is(err, ErrInvalidReference) {
			t.Errorf("Parse(%q): %v does not wrap ErrInvalidReference", tc.in, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestResolverDisplay(t *testing.T) {
	for _, tc := range []struct {
		prefix, in, want string
	}{
		{"", "ghcr.io/gadgetkit/gadget/trace_open:latest", "trace_open:latest"},
		{"", "ghcr.io/gadgetkit/gadget/trace_open", "trace_open"},
		{"", "ghcr.io/gadgetkit/gadget/a/b:latest", "ghcr.io/gadgetkit/gadget/a/b:latest"},
		{"", "ghcr.io/myorg/foo:latest", "ghcr.io/myorg/foo:latest"},
		{"", "ghcr.io/gadgetkit/gadgets:latest", "ghcr.io/gadgetkit/gadgets:latest"},
		{"localhost:5000", "localhost:5000/x:1", "x:1"},
	} {
		if got := (Resolver{Prefix: tc.prefix}).Display(tc.in); got != tc.want {
			t.Errorf("Resolver{%q}.Display(%q) = %q, want %q", tc.prefix, tc.in, got, tc.want)
		}
	}
}
