// Command ig builds, stores and runs eBPF gadgets on this node.
package main

import (
	"context"
	"os"

	"github.com/gadgetkit/ig/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:]))
}
