package containers

import "sync/atomic"

// shardBits sets the number of shards of an index (64).
const shardBits = 6

// index maps a namespace id to a container. Readers never lock: each shard
// is an immutable map behind an atomic pointer. Writers (serialised by the
// collection's mutex) copy the one shard they change and swap it in, so a
// change costs O(n/64) and a lookup is one atomic load and one map probe.
type index[K uint64 | uint32] struct {
	shards [1 << shardBits]atomic.Pointer[map[K]*Container]
}

// shardOf spreads keys over the shards. Namespace inode numbers are
// allocated sequentially, so a multiplicative hash of the whole key is
// used rather than its low bits.
func shardOf(k uint64) uint64 { return (k * 0x9e3779b97f4a7c15) >> (64 - shardBits) }

func (ix *index[K]) get(k K) *Container {
	m := ix.shards[shardOf(uint64(k))].Load()
	if m == nil {
		return nil
	}
	return (*m)[k]
}

// set maps k to c (c == nil deletes k). Callers serialise writes.
func (ix *index[K]) set(k K, c *Container) {
	s := &ix.shards[shardOf(uint64(k))]
	var n map[K]*Container
	if old := s.Load(); old != nil {
		if c == nil {
			if _, ok := (*old)[k]; !ok {
				return
			}
		}
		n = make(map[K]*Container, len(*old)+1)
		for kk, v := range *old {
			n[kk] = v
		}
	} else {
		if c == nil {
			return
		}
		n = make(map[K]*Container, 1)
	}
	if c == nil {
		delete(n, k)
	} else {
		n[k] = c
	}
	s.Store(&n)
}
