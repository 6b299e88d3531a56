// The Wasm half of trace_dns: it parses the DNS message that follows each
// event of the datasource dns (the packet the eBPF program appended),
// adds the DNS fields to the event, and reports the queries that got no
// response within --dns-timeout on a datasource of its own,
// dns_unanswered.
package main

import (
	"bytes"
	"errors"
	"strconv"

	api "github.com/gadgetkit/ig/sdk/go"
)

// fields of the datasource dns the module reads.
var in struct {
	data, dnsOff, dataLen   api.Field
	ts, timestamp, netns    api.Field
	srcPort, dstPort, proto api.Field
	srcRaw, dstRaw, version api.Field
	comm, pid, tid          api.Field
}

// fields the module adds to dns.
var out struct {
	id, qrRaw, qr         api.Field
	qtypeRaw, qtype, name api.Field
	rcodeRaw, rcode       api.Field
	numAnswers, addresses api.Field
	tc, ra, rd            api.Field
}

// The datasource dns_unanswered and its fields.
var (
	unanswered api.DataSource
	un         struct {
		tsRaw, timestamp, netns api.Field
		src, dst, nameserver    api.Field
		comm, pid, tid          api.Field
		id, qr, qtypeRaw, qtype api.Field
		name, attempts          api.Field
		waitedRaw, waited       api.Field
		unanswered              api.Field
	}
	// copied are container fields (present when ig enriches events) that
	// unanswered events repeat from their query: {dns field, own field}.
	copied [][2]api.Field
)

// Fields copied from a query into its unanswered event when they exist.
var copyNames = []string{"k8s.namespace", "k8s.podName", "k8s.containerName", "runtime.containerName"}

var (
	tracker0 *tracker // nil when --dns-timeout is 0
	packet   = make([]byte, 1<<16)
	msg      message
)

type fieldSpec struct {
	f    *api.Field
	name string
	kind api.FieldKind
}

func getFields(ds api.DataSource, specs []fieldSpec) error {
	for _, s := range specs {
		f, err := ds.GetField(s.name)
		if err != nil {
			return errors.New("field " + s.name + ": " + err.Error())
		}
		*s.f = f
	}
	return nil
}

func addFields(ds api.DataSource, specs []fieldSpec) error {
	for _, s := range specs {
		f, err := ds.AddField(s.name, s.kind)
		if err != nil {
			return errors.New("add field " + s.name + ": " + err.Error())
		}
		*s.f = f
	}
	return nil
}

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	if err := initModule(); err != nil {
		api.LogString(api.ErrorLevel, "trace_dns: "+err.Error())
		return 1
	}
	return 0
}

func initModule() error {
	ds, err := api.GetDataSource("dns")
	if err != nil {
		return errors.New("datasource dns: " + err.Error())
	}
	if err := getFields(ds, []fieldSpec{
		{&in.data, "data", 0}, {&in.dnsOff, "dns_off", 0}, {&in.dataLen, "data_len", 0},
		{&in.ts, "timestamp_raw", 0}, {&in.timestamp, "timestamp", 0}, {&in.netns, "netns_id", 0},
		{&in.srcPort, "src.port", 0}, {&in.proto, "src.proto_raw", 0}, {&in.dstPort, "dst.port", 0},
		{&in.srcRaw, "src.addr_raw", 0}, {&in.dstRaw, "dst.addr_raw", 0}, {&in.version, "src.version", 0},
		{&in.comm, "proc.comm", 0}, {&in.pid, "proc.pid", 0}, {&in.tid, "proc.tid", 0},
	}); err != nil {
		return err
	}
	if err := addFields(ds, []fieldSpec{
		{&out.id, "id", api.Kind_String},
		{&out.qrRaw, "qr_raw", api.Kind_Bool},
		{&out.qr, "qr", api.Kind_String},
		{&out.qtypeRaw, "qtype_raw", api.Kind_Uint16},
		{&out.qtype, "qtype", api.Kind_String},
		{&out.name, "name", api.Kind_String},
		{&out.rcodeRaw, "rcode_raw", api.Kind_Uint16},
		{&out.rcode, "rcode", api.Kind_String},
		{&out.numAnswers, "num_answers", api.Kind_Int32},
		{&out.addresses, "addresses", api.Kind_String},
		{&out.tc, "tc", api.Kind_Bool},
		{&out.ra, "ra", api.Kind_Bool},
		{&out.rd, "rd", api.Kind_Bool},
	}); err != nil {
		return err
	}

	v, err := api.GetParamValue("dns-timeout", 64)
	if err != nil {
		return errors.New("param dns-timeout: " + err.Error())
	}
	timeout, err := parseTimeout(v)
	if err != nil {
		return errors.New("--dns-timeout: " + err.Error())
	}
	if timeout > 0 {
		if err := initUnanswered(ds); err != nil {
			return err
		}
		tracker0 = newTracker(timeout)
	}
	return ds.Subscribe(onEvent, 0)
}

// initUnanswered creates dns_unanswered. Its fields carry the names of
// the matching fields of dns, so --fields lists work for both.
func initUnanswered(ds api.DataSource) error {
	var err error
	if unanswered, err = api.NewDataSource("dns_unanswered", api.DataSourceTypeSingle); err != nil {
		return errors.New("create datasource dns_unanswered: " + err.Error())
	}
	// Container fields first, as in dns's columns.
	for _, name := range copyNames {
		src, err := ds.GetField(name)
		if err != nil {
			continue // no container enrichment in this run
		}
		dst, err := unanswered.AddField(name, api.Kind_String)
		if err != nil {
			return errors.New("add field " + name + ": " + err.Error())
		}
		copied = append(copied, [2]api.Field{src, dst})
	}
	// Then the columns in the order of dns's, waited_ns in the place of
	// latency_ns and attempts in the place of rcode.
	return addFields(unanswered, []fieldSpec{
		{&un.tsRaw, "timestamp_raw", api.Kind_Uint64},
		{&un.timestamp, "timestamp", api.Kind_String},
		{&un.netns, "netns_id", api.Kind_Uint32},
		{&un.comm, "proc.comm", api.Kind_String},
		{&un.pid, "proc.pid", api.Kind_Uint32},
		{&un.tid, "proc.tid", api.Kind_Uint32},
		{&un.src, "src", api.Kind_String},
		{&un.dst, "dst", api.Kind_String},
		{&un.nameserver, "nameserver", api.Kind_String},
		{&un.waitedRaw, "waited_ns_raw", api.Kind_Uint64},
		{&un.waited, "waited_ns", api.Kind_String},
		{&un.id, "id", api.Kind_String},
		{&un.qr, "qr", api.Kind_String},
		{&un.qtypeRaw, "qtype_raw", api.Kind_Uint16},
		{&un.qtype, "qtype", api.Kind_String},
		{&un.name, "name", api.Kind_String},
		{&un.attempts, "attempts", api.Kind_Uint32},
		{&un.unanswered, "unanswered", api.Kind_Bool},
	})
}

func str(f api.Field, d api.Data, max uint32) string {
	s, _ := f.String(d, max)
	return s
}

func onEvent(_ api.DataSource, d api.Data) {
	ts, _ := in.ts.Uint64(d)
	if tracker0 != nil {
		// Time moves first: a response later than the deadline does not
		// save its query.
		tracker0.advance(int64(ts), reportUnanswered)
	}

	// The eBPF program only sends packets with a whole DNS header; valid
	// stays false if the bytes do not hold one anyway.
	valid := false
	if n, err := in.data.Bytes(d, packet); err != nil {
		api.LogString(api.DebugLevel, "trace_dns: read packet: "+err.Error())
	} else {
		dataLen, _ := in.dataLen.Uint32(d)
		off, _ := in.dnsOff.Uint16(d)
		n = min(n, dataLen)
		if uint32(off)+headerLength <= n {
			valid = true
			if err := parseMessage(packet[off:n], &msg); err != nil {
				api.LogString(api.DebugLevel, "trace_dns: DNS message at offset "+strconv.Itoa(int(off))+" of "+strconv.Itoa(int(n))+" bytes: "+err.Error())
			}
		}
	}
	if !valid {
		return
	}

	// ig hands every event over with the fields the module added zeroed
	// (empty strings, false, 0), so only the others are set: each set is
	// a call in the guest, which costs more than the rest of the event.
	// Values go in as bytes from reused buffers or as constants: an
	// allocation costs the guest even more.
	id := hexID(msg.id)
	out.id.SetBytes(d, id[:])
	if msg.response {
		out.qrRaw.SetBool(d, true)
		out.qr.SetString(d, "R")
		if msg.rcode != 0 {
			out.rcodeRaw.SetUint16(d, uint16(msg.rcode))
		}
		out.rcode.SetString(d, rcodeName(msg.rcode))
	} else {
		out.qr.SetString(d, "Q")
	}
	if msg.hasQuestion {
		out.qtypeRaw.SetUint16(d, msg.qtype)
		out.qtype.SetString(d, qtypeName(msg.qtype))
		out.name.SetBytes(d, msg.name)
	}
	if msg.ancount != 0 {
		out.numAnswers.SetInt32(d, int32(msg.ancount))
	}
	if len(msg.addresses) > 0 {
		out.addresses.SetBytes(d, msg.addresses)
	}
	if msg.tc {
		out.tc.SetBool(d, true)
	}
	if msg.ra {
		out.ra.SetBool(d, true)
	}
	if msg.rd {
		out.rd.SetBool(d, true)
	}

	if tracker0 != nil {
		track(d, int64(ts))
	}
}

// track feeds a query or a response to the unanswered-query tracker.
func track(d api.Data, ts int64) {
	var k queryKey
	k.netns, _ = in.netns.Uint32(d)
	k.id = msg.id
	k.proto, _ = in.proto.Uint16(d)
	k.version, _ = in.version.Uint8(d)
	if msg.response {
		in.dstRaw.Bytes(d, k.addr[:])
		k.port, _ = in.dstPort.Uint16(d)
		tracker0.response(&k, ts)
		return
	}
	var server [16]byte
	in.dstRaw.Bytes(d, server[:])
	if multicast(server, k.version) {
		return // mDNS: answers go to the group, not to the asker
	}
	in.srcRaw.Bytes(d, k.addr[:])
	k.port, _ = in.srcPort.Uint16(d)
	e := tracker0.query(&k, ts)
	if e == nil {
		return
	}
	i := &e.info
	i.timestamp = appendField(i.timestamp, in.timestamp, d)
	i.netns = k.netns
	i.server = server
	i.serverPort, _ = in.dstPort.Uint16(d)
	i.id = msg.id
	i.comm = appendField(i.comm, in.comm, d)
	i.pid, _ = in.pid.Uint32(d)
	i.tid, _ = in.tid.Uint32(d)
	if msg.hasQuestion {
		i.name = append(i.name, msg.name...)
		i.qtype = msg.qtype
	}
	for j, c := range copied {
		if j < cap(i.extra) {
			i.extra = i.extra[:j+1]
		} else {
			i.extra = append(i.extra, nil)
		}
		i.extra[j] = appendField(i.extra[j][:0], c[0], d)
	}
}

func multicast(a [16]byte, version uint8) bool {
	if version == 4 {
		return a[0]&0xf0 == 0xe0 // 224.0.0.0/4
	}
	return a[0] == 0xff // ff00::/8
}

// scratch receives string fields read as bytes.
var scratch [256]byte

// fieldBytes returns the value of the string field f in scratch, or in an
// allocated copy when it is longer.
func fieldBytes(f api.Field, d api.Data) []byte {
	b := scratch[:]
	n, err := f.Bytes(d, b)
	if err != nil {
		b = []byte(str(f, d, 4096))
		n = uint32(len(b))
	}
	b = b[:n]
	if k := bytes.IndexByte(b, 0); k >= 0 {
		b = b[:k]
	}
	return b
}

// appendField appends the value of the string field f to dst.
func appendField(dst []byte, f api.Field, d api.Data) []byte {
	return append(dst, fieldBytes(f, d)...)
}

// reportScratch is where reportUnanswered formats endpoints.
var reportScratch [64]byte

func reportUnanswered(p *entry, waited int64) {
	i := &p.info
	pkt, err := unanswered.NewPacketSingle()
	if err != nil {
		id := hexID(i.id)
		api.LogString(api.WarnLevel, "trace_dns: unanswered query "+string(id[:])+" "+string(i.name)+": "+err.Error())
		return
	}
	d := api.Data(pkt)
	id := hexID(i.id)
	un.tsRaw.SetUint64(d, uint64(p.ts))
	un.timestamp.SetBytes(d, i.timestamp)
	un.netns.SetUint32(d, i.netns)
	un.comm.SetBytes(d, i.comm)
	un.pid.SetUint32(d, i.pid)
	un.tid.SetUint32(d, i.tid)
	v := p.key.version
	text := appendEndpoint(reportScratch[:0], p.key.addr, v, p.key.port)
	un.src.SetBytes(d, text)
	text = appendEndpoint(text[:0], i.server, v, i.serverPort)
	un.dst.SetBytes(d, text)
	un.nameserver.SetBytes(d, appendAddr(text[:0], i.server, v))
	un.id.SetBytes(d, id[:])
	un.qr.SetString(d, "Q")
	qtype := ""
	if len(i.name) > 0 {
		qtype = qtypeName(i.qtype)
	}
	un.qtypeRaw.SetUint16(d, i.qtype)
	un.qtype.SetString(d, qtype)
	un.name.SetBytes(d, i.name)
	un.attempts.SetUint32(d, p.attempts)
	un.waitedRaw.SetUint64(d, uint64(waited))
	un.waited.SetString(d, formatDuration(waited))
	un.unanswered.SetBool(d, true)
	for j, c := range copied {
		var v []byte
		if j < len(i.extra) {
			v = i.extra[j]
		}
		c[1].SetBytes(d, v)
	}
	if err := unanswered.EmitAndRelease(api.Packet(pkt)); err != nil {
		api.LogString(api.WarnLevel, "trace_dns: emit unanswered query "+string(id[:])+" "+string(i.name)+": "+err.Error())
	}
}

//go:wasmexport gadgetStop
func gadgetStop() int32 {
	if tracker0 == nil {
		return 0
	}
	// Queries past their deadline when the run ends are reported; younger
	// ones might still be answered and are not.
	tracker0.advance(wallClock(), reportUnanswered)
	if tracker0.dropped > 0 {
		api.LogString(api.WarnLevel, "trace_dns: "+strconv.FormatUint(tracker0.dropped, 10)+
			" queries were not tracked for --dns-timeout: more than "+strconv.Itoa(maxPending)+" were waiting at once")
	}
	return 0
}

func main() {}
