package format

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/filter"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// specOpenDS is trace_open's datasource after the formatters stage added
// the string field flags (hidden by default) next to flags_raw.
func specOpenDS(t *testing.T) *datasource.DataSource {
	ds := datasource.New("open", datasource.TypeSingle)
	must := func(f *datasource.Field, err error) *datasource.Field {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ann := func(f *datasource.Field, kv ...string) {
		for i := 0; i+1 < len(kv); i += 2 {
			f.Annotations[kv[i]] = kv[i+1]
		}
	}
	must(ds.AddStaticField(nil, "timestamp_raw", datasource.Uint64, 0, 8, datasource.FlagHidden))
	proc := must(ds.AddStaticField(nil, "proc", datasource.Invalid, 8, 48, datasource.FlagContainer|datasource.FlagHidden))
	ann(must(ds.AddStaticField(proc, "comm", datasource.CString, 8, 16, 0)), "columns.alias", "comm", "columns.maxwidth", "16")
	ann(must(ds.AddStaticField(proc, "pid", datasource.Uint32, 24, 4, 0)), "columns.alias", "pid", "columns.minwidth", "7", "columns.alignment", "right")
	ann(must(ds.AddStaticField(proc, "tid", datasource.Uint32, 28, 4, 0)), "columns.alias", "tid", "columns.minwidth", "7", "columns.alignment", "right")
	creds := must(ds.AddStaticField(proc, "creds", datasource.Invalid, 32, 8, datasource.FlagContainer))
	ann(must(ds.AddStaticField(creds, "uid", datasource.Uint32, 32, 4, 0)), "columns.alias", "uid", "columns.minwidth", "8", "columns.alignment", "right")
	ann(must(ds.AddStaticField(creds, "gid", datasource.Uint32, 36, 4, 0)), "columns.alias", "gid", "columns.minwidth", "8", "columns.alignment", "right")
	parent := must(ds.AddStaticField(proc, "parent", datasource.Invalid, 40, 16, datasource.FlagContainer|datasource.FlagHidden))
	must(ds.AddStaticField(parent, "pid", datasource.Uint32, 40, 4, datasource.FlagHidden))
	must(ds.AddStaticField(parent, "comm", datasource.CString, 44, 12, datasource.FlagHidden))
	ann(must(ds.AddStaticField(nil, "fd", datasource.Uint32, 56, 4, 0)), "columns.width", "5", "columns.alignment", "right")
	must(ds.AddStaticField(nil, "flags_raw", datasource.Int32, 60, 4, datasource.FlagHidden))
	must(ds.AddStaticField(nil, "fname", datasource.CString, 64, 64, 0))
	ann(must(ds.AddField(nil, "flags", datasource.String, 0)), "columns.width", "24", "columns.hidden", "true")
	ann(must(ds.AddField(nil, "secret", datasource.String, 0)), "json.skip", "true", "columns.hidden", "true")
	return ds
}

func names(fs []*datasource.Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.FullName)
	}
	return out
}

func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		in      string
		def     string
		perDS   map[string]string
		fields  bool
		wantErr string
	}{
		{in: "", def: "columns"},
		{in: "columns", def: "columns"},
		{in: "json", def: "json"},
		{in: "JSON", def: "json"},
		{in: "jsonpretty", def: "jsonpretty"},
		{in: "yaml", def: "yaml"},
		{in: "none", def: "none"},
		{in: "columns=+flags", def: "columns", fields: true},
		{in: "columns=pid,comm,path", def: "columns", fields: true},
		{in: "Columns=+x,-y", def: "columns", fields: true},
		{in: "open:json,containers:none", def: "columns", perDS: map[string]string{"open": "json", "containers": "none"}},
		{in: "yaml,open:columns", def: "yaml", perDS: map[string]string{"open": "columns"}},
		{in: "open:columns=+flags", def: "columns", perDS: map[string]string{"open": "columns"}, fields: true},
		{in: "xml", wantErr: `unknown output mode "xml" (valid: columns, json, jsonpretty, yaml, none)`},
		{in: "columns,xml", wantErr: `unknown output mode "xml"`},
		{in: "json=a,b", wantErr: "only columns takes a field list"},
		{in: "columns=", wantErr: "no field"},
		{in: "columns=a,+b", wantErr: "mixes a full list"},
		{in: "a:json,a:yaml", wantErr: "two modes for datasource a"},
		{in: "json,yaml", wantErr: "two output modes for every datasource"},
	} {
		got, err := ParseOutput(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("-o %q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("-o %q: %v", tc.in, err)
			continue
		}
		if got.Default != tc.def || (len(tc.perDS) > 0 || len(got.PerDS) > 0) && !reflect.DeepEqual(got.PerDS, tc.perDS) || got.Fields.IsZero() == tc.fields {
			t.Errorf("-o %q: %+v", tc.in, got)
		}
	}
	o, _ := ParseOutput("yaml,open:json")
	if o.Mode("open") != "json" || o.Mode("other") != "yaml" || (OutputSpec{}).Mode("x") != "columns" {
		t.Error("Mode")
	}
}

func TestResolveFields(t *testing.T) {
	ds := specOpenDS(t)
	defaults := []string{"proc.comm", "proc.pid", "proc.tid", "proc.creds.uid", "proc.creds.gid", "fd", "fname"}
	if got := names(DefaultFields(ds)); !slices.Equal(got, defaults) {
		t.Fatalf("defaults %v", got)
	}
	jsonAll := names(JSONFields(ds))
	for _, tc := range []struct {
		flag, mode string
		want       []string
	}{
		{"", "columns", nil}, // no selection: the formatter's defaults
		{"fname,pid,flags", "columns", []string{"fname", "proc.pid", "flags"}},
		{"pid,comm,path", "columns", []string{"proc.pid", "proc.comm", "fname"}}, // legacy names
		{"PROC.PID,Fname,proc.Creds.UID", "json", []string{"proc.pid", "fname", "proc.creds.uid"}},
		{"+flags", "columns", append(slices.Clone(defaults), "flags")},
		{"+flags,-proc.tid,-uid,-gid", "columns", []string{"proc.comm", "proc.pid", "fd", "fname", "flags"}},
		{"+fname", "columns", defaults}, // already there
		{"-proc", "columns", []string{"fd", "fname"}},
		{"+proc.parent", "columns", append(slices.Clone(defaults), "proc.parent.pid", "proc.parent.comm")},
		{"proc.creds", "yaml", []string{"proc.creds.uid", "proc.creds.gid"}},
		{"-proc,-timestamp_raw", "json", slices.DeleteFunc(slices.Clone(jsonAll), func(s string) bool {
			return strings.HasPrefix(s, "proc.") || s == "timestamp_raw"
		})},
		{"+secret", "jsonpretty", append(slices.Clone(jsonAll), "secret")},
		{"open:pid;other:x", "columns", []string{"proc.pid"}},
		{"other:x", "columns", nil},
	} {
		spec, err := ParseFields(tc.flag)
		if err != nil {
			t.Fatalf("--fields %q: %v", tc.flag, err)
		}
		fs, err := ResolveFields(ds, spec, tc.mode)
		if err != nil {
			t.Errorf("--fields %q: %v", tc.flag, err)
			continue
		}
		if got := names(fs); !slices.Equal(got, tc.want) {
			t.Errorf("--fields %q (%s): %v, want %v", tc.flag, tc.mode, got, tc.want)
		}
	}
	// -o columns=+flags is --fields +flags.
	o, err := ParseOutput("columns=+flags")
	if err != nil {
		t.Fatal(err)
	}
	viaO, _ := ResolveFields(ds, o.Fields, o.Mode("open"))
	f, _ := ParseFields("+flags")
	viaFlag, _ := ResolveFields(ds, f, "columns")
	if !slices.Equal(viaO, viaFlag) || names(viaO)[len(viaO)-1] != "flags" {
		t.Errorf("-o columns=+flags %v != --fields +flags %v", names(viaO), names(viaFlag))
	}
}

func TestFieldErrors(t *testing.T) {
	ds := specOpenDS(t)
	for _, tc := range []struct{ flag, want string }{
		{"pid,nosuch", `--fields: unknown field "nosuch" in datasource open (valid: timestamp_raw, proc.comm, proc.pid, proc.tid, proc.creds.uid, proc.creds.gid, proc.parent.pid, proc.parent.comm, fd, flags_raw, fname, flags, secret)`},
		{"-nosuch", `unknown field "nosuch"`},
		{"-proc,-fd,-fname", "no field of datasource open left to show"},
	} {
		spec, err := ParseFields(tc.flag)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ResolveFields(ds, spec, "columns")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--fields %q: %v, want %q", tc.flag, err, tc.want)
		}
	}
	spec, _ := ParseFields("nosuch")
	if _, err := ResolveFields(ds, spec, "json"); !errors.Is(err, filter.ErrUnknownField) {
		t.Errorf("not an unknown-field error: %v", err)
	}
	for _, tc := range []struct{ flag, want string }{
		{"a,+b", "mixes a full list"},
		{"+", "empty field name"},
		{"x:a;x:b", "two lists for datasource x"},
		{"a;b", "two lists for every datasource"},
	} {
		if _, err := ParseFields(tc.flag); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--fields %q: %v, want %q", tc.flag, err, tc.want)
		}
	}
	if s, err := ParseFields(""); err != nil || !s.IsZero() {
		t.Errorf("empty --fields: %v %v", s, err)
	}
	a, _ := ParseFields("pid")
	b, _ := ParseOutput("columns=comm")
	if _, err := MergeFields(b.Fields, a); err == nil {
		t.Error("-o columns=… and --fields together")
	}
	if m, err := MergeFields(FieldSpec{}, a); err != nil || m.IsZero() {
		t.Error("merge")
	}
	if m, err := MergeFields(b.Fields, FieldSpec{}); err != nil || m.IsZero() {
		t.Error("merge")
	}
}

func TestResolveAllFields(t *testing.T) {
	ds := specOpenDS(t)
	spec, _ := ParseFields("open:pid,fname")
	out, _ := ParseOutput("json")
	m, err := ResolveAllFields([]*datasource.DataSource{ds}, spec, out)
	if err != nil || !slices.Equal(names(m[ds]), []string{"proc.pid", "fname"}) {
		t.Errorf("%v %v", m, err)
	}
	spec, _ = ParseFields("nosuch:pid")
	if _, err := ResolveAllFields([]*datasource.DataSource{ds}, spec, out); err == nil || !strings.Contains(err.Error(), `unknown datasource "nosuch" (valid: open)`) {
		t.Errorf("unknown datasource: %v", err)
	}
	out, _ = ParseOutput("nosuch:json")
	if _, err := ResolveAllFields([]*datasource.DataSource{ds}, FieldSpec{}, out); err == nil {
		t.Error("-o for an unknown datasource")
	}
}

// TestSeedCommand runs what the integrator assembles for
//
//	ig run trace_open --filter path:/etc/resolv.conf,flags:'~(O_WRONLY|O_RDWR)' -o columns=+flags
//
// on recorded events: the writer of resolv.conf is shown, with its flags.
func TestSeedCommand(t *testing.T) {
	ds := specOpenDS(t)
	rec := func(comm string, pid uint32, fname, flags string) *datasource.Record {
		raw := make([]byte, ds.StaticSize)
		copy(raw[8:23], comm)
		binary.NativeEndian.PutUint32(raw[24:], pid)
		binary.NativeEndian.PutUint32(raw[28:], pid)
		copy(raw[64:127], fname)
		r := ds.NewRecord()
		r.SetStatic(raw, ds.StaticSize)
		ds.Field("flags").SetString(r, flags)
		return r
	}
	out, err := ParseOutput("columns=+flags")
	if err != nil {
		t.Fatal(err)
	}
	fields, err := ResolveFields(ds, out.Fields, out.Mode(ds.Name))
	if err != nil {
		t.Fatal(err)
	}
	flt, err := filter.Parse(ds, "path:/etc/resolv.conf,flags:~(O_WRONLY|O_RDWR)")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	cols, err := New(out.Mode(ds.Name), &buf, ds, Options{Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	b := &pipeline.Batch{DS: ds, Records: []*datasource.Record{
		rec("cat", 100, "/etc/resolv.conf", "O_RDONLY"),
		rec("NetworkManager", 880, "/etc/resolv.conf", "O_WRONLY|O_CREAT|O_TRUNC"),
		rec("vi", 300, "/etc/hosts", "O_RDWR"),
	}}
	for _, st := range []pipeline.Stage{flt, cols} {
		if err := st.Process(b); err != nil {
			t.Fatal(err)
		}
	}
	want := "" +
		"COMM                 PID     TID      UID      GID    FD FNAME            FLAGS\n" +
		"NetworkManager       880     880        0        0     0 /etc/resolv.conf O_WRONLY|O_CREAT|O_TRUNC\n"
	if got := buf.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestSharedFieldList: a field list for every datasource applies to those
// that have its fields (-o columns=pid,comm,latency on trace_dns, whose
// dns_unanswered has no latency); a name no datasource has is an error
// naming the flag it came from.
func TestSharedFieldList(t *testing.T) {
	open := specOpenDS(t)
	other := datasource.New("other", datasource.TypeSingle)
	if _, err := other.AddField(nil, "fd", datasource.Uint32, 0); err != nil {
		t.Fatal(err)
	}
	dss := []*datasource.DataSource{open, other}
	out, _ := ParseOutput("columns=pid,fd")
	m, err := ResolveAllFields(dss, out.Fields, out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names(m[open]), []string{"proc.pid", "fd"}) || !slices.Equal(names(m[other]), []string{"fd"}) {
		t.Errorf("open %v, other %v", names(m[open]), names(m[other]))
	}
	out, _ = ParseOutput("columns=fname")
	if m, err = ResolveAllFields(dss, out.Fields, out); err != nil || m[other] != nil {
		t.Errorf("a list none of whose fields a datasource has: %v, %v; want its defaults", names(m[other]), err)
	}
	for flag, want := range map[string]string{"-o columns=+nosuch": `-o columns=: unknown field "nosuch"`, "--fields pid,nosuch": `--fields: unknown field "nosuch"`} {
		var spec FieldSpec
		if v, ok := strings.CutPrefix(flag, "-o "); ok {
			o, err := ParseOutput(v)
			if err != nil {
				t.Fatal(err)
			}
			spec = o.Fields
		} else {
			spec, _ = ParseFields(strings.TrimPrefix(flag, "--fields "))
		}
		if _, err := ResolveAllFields(dss, spec, out); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", flag, err, want)
		}
	}
}
