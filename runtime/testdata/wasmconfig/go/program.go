// A guest that changes the gadget's configuration before the load: it
// disables the only program, so the run must see no event.
package main

import api "github.com/gadgetkit/ig/sdk/go"

//go:wasmexport gadgetInit
func gadgetInit() int32 { return 0 }

//go:wasmexport gadgetPreStart
func gadgetPreStart() int32 {
	if err := api.SetConfig("programs.ig_rt_burst.attach_to", "gadget_program_disabled"); err != nil {
		api.Errorf("%v", err)
		return 1
	}
	return 0
}

func main() {}
