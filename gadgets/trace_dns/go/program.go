// The Wasm half of trace_dns: it parses the DNS message that follows each
// event of the datasource dns (the packet the eBPF program appended),
// adds the DNS fields to the event, and reports the queries that got no
// response within --dns-timeout on a datasource of its own,
// dns_unanswered.
package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	api "github.com/gadgetkit/ig/sdk/go"
)

// fields of the datasource dns the module reads.
var in struct {
	data, dnsOff, dataLen   api.Field
	ts, timestamp, netns    api.Field
	srcAddr, srcPort, proto api.Field
	dstAddr, dstPort        api.Field
	nameserver              api.Field
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

// parseTimeout reads --dns-timeout: a Go duration ("5s", "500ms") or a
// number of seconds; 0 turns the tracking off.
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative timeout %q", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative timeout %q", s)
	}
	return d, nil
}

type fieldSpec struct {
	f    *api.Field
	name string
	kind api.FieldKind
}

func getFields(ds api.DataSource, specs []fieldSpec) error {
	for _, s := range specs {
		f, err := ds.GetField(s.name)
		if err != nil {
			return fmt.Errorf("field %s: %w", s.name, err)
		}
		*s.f = f
	}
	return nil
}

func addFields(ds api.DataSource, specs []fieldSpec) error {
	for _, s := range specs {
		f, err := ds.AddField(s.name, s.kind)
		if err != nil {
			return fmt.Errorf("add field %s: %w", s.name, err)
		}
		*s.f = f
	}
	return nil
}

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	if err := initModule(); err != nil {
		api.Errorf("trace_dns: %v", err)
		return 1
	}
	return 0
}

func initModule() error {
	ds, err := api.GetDataSource("dns")
	if err != nil {
		return fmt.Errorf("datasource dns: %w", err)
	}
	if err := getFields(ds, []fieldSpec{
		{&in.data, "data", 0}, {&in.dnsOff, "dns_off", 0}, {&in.dataLen, "data_len", 0},
		{&in.ts, "timestamp_raw", 0}, {&in.timestamp, "timestamp", 0}, {&in.netns, "netns_id", 0},
		{&in.srcAddr, "src.addr", 0}, {&in.srcPort, "src.port", 0}, {&in.proto, "src.proto_raw", 0},
		{&in.dstAddr, "dst.addr", 0}, {&in.dstPort, "dst.port", 0},
		{&in.nameserver, "nameserver.addr", 0},
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
		return fmt.Errorf("param dns-timeout: %w", err)
	}
	timeout, err := parseTimeout(v)
	if err != nil {
		return fmt.Errorf("--dns-timeout: %w", err)
	}
	if timeout > 0 {
		if err := initUnanswered(ds); err != nil {
			return err
		}
		tracker0 = newTracker(int64(timeout))
	}
	return ds.Subscribe(onEvent, 0)
}

// initUnanswered creates dns_unanswered. Its fields carry the names of
// the matching fields of dns, so --fields lists work for both.
func initUnanswered(ds api.DataSource) error {
	var err error
	if unanswered, err = api.NewDataSource("dns_unanswered", api.DataSourceTypeSingle); err != nil {
		return fmt.Errorf("create datasource dns_unanswered: %w", err)
	}
	// Container fields first, as in dns's columns.
	for _, name := range copyNames {
		src, err := ds.GetField(name)
		if err != nil {
			continue // no container enrichment in this run
		}
		dst, err := unanswered.AddField(name, api.Kind_String)
		if err != nil {
			return fmt.Errorf("add field %s: %w", name, err)
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

func endpoint(addr string, port uint16) string {
	p := strconv.Itoa(int(port))
	if strings.IndexByte(addr, ':') >= 0 {
		return "[" + addr + "]:" + p
	}
	return addr + ":" + p
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
		api.Debugf("trace_dns: read packet: %v", err)
	} else {
		dataLen, _ := in.dataLen.Uint32(d)
		off, _ := in.dnsOff.Uint16(d)
		n = min(n, dataLen)
		if uint32(off)+headerLength <= n {
			valid = true
			if err := parseMessage(packet[off:n], &msg); err != nil {
				api.Debugf("trace_dns: DNS message at offset %d of %d bytes: %v", off, n, err)
			}
		}
	}
	if !valid {
		msg = message{addresses: msg.addresses[:0]}
	}

	// Every added field is set on every event: records are reused, so a
	// field left alone could show the value of an earlier event.
	var id, qr, rcode, qtype, addresses string
	var rcodeRaw, qtypeRaw uint16
	if valid {
		id = hexID(msg.id)
	}
	switch {
	case !valid:
	case msg.response:
		qr, rcodeRaw, rcode = "R", uint16(msg.rcode), rcodeName(msg.rcode)
	default:
		qr = "Q"
	}
	if msg.hasQuestion {
		qtypeRaw, qtype = msg.qtype, qtypeName(msg.qtype)
	}
	if len(msg.addresses) > 0 {
		addresses = strings.Join(msg.addresses, ",")
	}
	out.id.SetString(d, id)
	out.qrRaw.SetBool(d, msg.response)
	out.qr.SetString(d, qr)
	out.rcodeRaw.SetUint16(d, rcodeRaw)
	out.rcode.SetString(d, rcode)
	out.qtypeRaw.SetUint16(d, qtypeRaw)
	out.qtype.SetString(d, qtype)
	out.name.SetString(d, msg.name)
	out.numAnswers.SetInt32(d, int32(msg.ancount))
	out.addresses.SetString(d, addresses)
	out.tc.SetBool(d, msg.tc)
	out.ra.SetBool(d, msg.ra)
	out.rd.SetBool(d, msg.rd)

	if tracker0 != nil && valid {
		track(d, int64(ts))
	}
}

// Values repeated from event to event (addresses, commands, container
// names) are interned: a lookup by the bytes of a field allocates nothing,
// so tracking a query costs few allocations.
var (
	internScratch [256]byte
	interned      = map[string]string{}
)

const maxInterned = 4096

// intern returns the value of the string field f.
func intern(f api.Field, d api.Data) string {
	n, err := f.Bytes(d, internScratch[:])
	if err != nil {
		return str(f, d, 4096)
	}
	b := internScratch[:n]
	if k := bytes.IndexByte(b, 0); k >= 0 {
		b = b[:k]
	}
	if s, ok := interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(interned) < maxInterned {
		interned[s] = s
	}
	return s
}

// Client addresses get numbers for the tracker's keys (queryKey).
var (
	addrIDs   = map[string]uint32{}
	addrNames []string
)

const maxAddrs = 1 << 16

// addrID returns the number of the address in the field f, and false when
// maxAddrs addresses have been numbered already.
func addrID(f api.Field, d api.Data) (uint32, bool) {
	a := intern(f, d)
	if id, ok := addrIDs[a]; ok {
		return id, true
	}
	if len(addrNames) >= maxAddrs {
		return 0, false
	}
	id := uint32(len(addrNames))
	addrIDs[a] = id
	addrNames = append(addrNames, a)
	return id, true
}

// track feeds a query or a response to the unanswered-query tracker.
func track(d api.Data, ts int64) {
	netns, _ := in.netns.Uint32(d)
	proto, _ := in.proto.Uint16(d)
	k := queryKey{netns: netns, id: msg.id, proto: proto}
	if msg.response {
		var ok bool
		if k.addr, ok = addrID(in.dstAddr, d); ok {
			k.port, _ = in.dstPort.Uint16(d)
			tracker0.response(k, ts)
		}
		return
	}
	dst := intern(in.dstAddr, d)
	if a, err := netip.ParseAddr(dst); err == nil && a.IsMulticast() {
		return // mDNS: answers go to the group, not to the asker
	}
	var ok bool
	if k.addr, ok = addrID(in.srcAddr, d); !ok {
		tracker0.dropped++
		return
	}
	k.port, _ = in.srcPort.Uint16(d)
	tracker0.query(k, ts, func() queryInfo {
		dport, _ := in.dstPort.Uint16(d)
		pid, _ := in.pid.Uint32(d)
		tid, _ := in.tid.Uint32(d)
		qi := queryInfo{
			timestamp:  str(in.timestamp, d, 64),
			netns:      netns,
			srcAddr:    addrNames[k.addr],
			srcPort:    k.port,
			dstAddr:    dst,
			dstPort:    dport,
			nameserver: intern(in.nameserver, d),
			id:         msg.id,
			comm:       intern(in.comm, d),
			pid:        pid,
			tid:        tid,
		}
		if msg.hasQuestion {
			qi.name = msg.name
			qi.qtype = msg.qtype
		}
		if len(copied) > 0 {
			qi.extra = make([]string, len(copied))
			for j, c := range copied {
				qi.extra[j] = intern(c[0], d)
			}
		}
		return qi
	})
}

func reportUnanswered(p *pendingQuery, waited int64) {
	pkt, err := unanswered.NewPacketSingle()
	if err != nil {
		api.Warnf("trace_dns: unanswered query %s %s: %v", hexID(p.info.id), p.info.name, err)
		return
	}
	d := api.Data(pkt)
	i := &p.info
	un.tsRaw.SetUint64(d, uint64(p.ts))
	un.timestamp.SetString(d, i.timestamp)
	un.netns.SetUint32(d, i.netns)
	un.comm.SetString(d, i.comm)
	un.pid.SetUint32(d, i.pid)
	un.tid.SetUint32(d, i.tid)
	un.src.SetString(d, endpoint(i.srcAddr, i.srcPort))
	un.dst.SetString(d, endpoint(i.dstAddr, i.dstPort))
	un.nameserver.SetString(d, i.nameserver)
	un.id.SetString(d, hexID(i.id))
	un.qr.SetString(d, "Q")
	qtype := ""
	if i.name != "" {
		qtype = qtypeName(i.qtype)
	}
	un.qtypeRaw.SetUint16(d, i.qtype)
	un.qtype.SetString(d, qtype)
	un.name.SetString(d, i.name)
	un.attempts.SetUint32(d, p.attempts)
	un.waitedRaw.SetUint64(d, uint64(waited))
	un.waited.SetString(d, formatDuration(waited))
	un.unanswered.SetBool(d, true)
	for j, c := range copied {
		v := ""
		if j < len(i.extra) {
			v = i.extra[j]
		}
		c[1].SetString(d, v)
	}
	if err := unanswered.EmitAndRelease(api.Packet(pkt)); err != nil {
		api.Warnf("trace_dns: emit unanswered query %s %s: %v", hexID(i.id), i.name, err)
	}
}

// formatDuration renders ns like ig renders gadget_duration fields.
func formatDuration(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return strconv.FormatInt(ns, 10) + "ns"
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(ns)/1e3, 'f', 2, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(ns)/1e6, 'f', 2, 64) + "ms"
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

//go:wasmexport gadgetStop
func gadgetStop() int32 {
	if tracker0 == nil {
		return 0
	}
	// Queries past their deadline when the run ends are reported; younger
	// ones might still be answered and are not.
	tracker0.advance(time.Now().UnixNano(), reportUnanswered)
	if tracker0.dropped > 0 {
		api.Warnf("trace_dns: %d queries were not tracked for --dns-timeout: more than %d were waiting at once, or they came from more than %d client addresses",
			tracker0.dropped, maxPending, maxAddrs)
	}
	return 0
}

func main() {}
