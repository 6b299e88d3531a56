package testutil

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Registry is a pair of private docker-registry instances started by
// scripts/registry-up.sh: Plain speaks HTTP without auth, TLS speaks HTTPS
// (certificate signed by CA, a PEM file) and wants User/Password.
type Registry struct {
	Dir            string
	Plain, TLS     string // host:port
	CA             string
	User, Password string
}

// FreeAddr returns a 127.0.0.1 address nothing listens on right now (also
// a registry that is down).
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// StartRegistry starts the registries in dir (installing docker-registry
// and apache2-utils first if needed) on free ports, and stops them when the
// test ends. Each package must use its own dir: go test runs packages in
// parallel.
func StartRegistry(t testing.TB, dir string) *Registry {
	t.Helper()
	scripts := filepath.Join(RepoRoot(t), "scripts")
	env := append(os.Environ(), "IG_REGISTRY_DIR="+dir,
		"IG_REGISTRY_PLAIN="+FreeAddr(t), "IG_REGISTRY_TLS="+FreeAddr(t))
	up := exec.Command("bash", filepath.Join(scripts, "registry-up.sh"))
	up.Env = env
	t.Cleanup(func() {
		down := exec.Command("bash", filepath.Join(scripts, "registry-down.sh"))
		down.Env = env
		if out, err := down.CombinedOutput(); err != nil {
			t.Logf("registry-down.sh: %v\n%s", err, out)
		}
	})
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("registry-up.sh: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "registry.env"))
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{Dir: dir}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "PLAIN":
			r.Plain = v
		case "TLS":
			r.TLS = v
		case "CA":
			r.CA = v
		case "USER":
			r.User = v
		case "PASSWORD":
			r.Password = v
		}
	}
	return r
}
