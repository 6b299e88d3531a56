package cli

import (
	"github.com/gadgetkit/ig/registry"
)

// EnvRegistryPrefix overrides the prefix short image names resolve to
// (registry.default of the configuration file, see registry.Config). The
// store directory is overridden by IG_OCI_STORE (see
// registry.DefaultStorePath).
const EnvRegistryPrefix = "IG_REGISTRY_PREFIX"

// settings are what a command takes from the configuration file and the
// environment. A command reads them once, with loadSettings, and hands
// them to what needs them.
type settings struct {
	config   registry.Config
	resolver registry.Resolver
}

// loadSettings reads the configuration file ($IG_CONFIG, else the default
// one if it exists, see registry.ConfigPath). Short names resolve with
// $IG_REGISTRY_PREFIX, else the configured registry.default, else
// registry.DefaultPrefix.
func loadSettings(env Env) (settings, error) {
	cfg, err := registry.LoadConfig(env.Getenv(registry.EnvConfig))
	if err != nil {
		return settings{}, err
	}
	res := registry.Resolver{Prefix: cfg.Default}
	if p := env.Getenv(EnvRegistryPrefix); p != "" {
		res.Prefix = p
	}
	return settings{config: cfg, resolver: res}, nil
}

// openStore opens the local store, for a command that needs nothing else
// of the settings.
func openStore(env Env) (*registry.Store, error) {
	set, err := loadSettings(env)
	if err != nil {
		return nil, err
	}
	return set.openStore()
}

func (s settings) openStore() (*registry.Store, error) {
	return registry.Open(registry.DefaultStorePath(), registry.WithResolver(s.resolver))
}

// openStoreRef opens the local store and checks that image is a valid name.
func (s settings) openStoreRef(image string) (*registry.Store, string, error) {
	if _, err := s.resolver.Parse(image); err != nil {
		return nil, "", err
	}
	st, err := s.openStore()
	if err != nil {
		return nil, "", err
	}
	return st, image, nil
}

// remoteOptions completes o with the configured insecure registries and
// mirrors.
func (s settings) remoteOptions(o registry.RemoteOptions) registry.RemoteOptions {
	o.Insecure = append(o.Insecure, s.config.Insecure...)
	o.Mirrors = s.config.Mirrors
	return o
}
