package sortlimit

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/filter"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// topFile is shaped like top_file's map: proc, reads, rbytes_raw, file,
// plus a float, a bool and a signed field.
type topFile struct {
	ds                                *datasource.DataSource
	pid, comm, reads, rbytes, file, t *datasource.Field
	ratio, hot, delta                 *datasource.Field
}

type row struct {
	pid           uint32
	comm          string
	reads, rbytes uint64
	file, t       string
	ratio         float64
	hot           bool
	delta         int32
}

func newTopFile(tb testing.TB, name string) *topFile {
	x := &topFile{ds: datasource.New(name, datasource.TypeArray)}
	ds := x.ds
	must := func(f *datasource.Field, err error) *datasource.Field {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return f
	}
	proc := must(ds.AddStaticField(nil, "proc", datasource.Invalid, 0, 20, datasource.FlagContainer))
	x.pid = must(ds.AddStaticField(proc, "pid", datasource.Uint32, 0, 4, 0))
	x.comm = must(ds.AddStaticField(proc, "comm", datasource.CString, 4, 16, 0))
	x.reads = must(ds.AddStaticField(nil, "reads", datasource.Uint64, 24, 8, 0))
	x.rbytes = must(ds.AddStaticField(nil, "rbytes_raw", datasource.Uint64, 32, 8, 0))
	x.file = must(ds.AddStaticField(nil, "file", datasource.CString, 40, 32, 0))
	x.delta = must(ds.AddStaticField(nil, "delta", datasource.Int32, 72, 4, 0))
	x.hot = must(ds.AddStaticField(nil, "hot", datasource.Bool, 76, 1, 0))
	x.ratio = must(ds.AddField(nil, "ratio", datasource.Float64, 0))
	x.t = must(ds.AddField(nil, "t", datasource.String, 0))
	return x
}

func (x *topFile) records(rows ...row) []*datasource.Record {
	var out []*datasource.Record
	ne := binary.NativeEndian
	for _, w := range rows {
		raw := make([]byte, x.ds.StaticSize)
		ne.PutUint32(raw[0:], w.pid)
		copy(raw[4:19], w.comm)
		ne.PutUint64(raw[24:], w.reads)
		ne.PutUint64(raw[32:], w.rbytes)
		copy(raw[40:71], w.file)
		ne.PutUint32(raw[72:], uint32(w.delta))
		if w.hot {
			raw[76] = 1
		}
		r := x.ds.NewRecord()
		r.SetStatic(raw, x.ds.StaticSize)
		var f [8]byte
		ne.PutUint64(f[:], math.Float64bits(w.ratio))
		x.ratio.SetBytes(r, f[:])
		x.t.SetString(r, w.t)
		out = append(out, r)
	}
	return out
}

var rows = []row{
	{pid: 10, comm: "cat", reads: 5, rbytes: 500, file: "/a", t: "R", ratio: 0.5, hot: true, delta: -3},
	{pid: 11, comm: "dd", reads: 9, rbytes: 100, file: "/b", t: "R", ratio: 2.5, hot: false, delta: 7},
	{pid: 12, comm: "cat", reads: 5, rbytes: 900, file: "/c", t: "S", ratio: -1, hot: true, delta: 0},
	{pid: 13, comm: "awk", reads: 1, rbytes: 500, file: "/d", t: "O", ratio: 0.5, hot: false, delta: -9},
	{pid: 14, comm: "cat", reads: 5, rbytes: 500, file: "/e", t: "R", ratio: 0.5, hot: true, delta: 1},
}

func pids(x *topFile, rs []*datasource.Record) []uint32 {
	var out []uint32
	for _, r := range rs {
		out = append(out, uint32(x.pid.Uint64(r)))
	}
	return out
}

func TestSort(t *testing.T) {
	x := newTopFile(t, "file")
	for _, tc := range []struct {
		spec string
		max  int
		want []uint32
	}{
		{"-reads", -1, []uint32{11, 10, 12, 14, 13}},             // stable among equal reads
		{"reads", -1, []uint32{13, 10, 12, 14, 11}},              // ascending
		{"+reads", -1, []uint32{13, 10, 12, 14, 11}},             // explicit +
		{"-reads,-rbytes_raw", -1, []uint32{11, 12, 10, 14, 13}}, // second key
		{"comm,-proc.pid", -1, []uint32{13, 14, 12, 10, 11}},     // text, then descending number
		{"ratio", -1, []uint32{12, 10, 13, 14, 11}},              // float
		{"-hot,delta", -1, []uint32{10, 12, 14, 13, 11}},         // bool (true first when descending), signed
		{"t", -1, []uint32{13, 10, 11, 14, 12}},                  // dynamic string
		{"-REads", 2, []uint32{11, 10}},                          // case-insensitive, limit
		{"pid", 3, []uint32{10, 11, 12}},                         // legacy name (proc.pid)
		{"", 2, []uint32{10, 11}},                                // limit only
		{"", 0, nil},                                             // limit 0
		{"-pid", 10, []uint32{14, 13, 12, 11, 10}},               // limit above the length
	} {
		keys, err := ParseKeys(x.ds, tc.spec)
		if err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		st, err := New(x.ds, keys, tc.max)
		if err != nil {
			t.Fatal(err)
		}
		b := &pipeline.Batch{DS: x.ds, Records: x.records(rows...)}
		if err := st.Process(b); err != nil {
			t.Fatal(err)
		}
		if got := pids(x, b.Records); !slices.Equal(got, tc.want) {
			t.Errorf("--sort %q --max-entries %d: %v, want %v", tc.spec, tc.max, got, tc.want)
		}
	}
}

func TestParseKeysErrors(t *testing.T) {
	x := newTopFile(t, "file")
	_, err := ParseKeys(x.ds, "-reads,nosuch")
	if !errors.Is(err, filter.ErrUnknownField) || !strings.Contains(err.Error(), `--sort: unknown field "nosuch" in datasource file (valid: proc.pid, proc.comm, reads,`) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := ParseKeys(x.ds, "proc"); err == nil || !strings.Contains(err.Error(), "no value of its own") {
		t.Errorf("container: %v", err)
	}
	single := datasource.New("open", datasource.TypeSingle)
	if _, err := New(single, nil, 3); err == nil {
		t.Error("a stage for a single datasource")
	}
}

func TestCompile(t *testing.T) {
	file, sock := newTopFile(t, "file"), newTopFile(t, "sock")
	events := datasource.New("events", datasource.TypeSingle)
	dss := []*datasource.DataSource{events, file.ds, sock.ds}

	m, err := Compile(dss, "-reads", "3")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[file.ds] == nil || m[sock.ds] == nil || m[file.ds].Max != 3 || m[file.ds].Keys[0].String() != "-reads" {
		t.Errorf("unprefixed: %v", m)
	}
	m, err = Compile(dss, "file:-reads,comm;sock:pid", "sock:1,file:2")
	if err != nil {
		t.Fatal(err)
	}
	if m[file.ds].Max != 2 || m[sock.ds].Max != 1 || len(m[file.ds].Keys) != 2 || m[sock.ds].Keys[0].Field != sock.pid {
		t.Errorf("per datasource: %+v %+v", m[file.ds], m[sock.ds])
	}
	m, err = Compile(dss, "file:-reads", "")
	if err != nil || len(m) != 1 || m[file.ds].Max != -1 {
		t.Errorf("sort only: %v %v", m, err)
	}
	m, err = Compile(dss, "", "sock:5")
	if err != nil || len(m) != 1 || m[sock.ds].Max != 5 || len(m[sock.ds].Keys) != 0 {
		t.Errorf("limit only: %v %v", m, err)
	}
	if m, err := Compile(dss, "", ""); err != nil || len(m) != 0 {
		t.Errorf("nothing: %v %v", m, err)
	}
	for _, tc := range []struct{ sort, max, want string }{
		{"events:pid", "", "--sort: datasource events is not an array"},
		{"", "events:3", "--max-entries: datasource events is not an array"},
		{"nosuch:pid", "", `--sort: unknown datasource "nosuch" (valid: events, file, sock)`},
		{"", "x", `--max-entries: "x" is not an integer`},
		{"", "file:1,file:2", "two values for datasource file"},
		{"-reads;comm", "", "two values for every datasource"},
		{"file:nosuch", "", `--sort: unknown field "nosuch" in datasource file`},
	} {
		if _, err := Compile(dss, tc.sort, tc.max); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--sort %q --max-entries %q: %v, want %q", tc.sort, tc.max, err, tc.want)
		}
	}
	if _, err := Compile([]*datasource.DataSource{events}, "-reads", ""); err == nil || !strings.Contains(err.Error(), "has none") {
		t.Errorf("no array datasource: %v", err)
	}
}

func TestSortAllocs(t *testing.T) {
	x := newTopFile(t, "file")
	keys, err := ParseKeys(x.ds, "-reads,comm,ratio")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := New(x.ds, keys, 3)
	recs := x.records(rows...)
	b := &pipeline.Batch{DS: x.ds}
	if n := testing.AllocsPerRun(100, func() {
		b.Records = append(b.Records[:0], recs...)
		_ = st.Process(b)
	}); n != 0 {
		t.Errorf("sorting allocates %v times per batch", n)
	}
}

// TestFormattedNumbers: a formatter's text ("4.0 MB" of rbytes_raw) sorts,
// and compares with numbers, by the number it was made from; other values
// compare with the text.
func TestFormattedNumbers(t *testing.T) {
	x := newTopFile(t, "file")
	text, err := x.ds.AddField(nil, "rbytes", datasource.String, 0)
	if err != nil {
		t.Fatal(err)
	}
	recs := x.records(
		row{pid: 1, rbytes: 12 << 20}, row{pid: 2, rbytes: 9}, row{pid: 3, rbytes: 4 << 20}, row{pid: 4, rbytes: 512})
	for i, s := range []string{"12 MB", "9 B", "4.0 MB", "512 B"} {
		text.SetString(recs[i], s)
	}
	keys, err := ParseKeys(x.ds, "-rbytes")
	if err != nil {
		t.Fatal(err)
	}
	st, err := New(x.ds, keys, -1)
	if err != nil {
		t.Fatal(err)
	}
	b := &pipeline.Batch{DS: x.ds, Records: slices.Clone(recs)}
	if err := st.Process(b); err != nil {
		t.Fatal(err)
	}
	if got := pids(x, b.Records); !slices.Equal(got, []uint32{1, 3, 4, 2}) {
		t.Errorf("--sort -rbytes: pids %v, want 1 3 4 2 (12 MB, 4.0 MB, 512 B, 9 B)", got)
	}
	for expr, want := range map[string][]uint32{
		"rbytes>=1000000": {1, 3},
		"rbytes<1000":     {2, 4},
		"rbytes==9":       {2},
		"rbytes==4.0 MB":  {3},
		"rbytes~MB$":      {1, 3},
	} {
		fs, err := filter.Compile([]*datasource.DataSource{x.ds}, []string{expr})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var got []uint32
		for _, r := range recs {
			if fs[x.ds].Match(r) {
				got = append(got, uint32(x.pid.Uint64(r)))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("-F %s: pids %v, want %v", expr, got, want)
		}
	}
}
