package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gadgetkit/ig/internal/version"
)

// Env is what a command may touch of its process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// Main runs ig with args (without the program name) and returns the exit
// code. Errors are printed as one line on stderr.
func Main(ctx context.Context, args []string) int {
	env := Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	cmd := NewIG(env)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(env.Stderr, "Error: %s\n", oneLine(err))
		return 1
	}
	return 0
}

// oneLine keeps an error message on one line: detail such as compiler
// output or verifier logs is printed before the error, not inside it.
func oneLine(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "; ")
}

// errUsage marks flag and argument errors.
var errUsage = errors.New("usage")

// NewIG returns the root command.
func NewIG(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "ig",
		Short:         "Run eBPF gadgets on this node",
		Long:          "ig builds, stores and runs gadgets: OCI images holding an eBPF program, a gadget.yaml and optionally a Wasm module.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       version.Version,
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newRunCmd(env), newImageCmd(env), newListContainersCmd(env), newVersionCmd(env))
	root.AddCommand(newLegacyCmds(env)...)
	return root
}

func newVersionCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of ig",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(env.Stdout, version.Version)
			return nil
		},
	}
}
