package registry

// End-to-end tests and benchmarks: the ig binary pulls the real trace_open
// gadget from a real registry (Debian's docker-registry, started by
// scripts/registry-up.sh through testutil.StartRegistry), verifies it,
// runs it, and the events it prints are checked.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
)

// traceOpenAs returns ig with a fresh store holding gadgets/trace_open,
// tagged ref only. The gadget is built with ig image build once per test
// binary (testutil.GadgetImage) and copied with ig image export/import.
func traceOpenAs(tb testing.TB, ref string) *testutil.Cmd {
	tb.Helper()
	built := testutil.GadgetImage(tb, filepath.Join("..", "gadgets", "trace_open"), "trace_open")
	tar := filepath.Join(tb.TempDir(), "trace_open.tar")
	built.MustRun(tb, "image", "export", "trace_open", tar)
	ig := testutil.NewCmd(tb)
	ig.MustRun(tb, "image", "import", tar)
	ig.MustRun(tb, "image", "tag", "trace_open", ref)
	ig.MustRun(tb, "image", "remove", "trace_open")
	return ig
}

// opener is a child process (this test binary, see TestMain) opening its
// own unique file every interval until the test ends.
type opener struct {
	path string
	pid  int
}

func startOpener(tb testing.TB, every time.Duration) *opener {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), fmt.Sprintf("ig-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		tb.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "REGISTRY_TEST_HELPER=open", "REGISTRY_TEST_PATH="+path, "REGISTRY_TEST_INTERVAL="+every.String())
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &opener{path: path, pid: cmd.Process.Pid}
}

// mustSee fails the test unless an ig run that printed out and stderr
// succeeded and traced the opener.
func (o *opener) mustSee(t *testing.T, out, stderr string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("ig run: %v\n%s", err, stderr)
	}
	n := o.seenIn(t, out)
	if n == 0 {
		t.Fatalf("no open of %s by pid %d among the events:\n%s\nstderr:\n%s", o.path, o.pid, out, stderr)
	}
	t.Logf("%d opens of %s traced", n, o.path)
}

// seenIn counts the events of out (ig run -o json output) that are opens
// of o's file by o's process.
func (o *opener) seenIn(tb testing.TB, out string) int {
	tb.Helper()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev struct {
			Fname string `json:"fname"`
			Proc  struct {
				Pid uint32 `json:"pid"`
			} `json:"proc"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			tb.Fatalf("ig run output line is not JSON: %q: %v", line, err)
		}
		if ev.Fname == o.path && ev.Proc.Pid == uint32(o.pid) {
			n++
		}
	}
	return n
}

// runIG runs ig args to completion with env added to its environment.
func runIG(ig *testutil.Cmd, env []string, args ...string) (stdout, stderr string, err error) {
	cmd := ig.Command(args...)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// errorLine returns the one "Error: " line ig printed, last on stderr.
func errorLine(tb testing.TB, stderr string) string {
	tb.Helper()
	if n := strings.Count(stderr, "Error: "); n != 1 {
		tb.Fatalf("%d error lines, want 1:\n%s", n, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last, ok := strings.CutPrefix(lines[len(lines)-1], "Error: ")
	if !ok {
		tb.Fatalf("last stderr line is not the error:\n%s", stderr)
	}
	return last
}

// TestRunFromRegistry is the acceptance test of registries: a gadget is
// built, signed and pushed, removed locally, and ig run then pulls it,
// verifies it and prints its events. Unsigned images are refused unless
// --verify-image=false, a Sigstore bundle referrer is accepted as a
// signature, and a tampered image fails verification.
func TestRunFromRegistry(t *testing.T) {
	testutil.RequireKernel(t)
	reg := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "registry"))
	ctx := context.Background()
	ref := reg.Plain + "/gadgets/trace_open:v1"
	unsigned := reg.Plain + "/gadgets/unsigned:v1"
	insecure := "--insecure-registries=" + reg.Plain

	ig := traceOpenAs(t, ref)
	key, pub := signAndPush(t, ig, reg.Plain, ref)
	ig.MustRun(t, "image", "tag", ref, unsigned)
	ig.MustRun(t, "image", "push", insecure, unsigned)
	s, err := Open(ig.Store)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	// Removed locally: nothing is left, not even the signature.
	ig.MustRun(t, "image", "remove", ref, unsigned)
	if idx := readIndexJSON(t, s); len(idx.Manifests) != 0 {
		t.Fatalf("store not empty after remove: %+v", idx.Manifests)
	}
	if n := blobCount(t, s); n != 0 {
		t.Fatalf("%d blobs left after remove", n)
	}

	o := startOpener(t, 50*time.Millisecond)
	pullEnv := []string{"IG_INSECURE_REGISTRIES=" + reg.Plain}
	run := func(ig *testutil.Cmd, image string, extra ...string) (string, string, error) {
		return runIG(ig, pullEnv, append([]string{"run", image, "-o", "json", "--timeout", "3"}, extra...)...)
	}
	// runSees runs image and fails unless the opener's events are seen.
	runSees := func(t *testing.T, ig *testutil.Cmd, image string, extra ...string) {
		t.Helper()
		out, stderr, err := run(ig, image, extra...)
		o.mustSee(t, out, stderr, err)
	}

	t.Run("signed", func(t *testing.T) {
		runSees(t, ig, ref, "--public-key", pub)
		// Pulled with its signature: verifiable offline now.
		if got := ig.MustRun(t, "image", "verify", "--public-key", pub, ref); !strings.Contains(got, img.Digest.String()) {
			t.Errorf("verify: %s", got)
		}
	})

	t.Run("unsigned is refused", func(t *testing.T) {
		out, stderr, err := run(testutil.NewCmd(t), unsigned, "--public-key", pub)
		if err == nil || out != "" {
			t.Fatalf("unsigned image ran: %v\n%s", err, out)
		}
		want := "image " + unsigned + " is not signed (no " + SignatureTag(img.Digest) +
			" tag or referrer signature in the local store; pull it with its signature, or run with --verify-image=false)"
		if got := errorLine(t, stderr); got != want {
			t.Fatalf("error\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("unsigned with --verify-image=false", func(t *testing.T) {
		runSees(t, testutil.NewCmd(t), unsigned, "--verify-image=false")
	})

	t.Run("sigstore bundle referrer", func(t *testing.T) {
		// Signed only with a Sigstore bundle attached as an OCI 1.1
		// referrer (as cosign's new bundle format does), pushed by ig.
		bundled := reg.Plain + "/gadgets/bundled:v1"
		igb := traceOpenAs(t, bundled)
		sb, err := Open(igb.Store)
		if err != nil {
			t.Fatal(err)
		}
		d, err := sb.Resolve(ctx, bundled)
		if err != nil {
			t.Fatal(err)
		}
		storeReferrer(t, sb, referrerSignature(t, formBundle, mustRead(t, key), d, d.Digest, 1))
		igb.MustRun(t, "image", "push", insecure, bundled)

		runSees(t, testutil.NewCmd(t), bundled, "--public-key", pub)
	})

	t.Run("tampered manifest", func(t *testing.T) {
		evil := reg.Plain + "/gadgets/evil:v1"
		ige := traceOpenAs(t, evil)
		ige.MustRun(t, "image", "sign", "--key", key, evil)
		se, err := Open(ige.Store)
		if err != nil {
			t.Fatal(err)
		}
		orig, tampered := tamperManifest(t, se, evil)
		ige.MustRun(t, "image", "push", insecure, evil)

		out, stderr, err := run(testutil.NewCmd(t), evil, "--public-key", pub)
		if err == nil || out != "" {
			t.Fatalf("tampered image ran: %v\n%s", err, out)
		}
		want := "signature of " + evil + " is for " + orig.String() + ", not for the image (tampered?)"
		if got := errorLine(t, stderr); got != want {
			t.Fatalf("error\n%s\nwant\n%s", got, want)
		}
		if tampered == orig {
			t.Fatal("tampering did not change the digest")
		}
	})
}

// tamperManifest does what an attacker with write access to the registry
// would: ref becomes a copy of the image whose manifest for this
// architecture is edited, and the original's valid signature is presented
// as the signature of the copy. It returns both digests.
func tamperManifest(t *testing.T, s *Store, ref string) (orig, tampered digest.Digest) {
	t.Helper()
	ctx := context.Background()
	r, err := s.resolver.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(readBlob(t, s, desc.Digest), &idx); err != nil {
		t.Fatal(err)
	}
	i := -1
	for j, d := range idx.Manifests {
		if d.Platform != nil && d.Platform.Architecture == goruntime.GOARCH {
			i = j
		}
	}
	if i < 0 {
		t.Fatalf("no %s manifest in %+v", goruntime.GOARCH, idx)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(readBlob(t, s, idx.Manifests[i].Digest), &m); err != nil {
		t.Fatal(err)
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[ocispec.AnnotationDescription] = "not what was signed"
	mdata, _ := json.Marshal(m)
	md := content.NewDescriptorFromBytes(idx.Manifests[i].MediaType, mdata)
	md.ArtifactType, md.Platform, md.Annotations = idx.Manifests[i].ArtifactType, idx.Manifests[i].Platform, idx.Manifests[i].Annotations
	idx.Manifests[i] = md
	idata, _ := json.Marshal(idx)
	id := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, idata)
	err = s.Update(ctx, func(dst oras.GraphTarget) error {
		if err := pushIfMissing(ctx, dst, md, mdata); err != nil {
			return err
		}
		if err := pushIfMissing(ctx, dst, id, idata); err != nil {
			return err
		}
		if err := dst.Tag(ctx, id, r.String()); err != nil {
			return err
		}
		sig, err := dst.Resolve(ctx, r.Name()+":"+SignatureTag(desc.Digest))
		if err != nil {
			return err
		}
		return dst.Tag(ctx, sig, r.Name()+":"+SignatureTag(id.Digest))
	})
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest, id.Digest
}

// mirrorConfig writes an ig configuration file whose default prefix is on
// the registry down, with mirrors of down and insecure registries (each
// the inside of a YAML flow list) and a section that is not ig's, and
// returns its path.
func mirrorConfig(t *testing.T, down, mirrors, insecure string) string {
	t.Helper()
	return writeConfigFile(t, fmt.Sprintf("# ig configuration\nregistry:\n  default: %s/gadgets\n  mirrors:\n    %q: [%s]\n  insecure: [%s]\nother-section: {kept: for others}\n",
		down, down, mirrors, insecure))
}

// TestRunThroughMirror: with a configuration file naming a default prefix
// whose registry is down and mirrors for it, ig run SHORTNAME pulls from
// the first mirror that answers, keeps the canonical name, verifies the
// signature the mirror served, and runs.
func TestRunThroughMirror(t *testing.T) {
	testutil.RequireKernel(t)
	reg := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "registry"))
	down, deadMirror := testutil.FreeAddr(t), testutil.FreeAddr(t)

	// The mirror serves the repository under a path of its own.
	onMirror := reg.Plain + "/ghcr/gadgets/trace_open:latest"
	ig := traceOpenAs(t, onMirror)
	_, pub := signAndPush(t, ig, reg.Plain, onMirror)

	cfg := mirrorConfig(t, down, fmt.Sprintf("%q, %q", deadMirror, reg.Plain+"/ghcr"), fmt.Sprintf("%q", reg.Plain))
	env := []string{"IG_CONFIG=" + cfg}

	o := startOpener(t, 50*time.Millisecond)
	igm := testutil.NewCmd(t)
	out, stderr, err := runIG(igm, env, "run", "trace_open", "-o", "json", "--timeout", "3", "--public-key", pub)
	o.mustSee(t, out, stderr, err)

	// Stored under its canonical name, shown short.
	canonical := down + "/gadgets/trace_open:latest"
	s, err := Open(igm.Store)
	if err != nil {
		t.Fatal(err)
	}
	if src, err := s.Source(context.Background(), canonical); err != nil || src != down+"/gadgets/trace_open" {
		t.Fatalf("source of %s: %q %v", canonical, src, err)
	}
	list, _, err := runIG(igm, env, "image", "list")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "trace_open ") {
		t.Fatalf("image list:\n%s", list)
	}
	if _, stderr, err := runIG(igm, env, "image", "verify", "--public-key", pub, "trace_open"); err != nil {
		t.Fatalf("verify: %v\n%s", err, stderr)
	}
}

// TestMirrorConfigErrors: what ig prints when the registry and every
// mirror are down, and for a broken configuration file. Neither needs a
// kernel or a registry.
func TestMirrorConfigErrors(t *testing.T) {
	down, deadMirror := testutil.FreeAddr(t), testutil.FreeAddr(t)
	canonical := down + "/gadgets/trace_open:latest"

	// No mirror that has it: the registry's own error, then the mirrors'.
	_, stderr, err := runIG(testutil.NewCmd(t), []string{"IG_CONFIG=" + mirrorConfig(t, down, fmt.Sprintf("%q", deadMirror), "")},
		"image", "pull", "trace_open")
	want := fmt.Sprintf("pull %s: registry %s unreachable: connection refused (mirrors tried first: mirror %s/gadgets/trace_open: registry %s unreachable: connection refused)",
		canonical, down, deadMirror, deadMirror)
	if err == nil || errorLine(t, stderr) != want {
		t.Fatalf("pull without a working mirror: %v\n%s\nwant\n%s", err, stderr, want)
	}

	// A broken configuration file is named.
	bad := writeConfigFile(t, "registry:\n  mirror: {}\n")
	_, stderr, err = runIG(testutil.NewCmd(t), []string{"IG_CONFIG=" + bad}, "run", "trace_open")
	if err == nil || !strings.HasPrefix(errorLine(t, stderr), "config "+bad+": invalid configuration: ") || !strings.Contains(stderr, "mirror") {
		t.Fatalf("bad config: %v\n%s", err, stderr)
	}
}

// BenchmarkRunFromRegistry measures the time from starting ig run to the
// first event on its stdout, for trace_open signed and pushed to a
// loopback registry: cold (not in the store: pull, verify, load, attach)
// and warm (already pulled: verify, load, attach). A child process opens a
// file every 5 ms meanwhile. ns/op is the same time; ms/first-event says
// it in milliseconds.
func BenchmarkRunFromRegistry(b *testing.B) {
	testutil.RequireKernel(b)
	reg := testutil.StartRegistry(b, filepath.Join(b.TempDir(), "registry"))
	ref := reg.Plain + "/gadgets/trace_open:bench"
	src := traceOpenAs(b, ref)
	_, pub := signAndPush(b, src, reg.Plain, ref)
	startOpener(b, 5*time.Millisecond)

	ig := testutil.NewCmd(b)
	env := []string{"IG_INSECURE_REGISTRIES=" + reg.Plain}
	args := []string{"run", ref, "-o", "json", "--public-key", pub}
	bench := func(b *testing.B, cold bool) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			if cold {
				if _, stderr, err := ig.Run("image", "remove", ref); err != nil && !strings.Contains(stderr, "not found") {
					b.Fatalf("remove: %v\n%s", err, stderr)
				}
				// Nothing left to reuse: the run pulls every blob.
				if blobs, _ := os.ReadDir(filepath.Join(ig.Store, "blobs", "sha256")); len(blobs) != 0 {
					b.Fatalf("%d blobs left in the store after remove", len(blobs))
				}
			}
			b.StartTimer()
			total += timeToFirstEvent(b, ig, env, args...)
		}
		b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/first-event")
	}
	b.Run("cold", func(b *testing.B) { bench(b, true) })
	ig.MustRun(b, "image", "pull", "--insecure-registries="+reg.Plain, ref)
	b.Run("warm", func(b *testing.B) { bench(b, false) })
}

// timeToFirstEvent starts ig args and returns the time from its start to
// its first event line on stdout; the benchmark timer is stopped then, and
// ig is interrupted and waited for.
func timeToFirstEvent(b *testing.B, ig *testutil.Cmd, env []string, args ...string) time.Duration {
	b.Helper()
	cmd := ig.Command(args...)
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	first := make(chan time.Duration, 1)
	done := make(chan struct{})
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"fname"`) {
				first <- time.Since(start)
				break
			}
		}
		close(first)
		io.Copy(io.Discard, stdout)
	}()
	var d time.Duration
	var ok bool
	select {
	case d, ok = <-first:
	case <-time.After(2 * time.Minute):
	}
	b.StopTimer()
	cmd.Process.Signal(syscall.SIGINT)
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	<-done
	werr := cmd.Wait()
	timer.Stop()
	if !ok {
		b.Fatalf("ig %s: no event (exit: %v)\nstderr:\n%s", strings.Join(args, " "), werr, stderr.String())
	}
	if werr != nil {
		b.Fatalf("ig %s: %v after SIGINT\nstderr:\n%s", strings.Join(args, " "), werr, stderr.String())
	}
	return d
}

// signAndPush signs ref in ig's store with a new key pair and pushes it
// to the plain-HTTP registry at addr; it returns the key pair's files.
func signAndPush(tb testing.TB, ig *testutil.Cmd, addr, ref string) (key, pub string) {
	tb.Helper()
	keys := tb.TempDir()
	ig.MustRun(tb, "image", "generate-key", "--output-key-prefix", filepath.Join(keys, "ig"))
	key, pub = filepath.Join(keys, "ig.key"), filepath.Join(keys, "ig.pub")
	ig.MustRun(tb, "image", "sign", "--key", key, ref)
	ig.MustRun(tb, "image", "push", "--insecure-registries="+addr, ref)
	return key, pub
}
