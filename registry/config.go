package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	orasregistry "oras.land/oras-go/v2/registry"
)

// EnvConfig names the environment variable holding the path of ig's
// configuration file (see [ConfigPath]).
const EnvConfig = "IG_CONFIG"

// ErrInvalidConfig: a configuration file that cannot be used.
var ErrInvalidConfig = errors.New("invalid configuration")

// Config is the "registry" section of ig's configuration file:
//
//	registry:
//	  default: registry.example:5000/gadgets   # prefix of short names
//	  mirrors:                                  # tried in order, before the registry itself, on pull
//	    ghcr.io: [mirror.example:5000/ghcr, 10.0.0.7:5000]
//	  insecure: [10.0.0.7:5000]                 # contacted over plain HTTP
//
// Other top-level sections are left to their owners; unknown keys in
// "registry" are errors.
type Config struct {
	// Default is the prefix short names resolve to ([Resolver].Prefix):
	// "trace_open" is Default+"/trace_open:latest". Empty means
	// [DefaultPrefix].
	Default string `yaml:"default"`
	// Mirrors maps a registry host ("host[:port]") to mirrors
	// ("host[:port][/path]") that [Pull] tries, in order, before the
	// registry itself. A mirror serves the repository under its own path:
	// ghcr.io/org/g:v1 is looked up as mirror.example:5000/ghcr/org/g:v1
	// for the mirror "mirror.example:5000/ghcr". The image keeps its
	// canonical name in the local store.
	Mirrors map[string][]string `yaml:"mirrors"`
	// Insecure lists registries and mirrors contacted over plain HTTP,
	// without credentials (see [RemoteOptions].Insecure).
	Insecure []string `yaml:"insecure"`
}

// ConfigPath returns the configuration file to read and whether it was
// chosen explicitly: $IG_CONFIG if set, else config.yaml in the ig
// directory of the user's configuration directory
// ($XDG_CONFIG_HOME/ig/config.yaml, or ~/.config/ig/config.yaml).
func ConfigPath() (path string, explicit bool) {
	if p := os.Getenv(EnvConfig); p != "" {
		return p, true
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(dir, "ig", "config.yaml"), false
}

// LoadConfig reads the configuration file path, or the one [ConfigPath]
// names when path is empty. A default file that does not exist means an
// empty configuration; a file named explicitly must exist. Errors name the
// file and wrap [ErrInvalidConfig] when the content is at fault.
func LoadConfig(path string) (Config, error) {
	explicit := path != ""
	if !explicit {
		path, explicit = ConfigPath()
		if path == "" {
			return Config{}, nil
		}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func parseConfig(data []byte) (Config, error) {
	// Strict within "registry", so that a misspelt key is an error rather
	// than a setting silently ignored; other sections are not ours.
	var doc struct {
		Registry Config         `yaml:"registry"`
		Others   map[string]any `yaml:",inline"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalidConfig, oneLine(err.Error()))
	}
	if err := doc.Registry.validate(); err != nil {
		return Config{}, err
	}
	return doc.Registry, nil
}

func (c Config) validate() error {
	invalid := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if c.Default != "" {
		if _, err := (Resolver{Prefix: c.Default}).Parse("x"); err != nil {
			return invalid("registry.default %q is not a registry prefix such as ghcr.io/org/gadget", c.Default)
		}
	}
	for host, mirrors := range c.Mirrors {
		if !validHost(host) {
			return invalid("registry.mirrors: %q is not a registry (host[:port])", host)
		}
		if len(mirrors) == 0 {
			return invalid("registry.mirrors.%s: no mirror", host)
		}
		for _, m := range mirrors {
			mh, _, _ := strings.Cut(m, "/")
			if !validHost(mh) {
				return invalid("registry.mirrors.%s: %q is not a mirror (host[:port][/path])", host, m)
			}
			if _, err := (Resolver{Prefix: m}).Parse("x"); err != nil {
				return invalid("registry.mirrors.%s: %q is not a mirror (host[:port][/path])", host, m)
			}
			if m == host {
				return invalid("registry.mirrors.%s: a registry is not its own mirror", host)
			}
		}
	}
	for _, h := range c.Insecure {
		if !validHost(h) {
			return invalid("registry.insecure: %q is not a registry (host[:port])", h)
		}
	}
	return nil
}

func validHost(h string) bool {
	return h != "" && isDomain(h) && (orasregistry.Reference{Registry: h}).ValidateRegistry() == nil
}

// mirrorsOf returns the places [Pull] tries for r, in order: r rewritten
// for each mirror of its registry, then r itself.
func (o RemoteOptions) mirrorsOf(r Reference) []Reference {
	var out []Reference
	for _, m := range o.Mirrors[r.Registry] {
		host, path, _ := strings.Cut(strings.TrimSuffix(m, "/"), "/")
		mr := r
		mr.Registry = host
		if path != "" {
			mr.Repository = path + "/" + r.Repository
		}
		if !slices.Contains(out, mr) && mr != r {
			out = append(out, mr)
		}
	}
	return append(out, r)
}
