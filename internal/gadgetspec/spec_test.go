package gadgetspec

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/metadata"
)

var (
	fullOnce sync.Once
	fullELF  []byte
	fullErr  string
)

// fullObject compiles testdata/full.bpf.c once per test binary.
func fullObject(t *testing.T) []byte {
	t.Helper()
	fullOnce.Do(func() {
		path := compileBPF(t, "full.bpf.c")
		b, err := os.ReadFile(path)
		if err != nil {
			fullErr = err.Error()
			return
		}
		fullELF = b
	})
	if fullELF == nil {
		t.Fatalf("compile full.bpf.c: %s", fullErr)
	}
	return fullELF
}

func mustSpec(t *testing.T, meta *metadata.Gadget) *Spec {
	t.Helper()
	s, err := New(bytes.NewReader(fullObject(t)), meta)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestTracerFields(t *testing.T) {
	s := mustSpec(t, nil)
	if len(s.Tracers) != 1 {
		t.Fatalf("got %d tracers, want 1", len(s.Tracers))
	}
	tr := s.Tracers[0]
	if tr.MapName != "events" || tr.StructName != "event" || tr.DataSource.Name != "open" {
		t.Fatalf("tracer = %q/%q/%q", tr.DataSource.Name, tr.MapName, tr.StructName)
	}
	ds := tr.DataSource
	if ds.Type != datasource.TypeSingle || ds.StaticSize != 256 {
		t.Errorf("ds type %v size %d, want single 256", ds.Type, ds.StaticSize)
	}

	const (
		H = datasource.FlagHidden
		C = datasource.FlagContainer
	)
	type want struct {
		name        string
		kind        datasource.Kind
		off, size   uint32
		flags       datasource.Flags
		tags        []string // besides name: and src:ebpf
		annotations map[string]string
	}
	wants := []want{
		{"timestamp_raw", datasource.Uint64, 0, 8, H, []string{"type:gadget_timestamp", "type:__u64"},
			map[string]string{"columns.width": "35", "columns.maxwidth": "35", "columns.ellipsis": "end", "columns.hidden": "true"}},
		{"proc", datasource.Invalid, 8, 64, C | H, []string{"type:gadget_process"}, map[string]string{"columns.hidden": "true"}},
		{"proc.comm", datasource.CString, 8, 16, 0, []string{"type:gadget_comm"},
			map[string]string{"columns.alias": "comm", "columns.maxwidth": "16"}},
		{"proc.pid", datasource.Uint32, 24, 4, 0, []string{"type:gadget_pid", "type:__u32"},
			map[string]string{"columns.alias": "pid", "columns.minwidth": "7", "columns.alignment": "right"}},
		{"proc.tid", datasource.Uint32, 28, 4, 0, []string{"type:gadget_tid", "type:__u32"},
			map[string]string{"columns.alias": "tid", "columns.minwidth": "7", "columns.alignment": "right"}},
		{"proc.mntns_id", datasource.Uint64, 32, 8, H, []string{"type:gadget_mntns_id", "type:__u64"},
			map[string]string{"columns.alias": "mntns_id", "columns.width": "12", "columns.alignment": "right", "columns.hidden": "true"}},
		{"proc.creds", datasource.Invalid, 40, 8, C, []string{"type:gadget_creds"}, map[string]string{"columns.alias": "creds"}},
		{"proc.creds.uid", datasource.Uint32, 40, 4, 0, []string{"type:gadget_uid", "type:__u32"},
			map[string]string{"columns.alias": "uid", "columns.minwidth": "8", "columns.alignment": "right"}},
		{"proc.creds.gid", datasource.Uint32, 44, 4, 0, []string{"type:gadget_gid", "type:__u32"},
			map[string]string{"columns.alias": "gid", "columns.minwidth": "8", "columns.alignment": "right"}},
		{"proc.parent", datasource.Invalid, 48, 20, C | H, []string{"type:gadget_parent"},
			map[string]string{"columns.alias": "parent", "columns.hidden": "true"}},
		{"proc.parent.comm", datasource.CString, 48, 16, H, []string{"type:gadget_pcomm"},
			map[string]string{"columns.alias": "comm", "columns.maxwidth": "16", "columns.hidden": "true"}},
		{"proc.parent.pid", datasource.Uint32, 64, 4, H, []string{"type:gadget_ppid", "type:__u32"},
			map[string]string{"columns.alias": "pid", "columns.minwidth": "7", "columns.alignment": "right", "columns.hidden": "true"}},
		{"netns_id", datasource.Uint32, 72, 4, H, []string{"type:gadget_netns_id", "type:__u32"},
			map[string]string{"columns.width": "12", "columns.alignment": "right", "columns.hidden": "true"}},
		{"kind_raw", datasource.Uint32, 76, 4, 0, []string{"enum:op_kind"}, map[string]string{}},
		{"ok", datasource.Bool, 80, 1, 0, nil, map[string]string{}},
		{"fname", datasource.CString, 81, 64, 0, nil, map[string]string{}},
		{"ports", datasource.Uint16 | datasource.ArrayOf, 146, 8, 0, []string{"type:__u16"}, map[string]string{}},
		{"err", datasource.Int32, 156, 4, 0, []string{"type:__s32"}, map[string]string{}},
		// __private_cookie is skipped.
		{"addr", datasource.Bytes, 168, 16, 0, []string{"type:addr"}, map[string]string{}},
		{"ratio", datasource.Float32, 184, 4, 0, nil, map[string]string{}},
		{"score", datasource.Float64, 192, 8, 0, nil, map[string]string{}},
		{"other_pid", datasource.Uint32, 200, 4, 0, []string{"type:my_pid", "type:gadget_pid", "type:__u32"},
			map[string]string{"columns.minwidth": "7", "columns.alignment": "right"}},
		{"size", datasource.Uint64, 208, 8, 0, []string{"type:gadget_bytes", "type:__u64"},
			map[string]string{"columns.width": "10", "columns.alignment": "right"}},
		{"latency", datasource.Uint64, 216, 8, 0, []string{"type:gadget_duration", "type:__u64"},
			map[string]string{"columns.width": "20", "columns.alignment": "right"}},
		{"syscall_raw", datasource.Uint64, 224, 8, 0, []string{"type:gadget_syscall", "type:__u64"},
			map[string]string{"columns.width": "18", "columns.maxwidth": "28"}},
		{"tiny", datasource.Int8, 232, 1, 0, []string{"type:__s8"}, map[string]string{}},
		{"big", datasource.Int64, 240, 8, 0, []string{"type:__s64"}, map[string]string{}},
		{"perms_raw", datasource.Uint32, 248, 4, 0, []string{"enum:perm_set"}, map[string]string{}},
	}

	if f := ds.Field("kind_raw"); f.Bitfield || !slices.Equal(f.Enum, []datasource.EnumValue{{Name: "OP_OPEN", Value: 1}, {Name: "OP_CLOSE", Value: 2}}) {
		t.Errorf("kind_raw: enum %v bitfield %v", f.Enum, f.Bitfield)
	}
	if f := ds.Field("perms_raw"); !f.Bitfield || len(f.Enum) != 3 || f.Enum[2] != (datasource.EnumValue{Name: "PERM_EXEC", Value: 4}) {
		t.Errorf("perms_raw: enum %v bitfield %v", f.Enum, f.Bitfield)
	}

	var names []string
	for _, w := range wants {
		names = append(names, w.name)
	}
	if got := ds.FieldNames(); !slices.Equal(got, names) {
		t.Fatalf("fields:\n got %v\nwant %v", got, names)
	}
	for _, w := range wants {
		t.Run(w.name, func(t *testing.T) {
			f := ds.Field(w.name)
			if f.Kind != w.kind || f.Offset != w.off || f.Size != w.size {
				t.Errorf("kind/offset/size = %v/%d/%d, want %v/%d/%d", f.Kind, f.Offset, f.Size, w.kind, w.off, w.size)
			}
			if got := f.Flags &^ datasource.FlagStatic; got != w.flags {
				t.Errorf("flags = %b, want %b", got, w.flags)
			}
			if f.Flags&datasource.FlagStatic == 0 {
				t.Error("not static")
			}
			tags := append([]string{"name:" + f.Name, "src:ebpf"}, w.tags...)
			if !slices.Equal(f.Tags, tags) {
				t.Errorf("tags = %v, want %v", f.Tags, tags)
			}
			if !reflect.DeepEqual(f.Annotations, w.annotations) {
				t.Errorf("annotations = %v, want %v", f.Annotations, w.annotations)
			}
			wantParent := -1
			if i := strings.LastIndexByte(w.name, '.'); i >= 0 {
				wantParent = ds.Field(w.name[:i]).Index
			}
			if f.Parent != wantParent {
				t.Errorf("parent = %d, want %d", f.Parent, wantParent)
			}
		})
	}
}

const testYAML = `
name: full
datasources:
  open:
    annotations:
      cli.clear-screen-before: "true"
    fields:
      fname:
        annotations:
          template: comm
          columns.width: 40
          description: the file name
      proc.mntns_id:
        annotations:
          columns.hidden: false
      kind_raw:
        annotations:
          columns.hidden: true
  counts:
    annotations:
      ebpf.map.flush-on-stop: "true"
params:
  ebpf:
    ignore_failed:
      key: failed
      defaultValue: "false"
      description: Show failed opens too
    level:
      tags: [advanced]
`

func TestMetadataOverrides(t *testing.T) {
	meta, err := metadata.Parse([]byte(testYAML), "gadget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := mustSpec(t, meta)
	ds := s.Tracers[0].DataSource

	if got := ds.Annotations["cli.clear-screen-before"]; got != "true" {
		t.Errorf("ds annotation = %q", got)
	}
	fname := ds.Field("fname")
	want := map[string]string{"columns.maxwidth": "16", "columns.width": "40", "description": "the file name", "template": "comm"}
	if !reflect.DeepEqual(fname.Annotations, want) {
		t.Errorf("fname annotations = %v, want %v", fname.Annotations, want)
	}
	if f := ds.Field("proc.mntns_id"); f.Flags&datasource.FlagHidden != 0 || f.Annotations["columns.hidden"] != "false" {
		t.Errorf("proc.mntns_id not unhidden: %v %v", f.Flags, f.Annotations)
	}
	if f := ds.Field("kind_raw"); f.Flags&datasource.FlagHidden == 0 {
		t.Error("kind_raw not hidden")
	}
	if got := s.MapIters[0].DataSource.Annotations["ebpf.map.flush-on-stop"]; got != "true" {
		t.Errorf("map iter ds annotation = %q", got)
	}

	p := findParam(t, s, "failed")
	if p.VarName != "ignore_failed" || p.Default != "false" || p.Description != "Show failed opens too" {
		t.Errorf("param failed = %+v", *p)
	}
	if p := findParam(t, s, "level"); !slices.Equal(p.Tags, []string{"advanced"}) {
		t.Errorf("level tags = %v", p.Tags)
	}
}

func TestMetadataErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown template": "datasources:\n  open:\n    fields:\n      fname:\n        annotations:\n          template: nosuch\n",
		"bad default":      "params:\n  ebpf:\n    level:\n      defaultValue: abc\n",
		"default too long": "params:\n  ebpf:\n    prefix:\n      defaultValue: 01234567890123456\n",
		"duplicate key":    "params:\n  ebpf:\n    level:\n      key: pid\n",
	} {
		t.Run(name, func(t *testing.T) {
			meta, err := metadata.Parse([]byte(doc), "gadget.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := New(bytes.NewReader(fullObject(t)), meta); err == nil {
				t.Fatal("New succeeded")
			} else {
				t.Log(err)
			}
		})
	}
}

func findParam(t *testing.T, s *Spec, key string) *Param {
	t.Helper()
	for _, p := range s.Params {
		if p.Key == key {
			return p
		}
	}
	t.Fatalf("no param %q", key)
	return nil
}

func TestParams(t *testing.T) {
	s := mustSpec(t, nil)
	want := []Param{
		{Key: "ignore_failed", VarName: "ignore_failed", Kind: datasource.Bool, Default: "true"},
		{Key: "prefix", VarName: "prefix", Kind: datasource.String, MaxLen: 16, Default: "/etc/"},
		{Key: "pid", VarName: "targ_pid", Kind: datasource.Uint32, Default: "0",
			Description: "Show only events of this process ID (0: all processes)", Tags: []string{"group:Process"}},
		{Key: "comm", VarName: "targ_comm", Kind: datasource.String, MaxLen: 16,
			Description: "Show only events of processes with this command name (default: all)", Tags: []string{"group:Process"}},
		{Key: "level", VarName: "level", Kind: datasource.Int16, Default: "-3"},
		{Key: "max_bytes", VarName: "max_bytes", Kind: datasource.Uint64, Default: "4096"},
		{Key: "ratio_min", VarName: "ratio_min", Kind: datasource.Float64, Default: "0.5"},
	}
	if len(s.Params) != len(want) {
		t.Fatalf("got %d params, want %d", len(s.Params), len(want))
	}
	for i, w := range want {
		if !reflect.DeepEqual(*s.Params[i], w) {
			t.Errorf("param %d:\n got %+v\nwant %+v", i, *s.Params[i], w)
		}
	}
}

func TestParamParse(t *testing.T) {
	comm := [16]byte{}
	copy(comm[:], "bash")
	full := [16]byte{}
	copy(full[:], "0123456789abcdef")
	tests := []struct {
		p       Param
		in      string
		want    any
		wantErr bool
	}{
		{Param{Kind: datasource.Bool}, "true", true, false},
		{Param{Kind: datasource.Bool}, "0", false, false},
		{Param{Kind: datasource.Bool}, "yes", nil, true},
		{Param{Kind: datasource.Int8}, "-128", int8(-128), false},
		{Param{Kind: datasource.Int8}, "128", nil, true},
		{Param{Kind: datasource.Int16}, "-3", int16(-3), false},
		{Param{Kind: datasource.Int32}, " 42 ", int32(42), false},
		{Param{Kind: datasource.Int64}, "-9000000000", int64(-9000000000), false},
		{Param{Kind: datasource.Uint8}, "255", uint8(255), false},
		{Param{Kind: datasource.Uint8}, "-1", nil, true},
		{Param{Kind: datasource.Uint16}, "65535", uint16(65535), false},
		{Param{Kind: datasource.Uint32}, "4294967296", nil, true},
		{Param{Kind: datasource.Uint32}, "1234", uint32(1234), false},
		{Param{Kind: datasource.Uint64}, "18446744073709551615", uint64(18446744073709551615), false},
		{Param{Kind: datasource.Uint64}, "abc", nil, true},
		{Param{Kind: datasource.Float32}, "0.25", float32(0.25), false},
		{Param{Kind: datasource.Float64}, "1e3", float64(1000), false},
		{Param{Kind: datasource.String, MaxLen: 16}, "bash", comm, false},
		{Param{Kind: datasource.String, MaxLen: 16}, "0123456789abcdef", full, false},
		{Param{Kind: datasource.String, MaxLen: 16}, "0123456789abcdefg", nil, true},
		{Param{Kind: datasource.String, MaxLen: 16}, "", [16]byte{}, false},
	}
	for _, tt := range tests {
		tt.p.Key = "k" + tt.p.Kind.String()
		got, err := tt.p.Parse(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("%v Parse(%q) = %v, want error", tt.p.Kind, tt.in, got)
			} else if !errors.Is(err, ErrInvalidParamValue) || !strings.Contains(err.Error(), tt.p.Key) {
				t.Errorf("%v Parse(%q): error %q does not wrap ErrInvalidParamValue or name the key", tt.p.Kind, tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v Parse(%q): %v", tt.p.Kind, tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v Parse(%q) = %#v (%T), want %#v (%T)", tt.p.Kind, tt.in, got, got, tt.want, tt.want)
		}
	}
}

func TestOtherMarkers(t *testing.T) {
	s := mustSpec(t, nil)

	if len(s.Iters) != 2 {
		t.Fatalf("got %d iters, want 2", len(s.Iters))
	}
	for i, w := range []struct {
		ds         string
		deprecated bool
	}{{"procs", false}, {"oldprocs", true}} {
		it := s.Iters[i]
		if it.DataSource.Name != w.ds || it.Deprecated != w.deprecated || it.StructName != "gadget_process" ||
			!slices.Equal(it.Programs, []string{"ig_iter_task"}) || it.DataSource.Type != datasource.TypeArray {
			t.Errorf("iter %d = %+v", i, *it)
		}
		if it.DataSource.Field("creds.uid") == nil {
			t.Errorf("iter %d: no creds.uid field", i)
		}
	}

	if len(s.MapIters) != 1 {
		t.Fatalf("got %d map iters, want 1", len(s.MapIters))
	}
	mi := s.MapIters[0]
	if mi.DataSource.Name != "counts" || mi.MapName != "counts" || mi.KeyStruct != "counts_key" || mi.ValueStruct != "counts_val" ||
		mi.KeySize != 8 || mi.ValueSize != 16 || mi.DataSource.StaticSize != 24 {
		t.Errorf("map iter = %+v", *mi)
	}
	if got := mi.DataSource.FieldNames(); !slices.Equal(got, []string{"pid", "bytes", "calls"}) {
		t.Errorf("map iter fields = %v", got)
	}
	if f := mi.DataSource.Field("pid"); !f.HasTag("role:key") || f.Offset != 0 {
		t.Errorf("pid: tags %v offset %d", f.Tags, f.Offset)
	}
	if f := mi.DataSource.Field("calls"); f.HasTag("role:key") || f.Offset != 16 {
		t.Errorf("calls: tags %v offset %d", f.Tags, f.Offset)
	}

	if len(s.Vars) != 1 || *s.Vars[0] != (VarSpec{Name: "filter_by_mntns", VarName: "gadget_var_filter_by_mntns", Kind: datasource.Bool, Size: 1}) {
		t.Errorf("vars = %v", s.Vars)
	}
	if !slices.Equal(s.TracerMaps, []string{"events"}) {
		t.Errorf("tracer maps = %v", s.TracerMaps)
	}
	if !reflect.DeepEqual(s.IterTargets, map[string]string{"ig_iter_elems": "counts"}) {
		t.Errorf("iter targets = %v", s.IterTargets)
	}
}

func TestBadMarkers(t *testing.T) {
	tests := []struct {
		define string
		is     error
		msg    []string // substrings of the error
	}{
		{"BAD_MARKER_TYPE", ErrInvalidMarker, []string{"gadget_tracer_bad___events___event", "const void *"}},
		{"BAD_MISSING_MAP", ErrInvalidMarker, []string{"gadget_tracer_bad___nosuchmap___event", "map nosuchmap not found"}},
		{"BAD_WRONG_MAP", ErrInvalidMarker, []string{"gadget_tracer_bad___plain_hash___event", "map plain_hash", "want RingBuf or PerfEventArray"}},
		{"BAD_UNKNOWN_STRUCT", ErrInvalidMarker, []string{"gadget_tracer_bad___events___nosuchstruct", "struct nosuchstruct not found"}},
		{"BAD_PARTS", ErrInvalidMarker, []string{"gadget_tracer_bad___events", "want <datasource>, <map> and <struct>"}},
		{"BAD_PARAM_NOT_CONST", ErrInvalidParam, []string{"gadget_param_not_const", "const volatile", ".data"}},
		{"BAD_PARAM_NOT_VOLATILE", ErrInvalidParam, []string{"gadget_param_not_volatile", "const volatile"}},
		{"BAD_PARAM_MISSING", ErrInvalidParam, []string{"gadget_param_nosuchvar", "variable nosuchvar not found"}},
		{"BAD_PARAM_TYPE", ErrInvalidParam, []string{"gadget_param_pair_param", "unsupported type"}},
		{"BAD_ITER_PROG", ErrInvalidMarker, []string{"gadget_iter_x___gadget_process___nosuchprog", "program nosuchprog not found"}},
		{"BAD_MAPITER_NOT_STRUCT", ErrInvalidMarker, []string{"gadget_mapiter_bad___plain_hash", "struct key"}},
		{"BAD_TARGET_PROG", ErrInvalidMarker, []string{"gadget_mapelem_iter_target_nosuchprog___counts", "program nosuchprog not found"}},
		{"BAD_TARGET_NOT_ITER", ErrInvalidMarker, []string{"gadget_mapelem_iter_target_ig_open___counts", "not an iter/ program"}},
		{"BAD_TARGET_MAP", ErrInvalidMarker, []string{"gadget_mapelem_iter_target_ig_iter_elems___nosuchmap", "map nosuchmap not found"}},
		{"BAD_TARGET_DUP", ErrInvalidMarker, []string{"already targets map"}},
		{"BAD_DUP_DS", ErrInvalidMarker, []string{"gadget_tracer_procs___events___event", `datasource "procs" already declared`}},
	}
	for _, tt := range tests {
		t.Run(tt.define, func(t *testing.T) {
			t.Parallel()
			obj := compileBPF(t, "full.bpf.c", "-D"+tt.define)
			_, err := New(openObj(t, obj), nil)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			for _, m := range tt.msg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
		})
	}
}

func TestNoBTF(t *testing.T) {
	obj := compileBPF(t, "full.bpf.c", "-g0")
	if _, err := New(openObj(t, obj), nil); err == nil {
		t.Fatal("New succeeded on an ELF without BTF")
	}
}

func TestTrailingData(t *testing.T) {
	meta, err := metadata.Parse([]byte(`
datasources:
  open:
    annotations:
      ebpf.rest.name: payload
      ebpf.rest.len: size
    fields:
      payload:
        annotations:
          json.skip: "true"
`), "gadget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr := mustSpec(t, meta).Tracers[0]
	if tr.Rest == nil || tr.Rest.FullName != "payload" || tr.Rest.Kind != datasource.Bytes || tr.Rest.Payload == 0 {
		t.Fatalf("rest field %+v", tr.Rest)
	}
	if tr.Rest.Flags&datasource.FlagHidden == 0 || tr.Rest.Annotations["json.skip"] != "true" {
		t.Errorf("rest field flags %b annotations %v", tr.Rest.Flags, tr.Rest.Annotations)
	}
	if tr.RestLen == nil || tr.RestLen.FullName != "size" {
		t.Errorf("rest length field %+v", tr.RestLen)
	}

	bad, err := metadata.Parse([]byte("datasources:\n  open:\n    annotations:\n      ebpf.rest.name: payload\n      ebpf.rest.len: fname\n"), "gadget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(bytes.NewReader(fullObject(t)), bad); err == nil || !strings.Contains(err.Error(), "ebpf.rest.len") {
		t.Errorf("a non-integer length field gave %v", err)
	}
}
