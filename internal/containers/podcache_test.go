package containers

import (
	"strconv"
	"testing"
)

// The pod label cache never holds more than maxCachedPods entries: it is
// emptied when full, keeps what was put last, and a key put again does not
// empty it.
func TestPodLabelCacheBounded(t *testing.T) {
	var p podLabelCache
	for i := range maxCachedPods {
		p.put(strconv.Itoa(i), map[string]string{"i": strconv.Itoa(i)})
	}
	p.put("0", map[string]string{"i": "again"})
	if len(p.m) != maxCachedPods {
		t.Fatalf("%d entries after putting a cached key again, want %d", len(p.m), maxCachedPods)
	}
	if l, ok := p.get("0"); !ok || l["i"] != "again" {
		t.Errorf("key 0: %v %v", l, ok)
	}
	p.put("new", map[string]string{"i": "new"})
	if len(p.m) != 1 {
		t.Errorf("%d entries once full, want 1", len(p.m))
	}
	if l, ok := p.get("new"); !ok || l["i"] != "new" {
		t.Errorf("key new: %v %v", l, ok)
	}
	if _, ok := p.get("1"); ok {
		t.Error("an old key survived")
	}
}
