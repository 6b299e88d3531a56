// Command sdkbench is the bench guest of package wasmhost written with the
// Go SDK (sdk/go), as gadget authors write modules: per event it reads
// pid (u32), ts (u64) and comm (cstring) and sets score = pid + len(comm)
// + ts&1 (u32). The SDK serves them from the batch buffer.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, in a module
// that requires the SDK.
package main

import api "github.com/gadgetkit/ig/sdk/go"

var (
	pid, ts, comm, score api.Field
	commBuf              [16]byte
)

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("bench")
	if err != nil {
		return 1
	}
	for _, f := range []struct {
		f    *api.Field
		name string
	}{{&pid, "pid"}, {&ts, "ts"}, {&comm, "comm"}} {
		if *f.f, err = ds.GetField(f.name); err != nil {
			return 1
		}
	}
	if score, err = ds.AddField("score", api.Kind_Uint32); err != nil {
		return 1
	}
	if err := ds.Subscribe(onEvent, 0); err != nil {
		return 1
	}
	return 0
}

func onEvent(_ api.DataSource, d api.Data) {
	p, _ := pid.Uint32(d)
	t, _ := ts.Uint64(d)
	n, _ := comm.Bytes(d, commBuf[:])
	score.SetUint32(d, p+n+uint32(t&1))
}

func main() {}
