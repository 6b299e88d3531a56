// Command ig builds, stores and runs eBPF gadgets on this node.
package main

import (
	"context"
	"os"
	"runtime"

	"github.com/gadgetkit/ig/internal/cli"
)

// The main goroutine keeps the main thread for itself: code that joins
// another namespace on a locked thread (socket filters, iterators in a
// container's netns) then never runs on the thread group leader, so
// /proc/self/ns/* always describes ig's own namespaces.
func init() { runtime.LockOSThread() }

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:]))
}
