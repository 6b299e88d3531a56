// A hostile guest: the first event sends it into an endless loop.
package main

import api "github.com/gadgetkit/ig/sdk/go"

var sink uint64

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("burst")
	if err != nil {
		return 1
	}
	ds.Subscribe(func(api.DataSource, api.Data) {
		for {
			sink++
		}
	}, 0)
	return 0
}

func main() {}
