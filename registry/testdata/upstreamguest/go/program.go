// A guest written against Inspektor Gadget's Go SDK, ported by changing
// the import path only. It decodes DNS headers like upstream's trace_dns
// and touches the rest of the API once, so that the build checks the
// whole surface. It must not import anything beyond v1.
package main

import (
	"encoding/binary"
	"fmt"
	"strings"

	api "github.com/gadgetkit/ig/sdk/go"
)

const (
	maxPacket    = 512
	maxParamSize = 1024
)

var (
	dnsDS                         api.DataSource
	dataF, lenF, offF             api.Field
	idF, qrF, nameF, countF       api.Field
	latencyF, truncF, ratioF, tsF api.Field
	summaryDS                     api.DataSource
	summaryF                      api.Field
	events                        uint64
)

//go:wasmexport gadgetInit
func gadgetInit() int32 {
	var err error
	dnsDS, err = api.GetDataSource("dns")
	if err != nil {
		api.Warnf("failed to get datasource: %s", err)
		return 1
	}
	for name, f := range map[string]*api.Field{"data": &dataF, "data_len": &lenF, "dns_off": &offF} {
		if *f, err = dnsDS.GetField(name); err != nil {
			api.Warnf("failed to get field %s: %s", name, err)
			return 1
		}
	}
	added := []struct {
		name string
		kind api.FieldKind
		f    *api.Field
	}{
		{"id", api.Kind_String, &idF},
		{"qr", api.Kind_String, &qrF},
		{"name", api.Kind_String, &nameF},
		{"num_answers", api.Kind_Int32, &countF},
		{"latency_ns", api.Kind_Int64, &latencyF},
		{"truncated", api.Kind_Bool, &truncF},
		{"ratio", api.Kind_Float64, &ratioF},
		{"ts_low", api.Kind_Uint16, &tsF},
	}
	for _, a := range added {
		if *a.f, err = dnsDS.AddField(a.name, a.kind); err != nil {
			api.Warnf("failed to add field %s: %s", a.name, err)
			return 1
		}
	}
	idF.AddTag("type:dns.id")
	if err := dnsDS.Subscribe(onDNS, 0); err != nil {
		return 1
	}

	summaryDS, err = api.NewDataSource("summary", api.DataSourceTypeArray)
	if err != nil {
		return 1
	}
	if summaryF, err = summaryDS.AddField("text", api.Kind_String); err != nil {
		return 1
	}
	summaryDS.SubscribeArray(func(ds api.DataSource, arr api.DataArray) error {
		for i := 0; i < arr.Len(); i++ {
			s, err := summaryF.String(arr.Get(i), 64)
			if err != nil {
				return err
			}
			api.Debugf("summary %d: %s", i, s)
		}
		return nil
	}, 10)
	dnsDS.SubscribePacket(func(ds api.DataSource, p api.Packet) error { return nil }, 20)

	if containers, err := api.GetDataSource(api.DataSourceContainers); err == nil {
		evType, _ := containers.GetField("event_type")
		containers.Subscribe(func(ds api.DataSource, d api.Data) {
			t, _ := evType.String(d, api.DataSourceContainersEventTypeMaxSize)
			api.Tracef("container event %s", t)
		}, 0)
	}
	return 0
}

func onDNS(source api.DataSource, data api.Data) {
	events++
	length, err := lenF.Uint32(data)
	if err != nil {
		api.Warnf("failed to get data_len: %s", err)
		return
	}
	off, err := offF.Uint16(data)
	if err != nil || length < uint32(off)+12 {
		return
	}
	buf := make([]byte, maxPacket)
	n, err := dataF.Bytes(data, buf)
	if err != nil || n < uint32(off)+12 {
		return
	}
	msg := buf[off:n]
	id := binary.BigEndian.Uint16(msg[0:])
	flags := binary.BigEndian.Uint16(msg[2:])
	idF.SetString(data, fmt.Sprintf("%.4x", id))
	if flags&0x8000 != 0 {
		qrF.SetString(data, "R")
	} else {
		qrF.SetString(data, "Q")
	}
	truncF.SetBool(data, flags&0x0200 != 0)
	countF.SetInt32(data, int32(binary.BigEndian.Uint16(msg[6:])))
	nameF.SetString(data, questionName(msg[12:]))
	latencyF.SetInt64(data, -1)
	ratioF.SetFloat64(data, float64(n)/maxPacket)
	tsF.SetUint16(data, uint16(events))
	if v, err := countF.Int32(data); err == nil && v < 0 {
		api.Error("negative answer count")
	}
	api.Log(api.TraceLevel, "dns event ", events)
}

// questionName decodes the first question's name (labels, no
// compression).
func questionName(b []byte) string {
	var labels []string
	for len(b) > 0 && b[0] != 0 && int(b[0]) < len(b) {
		labels = append(labels, string(b[1:1+b[0]]))
		b = b[1+b[0]:]
	}
	return strings.Join(labels, ".") + "."
}

type lpmKey struct {
	PrefixLen uint32
	Addr      [4]byte
}

//go:wasmexport gadgetPreStart
func gadgetPreStart() int32 {
	if api.KallsymsSymbolExists("udpv6_sendmsg") {
		if err := api.SetConfig("programs.ig_trace_dns.attach_to", "udpv6_sendmsg"); err != nil {
			api.Warn(err)
		}
	}
	return 0
}

//go:wasmexport gadgetStart
func gadgetStart() int32 {
	cidrs, err := api.GetParamValue("cidrs", maxParamSize)
	if err != nil {
		api.Infof("no cidrs: %v", err)
		return 0
	}
	drop, err := api.GetMap("drop_list")
	if err != nil {
		return 1
	}
	for i, c := range strings.Split(cidrs, ",") {
		k := lpmKey{PrefixLen: 32, Addr: [4]byte{10, 0, 0, byte(i)}}
		if err := drop.Put(k, uint8(1)); err != nil {
			api.Warnf("put %s: %v", c, err)
		}
		var v uint8
		drop.Lookup(k, &v)
		drop.Update(k, v, api.UpdateExist)
		drop.Delete(k)
	}
	scratch, err := api.NewMap(api.MapSpec{Name: "scratch", Type: api.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err == nil {
		scratch.Close()
	}
	if id, err := api.GetSyscallID("openat"); err == nil {
		name, _ := api.GetSyscallName(uint16(id))
		decl, _ := api.GetSyscallDeclaration(name)
		for _, p := range decl.Params {
			api.Debugf("%s: %s pointer=%v", decl.Name, p.Name, p.IsPointer)
		}
	}
	if api.ShouldDiscardMntNsID(4026531840) {
		api.Info("host mount namespace filtered out")
	}
	if events, err := api.GetMap("events"); err == nil {
		if r, err := api.NewPerfReader(events, 4096, true); err == nil {
			r.Pause()
			rec := make([]byte, 256)
			if err := r.Read(rec); err != nil {
				api.Debug(err)
			}
			r.Resume()
			r.Close()
		}
		api.ReleaseHandle(events)
	}
	return 0
}

//go:wasmexport gadgetStop
func gadgetStop() int32 {
	p, err := summaryDS.NewPacketArray()
	if err != nil {
		return 1
	}
	arr := api.DataArray(p)
	d := arr.New()
	summaryF.SetString(d, fmt.Sprintf("%d dns events", events))
	if err := arr.Append(d); err != nil {
		arr.Release(d)
	}
	summaryDS.EmitAndRelease(api.Packet(p))
	if one, err := dnsDS.NewPacketSingle(); err == nil {
		dnsDS.Release(api.Packet(one))
	}
	if !summaryDS.IsReferenced() {
		summaryDS.Unreference()
	}
	return 0
}

func main() {}
