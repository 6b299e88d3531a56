package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// openLike builds a datasource shaped like trace_open's event:
//
//	struct { u64 ts; struct { char comm[16]; u32 pid; } proc; u32 error_raw; char fname[32]; }
func openLike(t testing.TB) (*datasource.DataSource, *datasource.Record) {
	ds := datasource.New("open", datasource.TypeSingle)
	must := func(f *datasource.Field, err error) *datasource.Field {
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ts := must(ds.AddStaticField(nil, "timestamp_raw", datasource.Uint64, 0, 8, datasource.FlagHidden))
	proc := must(ds.AddStaticField(nil, "proc", datasource.Invalid, 8, 20, datasource.FlagContainer|datasource.FlagHidden))
	comm := must(ds.AddStaticField(proc, "comm", datasource.CString, 8, 16, 0))
	comm.Annotations["columns.alias"] = "comm"
	comm.Annotations["columns.maxwidth"] = "16"
	pid := must(ds.AddStaticField(proc, "pid", datasource.Uint32, 24, 4, 0))
	pid.Annotations["columns.alias"] = "pid"
	pid.Annotations["columns.minwidth"] = "7"
	pid.Annotations["columns.width"] = "7"
	pid.Annotations["columns.alignment"] = "right"
	errf := must(ds.AddStaticField(nil, "error_raw", datasource.Int32, 28, 4, 0))
	errf.Annotations["columns.width"] = "5"
	must(ds.AddStaticField(nil, "fname", datasource.CString, 32, 32, 0))
	secret := must(ds.AddStaticField(nil, "secret", datasource.Uint32, 64, 4, datasource.FlagHidden))
	secret.Annotations["json.skip"] = "true"

	raw := make([]byte, 68)
	binary.NativeEndian.PutUint64(raw[0:], 123456789)
	copy(raw[8:], "cat\x00garbage")
	binary.NativeEndian.PutUint32(raw[24:], 4242)
	binary.NativeEndian.PutUint32(raw[28:], uint32(0xfffffffe)) // -2
	copy(raw[32:], "/tmp/a \"quoted\"\n\x01path")
	r := ds.NewRecord()
	r.SetStatic(raw, ds.StaticSize)
	_ = ts
	return ds, r
}

func TestJSON(t *testing.T) {
	ds, r := openLike(t)
	var out bytes.Buffer
	j := NewJSON(&out, ds)
	if err := j.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r, r}}); err != nil {
		t.Fatal(err)
	}
	want := `{"error_raw":-2,"fname":"/tmp/a \"quoted\"\n\u0001path","proc":{"comm":"cat","pid":4242},"timestamp_raw":123456789}` + "\n"
	if got := out.String(); got != want+want {
		t.Fatalf("got\n%s\nwant\n%s", got, want+want)
	}
	// The output is valid JSON.
	var v map[string]any
	if err := json.Unmarshal(bytes.Split(out.Bytes(), []byte("\n"))[0], &v); err != nil {
		t.Fatal(err)
	}
}

func TestJSONAllocs(t *testing.T) {
	ds, r := openLike(t)
	j := NewJSON(nil, ds)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() { buf = j.AppendRecord(buf[:0], r) }); n != 0 {
		t.Fatalf("AppendRecord allocates %v times per record", n)
	}
}

func TestColumns(t *testing.T) {
	ds, r := openLike(t)
	var out bytes.Buffer
	c, err := NewColumns(&out, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"COMM                 PID ERROR_RAW FNAME\n" +
		"cat                 4242 -2        /tmp/a \"quoted\"??path\n"
	if got := out.String(); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

func TestColumnsHeaderWithoutEvents(t *testing.T) {
	ds, _ := openLike(t)
	var out bytes.Buffer
	c, err := NewColumns(&out, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "COMM                 PID ERROR_RAW FNAME\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct{ in, mode, want string }{
		{"abcdefgh", "end", "abcd…"},
		{"abcdefgh", "start", "…efgh"},
		{"abcdefgh", "middle", "ab…gh"},
		{"abcdefgh", "none", "abcde"},
		// Wide characters take two cells; one that does not fit is left
		// out whole.
		{"日本語テキスト", "end", "日本…"},
		{"日本語テキスト", "start", "…スト"},
		{"日本語テキスト", "none", "日本"},
		{"a日本語テキスト", "end", "a日…"}, // 4 cells: the column pads the fifth
		{"ab日本語", "none", "ab日"},
		// A combining mark stays with its letter and takes no cell.
		{"e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", "end", "e\u0301e\u0301e\u0301e\u0301…"},
		{"e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", "start", "…e\u0301e\u0301e\u0301e\u0301"},
	} {
		if got := string(truncate([]byte(tc.in), 5, tc.mode)); got != tc.want {
			t.Errorf("truncate(%q, 5, %s) = %q, want %q", tc.in, tc.mode, got, tc.want)
		}
	}
	for in, want := range map[string]int{"abc": 3, "日本": 4, "e\u0301": 1, "ｆｕｌｌ": 8, "café": 4, "a\u200db": 2} {
		if got := cells([]byte(in)); got != want {
			t.Errorf("cells(%q) = %d, want %d", in, got, want)
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	ds, r := openLike(b)
	j := NewJSON(nil, ds)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = j.AppendRecord(buf[:0], r)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}

func BenchmarkColumns(b *testing.B) {
	ds, r := openLike(b)
	c, err := NewColumns(nil, ds, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.AppendRecord(buf[:0], r)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}

func TestColumnsAllocs(t *testing.T) {
	ds, r := openLike(t)
	c, err := NewColumns(nil, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() { buf = c.AppendRecord(buf[:0], r) }); n != 0 {
		t.Fatalf("AppendRecord allocates %v times per record", n)
	}
}

func TestArrayOutput(t *testing.T) {
	ds, r := openLike(t)
	ds.Type = datasource.TypeArray
	var out bytes.Buffer
	if err := NewJSON(&out, ds).Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r, r}}); err != nil {
		t.Fatal(err)
	}
	var arr []map[string]any
	if err := json.Unmarshal(out.Bytes(), &arr); err != nil || len(arr) != 2 || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("array output %q: %v", out.String(), err)
	}
	out.Reset()
	if err := NewJSON(&out, ds).Process(&pipeline.Batch{DS: ds}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "[]\n" {
		t.Fatalf("empty array: %q", out.String())
	}
	out.Reset()
	c, err := NewColumns(&out, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(out.String(), "COMM"); n != 2 {
		t.Fatalf("%d headers for 2 arrays:\n%s", n, out.String())
	}
}

// TestPrintable: text shown in columns has every character that could
// drive a terminal or reorder the display replaced: C0, DEL, C1 (U+009B
// is CSI) and the bidirectional controls; other text is kept.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"a\x1b[2Jb":            "a?[2Jb",
		"ab\u009b2Jcd":         "ab?2Jcd",
		"evil\u202egnp.exe":    "evil?gnp.exe",
		"x\u2066y\u2069\u200e": "x?y??",
		"café 日本語":             "café 日本語",
		"bad\xffutf8":          "bad?utf8",
	} {
		if got := string(appendPrintable(nil, []byte(in))); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestColumnsWideText: a column cut on wide characters keeps the next
// column where it belongs on the screen.
func TestColumnsWideText(t *testing.T) {
	ds := datasource.New("x", datasource.TypeSingle)
	name, _ := ds.AddField(nil, "name", datasource.String, 0)
	name.Annotations["columns.width"] = "5"
	pid, _ := ds.AddField(nil, "pid", datasource.Uint32, 0)
	var out bytes.Buffer
	c, err := NewColumns(&out, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, v := range []string{"abcdefgh", "a日本語テキスト", "日本語", "e\u0301e\u0301e\u0301"} {
		r := ds.NewRecord()
		name.SetString(r, v)
		pid.SetUint64(r, 42)
		lines = append(lines, string(c.AppendRecord(nil, r)))
	}
	for _, l := range lines {
		i := strings.Index(l, "42")
		if i < 0 || cells([]byte(l[:i])) != cells([]byte(lines[0][:strings.Index(lines[0], "42")])) {
			t.Errorf("pid not aligned:\n%q\n%q", lines[0], l)
		}
	}
}
