// Command sdkbench is a bench guest written with the Go SDK (sdk/go), as
// gadget authors write modules: per event it reads pid (u32), ts (u64)
// and comm (cstring) and sets score = pid + len(comm) + ts&1 (u32). The
// SDK serves them from the batch buffer.
//
// It runs on package wasmhost's bench datasource (bench: pid, ts, comm)
// and, built into runtime/testdata/b3, on trace_open's (open: proc.pid,
// timestamp_raw, proc.comm).
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
	if err := initGuest(); err != nil {
		api.LogString(api.ErrorLevel, "sdkbench: "+err.Error())
		return 1
	}
	return 0
}

func initGuest() error {
	ds, err := api.GetDataSource("bench")
	if err != nil {
		if ds, err = api.GetDataSource("open"); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		f           *api.Field
		name, other string
	}{{&pid, "pid", "proc.pid"}, {&ts, "ts", "timestamp_raw"}, {&comm, "comm", "proc.comm"}} {
		if *f.f, err = ds.GetField(f.name); err != nil {
			if *f.f, err = ds.GetField(f.other); err != nil {
				return err
			}
		}
	}
	if score, err = ds.AddField("score", api.Kind_Uint32); err != nil {
		return err
	}
	return ds.Subscribe(onEvent, 0)
}

func onEvent(_ api.DataSource, d api.Data) {
	p, _ := pid.Uint32(d)
	t, _ := ts.Uint64(d)
	n, _ := comm.Bytes(d, commBuf[:])
	score.SetUint32(d, p+n+uint32(t&1))
}

func main() {}
