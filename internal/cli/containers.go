package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/ig/internal/containers"
	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/format"
	"github.com/gadgetkit/ig/internal/pipeline"
)

func newListContainersCmd(env Env) *cobra.Command {
	var sel containers.SelectorFlags
	var output, containerd string
	cmd := &cobra.Command{
		Use:   "list-containers",
		Short: "List the containers on this node (containerd, Docker, CRI-O, podman, bare runc)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listContainers(cmd.Context(), env, sel, output, containerd)
		},
	}
	sel.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&output, "output", "o", "columns", "output mode: columns, json, jsonpretty, yaml")
	cmd.Flags().StringVar(&containerd, "containerd-socketpath", "", "containerd socket (default /run/containerd/containerd.sock)")
	return cmd
}

func listContainers(ctx context.Context, env Env, flags containers.SelectorFlags, output, containerd string) error {
	sel, err := containers.NewSelector(flags)
	if err != nil {
		return err
	}
	opts := containers.Options{NoRuncHook: true, Logf: func(f string, a ...any) {
		fmt.Fprintf(env.Stderr, "warning: containers: "+f+"\n", a...)
	}}
	if containerd != "" {
		for _, r := range containers.DefaultRuntimes() {
			if r.Runtime == containers.RuntimeContainerd {
				r.Path = containerd
			}
			opts.Runtimes = append(opts.Runtimes, r)
		}
	}
	coll, err := containers.New(ctx, opts)
	if err != nil {
		return err
	}
	defer coll.Close()
	cds, err := containers.NewContainersDataSource(coll.NodeName())
	if err != nil {
		return err
	}
	// One array of containers: a JSON array with -o json. The copy has the
	// same layout, so cds.Fill works on its records.
	ds := cds.DS.Clone()
	ds.Type = datasource.TypeArray
	out, err := format.New(output, env.Stdout, ds, format.Options{})
	if err != nil {
		return err
	}
	b := &pipeline.Batch{DS: ds}
	for _, c := range coll.ListContainers(sel) {
		r := ds.NewRecord()
		cds.Fill(r, containers.EventCreated, c)
		b.Records = append(b.Records, r)
	}
	if err := out.Process(b); err != nil {
		return err
	}
	if f, ok := out.(pipeline.Flusher); ok {
		return f.Flush()
	}
	return nil
}
