package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func TestAllowList(t *testing.T) {
	res := Resolver{Prefix: "ghcr.io/gadgetkit/gadget"}
	d := digest.FromString("index")
	other := digest.FromString("other")
	tests := []struct {
		name    string
		list    string
		image   string
		dgst    digest.Digest
		allowed bool
	}{
		{"empty allows all", "", "anything:v1", d, true},
		{"blank entries only", " , ", "anything:v1", d, true},
		{"exact tag", "ghcr.io/gadgetkit/gadget/trace_open:v1", "trace_open:v1", d, true},
		{"other tag", "ghcr.io/gadgetkit/gadget/trace_open:v1", "trace_open:v2", d, false},
		{"short entry normalised", "trace_open", "ghcr.io/gadgetkit/gadget/trace_open:latest", d, true},
		{"short entry is latest only", "trace_open", "trace_open:v1", d, false},
		{"not a prefix without star", "ghcr.io/gadgetkit/gadget/trace", "trace_open", d, false},
		{"prefix", "ghcr.io/gadgetkit/gadget/*", "trace_open:v1", d, true},
		{"prefix of repository", "ghcr.io/gadgetkit/gadget/trace_*", "trace_exec", d, true},
		{"prefix elsewhere", "ghcr.io/other/*", "trace_open", d, false},
		{"prefix matches across tag", "ghcr.io/gadgetkit/gadget/trace_open:v*", "trace_open:v1.2", d, true},
		{"digest entry, tag image resolving to it", "ghcr.io/gadgetkit/gadget/trace_open@" + d.String(), "trace_open:v1", d, true},
		{"digest entry, other digest", "ghcr.io/gadgetkit/gadget/trace_open@" + d.String(), "trace_open:v1", other, false},
		{"digest entry, digest image", "trace_open@" + d.String(), "trace_open@" + d.String(), "", true},
		{"digest entry, other repository", "ghcr.io/gadgetkit/gadget/trace_exec@" + d.String(), "trace_open:v1", d, false},
		{"second entry", "x:1, localhost:5000/g/*", "localhost:5000/g/a:b", d, true},
		{"star alone", "*", "localhost:5000/g/a:b", d, true},
		{"case matters", "GHCR.IO/*", "trace_open", d, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := res.Parse(tt.image)
			if err != nil {
				t.Fatal(err)
			}
			l := ParseAllowList(res, tt.list)
			if got := l.Allows(r, tt.dgst); got != tt.allowed {
				t.Fatalf("Allows(%s, %s) with %q = %v, want %v", r, tt.dgst, tt.list, got, tt.allowed)
			}
			err = l.Check(r, tt.dgst)
			if tt.allowed != (err == nil) {
				t.Fatalf("Check: %v", err)
			}
			if err != nil && (!errors.Is(err, ErrNotAllowed) || strings.Contains(err.Error(), "\n") ||
				!strings.Contains(err.Error(), r.String()) || !strings.Contains(err.Error(), strings.TrimSpace(strings.Split(tt.list, ",")[0]))) {
				t.Fatalf("error %q should name the image and the list", err)
			}
		})
	}
}
