// Package sdk ships what gadget authors build against. Include holds the C
// headers of sdk/include (gadget/macros.h, gadget/types.h, ...), embedded so
// that `ig image build` works without a source checkout.
package sdk

import "embed"

// Include is the sdk/include tree. Paths start with "include/", e.g.
// "include/gadget/macros.h"; use fs.Sub(Include, "include") for a tree whose
// root is the -I directory.
//
//go:embed all:include
var Include embed.FS
