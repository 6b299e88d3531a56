package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gadgetkit/ig/registry"
)

// Environment of image verification (flags of ig run and ig image verify
// take precedence).
const (
	// EnvPublicKeys lists (comma-separated) PEM files of the public keys
	// trusted to sign images.
	EnvPublicKeys = "IG_PUBLIC_KEYS"
	// EnvAllowedGadgets lists (comma-separated) the images ig run accepts.
	EnvAllowedGadgets = "IG_ALLOWED_GADGETS"
)

// Flags of ig run handled before the image is opened.
const (
	flagVerifyImage    = "verify-image"
	flagPublicKey      = "public-key"
	flagAllowedGadgets = "allowed-gadgets"
)

func init() {
	// Their values are separate arguments: not the image.
	valueFlags["--"+flagPublicKey] = true
	valueFlags["--"+flagAllowedGadgets] = true
}

func newImageSignCmds(env Env) []*cobra.Command {
	return []*cobra.Command{newImageSignCmd(env), newImageVerifyCmd(env), newImageGenerateKeyCmd(env)}
}

func newImageSignCmd(env Env) *cobra.Command {
	var keyFile string
	cmd := &cobra.Command{
		Use:   "sign --key FILE IMAGE",
		Short: "Sign an image of the local store (cosign legacy .sig tag, ECDSA P-256); push sends the signature along",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return errors.New("sign: --key is required")
			}
			key, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("sign: %w", err)
			}
			st, err := openStore(env)
			if err != nil {
				return err
			}
			if _, err := registry.Sign(cmd.Context(), st, args[0], key); err != nil {
				return err
			}
			desc, err := st.Resolve(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ref, _ := st.Resolver().Normalize(args[0])
			fmt.Fprintf(env.Stdout, "Signed %s@%s\n", st.Resolver().Display(ref), desc.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM file of an unencrypted ECDSA P-256 private key (ig image generate-key)")
	return cmd
}

func newImageVerifyCmd(env Env) *cobra.Command {
	var keys []string
	cmd := &cobra.Command{
		Use:   "verify [--public-key FILE]... IMAGE",
		Short: "Check, offline, the signature of an image of the local store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pems, err := readPublicKeys(env, keys)
			if err != nil {
				return err
			}
			st, err := openStore(env)
			if err != nil {
				return err
			}
			desc, err := registry.VerifyResolve(cmd.Context(), st, args[0], pems)
			if err != nil {
				return err
			}
			ref, _ := st.Resolver().Normalize(args[0])
			fmt.Fprintf(env.Stdout, "Verified %s@%s\n", st.Resolver().Display(ref), desc.Digest)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keys, flagPublicKey, nil, "PEM file of a trusted public key (repeatable; default $"+EnvPublicKeys+", comma-separated files)")
	return cmd
}

func newImageGenerateKeyCmd(env Env) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "generate-key [--output-key-prefix PREFIX]",
		Short: "Write a new ECDSA P-256 key pair: PREFIX.key (private, unencrypted, mode 0600) and PREFIX.pub",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			priv, pub, err := registry.GenerateKey()
			if err != nil {
				return fmt.Errorf("generate-key: %w", err)
			}
			f, err := os.OpenFile(prefix+".key", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("generate-key: %w", err)
			}
			if _, err := f.Write(priv); err != nil {
				f.Close()
				return fmt.Errorf("generate-key: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("generate-key: %w", err)
			}
			if err := os.WriteFile(prefix+".pub", pub, 0o644); err != nil {
				return fmt.Errorf("generate-key: %w", err)
			}
			fmt.Fprintf(env.Stdout, "Private key written to %s.key, public key to %s.pub\n", prefix, prefix)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "ig", "prefix of the key files")
	return cmd
}

// readPublicKeys reads the files given, or else those of $IG_PUBLIC_KEYS.
func readPublicKeys(env Env, files []string) ([][]byte, error) {
	if len(files) == 0 {
		for _, f := range strings.Split(env.Getenv(EnvPublicKeys), ",") {
			if f = strings.TrimSpace(f); f != "" {
				files = append(files, f)
			}
		}
	}
	var pems [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pems = append(pems, data)
	}
	return pems, nil
}

// imagePolicy is what ig run checks before opening an image.
type imagePolicy struct {
	verify  bool
	keys    []string
	allowed []string
	allowOK bool // --allowed-gadgets given (even empty)
}

// scanImagePolicy registers the policy flags on fs (parsed later with the
// other flags) and reads their values from args now, since the image is
// opened before the flags are parsed.
func scanImagePolicy(fs *pflag.FlagSet, args []string) (imagePolicy, error) {
	if fs.Lookup(flagVerifyImage) == nil {
		fs.Bool(flagVerifyImage, true, "verify the signature of images pulled from a registry (locally built images are not verified)")
		fs.StringArray(flagPublicKey, nil, "PEM file of a public key trusted to sign images (repeatable; default $"+EnvPublicKeys+", comma-separated files)")
		fs.String(flagAllowedGadgets, "", "comma-separated images allowed to run: registry/repo:tag, registry/repo@sha256:…, or a prefix ending with * (default $"+EnvAllowedGadgets+"; empty: all)")
	}
	p := imagePolicy{verify: true}
	value := func(i int, a, name string) (string, int, bool, error) {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, i, true, nil
		}
		if a == "--"+name {
			if i+1 >= len(args) {
				return "", i, false, fmt.Errorf("run: --%s needs a value", name)
			}
			return args[i+1], i + 1, true, nil
		}
		return "", i, false, nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a == "--"+flagVerifyImage {
			p.verify = true
			continue
		}
		if v, ok := strings.CutPrefix(a, "--"+flagVerifyImage+"="); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return p, fmt.Errorf("run: --%s must be true or false, got %q", flagVerifyImage, v)
			}
			p.verify = b
			continue
		}
		v, j, ok, err := value(i, a, flagPublicKey)
		if err != nil {
			return p, err
		}
		if ok {
			p.keys, i = append(p.keys, v), j
			continue
		}
		v, j, ok, err = value(i, a, flagAllowedGadgets)
		if err != nil {
			return p, err
		}
		if ok {
			p.allowed, p.allowOK, i = strings.Split(v, ","), true, j
		}
	}
	return p, nil
}

// checkImagePolicy applies the allowed-gadgets list and, for images pulled
// from a registry, signature verification. It returns the reference to
// load: the verified digest, so that a concurrent re-tag cannot swap the
// image between check and load.
func checkImagePolicy(ctx context.Context, env Env, st *registry.Store, p imagePolicy, ref string) (string, error) {
	r, err := st.Resolver().Parse(ref)
	if err != nil {
		return "", err
	}
	desc, err := st.Resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	allowed := p.allowed
	if !p.allowOK {
		allowed = strings.Split(env.Getenv(EnvAllowedGadgets), ",")
	}
	if err := registry.NewAllowList(st.Resolver(), allowed).Check(r, desc.Digest); err != nil {
		return "", err
	}
	pinned := r.Name() + "@" + desc.Digest.String()
	if !p.verify || desc.Annotations[registry.AnnotationSource] == "" {
		return pinned, nil
	}
	pems, err := readPublicKeys(env, p.keys)
	if err != nil {
		return "", err
	}
	vd, err := registry.VerifyResolve(ctx, st, ref, pems)
	if err != nil {
		return "", err
	}
	if vd.Digest != desc.Digest {
		// Re-tagged (a concurrent pull) between the two looks.
		return "", fmt.Errorf("%s changed while it was checked (%s, then %s): run again", ref, desc.Digest, vd.Digest)
	}
	return pinned, nil
}
