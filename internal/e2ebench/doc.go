// Package e2ebench measures ig end to end: the real ig binary runs a
// gadget from a local store while a load generator, a separate process,
// produces the events it traces.
//
// # Scenarios
//
// A [Scenario] names a gadget, a load and a rate (0: as fast as the
// generator goes). [Run] starts the generator, starts `ig run GADGET -o
// json` with its standard output on a pipe, waits for the first event of
// the generator (a marker the generator emits every millisecond until told
// to start), lets the generator run for the scenario's duration, waits
// until ig has read what is left in the kernel, has the generator emit
// tail markers (a perf buffer reports its drops only with the next event
// it stores), stops ig with SIGINT and reports a [Result]: events
// generated, delivered (counted from ig's output, matching only the
// generator's load events), dropped as ig counted them (its
// {"lost_events":…} records), ig's CPU time and peak RSS from wait4, its
// CPU time during the load alone (/proc), the time from exec to the first
// event and the generator's CPU per operation (getrusage over the load).
//
// Loads:
//
//   - [LoadOpen]: a tight open(2)+close(2) loop on one file, one event of
//     trace_open per iteration. The generator pins itself to one CPU and
//     measures its own CPU with getrusage. ig runs with --pid of the
//     generator, so every event in the ring (and every drop) is the
//     generator's.
//   - [LoadDNS]: UDP DNS queries from a client to a responder the harness
//     starts on 127.0.0.77:53, both inside a network namespace of their own
//     (only lo, up), where ig runs too; two events of trace_dns per query
//     (the query and the response, each seen once on lo).
//
// The generator is the test binary itself, re-executed with the role in
// the environment ([MaybeRunRole] from TestMain). With [Env.PerfData]
// set, `perf record` profiles ig during the load.
//
// # Store
//
// ig is built from the source tree once per test binary; the gadget images
// are built into a store of their own (bin/e2ebench/oci-store, with the
// Wasm compilation cache in bin/e2ebench/cache) and rebuilt only when their
// sources change, so that start-up is measured with the image and the
// compiled Wasm module cached, as a user who ran the gadget before sees it.
package e2ebench
