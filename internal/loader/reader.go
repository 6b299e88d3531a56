package loader

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// Pacing of readers (see [Reader]).
const (
	// MinPollPeriod and MaxPollPeriod bound how long a reader that has
	// caught up with a buffer that is producing waits before reading
	// again, instead of asking the kernel to wake it for the next event.
	// At most MaxPollPeriod of events wait in the kernel buffer before
	// they are read; a ring buffer smaller than pauseRingSize is paused
	// for proportionally less (see maxPause).
	MinPollPeriod = time.Millisecond
	MaxPollPeriod = 25 * time.Millisecond
	// pauseRingSize is the smallest ring buffer paused for up to
	// MaxPollPeriod: a pause then fills it only at more than 335 MB/s of
	// events (388,000 trace_open events per second; the generator reaches
	// 233,000 here). Smaller rings are paused for at most their share of
	// MaxPollPeriod, so that the longest pause, taken when the events
	// were slow, does not overflow them when the rate jumps.
	pauseRingSize = 8 << 20
	// idlePollPeriod bounds how long an idle perf reader waits without
	// looking at its buffers (a perf buffer below its watermark wakes no
	// one), and is the poll period of a ring buffer the poller refused.
	idlePollPeriod = 25 * time.Millisecond
	// startPollPeriod replaces idlePollPeriod until a perf reader has read
	// its first event, for at most startWindow: a perf buffer below its
	// watermark wakes no one, and the first events of a run would
	// otherwise wait up to idlePollPeriod (measured: the first batch of
	// trace_dns reached the pipeline 35-40 ms after the start).
	startPollPeriod = 2 * time.Millisecond
	startWindow     = 500 * time.Millisecond
	// perfWatermarkDiv: a perf buffer wakes its reader when it is filled
	// to 1/perfWatermarkDiv of its size.
	perfWatermarkDiv = 4
)

// Reader reads the events of one tracer from its ring buffer or perf event
// array into [datasource.Record]s.
//
// # Wake-ups
//
// A BPF ring buffer wakes its reader whenever a record is committed while
// the reader has caught up, so a reader that keeps up is woken once per
// event: a context switch for the reader and, since the wake-up is raised
// in the producer's context, a cost for the traced task too. This works
// for every image, whatever flags its programs pass to
// bpf_ringbuf_submit, because it happens in user space: Reader paces
// itself. Once it has caught up with a buffer that is producing, it sleeps
// for a period (between [MinPollPeriod] and [MaxPollPeriod], adapted to
// the rate: see pause) and reads again, rather than waiting to be woken;
// only when a whole period brought no event does it go back to waiting for
// a wake-up. The kernel then wakes it at most once per idle spell and the
// events of a period are read in one go. Perf buffers are opened with a
// watermark (a quarter of their size) and read on the same schedule; an
// idle perf reader looks at its buffers at least every 25 ms (every 2 ms
// until its first event, so that a run's first events show at once).
//
// Ring buffers and perf buffers are read in place (see ringBuffer and
// perfBuffers): no system call, lock or atomic operation per event, and
// the consumer position is published once per batch. [Reader.ReadBatch]
// reads every event that is ready in one call.
//
// ReadInto must be called from one goroutine at a time; SetDeadline,
// Flush, Lost and Close may be called from any goroutine.
type Reader struct {
	ds      *datasource.DataSource
	mapName string

	// mu is held by ReadInto; Close takes it before unmapping the ring.
	mu       sync.Mutex
	ring     *ringBuffer
	deadline atomic.Int64 // unix nanoseconds, 0: none
	flushing atomic.Bool
	closed   atomic.Bool
	// active is set when an event was read since the reader last paused.
	active bool
	// started is when the reader was first waited on (not when it was
	// made: a collection may be loaded long before its events are read);
	// readAny is set by its first event (see startPollPeriod).
	started time.Time
	readAny bool
	// period is the current pause, at most maxPeriod (maxPause);
	// cycleBytes what was read since the last pause.
	period, maxPeriod time.Duration
	cycleBytes        int

	perf *perfBuffers

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
	r := &Reader{ds: t.DataSource, mapName: t.MapName, period: MinPollPeriod, maxPeriod: MaxPollPeriod}
	switch m.Type() {
	case ebpf.RingBuf:
		rb, err := newRingBuffer(m)
		if err != nil {
			return nil, fmt.Errorf("create ring buffer reader: %w", err)
		}
		r.ring, r.maxPeriod = rb, maxPause(int(rb.size))
		if lm := coll.Maps[t.MapName+"_lost_samples"]; lm != nil && lm.Type() == ebpf.PerCPUArray && lm.ValueSize() == 8 {
			n, err := ebpf.PossibleCPU()
			if err != nil {
				rb.close()
				return nil, fmt.Errorf("count CPUs: %w", err)
			}
			r.lostMap, r.lostBuf = lm, make([]uint64, n)
		}
	case ebpf.PerfEventArray:
		size := perfPages * os.Getpagesize()
		pb, err := newPerfBuffers(m, size, size/perfWatermarkDiv)
		if err != nil {
			return nil, fmt.Errorf("create perf reader: %w", err)
		}
		r.perf = pb
	default:
		return nil, fmt.Errorf("map %s is a %v map, want RingBuf or PerfEventArray", t.MapName, m.Type())
	}
	return r, nil
}

// DataSource returns the tracer's datasource.
func (r *Reader) DataSource() *datasource.DataSource { return r.ds }

// MapName returns the name of the map read.
func (r *Reader) MapName() string { return r.mapName }

// BufferSize returns the size in bytes of the ring buffer, or of each
// per-CPU perf buffer.
func (r *Reader) BufferSize() int {
	if r.ring != nil {
		return int(r.ring.size)
	}
	return int(r.perf.size)
}

// ReadInto blocks until an event is available and copies it into payload 0
// of rec (see [datasource.Record.SetStatic]). It does not allocate once
// rec's payload has grown to the event size. It returns [ErrClosed] after
// Close, [ErrFlushed] once the buffer is empty after Flush, and
// [os.ErrDeadlineExceeded] once the deadline has passed and the buffer is
// empty.
func (r *Reader) ReadInto(rec *datasource.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.sample(true)
	if err != nil {
		return err
	}
	rec.SetStatic(s, r.ds.StaticSize)
	r.release()
	return nil
}

// ReadBatch waits like ReadInto for an event, then reads up to max events
// that are ready without waiting, each into the record next returns. It
// returns the number of events read; an error only when that is 0.
func (r *Reader) ReadBatch(next func() *datasource.Record, max int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < max {
		s, err := r.sample(n == 0)
		if err != nil {
			if n > 0 {
				break // an error other than "no event" comes back next call
			}
			return 0, err
		}
		next().SetStatic(s, r.ds.StaticSize)
		n++
	}
	r.release()
	return n, nil
}

// release hands the space of the events copied so far back to the
// kernel, so that a pipeline busy with them does not hold it back.
func (r *Reader) release() {
	if r.ring != nil {
		r.ring.publish()
	} else if r.perf != nil {
		r.perf.publish()
	}
}

// testHookEmpty, if set, runs when a reader found its buffers empty
// (tests only).
var testHookEmpty func(*Reader)

// errNoEvent: sample(false) found no event ready.
var errNoEvent = errors.New("no event ready")

// sample returns the next event's bytes, valid until the next call. With
// wait false, it returns errNoEvent instead of waiting.
func (r *Reader) sample(wait bool) ([]byte, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if r.ring != nil {
		return r.ringSample(wait)
	}
	return r.perfSample(wait)
}

func (r *Reader) deadlineTime() time.Time {
	if ns := r.deadline.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// maxPause is the longest pause for a ring buffer of size bytes:
// MaxPollPeriod for pauseRingSize and more, proportionally less below,
// and at least MinPollPeriod.
func maxPause(size int) time.Duration {
	if size >= pauseRingSize {
		return MaxPollPeriod
	}
	return max(time.Duration(int64(MaxPollPeriod)*int64(size)/pauseRingSize), MinPollPeriod)
}

// pause sleeps before the next read of a buffer that is producing, or
// until the deadline. The pause adapts to the rate: it doubles (up to
// maxPeriod) while a pause brings less than 1/32 of the buffer, and
// halves (down to MinPollPeriod) when one brings more than 1/8, so a busy
// buffer stays mostly empty and a slow one is read in few, larger
// batches.
func (r *Reader) pause(now, deadline time.Time) {
	target := r.BufferSize() / 8
	switch {
	case r.cycleBytes > target:
		r.period = max(r.period/2, MinPollPeriod)
	case r.cycleBytes < target/4:
		r.period = min(r.period*2, r.maxPeriod)
	}
	r.cycleBytes = 0
	d := r.period
	if !deadline.IsZero() {
		d = min(d, deadline.Sub(now))
	}
	switch {
	case d > maxSyscallPause:
		time.Sleep(d)
	case d > 0:
		sleepInSyscall(d)
	}
}

// maxSyscallPause is the longest pause spent in a system call (see
// sleepInSyscall): sysmon takes the P from a call of 10 ms or more.
const maxSyscallPause = 5 * time.Millisecond

// sleepInSyscall sleeps for d in a nanosleep system call rather than on a
// Go timer. While a reader pauses, its goroutine is usually the only work
// of the process: on a timer every P goes idle, and Go's sysmon thread,
// woken again by the next system call, ticks every 20 µs for its first
// millisecond back. A P in a short system call is not idle, so sysmon
// keeps the longer period (up to 10 ms) it settles on while the process
// is busy. On this project's 2-CPU VM a thread's sleep and wake-up costs
// ~20 µs of CPU: trace_dns at 40 k events/s spent 25-30 % less CPU per
// event with this (and the pipeline's yield per batch, which keeps sysmon
// from preempting the reader) than with timer pauses; see BENCHMARKS.md.
func sleepInSyscall(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	for {
		var rem unix.Timespec
		if err := unix.Nanosleep(&ts, &rem); err != unix.EINTR {
			return
		}
		ts = rem
	}
}

func (r *Reader) ringSample(wait bool) ([]byte, error) {
	var busySince time.Time
	for {
		// Whether a flush began is read before the ring: a record
		// committed before Flush is then found by this pass or, when
		// the flush began during it, by the next.
		flushing := r.flushing.Load()
		s, err := r.ring.next()
		if err == nil {
			r.active = true
			r.cycleBytes += len(s) + ringHdrSize
			return s, nil
		}
		if err != errRingEmpty && err != errRingBusy {
			return nil, fmt.Errorf("read %s: %w", r.mapName, err)
		}
		if testHookEmpty != nil {
			testHookEmpty(r)
		}
		if !wait {
			return nil, errNoEvent
		}
		if r.closed.Load() {
			return nil, ErrClosed
		}
		now := time.Now()
		if flushing {
			// A program still writing a record finishes within
			// microseconds; do not give up on it at once.
			if err == errRingBusy {
				if busySince.IsZero() {
					busySince = now
				}
				if now.Sub(busySince) < 100*time.Millisecond {
					runtime.Gosched()
					continue
				}
			}
			return nil, ErrFlushed
		}
		deadline := r.deadlineTime()
		if !deadline.IsZero() && !now.Before(deadline) {
			return nil, os.ErrDeadlineExceeded
		}
		if err == errRingBusy {
			// A record being written is committed within microseconds:
			// wait for it rather than pausing a whole period.
			if busySince.IsZero() {
				busySince = now
			}
			if now.Sub(busySince) < 50*time.Microsecond {
				runtime.Gosched()
				continue
			}
		}
		if r.active || err == errRingBusy {
			r.active = false
			r.pause(now, deadline)
			continue
		}
		if err := r.ring.wait(deadline, r.interrupted); err != nil {
			if r.closed.Load() {
				return nil, ErrClosed
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, fmt.Errorf("wait for %s: %w", r.mapName, err)
			}
			// The deadline passed: the loop returns.
		}
	}
}

// interrupted reports whether Flush or Close was called.
func (r *Reader) interrupted() bool { return r.flushing.Load() || r.closed.Load() }

func (r *Reader) perfSample(wait bool) ([]byte, error) {
	for {
		flushing := r.flushing.Load() // before the buffers: see ringSample
		s, err := r.perf.next()
		if err == nil {
			r.active, r.readAny = true, true
			r.cycleBytes += len(s) + perfHdrSize + 4
			return s, nil
		}
		if err != errPerfEmpty {
			return nil, fmt.Errorf("read %s: %w", r.mapName, err)
		}
		if testHookEmpty != nil {
			testHookEmpty(r)
		}
		if flushing {
			return nil, ErrFlushed
		}
		if !wait {
			return nil, errNoEvent
		}
		if r.closed.Load() {
			return nil, ErrClosed
		}
		now := time.Now()
		deadline := r.deadlineTime()
		if !deadline.IsZero() && !now.Before(deadline) {
			return nil, os.ErrDeadlineExceeded
		}
		if r.active {
			r.active = false
			r.pause(now, deadline)
			continue
		}
		// Idle: wait for a buffer to reach its watermark, or look at
		// them all after idlePollPeriod (startPollPeriod at first).
		period := idlePollPeriod
		if r.started.IsZero() {
			r.started = now
		}
		if !r.readAny && now.Sub(r.started) < startWindow {
			period = startPollPeriod
		}
		want := now.Add(period)
		if !deadline.IsZero() && deadline.Before(want) {
			want = deadline
		}
		if err := r.perf.wait(want, r.interrupted); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if r.closed.Load() {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("wait for %s: %w", r.mapName, err)
		}
	}
}

// Flush makes ReadInto return every event already in the buffer and then
// [ErrFlushed]. It may be called from any goroutine; the runtime calls it
// after [Gadget.Detach] to drain what the programs produced before they
// were detached.
func (r *Reader) Flush() error {
	r.flushing.Store(true)
	if r.ring != nil {
		r.ring.kick()
	} else {
		r.perf.kick()
	}
	return nil
}

// SetDeadline makes ReadInto return [os.ErrDeadlineExceeded] once t has
// passed and no event is pending. The zero time removes the deadline.
func (r *Reader) SetDeadline(t time.Time) {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	r.deadline.Store(ns)
}

// Lost returns the number of events lost since the previous call: for a
// ring buffer, what the per-CPU <map>_lost_samples counters grew by (0
// without such a map); for a perf array, the lost samples reported by the
// kernel in records read so far. The kernel counters are never written
// from user space, so no increment can slip between a read and a reset.
func (r *Reader) Lost() (uint64, error) {
	if r.perf != nil {
		return r.perf.lost.Swap(0), nil
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
	if r.closed.Swap(true) {
		return nil
	}
	// Interrupt a wait (closed is set), then release once ReadInto is
	// out.
	if r.ring != nil {
		r.ring.kick()
	} else {
		r.perf.kick()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ring != nil {
		return r.ring.close()
	}
	return r.perf.close()
}
