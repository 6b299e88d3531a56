package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/cli"
	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/gadgetkit/ig/registry"
)

// TestConfigReadOnce: a command reads the configuration file once, however
// many steps (open the store, pull, check the image policy, load) use it.
func TestConfigReadOnce(t *testing.T) {
	t.Setenv("IG_OCI_STORE", filepath.Join(t.TempDir(), "oci-store"))
	// A registry that is down: every remote call fails at once.
	down := testutil.FreeAddr(t)
	image := down + "/gadgets/g:v1"
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte("registry:\n  insecure: ["+down+"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := registry.Open(os.Getenv("IG_OCI_STORE"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), image, &registry.Artifact{Programs: map[string][]byte{"amd64": []byte("not ELF"), "arm64": []byte("not ELF")}}); err != nil {
		t.Fatal(err)
	}

	// Each command must get as far as its last step that uses the
	// configuration; the error says it did.
	for _, tc := range []struct {
		args    []string
		wantErr string // "" for none
	}{
		{[]string{"image", "list"}, ""},
		{[]string{"image", "push", image}, down},
		{[]string{"image", "pull", image}, down},
		{[]string{"run", down + "/gadgets/missing:v1"}, down}, // pulled: fails
		{[]string{"run", image, "--pull", "never"}, "ELF"},    // loaded: fails (not an ELF)
	} {
		args := tc.args
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			reads := 0
			var stdout, stderr bytes.Buffer
			env := cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
				if k == registry.EnvConfig {
					reads++
					return config
				}
				return ""
			}}
			cmd := cli.NewIG(env)
			cmd.SetArgs(args)
			err := cmd.ExecuteContext(context.Background())
			if reads != 1 {
				t.Errorf("configuration read %d times, want 1 (command error: %v)", reads, err)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("command error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("command error %v, want one mentioning %q: the command stopped before the step", err, tc.wantErr)
			}
		})
	}
}
