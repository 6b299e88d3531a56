package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// ErrNotAllowed: the image is not in the allowed-gadgets list.
var ErrNotAllowed = errors.New("gadget not allowed")

// AllowList is a list of allowed gadget images. An entry matches the
// normalised "registry/repository:tag" of an image exactly, its
// "registry/repository@sha256:<hex>" exactly, or, when it ends with "*",
// any of those that starts with the rest (e.g. "ghcr.io/org/gadget/*").
// Entries without "*" are normalised with the resolver first, so short
// names work. An empty list allows everything.
type AllowList struct {
	entries  []string
	patterns []string // the entries as given, for messages
}

// NewAllowList normalises entries (blank ones are ignored).
func NewAllowList(res Resolver, entries []string) AllowList {
	var l AllowList
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		l.patterns = append(l.patterns, e)
		if !strings.HasSuffix(e, "*") {
			if n, err := res.Normalize(e); err == nil {
				e = n
			}
		}
		l.entries = append(l.entries, e)
	}
	return l
}

// ParseAllowList splits a comma-separated list (as in IG_ALLOWED_GADGETS).
func ParseAllowList(res Resolver, list string) AllowList {
	return NewAllowList(res, strings.Split(list, ","))
}

// Empty tells whether the list allows everything.
func (l AllowList) Empty() bool { return len(l.entries) == 0 }

// Allows tells whether the image r (whose index has digest d, if known) is
// allowed.
func (l AllowList) Allows(r Reference, d digest.Digest) bool {
	if l.Empty() {
		return true
	}
	names := []string{r.String()}
	if r.Digest == "" && d != "" {
		names = append(names, r.Name()+"@"+d.String())
	}
	for _, e := range l.entries {
		for _, n := range names {
			if p, wild := strings.CutSuffix(e, "*"); wild && strings.HasPrefix(n, p) || !wild && n == e {
				return true
			}
		}
	}
	return false
}

// Check returns a one-line error wrapping [ErrNotAllowed] naming the image
// and the list if r is not allowed.
func (l AllowList) Check(r Reference, d digest.Digest) error {
	if l.Allows(r, d) {
		return nil
	}
	return fmt.Errorf("image %s: %w (allowed gadgets: %s)", r, ErrNotAllowed, strings.Join(l.patterns, ", "))
}
