package containers

import (
	"fmt"
	"runtime"
	"testing"
)

const benchContainers = 10_000

// synthetic returns a container shaped like a Kubernetes one as the
// containerd client builds it: a 64-hex id, CRI labels plus two pod
// labels (interned), a shared image; pods of three containers share a
// network namespace.
func synthetic(i int) *Container {
	labels := map[string]string{
		labelPodName:        fmt.Sprintf("app-%d-7d9f8c6b5-x%04d", i/3, i/3),
		labelPodNamespace:   fmt.Sprintf("team-%d", i%50),
		labelContainerName:  fmt.Sprintf("c%d", i%3),
		labelPodUID:         fmt.Sprintf("%08x-1111-2222-3333-%012x", i/3, i/3),
		"app":               fmt.Sprintf("app-%d", i/3),
		"pod-template-hash": "7d9f8c6b5",
	}
	ct := &Container{
		ID:          fmt.Sprintf("%016x%016x%016x%016x", i, i*7, i*13, i*17),
		Runtime:     RuntimeContainerd,
		Namespace:   intern("k8s.io"),
		ImageName:   intern("registry.example.com/team/app:v1.2.3"),
		ImageDigest: intern("sha256:7a1bd7d4c4b5f5e2d1c0b9a8f7e6d5c4b3a2918070605040302010f0e0d0c0b0"),
		Pid:         uint32(100_000 + i),
		StartedAt:   1_700_000_000_000_000_000 + int64(i),
		MntnsID:     4_026_540_000 + uint64(i),
		NetnsID:     uint32(4_026_600_000 + i/3),
		CgroupID:    uint64(50_000 + i),
		Labels:      internLabels(labels),
	}
	ct.setK8s(ct.Labels, nil)
	ct.Name = ct.K8s.ContainerName
	return ct
}

func filled(n int) *Collection {
	c := bareCollection()
	for i := range n {
		c.insert(synthetic(i))
	}
	return c
}

func TestLookupNoAlloc(t *testing.T) {
	c := filled(1000)
	ct := synthetic(500)
	if got := c.LookupMntns(ct.MntnsID); got == nil || got.ID != ct.ID {
		t.Fatalf("LookupMntns: %v", got)
	}
	if got := c.LookupNetns(ct.NetnsID); got == nil || got.K8s.PodName != ct.K8s.PodName {
		t.Fatalf("LookupNetns: %v", got)
	}
	if c.LookupMntns(1) != nil || c.LookupNetns(1) != nil {
		t.Fatal("unknown ids found")
	}
	if n := testing.AllocsPerRun(1000, func() {
		_ = c.LookupMntns(ct.MntnsID)
		_ = c.LookupNetns(ct.NetnsID)
		_ = c.LookupMntns(12345)
	}); n != 0 {
		t.Errorf("%v allocations per lookup", n)
	}
	// Removing the oldest container of a pod hands its netns over.
	first := synthetic(501) // 501/3 = 167: pod of 501, 502 (500 is pod 166)
	c.removePid(first.Pid)
	if got := c.LookupNetns(first.NetnsID); got == nil || got.Pid != first.Pid+1 {
		t.Errorf("netns after removal: %v", got)
	}
}

// TestMemoryPerContainer measures the heap per tracked container with 10k
// containers: the Container, its strings and labels, and its share of the
// indexes.
func TestMemoryPerContainer(t *testing.T) {
	per := memoryPerContainer(benchContainers)
	t.Logf("%d containers: %.0f bytes per container (heap, after GC)", benchContainers, per)
	if per > 1024 {
		t.Errorf("%.0f bytes per container, want ≤ 1024", per)
	}
}

func memoryPerContainer(n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := filled(n)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func BenchmarkLookupMntns(b *testing.B) {
	c := filled(benchContainers)
	ids := make([]uint64, 1024)
	for i := range ids {
		ids[i] = synthetic(i * 9).MntnsID
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if c.LookupMntns(ids[i&1023]) == nil {
			b.Fatal("miss")
		}
		i++
	}
	b.ReportMetric(memoryPerContainer(benchContainers), "B/container")
}

func BenchmarkLookupNetns(b *testing.B) {
	c := filled(benchContainers)
	ids := make([]uint32, 1024)
	for i := range ids {
		ids[i] = synthetic(i * 9).NetnsID
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if c.LookupNetns(ids[i&1023]) == nil {
			b.Fatal("miss")
		}
		i++
	}
}

// BenchmarkLookupMiss is the host's case: an id no container has.
func BenchmarkLookupMiss(b *testing.B) {
	c := filled(benchContainers)
	b.ReportAllocs()
	for b.Loop() {
		if c.LookupMntns(4026531840) != nil {
			b.Fatal("hit")
		}
	}
}

// BenchmarkAdd measures adding one container to a collection of 10k (the
// copy-on-write of one index shard).
func BenchmarkAdd(b *testing.B) {
	c := filled(benchContainers)
	i := benchContainers
	b.ReportAllocs()
	for b.Loop() {
		c.insert(synthetic(i))
		c.removePid(uint32(100_000 + i))
		i++
	}
}
