package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/gadgetkit/ig/internal/version"
	"github.com/gadgetkit/ig/registry"
	"github.com/gadgetkit/ig/runtime"
)

func newImageCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build and manage gadget images in the local store",
	}
	cmd.AddCommand(newImageBuildCmd(env), newImageListCmd(env), newImageInspectCmd(env))
	cmd.AddCommand(newImageRemoteCmds(env)...)
	return cmd
}

func newImageBuildCmd(env Env) *cobra.Command {
	var tag string
	var archs []string
	var cflags []string
	cmd := &cobra.Command{
		Use:   "build [-t NAME] DIR",
		Short: "Build a gadget directory into an image in the local store",
		Long: "Build compiles DIR/program.bpf.c for every architecture with the host's clang (no container), " +
			"builds the Wasm module (build.yaml's wasm: a .wasm file, a C file or a Go package; DIR/go if present), " +
			"and stores an OCI image index tagged NAME " +
			"(default: the directory's name). Tools: make setup installs them.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore(env)
			if err != nil {
				return err
			}
			desc, err := registry.Build(cmd.Context(), args[0], registry.BuildOptions{
				Store:          st,
				Tag:            tag,
				Archs:          archs,
				BuilderVersion: version.Version,
				CFlags:         cflags,
				Output:         env.Stderr,
			})
			if err != nil {
				return err
			}
			name := tag
			if name == "" {
				name = args[0]
			}
			fmt.Fprintf(env.Stdout, "Successfully built %s@%s\n", name, desc.Digest)
			return nil
		},
	}
	cmd.Flags().StringVarP(&tag, "tag", "t", "", "name of the image (default: the directory's name)")
	cmd.Flags().StringSliceVar(&archs, "arch", nil, "architectures to build for (default amd64,arm64)")
	cmd.Flags().StringSliceVar(&cflags, "cflags", nil, "extra flags for clang when compiling the eBPF program")
	return cmd
}

func newImageListCmd(env Env) *cobra.Command {
	var noTrunc bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the images of the local store",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(env)
			if err != nil {
				return err
			}
			imgs, err := st.List(cmd.Context())
			if err != nil {
				return err
			}
			res := st.Resolver()
			w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "REPOSITORY\tTAG\tDIGEST\tCREATED")
			for _, img := range imgs {
				dg := img.Digest.Encoded()
				if !noTrunc && len(dg) > 12 {
					dg = dg[:12]
				}
				created := "-"
				if !img.Created.IsZero() {
					created = img.Created.Local().Format("2006-01-02 15:04:05")
				}
				tag := img.Tag
				if tag == "" {
					tag = "<none>"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", res.Display(img.Repository), tag, dg, created)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "show full digests")
	return cmd
}

func newImageInspectCmd(env Env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show what a gadget image declares: datasources and fields, params, programs, maps",
		Long:  "Inspect reads the image from the local store and describes it without loading anything into the kernel.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := openGadget(cmd.Context(), env, args[0])
			if err != nil {
				return err
			}
			info, err := g.Inspect(cmd.Context(), runtime.RunOptions{Stderr: env.Stderr,
				WasmCacheDir: filepath.Join(registry.DefaultCacheDir(), "wasm")})
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			case "yaml":
				enc := yaml.NewEncoder(env.Stdout)
				enc.SetIndent(2)
				if err := enc.Encode(info); err != nil {
					return err
				}
				return enc.Close()
			}
			return fmt.Errorf("inspect: unknown output %q (valid: json, yaml)", output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: json or yaml")
	return cmd
}
