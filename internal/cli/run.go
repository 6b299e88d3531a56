package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gadgetkit/ig/internal/containers"
	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/registry"
	"github.com/gadgetkit/ig/runtime"
)

// runFlags are the flags every gadget has.
type runFlags struct {
	output     string
	fields     string
	filters    []string
	sort       string
	maxEntries string
	timeout    int
	selector   containers.SelectorFlags
	containerd string
}

func (f *runFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.output, "output", "o", "columns", "output mode: "+strings.Join(runtime.OutputModes, ", ")+"; per datasource ds:mode,…; legacy columns=a,b or columns=+x")
	fs.StringVar(&f.fields, "fields", "", "fields to show: a,b or +x,-y relative to the defaults; per datasource ds:a,b;ds2:+c")
	fs.StringArrayVarP(&f.filters, "filter", "F", nil, "keep events matching field<op>value terms, comma = AND; ops == != >= > <= < ~ !~; legacy field:value, field:~regex, field:!value (repeatable)")
	fs.StringVar(&f.sort, "sort", "", "sort array datasources by fields, - for descending: f1,-f2; per datasource ds:f1;ds2:-f2")
	fs.StringVar(&f.maxEntries, "max-entries", "", "keep at most N entries of array datasources: N or ds:N,ds2:M")
	fs.IntVarP(&f.timeout, "timeout", "t", 0, "stop after this many seconds of tracing, counted once the gadget is running (0: run until interrupted)")
	f.selector.AddFlags(fs)
	fs.StringVar(&f.containerd, "containerd-socketpath", "", "containerd socket (default /run/containerd/containerd.sock)")
}

func newRunCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run IMAGE [flags]",
		Short: "Run a gadget",
		Long: "Run a gadget from the local store. Short names such as trace_open resolve to " +
			registry.DefaultPrefix + "/trace_open:latest (see registry.default in the config file $" + registry.EnvConfig + " or ~/.config/ig/config.yaml, and " + EnvRegistryPrefix + "). " +
			"Gadget parameters become flags: ig run IMAGE --help lists them.",
		// Gadget parameters are only known once the image is read, so flags
		// are parsed here rather than by cobra.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGadget(cmd.Context(), env, cmd, args)
		},
	}
	return cmd
}

// valueFlags are the common flags that take a separate value argument.
var valueFlags = map[string]bool{"-o": true, "--output": true, "-t": true, "--timeout": true,
	"--fields": true, "-F": true, "--filter": true, "--sort": true, "--max-entries": true,
	"-c": true, "--containername": true, "--k8s-namespace": true, "--k8s-podname": true,
	"--k8s-containername": true, "--k8s-selector": true, "--containerd-socketpath": true,
	"--map-fetch-interval": true, "--map-fetch-count": true, "--iface": true,
	"--pull": true, "--public-key": true, "--allowed-gadgets": true}

// imageArg finds the first positional argument.
func imageArg(args []string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 < len(args) {
				return args[i+1], true
			}
			return "", false
		}
		if strings.HasPrefix(a, "-") {
			if valueFlags[a] {
				i++
			}
			continue
		}
		return a, true
	}
	return "", false
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
		if a == "--" {
			return false
		}
	}
	return false
}

func runGadget(ctx context.Context, env Env, cmd *cobra.Command, args []string) error {
	var rf runFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.SortFlags = false
	rf.register(fs)

	image, ok := imageArg(args)
	if !ok {
		if wantsHelp(args) {
			fmt.Fprintf(env.Stdout, "%s\n\nUsage:\n  ig %s\n\nFlags:\n%s", cmd.Long, cmd.Use, fs.FlagUsages())
			return nil
		}
		return fmt.Errorf("run: missing IMAGE argument (e.g. ig run trace_open)")
	}

	g, err := openGadgetPulling(ctx, env, fs, args, &image)
	if err != nil {
		return err
	}

	// Gadget parameters become flags.
	params := map[string]*paramValue{}
	for _, p := range g.Params() {
		if fs.Lookup(p.Key) != nil {
			return fmt.Errorf("%s: parameter %q clashes with a flag of ig run", image, p.Key)
		}
		v := &paramValue{p: p, s: p.Default}
		params[p.Key] = v
		f := fs.VarPF(v, p.Key, "", p.Description)
		if p.Kind == datasource.Bool {
			f.NoOptDefVal = "true"
		}
		if p.HasTag("group:Process") {
			// Filter params default to "no filter"; the description says so.
			f.DefValue = ""
		}
	}
	var fetchInterval, fetchCount string
	if g.HasFetchers() {
		fs.StringVar(&fetchInterval, "map-fetch-interval", "", "interval between fetches of map iterators and iterators: 2s, or per datasource ds1:2s,ds2:500ms (default: 1s for map iterators; iterators run once)")
		fs.StringVar(&fetchCount, "map-fetch-count", "", "number of fetches before stopping, 0 for no limit: 3, or per datasource ds:3 (default: 0 for map iterators, 1 for iterators)")
	}
	var ifaces []string
	if g.HasClassifiers() {
		fs.StringSliceVar(&ifaces, "iface", nil, "network interfaces the gadget's traffic-control programs attach to (comma-separated)")
	}
	if wantsHelp(args) {
		fmt.Fprintf(env.Stdout, "%s: %s\n\nUsage:\n  ig run %s [flags]\n\nFlags:\n%s", image, g.Description(), image, fs.FlagUsages())
		return nil
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("run %s: %w", image, err)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("run: expected one IMAGE argument, got %d: %s", fs.NArg(), strings.Join(fs.Args(), " "))
	}
	if rf.timeout < 0 {
		return fmt.Errorf("run: --timeout must be >= 0, got %d", rf.timeout)
	}

	values := map[string]string{}
	for k, v := range params {
		if v.set {
			values[k] = v.s
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	_, err = g.Run(ctx, runtime.RunOptions{
		ParamValues:      values,
		Output:           rf.output,
		Fields:           rf.fields,
		Filters:          rf.filters,
		Sort:             rf.sort,
		MaxEntries:       rf.maxEntries,
		MapFetchInterval: fetchInterval,
		MapFetchCount:    fetchCount,
		WasmCacheDir:     filepath.Join(registry.DefaultCacheDir(), "wasm"),
		Duration:         time.Duration(rf.timeout) * time.Second,
		Selector:         rf.selector,
		ContainerdSocket: rf.containerd,
		Interfaces:       ifaces,
		Stdout:           env.Stdout,
		Stderr:           env.Stderr,
		LastRun:          true,
	})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// paramValue is a gadget parameter as a flag: values are checked when the
// flag is parsed, and the help shows the parameter's type.
type paramValue struct {
	p   *gadgetspec.Param
	s   string
	set bool
}

func (v *paramValue) String() string { return v.s }
func (v *paramValue) Type() string {
	return v.p.Kind.String() // "bool" makes pflag show a plain switch
}

func (v *paramValue) Set(s string) error {
	if _, err := v.p.Parse(s); err != nil {
		return err
	}
	v.s, v.set = s, true
	return nil
}

// openGadget resolves image in the local store and describes it.
func openGadget(ctx context.Context, env Env, image string) (*runtime.Gadget, error) {
	set, err := loadSettings(env)
	if err != nil {
		return nil, err
	}
	st, ref, err := set.openStoreRef(image)
	if err != nil {
		return nil, err
	}
	return openGadgetIn(ctx, st, image, ref)
}

// openGadgetIn loads ref (image, or image pinned to a digest) from st and
// describes it as image.
func openGadgetIn(ctx context.Context, st *registry.Store, image, ref string) (*runtime.Gadget, error) {
	img, err := st.LoadMapped(ctx, ref, goruntime.GOARCH)
	if err != nil {
		return nil, err
	}
	g, err := runtime.New(image, runtime.Content{Metadata: img.Metadata, Program: img.Program, Wasm: img.Wasm,
		WasmSHA256: img.WasmSHA256(), Release: img.Close})
	if err != nil {
		img.Close()
		return nil, err
	}
	return g, nil
}
