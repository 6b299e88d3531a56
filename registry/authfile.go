package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvAuthFile names the environment variable overriding the default auth
// file (see [AuthFilePath]).
const EnvAuthFile = "REGISTRY_AUTH_FILE"

// rootAuthFile is the auth file of ig run as root.
const rootAuthFile = "/var/lib/ig/config.json"

// userDockerConfig returns the user's docker config.json: $DOCKER_CONFIG/
// config.json if set, else ~/.docker/config.json.
func userDockerConfig() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".docker", "config.json")
}

// AuthFilePath returns the auth file to use and whether it was chosen
// explicitly: explicit if not empty, else $REGISTRY_AUTH_FILE, else
// /var/lib/ig/config.json for root and the user's docker config otherwise.
// An implicit root default that does not exist falls back to the user's
// docker config when reading (see [readAuthFile]).
func AuthFilePath(explicit string) (path string, isExplicit bool) {
	if explicit != "" {
		return explicit, true
	}
	if p := os.Getenv(EnvAuthFile); p != "" {
		return p, true
	}
	if os.Geteuid() == 0 {
		return rootAuthFile, false
	}
	return userDockerConfig(), false
}

// authFile is the part of docker's config.json ig reads and writes; every
// other field is kept as is when writing.
type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// credentials holds what the auth file says about one registry.
type credentials struct {
	Username, Password, RefreshToken string
}

func (c credentials) empty() bool {
	return c.Username == "" && c.Password == "" && c.RefreshToken == ""
}

// readAuthFile loads the credentials for host. A missing explicit file is an
// error; a missing default falls back to the user's docker config, and a
// missing docker config means no credentials.
func readAuthFile(explicit, host string) (credentials, error) {
	path, isExplicit := AuthFilePath(explicit)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !isExplicit {
		if fb := userDockerConfig(); fb != "" && fb != path {
			path = fb
			data, err = os.ReadFile(fb)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return credentials{}, nil
		}
	}
	if err != nil {
		return credentials{}, fmt.Errorf("auth file: %w", err)
	}
	var cfg struct {
		Auths map[string]authEntry `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return credentials{}, fmt.Errorf("auth file %s: %v", path, err)
	}
	e, ok := findAuth(cfg.Auths, host)
	if !ok {
		return credentials{}, nil
	}
	c := credentials{Username: e.Username, Password: e.Password, RefreshToken: e.IdentityToken}
	if e.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return credentials{}, fmt.Errorf("auth file %s: entry %s: bad auth field: %v", path, host, err)
		}
		u, p, ok := strings.Cut(string(raw), ":")
		if !ok {
			return credentials{}, fmt.Errorf("auth file %s: entry %s: auth field is not user:password", path, host)
		}
		c.Username, c.Password = u, p
	}
	return c, nil
}

// authKey maps a registry host to its auth file key: docker.io is kept
// under index.docker.io, as docker does.
func authKey(host string) string {
	if host == "docker.io" || host == "registry-1.docker.io" {
		return "https://index.docker.io/v1/"
	}
	return host
}

// findAuth finds host's entry, accepting the key forms docker writes
// ("host", "https://host", "https://host/v1/").
func findAuth(auths map[string]authEntry, host string) (authEntry, bool) {
	want := authKey(host)
	if e, ok := auths[want]; ok {
		return e, true
	}
	for k, e := range auths {
		h := strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
		h, _, _ = strings.Cut(h, "/")
		if h == host || (want != host && h == "index.docker.io") {
			return e, true
		}
	}
	return authEntry{}, false
}

// updateAuthFile applies fn to the auths map of the auth file and writes it
// back atomically with mode 0600, keeping every other field.
func updateAuthFile(explicit string, fn func(auths map[string]json.RawMessage) error) (string, error) {
	path, _ := AuthFilePath(explicit)
	if path == "" {
		return "", errors.New("auth file: no path (set --authfile or " + EnvAuthFile + ")")
	}
	cfg := map[string]json.RawMessage{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return path, fmt.Errorf("auth file: %w", err)
	default:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return path, fmt.Errorf("auth file %s: %v", path, err)
		}
	}
	auths := map[string]json.RawMessage{}
	if raw, ok := cfg["auths"]; ok {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return path, fmt.Errorf("auth file %s: auths: %v", path, err)
		}
	}
	if err := fn(auths); err != nil {
		return path, err
	}
	raw, err := json.Marshal(auths)
	if err != nil {
		return path, err
	}
	cfg["auths"] = raw
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return path, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return path, fmt.Errorf("auth file: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return path, fmt.Errorf("auth file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return path, fmt.Errorf("auth file: %w", err)
	}
	if _, err := f.Write(append(out, '\n')); err != nil {
		f.Close()
		return path, fmt.Errorf("auth file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return path, fmt.Errorf("auth file: %w", err)
	}
	if err := f.Close(); err != nil {
		return path, fmt.Errorf("auth file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return path, fmt.Errorf("auth file: %w", err)
	}
	return path, nil
}

// storeCredentials records user/password for host in the auth file.
func storeCredentials(explicit, host, user, password string) (string, error) {
	return updateAuthFile(explicit, func(auths map[string]json.RawMessage) error {
		key := authKey(host)
		for k := range auths {
			if k != key && matchesHost(k, host) {
				delete(auths, k)
			}
		}
		e, _ := json.Marshal(authEntry{Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + password))})
		auths[key] = e
		return nil
	})
}

func matchesHost(key, host string) bool {
	h := strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	return h == host
}

// Logout removes the credentials for host from the auth file. It fails if
// there were none.
func Logout(host, authFile string) error {
	_, err := updateAuthFile(authFile, func(auths map[string]json.RawMessage) error {
		found := false
		for k := range auths {
			if k == authKey(host) || matchesHost(k, host) {
				delete(auths, k)
				found = true
			}
		}
		if !found {
			return fmt.Errorf("logout %s: not logged in", host)
		}
		return nil
	})
	return err
}
