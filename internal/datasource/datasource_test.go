package datasource

import "testing"

func TestCloneIsIndependent(t *testing.T) {
	ds := New("x", TypeSingle)
	p, _ := ds.AddStaticField(nil, "proc", Invalid, 0, 8, FlagContainer)
	pid, _ := ds.AddStaticField(p, "pid", Uint32, 0, 4, 0)
	pid.Annotations["columns.width"] = "7"
	c := ds.Clone()
	if _, err := c.AddField(nil, "extra", String, 0); err != nil {
		t.Fatal(err)
	}
	c.Field("proc.pid").Annotations["columns.width"] = "9"
	if ds.Field("extra") != nil || len(ds.Fields) != 2 || ds.Payloads() != 1 {
		t.Error("adding a field to the clone changed the original")
	}
	if pid.Annotations["columns.width"] != "7" {
		t.Error("annotations are shared")
	}
	if c.Field("PROC.PID") != c.Fields[1] || c.Fields[1] == pid {
		t.Error("clone lookups do not point at the clone's fields")
	}
	r := c.NewRecord()
	c.Field("extra").SetString(r, "hello")
	if string(c.Field("extra").Text(r)) != "hello" {
		t.Error("dynamic field of the clone")
	}
}

func TestRecordAccessors(t *testing.T) {
	ds := New("x", TypeSingle)
	i8, _ := ds.AddStaticField(nil, "i8", Int8, 0, 1, 0)
	i32, _ := ds.AddStaticField(nil, "i32", Int32, 4, 4, 0)
	f64, _ := ds.AddStaticField(nil, "f64", Float64, 8, 8, 0)
	cs, _ := ds.AddStaticField(nil, "cs", CString, 16, 8, 0)
	r := ds.NewRecord()
	r.SetStatic([]byte{0xff, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 'a', 'b', 0, 'c'}, ds.StaticSize)
	if i8.Int64(r) != -1 || i32.Int64(r) != -2 || f64.Float64(r) != 1.5 || string(cs.Text(r)) != "ab" {
		t.Errorf("got %d %d %v %q", i8.Int64(r), i32.Int64(r), f64.Float64(r), cs.Text(r))
	}
	// Short samples are zero-padded; long ones spill into Rest.
	r.SetStatic([]byte{1}, ds.StaticSize)
	if i32.Int64(r) != 0 || len(r.Payload[0]) != int(ds.StaticSize) {
		t.Error("short sample not padded")
	}
	r.SetStatic(make([]byte, ds.StaticSize+3), ds.StaticSize)
	if len(r.Rest) != 3 {
		t.Errorf("rest %d bytes, want 3", len(r.Rest))
	}
}

func TestMoveFirst(t *testing.T) {
	ds := New("x", TypeSingle)
	a, _ := ds.AddStaticField(nil, "a", Uint32, 0, 4, 0)
	rt, _ := ds.AddField(nil, "runtime", Invalid, FlagContainer)
	name, _ := ds.AddField(rt, "containerName", String, 0)
	ds.MoveFirst(rt)
	if got := ds.FieldNames(); got[0] != "runtime" || got[1] != "runtime.containerName" || got[2] != "a" {
		t.Fatalf("order %v", got)
	}
	if name.Parent != rt.Index || rt.Index != 0 || a.Index != 2 || ds.Field("a") != a {
		t.Errorf("indices: runtime %d, name parent %d, a %d", rt.Index, name.Parent, a.Index)
	}
}

func TestResetDynamic(t *testing.T) {
	ds := New("x", TypeSingle)
	st, _ := ds.AddStaticField(nil, "s", Uint32, 0, 4, 0)
	str, _ := ds.AddField(nil, "str", String, 0)
	num, _ := ds.AddField(nil, "num", Uint64, 0)
	r := ds.NewRecord()
	r.SetStatic([]byte{1, 0, 0, 0}, ds.StaticSize)
	str.SetString(r, "old")
	num.SetUint64(r, 7)
	ds.ResetDynamic(r)
	if len(str.Text(r)) != 0 || num.Uint64(r) != 0 || st.Uint64(r) != 1 {
		t.Errorf("after reset: %q %d %d", str.Text(r), num.Uint64(r), st.Uint64(r))
	}
	if n := testing.AllocsPerRun(100, func() { ds.ResetDynamic(r) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

func TestMoveAfter(t *testing.T) {
	ds := New("x", TypeSingle)
	a, _ := ds.AddStaticField(nil, "a_raw", Uint32, 0, 4, 0)
	ds.AddStaticField(nil, "b", Uint32, 4, 4, 0)
	s, _ := ds.AddField(nil, "a", String, 0)
	ds.MoveAfter(s, a)
	if got := ds.FieldNames(); got[0] != "a_raw" || got[1] != "a" || got[2] != "b" || s.Index != 1 {
		t.Fatalf("order %v", got)
	}
}
