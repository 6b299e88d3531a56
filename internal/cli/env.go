package cli

import (
	"github.com/gadgetkit/ig/registry"
)

// EnvRegistryPrefix overrides the prefix short image names resolve to. The
// store directory is overridden by IG_OCI_STORE (see
// registry.DefaultStorePath).
const EnvRegistryPrefix = "IG_REGISTRY_PREFIX"

func resolver(env Env) registry.Resolver {
	return registry.Resolver{Prefix: env.Getenv(EnvRegistryPrefix)}
}

func openStore(env Env) (*registry.Store, error) {
	return registry.Open(registry.DefaultStorePath(), registry.WithResolver(resolver(env)))
}

// openStoreRef opens the local store and checks that image is a valid name.
func openStoreRef(env Env, image string) (*registry.Store, string, error) {
	if _, err := resolver(env).Parse(image); err != nil {
		return nil, "", err
	}
	st, err := openStore(env)
	if err != nil {
		return nil, "", err
	}
	return st, image, nil
}
