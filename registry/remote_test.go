package registry

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// TestRemote runs against a real docker-registry pair (plain HTTP and
// TLS + htpasswd) started by scripts/registry-up.sh.
func TestRemote(t *testing.T) {
	reg := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "registry"))
	ctx := context.Background()
	plain := RemoteOptions{Insecure: []string{reg.Plain}}

	t.Run("built image round trip", func(t *testing.T) {
		requireTools(t, "clang", "llvm-strip", "bpftool")
		t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
		s := openTestStore(t)
		var out bytes.Buffer
		ref := reg.Plain + "/gadgets/tiny:v1"
		opts := testBuildOptions(s, &out)
		opts.Tag = ref
		built, err := Build(ctx, tinyGadget(t), opts)
		if err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		var progress bytes.Buffer
		popts := plain
		popts.Progress = &progress
		pushed, err := Push(ctx, s, ref, popts)
		if err != nil {
			t.Fatal(err)
		}
		if pushed.Digest != built.Digest || !strings.Contains(progress.String(), "Copied") {
			t.Fatalf("pushed %s, built %s, progress %q", pushed.Digest, built.Digest, progress.String())
		}
		if err := s.Remove(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resolve(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Fatalf("still there after remove: %v", err)
		}
		pulled, err := Pull(ctx, s, ref, plain)
		if err != nil {
			t.Fatal(err)
		}
		if pulled.Digest != built.Digest {
			t.Fatalf("pulled %s, built %s", pulled.Digest, built.Digest)
		}
		for _, arch := range DefaultArchs() {
			img, err := s.Load(ctx, ref, arch)
			if err != nil {
				t.Fatalf("load %s: %v", arch, err)
			}
			if len(img.Program) == 0 {
				t.Fatalf("no program for %s", arch)
			}
		}
		// By digest, into a fresh store.
		s2 := openTestStore(t)
		byDigest := reg.Plain + "/gadgets/tiny@" + built.Digest.String()
		if d, err := Pull(ctx, s2, byDigest, plain); err != nil || d.Digest != built.Digest {
			t.Fatalf("pull by digest: %v %v", d.Digest, err)
		}
		// A blob damaged in the registry: the pull says so and stores
		// nothing.
		img, err := s.Load(ctx, ref, DefaultArchs()[0])
		if err != nil {
			t.Fatal(err)
		}
		var layer ocispec.Descriptor
		for _, l := range img.Manifest.Layers {
			if l.MediaType == MediaTypeEBPF {
				layer = l
			}
		}
		enc := layer.Digest.Encoded()
		data := filepath.Join(reg.Dir, "data-plain", "docker", "registry", "v2", "blobs", "sha256", enc[:2], enc, "data")
		b, err := os.ReadFile(data)
		if err != nil {
			t.Fatalf("the layer in the registry's storage: %v", err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(data, b, 0o644); err != nil {
			t.Fatal(err)
		}
		s3 := openTestStore(t)
		_, err = Pull(ctx, s3, ref, plain)
		if err == nil || !strings.Contains(err.Error(), "does not match its digest") || !errors.Is(err, ErrInvalidImage) {
			t.Fatalf("pull of a damaged blob: %v", err)
		}
		if _, err := s3.Resolve(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the damaged image was stored: %v", err)
		}
		if _, err := s2.Load(ctx, byDigest, "amd64"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		s := openTestStore(t)
		_, err := Pull(ctx, s, reg.Plain+"/gadgets/nope:v1", plain)
		want := fmt.Sprintf("pull %s/gadgets/nope:v1: not found in registry %s", reg.Plain, reg.Plain)
		if err == nil || err.Error() != want || !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v, want %s", err, want)
		}
	})

	t.Run("plain HTTP without --insecure-registries", func(t *testing.T) {
		s := openTestStore(t)
		_, err := Pull(ctx, s, reg.Plain+"/gadgets/tiny:v1", RemoteOptions{})
		if err == nil || !strings.Contains(err.Error(), "insecure-registries") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("TLS with login", func(t *testing.T) {
		s := openTestStore(t)
		authFile := filepath.Join(t.TempDir(), "auth", "config.json")
		opts := RemoteOptions{AuthFile: authFile, CACert: reg.CA}
		ref := reg.TLS + "/secure/fake:v2"
		want, err := s.Put(ctx, ref, fakeArtifact("fake"))
		if err != nil {
			t.Fatal(err)
		}

		// No auth file yet, explicitly named: an error.
		if _, err := Push(ctx, s, ref, opts); err == nil || !strings.Contains(err.Error(), "auth file") {
			t.Fatalf("missing explicit auth file: %v", err)
		}
		// An empty auth file: no credentials.
		os.MkdirAll(filepath.Dir(authFile), 0o700)
		os.WriteFile(authFile, []byte(`{"auths":{}}`), 0o600)
		_, err = Push(ctx, s, ref, opts)
		if err == nil || err.Error() != fmt.Sprintf("push %s: registry %s: authentication required (ig image login %s)", ref, reg.TLS, reg.TLS) || !errors.Is(err, ErrAuthRequired) {
			t.Fatalf("no credentials: %v", err)
		}

		_, err = Login(ctx, reg.TLS, reg.User, "wrong", opts)
		if err == nil || err.Error() != fmt.Sprintf("login %s: registry %s: wrong credentials", reg.TLS, reg.TLS) || !errors.Is(err, ErrWrongCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if data, _ := os.ReadFile(authFile); string(data) != `{"auths":{}}` {
			t.Fatalf("auth file changed by a failed login: %s", data)
		}
		// Without the CA: certificate error, one line.
		_, err = Login(ctx, reg.TLS, reg.User, reg.Password, RemoteOptions{AuthFile: authFile})
		if err == nil || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("untrusted CA: %v", err)
		}

		path, err := Login(ctx, reg.TLS, reg.User, reg.Password, opts)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 || path != authFile {
			t.Fatalf("auth file %s: %v %v", path, fi.Mode(), err)
		}
		if _, err := Push(ctx, s, ref, opts); err != nil {
			t.Fatal(err)
		}
		s2 := openTestStore(t)
		got, err := Pull(ctx, s2, ref, opts)
		if err != nil || got.Digest != want.Digest {
			t.Fatalf("pull: %v %v", got.Digest, err)
		}
		// The same through ig, with the CA from SSL_CERT_FILE (read once
		// per process, hence a new one) and the file from
		// REGISTRY_AUTH_FILE.
		ig := testutil.NewCmd(t)
		cmd := ig.Command("image", "pull", ref)
		cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+reg.CA, EnvAuthFile+"="+authFile)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "Pulled ") {
			t.Fatalf("ig image pull with SSL_CERT_FILE: %v\n%s", err, out)
		}

		if err := Logout(reg.TLS, authFile); err != nil {
			t.Fatal(err)
		}
		if err := Logout(reg.TLS, authFile); err == nil {
			t.Fatal("second logout succeeded")
		}
		if _, err := Pull(ctx, openTestStore(t), ref, opts); !errors.Is(err, ErrAuthRequired) {
			t.Fatalf("after logout: %v", err)
		}
	})

	t.Run("parallel ig processes", func(t *testing.T) {
		requireTools(t, "clang", "llvm-strip", "bpftool")
		s := openTestStore(t)
		var pulls []string
		for i := range 6 {
			ref := fmt.Sprintf("%s/par/g%d:v1", reg.Plain, i)
			if _, err := s.Put(ctx, ref, fakeArtifact(fmt.Sprintf("g%d", i))); err != nil {
				t.Fatal(err)
			}
			if _, err := Push(ctx, s, ref, plain); err != nil {
				t.Fatal(err)
			}
			pulls = append(pulls, ref)
		}
		ig := testutil.NewCmd(t)
		dir := tinyGadget(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		run := func(args ...string) {
			defer wg.Done()
			cmd := ig.Command(args...)
			cmd.Env = append(cmd.Env, "IG_CACHE_DIR="+testCacheDir)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("ig %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		start := time.Now()
		for _, ref := range pulls {
			wg.Add(1)
			go run("image", "pull", "--insecure-registries", reg.Plain, ref)
		}
		for i := range 2 {
			wg.Add(1)
			go run("image", "build", "-t", fmt.Sprintf("built%d", i), dir)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		t.Logf("8 processes in %v", time.Since(start))
		st, err := Open(ig.Store)
		if err != nil {
			t.Fatal(err)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(readFileT(t, filepath.Join(ig.Store, "index.json")), &idx); err != nil {
			t.Fatal(err)
		}
		if len(idx.Manifests) != 8 {
			t.Fatalf("index.json has %d entries, want 8", len(idx.Manifests))
		}
		for _, ref := range append(pulls, "built0", "built1") {
			if _, err := st.Load(ctx, ref, "amd64"); err != nil {
				t.Errorf("%s: %v", ref, err)
			}
		}
	})

	t.Run("ig run --pull", func(t *testing.T) {
		ig := testutil.NewCmd(t)
		ref := reg.Plain + "/par/g0:v1"
		_, stderr, err := ig.Run("run", "--pull", "never", ref)
		if err == nil || !strings.Contains(stderr, "not found") {
			t.Fatalf("pull never: %v %s", err, stderr)
		}
		_, stderr, err = ig.Run("run", "--pull=sometimes", ref)
		if err == nil || !strings.Contains(stderr, "--pull must be") {
			t.Fatalf("bad policy: %v %s", err, stderr)
		}
		// missing (the default) pulls; the fake program then fails to
		// load, after the pull.
		cmd := ig.Command("run", ref)
		cmd.Env = append(cmd.Env, "IG_INSECURE_REGISTRIES="+reg.Plain)
		cmd.CombinedOutput()
		st, err := Open(ig.Store)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Resolve(ctx, ref); err != nil {
			t.Fatalf("not pulled: %v", err)
		}
	})
}

// TestPushReadsIndexOnce: push reads index.json once, and copies the
// image with both forms of signature from that one snapshot.
func TestPushReadsIndexOnce(t *testing.T) {
	ctx := context.Background()
	reg := testutil.StartRegistry(t, filepath.Join(t.TempDir(), "registry"))
	opts := RemoteOptions{Insecure: []string{reg.Plain}}
	priv, pub := testKeys(t)
	ref := reg.Plain + "/gadgets/pushed:v1"
	src := openTestStore(t)
	img, err := src.Put(ctx, ref, fakeArtifact("pushed"))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(ctx, src, ref, priv)
	if err != nil {
		t.Fatal(err)
	}
	referrer := referrerSignature(t, formBundle, priv, img, img.Digest, 1)
	storeReferrer(t, src, referrer)

	n := countOpens(t, filepath.Join(src.Path(), "index.json"), func() {
		if _, err := Push(ctx, src, ref, opts); err != nil {
			t.Fatal(err)
		}
	})
	if n != 1 {
		t.Errorf("push opened index.json %d times, want 1", n)
	}

	s := openTestStore(t)
	if _, err := Pull(ctx, s, ref, opts); err != nil {
		t.Fatal(err)
	}
	r, _ := ParseReference(ref)
	if d, err := s.Resolve(ctx, r.Name()+":"+SignatureTag(img.Digest)); err != nil || d.Digest != sig.Digest {
		t.Errorf("legacy signature not pushed: %v %v", d.Digest, err)
	}
	err = s.read(ctx, func(snap *snapshot) error {
		if got := snap.signatureReferrers(ctx, img.Digest); len(got) != 1 || got[0].Digest != referrer[0].d.Digest {
			t.Errorf("referrers after the round trip: %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, s, ref, [][]byte{pub}); err != nil {
		t.Fatal(err)
	}
}

// countOpens returns how many times the file path was opened while fn
// ran, as inotify saw it.
func countOpens(t *testing.T, path string, fn func()) int {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// Closes too: inotify merges an event into the previous one if they
	// are the same, so open, open would count as one.
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN|unix.IN_CLOSE); err != nil {
		t.Fatal(err)
	}
	fn()
	n := 0
	buf := make([]byte, 64<<10)
	for {
		k, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return n
		}
		if err != nil {
			t.Fatal(err)
		}
		// struct inotify_event: wd, mask, cookie, len, then len bytes of name.
		for off := 0; off+unix.SizeofInotifyEvent <= k; {
			if binary.NativeEndian.Uint32(buf[off+4:])&unix.IN_OPEN != 0 {
				n++
			}
			off += unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[off+12:]))
		}
	}
}

// TestPullUnreachable checks the one-line error and that the store is left
// byte-identical.
func TestPullUnreachable(t *testing.T) {
	ctx := context.Background()
	addr := testutil.FreeAddr(t)
	s := openTestStore(t)
	if _, err := s.Put(ctx, "keep", fakeArtifact("keep")); err != nil {
		t.Fatal(err)
	}
	before := readFileT(t, filepath.Join(s.Path(), "index.json"))
	ref := addr + "/x/y:z"
	_, err := Pull(ctx, s, ref, RemoteOptions{Insecure: []string{addr}})
	want := fmt.Sprintf("pull %s: registry %s unreachable: connection refused", ref, addr)
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v, want %s", err, want)
	}
	if after := readFileT(t, filepath.Join(s.Path(), "index.json")); !bytes.Equal(before, after) {
		t.Fatalf("index.json changed:\n%s\n%s", before, after)
	}
	// The CLI prints the same single line.
	ig := testutil.NewCmd(t)
	out, stderr, err := ig.Run("image", "pull", "--insecure-registries", addr, ref)
	if err == nil || out != "" || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("ig image pull: %v\nstdout %q\nstderr %q", err, out, stderr)
	}
}

func TestAuthFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("DOCKER_CONFIG", "")
	t.Setenv(EnvAuthFile, "")
	docker := filepath.Join(dir, ".docker", "config.json")
	os.MkdirAll(filepath.Dir(docker), 0o700)
	os.WriteFile(docker, []byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"reg.example:5000":{"username":"a","password":"b"}},"credsStore":"x"}`), 0o600)

	if os.Geteuid() == 0 {
		if _, err := os.Stat(rootAuthFile); err == nil {
			t.Skip(rootAuthFile + " exists")
		}
	}
	// The default (missing for root) falls back to the docker config.
	c, err := readAuthFile("", "docker.io")
	if err != nil || c.Username != "u" || c.Password != "p" {
		t.Fatalf("docker.io: %+v %v", c, err)
	}
	c, err = readAuthFile("", "reg.example:5000")
	if err != nil || c.Username != "a" || c.Password != "b" {
		t.Fatalf("reg.example: %+v %v", c, err)
	}
	// An explicit file that is missing is an error.
	t.Setenv(EnvAuthFile, filepath.Join(dir, "nope.json"))
	if _, err := readAuthFile("", "reg.example:5000"); err == nil {
		t.Fatal("missing explicit auth file accepted")
	}
	// Writing keeps other fields and uses 0600.
	if _, err := storeCredentials(docker, "new.example", "n", "m"); err != nil {
		t.Fatal(err)
	}
	data := readFileT(t, docker)
	if !strings.Contains(string(data), `"credsStore": "x"`) || !strings.Contains(string(data), "reg.example:5000") {
		t.Fatalf("fields lost: %s", data)
	}
	if c, err := readAuthFile(docker, "new.example"); err != nil || c.Username != "n" || c.Password != "m" {
		t.Fatalf("new.example: %+v %v", c, err)
	}
	if err := Logout("new.example", docker); err != nil {
		t.Fatal(err)
	}
	if c, _ := readAuthFile(docker, "new.example"); !c.empty() {
		t.Fatalf("still there after logout: %+v", c)
	}
}

// An upload that takes longer than remoteIdleTimeout but never stalls for
// that long goes through: the transport waits for the response while it
// sends the body, and that wait is not idleness.
func TestSlowUploadNotIdle(t *testing.T) {
	old := remoteIdleTimeout
	remoteIdleTimeout = 200 * time.Millisecond
	defer func() { remoteIdleTimeout = old }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d", n)
	}))
	defer srv.Close()
	c, _, err := RemoteOptions{Insecure: []string{srv.Listener.Addr().String()}}.client(srv.Listener.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		for range 10 { // 10 chunks 60 ms apart: 600 ms in all
			time.Sleep(60 * time.Millisecond)
			if _, err := pw.Write(make([]byte, 1024)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	resp, err := c.Client.Post(srv.URL, "application/octet-stream", pr)
	if err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "10240" {
		t.Errorf("server read %s bytes, want 10240", body)
	}
}

// TestPullStalled: a registry that stops answering (before its headers,
// or in the middle of a body) ends the pull with an error once it has been
// silent for remoteIdleTimeout, so the store's lock is not held forever;
// the store is unchanged and usable.
func TestPullStalled(t *testing.T) {
	old := remoteIdleTimeout
	remoteIdleTimeout = 300 * time.Millisecond
	defer func() { remoteIdleTimeout = old }()
	ctx := context.Background()
	for _, mode := range []string{"no headers", "half a body"} {
		t.Run(mode, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						buf := make([]byte, 4096)
						for {
							n, err := c.Read(buf) // a request
							if err != nil || mode == "no headers" {
								time.Sleep(10 * time.Second)
								return
							}
							// The manifest exists (HEAD), and its GET
							// sends a third of it, then nothing.
							hdr := "HTTP/1.1 200 OK\r\nContent-Type: " + ocispec.MediaTypeImageIndex + "\r\nDocker-Content-Digest: sha256:" + strings.Repeat("ab", 32) + "\r\nContent-Length: 300\r\n\r\n"
							if strings.HasPrefix(string(buf[:n]), "HEAD ") {
								_, _ = io.WriteString(c, hdr)
								continue
							}
							_, _ = io.WriteString(c, hdr+strings.Repeat(" ", 100))
							time.Sleep(10 * time.Second)
							return
						}
					}()
				}
			}()
			s := openTestStore(t)
			if _, err := s.Put(ctx, "keep", fakeArtifact("keep")); err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			start := time.Now()
			_, err = Pull(ctx, s, addr+"/x/y:z", RemoteOptions{Insecure: []string{addr}})
			if err == nil || time.Since(start) > 5*time.Second {
				t.Fatalf("pull from a stalled registry: %v after %v", err, time.Since(start))
			}
			t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
			if _, err := s.Load(ctx, "keep", "amd64"); err != nil {
				t.Fatal(err)
			}
		})
	}
}
