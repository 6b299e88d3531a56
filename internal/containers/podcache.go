package containers

import "sync"

// podLabelCache holds the labels of the pod sandboxes a runtime client
// has looked up, so that the containers of a pod cost one lookup. A pod's
// labels do not change, but pods come and go: rather than follow sandboxes,
// the cache is emptied whenever it would hold more than maxCachedPods, and
// refills from the runtime as containers start. Its zero value is ready.
type podLabelCache struct {
	mu sync.Mutex
	m  map[string]map[string]string
}

// maxCachedPods bounds a podLabelCache: far more pods than a node runs at
// once (the kubelet's default is 110), a few MB of labels at most.
const maxCachedPods = 4096

func (p *podLabelCache) get(key string) (map[string]string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.m[key]
	return l, ok
}

func (p *podLabelCache) put(key string, labels map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[key]; !ok && len(p.m) >= maxCachedPods {
		p.m = nil
	}
	if p.m == nil {
		p.m = map[string]map[string]string{}
	}
	p.m[key] = labels
}
