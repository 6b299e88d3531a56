package loader

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// Reader reads the events of one tracer from its ring buffer or perf event
// array into [datasource.Record]s.
//
// ReadInto must be called from one goroutine at a time; SetDeadline, Lost
// and Close may be called from any goroutine.
type Reader struct {
	ds      *datasource.DataSource
	mapName string

	rb    *ringbuf.Reader
	rbRec ringbuf.Record

	pr       *perf.Reader
	prRec    perf.Record
	perfLost atomic.Uint64

	// lostMap is the per-CPU <map>_lost_samples counter of a ring buffer.
	lostMu  sync.Mutex
	lostMap *ebpf.Map
	lostBuf []uint64
	// lostPrev is the counters' value at the previous Lost call.
	lostPrev []uint64
}

func newReader(coll *ebpf.Collection, t *gadgetspec.Tracer, perfPages int) (*Reader, error) {
	m := coll.Maps[t.MapName]
	if m == nil {
		return nil, fmt.Errorf("map %s not found", t.MapName)
	}
	r := &Reader{ds: t.DataSource, mapName: t.MapName}
	switch m.Type() {
	case ebpf.RingBuf:
		rb, err := ringbuf.NewReader(m)
		if err != nil {
			return nil, fmt.Errorf("create ring buffer reader: %w", err)
		}
		r.rb = rb
		if lm := coll.Maps[t.MapName+"_lost_samples"]; lm != nil && lm.Type() == ebpf.PerCPUArray && lm.ValueSize() == 8 {
			n, err := ebpf.PossibleCPU()
			if err != nil {
				rb.Close()
				return nil, fmt.Errorf("count CPUs: %w", err)
			}
			r.lostMap, r.lostBuf = lm, make([]uint64, n)
		}
	case ebpf.PerfEventArray:
		pr, err := perf.NewReader(m, perfPages*os.Getpagesize())
		if err != nil {
			return nil, fmt.Errorf("create perf reader: %w", err)
		}
		r.pr = pr
	default:
		return nil, fmt.Errorf("map %s is a %v map, want RingBuf or PerfEventArray", t.MapName, m.Type())
	}
	return r, nil
}

// DataSource returns the tracer's datasource.
func (r *Reader) DataSource() *datasource.DataSource { return r.ds }

// MapName returns the name of the map read.
func (r *Reader) MapName() string { return r.mapName }

// ReadInto blocks until an event is available and copies it into payload 0
// of rec (see [datasource.Record.SetStatic]). It does not allocate once
// rec's payload has grown to the event size. It returns [ErrClosed] after
// Close and [os.ErrDeadlineExceeded] once the deadline has passed and the
// buffer is empty.
func (r *Reader) ReadInto(rec *datasource.Record) error {
	if r.rb != nil {
		if err := r.rb.ReadInto(&r.rbRec); err != nil {
			return r.readErr(err)
		}
		rec.SetStatic(r.rbRec.RawSample, r.ds.StaticSize)
		return nil
	}
	for {
		if err := r.pr.ReadInto(&r.prRec); err != nil {
			return r.readErr(err)
		}
		if r.prRec.LostSamples > 0 {
			r.perfLost.Add(r.prRec.LostSamples)
			continue
		}
		rec.SetStatic(r.prRec.RawSample, r.ds.StaticSize)
		return nil
	}
}

func (r *Reader) readErr(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return os.ErrDeadlineExceeded
	case errors.Is(err, os.ErrClosed):
		return ErrClosed
	case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, perf.ErrFlushed):
		return ErrFlushed
	}
	return fmt.Errorf("read %s: %w", r.mapName, err)
}

// Flush makes ReadInto return every event already in the buffer and then
// [ErrFlushed]. It may be called from any goroutine; the runtime calls it
// after [Gadget.Detach] to drain what the programs produced before they
// were detached.
func (r *Reader) Flush() error {
	if r.rb != nil {
		return r.rb.Flush()
	}
	return r.pr.Flush()
}

// SetDeadline makes ReadInto return [os.ErrDeadlineExceeded] once t has
// passed and no event is pending. The zero time removes the deadline.
func (r *Reader) SetDeadline(t time.Time) {
	if r.rb != nil {
		r.rb.SetDeadline(t)
	} else {
		r.pr.SetDeadline(t)
	}
}

// Lost returns the number of events lost since the previous call: for a
// ring buffer, what the per-CPU <map>_lost_samples counters grew by (0
// without such a map); for a perf array, the lost samples reported by the
// kernel in records read so far. The kernel counters are never written
// from user space, so no increment can slip between a read and a reset.
func (r *Reader) Lost() (uint64, error) {
	if r.pr != nil {
		return r.perfLost.Swap(0), nil
	}
	if r.lostMap == nil {
		return 0, nil
	}
	r.lostMu.Lock()
	defer r.lostMu.Unlock()
	var key uint32
	if err := r.lostMap.Lookup(&key, r.lostBuf); err != nil {
		return 0, fmt.Errorf("read %s_lost_samples: %w", r.mapName, err)
	}
	if r.lostPrev == nil {
		r.lostPrev = make([]uint64, len(r.lostBuf))
	}
	var sum uint64
	for i, v := range r.lostBuf {
		sum += v - r.lostPrev[i]
		r.lostPrev[i] = v
	}
	return sum, nil
}

// Close closes the reader and interrupts a blocked ReadInto. It is safe to
// call more than once.
func (r *Reader) Close() error {
	var err error
	if r.rb != nil {
		err = r.rb.Close()
	} else {
		err = r.pr.Close()
	}
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
