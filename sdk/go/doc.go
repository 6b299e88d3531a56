// Package api is the Go SDK for the wasm part of ig gadgets.
//
// It offers the same API as Inspektor Gadget's Go SDK
// (github.com/inspektor-gadget/inspektor-gadget/wasmapi/go): a gadget
// written for it builds against this package after changing the import
// path, and the module it produces runs on Inspektor Gadget as well as on
// ig.
//
// # Writing a gadget
//
// Build the gadget's go/ directory as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o program.wasm .
//
// (`ig image build` does this.) The package exports gadgetAPIVersion and
// the callback entry points itself; the gadget exports the lifecycle
// functions it needs and an empty main:
//
//	//go:wasmexport gadgetInit
//	func gadgetInit() int32 {
//		ds, err := api.GetDataSource("exec")
//		if err != nil {
//			api.Warnf("get data source: %v", err)
//			return 1
//		}
//		comm, _ := ds.GetField("comm")
//		ds.Subscribe(func(ds api.DataSource, d api.Data) {
//			s, _ := comm.String(d, 16)
//			comm.SetString(d, strings.ToUpper(s))
//		}, 0)
//		return 0
//	}
//
//	func main() {}
//
// gadgetPreStart, gadgetStart, gadgetStop and gadgetPostStop work the same
// way. Maps exist from gadgetStart on.
//
// # Batches
//
// On an ig host a Data subscription (Subscribe) is not called once per
// event: the host writes a batch of events into guest memory and calls the
// module once, and this package runs the subscription for every event of
// the batch in order. Gadget code does not change. While it runs, the Data
// handle names a record of the batch (0x40000000 + i), and:
//
//   - getters of fields the gadget obtained for that data source (GetField,
//     AddField) read the value straight from the batch, without a host
//     call, when asked for the field's own kind;
//   - setters of such fields store the value in the batch and mark it
//     changed; the host applies the changes when the batch is done, before
//     the next stage sees the events; a getter called after a setter in
//     the same callback returns the new value (with the same kind). A
//     value the host would refuse (a string longer than a fixed-size
//     field, a value of another kind) is set by a host call instead, so
//     the setter reports the error as in v1; so is a field the host flags
//     in a batch because it cannot read or set it in some record (a
//     fixed-size field beyond the end of a short record): during that
//     batch its getters and setters call the host, whose errors concern
//     that record only;
//   - everything else (other fields, other kinds, data sources, packets,
//     maps, logging) calls the host as in v1, which accepts batch handles.
//
// Batch handles are only valid during the callback; do not keep them.
// Array and Packet subscriptions are called once per packet, as in v1.
// Batches larger than 4 MiB are refused, and so is a batch that would
// start while another one runs (a callback emitting into a data source the
// module also subscribes to): the host then calls per event.
//
// The batch machinery costs no host import: the module exports
// gadgetBatchBuffer and dataSourceCallbackBatch, which hosts that do not
// know them (Inspektor Gadget) never call. The one extension that needs the
// host is [Data.Discard], which drops an event; modules that never call it
// do not import it and run on any v1 host.
//
// The wire format is in sdk/WASM-ABI.md of the ig repository.
//
// # Differences from Inspektor Gadget's SDK
//
//   - [Data.Discard] is new (see above).
//   - [LogLevel] is exported (upstream's level type is unexported; the
//     constants are the same).
//   - [Map.Lookup] also accepts a slice of fixed-size values for value.
//   - Errors carry different messages.
//
// # Testing
//
// Outside GOOS=wasip1 the package compiles against a stand-in host that
// fails every call, so code using it can be vetted and unit tested
// natively; it does not emulate Inspektor Gadget.
package api
