// Package gadgetspec turns a gadget's eBPF ELF and its gadget.yaml into a
// [Spec]: the datasources, params, iterators and map iterators that the ELF
// declares through marker variables. It is pure data: nothing here talks to
// the kernel. Loading a Spec is the job of package loader.
//
// # Markers
//
// A gadget declares its contract with unused global variables of type
// `const void *` whose names encode the information, parts separated by
// three underscores:
//
//	gadget_tracer_<ds>___<map>___<struct>   a tracer (ring buffer or perf array)
//	gadget_param_<var>                      a const volatile global as a param
//	gadget_iter_<ds>___<struct>___<prog>... an iterator (1 to 3 iter programs)
//	gadget_snapshotter_...                  old spelling of gadget_iter_
//	gadget_mapiter_<ds>___<map>             a map iterator
//	gadget_map_tracer_<map>                 a tracer map (may become a perf array)
//	gadget_var_<name>                       a const volatile slot for operators
//	gadget_mapelem_iter_target_<prog>___<map>  the map an iter/bpf_map_elem program walks
//
// The marker variables are found by walking the BTF of the ELF; their types
// are checked. A marker with a known prefix that is malformed is an error
// that names the marker and wraps [ErrInvalidMarker]. Names with the
// gadget_ prefix that match no known marker are ignored, so that newer
// gadgets still parse.
//
// # Fields
//
// The fields of a datasource come from the members of the BTF struct,
// recursively: a nested struct becomes a container field with subfields
// ("proc.creds.uid"). Members whose name starts with "__" are private and
// skipped. Each field is tagged "name:<member>", "src:ebpf" and
// "type:<typedef>" for every typedef in its type chain; the typedef selects
// an annotation template (see templates.go), which gadget.yaml may override.
//
// # Errors
//
// [New] returns errors wrapping [ErrInvalidMarker] for bad markers and
// [ErrInvalidParam] for bad params. [Param.Parse] returns errors wrapping
// [ErrInvalidParamValue] that name the param key.
package gadgetspec
