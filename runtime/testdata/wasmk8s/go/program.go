// A guest that sees the container enrichment: it copies k8s.podName into
// a field of its own.
package main

import api "github.com/gadgetkit/ig/sdk/go"

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("burst")
	if err != nil {
		return 1
	}
	pod, err := ds.GetField("k8s.podName")
	if err != nil {
		api.Errorf("k8s.podName: %v", err)
		return 1
	}
	seen, err := ds.AddField("pod_seen_by_wasm", api.Kind_String)
	if err != nil {
		return 1
	}
	ds.Subscribe(func(_ api.DataSource, d api.Data) {
		name, err := pod.String(d, 256)
		if err != nil {
			return
		}
		seen.SetString(d, "wasm:"+name)
	}, 0)
	return 0
}

func main() {}
