package trace_dns_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/metadata"
	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/gadgetkit/ig/internal/testutil/imagetest"
)

// The Go view of trace_dns's event, as consumers of its raw records see
// it; the packet follows it in each perf sample.
type l4endpoint struct {
	Addr    [16]byte `btf:"addr_raw"`
	Port    uint16   `btf:"port"`
	Proto   uint16   `btf:"proto_raw"`
	Version uint8    `btf:"version"`
	_       [11]byte // the union's 16-byte alignment
}

type l3endpoint struct {
	Addr    [16]byte `btf:"addr_raw"`
	Version uint8    `btf:"version"`
	_       [15]byte
}

type gadgetProcess struct {
	Comm    [16]byte `btf:"comm"`
	Pid     uint32   `btf:"pid"`
	Tid     uint32   `btf:"tid"`
	MntnsID uint64   `btf:"mntns_id"`
	Creds   struct {
		UID uint32 `btf:"uid"`
		GID uint32 `btf:"gid"`
	} `btf:"creds"`
	Parent struct {
		Comm [16]byte `btf:"comm"`
		Pid  uint32   `btf:"pid"`
		Tid  uint32   `btf:"tid"`
	} `btf:"parent"`
}

type dnsRecord struct {
	TimestampRaw uint64        `btf:"timestamp_raw"`
	NetnsID      uint32        `btf:"netns_id"`
	PktTypeRaw   uint8         `btf:"pkt_type_raw"`
	Pad0         uint8         `btf:"__pad0"`
	DNSOff       uint16        `btf:"dns_off"`
	Proc         gadgetProcess `btf:"proc"`
	Src          l4endpoint    `btf:"src"`
	Dst          l4endpoint    `btf:"dst"`
	Nameserver   l3endpoint    `btf:"nameserver"`
	LatencyNsRaw uint64        `btf:"latency_ns_raw"`
	DataLen      uint32        `btf:"data_len"`
	_            [4]byte
}

func TestEventLayout(t *testing.T) {
	ig := igWithTraceDNS(t)
	img, cs := imagetest.Image(t, ig.Store, "trace_dns")
	testutil.CheckLayout(t, imagetest.Struct(t, ig.Store, "trace_dns", "event_t"), reflect.TypeOf(dnsRecord{}))
	if m := cs.Maps["events"]; m == nil || m.Type != ebpf.PerfEventArray {
		t.Errorf("events: %+v, want a perf event array (it carries the packet)", m)
	}
	if m := cs.Maps["query_map"]; m == nil || m.Type != ebpf.LRUHash {
		t.Errorf("query_map: %+v, want a bounded LRU hash", m)
	}
	if p := cs.Programs["ig_trace_dns"]; p == nil || p.Type != ebpf.SocketFilter {
		t.Errorf("ig_trace_dns: %+v, want a socket filter", p)
	}

	meta, err := metadata.Parse(img.Metadata, "gadget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := gadgetspec.New(bytes.NewReader(img.Program), meta)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Tracers) != 1 {
		t.Fatalf("%d tracers, want 1", len(spec.Tracers))
	}
	tr := spec.Tracers[0]
	if tr.DataSource.Name != "dns" || tr.DataSource.StaticSize != uint32(reflect.TypeOf(dnsRecord{}).Size()) {
		t.Errorf("datasource %s of %d bytes", tr.DataSource.Name, tr.DataSource.StaticSize)
	}
	if tr.Rest == nil || tr.Rest.FullName != "data" || tr.Rest.Kind != datasource.Bytes || tr.Rest.Flags&datasource.FlagHidden == 0 {
		t.Errorf("trailing data field: %+v, want hidden Bytes field data", tr.Rest)
	}
	if tr.RestLen == nil || tr.RestLen.FullName != "data_len" {
		t.Errorf("trailing data length: %+v, want data_len", tr.RestLen)
	}
}
