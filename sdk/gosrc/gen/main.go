// Command gen packs the Go SDK module (sdk/go) into sdk/gosrc/sdk.tar. Run
// it through `go generate ./sdk/gosrc` after changing sdk/go.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gadgetkit/ig/sdk/gosrc/internal/tarpack"
)

func main() {
	src := flag.String("src", "../go", "the SDK module directory")
	out := flag.String("o", "sdk.tar", "the tar file to write")
	flag.Parse()
	data, err := tarpack.Pack(*src)
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
