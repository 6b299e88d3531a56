package containers

import (
	"encoding/binary"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// eventDS is a datasource like a tracer's: a static struct with a mount
// namespace id at 0 and a network namespace id at 8.
func eventDS(t testing.TB, tagMnt, tagNet bool) (*datasource.DataSource, *datasource.Field, *datasource.Field) {
	t.Helper()
	ds := datasource.New("events", datasource.TypeSingle)
	mnt, err := ds.AddStaticField(nil, "mntns_id", datasource.Uint64, 0, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	net, _ := ds.AddStaticField(nil, "netns_id", datasource.Uint32, 8, 4, 0)
	if tagMnt {
		mnt.Tags = append(mnt.Tags, TagMntnsID)
	}
	if tagNet {
		net.Tags = append(net.Tags, TagNetnsID)
	}
	return ds, mnt, net
}

func setStatic(r *datasource.Record, mntns uint64, netns uint32) {
	var b [12]byte
	binary.NativeEndian.PutUint64(b[0:], mntns)
	binary.NativeEndian.PutUint32(b[8:], netns)
	r.SetStatic(b[:], 12)
}

func text(ds *datasource.DataSource, r *datasource.Record, name string) string {
	return string(ds.Field(name).Text(r))
}

func TestEnricher(t *testing.T) {
	c := bareCollection()
	a := &Container{ID: "aaaa", Name: "web", Runtime: RuntimeContainerd, ImageName: "nginx:1", ImageDigest: "sha256:00",
		Pid: 42, StartedAt: 1_700_000_000_000_000_000, MntnsID: 5001, NetnsID: 6001,
		K8s: K8s{Namespace: "prod", PodName: "web-1", ContainerName: "nginx", PodUID: "uid-1"}}
	c.insert(a)

	if e, err := NewEnricher(c, datasource.New("plain", datasource.TypeSingle), "node1"); e != nil || err != nil {
		t.Fatalf("a datasource without namespace fields got an enricher: %v %v", e, err)
	}

	ds, _, _ := eventDS(t, true, true)
	e, err := NewEnricher(c, ds, "node1")
	if err != nil || e == nil {
		t.Fatal(err)
	}
	for _, name := range []string{"k8s.node", "k8s.namespace", "k8s.podName", "k8s.containerName", "k8s.podUID",
		"runtime.containerId", "runtime.containerName", "runtime.runtimeName", "runtime.containerImageName",
		"runtime.containerImageDigest", "runtime.containerPid", "runtime.containerStartedAt"} {
		f := ds.Field(name)
		if f == nil {
			t.Fatalf("no field %s", name)
		}
		hidden := f.Flags&datasource.FlagHidden != 0
		if hidden != (f.Parent == ds.Field("k8s").Index) {
			t.Errorf("%s hidden = %v", name, hidden)
		}
	}

	b := &pipeline.Batch{DS: ds, Records: []*datasource.Record{ds.NewRecord(), ds.NewRecord(), ds.NewRecord()}}
	setStatic(b.Records[0], 5001, 0)    // by mntns
	setStatic(b.Records[1], 0, 6001)    // by netns
	setStatic(b.Records[2], 7777, 8888) // the host or unknown
	if err := e.Process(b); err != nil {
		t.Fatal(err)
	}
	for i, r := range b.Records[:2] {
		for name, want := range map[string]string{
			"k8s.node": "node1", "k8s.namespace": "prod", "k8s.podName": "web-1", "k8s.containerName": "nginx", "k8s.podUID": "uid-1",
			"runtime.containerId": "aaaa", "runtime.containerName": "web", "runtime.runtimeName": "containerd",
			"runtime.containerImageName": "nginx:1", "runtime.containerImageDigest": "sha256:00",
		} {
			if got := text(ds, r, name); got != want {
				t.Errorf("record %d: %s = %q, want %q", i, name, got, want)
			}
		}
		if pid := ds.Field("runtime.containerPid").Uint64(r); pid != 42 {
			t.Errorf("record %d: pid %d", i, pid)
		}
		if st := ds.Field("runtime.containerStartedAt").Int64(r); st != a.StartedAt {
			t.Errorf("record %d: startedAt %d", i, st)
		}
	}
	r := b.Records[2]
	if text(ds, r, "runtime.containerName") != "" || text(ds, r, "k8s.podName") != "" || ds.Field("runtime.containerPid").Uint64(r) != 0 || text(ds, r, "k8s.node") != "node1" {
		t.Error("a host event got container fields")
	}

	// Steady state: records recycled, no allocation per record.
	if n := testing.AllocsPerRun(1000, func() {
		setStatic(b.Records[0], 5001, 0)
		setStatic(b.Records[2], 7777, 0)
		_ = e.Process(b)
	}); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}

	// Netns only.
	ds2, _, _ := eventDS(t, false, true)
	e2, err := NewEnricher(c, ds2, "")
	if err != nil || e2 == nil {
		t.Fatal(err)
	}
	r2 := ds2.NewRecord()
	setStatic(r2, 5001, 6001)
	e2.Enrich(r2)
	if text(ds2, r2, "k8s.podName") != "web-1" {
		t.Error("netns enrichment")
	}
}

func BenchmarkEnrich(b *testing.B) {
	c := bareCollection()
	for i := range 10_000 {
		c.insert(synthetic(i))
	}
	ds, _, _ := eventDS(b, true, true)
	e, _ := NewEnricher(c, ds, "node")
	r := ds.NewRecord()
	setStatic(r, synthetic(1234).MntnsID, 0)
	e.Enrich(r)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.Enrich(r)
	}
}
