package filter

import (
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

type kindsDS struct {
	ds                                           *datasource.DataSource
	i8, i16, i32, i64, u8, u16, u32, u64         *datasource.Field
	f32, f64, b, cs, e, comm, pid, tid, uid, gid *datasource.Field
	fname, s, s2, flags, bytes, arr              *datasource.Field
}

// newKinds builds a datasource with one field of every kind, a
// struct gadget_process and trace_open's fname and formatted flags.
func newKinds(t testing.TB, name string) *kindsDS {
	k := &kindsDS{ds: datasource.New(name, datasource.TypeSingle)}
	ds := k.ds
	must := func(f *datasource.Field, err error) *datasource.Field {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	st := func(p *datasource.Field, n string, kind datasource.Kind, off, size uint32) *datasource.Field {
		return must(ds.AddStaticField(p, n, kind, off, size, 0))
	}
	k.i8 = st(nil, "i8", datasource.Int8, 0, 1)
	k.i16 = st(nil, "i16", datasource.Int16, 2, 2)
	k.i32 = st(nil, "i32", datasource.Int32, 4, 4)
	k.i64 = st(nil, "i64", datasource.Int64, 8, 8)
	k.u8 = st(nil, "u8", datasource.Uint8, 16, 1)
	k.u16 = st(nil, "u16", datasource.Uint16, 18, 2)
	k.u32 = st(nil, "u32", datasource.Uint32, 20, 4)
	k.u64 = st(nil, "u64", datasource.Uint64, 24, 8)
	k.f32 = st(nil, "f32", datasource.Float32, 32, 4)
	k.f64 = st(nil, "f64", datasource.Float64, 40, 8)
	k.b = st(nil, "b", datasource.Bool, 48, 1)
	k.cs = st(nil, "cs", datasource.CString, 49, 16)
	k.e = st(nil, "e", datasource.Int32, 68, 4)
	k.e.Enum = []datasource.EnumValue{{Name: "READ", Value: 0}, {Name: "WRITE", Value: 1}}
	proc := must(ds.AddStaticField(nil, "proc", datasource.Invalid, 72, 32, datasource.FlagContainer))
	k.comm = st(proc, "comm", datasource.CString, 72, 16)
	k.pid = st(proc, "pid", datasource.Uint32, 88, 4)
	k.tid = st(proc, "tid", datasource.Uint32, 92, 4)
	creds := must(ds.AddStaticField(proc, "creds", datasource.Invalid, 96, 8, datasource.FlagContainer))
	k.uid = st(creds, "uid", datasource.Uint32, 96, 4)
	k.gid = st(creds, "gid", datasource.Uint32, 100, 4)
	k.fname = st(nil, "fname", datasource.CString, 104, 64)
	k.s = must(ds.AddField(nil, "s", datasource.String, 0))
	k.s2 = must(ds.AddField(nil, "s2", datasource.String, 0))
	k.flags = must(ds.AddField(nil, "flags", datasource.String, 0))
	k.bytes = must(ds.AddField(nil, "bytes", datasource.Bytes, 0))
	k.arr = must(ds.AddField(nil, "arr", datasource.ArrayOf|datasource.Uint32, 0))
	return k
}

func (k *kindsDS) record() *datasource.Record {
	raw := make([]byte, k.ds.StaticSize)
	ne := binary.NativeEndian
	i8 := int8(-5)
	raw[0] = byte(i8)
	i16, i32, i64 := int16(-300), int32(-70000), int64(-5e9)
	ne.PutUint16(raw[2:], uint16(i16))
	ne.PutUint32(raw[4:], uint32(i32))
	ne.PutUint64(raw[8:], uint64(i64))
	raw[16] = 200
	ne.PutUint16(raw[18:], 60000)
	ne.PutUint32(raw[20:], 4e9)
	ne.PutUint64(raw[24:], 1<<63+5)
	ne.PutUint32(raw[32:], math.Float32bits(1.5))
	ne.PutUint64(raw[40:], math.Float64bits(-2.25))
	raw[48] = 1
	copy(raw[49:], "hello")
	ne.PutUint32(raw[68:], 1)
	copy(raw[72:], "bash")
	ne.PutUint32(raw[88:], 4242)
	ne.PutUint32(raw[92:], 4243)
	ne.PutUint32(raw[96:], 1000)
	ne.PutUint32(raw[100:], 100)
	copy(raw[104:], "/etc/resolv.conf")
	r := k.ds.NewRecord()
	r.SetStatic(raw, k.ds.StaticSize)
	k.s.SetString(r, "O_WRONLY|O_CREAT")
	k.s2.SetString(r, "a,b")
	k.flags.SetString(r, "O_WRONLY|O_CREAT|O_TRUNC")
	k.bytes.SetBytes(r, []byte{1, 2})
	k.arr.SetBytes(r, []byte{1, 0, 0, 0})
	return r
}

func TestOperators(t *testing.T) {
	k := newKinds(t, "kinds")
	r := k.record()
	for _, tc := range []struct {
		expr string
		want bool
	}{
		// Signed integers, every operator.
		{"i8==-5", true}, {"i8=-5", true}, {"i8!=-5", false}, {"i8>-6", true}, {"i8>-5", false},
		{"i8>=-5", true}, {"i8<-5", false}, {"i8<-4", true}, {"i8<=-5", true}, {"i8~^-5$", true}, {"i8!~5", false},
		{"i16==-300", true}, {"i16<-299", true}, {"i32==-70000", true}, {"i32>=-70000", true},
		{"i64==-5000000000", true}, {"i64<0", true}, {"i64 == -5000000000", true},
		// Unsigned integers, decimal first, then 0x/0o/0b.
		{"u8==200", true}, {"u8>199", true}, {"u8<200", false}, {"u8==0xc8", true}, {"u8!=0b11001000", false},
		{"u16==60000", true}, {"u16<=60000", true}, {"u32==4000000000", true}, {"u32>3999999999", true},
		{"u64==9223372036854775813", true}, {"u64>9223372036854775807", true}, {"u64~^9223", true},
		{"proc.pid==010", false}, // decimal ten, not octal eight
		// Floats.
		{"f32==1.5", true}, {"f32<1.6", true}, {"f32>=2", false}, {"f32!=1.5", false},
		{"f64==-2.25", true}, {"f64<-2", true}, {"f64>-2.3", true}, {"f64<=-2.25", true}, {"f64~^-2\\.25$", true},
		// Booleans.
		{"b==true", true}, {"b!=true", false}, {"b==1", true}, {"b=false", false}, {"b~true", true}, {"b!~false", true},
		// C strings and strings: byte-wise comparison, RE2.
		{"cs==hello", true}, {"cs!=hello", false}, {"cs>hell", true}, {"cs<help", true}, {"cs>=hello", true},
		{"cs<=hello", true}, {"cs<hello", false}, {"cs~^h.*o$", true}, {"cs!~^x", true}, {"cs~^x", false},
		{"s==O_WRONLY|O_CREAT", true}, {"s~O_WRONLY|O_RDWR", true}, {"s~^O_RDONLY", false},
		{"bytes==\x01\x02", true}, {"bytes!=\x01", true},
		// Enum names for integers.
		{"e==WRITE", true}, {"e==write", true}, {"e==1", true}, {"e!=READ", true}, {"e==READ", false},
		// Escaped commas.
		{`s2==a\,b`, true}, {`cs~^hel{1\,2}o$`, true}, {`s2~a\,b`, true},
		// Comma = AND.
		{"proc.pid==4242,proc.comm==bash", true}, {"proc.pid==4242,proc.comm==zsh", false}, {"proc.pid==4242,", true},
		// Names: case-insensitive dotted names; legacy names.
		{"PROC.PID==4242", true}, {"Proc.Creds.UID>=1000", true}, {"pid==4242", true}, {"tid==4243", true},
		{"comm==bash", true}, {"comm == bash", true}, {"cs != hello", false}, {"uid==1000", true}, {"gid<101", true}, {"path==/etc/resolv.conf", true},
		// Legacy syntax: field:value, :!value, :~re, :!~re, :>=, :>, :<=, :<.
		{"pid:4242", true}, {"pid:!4242", false}, {"comm:bash", true}, {"comm:!bash", false},
		{"path:/etc/resolv.conf", true}, {"fname:~^/etc/", true}, {"fname:!~^/etc/", false},
		{"pid:>=4242", true}, {"pid:>4242", false}, {"pid:<=4242", true}, {"pid:<4243", true}, {"i8:-5", true},
		{"b:true", true}, {"b:!false", true}, {"s2:a\\,b", true}, {"fname:/etc/resolv.conf:x", false},
		// Per-datasource form.
		{"kinds:proc.pid==4242", true}, {"kinds:pid:4242", true}, {"KINDS:cs==hello", true},
	} {
		f, err := Parse(k.ds, tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if got := f.Match(r); got != tc.want {
			t.Errorf("%q: got %v, want %v (terms %v)", tc.expr, got, tc.want, f.Terms())
		}
	}
}

func TestSeveralFlagsAreANDed(t *testing.T) {
	k := newKinds(t, "kinds")
	r := k.record()
	if f, err := Parse(k.ds, "pid==4242", "comm==bash"); err != nil || !f.Match(r) {
		t.Errorf("%v %v", f, err)
	}
	if f, err := Parse(k.ds, "pid==4242", "comm==zsh"); err != nil || f.Match(r) {
		t.Errorf("%v %v", f, err)
	}
	if f, err := Parse(k.ds); err != nil || !f.Match(r) || len(f.Terms()) != 0 {
		t.Errorf("no filter: %v %v", f, err)
	}
}

func TestErrors(t *testing.T) {
	k := newKinds(t, "kinds")
	for _, tc := range []struct{ expr, want string }{
		{"nosuch==1", `--filter: unknown field "nosuch" in datasource kinds (valid: i8, i16,`},
		{"nosuch:1", `unknown field "nosuch"`},
		{"proc==1", "proc of datasource kinds has no value of its own (its fields: proc.comm, proc.pid"},
		{"i8==300", `field i8 is a int8: "300" is out of range`},
		{"i8==abc", `field i8 is a int8: "abc" is not an integer`},
		{"u8==-1", `field u8 is a uint8: "-1" is not an integer`},
		{"pid==12ab", `"12ab" is not an integer`},
		{"f64==x", `field f64 is a float64: "x" is not a number`},
		{"b>true", "field b is a bool: only ==, != (and ~) apply"},
		{"b==maybe", `"maybe" is not true or false`},
		{"cs~(", `--filter "cs~(": bad regular expression "(": error parsing regexp`},
		{"fname:~[z-a]", "bad regular expression"},
		{"cs", "no operator"},
		{"==5", "missing field name"},
		{":5", "missing field name"},
		{"arr==1", "is an array"},
		{"arr~1", "is an array"},
		{"other:pid==1", `unknown field "other"`},
	} {
		_, err := Parse(k.ds, tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got error %v, want %q", tc.expr, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error is not one line: %q", tc.expr, err)
		}
	}
	_, err := Parse(k.ds, "nosuch==1")
	var ue *UnknownFieldError
	if !errors.Is(err, ErrUnknownField) || !errors.As(err, &ue) || ue.Name != "nosuch" || len(ue.Valid) != 24 {
		t.Errorf("unknown field error: %#v", err)
	}
}

func TestSeveralDataSources(t *testing.T) {
	a, b := newKinds(t, "a"), newKinds(t, "b")
	dss := []*datasource.DataSource{a.ds, b.ds}
	// A field both datasources have: the term applies to each.
	both, err := Compile(dss, []string{"pid==4242"})
	if err != nil {
		t.Fatal(err)
	}
	if len(both) != 2 || !both[a.ds].Match(a.record()) || !both[b.ds].Match(b.record()) {
		t.Errorf("a term on a shared field: %v", both)
	}
	m, err := Compile(dss, []string{"b:pid==4242,a:comm==zsh"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || !m[b.ds].Match(b.record()) || m[a.ds].Match(a.record()) {
		t.Errorf("per-datasource terms: %v", m)
	}
	if _, err := Compile(dss, []string{"nosuch==1"}); err == nil || !strings.Contains(err.Error(), "a:i8") {
		t.Errorf("unknown field in two datasources: %v", err)
	}
	// A datasource named like one of its fields (top_file's file):
	// file:/tmp/a=b is the legacy term on the field, file:cs==hello a
	// term for the datasource.
	file := newKinds(t, "cs")
	fs, err := Compile([]*datasource.DataSource{file.ds}, []string{"cs:hel=lo"})
	if err != nil {
		t.Fatalf("cs:hel=lo on datasource cs: %v", err)
	}
	if ts := fs[file.ds].Terms(); len(ts) != 1 || ts[0].Field.FullName != "cs" || ts[0].Value != "hel=lo" {
		t.Errorf("cs:hel=lo: terms %v, want cs == \"hel=lo\"", ts)
	}
	if fs, err = Compile([]*datasource.DataSource{file.ds}, []string{"cs:cs==hello"}); err != nil || !fs[file.ds].Match(file.record()) {
		t.Errorf("cs:cs==hello: %v", err)
	}
}

// TestSeedFilter is the filter of
//
//	ig run trace_open --filter path:/etc/resolv.conf,flags:'~(O_WRONLY|O_RDWR)' -o columns=+flags
//
// on records holding fname and the formatted flags: writers are kept,
// readers dropped.
func TestSeedFilter(t *testing.T) {
	k := newKinds(t, "open")
	mk := func(fname, flags string) *datasource.Record {
		r := k.record()
		raw := r.Payload[0][k.fname.Offset : k.fname.Offset+k.fname.Size]
		clear(raw)
		copy(raw, fname)
		k.flags.SetString(r, flags)
		return r
	}
	writer := mk("/etc/resolv.conf", "O_WRONLY|O_CREAT|O_TRUNC")
	rdwr := mk("/etc/resolv.conf", "O_RDWR|O_CLOEXEC")
	reader := mk("/etc/resolv.conf", "O_RDONLY|O_CLOEXEC")
	otherWriter := mk("/etc/hosts", "O_WRONLY")
	prefix := mk("/etc/resolv.conf.bak", "O_WRONLY")
	f, err := Parse(k.ds, "path:/etc/resolv.conf,flags:~(O_WRONLY|O_RDWR)")
	if err != nil {
		t.Fatal(err)
	}
	var st pipeline.Stage = f
	b := &pipeline.Batch{DS: k.ds, Records: []*datasource.Record{reader, writer, otherWriter, rdwr, prefix}}
	if err := st.Process(b); err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 2 || b.Records[0] != writer || b.Records[1] != rdwr {
		t.Errorf("kept %d records, want the writer and the O_RDWR opener", len(b.Records))
	}
	terms := f.Terms()
	if len(terms) != 2 || terms[0].Field != k.fname || !terms[0].Legacy || terms[1].Field != k.flags || terms[1].Op != OpMatch {
		t.Errorf("terms %v", terms)
	}
}

func TestKernelPushdown(t *testing.T) {
	k := newKinds(t, "open")
	terms := func(exprs ...string) []*Term {
		f, err := Parse(k.ds, exprs...)
		if err != nil {
			t.Fatal(err)
		}
		return f.Terms()
	}
	all := []string{"pid", "tid", "uid", "gid", "comm", "failed"}
	for _, tc := range []struct {
		exprs  []string
		params []string
		want   map[string]string
	}{
		{[]string{"proc.pid==123"}, all, map[string]string{"pid": "123"}},
		{[]string{"pid:123"}, all, map[string]string{"pid": "123"}},
		{[]string{"proc.pid==0x10"}, all, map[string]string{"pid": "16"}},
		{[]string{"proc.comm==bash,uid==0,gid==5,tid==7"}, all, map[string]string{"comm": "bash", "uid": "0", "gid": "5", "tid": "7"}},
		{[]string{"comm:bash", "path:/etc/passwd"}, all, map[string]string{"comm": "bash"}},
		// Not equality, negated, 0 (= all), too long for comm, a non-process field.
		{[]string{"pid>5,pid!=7,comm:!bash,tid==0,comm==averyveryverylongcomm,fname==x,comm~bash"}, all, map[string]string{}},
		{[]string{"uid==4294967295"}, all, map[string]string{}},
		// Params the gadget does not declare.
		{[]string{"pid==1,comm==bash"}, []string{"comm"}, map[string]string{"comm": "bash"}},
		{[]string{"pid==1"}, nil, map[string]string{}},
		// Two different values: left to user space.
		{[]string{"pid==1,pid==2,comm==a"}, all, map[string]string{"comm": "a"}},
		{[]string{"pid==1", "pid:1"}, all, map[string]string{"pid": "1"}},
	} {
		got := KernelPushdown(terms(tc.exprs...), tc.params)
		if !maps.Equal(got, tc.want) {
			t.Errorf("%v with %v: %v, want %v", tc.exprs, tc.params, got, tc.want)
		}
	}
}

func TestResolveField(t *testing.T) {
	k := newKinds(t, "open")
	for name, want := range map[string]*datasource.Field{
		"fname": k.fname, "FNAME": k.fname, "path": k.fname, "Path": k.fname, "pid": k.pid, "proc.PID": k.pid,
		"uid": k.uid, "comm": k.comm, "nosuch": nil,
	} {
		if got := ResolveField(k.ds, name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if f := ResolveField(k.ds, "proc"); f == nil || f.Flags&datasource.FlagContainer == 0 {
		t.Errorf("container: %v", f)
	}
	// A current name wins over the legacy table: a datasource with its
	// own "type" keeps it; one without gets pkt_type.
	ds := datasource.New("dns", datasource.TypeSingle)
	pkt, _ := ds.AddField(nil, "pkt_type", datasource.String, 0)
	num, _ := ds.AddField(nil, "num_answers", datasource.Int32, 0)
	if ResolveField(ds, "type") != pkt || ResolveField(ds, "numAnswers") != num || ResolveField(ds, "NUMANSWERS") != num {
		t.Error("legacy dns names")
	}
	typ, _ := ds.AddField(nil, "type", datasource.String, 0)
	if ResolveField(ds, "type") != typ {
		t.Error("a current name must win over a legacy one")
	}
}

func TestMatchAllocs(t *testing.T) {
	k := newKinds(t, "kinds")
	r := k.record()
	for _, expr := range []string{
		"i8==-5,i16<0,i32<=0,i64!=1,u8>1,u16>=1,u32==4000000000,u64>0,f32<2,f64<0,b==true,e==WRITE",
		"cs==hello,s!=x,fname>=/,pid:4242,comm:bash",
		"cs~^h.*o$,flags~(O_WRONLY|O_RDWR),pid~42,f64~^-2",
	} {
		f, err := Parse(k.ds, expr)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Match(r) {
			t.Fatalf("%q does not match", expr)
		}
		if raceEnabled && strings.Contains(expr, "~") {
			continue
		}
		if n := testing.AllocsPerRun(1000, func() { f.Match(r) }); n != 0 {
			t.Errorf("%q allocates %v times per record", expr, n)
		}
	}
}

func BenchmarkSeedFilter(b *testing.B) {
	k := newKinds(b, "open")
	r := k.record()
	f, err := Parse(k.ds, "path:/etc/resolv.conf,flags:~(O_WRONLY|O_RDWR)")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		f.Match(r)
	}
}
