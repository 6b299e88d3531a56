// The Wasm half of trace_exec: it turns the NUL-separated argument bytes
// that the eBPF program appends to each sample (hidden field args_raw)
// into the `args` string, the arguments joined with single spaces.
//
// Joining loses the boundaries of arguments that contain spaces; the raw
// bytes stay available in args_raw (hidden, not in JSON) for consumers
// that need them exactly.
package main

import (
	api "github.com/gadgetkit/ig/sdk/go"
)

// argsBufSize is the largest args_raw the eBPF program sends (ARGS_BUF).
const argsBufSize = 8192

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	ds, err := api.GetDataSource("exec")
	if err != nil {
		api.Errorf("datasource exec: %v", err)
		return 1
	}
	raw, err := ds.GetField("args_raw")
	if err != nil {
		api.Errorf("field args_raw: %v", err)
		return 1
	}
	count, err := ds.GetField("args_count")
	if err != nil {
		api.Errorf("field args_count: %v", err)
		return 1
	}
	args, err := ds.AddField("args", api.Kind_String)
	if err != nil {
		api.Errorf("add field args: %v", err)
		return 1
	}

	buf := make([]byte, argsBufSize)
	out := make([]byte, 0, argsBufSize)
	ds.Subscribe(func(_ api.DataSource, d api.Data) {
		n, err := raw.Bytes(d, buf)
		if err != nil {
			return
		}
		want, _ := count.Uint32(d)
		out = joinArgs(out[:0], buf[:n], want)
		args.SetString(d, string(out))
	}, 0)
	return 0
}

// joinArgs appends to dst at most max NUL-terminated strings of b, joined
// by spaces. A last string without its NUL (a cut sample) still counts.
func joinArgs(dst, b []byte, max uint32) []byte {
	var n uint32
	start := 0
	for i := 0; i <= len(b) && n < max; i++ {
		if i < len(b) && b[i] != 0 {
			continue
		}
		if i == len(b) && start == i {
			break // no unterminated tail
		}
		if n > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, b[start:i]...)
		n++
		start = i + 1
	}
	return dst
}

func main() {}
