package formatters

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/format"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// traceOpen is the event of gadgets/trace_open as gadgetspec builds it:
//
//	struct event {
//		gadget_timestamp timestamp_raw;   //  0
//		struct gadget_process proc;       //  8 (comm 8, pid 24, tid 28,
//		                                  //  mntns_id 32, creds.uid 40, creds.gid 44,
//		                                  //  parent.comm 48, parent.pid 64, parent.tid 68)
//		gadget_errno error_raw;           // 72
//		__u32 fd;                         // 76
//		gadget_file_flags flags_raw;      // 80
//		gadget_file_mode mode_raw;        // 84
//		char fname[255];                  // 88
//	};
type traceOpen struct {
	ds                                *datasource.DataSource
	ts, uid, gid, errRaw, flags, mode *datasource.Field
	comm, pid, fd, fname, mntns, tid  *datasource.Field
}

func newTraceOpen(t testing.TB) *traceOpen {
	ds := datasource.New("open", datasource.TypeSingle)
	e := &traceOpen{ds: ds}
	add := func(parent *datasource.Field, name string, kind datasource.Kind, off, size uint32, flags datasource.Flags, tags []string, ann map[string]string) *datasource.Field {
		t.Helper()
		f, err := ds.AddStaticField(parent, name, kind, off, size, flags)
		if err != nil {
			t.Fatal(err)
		}
		f.Tags = append([]string{"name:" + name, "src:ebpf"}, tags...)
		for k, v := range ann {
			f.Annotations[k] = v
		}
		if f.Annotations["columns.hidden"] == "true" {
			f.Flags |= datasource.FlagHidden
		}
		if parent != nil && parent.HasTag("type:gadget_process") || parent != nil && parent.Parent >= 0 {
			f.Annotations["columns.alias"] = name
		}
		return f
	}
	tsAnn := map[string]string{"columns.width": "35", "columns.maxwidth": "35", "columns.ellipsis": "end", "columns.hidden": "true"}
	e.ts = add(nil, "timestamp_raw", datasource.Uint64, 0, 8, 0, []string{"type:gadget_timestamp"}, tsAnn)
	proc := add(nil, "proc", datasource.Invalid, 8, 56, datasource.FlagContainer, []string{"type:gadget_process"}, map[string]string{"columns.hidden": "true"})
	e.comm = add(proc, "comm", datasource.CString, 8, 16, 0, []string{"type:gadget_comm"}, map[string]string{"columns.maxwidth": "16"})
	e.pid = add(proc, "pid", datasource.Uint32, 24, 4, 0, []string{"type:gadget_pid"}, map[string]string{"columns.minwidth": "7", "columns.alignment": "right"})
	e.tid = add(proc, "tid", datasource.Uint32, 28, 4, 0, []string{"type:gadget_tid"}, map[string]string{"columns.minwidth": "7", "columns.alignment": "right"})
	e.mntns = add(proc, "mntns_id", datasource.Uint64, 32, 8, 0, []string{"type:gadget_mntns_id"}, map[string]string{"columns.width": "12", "columns.hidden": "true"})
	creds := add(proc, "creds", datasource.Invalid, 40, 8, datasource.FlagContainer, []string{"type:gadget_creds"}, nil)
	e.uid = add(creds, "uid", datasource.Uint32, 40, 4, 0, []string{"type:gadget_uid"}, map[string]string{"columns.minwidth": "8", "columns.alignment": "right"})
	e.gid = add(creds, "gid", datasource.Uint32, 44, 4, 0, []string{"type:gadget_gid"}, map[string]string{"columns.minwidth": "8", "columns.alignment": "right"})
	parent := add(proc, "parent", datasource.Invalid, 48, 24, datasource.FlagContainer, []string{"type:gadget_parent"}, map[string]string{"columns.hidden": "true"})
	add(parent, "comm", datasource.CString, 48, 16, 0, []string{"type:gadget_pcomm"}, map[string]string{"columns.hidden": "true"})
	add(parent, "pid", datasource.Uint32, 64, 4, 0, []string{"type:gadget_ppid"}, map[string]string{"columns.hidden": "true"})
	add(parent, "tid", datasource.Uint32, 68, 4, 0, []string{"type:gadget_ptid"}, map[string]string{"columns.hidden": "true"})
	e.errRaw = add(nil, "error_raw", datasource.Uint32, 72, 4, 0, []string{"type:gadget_errno"}, map[string]string{"columns.width": "5"})
	e.fd = add(nil, "fd", datasource.Uint32, 76, 4, 0, nil, nil)
	e.flags = add(nil, "flags_raw", datasource.Uint32, 80, 4, 0, []string{"type:gadget_file_flags"}, nil)
	e.mode = add(nil, "mode_raw", datasource.Uint32, 84, 4, 0, []string{"type:gadget_file_mode"}, nil)
	e.fname = add(nil, "fname", datasource.CString, 88, 255, 0, nil, nil)
	ds.StaticSize = 344
	return e
}

// set fills the static payload of r.
func (e *traceOpen) set(r *datasource.Record, ts uint64, comm string, uid, gid, errno, fd, flags, mode uint32, fname string) {
	p := r.Payload[0]
	clear(p)
	binary.NativeEndian.PutUint64(p[0:], ts)
	copy(p[8:24], comm)
	binary.NativeEndian.PutUint32(p[24:], 4242)
	binary.NativeEndian.PutUint32(p[28:], 4243)
	binary.NativeEndian.PutUint32(p[40:], uid)
	binary.NativeEndian.PutUint32(p[44:], gid)
	binary.NativeEndian.PutUint32(p[72:], errno)
	binary.NativeEndian.PutUint32(p[76:], fd)
	binary.NativeEndian.PutUint32(p[80:], flags)
	binary.NativeEndian.PutUint32(p[84:], mode)
	copy(p[88:88+254], fname)
}

func writeHostRoot(t testing.TB) string {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\n",
		"group":  "root:x:0:\nstaff:x:50:alice\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func text(f *datasource.Field, r *datasource.Record) string { return string(f.Text(r)) }

// checkInvariants checks what the rest of the runtime relies on: Index is
// the position, parents come before children, lookups find the fields.
func checkInvariants(t *testing.T, ds *datasource.DataSource) {
	t.Helper()
	for i, f := range ds.Fields {
		if f.Index != i {
			t.Errorf("field %s: Index %d at position %d", f.FullName, f.Index, i)
		}
		if f.Parent >= i {
			t.Errorf("field %s: parent %d not before it", f.FullName, f.Parent)
		}
		if f.Parent >= 0 {
			if p := ds.Fields[f.Parent]; p.FullName+"."+f.Name != f.FullName {
				t.Errorf("field %s: parent is %s", f.FullName, p.FullName)
			}
		}
		if ds.Field(f.FullName) != f {
			t.Errorf("field %s: lookup finds another field", f.FullName)
		}
	}
	c := ds.Clone()
	for i, f := range c.Fields {
		if c.Field(f.FullName) != f || f.Index != i {
			t.Errorf("clone: field %s misplaced", f.FullName)
		}
	}
}

func TestTraceOpen(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC

	e := newTraceOpen(t)
	ds := e.ds
	st, err := New(ds, Options{HostRoot: writeHostRoot(t)})
	if err != nil || st == nil {
		t.Fatalf("New: %v, %v", st, err)
	}
	checkInvariants(t, ds)

	// The added fields, their annotations and visibility.
	want := []struct {
		name     string
		raw      *datasource.Field
		hidden   bool
		ann      map[string]string
		notAnn   []string
		position string // the field just before it
	}{
		{"timestamp", e.ts, true, map[string]string{"template": "timestamp", "columns.width": "35", "columns.hidden": "true"}, nil, "timestamp_raw"},
		{"error", e.errRaw, false, map[string]string{"template": "errorString", "columns.width": "12"}, []string{"columns.hidden"}, "error_raw"},
		{"flags", e.flags, false, nil, []string{"columns.hidden", "template"}, "flags_raw"},
		{"mode", e.mode, false, nil, []string{"columns.hidden", "template"}, "mode_raw"},
		{"proc.creds.user", e.uid, true, map[string]string{"columns.hidden": "true"}, nil, "proc.creds.uid"},
		{"proc.creds.group", e.gid, true, map[string]string{"columns.hidden": "true"}, nil, "proc.creds.gid"},
	}
	for _, w := range want {
		f := ds.Field(w.name)
		if f == nil {
			t.Errorf("no field %s; fields: %v", w.name, ds.FieldNames())
			continue
		}
		if f.Kind != datasource.String || f.Flags&datasource.FlagStatic != 0 || f.Payload == 0 {
			t.Errorf("%s: kind %v flags %b payload %d, want a dynamic string", w.name, f.Kind, f.Flags, f.Payload)
		}
		if got := f.Flags&datasource.FlagHidden != 0; got != w.hidden {
			t.Errorf("%s: hidden %v, want %v", w.name, got, w.hidden)
		}
		for k, v := range w.ann {
			if f.Annotations[k] != v {
				t.Errorf("%s: annotation %s=%q, want %q", w.name, k, f.Annotations[k], v)
			}
		}
		for _, k := range w.notAnn {
			if v, ok := f.Annotations[k]; ok {
				t.Errorf("%s: unexpected annotation %s=%q", w.name, k, v)
			}
		}
		if prev := ds.Fields[f.Index-1]; prev.FullName != w.position {
			t.Errorf("%s: placed after %s, want after %s", w.name, prev.FullName, w.position)
		}
		if f.Parent != w.raw.Parent {
			t.Errorf("%s: not a sibling of %s", w.name, w.raw.FullName)
		}
		if w.raw.Flags&datasource.FlagHidden == 0 || w.raw.Annotations["columns.hidden"] != "true" {
			t.Errorf("%s: raw field %s is not hidden", w.name, w.raw.FullName)
		}
	}
	if e.fd.Flags&datasource.FlagHidden != 0 || e.fname.Flags&datasource.FlagHidden != 0 {
		t.Error("fields without a formatter were hidden")
	}

	// The default columns: the formatted fields where the raw ones were.
	var cols []string
	for _, f := range format.DefaultFields(ds) {
		cols = append(cols, f.FullName)
	}
	if wantCols := []string{"proc.comm", "proc.pid", "proc.tid", "error", "fd", "flags", "mode", "fname"}; !slices.Equal(cols, wantCols) {
		t.Errorf("default columns %v, want %v", cols, wantCols)
	}

	ts := uint64(time.Date(2024, 7, 29, 16, 53, 44, 123456789, time.UTC).UnixNano())
	recs := []*datasource.Record{ds.NewRecord(), ds.NewRecord()}
	e.set(recs[0], ts, "cat", 1000, 50, 2, 0, 0o1101, 0o4755, "/etc/shadow")
	e.set(recs[1], 0, "ls", 4242, 4243, 0, 3, 0o2000000|0o200000, 0, "/")
	if err := st.Process(&pipeline.Batch{DS: ds, Records: recs}); err != nil {
		t.Fatal(err)
	}
	rendered := []map[string]string{
		{"timestamp": "2024-07-29T16:53:44.123456789Z", "error": "ENOENT", "flags": "O_WRONLY|O_CREAT|O_TRUNC", "mode": "-rwsr-xr-x", "proc.creds.user": "alice", "proc.creds.group": "staff"},
		{"timestamp": "", "error": "", "flags": "O_RDONLY|O_DIRECTORY|O_CLOEXEC", "mode": "----------", "proc.creds.user": "uid:4242", "proc.creds.group": "gid:4243"},
	}
	for i, r := range recs {
		for name, v := range rendered[i] {
			if got := text(ds.Field(name), r); got != v {
				t.Errorf("record %d: %s = %q, want %q", i, name, got, v)
			}
		}
		if text(e.fname, r) == "" || e.errRaw.Uint64(r) != [2]uint64{2, 0}[i] {
			t.Errorf("record %d: raw values changed", i)
		}
	}
}

func TestRecordsAllocateNothing(t *testing.T) {
	e := newTraceOpen(t)
	st, err := New(e.ds, Options{HostRoot: writeHostRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	b := &pipeline.Batch{DS: e.ds}
	for i := 0; i < 64; i++ {
		r := e.ds.NewRecord()
		e.set(r, uint64(time.Now().UnixNano()), "cat", uint32(i%3)*1000, 50, uint32(i%40), 3, 0o1101, 0o100644, "/etc/passwd")
		b.Records = append(b.Records, r)
	}
	_ = st.Process(b) // grow the payloads once
	if n := testing.AllocsPerRun(100, func() { _ = st.Process(b) }); n != 0 {
		t.Errorf("%v allocations per batch of %d records, want 0", n, len(b.Records))
	}
}

func TestNaming(t *testing.T) {
	ds := datasource.New("x", datasource.TypeSingle)
	add := func(name string, tags []string, ann map[string]string) *datasource.Field {
		f, err := ds.AddField(nil, name, datasource.Uint32, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Tags = tags
		for k, v := range ann {
			f.Annotations[k] = v
		}
		return f
	}
	custom := add("ret", []string{"type:gadget_errno"}, map[string]string{"formatters.errno.target": "ret_str"})
	noSuffix := add("sig", []string{"type:gadget_signal"}, nil)
	taken := add("mode_raw", []string{"type:gadget_file_mode"}, nil)
	add("mode", nil, nil)
	shown := add("flags_raw", []string{"type:gadget_file_flags"}, map[string]string{"columns.hidden": "false"})
	uidRaw := add("owner_raw", []string{"type:gadget_uid"}, nil)
	uidTarget := add("euid", []string{"type:gadget_uid"}, map[string]string{"uidgidresolver.target": "euser"})
	uidPlain := add("uid", []string{"type:gadget_uid"}, nil)
	notInt, _ := ds.AddField(nil, "blob_raw", datasource.Bytes, 0)
	notInt.Tags = []string{"type:gadget_errno"}

	st, err := New(ds, Options{HostRoot: t.TempDir()}) // no passwd: not an error
	if err != nil || st == nil {
		t.Fatalf("New: %v, %v", st, err)
	}
	checkInvariants(t, ds)

	for name, raw := range map[string]*datasource.Field{"ret_str": custom, "owner": uidRaw, "euser": uidTarget, "user": uidPlain, "flags": shown} {
		if f := ds.Field(name); f == nil || ds.Fields[f.Index-1] != raw {
			t.Errorf("%s: not added after %s (fields %v)", name, raw.FullName, ds.FieldNames())
		}
	}
	for _, name := range []string{"sig_str", "blob"} {
		if ds.Field(name) != nil {
			t.Errorf("%s added", name)
		}
	}
	if noSuffix.Flags&datasource.FlagHidden != 0 || taken.Flags&datasource.FlagHidden != 0 {
		t.Error("a raw field that got no sibling was hidden")
	}
	if ds.Field("mode").Kind != datasource.Uint32 {
		t.Error("the existing mode field was replaced")
	}
	if shown.Flags&datasource.FlagHidden != 0 {
		t.Error("columns.hidden=false on the raw field was overridden")
	}

	r := ds.NewRecord()
	uidPlain.SetUint64(r, 0)
	if err := st.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}}); err != nil {
		t.Fatal(err)
	}
	if got := text(ds.Field("user"), r); got != "uid:0" {
		t.Errorf("user without passwd: %q, want uid:0", got)
	}

	if st, err := New(datasource.New("empty", datasource.TypeSingle), Options{}); st != nil || err != nil {
		t.Errorf("nothing to do: got %v, %v", st, err)
	}
}

func TestHostRootUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads everything")
	}
	root := writeHostRoot(t)
	if err := os.Chmod(filepath.Join(root, "etc", "group"), 0); err != nil {
		t.Fatal(err)
	}
	ds := datasource.New("x", datasource.TypeSingle)
	f, _ := ds.AddField(nil, "gid", datasource.Uint32, 0)
	f.Tags = []string{"type:gadget_gid"}
	if _, err := New(ds, Options{HostRoot: root}); err == nil {
		t.Error("an unreadable group file was ignored")
	}
}

func TestEnumFields(t *testing.T) {
	ds := datasource.New("x", datasource.TypeSingle)
	state, _ := ds.AddStaticField(nil, "state_raw", datasource.Uint8, 0, 1, 0)
	state.Enum = []datasource.EnumValue{{Name: "TCP_ESTABLISHED", Value: 1}, {Name: "TCP_CLOSE", Value: 7}}
	flags, _ := ds.AddStaticField(nil, "tcpflags_raw", datasource.Uint8, 1, 1, 0)
	flags.Enum, flags.Bitfield = tcpFlags, true
	flags.Annotations["ebpf.formatter.bitfield.separator"] = ","
	named, _ := ds.AddStaticField(nil, "dir", datasource.Uint8, 2, 1, 0)
	named.Enum = []datasource.EnumValue{{Name: "IN", Value: 0}, {Name: "OUT", Value: 1}}
	named.Annotations["ebpf.formatter.enum"] = "direction"
	plain, _ := ds.AddStaticField(nil, "kind", datasource.Uint8, 3, 1, 0)
	plain.Enum = []datasource.EnumValue{{Name: "A", Value: 0}}
	ds.StaticSize = 4

	st, err := New(ds, Options{})
	if err != nil || st == nil {
		t.Fatalf("New: %v, %v", st, err)
	}
	checkInvariants(t, ds)
	if ds.Field("kind_str") != nil || plain.Flags&datasource.FlagHidden != 0 {
		t.Error("an enum without _raw or ebpf.formatter.enum was formatted")
	}
	r := ds.NewRecord()
	r.SetStatic([]byte{7, 2 | 16 | 0x80, 1, 0}, ds.StaticSize)
	if err := st.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"state": "TCP_CLOSE", "tcpflags": "SYN,ACK", "direction": "OUT"} {
		if got := text(ds.Field(name), r); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	r.SetStatic([]byte{9, 0, 5, 0}, ds.StaticSize)
	_ = st.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}})
	for name, want := range map[string]string{"state": "UNKNOWN", "tcpflags": "", "direction": "UNKNOWN"} {
		if got := text(ds.Field(name), r); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// newEndpoints builds {struct gadget_l4endpoint_t dst; struct
// gadget_l3endpoint_t peer;} as gadgetspec does.
func newEndpoints(t *testing.T) (ds *datasource.DataSource, dst, peer *datasource.Field) {
	ds = datasource.New("conn", datasource.TypeSingle)
	add := func(parent *datasource.Field, name string, kind datasource.Kind, off, size uint32, flags datasource.Flags, tags ...string) *datasource.Field {
		f, err := ds.AddStaticField(parent, name, kind, off, size, flags)
		if err != nil {
			t.Fatal(err)
		}
		f.Tags = append([]string{"name:" + name, "src:ebpf"}, tags...)
		return f
	}
	dst = add(nil, "dst", datasource.Invalid, 0, 24, datasource.FlagContainer, "type:gadget_l4endpoint_t")
	for k, v := range map[string]string{"columns.minwidth": "22", "columns.width": "40", "columns.maxwidth": "52", "columns.ellipsis": "middle"} {
		dst.Annotations[k] = v
	}
	add(dst, "addr_raw", datasource.Bytes, 0, 16, 0, "type:gadget_ip_addr_t")
	add(dst, "port", datasource.Uint16, 16, 2, 0)
	add(dst, "proto_raw", datasource.Uint16, 18, 2, 0)
	add(dst, "version", datasource.Uint8, 20, 1, 0)
	add(nil, "pid", datasource.Uint32, 24, 4, 0)
	peer = add(nil, "peer", datasource.Invalid, 28, 17, datasource.FlagContainer, "type:gadget_l3endpoint_t")
	add(peer, "addr_raw", datasource.Bytes, 28, 16, 0, "type:gadget_ip_addr_t")
	add(peer, "version", datasource.Uint8, 44, 1, 0)
	ds.StaticSize = 48
	return ds, dst, peer
}

func TestEndpoints(t *testing.T) {
	ds, dst, peer := newEndpoints(t)
	st, err := New(ds, Options{})
	if err != nil || st == nil {
		t.Fatalf("New: %v, %v", st, err)
	}
	checkInvariants(t, ds)

	var cols []string
	for _, f := range format.DefaultFields(ds) {
		cols = append(cols, f.FullName+"="+f.Annotations["columns.alias"])
	}
	if want := []string{"dst.endpoint=dst", "pid=", "peer.addr=peer"}; !slices.Equal(cols, want) {
		t.Errorf("default columns %v, want %v", cols, want)
	}
	ep := ds.Field("dst.endpoint")
	if ep.Index != dst.Index+1 || ep.Annotations["json.skip"] != "true" || ep.Annotations["columns.width"] != "40" {
		t.Errorf("dst.endpoint: index %d (dst %d), annotations %v", ep.Index, dst.Index, ep.Annotations)
	}
	if a := ds.Field("peer.addr"); a.Index != peer.Index+1 {
		t.Errorf("peer.addr at %d, peer at %d", a.Index, peer.Index)
	}
	for _, name := range []string{"dst.addr", "dst.proto", "dst.addr_raw", "dst.port", "dst.version", "dst.proto_raw", "peer.addr_raw", "peer.version"} {
		if f := ds.Field(name); f == nil || f.Flags&datasource.FlagHidden == 0 {
			t.Errorf("%s missing or shown", name)
		}
	}
	for _, name := range []string{"dst.addr_raw", "peer.addr_raw"} {
		if ds.Field(name).Annotations["json.skip"] != "true" {
			t.Errorf("%s is in JSON", name)
		}
	}

	tests := []struct {
		dst      string
		ver      uint8
		port     uint16
		proto    uint16
		peer     string
		peerVer  uint8
		wantAddr string
		wantEP   string
		wantPr   string
		wantPeer string
	}{
		{"10.0.0.1", 4, 80, 6, "::1", 6, "10.0.0.1", "10.0.0.1:80", "TCP", "::1"},
		{"2001:db8::1", 6, 443, 17, "192.168.1.2", 4, "2001:db8::1", "[2001:db8::1]:443", "UDP", "192.168.1.2"},
		{"::ffff:10.1.2.3", 6, 53, 17, "::", 0, "10.1.2.3", "10.1.2.3:53", "UDP", ""},
		{"::", 0, 8080, 0, "::1", 9, "", ":8080", "HOPOPT", ""},
		{"::1", 7, 1, 300, "::1", 6, "", "", "proto#300", "::1"},
	}
	r := ds.NewRecord()
	b := &pipeline.Batch{DS: ds, Records: []*datasource.Record{r}}
	for _, tc := range tests {
		p := r.Payload[0]
		clear(p)
		copy(p[0:16], ipRaw(tc.dst))
		binary.NativeEndian.PutUint16(p[16:], tc.port)
		binary.NativeEndian.PutUint16(p[18:], tc.proto)
		p[20] = tc.ver
		copy(p[28:44], ipRaw(tc.peer))
		p[44] = tc.peerVer
		if err := st.Process(b); err != nil {
			t.Fatal(err)
		}
		got := [4]string{text(ds.Field("dst.addr"), r), text(ep, r), text(ds.Field("dst.proto"), r), text(ds.Field("peer.addr"), r)}
		if want := [4]string{tc.wantAddr, tc.wantEP, tc.wantPr, tc.wantPeer}; got != want {
			t.Errorf("%s v%d / %s v%d: got %q, want %q", tc.dst, tc.ver, tc.peer, tc.peerVer, got, want)
		}
	}
}

// TestSignedErrnoSignal: a negative errno (the kernel's -errno) is named
// like the positive one; a negative signal is shown as a signed number,
// not as 2^64 minus it.
func TestSignedErrnoSignal(t *testing.T) {
	ds := datasource.New("x", datasource.TypeSingle)
	errRaw, _ := ds.AddField(nil, "error_raw", datasource.Int32, 0)
	errRaw.Tags = []string{"type:gadget_errno"}
	sigRaw, _ := ds.AddField(nil, "sig_raw", datasource.Int32, 0)
	sigRaw.Tags = []string{"type:gadget_signal"}
	st, err := New(ds, Options{HostRoot: t.TempDir()})
	if err != nil || st == nil {
		t.Fatalf("New: %v, %v", st, err)
	}
	for _, c := range []struct {
		errno, sig       int64
		wantErr, wantSig string
	}{{-2, -1, "ENOENT", "signal#-1"}, {2, 9, "ENOENT", "SIGKILL"}, {0, 0, "", "signal#0"}} {
		r := ds.NewRecord()
		errRaw.SetUint64(r, uint64(c.errno))
		sigRaw.SetUint64(r, uint64(c.sig))
		if err := st.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}}); err != nil {
			t.Fatal(err)
		}
		if e, s := string(ds.Field("error").Text(r)), string(ds.Field("sig").Text(r)); e != c.wantErr || s != c.wantSig {
			t.Errorf("errno %d, signal %d: %q, %q; want %q, %q", c.errno, c.sig, e, s, c.wantErr, c.wantSig)
		}
	}
}
