package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Errors of remote operations, to test with [errors.Is]. Remote "not
// found" errors wrap [ErrNotFound].
var (
	// ErrUnreachable: the registry could not be contacted.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrAuthRequired: the registry wants credentials and none were given.
	ErrAuthRequired = errors.New("authentication required")
	// ErrWrongCredentials: the registry refused the given credentials.
	ErrWrongCredentials = errors.New("wrong credentials")
)

// RemoteOptions configure how registries are contacted.
type RemoteOptions struct {
	// AuthFile is a docker config.json holding credentials; empty means
	// the default (see [AuthFilePath]).
	AuthFile string
	// Insecure lists registries ("host[:port]") contacted over plain HTTP,
	// without credentials.
	Insecure []string
	// CACert is a PEM file of extra certificate authorities to trust, in
	// addition to the system's (and $SSL_CERT_FILE).
	CACert string
	// Mirrors maps a registry host to mirrors ("host[:port][/path]") that
	// [Pull] tries, in order, before the registry itself (see
	// [Config].Mirrors). Push ignores them.
	Mirrors map[string][]string
	// Progress receives one line per blob copied; nil for none.
	Progress io.Writer
}

// PullOptions configure [Pull].
type PullOptions = RemoteOptions

// PushOptions configure [Push].
type PushOptions = RemoteOptions

// remoteError is a one-line message that still matches its class and
// cause with errors.Is/As.
type remoteError struct {
	msg   string
	kind  error
	cause error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return []error{e.kind, e.cause} }

func (o RemoteOptions) insecure(host string) bool { return slices.Contains(o.Insecure, host) }

// remoteIdleTimeout is how long a transfer may wait for the registry
// (response headers, the next bytes of a body, room to send more): a pull
// holds the store's lock, and a connection that stalls must end with an
// error rather than hold it, and every other ig on the store, forever.
var remoteIdleTimeout = 60 * time.Second

// idleConn fails a read or a write that waits more than idle. A write
// also pushes the read deadline back: http.Transport reads (waiting for
// the response) while it still sends the request body, and an upload that
// makes progress is not idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// client returns the HTTP client for host, with credentials from the auth
// file unless the registry is insecure. hasCreds tells whether any were
// found.
func (o RemoteOptions) client(host string, creds *credentials) (*auth.Client, bool, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dial := (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: remoteIdleTimeout}, nil
	}
	tr.ResponseHeaderTimeout = remoteIdleTimeout
	if o.CACert != "" {
		pem, err := os.ReadFile(o.CACert)
		if err != nil {
			return nil, false, fmt.Errorf("CA certificate: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, false, fmt.Errorf("CA certificate %s: no PEM certificate found", o.CACert)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c := &auth.Client{Client: &http.Client{Transport: tr}, Cache: auth.NewCache()}
	c.SetUserAgent("ig")
	if o.insecure(host) {
		return c, false, nil
	}
	if creds == nil {
		cr, err := readAuthFile(o.AuthFile, host)
		if err != nil {
			return nil, false, err
		}
		creds = &cr
	}
	if creds.empty() {
		return c, false, nil
	}
	c.Credential = auth.StaticCredential(host, auth.Credential{
		Username: creds.Username, Password: creds.Password, RefreshToken: creds.RefreshToken,
	})
	return c, true, nil
}

// repository opens the remote repository of r.
func (o RemoteOptions) repository(r Reference) (*remote.Repository, bool, error) {
	repo, err := remote.NewRepository(r.Name())
	if err != nil {
		return nil, false, fmt.Errorf("%w %q: %v", ErrInvalidReference, r.Name(), err)
	}
	c, hasCreds, err := o.client(r.Registry, nil)
	if err != nil {
		return nil, false, err
	}
	repo.Client = c
	repo.PlainHTTP = o.insecure(r.Registry)
	return repo, hasCreds, nil
}

// classify turns an error of a registry call into a one-line message
// naming what went wrong.
func classify(err error, host string, hasCreds bool) error {
	if err == nil {
		return nil
	}
	mk := func(kind error, msg string) error { return &remoteError{msg: msg, kind: kind, cause: err} }
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return mk(ErrAuthRequired, fmt.Sprintf("registry %s: %s (ig image login %s)", host, ErrAuthRequired, host))
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			if hasCreds {
				return mk(ErrWrongCredentials, fmt.Sprintf("registry %s: %s", host, ErrWrongCredentials))
			}
			return mk(ErrAuthRequired, fmt.Sprintf("registry %s: %s (ig image login %s)", host, ErrAuthRequired, host))
		case http.StatusForbidden:
			return mk(ErrWrongCredentials, fmt.Sprintf("registry %s: access denied", host))
		case http.StatusNotFound:
			return mk(ErrNotFound, fmt.Sprintf("%s in registry %s", ErrNotFound, host))
		}
	}
	if errors.Is(err, errdef.ErrNotFound) {
		return mk(ErrNotFound, fmt.Sprintf("%s in registry %s", ErrNotFound, host))
	}
	if errors.Is(err, content.ErrMismatchedDigest) {
		return mk(ErrInvalidImage, fmt.Sprintf("registry %s sent content that does not match its digest (tampered or damaged in the registry or on the way); nothing was stored", host))
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &certErr) {
		return mk(ErrUnreachable, fmt.Sprintf("registry %s: TLS certificate not trusted: %s", host, oneLine(innermost(err).Error())))
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return mk(ErrUnreachable, fmt.Sprintf("registry %s speaks plain HTTP: add it to --insecure-registries", host))
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return mk(ErrUnreachable, fmt.Sprintf("registry %s unreachable: connection refused", host))
	case errors.As(err, &dnsErr):
		return mk(ErrUnreachable, fmt.Sprintf("registry %s unreachable: cannot resolve %s", host, dnsErr.Name))
	case errors.As(err, &opErr):
		return mk(ErrUnreachable, fmt.Sprintf("registry %s unreachable: %s", host, oneLine(innermost(opErr).Error())))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return mk(ErrUnreachable, fmt.Sprintf("registry %s unreachable: timeout", host))
	}
	return mk(err, oneLine(err.Error()))
}

func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func progressOptions(w io.Writer) oras.CopyGraphOptions {
	opts := oras.DefaultCopyGraphOptions
	if w == nil {
		return opts
	}
	line := func(verb string, d ocispec.Descriptor) {
		fmt.Fprintf(w, "%s %s %-48s %d bytes\n", verb, d.Digest.Encoded()[:12], d.MediaType, d.Size)
	}
	opts.PostCopy = func(_ context.Context, d ocispec.Descriptor) error { line("Copied ", d); return nil }
	opts.OnCopySkipped = func(_ context.Context, d ocispec.Descriptor) error { line("Exists ", d); return nil }
	return opts
}

// Pull copies the image ref (a tag or digest reference), with every
// architecture's manifest and its signature if the registry has one, from
// its registry into s and tags it there. The mirrors of the registry
// ([RemoteOptions].Mirrors) are tried first, in order; whichever serves
// the image, it is stored under its canonical name ref. The image must be
// an index. Nothing is tagged unless everything was copied: a failed pull
// leaves index.json as it was.
func Pull(ctx context.Context, s *Store, ref string, opts PullOptions) (ocispec.Descriptor, error) {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var mirrorErrs []string
	for _, src := range opts.mirrorsOf(r) {
		desc, err := pullFrom(ctx, s, r, src, opts)
		if err == nil {
			return desc, nil
		}
		if src.Registry == r.Registry || ctx.Err() != nil || errors.Is(err, errStore) {
			if len(mirrorErrs) > 0 {
				err = fmt.Errorf("%w (mirrors tried first: %s)", err, strings.Join(mirrorErrs, "; "))
			}
			return ocispec.Descriptor{}, fmt.Errorf("pull %s: %w", r, err)
		}
		msg := fmt.Sprintf("mirror %s: %s", src.Name(), err)
		mirrorErrs = append(mirrorErrs, msg)
		if opts.Progress != nil {
			fmt.Fprintln(opts.Progress, msg)
		}
	}
	panic("unreachable: mirrorsOf ends with the registry itself")
}

// errStore marks failures of the local store during a pull: no other
// source is tried after one.
var errStore = errors.New("local store")

// pullFrom is [Pull] from src, which is r or a mirror of it.
func pullFrom(ctx context.Context, s *Store, r, src Reference, opts PullOptions) (ocispec.Descriptor, error) {
	repo, hasCreds, err := opts.repository(src)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	ref := src.Tag
	if src.Digest != "" {
		ref = src.Digest.String()
	}
	desc, err := repo.Resolve(ctx, ref)
	if err != nil {
		return ocispec.Descriptor{}, classify(err, src.Registry, hasCreds)
	}
	if desc.MediaType != ocispec.MediaTypeImageIndex {
		return ocispec.Descriptor{}, fmt.Errorf("%s is not an image index (media type %q): %w", desc.Digest, desc.MediaType, ErrInvalidImage)
	}
	desc = ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	// The signature (cosign legacy tag), if the registry has one, is
	// copied too so that verification works offline.
	sigTag := SignatureTag(desc.Digest)
	sigDesc, err := repo.Resolve(ctx, sigTag)
	hasSig := err == nil
	if err != nil && !errors.Is(classify(err, src.Registry, hasCreds), ErrNotFound) {
		return ocispec.Descriptor{}, classify(err, src.Registry, hasCreds)
	}
	// So are signatures stored as OCI 1.1 referrers (through the
	// referrers API, or the sha256-<hex> tag of registries without it).
	referrers, err := signatureReferrers(ctx, repo, desc)
	if err != nil {
		return ocispec.Descriptor{}, classify(err, src.Registry, hasCreds)
	}
	var remoteErr error
	err = s.Update(ctx, func(dst oras.GraphTarget) error {
		copyGraph := func(d ocispec.Descriptor) error {
			if err := oras.CopyGraph(ctx, repo, dst, d, progressOptions(opts.Progress)); err != nil {
				remoteErr = classify(err, src.Registry, hasCreds)
				return remoteErr
			}
			return nil
		}
		if err := copyGraph(desc); err != nil {
			return err
		}
		if hasSig {
			sigDesc = ocispec.Descriptor{MediaType: sigDesc.MediaType, Digest: sigDesc.Digest, Size: sigDesc.Size}
			if err := copyGraph(sigDesc); err != nil {
				return err
			}
			if err := dst.Tag(ctx, sigDesc, r.Name()+":"+sigTag); err != nil {
				return err
			}
		}
		// Untagged, they stay in the store as long as the image does.
		// CopyGraph skips a root whose blobs are there already (left by
		// a pull that failed later) without recording it: the entry is
		// made here either way.
		for _, d := range referrers {
			if err := copyGraph(d); err != nil {
				return err
			}
			if err := dst.Tag(ctx, d, d.Digest.String()); err != nil {
				return err
			}
		}
		// Record where the image came from (its canonical repository,
		// even when a mirror served it): such images are verified before
		// they run (see Verify).
		tagged := desc
		tagged.Annotations = map[string]string{AnnotationSource: r.Name()}
		return dst.Tag(ctx, tagged, r.String())
	})
	if err != nil && remoteErr == nil {
		// Not the registry's fault: trying another one will not help.
		return ocispec.Descriptor{}, &remoteError{msg: oneLine(err.Error()), kind: errStore, cause: err}
	}
	return desc, err
}

// signatureReferrers lists the referrers of desc in repo that are
// signatures (see [Verify]), at most maxSignatureReferrers.
func signatureReferrers(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	err := repo.Referrers(ctx, desc, "", func(page []ocispec.Descriptor) error {
		for _, d := range page {
			if isSignatureArtifact(d.ArtifactType) && d.MediaType == ocispec.MediaTypeImageManifest && len(out) < maxSignatureReferrers {
				out = append(out, ocispec.Descriptor{MediaType: d.MediaType, ArtifactType: d.ArtifactType, Digest: d.Digest, Size: d.Size})
			}
		}
		return nil
	})
	return out, err
}

// Push copies the image ref from s, with everything it refers to and its
// signatures (legacy tag and referrers, see [Verify]), to its registry,
// and tags it there (for a tag reference).
func Push(ctx context.Context, s *Store, ref string, opts PushOptions) (ocispec.Descriptor, error) {
	r, err := s.resolver.Parse(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	// One snapshot of the store, under the shared lock for the whole push:
	// the image, its referrers and its signature tag as they were together.
	var desc ocispec.Descriptor
	err = s.read(ctx, func(snap *snapshot) error {
		d, err := snap.resolve(ctx, r)
		if errors.Is(err, errdef.ErrNotFound) {
			return s.notFound(r.String())
		} else if err != nil {
			return err
		}
		desc = ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
		repo, hasCreds, err := opts.repository(r)
		if err != nil {
			return err
		}
		return classify(pushFrom(ctx, snap, repo, r, desc, opts.Progress), r.Registry, hasCreds)
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", r, err)
	}
	return desc, nil
}

// pushFrom copies desc, its signature referrers and its legacy signature
// tag from snap to repo, and tags desc there as r.
func pushFrom(ctx context.Context, snap *snapshot, repo *remote.Repository, r Reference, desc ocispec.Descriptor, progress io.Writer) error {
	if err := oras.CopyGraph(ctx, snap.storage, repo, desc, progressOptions(progress)); err != nil {
		return err
	}
	if r.Tag != "" {
		if err := repo.Tag(ctx, desc, r.Tag); err != nil {
			return err
		}
	}
	// After the image: a registry may refuse a subject it lacks. One
	// without the referrers API gets the sha256-<hex> tag (oras-go
	// maintains it).
	for _, d := range snap.signatureReferrers(ctx, desc.Digest) {
		if err := oras.CopyGraph(ctx, snap.storage, repo, d, progressOptions(progress)); err != nil {
			return err
		}
	}
	// The signature made by Sign (or pulled with the image), if any.
	sigTag := SignatureTag(desc.Digest)
	sigDesc, err := snap.resolve(ctx, Reference{Registry: r.Registry, Repository: r.Repository, Tag: sigTag})
	if errors.Is(err, errdef.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	sigDesc = ocispec.Descriptor{MediaType: sigDesc.MediaType, Digest: sigDesc.Digest, Size: sigDesc.Size}
	if err := oras.CopyGraph(ctx, snap.storage, repo, sigDesc, progressOptions(progress)); err != nil {
		return err
	}
	return repo.Tag(ctx, sigDesc, sigTag)
}

// Login checks user and password against the registry host and, if they
// are accepted, stores them in opts.AuthFile (mode 0600). It returns the
// auth file written.
func Login(ctx context.Context, host, user, password string, opts RemoteOptions) (string, error) {
	fail := func(err error) (string, error) { return "", fmt.Errorf("login %s: %w", host, err) }
	if host == "" || user == "" {
		return fail(errors.New("registry and user are required"))
	}
	if password == "" {
		return fail(errors.New("empty password"))
	}
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return fail(fmt.Errorf("invalid registry %q", host))
	}
	c, _, err := opts.client(host, &credentials{Username: user, Password: password})
	if err != nil {
		return fail(err)
	}
	if opts.insecure(host) {
		// Plain HTTP registries get no credentials (see RemoteOptions);
		// still check the registry answers.
		c.Credential = auth.StaticCredential(host, auth.Credential{Username: user, Password: password})
	}
	reg.Client = c
	reg.PlainHTTP = opts.insecure(host)
	if err := reg.Ping(ctx); err != nil {
		return fail(classify(err, host, true))
	}
	path, err := storeCredentials(opts.AuthFile, host, user, password)
	if err != nil {
		return fail(err)
	}
	return path, nil
}
