// The Wasm step of runtime.BenchmarkUserspaceTraceOpenWasm: per event of
// trace_open it reads the pid, the timestamp and the command and sets
// score = pid + len(comm) + timestamp&1.
package main

import api "github.com/gadgetkit/ig/sdk/go"

var (
	pid, ts, comm, score api.Field
	commBuf              [16]byte
)

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("open")
	if err != nil {
		api.LogString(api.ErrorLevel, "b3: "+err.Error())
		return 1
	}
	for _, f := range []struct {
		f    *api.Field
		name string
	}{{&pid, "proc.pid"}, {&ts, "timestamp_raw"}, {&comm, "proc.comm"}} {
		if *f.f, err = ds.GetField(f.name); err != nil {
			api.LogString(api.ErrorLevel, "b3: "+err.Error())
			return 1
		}
	}
	if score, err = ds.AddField("score", api.Kind_Uint32); err != nil {
		api.LogString(api.ErrorLevel, "b3: "+err.Error())
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
