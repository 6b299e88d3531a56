package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/opencontainers/go-digest"
)

func writeConfigFile(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	good := writeConfigFile(t, `
registry:
  default: mirror.example:5000/gadgets
  mirrors:
    ghcr.io: [mirror.example:5000/ghcr, "127.0.0.1:5710"]
  insecure: ["127.0.0.1:5710"]
operator:            # another section: not ours, ignored
  anything: [1, 2]
`)
	cfg, err := LoadConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Default != "mirror.example:5000/gadgets" ||
		!slices.Equal(cfg.Mirrors["ghcr.io"], []string{"mirror.example:5000/ghcr", "127.0.0.1:5710"}) ||
		!slices.Equal(cfg.Insecure, []string{"127.0.0.1:5710"}) {
		t.Fatalf("config: %+v", cfg)
	}
	if ref, err := (Resolver{Prefix: cfg.Default}).Normalize("trace_open"); err != nil || ref != "mirror.example:5000/gadgets/trace_open:latest" {
		t.Fatalf("short name with the default: %q %v", ref, err)
	}
	mirrors := RemoteOptions{Mirrors: cfg.Mirrors}.mirrorsOf(mustParse(t, "ghcr.io/org/g:v1"))
	var names []string
	for _, m := range mirrors {
		names = append(names, m.String())
	}
	if want := []string{"mirror.example:5000/ghcr/org/g:v1", "127.0.0.1:5710/org/g:v1", "ghcr.io/org/g:v1"}; !slices.Equal(names, want) {
		t.Fatalf("sources %v, want %v", names, want)
	}
	if got := (RemoteOptions{Mirrors: cfg.Mirrors}).mirrorsOf(mustParse(t, "quay.io/x/y@sha256:"+strings.Repeat("a", 64))); len(got) != 1 {
		t.Fatalf("mirrors of another registry: %v", got)
	}

	// The default file: missing means empty; $IG_CONFIG names another.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(EnvConfig, "")
	if cfg, err := LoadConfig(""); err != nil || cfg.Default != "" || cfg.Mirrors != nil {
		t.Fatalf("no default file: %+v %v", cfg, err)
	}
	def, _ := ConfigPath()
	if want := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "ig", "config.yaml"); def != want {
		t.Fatalf("ConfigPath = %s, want %s", def, want)
	}
	t.Setenv(EnvConfig, good)
	if cfg, err := LoadConfig(""); err != nil || cfg.Default == "" {
		t.Fatalf("$%s: %+v %v", EnvConfig, cfg, err)
	}
	for _, empty := range []string{os.DevNull, writeConfigFile(t, "# nothing\n")} {
		if cfg, err := LoadConfig(empty); err != nil || cfg.Default != "" {
			t.Fatalf("empty file %s: %+v %v", empty, cfg, err)
		}
	}
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	if _, err := LoadConfig(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing explicit file: %v", err)
	}

	for _, tc := range []struct{ yaml, want string }{
		{"registry:\n  mirror: {}\n", "line 2: field mirror not found"},
		{"registry:\n  default: [a]\n", "line 2: cannot unmarshal"},
		{"registry: {default: Not A Prefix}\n", `registry.default "Not A Prefix" is not a registry prefix`},
		{"registry: {default: gadgets}\n", `registry.default "gadgets" is not a registry prefix`},
		{"registry: {mirrors: {ghcr: [m.example]}}\n", `registry.mirrors: "ghcr" is not a registry`},
		{"registry: {mirrors: {ghcr.io: []}}\n", "registry.mirrors.ghcr.io: no mirror"},
		{"registry: {mirrors: {ghcr.io: [\"m.example/Bad Path\"]}}\n", `registry.mirrors.ghcr.io: "m.example/Bad Path" is not a mirror`},
		{"registry: {mirrors: {ghcr.io: [ghcr.io]}}\n", "a registry is not its own mirror"},
		{"registry: {insecure: [\"http://x:5000\"]}\n", `registry.insecure: "http://x:5000" is not a registry`},
		{"registry: [\n", "invalid configuration: yaml:"},
	} {
		p := writeConfigFile(t, tc.yaml)
		_, err := LoadConfig(p)
		if !errors.Is(err, ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "config "+p+": invalid configuration: ") ||
			!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line naming the file and %q", tc.yaml, err, tc.want)
		}
	}
}

func mustParse(t *testing.T, name string) Reference {
	t.Helper()
	r, err := ParseReference(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPullMirrors runs against two real registries, both mirrors of a
// registry that is down: they are tried in order, a mirror without the
// image or down is skipped, the image keeps its canonical name and its
// signature comes from the mirror that served it.
func TestPullMirrors(t *testing.T) {
	ctx := context.Background()
	a := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "a"))
	b := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "b"))
	down, deadMirror := testutil.FreeAddr(t), testutil.FreeAddr(t)
	priv, pub := testKeys(t)
	insecure := []string{a.Plain, b.Plain, down, deadMirror}

	// Mirror a has image X (signed), mirror b has Y under the path
	// "cache".
	src := openTestStore(t)
	push := func(ref, name string, sign bool) digest.Digest {
		t.Helper()
		d, err := src.Put(ctx, ref, fakeArtifact(name))
		if err != nil {
			t.Fatal(err)
		}
		if sign {
			if _, err := Sign(ctx, src, ref, priv); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Push(ctx, src, ref, RemoteOptions{Insecure: insecure}); err != nil {
			t.Fatal(err)
		}
		return d.Digest
	}
	x := push(a.Plain+"/gadgets/g:v1", "x", true)
	y := push(b.Plain+"/cache/gadgets/g:v1", "y", false)
	canonical := down + "/gadgets/g:v1"

	for _, tc := range []struct {
		mirrors []string
		want    digest.Digest
	}{
		{[]string{deadMirror, a.Plain, b.Plain + "/cache"}, x},
		{[]string{b.Plain + "/cache", a.Plain}, y},
		{[]string{b.Plain, a.Plain}, x}, // b has no gadgets/g outside its cache path
	} {
		s := openTestStore(t)
		got, err := Pull(ctx, s, canonical, RemoteOptions{Insecure: insecure, Mirrors: map[string][]string{down: tc.mirrors}})
		if err != nil {
			t.Fatalf("mirrors %v: %v", tc.mirrors, err)
		}
		if got.Digest != tc.want {
			t.Errorf("mirrors %v: pulled %s, want %s", tc.mirrors, got.Digest, tc.want)
		}
		if srcRepo, err := s.Source(ctx, canonical); err != nil || srcRepo != down+"/gadgets/g" {
			t.Errorf("source %q %v", srcRepo, err)
		}
		err = Verify(ctx, s, canonical, [][]byte{pub})
		if tc.want == x && err != nil {
			t.Errorf("signature from the mirror: %v", err)
		}
		if tc.want == y && !errors.Is(err, ErrNotSigned) {
			t.Errorf("unsigned image from the mirror: %v", err)
		}
		if l, _ := s.List(ctx); len(l) != 1 || l[0].Ref != canonical {
			t.Errorf("list: %+v", l)
		}
	}

	// Every mirror fails: one line, the registry's error first.
	s := openTestStore(t)
	before := readFileT(t, filepath.Join(s.Path(), "index.json"))
	_, err := Pull(ctx, s, down+"/gadgets/none:v1", RemoteOptions{Insecure: insecure, Mirrors: map[string][]string{down: {a.Plain}}})
	want := fmt.Sprintf("pull %s/gadgets/none:v1: registry %s unreachable: connection refused (mirrors tried first: mirror %s/gadgets/none: not found in registry %s)",
		down, down, a.Plain, a.Plain)
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if after := readFileT(t, filepath.Join(s.Path(), "index.json")); string(after) != string(before) {
		t.Fatalf("failed pull changed index.json")
	}
}
