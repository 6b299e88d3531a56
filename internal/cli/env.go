package cli

import (
	"github.com/gadgetkit/ig/registry"
)

// EnvRegistryPrefix overrides the prefix short image names resolve to
// (registry.default of the configuration file, see registry.Config). The
// store directory is overridden by IG_OCI_STORE (see
// registry.DefaultStorePath).
const EnvRegistryPrefix = "IG_REGISTRY_PREFIX"

// config reads the configuration file: $IG_CONFIG, else the default one if
// it exists (see registry.ConfigPath).
func config(env Env) (registry.Config, error) {
	return registry.LoadConfig(env.Getenv(registry.EnvConfig))
}

// resolver resolves short names with $IG_REGISTRY_PREFIX, else the
// configured registry.default, else registry.DefaultPrefix.
func resolver(env Env) (registry.Resolver, error) {
	if p := env.Getenv(EnvRegistryPrefix); p != "" {
		return registry.Resolver{Prefix: p}, nil
	}
	cfg, err := config(env)
	if err != nil {
		return registry.Resolver{}, err
	}
	return registry.Resolver{Prefix: cfg.Default}, nil
}

func openStore(env Env) (*registry.Store, error) {
	res, err := resolver(env)
	if err != nil {
		return nil, err
	}
	return registry.Open(registry.DefaultStorePath(), registry.WithResolver(res))
}

// openStoreRef opens the local store and checks that image is a valid name.
func openStoreRef(env Env, image string) (*registry.Store, string, error) {
	res, err := resolver(env)
	if err != nil {
		return nil, "", err
	}
	if _, err := res.Parse(image); err != nil {
		return nil, "", err
	}
	st, err := registry.Open(registry.DefaultStorePath(), registry.WithResolver(res))
	if err != nil {
		return nil, "", err
	}
	return st, image, nil
}

// remoteOptions completes o with the configured insecure registries and
// mirrors.
func remoteOptions(env Env, o registry.RemoteOptions) (registry.RemoteOptions, error) {
	cfg, err := config(env)
	if err != nil {
		return o, err
	}
	o.Insecure = append(o.Insecure, cfg.Insecure...)
	o.Mirrors = cfg.Mirrors
	return o, nil
}
