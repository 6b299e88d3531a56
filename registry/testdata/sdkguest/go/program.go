// A guest written for ig's SDK: it uses the Discard extension, so it
// imports ig.dataDiscard.
package main

import (
	"strings"

	api "github.com/gadgetkit/ig/sdk/go"
)

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("open")
	if err != nil {
		api.Errorf("get data source: %v", err)
		return 1
	}
	pid, err := ds.GetField("pid")
	if err != nil {
		return 1
	}
	fname, err := ds.GetField("fname")
	if err != nil {
		return 1
	}
	upper, err := ds.AddField("fname_upper", api.Kind_String)
	if err != nil {
		return 1
	}
	ds.Subscribe(func(ds api.DataSource, d api.Data) {
		name, err := fname.String(d, 256)
		if err != nil {
			return
		}
		if strings.HasPrefix(name, "/proc/") {
			d.Discard()
			return
		}
		p, _ := pid.Uint32(d)
		pid.SetUint32(d, p)
		upper.SetString(d, strings.ToUpper(name))
	}, 0)
	return 0
}

func main() {}
