package loader

import (
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
)

// TestEveryParamType writes one param of every type into .rodata from its
// CLI string and checks, through a real event, what the program saw.
func TestEveryParamType(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "params.bpf.c", "")
	values := map[string]string{
		"p_bool": "true", "p_i8": "-8", "p_i16": "-1600", "p_i32": "-320000", "p_i64": "-64000000000",
		"p_u8": "250", "p_u16": "65000", "p_u32": "4000000000", "p_u64": "18000000000000000000",
		"p_f32": "1.5", "p_f64": "-2.25", "p_str": "hello", "p_pid": strconv.Itoa(os.Getpid()),
	}
	params := map[string]any{}
	for _, p := range spec.Params {
		s, ok := values[p.Key]
		if !ok {
			t.Fatalf("unexpected param %s", p.Key)
		}
		v, err := p.Parse(s)
		if err != nil {
			t.Fatalf("parse %s=%s: %v", p.Key, s, err)
		}
		params[p.Key] = v
	}
	if len(params) != len(values) {
		t.Fatalf("%d params discovered, want %d", len(params), len(values))
	}
	g := load(t, spec, Options{Params: params})
	r := g.Readers()[0]
	ds := r.DataSource()

	unix.Getppid()
	r.SetDeadline(time.Now().Add(5 * time.Second))
	rec := ds.NewRecord()
	if err := r.ReadInto(rec); err != nil {
		t.Fatalf("no event: %v", err)
	}
	f := func(name string) *datasource.Field {
		if fld := ds.Field(name); fld != nil {
			return fld
		}
		t.Fatalf("no field %s", name)
		return nil
	}
	check := func(name, got, want string) {
		if got != want {
			t.Errorf("%s: the program saw %s, want %s", name, got, want)
		}
	}
	check("bool", strconv.FormatBool(f("b").Bool(rec)), "true")
	for name, want := range map[string]string{"i8": "-8", "i16": "-1600", "i32": "-320000", "i64": "-64000000000"} {
		check(name, strconv.FormatInt(f(name).Int64(rec), 10), want)
	}
	for name, want := range map[string]string{"u8": "250", "u16": "65000", "u32": "4000000000", "u64": "18000000000000000000"} {
		check(name, strconv.FormatUint(f(name).Uint64(rec), 10), want)
	}
	check("f32", strconv.FormatFloat(f("f32").Float64(rec), 'g', -1, 64), "1.5")
	check("f64", strconv.FormatFloat(f("f64").Float64(rec), 'g', -1, 64), "-2.25")
	check("str", string(f("str").Text(rec)), "hello")
}
