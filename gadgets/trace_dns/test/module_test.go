package trace_dns_test

// Tests of trace_dns's Wasm module (wasm/program.c) run by ig's Wasm host
// on records shaped like the dns datasource, without the kernel: the DNS
// reader, the fields it sets, --dns-timeout, the unanswered-query tracker
// and the text it writes (addresses, durations), each checked against Go's
// own formatting. Every test runs the module twice: through batch calls
// and through v1 per-event calls, the path of hosts without the batch
// extension.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/gadgetkit/ig/internal/wasmhost"
	"github.com/gadgetkit/ig/registry"
)

var (
	moduleOnce sync.Once
	moduleWasm []byte
	moduleErr  error
)

// traceDNSModule builds the gadget as `ig image build` does and returns
// its Wasm module.
func traceDNSModule(t *testing.T) []byte {
	t.Helper()
	moduleOnce.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "trace-dns-module-")
		if err != nil {
			moduleErr = err
			return
		}
		defer os.RemoveAll(dir)
		st, err := registry.Open(dir)
		if err != nil {
			moduleErr = err
			return
		}
		var log bytes.Buffer
		root := testutil.RepoRoot(t)
		if _, err := registry.Build(ctx, root+"/gadgets/trace_dns", registry.BuildOptions{
			Store: st, Tag: "trace_dns", Output: &log, Archs: []string{goruntime.GOARCH}}); err != nil {
			moduleErr = fmt.Errorf("build trace_dns: %v\n%s", err, log.String())
			return
		}
		img, err := st.Load(ctx, "trace_dns", goruntime.GOARCH)
		if err != nil {
			moduleErr = err
			return
		}
		moduleWasm = bytes.Clone(img.Wasm)
		img.Close()
	})
	if moduleErr != nil {
		t.Fatal(moduleErr)
	}
	return moduleWasm
}

// harness runs the module on a dns datasource of its own.
type harness struct {
	t      *testing.T
	ds     *datasource.DataSource
	inst   *wasmhost.Instance
	stage  pipeline.Stage
	log    testutil.Buffer
	out    []map[string]string // events emitted on dns_unanswered
	un     *datasource.DataSource
	perEvt bool
}

var modes = []struct {
	name     string
	perEvent bool
}{{"batch", false}, {"per-event", true}}

// forModes runs f once per way of calling the module.
func forModes(t *testing.T, f func(t *testing.T, perEvent bool)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { f(t, m.perEvent) })
	}
}

const dataSize = 4096

func newHarness(t *testing.T, timeout string, perEvent bool, extra ...string) *harness {
	t.Helper()
	return newHarnessKinds(t, timeout, perEvent, nil, extra...)
}

// newHarnessKinds is newHarness with the kinds of some fields of dns
// changed (same sizes as the kind's).
func newHarnessKinds(t *testing.T, timeout string, perEvent bool, kinds map[string]datasource.Kind, extra ...string) *harness {
	t.Helper()
	ctx := context.Background()
	wasm := traceDNSModule(t)
	if perEvent {
		// Without gadgetBatchBuffer the host calls dataSourceCallback
		// for every event.
		const name = "gadgetBatchBuffer"
		if bytes.Count(wasm, []byte(name)) != 1 {
			t.Fatalf("%q appears %d times in the module", name, bytes.Count(wasm, []byte(name)))
		}
		wasm = bytes.Replace(wasm, []byte(name), []byte("gadgetBatchBuffeX"), 1)
	}
	h := &harness{t: t, perEvt: perEvent}
	h.ds = datasource.New("dns", datasource.TypeSingle)
	off := uint32(0)
	for _, f := range []struct {
		name string
		kind datasource.Kind
		size uint32
	}{
		{"timestamp_raw", datasource.Uint64, 8}, {"netns_id", datasource.Uint32, 4},
		{"dns_off", datasource.Uint16, 2}, {"src.port", datasource.Uint16, 2},
		{"src.proto_raw", datasource.Uint16, 2}, {"dst.port", datasource.Uint16, 2},
		{"proc.comm", datasource.CString, 16}, {"proc.pid", datasource.Uint32, 4},
		{"proc.tid", datasource.Uint32, 4}, {"data_len", datasource.Uint32, 4},
		{"src.addr_raw", datasource.Bytes, 16}, {"dst.addr_raw", datasource.Bytes, 16},
		{"src.version", datasource.Uint8, 1}, {"data", datasource.Bytes, dataSize},
	} {
		if k, ok := kinds[f.name]; ok {
			f.kind, f.size = k, k.Size()
		}
		if _, err := h.ds.AddStaticField(nil, f.name, f.kind, off, f.size, 0); err != nil {
			t.Fatal(err)
		}
		off += f.size
	}
	for _, n := range append([]string{"timestamp"}, extra...) {
		if _, err := h.ds.AddField(nil, n, datasource.String, 0); err != nil {
			t.Fatal(err)
		}
	}
	mod, err := wasmhost.Compile(ctx, wasm, wasmhost.Config{Name: "trace_dns", Stderr: &h.log, LogLevel: wasmhost.LevelDebug})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	h.inst, err = mod.Instantiate(ctx, wasmhost.Env{
		DataSources: []*datasource.DataSource{h.ds},
		Params:      map[string]string{"dns-timeout": timeout},
		NewDataSource: func(name string, typ datasource.Type) (*datasource.DataSource, error) {
			h.un = datasource.New(name, typ)
			return h.un, nil
		},
		Emit: func(ds *datasource.DataSource, recs []*datasource.Record) error {
			for _, r := range recs {
				h.out = append(h.out, values(ds, r))
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.inst.Close(ctx) })
	if err := h.inst.Init(ctx); err != nil {
		t.Fatalf("init: %v\n%s", err, h.log.String())
	}
	if err := h.inst.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h.stage = h.inst.Stage(h.ds)
	if h.stage == nil {
		t.Fatal("the module did not subscribe to dns")
	}
	return h
}

// values renders every field of r as text, the way a test compares them.
func values(ds *datasource.DataSource, r *datasource.Record) map[string]string {
	m := map[string]string{}
	for _, f := range ds.Fields {
		if f.Flags&datasource.FlagContainer != 0 {
			continue
		}
		switch f.Kind {
		case datasource.String, datasource.CString:
			m[f.FullName] = string(f.Text(r))
		case datasource.Bytes:
			m[f.FullName] = fmt.Sprintf("%x", f.Raw(r))
		case datasource.Bool:
			m[f.FullName] = strconv.FormatBool(f.Bool(r))
		case datasource.Int8, datasource.Int16, datasource.Int32, datasource.Int64:
			m[f.FullName] = strconv.FormatInt(f.Int64(r), 10)
		default:
			m[f.FullName] = strconv.FormatUint(f.Uint64(r), 10)
		}
	}
	return m
}

// pkt is one event: a DNS message and its endpoints.
type pkt struct {
	msg        []byte
	ts         uint64
	src, dst   netip.AddrPort
	netns      uint32
	pid, tid   uint32
	comm       string
	timestamp  string
	extra      map[string]string
	dnsOff     uint16 // bytes before the message in data
	dataLenCut int    // data_len smaller than the message by this much
}

func (h *harness) record(p pkt) *datasource.Record {
	ds := h.ds
	r := ds.NewRecord()
	r.SetStatic(nil, ds.StaticSize)
	set := func(name string, v uint64) { ds.Field(name).SetUint64(r, v) }
	data := append(make([]byte, p.dnsOff), p.msg...)
	if len(data) > dataSize {
		h.t.Fatalf("message of %d bytes", len(data))
	}
	copy(ds.Field("data").Raw(r), data)
	set("data_len", uint64(len(data)-p.dataLenCut))
	set("dns_off", uint64(p.dnsOff))
	set("timestamp_raw", p.ts)
	set("netns_id", uint64(p.netns))
	set("proc.pid", uint64(p.pid))
	set("proc.tid", uint64(p.tid))
	copy(ds.Field("proc.comm").Raw(r), p.comm)
	set("src.proto_raw", 17)
	set("src.port", uint64(p.src.Port()))
	set("dst.port", uint64(p.dst.Port()))
	version := uint64(6)
	if p.src.Addr().Is4() {
		version = 4
	}
	set("src.version", version)
	a, b := p.src.Addr().AsSlice(), p.dst.Addr().AsSlice()
	copy(ds.Field("src.addr_raw").Raw(r), a)
	copy(ds.Field("dst.addr_raw").Raw(r), b)
	ds.Field("timestamp").SetString(r, p.timestamp)
	for k, v := range p.extra {
		ds.Field(k).SetString(r, v)
	}
	return r
}

// run hands pkts to the module in batches of up to 256 and returns the
// fields of each event afterwards.
func (h *harness) run(pkts ...pkt) []map[string]string {
	h.t.Helper()
	var res []map[string]string
	for len(pkts) > 0 {
		n := min(len(pkts), 256)
		b := &pipeline.Batch{DS: h.ds}
		for _, p := range pkts[:n] {
			b.Records = append(b.Records, h.record(p))
		}
		if err := h.stage.Process(b); err != nil {
			h.t.Fatalf("process: %v\n%s", err, h.log.String())
		}
		for _, r := range b.Records {
			res = append(res, values(h.ds, r))
		}
		pkts = pkts[n:]
	}
	return res
}

func (h *harness) stop() {
	h.t.Helper()
	if err := h.inst.Stop(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// msg assembles a DNS message.
type msg struct{ b []byte }

func newMsg(id, flags, qd, an uint16) *msg {
	m := &msg{}
	return m.u16(id, flags, qd, an, 0, 0)
}

func (m *msg) name(n string) *msg {
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l != "" {
			m.b = append(append(m.b, byte(len(l))), l...)
		}
	}
	m.b = append(m.b, 0)
	return m
}

func (m *msg) raw(p ...byte) *msg { m.b = append(m.b, p...); return m }

func (m *msg) u16(v ...uint16) *msg {
	for _, x := range v {
		m.b = binary.BigEndian.AppendUint16(m.b, x)
	}
	return m
}

// rr appends the fixed part of a record after its name, and its data.
func (m *msg) rr(typ uint16, data []byte) *msg {
	m.u16(typ, 1)
	m.b = binary.BigEndian.AppendUint32(m.b, 60)
	m.u16(uint16(len(data)))
	m.b = append(m.b, data...)
	return m
}

var (
	client = netip.MustParseAddrPort("127.0.0.1:40000")
	server = netip.MustParseAddrPort("127.0.0.77:53")
)

func query(id uint16, name string, ts uint64) pkt {
	return pkt{msg: newMsg(id, 0x0100, 1, 0).name(name).u16(1, 1).b, ts: ts,
		src: client, dst: server, comm: "client", pid: 7, tid: 8, netns: 4026531840,
		timestamp: "2026-11-27T04:00:00.000000000Z"}
}

func response(id uint16, name string, ts uint64) pkt {
	p := query(id, name, ts)
	p.msg = newMsg(id, 0x8180, 1, 1).name(name).u16(1, 1).raw(0xc0, 12).rr(1, []byte{127, 0, 0, 77}).b
	p.src, p.dst = server, client
	return p
}

// want compares the fields named in w with those of got.
func want(t *testing.T, what string, got map[string]string, w map[string]string) {
	t.Helper()
	for k, v := range w {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}

func TestModuleQueryAndResponse(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		h := newHarness(t, "0", perEvent)
		// A response with a compressed CNAME chain, then A and AAAA.
		resp := newMsg(0xbeef, 0x8580, 1, 4).name("www.example.test.").u16(28, 1).
			raw(0xc0, 12).rr(5, []byte{0xc0, 12}).
			raw(0xc0, 12).rr(1, []byte{192, 0, 2, 1}).
			raw(0xc0, 12).rr(28, netip.MustParseAddr("2001:db8::1").AsSlice()).
			raw(0xc0, 12).rr(28, netip.MustParseAddr("::ffff:10.1.2.3").AsSlice()).b
		r := response(0xbeef, "www.example.test.", 2)
		r.msg, r.dnsOff = resp, 42
		got := h.run(query(0x1234, "example.test.", 1), r)
		want(t, "query", got[0], map[string]string{
			"id": "1234", "qr": "Q", "qr_raw": "false", "qtype": "A", "qtype_raw": "1",
			"name": "example.test.", "rd": "true", "ra": "false", "tc": "false",
			"rcode": "", "rcode_raw": "0", "num_answers": "0", "addresses": "",
		})
		want(t, "response", got[1], map[string]string{
			"id": "beef", "qr": "R", "qr_raw": "true", "qtype": "AAAA", "qtype_raw": "28",
			"name": "www.example.test.", "rd": "true", "ra": "true", "tc": "false",
			"rcode": "Success", "rcode_raw": "0", "num_answers": "4",
			"addresses": "192.0.2.1,2001:db8::1,::ffff:10.1.2.3",
		})
		if h.un != nil {
			t.Error("--dns-timeout 0 created dns_unanswered")
		}
	})
}

func TestModuleNamesAndCodes(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		h := newHarness(t, "0", perEvent)
		odd := newMsg(1, 0x8183, 1, 0).raw(5, 'a', '.', 'b', '\\', 7, 3, 'c', ' ', 'd', 0).u16(300, 1).b
		root := newMsg(2, 0x0200, 1, 0).raw(0).u16(257, 1).b
		refused := newMsg(3, 0x8189, 1, 0).name("x.test").u16(65, 1).b
		var ps []pkt
		for _, m := range [][]byte{odd, root, refused} {
			p := query(0, "", 1)
			p.msg = m
			ps = append(ps, p)
		}
		got := h.run(ps...)
		want(t, "escaped", got[0], map[string]string{"name": `a\.b\\\007.c\032d.`, "qtype": "300",
			"rcode": "NameError", "rcode_raw": "3", "qr": "R", "rd": "true"})
		want(t, "root", got[1], map[string]string{"name": ".", "qtype": "CAA", "tc": "true", "qr": "Q", "rd": "false"})
		want(t, "refused", got[2], map[string]string{"name": "x.test.", "qtype": "HTTPS", "rcode": "9", "rcode_raw": "9"})
	})
}

func TestModuleMalformed(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		h := newHarness(t, "0", perEvent)
		long := newMsg(5, 0, 1, 0)
		for range 5 {
			long.raw(63).raw(bytes.Repeat([]byte{'x'}, 63)...)
		}
		cases := []struct {
			what string
			p    pkt
			w    map[string]string
		}{
			{"short header", pkt{msg: []byte{1, 2, 3}}, map[string]string{"id": "", "qr": ""}},
			{"cut by data_len", pkt{msg: newMsg(0x0a0b, 0, 1, 0).name("cut.test.").u16(1, 1).b, dataLenCut: 10},
				map[string]string{"id": "0a0b", "qr": "Q", "name": "", "qtype": ""}},
			{"question cut", pkt{msg: newMsg(6, 0, 1, 0).name("q.test.").u16(1).b},
				map[string]string{"id": "0006", "name": "", "qtype_raw": "0"}},
			{"pointer loop", pkt{msg: newMsg(7, 0, 1, 0).raw(0xc0, 12).u16(1, 1).b},
				map[string]string{"id": "0007", "name": ""}},
			{"extended label", pkt{msg: newMsg(8, 0, 1, 0).raw(0x41, 0).u16(1, 1).b},
				map[string]string{"id": "0008", "name": ""}},
			{"name too long", pkt{msg: long.raw(0).u16(1, 1).b},
				map[string]string{"id": "0005", "name": ""}},
			{"answer cut", pkt{msg: newMsg(9, 0x8180, 1, 2).name("a.test.").u16(1, 1).raw(0xc0, 12).rr(1, []byte{1, 2, 3, 4}).raw(0xc0, 12).u16(1).b},
				map[string]string{"id": "0009", "name": "a.test.", "addresses": "1.2.3.4", "num_answers": "2"}},
			{"offset beyond data", pkt{msg: newMsg(10, 0, 1, 0).b, dnsOff: 8, dataLenCut: 9},
				map[string]string{"id": ""}},
		}
		var ps []pkt
		for _, c := range cases {
			p := query(0, "", 1)
			p.msg, p.dataLenCut, p.dnsOff = c.p.msg, c.p.dataLenCut, c.p.dnsOff
			ps = append(ps, p)
		}
		got := h.run(ps...)
		for i, c := range cases {
			want(t, c.what, got[i], c.w)
		}
	})
}

// TestModuleAddressesLikeNetip compares the addresses the module writes
// with net/netip's on random A and AAAA answers, with the zero runs RFC
// 5952 cares about made likely.
func TestModuleAddressesLikeNetip(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		h := newHarness(t, "0", perEvent)
		rng := rand.New(rand.NewPCG(1, 2))
		var ps []pkt
		var wants []string
		for range 400 {
			m := newMsg(1, 0x8180, 1, 64).name("many.test.").u16(28, 1)
			var texts []string
			for range 64 {
				var a [16]byte
				for g := range 8 {
					switch rng.IntN(4) {
					case 0, 1:
					case 2:
						a[2*g+1] = byte(rng.IntN(3))
					default:
						binary.BigEndian.PutUint16(a[2*g:], uint16(rng.Uint32()))
					}
				}
				if rng.IntN(8) == 0 {
					copy(a[:12], []byte{10: 0xff, 11: 0xff})
				}
				if rng.IntN(4) == 0 {
					v4 := [4]byte(a[12:])
					m.raw(0xc0, 12).rr(1, v4[:])
					texts = append(texts, netip.AddrFrom4(v4).String())
					continue
				}
				m.raw(0xc0, 12).rr(28, a[:])
				texts = append(texts, netip.AddrFrom16(a).String())
			}
			p := query(0, "", 1)
			p.msg = m.b
			ps = append(ps, p)
			wants = append(wants, strings.Join(texts, ","))
		}
		got := h.run(ps...)
		for i := range got {
			if got[i]["addresses"] != wants[i] {
				t.Fatalf("message %d: addresses\n%s\nwant\n%s", i, got[i]["addresses"], wants[i])
			}
		}
	})
}

func TestModuleBadTimeout(t *testing.T) {
	for _, v := range []string{"abc", "-1s", "5x", "1.2.3s", "s", "1281029h1281029h", "4611686018s4611686018s4611686018s"} {
		h := &harness{t: t}
		ctx := context.Background()
		mod, err := wasmhost.Compile(ctx, traceDNSModule(t), wasmhost.Config{Name: "trace_dns", Stderr: &h.log})
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		ds := datasource.New("dns", datasource.TypeSingle)
		for _, n := range []string{"data", "dns_off", "data_len", "timestamp_raw", "timestamp", "netns_id", "src.port",
			"src.proto_raw", "dst.port", "src.addr_raw", "dst.addr_raw", "src.version", "proc.comm", "proc.pid", "proc.tid"} {
			if _, err := ds.AddField(nil, n, datasource.String, 0); err != nil {
				t.Fatal(err)
			}
		}
		inst, err := mod.Instantiate(ctx, wasmhost.Env{DataSources: []*datasource.DataSource{ds}, Params: map[string]string{"dns-timeout": v}})
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Close(ctx)
		if err := inst.Init(ctx); err == nil {
			t.Errorf("--dns-timeout %q: init succeeded", v)
		}
		if !strings.Contains(h.log.String(), "trace_dns: --dns-timeout: ") {
			t.Errorf("--dns-timeout %q: log %q names no culprit", v, h.log.String())
		}
	}
}

// trigger is an event that moves the module's clock: an mDNS query, which
// the tracker does not track.
func trigger(ts uint64) pkt {
	p := query(0xffff, "trigger.local.", ts)
	p.dst = netip.MustParseAddrPort("224.0.0.251:5353")
	return p
}

// TestModuleTimeouts checks that each --dns-timeout form reports a query
// exactly when its deadline passes, and the waited time's text.
func TestModuleTimeouts(t *testing.T) {
	for _, c := range []struct {
		param string
		ns    uint64
	}{
		{"5s", 5e9}, {"2", 2e9}, {"0.5", 5e8}, {" 1m30s ", 90e9}, {"1.5h", 5400e9},
		{"250ms", 250e6}, {"10us", 10e3}, {"10µs", 10e3}, {"7ns", 7}, {".25", 25e7},
	} {
		t.Run(c.param, func(t *testing.T) {
			forModes(t, func(t *testing.T, perEvent bool) {
				h := newHarness(t, c.param, perEvent)
				base := uint64(1e18)
				h.run(query(1, "late.test.", base), trigger(base+c.ns-1))
				if len(h.out) != 0 {
					t.Fatalf("reported %d ns early: %v", 1, h.out)
				}
				h.run(trigger(base + c.ns))
				if len(h.out) != 1 {
					t.Fatalf("%d reports at the deadline, want 1", len(h.out))
				}
				want(t, "unanswered", h.out[0], map[string]string{
					"waited_ns_raw": strconv.FormatUint(c.ns, 10),
					"waited_ns":     goDuration(int64(c.ns)),
					"id":            "0001", "name": "late.test.", "qtype": "A", "qtype_raw": "1",
					"qr": "Q", "attempts": "1", "unanswered": "true",
					"timestamp_raw": strconv.FormatUint(base, 10),
				})
			})
		})
	}
}

// goDuration is how ig writes gadget_duration fields: two decimals of µs
// or ms below a second (the float64 quotient), Go's Duration above.
func goDuration(ns int64) string {
	switch {
	case ns < 1e3:
		return strconv.FormatInt(ns, 10) + "ns"
	case ns < 1e6:
		return strconv.FormatFloat(float64(ns)/1e3, 'f', 2, 64) + "µs"
	case ns < 1e9:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', 2, 64) + "ms"
	}
	return time.Duration(ns).String()
}

// TestModuleDurations checks the waited time's text on many waits of
// every magnitude, including ties in the rounding.
func TestModuleDurations(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		h := newHarness(t, "1ns", perEvent)
		rng := rand.New(rand.NewPCG(3, 4))
		var waits []int64
		for _, w := range []int64{1, 999, 1000, 1005, 1015, 1125, 2500, 999995, 999999, 1e6, 1125e3,
			999999999, 1e9, 1e9 + 1, 61e9, 3600e9, 3661e9 + 5e8, 100 * 3600e9} {
			waits = append(waits, w)
		}
		for range 3000 {
			waits = append(waits, int64(rng.Float64()*float64(int64(1)<<uint(rng.IntN(44)))+1))
		}
		ts := uint64(1e18)
		var ps []pkt
		for i, w := range waits {
			ps = append(ps, query(uint16(i), "d.test.", ts), trigger(ts+uint64(w)))
			ts += uint64(w) + 1
		}
		h.run(ps...)
		if len(h.out) != len(waits) {
			t.Fatalf("%d reports, want %d", len(h.out), len(waits))
		}
		for i, w := range waits {
			if got, want := h.out[i]["waited_ns"], goDuration(w); got != want {
				t.Errorf("waited %d ns: %q, want %q", w, got, want)
			}
		}
	})
}

// TestModuleUnanswered checks the report of an unanswered query: its
// endpoints, process, retransmissions, container fields, and what is not
// reported (answered queries, early responses, mDNS), and the end of the
// run.
func TestModuleUnanswered(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		extra := []string{"k8s.namespace", "k8s.podName", "k8s.containerName", "runtime.containerName"}
		h := newHarness(t, "5s", perEvent, extra...)
		base := uint64(1e18)
		q6 := query(2, "six.test.", base+1)
		q6.src, q6.dst = netip.MustParseAddrPort("[::1]:41000"), netip.MustParseAddrPort("[fd00::53]:53")
		q6.comm, q6.pid, q6.tid = "resolver-with-a-long-name", 100, 101
		q6.extra = map[string]string{"k8s.namespace": "ns", "k8s.podName": strings.Repeat("p", 253),
			"k8s.containerName": "c", "runtime.containerName": strings.Repeat("r", 300)}
		mdns := query(3, "printer.local.", base+2)
		mdns.dst = netip.MustParseAddrPort("224.0.0.251:5353")
		retry := query(1, "retry.test.", base+3)
		early := response(4, "early.test.", base+4) // the response came first
		h.run(query(1, "retry.test.", base), q6, mdns, retry, early, query(4, "early.test.", base+3),
			query(5, "answered.test.", base+5), response(5, "answered.test.", base+6))
		h.run(trigger(base + 5e9 + 1))
		if len(h.out) != 2 {
			t.Fatalf("%d reports, want 2: %v", len(h.out), h.out)
		}
		want(t, "IPv4", h.out[0], map[string]string{
			"id": "0001", "name": "retry.test.", "attempts": "2", "src": "127.0.0.1:40000",
			"dst": "127.0.0.77:53", "nameserver": "127.0.0.77", "proc.comm": "client",
			"proc.pid": "7", "proc.tid": "8", "netns_id": "4026531840", "waited_ns": "5.000000001s",
			"timestamp": "2026-11-27T04:00:00.000000000Z", "k8s.namespace": "",
		})
		want(t, "IPv6", h.out[1], map[string]string{
			"id": "0002", "name": "six.test.", "attempts": "1", "src": "[::1]:41000",
			"dst": "[fd00::53]:53", "nameserver": "fd00::53", "proc.comm": "resolver-with-a-",
			"proc.pid": "100", "proc.tid": "101", "waited_ns": "5s",
			"k8s.namespace": "ns", "k8s.podName": strings.Repeat("p", 253), "k8s.containerName": "c",
			"runtime.containerName": strings.Repeat("r", 300), // longer than a small read buffer
		})
		// At the end of the run, queries past their deadline by the clock
		// are reported, younger ones not.
		now := uint64(time.Now().UnixNano())
		h.out = nil
		h.run(query(6, "old.test.", now-uint64(6*time.Second)), query(7, "young.test.", now-uint64(2*time.Second)))
		h.stop()
		if len(h.out) != 1 || h.out[0]["name"] != "old.test." {
			t.Fatalf("reports at stop: %v", h.out)
		}
	})
}

// TestModuleTrackerLikeMap feeds the tracker a random mix of queries,
// retransmissions, responses (some before their queries) and time
// steps, and compares what it reports with a plain map's bookkeeping of
// the same rules.
func TestModuleTrackerLikeMap(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		const timeout = 1e9
		h := newHarness(t, "1s", perEvent)
		rng := rand.New(rand.NewPCG(5, 6))
		type entry struct {
			ts, seq  uint64
			attempts int
			early    bool
		}
		seq := uint64(0)
		newEntry := func(ts uint64, early bool) *entry {
			seq++
			return &entry{ts: ts, seq: seq, attempts: 1, early: early}
		}
		model := map[uint16]*entry{}
		var wants []string
		now := uint64(1e18)
		advance := func(ts uint64) {
			now = max(now, ts)
			var ids []uint16
			for id, e := range model {
				if e.early && e.ts+2e9 <= now {
					delete(model, id)
				} else if !e.early && e.ts+timeout <= now {
					ids = append(ids, id)
				}
			}
			// Reported in the order the queries came, i.e. by time.
			slices.SortFunc(ids, func(a, b uint16) int { return cmp.Compare(model[a].seq, model[b].seq) })
			for _, id := range ids {
				wants = append(wants, fmt.Sprintf("%04x/%d/%d", id, model[id].attempts, now-model[id].ts))
				delete(model, id)
			}
		}
		var ps []pkt
		ts := now
		prev := uint16(0)
		for range 20000 {
			id := uint16(rng.IntN(3000))
			if rng.IntN(8) == 0 { // the same key again at the same time
				id = prev
			} else {
				ts += uint64(rng.IntN(2e6))
			}
			prev = id
			var p pkt
			advance(ts)
			e := model[id]
			switch {
			case rng.IntN(3) > 0: // a query
				p = query(id, "m.test.", ts)
				switch {
				case e == nil:
					model[id] = newEntry(ts, false)
				case !e.early:
					e.attempts++
				case e.ts >= ts:
					delete(model, id)
				default:
					model[id] = newEntry(ts, false)
				}
			default: // a response
				p = response(id, "m.test.", ts)
				switch {
				case e == nil:
					model[id] = newEntry(ts, true)
				case !e.early:
					delete(model, id)
				}
			}
			ps = append(ps, p)
		}
		h.run(ps...)
		var got []string
		for _, o := range h.out {
			got = append(got, o["id"]+"/"+o["attempts"]+"/"+o["waited_ns_raw"])
		}
		if len(wants) < 1000 {
			t.Fatalf("only %d reports in the model: the test lost its point", len(wants))
		}
		if !slices.Equal(got, wants) {
			for i := range min(len(got), len(wants)) {
				if got[i] != wants[i] {
					t.Fatalf("report %d: %s, want %s (%d reports, want %d)", i, got[i], wants[i], len(got), len(wants))
				}
			}
			t.Fatalf("%d reports, want %d", len(got), len(wants))
		}
	})
}

// TestModuleTrackerBound checks that queries beyond the tracker's bound
// are counted and said at the end of the run, and that the others are
// still reported.
func TestModuleTrackerBound(t *testing.T) {
	h := newHarness(t, "1h", false)
	var ps []pkt
	for i := range 16384 + 10 {
		ps = append(ps, query(uint16(i), "b.test.", uint64(1e18)+uint64(i)))
	}
	h.run(ps...)
	h.run(trigger(uint64(1e18) + uint64(time.Hour) + 16384 + 10))
	if len(h.out) != 16384 {
		t.Errorf("%d reports, want 16384", len(h.out))
	}
	h.stop()
	if !strings.Contains(h.log.String(), "10 queries were not tracked for --dns-timeout: more than 16384 were waiting at once") {
		t.Errorf("no warning about the untracked queries:\n%s", h.log.String())
	}
}

// TestModuleTextBudget fills the tracker with queries whose texts exceed
// its budget for them: later events keep all their fields, the queries
// beyond the budget are reported without their texts, and the end of the
// run says how many.
func TestModuleTextBudget(t *testing.T) {
	extra := []string{"k8s.namespace", "k8s.podName", "k8s.containerName", "runtime.containerName"}
	h := newHarness(t, "1h", false, extra...)
	base := uint64(1e18)
	long := strings.Repeat("x", 1000)
	var ps []pkt
	const n = 16000
	for i := range n {
		q := query(uint16(i), "m.test.", base+uint64(i))
		q.extra = map[string]string{"k8s.namespace": long, "k8s.podName": long, "k8s.containerName": long, "runtime.containerName": long}
		ps = append(ps, q)
	}
	h.run(ps...)
	var rs []pkt
	for i := range 256 {
		p := response(uint16(60000+i), "r.test.", base+n)
		m := newMsg(uint16(60000+i), 0x8180, 1, 60).name("r.test.").u16(28, 1)
		for k := range 60 {
			m.raw(0xc0, 12).rr(28, []byte{0x20, 1, 0xd, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, byte(k)})
		}
		p.msg = m.b
		rs = append(rs, p)
	}
	for i, g := range h.run(rs...) {
		if g["name"] != "r.test." || strings.Count(g["addresses"], ",") != 59 {
			t.Fatalf("response %d: name %q, addresses %q", i, g["name"], g["addresses"])
		}
	}
	h.run(trigger(base + uint64(time.Hour) + n))
	if len(h.out) != n {
		t.Fatalf("%d reports, want %d", len(h.out), n)
	}
	noName := 0
	for i, o := range h.out {
		switch {
		case o["name"] == "":
			noName++
		case o["name"] != "m.test." || o["k8s.podName"] != long || noName > 0:
			t.Fatalf("report %d: name %q, k8s.podName of %d bytes, after %d reports without texts", i, o["name"], len(o["k8s.podName"]), noName)
		}
	}
	// 16 MiB of texts in 4-KiB blobs: 4,096 queries keep theirs.
	if noName != n-4096 {
		t.Errorf("%d reports without texts, want %d", noName, n-4096)
	}
	h.stop()
	if want := fmt.Sprintf("trace_dns: %d queries were tracked without their texts, or not at all: the module ran out of memory", noName); !strings.Contains(h.log.String(), want) {
		t.Errorf("no warning %q in:\n%s", want, h.log.String())
	}
}

// TestModuleFieldKinds gives proc.pid a kind other than the u32 the module
// reads it as: in both modes the module gets the host's refusal (pid 0,
// a warning naming the field), never the slot's other bytes.
func TestModuleFieldKinds(t *testing.T) {
	forModes(t, func(t *testing.T, perEvent bool) {
		h := newHarnessKinds(t, "1s", perEvent, map[string]datasource.Kind{"proc.pid": datasource.Uint64})
		base := uint64(1e18)
		q := query(1, "kind.test.", base)
		q.pid = 77
		h.run(q, trigger(base+1e9))
		if len(h.out) != 1 {
			t.Fatalf("%d reports, want 1", len(h.out))
		}
		want(t, "report", h.out[0], map[string]string{"proc.pid": "0", "proc.tid": "8", "name": "kind.test."})
		if !strings.Contains(h.log.String(), `field "proc.pid" (uint64) cannot be read as uint32`) {
			t.Errorf("no warning about proc.pid:\n%s", h.log.String())
		}
	})
}
