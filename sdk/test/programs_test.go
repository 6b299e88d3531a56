package sdk_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// mapWant is the expected shape of a map; zero sizes are not checked.
type mapWant struct {
	typ                        ebpf.MapType
	key, value, entries, flags uint32
}

// Maps each SDK header declares, as the runtime sees them.
var (
	bufferMaps = map[string]mapWant{
		"events":              {typ: ebpf.RingBuf, entries: 256 * 1024},
		"events_lost_samples": {ebpf.PerCPUArray, 4, 8, 1, 0},
		"gadget_heap":         {ebpf.PerCPUArray, 4, 10240, 1, 0},
	}
	filterMaps = map[string]mapWant{
		"gadget_mntns_filter_map": {ebpf.Hash, 8, 4, 1024, 0},
	}
	kstackMaps = map[string]mapWant{
		"ig_kstack": {ebpf.StackTrace, 4, 127 * 8, 10000, 0},
	}
	ustackMaps = map[string]mapWant{
		"ig_ustack":   {ebpf.StackTrace, 4, 127 * 8, 10000, 0},
		"ig_build_id": {ebpf.Hash, 4, 127 * 32, 1024, 0},
	}
	pathMaps = map[string]mapWant{
		"gadget_path_bufs": {ebpf.PerCPUArray, 4, 8 + 1<<14, 1, 0},
	}
	socketMaps = map[string]mapWant{
		// BPF_F_NO_PREALLOC = 1
		"gadget_sockets": {ebpf.Hash, 12, 1112, 16384, 1},
	}
)

// Markers and params each header declares.
var (
	filterMarkers = []string{
		"gadget_param_targ_pid", "gadget_param_targ_tid", "gadget_param_targ_uid",
		"gadget_param_targ_gid", "gadget_param_targ_comm",
	}
	ustackMarkers = []string{
		"gadget_param_collect_ustack", "gadget_param_collect_build_id",
		"gadget_param_collect_otel_stack", "gadget_param_ig_build_id_max_entries",
	}
)

// structWant is a BTF struct and the type names (struct, typedef) some of
// its members must have.
type structWant struct {
	size    uint32 // 0: not checked
	members map[string]string
}

type programCase struct {
	src  string
	uapi bool // written against the UAPI headers

	maps    map[string]mapWant
	progs   map[string]ebpf.ProgramType
	markers []string
	structs map[string]structWant
	// calls: program -> subprograms (BPF functions) it must call.
	calls map[string][]string

	// load has the verifier check the object; unloadable programs (this
	// kernel refuses fentry) are dropped first.
	load       bool
	unloadable []string
}

func merge(ms ...map[string]mapWant) map[string]mapWant {
	out := map[string]mapWant{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func cat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

var programCases = []programCase{
	{
		src:  "trace_exec.bpf.c",
		maps: merge(bufferMaps, filterMaps, kstackMaps, ustackMaps, pathMaps),
		progs: map[string]ebpf.ProgramType{
			"ig_sched_exec": ebpf.TracePoint,
			"ig_bprm_check": ebpf.Kprobe,
		},
		markers: cat(filterMarkers, ustackMarkers, []string{
			"gadget_tracer_exec___events___event",
			"gadget_map_tracer_events",
			"gadget_param_paths",
		}),
		structs: map[string]structWant{
			"event": {members: map[string]string{
				"kstack_raw": "gadget_kernel_stack",
				"ustack":     "gadget_user_stack",
				"proc":       "gadget_process",
			}},
			"gadget_user_stack": {size: 72, members: map[string]string{}},
		},
		load: true,
	},
	{
		src:  "trace_open.bpf.c",
		maps: merge(bufferMaps, filterMaps, kstackMaps, ustackMaps, pathMaps),
		progs: map[string]ebpf.ProgramType{
			"ig_openat_e": ebpf.TracePoint,
			"ig_openat_x": ebpf.TracePoint,
		},
		markers: cat(filterMarkers, ustackMarkers, []string{
			"gadget_tracer_open___events___event",
			"gadget_map_tracer_events",
			"gadget_param_paths",
		}),
		structs: map[string]structWant{
			"event": {members: map[string]string{
				"ustack":    "gadget_user_stack",
				"error_raw": "gadget_errno",
			}},
		},
		load: true,
	},
	{
		src: "trace_dns.bpf.c",
		maps: merge(filterMaps, socketMaps, map[string]mapWant{
			"events":     {typ: ebpf.PerfEventArray},
			"tmp_events": {typ: ebpf.PerCPUArray, entries: 1},
		}),
		progs:   map[string]ebpf.ProgramType{"ig_trace_dns": ebpf.SocketFilter},
		markers: cat(filterMarkers, []string{"gadget_tracer_dns___events___event_t", "gadget_param_paths"}),
		structs: map[string]structWant{
			"gadget_socket_key":   {size: 12, members: map[string]string{}},
			"gadget_socket_value": {size: 1112, members: map[string]string{}},
			"event_t": {members: map[string]string{
				"src":  "gadget_l4endpoint_t",
				"proc": "gadget_process",
			}},
		},
		load: true,
	},
	{
		src:  "trace_dns_uapi.bpf.c",
		uapi: true,
		maps: merge(filterMaps, socketMaps, map[string]mapWant{
			"events":              {typ: ebpf.RingBuf, entries: 256 * 1024},
			"events_lost_samples": {ebpf.PerCPUArray, 4, 8, 1, 0},
			"netns_stats":         {typ: ebpf.Hash, key: 4, entries: 1024},
		}),
		progs: map[string]ebpf.ProgramType{"ig_trace_dns": ebpf.SocketFilter},
		markers: cat(filterMarkers, []string{
			"gadget_tracer_dns___events___event_t", "gadget_map_tracer_events", "gadget_param_paths",
		}),
		structs: map[string]structWant{
			"gadget_socket_value": {size: 1112, members: map[string]string{}},
		},
		load: true,
	},
	{
		src: "top_file.bpf.c",
		maps: merge(filterMaps, pathMaps, map[string]mapWant{
			"stats": {typ: ebpf.Hash, key: 24, entries: 10240},
		}),
		progs: map[string]ebpf.ProgramType{
			"ig_topfile_rd": ebpf.Kprobe,
			"ig_topfile_wr": ebpf.Kprobe,
		},
		markers: cat(filterMarkers, []string{
			"gadget_mapiter_file___stats", "gadget_param_all_files", "gadget_param_stats_max_entries",
		}),
		structs: map[string]structWant{
			"file_stat": {members: map[string]string{
				"rbytes_raw": "gadget_bytes",
				"proc":       "gadget_process",
			}},
		},
		load: true,
	},
	{
		src: "top_sched.bpf.c",
		maps: merge(filterMaps, map[string]mapWant{
			"sched": {typ: ebpf.Hash, entries: 10240},
		}),
		progs:   map[string]ebpf.ProgramType{"ig_sched_switch": ebpf.Tracing},
		markers: cat(filterMarkers, []string{"gadget_mapiter_sched___sched"}),
		structs: map[string]structWant{
			"val_t": {members: map[string]string{
				"oncpu_ns_raw": "gadget_duration",
				"preempted":    "gadget_counter__u64",
			}},
		},
		load: true,
	},
	{
		src: "profile_cpu.bpf.c",
		maps: merge(filterMaps, kstackMaps, ustackMaps, map[string]mapWant{
			"counts": {typ: ebpf.Hash, key: 144, value: 8, entries: 10240},
		}),
		progs:   map[string]ebpf.ProgramType{"ig_prof_cpu": ebpf.PerfEvent},
		markers: cat(filterMarkers, ustackMarkers, []string{"gadget_mapiter_samples___counts"}),
		structs: map[string]structWant{
			"key_t": {members: map[string]string{
				"user_stack_raw": "gadget_user_stack",
				"kern_stack_raw": "gadget_kernel_stack",
			}},
		},
		load: true,
	},
	{
		src:   "snapshot_process.bpf.c",
		maps:  filterMaps,
		progs: map[string]ebpf.ProgramType{"ig_snap_proc": ebpf.Tracing},
		markers: cat(filterMarkers, []string{
			"gadget_iter_processes___gadget_process___ig_snap_proc", "gadget_param_show_threads",
		}),
		structs: map[string]structWant{
			"gadget_process": {size: 64, members: map[string]string{"creds": "gadget_creds", "parent": "gadget_parent"}},
		},
		load: true,
	},
	{
		src: "tcpdump.bpf.c",
		maps: merge(filterMaps, socketMaps, map[string]mapWant{
			"packets": {typ: ebpf.PerfEventArray},
		}),
		progs: map[string]ebpf.ProgramType{
			"ingress_main": ebpf.SchedCLS,
			"egress_main":  ebpf.SchedCLS,
		},
		markers: cat(filterMarkers, []string{"gadget_tracer_packets___packets___packet_event_t", "gadget_param_snaplen"}),
		calls: map[string][]string{
			"ingress_main": {"gadget_pf_"},
			"egress_main":  {"gadget_pf_egress"},
		},
		load: true,
	},
	{
		src:  "socket_lookup.bpf.c",
		maps: merge(filterMaps, socketMaps, map[string]mapWant{"results": {typ: ebpf.Array, entries: 1}}),
		progs: map[string]ebpf.ProgramType{
			"lookup_pkt_type": ebpf.SchedCLS,
			"lookup_ingress":  ebpf.SchedCLS,
			"lookup_egress":   ebpf.SchedCLS,
			"pf_stub":         ebpf.SchedCLS,
		},
		markers: filterMarkers,
		calls:   map[string][]string{"pf_stub": {"gadget_pf_"}},
		load:    true,
	},
	{
		src:  "trace_tcp.bpf.c",
		maps: merge(bufferMaps, filterMaps, socketMaps),
		progs: map[string]ebpf.ProgramType{
			"ig_tcp_state":   ebpf.Tracing,
			"ig_tcp_v4_conn": ebpf.Kprobe,
			"ig_tcp_close":   ebpf.Tracing,
		},
		markers: cat(filterMarkers, []string{"gadget_tracer_tcp___events___event", "gadget_map_tracer_events"}),
		structs: map[string]structWant{
			"event": {members: map[string]string{"src": "gadget_l4endpoint_t"}},
		},
		load:       true,
		unloadable: []string{"ig_tcp_close"}, // fentry: refused by this kernel
	},
}

// TestPrograms compiles every gadget-like program for each arch, checks
// what the runtime will look for in the objects, and has the verifier
// accept the host arch's object.
func TestPrograms(t *testing.T) {
	tc := newToolchain(t)
	for _, pc := range programCases {
		t.Run(strings.TrimSuffix(pc.src, ".bpf.c"), func(t *testing.T) {
			t.Parallel()
			src, err := filepath.Abs(filepath.Join("testdata", pc.src))
			if err != nil {
				t.Fatal(err)
			}
			var extra []string
			if pc.uapi {
				extra = uapiFlags()
			}
			specs := map[string]*ebpf.CollectionSpec{}
			for _, a := range archs {
				obj, err := tc.compile(t, a.goarch, src, extra...)
				if err != nil {
					t.Fatalf("%s: %v", a.goarch, err)
				}
				spec, err := ebpf.LoadCollectionSpec(obj)
				if err != nil {
					t.Fatalf("%s: load spec: %v", a.goarch, err)
				}
				specs[a.goarch] = spec
			}

			checkSpec(t, pc, specs["amd64"])
			// The arm64 object must offer the runtime the same things.
			checkSpec(t, pc, specs["arm64"])

			if pc.load {
				requireRoot(t)
				loadSpec(t, pc, specs[hostGoarch()], nil)
				loadSpec(t, pc, specs[hostGoarch()], allFeatures)
			}
		})
	}
}

func hostGoarch() string {
	for _, a := range archs {
		if a.karch == hostKArch() {
			return a.goarch
		}
	}
	return "amd64"
}

func checkSpec(t *testing.T, pc programCase, spec *ebpf.CollectionSpec) {
	t.Helper()
	for name, want := range pc.maps {
		m := spec.Maps[name]
		if m == nil {
			t.Errorf("map %s missing", name)
			continue
		}
		if m.Type != want.typ {
			t.Errorf("map %s: type %v, want %v", name, m.Type, want.typ)
		}
		for _, c := range []struct {
			what      string
			got, want uint32
		}{
			{"key size", m.KeySize, want.key},
			{"value size", m.ValueSize, want.value},
			{"max entries", m.MaxEntries, want.entries},
		} {
			if c.want != 0 && c.got != c.want {
				t.Errorf("map %s: %s %d, want %d", name, c.what, c.got, c.want)
			}
		}
		if m.Flags != want.flags && want.typ != ebpf.RingBuf && want.typ != ebpf.PerfEventArray {
			t.Errorf("map %s: flags %#x, want %#x", name, m.Flags, want.flags)
		}
	}

	for name, want := range pc.progs {
		p := spec.Programs[name]
		if p == nil {
			t.Errorf("program %s missing (have %v)", name, keys(spec.Programs))
			continue
		}
		if p.Type != want {
			t.Errorf("program %s: type %v, want %v", name, p.Type, want)
		}
	}
	if len(spec.Programs) != len(pc.progs) {
		t.Errorf("programs %v, want %v", keys(spec.Programs), keys(pc.progs))
	}

	for _, name := range pc.markers {
		checkMarker(t, spec, name)
	}
	// Every marker-like global must be well formed, not only the listed ones.
	for _, v := range btfVars(spec) {
		if strings.HasPrefix(v.Name, "gadget_") && isMarkerPrefix(v.Name) {
			checkMarker(t, spec, v.Name)
		}
	}

	for name, want := range pc.structs {
		var st *btf.Struct
		if err := spec.Types.TypeByName(name, &st); err != nil {
			t.Errorf("struct %s: %v", name, err)
			continue
		}
		if want.size != 0 && st.Size != want.size {
			t.Errorf("struct %s: size %d, want %d", name, st.Size, want.size)
		}
		for member, typeName := range want.members {
			i := slices.IndexFunc(st.Members, func(m btf.Member) bool { return m.Name == member })
			if i < 0 {
				t.Errorf("struct %s: no member %s", name, member)
				continue
			}
			if got := typeNames(st.Members[i].Type); !slices.Contains(got, typeName) {
				t.Errorf("struct %s: member %s has types %v, want %s among them", name, member, got, typeName)
			}
		}
	}

	for prog, funcs := range pc.calls {
		p := spec.Programs[prog]
		if p == nil {
			continue // reported above
		}
		for _, fn := range funcs {
			if !callsFunc(p.Instructions, fn) {
				t.Errorf("program %s does not call the BPF function %s", prog, fn)
			}
		}
	}
}

var markerPrefixes = []string{
	"gadget_tracer_", "gadget_map_tracer_", "gadget_param_", "gadget_iter_",
	"gadget_snapshotter_", "gadget_mapiter_", "gadget_mapelem_iter_target_",
	"gadget_sk_prog_target_",
}

func isMarkerPrefix(name string) bool {
	return slices.ContainsFunc(markerPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

func btfVars(spec *ebpf.CollectionSpec) []*btf.Var {
	var vars []*btf.Var
	for typ, err := range spec.Types.All() {
		if err != nil {
			break
		}
		if v, ok := typ.(*btf.Var); ok {
			vars = append(vars, v)
		}
	}
	return vars
}

// checkMarker checks that name is a global `const void *` variable, the
// shape the runtime's discovery requires.
func checkMarker(t *testing.T, spec *ebpf.CollectionSpec, name string) {
	t.Helper()
	var v *btf.Var
	if err := spec.Types.TypeByName(name, &v); err != nil {
		t.Errorf("marker %s: %v", name, err)
		return
	}
	if v.Linkage != btf.GlobalVar {
		t.Errorf("marker %s: linkage %v, want global", name, v.Linkage)
	}
	ptr, ok := v.Type.(*btf.Pointer)
	if !ok {
		t.Errorf("marker %s: type %v, want const void *", name, v.Type)
		return
	}
	c, ok := ptr.Target.(*btf.Const)
	if !ok {
		t.Errorf("marker %s: points to %v, want const void", name, ptr.Target)
		return
	}
	if _, ok := c.Type.(*btf.Void); !ok {
		t.Errorf("marker %s: points to const %v, want const void", name, c.Type)
	}
}

// typeNames returns the names of the typedefs, structs and unions on t's
// type chain (through typedefs, qualifiers and arrays).
func typeNames(t btf.Type) []string {
	var names []string
	for t != nil {
		switch x := t.(type) {
		case *btf.Typedef:
			names = append(names, x.Name)
			t = x.Type
		case *btf.Const:
			t = x.Type
		case *btf.Volatile:
			t = x.Type
		case *btf.Array:
			t = x.Type
		case *btf.Struct:
			return append(names, x.Name)
		case *btf.Union:
			return append(names, x.Name)
		default:
			return names
		}
	}
	return names
}

// callsFunc reports whether insns contain a call to BPF function fn and
// that function's body (a subprogram linked into the program).
func callsFunc(insns asm.Instructions, fn string) bool {
	var called, linked bool
	for _, ins := range insns {
		if ins.IsFunctionReference() || ins.IsFunctionCall() {
			if ins.Reference() == fn {
				called = true
			}
		}
		if ins.Symbol() == fn {
			linked = true
		}
	}
	return called && linked
}

// allFeatures turns on every optional path of the headers, so that the
// verifier sees the code the defaults prune: filters, containers, stacks,
// build ids and paths. Variables a program lacks are skipped.
var allFeatures = map[string]any{
	"gadget_filter_by_mntns": true,
	"targ_pid":               uint32(1),
	"targ_tid":               uint32(1),
	"targ_uid":               uint32(0),
	"targ_gid":               uint32(0),
	"targ_comm":              [16]byte{'i', 'g'},
	"collect_ustack":         true,
	"collect_build_id":       true,
	"paths":                  true,
	"all_files":              true,
	"show_threads":           true,
}

// loadSpec loads every loadable program of spec into the kernel with the
// given variables set, then releases everything.
func loadSpec(t *testing.T, pc programCase, spec *ebpf.CollectionSpec, vars map[string]any) {
	t.Helper()
	spec = spec.Copy()
	for _, p := range pc.unloadable {
		delete(spec.Programs, p)
	}
	var set []string
	for name, v := range vars {
		vs := spec.Variables[name]
		if vs == nil {
			continue
		}
		if err := vs.Set(v); err != nil {
			t.Fatalf("set %s: %v", name, err)
		}
		set = append(set, name)
	}
	slices.Sort(set)
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("load with %v: %v\nverifier log (tail):\n%s", set, err, tail(ve.Log, 40))
		}
		t.Fatalf("load with %v: %v", set, err)
	}
	coll.Close()
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
