package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/registry"
	"github.com/gadgetkit/ig/runtime"
)

// EnvInsecureRegistries lists (comma-separated) registries contacted over
// plain HTTP by ig run's pulls; the image commands take
// --insecure-registries.
const EnvInsecureRegistries = "IG_INSECURE_REGISTRIES"

// newImageRemoteCmds returns the image subcommands that move images
// between the local store and registries or archives.
func newImageRemoteCmds(env Env) []*cobra.Command {
	return append([]*cobra.Command{
		newImagePullCmd(env), newImagePushCmd(env), newImageTagCmd(env), newImageRemoveCmd(env),
		newImageLoginCmd(env), newImageLogoutCmd(env), newImageExportCmd(env), newImageImportCmd(env),
	}, newImageSignCmds(env)...)
}

// remoteFlags are the flags of commands talking to registries.
type remoteFlags struct {
	authFile string
	insecure []string
	caCert   string
}

func (f *remoteFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.authFile, "authfile", "", "docker config.json with credentials (default $"+registry.EnvAuthFile+", /var/lib/ig/config.json for root, else ~/.docker/config.json)")
	fs.StringSliceVar(&f.insecure, "insecure-registries", nil, "registries (host[:port]) contacted over plain HTTP, without credentials (added to registry.insecure of the config file)")
	fs.StringVar(&f.caCert, "tls-ca", "", "PEM file of extra certificate authorities to trust")
}

// options are the flags' remote options, completed with the configured
// insecure registries and mirrors.
func (f *remoteFlags) options(env Env, set settings) registry.RemoteOptions {
	o := registry.RemoteOptions{AuthFile: f.authFile, Insecure: f.insecure, CACert: f.caCert}
	if isTerminal(env.Stdout) {
		o.Progress = env.Stderr
	}
	return set.remoteOptions(o)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func newImagePullCmd(env Env) *cobra.Command {
	return newTransferCmd(env, "pull IMAGE", "Copy an image (every architecture) from its registry into the local store", "Pulled", registry.Pull)
}

func newImagePushCmd(env Env) *cobra.Command {
	return newTransferCmd(env, "push IMAGE", "Copy an image from the local store to its registry", "Pushed", registry.Push)
}

// newTransferCmd is pull or push: copy one image between the local store
// and its registry with transfer, then print what was copied.
func newTransferCmd(env Env, use, short, done string,
	transfer func(context.Context, *registry.Store, string, registry.RemoteOptions) (ocispec.Descriptor, error)) *cobra.Command {
	var rf remoteFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := loadSettings(env)
			if err != nil {
				return err
			}
			st, err := set.openStore()
			if err != nil {
				return err
			}
			desc, err := transfer(cmd.Context(), st, args[0], rf.options(env, set))
			if err != nil {
				return err
			}
			ref, _ := st.Resolver().Normalize(args[0])
			fmt.Fprintf(env.Stdout, "%s %s@%s\n", done, st.Resolver().Display(ref), desc.Digest)
			return nil
		},
	}
	rf.register(cmd.Flags())
	return cmd
}

func newImageTagCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SRC DST",
		Short: "Give an image of the local store another name",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(env)
			if err != nil {
				return err
			}
			if err := st.Tag(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			dst, _ := st.Resolver().Normalize(args[1])
			fmt.Fprintf(env.Stdout, "Tagged %s\n", st.Resolver().Display(dst))
			return nil
		},
	}
}

func newImageRemoveCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:     "remove IMAGE...",
		Aliases: []string{"rm"},
		Short:   "Untag images of the local store, deleting content no tag refers to",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(env)
			if err != nil {
				return err
			}
			for _, a := range args {
				if err := st.Remove(cmd.Context(), a); err != nil {
					return err
				}
			}
			fmt.Fprintf(env.Stdout, "Removed %s\n", strings.Join(args, " "))
			return nil
		},
	}
}

func newImageLoginCmd(env Env) *cobra.Command {
	var rf remoteFlags
	var user, password string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login REGISTRY",
		Short: "Check credentials against a registry and store them in the auth file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if passwordStdin {
				if password != "" {
					return errors.New("login: --password and --password-stdin are exclusive")
				}
				line, err := bufio.NewReader(os.Stdin).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("login: read password: %w", err)
				}
				password = strings.TrimRight(line, "\r\n")
			}
			if user == "" {
				return errors.New("login: --username is required")
			}
			set, err := loadSettings(env)
			if err != nil {
				return err
			}
			path, err := registry.Login(cmd.Context(), args[0], user, password, rf.options(env, set))
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Login succeeded (credentials in %s)\n", path)
			return nil
		},
	}
	rf.register(cmd.Flags())
	cmd.Flags().StringVarP(&user, "username", "u", "", "user name")
	cmd.Flags().StringVarP(&password, "password", "p", "", "password (prefer --password-stdin)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

func newImageLogoutCmd(env Env) *cobra.Command {
	var authFile string
	cmd := &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Remove a registry's credentials from the auth file",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := registry.Logout(args[0], authFile); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Removed login credentials for %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "docker config.json with credentials")
	return cmd
}

func newImageExportCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "export IMAGE... FILE",
		Short: "Write images of the local store to a tar archive of an OCI layout (reproducible)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(env)
			if err != nil {
				return err
			}
			file := args[len(args)-1]
			f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+"-*")
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer os.Remove(f.Name())
			if err := registry.Export(cmd.Context(), st, args[:len(args)-1], f); err != nil {
				f.Close()
				return err
			}
			if err := f.Chmod(0o644); err != nil {
				f.Close()
				return fmt.Errorf("export: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := os.Rename(f.Name(), file); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			fmt.Fprintf(env.Stdout, "Exported %d image(s) to %s\n", len(args)-1, file)
			return nil
		},
	}
}

func newImageImportCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Store the images of a tar archive of an OCI layout in the local store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(env)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			defer f.Close()
			refs, err := registry.Import(cmd.Context(), st, f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			short := make([]string, len(refs))
			for i, r := range refs {
				short[i] = st.Resolver().Display(r)
			}
			fmt.Fprintf(env.Stdout, "Imported %s\n", strings.Join(short, " "))
			return nil
		},
	}
}

// Pull policies of ig run.
const (
	PullAlways  = "always"
	PullMissing = "missing"
	PullNever   = "never"
)

// pullPolicy registers --pull on fs (parsed later with the other flags of
// ig run) and returns its value, read from args now because the image must
// be in the store before its parameters become flags, along with args
// without --pull so that the image argument can be found.
func pullPolicy(fs *pflag.FlagSet, args []string) (string, []string, error) {
	if fs.Lookup("pull") == nil {
		fs.String("pull", PullMissing, "when to pull the image from its registry: always, missing or never")
	}
	policy := PullMissing
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		if a == "--pull" && i+1 < len(args) {
			policy = args[i+1]
			i++
			continue
		}
		if v, ok := strings.CutPrefix(a, "--pull="); ok {
			policy = v
			continue
		}
		rest = append(rest, a)
	}
	switch policy {
	case PullAlways, PullMissing, PullNever:
		return policy, rest, nil
	}
	return "", nil, fmt.Errorf("run: --pull must be always, missing or never, got %q", policy)
}

// applyPullPolicy pulls image into the local store as policy says.
// Credentials come from the default auth file ($REGISTRY_AUTH_FILE), plain
// HTTP registries from $IG_INSECURE_REGISTRIES and the configuration file,
// which also names mirrors.
func applyPullPolicy(ctx context.Context, env Env, set settings, st *registry.Store, policy, ref string) error {
	if policy == PullNever {
		return nil
	}
	var local error
	if policy == PullMissing {
		_, local = st.Resolve(ctx, ref)
		if !errors.Is(local, registry.ErrNotFound) {
			return nil // present, or broken in a way Load reports
		}
	}
	opts := registry.RemoteOptions{}
	if v := env.Getenv(EnvInsecureRegistries); v != "" {
		opts.Insecure = strings.Split(v, ",")
	}
	if _, err := registry.Pull(ctx, st, ref, set.remoteOptions(opts)); err != nil {
		if local != nil {
			return fmt.Errorf("%w; %v", local, err)
		}
		return err
	}
	return nil
}

// openGadgetPulling is openGadget for ig run: it honours --pull first,
// then the allowed-gadgets list and, for images pulled from a registry,
// signature verification (--verify-image, --public-key, see
// checkImagePolicy). *image is corrected when --pull's value was taken
// for the image.
func openGadgetPulling(ctx context.Context, env Env, fs *pflag.FlagSet, args []string, image *string) (*runtime.Gadget, error) {
	policy, rest, err := pullPolicy(fs, args)
	if err != nil {
		return nil, err
	}
	if img, ok := imageArg(rest); ok {
		*image = img
	}
	ip, err := scanImagePolicy(fs, rest)
	if err != nil {
		return nil, err
	}
	set, err := loadSettings(env)
	if err != nil {
		return nil, err
	}
	// One store for the three steps: each open takes the store's lock
	// and checks its layout.
	st, ref, err := set.openStoreRef(*image)
	if err != nil {
		return nil, err
	}
	if err := applyPullPolicy(ctx, env, set, st, policy, ref); err != nil {
		return nil, err
	}
	load, err := checkImagePolicy(ctx, env, st, ip, ref)
	if err != nil {
		return nil, err
	}
	return openGadgetIn(ctx, st, *image, load)
}
