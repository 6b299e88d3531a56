package registry

import (
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	orasregistry "oras.land/oras-go/v2/registry"
)

// DefaultPrefix is where short gadget names live: "trace_open" means
// DefaultPrefix + "/trace_open:latest".
const DefaultPrefix = "ghcr.io/gadgetkit/gadget"

// DefaultTag is the tag of a name given without tag or digest.
const DefaultTag = "latest"

// Reference is a parsed, normalised image name.
type Reference struct {
	Registry   string        // e.g. "ghcr.io" or "localhost:5000"
	Repository string        // e.g. "gadgetkit/gadget/trace_open"
	Tag        string        // empty when Digest is set
	Digest     digest.Digest // empty unless the name had "@sha256:..."
}

// Name returns registry/repository, without tag or digest.
func (r Reference) Name() string { return r.Registry + "/" + r.Repository }

// String returns the normalised form, "registry/repository:tag" or
// "registry/repository@digest". It is the tag used in the local store.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Name() + "@" + r.Digest.String()
	}
	return r.Name() + ":" + r.Tag
}

// Resolver turns the short names users type into full references. The zero
// value uses [DefaultPrefix].
type Resolver struct {
	// Prefix is "domain[/path]" prepended to names without a domain, e.g.
	// "ghcr.io/gadgetkit/gadget" or a mirror such as "localhost:5000/g".
	Prefix string
}

func (r Resolver) prefix() (domain, path string, err error) {
	p := strings.TrimSuffix(r.Prefix, "/")
	if p == "" {
		p = DefaultPrefix
	}
	domain, path, _ = strings.Cut(p, "/")
	if !isDomain(domain) {
		return "", "", fmt.Errorf("default prefix %q must start with a registry domain: %w", p, ErrInvalidReference)
	}
	return domain, path, nil
}

// isDomain tells whether the first element of a name is a registry domain:
// it contains "." or ":" or is "localhost", and is lowercase.
func isDomain(s string) bool {
	if s != strings.ToLower(s) {
		return false
	}
	return s == "localhost" || strings.ContainsAny(s, ".:")
}

// Parse normalises name:
//
//	trace_open                  → <prefix>/trace_open:latest
//	myorg/foo:v1                → <prefix domain>/myorg/foo:v1
//	localhost:5000/foo          → localhost:5000/foo:latest
//	trace_open@sha256:<hex>     → <prefix>/trace_open@sha256:<hex>
//
// A name with both a tag and a digest keeps the digest only. Errors wrap
// [ErrInvalidReference].
func (r Resolver) Parse(name string) (Reference, error) {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidReference, name, fmt.Sprintf(format, a...))
	}
	if name == "" {
		return Reference{}, fmt.Errorf("%w: empty name", ErrInvalidReference)
	}
	if strings.TrimSpace(name) != name {
		return Reference{}, invalid("leading or trailing space")
	}
	pdomain, ppath, err := r.prefix()
	if err != nil {
		return Reference{}, err
	}

	var ref Reference
	rest := name
	first, after, hasSlash := strings.Cut(name, "/")
	switch {
	case hasSlash && isDomain(first):
		ref.Registry, rest = first, after
	case hasSlash:
		ref.Registry = pdomain
	default:
		ref.Registry = pdomain
		if ppath != "" {
			rest = ppath + "/" + name
		}
	}

	if repo, dgst, ok := strings.Cut(rest, "@"); ok {
		if i := strings.LastIndexByte(repo, ':'); i >= 0 && !strings.Contains(repo[i:], "/") {
			repo = repo[:i]
		}
		ref.Repository, ref.Digest = repo, digest.Digest(dgst)
	} else if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[i:], "/") {
		ref.Repository, ref.Tag = rest[:i], rest[i+1:]
		if ref.Tag == "" {
			return Reference{}, invalid("empty tag")
		}
	} else {
		ref.Repository, ref.Tag = rest, DefaultTag
	}

	check := orasregistry.Reference{Registry: ref.Registry, Repository: ref.Repository}
	if err := check.ValidateRegistry(); err != nil {
		return Reference{}, invalid("invalid registry %q", ref.Registry)
	}
	if ref.Repository == "" {
		return Reference{}, invalid("empty repository")
	}
	if err := check.ValidateRepository(); err != nil {
		return Reference{}, invalid("invalid repository %q (path components are lowercase letters and digits, separated by '.', '_', '__' or '-')", ref.Repository)
	}
	if ref.Digest != "" {
		if err := ref.Digest.Validate(); err != nil {
			return Reference{}, invalid("invalid digest %q: %v", ref.Digest, err)
		}
	} else {
		check.Reference = ref.Tag
		if err := check.ValidateReferenceAsTag(); err != nil {
			return Reference{}, invalid("invalid tag %q (at most 128 of [A-Za-z0-9_.-], not starting with '.' or '-')", ref.Tag)
		}
	}
	return ref, nil
}

// Normalize is Parse followed by String.
func (r Resolver) Normalize(name string) (string, error) {
	ref, err := r.Parse(name)
	if err != nil {
		return "", err
	}
	return ref.String(), nil
}

// Display shortens a normalised reference or repository for humans by
// removing the default prefix: "ghcr.io/gadgetkit/gadget/trace_open:latest"
// becomes "trace_open:latest". Names outside the prefix, or nested below
// it, are returned unchanged.
func (r Resolver) Display(ref string) string {
	p := strings.TrimSuffix(r.Prefix, "/")
	if p == "" {
		p = DefaultPrefix
	}
	short, ok := strings.CutPrefix(ref, p+"/")
	if !ok || short == "" || strings.Contains(short, "/") {
		return ref
	}
	return short
}

// ParseReference parses name with the zero [Resolver] (prefix
// [DefaultPrefix]).
func ParseReference(name string) (Reference, error) { return Resolver{}.Parse(name) }
