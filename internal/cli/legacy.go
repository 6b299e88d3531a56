package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Legacy verbs: `ig trace open`, `ig top file`, `ig snapshot process`, as
// the docs of the old built-in gadgets show them. Each runs the image-based
// gadget of the same name (trace_open, top_file, snapshot_process) with the
// rest of the command line, so every flag of `ig run` works, legacy column
// and filter names included (-o columns=…, --filter path:…).
var legacyVerbs = []struct{ verb, short string }{
	{"trace", "Trace events (legacy syntax of ig run trace_<name>)"},
	{"top", "Show top consumers (legacy syntax of ig run top_<name>)"},
	{"snapshot", "Take a snapshot (legacy syntax of ig run snapshot_<name>)"},
	{"profile", "Profile (legacy syntax of ig run profile_<name>)"},
	{"advise", "Advise (legacy syntax of ig run advise_<name>)"},
	{"audit", "Audit (legacy syntax of ig run audit_<name>)"},
}

func newLegacyCmds(env Env) []*cobra.Command {
	var cmds []*cobra.Command
	for _, v := range legacyVerbs {
		verb := v.verb
		cmds = append(cmds, &cobra.Command{
			Use:                verb + " NAME [flags]",
			Short:              v.short,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 || strings.HasPrefix(args[0], "-") {
					if wantsHelp(args) {
						return cmd.Help()
					}
					return fmt.Errorf("%s: missing gadget name (e.g. ig %s %s)", verb, verb, exampleOf(verb))
				}
				// Legacy names use dashes (trace tcpretrans, top block-io).
				name := verb + "_" + strings.ReplaceAll(args[0], "-", "")
				return runGadget(cmd.Context(), env, cmd, append([]string{name}, args[1:]...))
			},
		})
	}
	return cmds
}

func exampleOf(verb string) string {
	switch verb {
	case "top":
		return "file"
	case "snapshot":
		return "process"
	}
	return "open"
}
