package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name.golden (or rewrites it).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: output differs from the golden file\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// run writes the batches through the mode's stage and returns the output.
func run(t *testing.T, mode string, o *openDS, opts Options, batches ...[]openEvent) []byte {
	t.Helper()
	var out bytes.Buffer
	st, err := New(mode, &out, o.ds, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, evs := range batches {
		b := &pipeline.Batch{DS: o.ds}
		for _, e := range evs {
			b.Records = append(b.Records, o.record(e))
		}
		if err := st.Process(b); err != nil {
			t.Fatal(err)
		}
	}
	if f, ok := st.(pipeline.Flusher); ok {
		if err := f.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

var recorded = []openEvent{evReader, evWriter, evFailed}

func TestGoldenSingle(t *testing.T) {
	o := newOpenDS(t, datasource.TypeSingle)
	sel := []*datasource.Field{o.fname, o.pid, o.flags, o.comm} // --fields fname,pid,flags,comm
	plusFlags := append(DefaultFields(o.ds), o.flags)           // -o columns=+flags
	for _, tc := range []struct {
		name, mode string
		opts       Options
	}{
		{"columns", ModeColumns, Options{}},
		{"columns_w200", ModeColumns, Options{Width: 200, Terminal: true}},
		{"columns_w60", ModeColumns, Options{Width: 60, Terminal: true}},
		{"columns_fields", ModeColumns, Options{Fields: sel}},
		{"columns_fields_w60", ModeColumns, Options{Fields: sel, Width: 60}},
		{"columns_plus_flags", ModeColumns, Options{Fields: plusFlags}},
		{"json", ModeJSON, Options{}},
		{"json_fields", ModeJSON, Options{Fields: sel}},
		{"jsonpretty", ModeJSONPretty, Options{}},
		{"jsonpretty_fields", ModeJSONPretty, Options{Fields: sel}},
		{"yaml", ModeYAML, Options{}},
		{"yaml_fields", ModeYAML, Options{Fields: sel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, run(t, tc.mode, o, tc.opts, recorded))
		})
	}
	if out := run(t, ModeNone, o, Options{}, recorded); len(out) != 0 {
		t.Errorf("none wrote %q", out)
	}
	if _, err := New("xml", nil, o.ds, Options{}); err == nil || !strings.Contains(err.Error(), "jsonpretty") {
		t.Errorf("unknown mode: %v", err)
	}
}

func TestGoldenArray(t *testing.T) {
	o := newOpenDS(t, datasource.TypeArray)
	o.ds.Annotations[AnnClearScreen] = "true"
	sel := []*datasource.Field{o.comm, o.pid, o.fname}
	for _, tc := range []struct {
		name, mode string
		opts       Options
	}{
		// Not a terminal: a blank line and the header again per array.
		{"array_columns", ModeColumns, Options{Fields: sel}},
		// A terminal: clear the screen, then the header, per array.
		{"array_columns_tty", ModeColumns, Options{Fields: sel, Width: 80, Terminal: true}},
		{"array_json", ModeJSON, Options{Fields: sel}},
		{"array_jsonpretty", ModeJSONPretty, Options{Fields: sel}},
		{"array_yaml", ModeYAML, Options{Fields: sel}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name, run(t, tc.mode, o, tc.opts, []openEvent{evReader, evFailed}, nil, []openEvent{evWriter}))
		})
	}
	// Without the annotation a terminal is not cleared.
	delete(o.ds.Annotations, AnnClearScreen)
	if out := run(t, ModeColumns, o, Options{Fields: sel, Terminal: true}, recorded, recorded); bytes.Contains(out, []byte(clearScreen)) {
		t.Error("screen cleared without cli.clear-screen-before")
	}
}

func TestColumnsFit(t *testing.T) {
	o := newOpenDS(t, datasource.TypeSingle)
	widths := func(opts Options) []int {
		c, err := newColumns(nil, o.ds, opts)
		if err != nil {
			t.Fatal(err)
		}
		return c.Widths()
	}
	// COMM PID TID UID GID FD FNAME ERROR
	natural := []int{16, 7, 7, 8, 8, 5, 32, 12}
	if got := widths(Options{}); !slices.Equal(got, natural) {
		t.Errorf("natural widths %v, want %v", got, natural)
	}
	sum := func(ws []int) int {
		n := len(ws) - 1
		for _, w := range ws {
			n += w
		}
		return n
	}
	// Wide: the (left-aligned) last column takes the rest.
	if got := widths(Options{Width: 200}); sum(got) != 200 || !slices.Equal(got[:7], natural[:7]) {
		t.Errorf("width 200: %v (sum %d)", got, sum(got))
	}
	// Narrow: shrink widest first, never below the header or minwidth.
	got := widths(Options{Width: 90})
	if sum(got) != 90 {
		t.Errorf("width 90: %v (sum %d)", got, sum(got))
	}
	got = widths(Options{Width: 20})
	floors := []int{4, 7, 7, 8, 8, 2, 24, 5} // COMM, minwidths, FD, minwidth 24, ERROR
	if !slices.Equal(got, floors) {
		t.Errorf("width 20: %v, want the floors %v", got, floors)
	}
	// columns.fixed keeps its width.
	o.fname.Annotations[annFixed] = "true"
	if got := widths(Options{Width: 60}); got[6] != 32 {
		t.Errorf("fixed fname shrank to %d", got[6])
	}
	delete(o.fname.Annotations, annFixed)
	// A right-aligned last column does not grow.
	if got := widths(Options{Width: 200, Fields: []*datasource.Field{o.comm, o.pid}}); got[1] != 7 {
		t.Errorf("right-aligned last column: %v", got)
	}
}

func TestDefaultFieldsHiddenAnnotation(t *testing.T) {
	o := newOpenDS(t, datasource.TypeSingle)
	var names []string
	for _, f := range DefaultFields(o.ds) {
		names = append(names, f.FullName)
	}
	want := []string{"proc.comm", "proc.pid", "proc.tid", "proc.creds.uid", "proc.creds.gid", "fd", "fname", "error"}
	if !slices.Equal(names, want) {
		t.Errorf("default fields %v, want %v", names, want)
	}
}

// TestYAMLIsJSON checks that every YAML document reads back as the JSON
// of the same record.
func TestYAMLIsJSON(t *testing.T) {
	o := newOpenDS(t, datasource.TypeSingle)
	for _, e := range append(recorded, bigEvent) {
		r := o.record(e)
		y := newYAML(nil, o.ds, nil).AppendRecord(nil, r)
		j := NewJSON(nil, o.ds).AppendRecord(nil, r)
		var fromYAML any
		if err := yaml.Unmarshal(y, &fromYAML); err != nil {
			t.Fatalf("%v:\n%s", err, y)
		}
		var viaJSON, fromJSON any
		if err := json.Unmarshal(j, &fromJSON); err != nil {
			t.Fatal(err)
		}
		yj, err := json.Marshal(fromYAML)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(yj, &viaJSON); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(viaJSON, fromJSON) {
			t.Errorf("yaml %s\n!= json %s", yj, j)
		}
	}
}

func TestYAMLStrings(t *testing.T) {
	for _, s := range []string{"", "true", "Yes", "NO", "null", "Null", "~", "y", "on", "123", "1.5", "0x1F", ".5", "+1", "-x", "-",
		"a: b", "a:b", "key:", "a #b", "a#b", "#c", " lead", "trail ", "tab\there", "new\nline", "cr\r", "quote\"d", "'single",
		"ünïcode", "[x]", "{x}", "a[0]", "@at", "%pct", "*star", "&amp", "!bang", "|pipe", ">gt", "?q", "=eq", "<lt", "`tick",
		"/etc/passwd", "O_RDONLY|O_CLOEXEC", "sshd: alice", "a,b", "back\\slash", "nul\x00", "bad\xffutf8", "2024-05-01", "12:30"} {
		b := appendYAMLString([]byte("v: "), []byte(s))
		var m map[string]string
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Errorf("%q → %s: %v", s, b, err)
			continue
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if m["v"] != want {
			t.Errorf("%q → %s → %q", s, b, m["v"])
		}
	}
	for _, tc := range []struct {
		f    float64
		want string
	}{{1.5, "1.5"}, {2, "2.0"}, {1e21, "1e+21"}, {math.NaN(), ".nan"}, {math.Inf(1), ".inf"}, {math.Inf(-1), "-.inf"}} {
		if got := string(appendYAMLFloat(nil, tc.f)); got != tc.want {
			t.Errorf("float %v: %s, want %s", tc.f, got, tc.want)
		}
	}
}

// TestJSONString checks the escaper against encoding/json on random
// strings, invalid UTF-8 included.
func TestJSONString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("abc/ \"\\\x00\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xff\xf0\x9f\x98\x80\t\n")
	for i := 0; i < 20000; i++ {
		s := make([]byte, rng.IntN(40))
		for j := range s {
			s[j] = alphabet[rng.IntN(len(alphabet))]
		}
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, got, err)
		}
		if want := strings.ToValidUTF8(string(s), "\ufffd"); back != want && !utf8.ValidString(string(s)) {
			// encoding/json replaces each invalid byte; ToValidUTF8 a run.
			var ref string
			ref2, _ := json.Marshal(string(s))
			_ = json.Unmarshal(ref2, &ref)
			if back != ref {
				t.Fatalf("%q → %s → %q, want %q", s, got, back, ref)
			}
		} else if back != want {
			t.Fatalf("%q → %s → %q", s, got, back)
		}
	}
}

func TestAppendUint(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 12345678, 99999999, 1e8, 1e8 + 1, 1234567890123,
		1714566896123456789, 1e16, 1e16 - 1, math.MaxUint64} {
		if got := string(appendUint(nil, v)); got != strconv.FormatUint(v, 10) {
			t.Errorf("%d: %s", v, got)
		}
	}
	for p := uint64(1); p <= 1e19; p *= 10 {
		for _, v := range []uint64{p - 1, p, p + 1, p*2 - 1} {
			buf := make([]byte, 3, 64) // in place, after existing bytes
			if got := string(appendUint(buf, v)[3:]); got != strconv.FormatUint(v, 10) {
				t.Errorf("%d: %s", v, got)
			}
			if got := string(appendUint([]byte("ab"), v)[2:]); got != strconv.FormatUint(v, 10) {
				t.Errorf("%d (growing): %s", v, got)
			}
		}
		if p == 1e19 {
			break
		}
	}
	for _, v := range []int64{0, -1, -100, math.MinInt64, math.MaxInt64} {
		if got := string(appendInt(nil, v)); got != strconv.FormatInt(v, 10) {
			t.Errorf("%d: %s", v, got)
		}
	}
}

func TestAllocsPerEvent(t *testing.T) {
	o := newOpenDS(t, datasource.TypeSingle)
	r := o.record(bigEvent)
	buf := make([]byte, 0, 8192)
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s allocates %v times per event", name, n)
		}
	}
	j := NewJSON(nil, o.ds)
	check("json", func() { buf = j.AppendRecord(buf[:0], r) })
	jp := newJSON(nil, o.ds, nil, true)
	check("jsonpretty", func() { buf = jp.AppendRecord(buf[:0], r) })
	y := newYAML(nil, o.ds, nil)
	check("yaml", func() { buf = y.AppendRecord(buf[:0], r) })
	for _, w := range []int{0, 60, 200} {
		c, err := newColumns(nil, o.ds, Options{Width: w, Fields: append(DefaultFields(o.ds), o.flags, o.latency)})
		if err != nil {
			t.Fatal(err)
		}
		check("columns width "+strconv.Itoa(w), func() { buf = c.AppendRecord(buf[:0], r) })
	}
	// Whole batches through Process, once the buffer has grown.
	var sink bytes.Buffer
	sink.Grow(1 << 20)
	b := &pipeline.Batch{DS: o.ds, Records: []*datasource.Record{r, r, r, r}}
	for _, mode := range []string{ModeColumns, ModeJSON, ModeJSONPretty, ModeYAML} {
		st, _ := New(mode, &sink, o.ds, Options{Width: 60})
		_ = st.Process(b)
		check(mode+" Process", func() { sink.Reset(); _ = st.Process(b) })
	}
}

func BenchmarkYAML600(b *testing.B) {
	o := newOpenDS(b, datasource.TypeSingle)
	r := o.record(bigEvent)
	y := newYAML(nil, o.ds, nil)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = y.AppendRecord(buf[:0], r)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
}

func BenchmarkColumns600Width60(b *testing.B) {
	o := newOpenDS(b, datasource.TypeSingle)
	r := o.record(bigEvent)
	c, err := newColumns(nil, o.ds, Options{Width: 60, Fields: append(DefaultFields(o.ds), o.flags)})
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

// Fields resolved on the spec's datasource select on the run's copy.
func TestFieldsFromAClone(t *testing.T) {
	o := newOpenDS(t, datasource.TypeSingle)
	run := o.ds.Clone()
	r := o.record(evReader)
	for _, mode := range []string{ModeJSON, ModeYAML, ModeColumns} {
		var out bytes.Buffer
		st, err := New(mode, &out, run, Options{Fields: []*datasource.Field{o.pid, o.flags}})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Process(&pipeline.Batch{DS: run, Records: []*datasource.Record{r}}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "612") || !strings.Contains(out.String(), "O_RDONLY|O_CLOEXEC") {
			t.Errorf("%s: %s", mode, out.String())
		}
	}
}

func TestTerminal(t *testing.T) {
	if _, ok := Terminal(&bytes.Buffer{}); ok {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := Terminal(f); ok {
		t.Error("a regular file is a terminal")
	}
}

func TestTerminalPty(t *testing.T) {
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer ptm.Close()
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pty number: %v", err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty: %v", err)
	}
	defer pts.Close()
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 123}); err != nil {
		t.Fatal(err)
	}
	if w, ok := Terminal(pts); !ok || w != 123 {
		t.Errorf("Terminal(pty) = %d, %v; want 123, true", w, ok)
	}
}
