// The Wasm half of the wasm_filter example: it adds two fields to every
// exec event and drops the execs of the programs named by --ignore.
//
// Nothing here is batch-aware: the SDK receives events in batches from ig
// and calls the callback once per event; field reads come straight from
// the batch, with no call into the host.
package main

import (
	"strings"

	api "github.com/gadgetkit/ig/sdk/go"
)

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("exec")
	if err != nil {
		api.Errorf("datasource exec: %v", err)
		return 1
	}
	filename, err := ds.GetField("filename")
	if err != nil {
		api.Errorf("field filename: %v", err)
		return 1
	}
	basename, err := ds.AddField("basename", api.Kind_String)
	if err != nil {
		api.Errorf("add basename: %v", err)
		return 1
	}
	depth, err := ds.AddField("path_depth", api.Kind_Uint32)
	if err != nil {
		api.Errorf("add path_depth: %v", err)
		return 1
	}
	ignored := map[string]bool{}
	list, err := api.GetParamValue("ignore", 1024)
	if err != nil {
		api.Errorf("param ignore: %v", err)
		return 1
	}
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			ignored[name] = true
		}
	}

	ds.Subscribe(func(_ api.DataSource, d api.Data) {
		path, err := filename.String(d, 128)
		if err != nil {
			return
		}
		base := path[strings.LastIndexByte(path, '/')+1:]
		if ignored[base] {
			d.Discard()
			return
		}
		basename.SetString(d, base)
		depth.SetUint32(d, uint32(strings.Count(path, "/")))
	}, 0)
	return 0
}

func main() {}
