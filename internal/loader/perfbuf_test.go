package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakePerf is a perf buffer in ordinary memory, written the way the
// kernel writes one, for testing perfBuffers' parsing.
type fakePerf struct {
	p *perfBuffers
	r *perfRing
}

func newFakePerf(size int) *fakePerf {
	r := &perfRing{fd: -1, meta: &unix.PerfEventMmapPage{}, data: make([]byte, size)}
	return &fakePerf{p: &perfBuffers{rings: []*perfRing{r}, size: uint64(size)}, r: r}
}

// write appends a record of type typ with body (padded to 8 bytes) at the
// head, wrapping around the end of the buffer, and publishes it.
func (f *fakePerf) write(typ uint32, body []byte) {
	size := perfHdrSize + (len(body)+7)&^7
	rec := make([]byte, size)
	binary.NativeEndian.PutUint32(rec, typ)
	binary.NativeEndian.PutUint16(rec[6:], uint16(size))
	copy(rec[perfHdrSize:], body)
	head := f.r.meta.Data_head
	for i, b := range rec {
		f.r.data[(head+uint64(i))%uint64(len(f.r.data))] = b
	}
	f.r.meta.Data_head = head + uint64(size)
}

// scribble overwrites the space the reader handed back, as the kernel
// does with the next records.
func (f *fakePerf) scribble() {
	size := uint64(len(f.r.data))
	for pos := f.r.meta.Data_head - size; pos < f.r.meta.Data_tail; pos++ {
		f.r.data[pos%size] = 0xa5
	}
}

func (f *fakePerf) sample(s []byte) {
	body := binary.NativeEndian.AppendUint32(nil, uint32(len(s)))
	f.write(perfRecordSample, append(body, s...))
}

func (f *fakePerf) lost(n uint64) {
	body := binary.NativeEndian.AppendUint64(nil, 7) // id
	f.write(perfRecordLost, binary.NativeEndian.AppendUint64(body, n))
}

// TestPerfRecords: samples of every length come out whole, also when they
// wrap around the end of the buffer, and stay whole until the next call
// (the space handed back is overwritten before each is compared); lost
// records are counted, other records skipped; the tail is handed back
// once the buffer is read.
func TestPerfRecords(t *testing.T) {
	f := newFakePerf(512) // room for the 4 records written between reads
	var want [][]byte
	var lost uint64
	for i := range 200 {
		switch i % 9 {
		case 3:
			f.lost(uint64(i))
			lost += uint64(i)
		case 5:
			f.write(5, []byte("throttle")) // PERF_RECORD_THROTTLE
		default:
			s := make([]byte, i%61)
			for k := range s {
				s[k] = byte(i + k)
			}
			f.sample(s)
			want = append(want, s)
		}
		if i%4 != 3 {
			continue
		}
		for len(want) > 0 {
			got, err := f.p.next()
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			f.scribble()
			if string(got) != string(want[0]) {
				t.Fatalf("record %d: sample %x, want %x", i, got, want[0])
			}
			want = want[1:]
		}
		if _, err := f.p.next(); err != errPerfEmpty {
			t.Fatalf("record %d: next on a read buffer = %v, want errPerfEmpty", i, err)
		}
		if f.r.meta.Data_tail != f.r.meta.Data_head {
			t.Fatalf("record %d: tail %d, head %d after reading everything", i, f.r.meta.Data_tail, f.r.meta.Data_head)
		}
	}
	if got := f.p.lost.Load(); got != lost {
		t.Errorf("lost %d, want %d", got, lost)
	}
}

// TestPerfRecordsDamaged: a record the kernel could not have written is an
// error, not a crash or a sample read out of bounds.
func TestPerfRecordsDamaged(t *testing.T) {
	for name, write := range map[string]func(f *fakePerf){
		"size below the header": func(f *fakePerf) {
			f.write(perfRecordSample, nil)
			binary.NativeEndian.PutUint16(f.r.data[6:], 4)
		},
		"record past the head": func(f *fakePerf) {
			f.sample([]byte("abc"))
			f.r.meta.Data_head -= 8
		},
		"sample longer than its record": func(f *fakePerf) {
			f.write(perfRecordSample, binary.NativeEndian.AppendUint32(nil, 100))
		},
		"sample record without a size": func(f *fakePerf) {
			f.write(perfRecordSample, nil)
		},
		// The next header would start unaligned, and at the end of the
		// buffer run past it.
		"size not a multiple of 8": func(f *fakePerf) {
			for range 14 {
				f.write(5, nil)
			}
			for f.r.tail < f.r.meta.Data_head { // as read before
				f.r.tail += perfHdrSize
			}
			f.r.pub, f.r.head, f.r.meta.Data_tail = f.r.tail, f.r.tail, f.r.tail
			f.write(5, []byte("abcd"))
			binary.NativeEndian.PutUint16(f.r.data[112+6:], 12)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakePerf(128)
			write(f)
			var err error
			for err == nil {
				_, err = f.p.next()
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("next = %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// TestPerfEveryCPU: the events of every CPU are read, from the perf
// buffer of each.
func TestPerfEveryCPU(t *testing.T) {
	requireKernel(t)
	spec := newSpec(t, "perf.bpf.c", "")
	g := load(t, spec, Options{Params: map[string]any{"targ_pid": uint32(os.Getpid())}, PerfBufferPages: 4})
	r := g.Readers()[0]
	if r.perf == nil {
		t.Fatal("not a perf reader")
	}
	var cpus unix.CPUSet
	if err := unix.SchedGetaffinity(0, &cpus); err != nil {
		t.Fatal(err)
	}
	dir := shortTempDir(t)
	want := map[string]bool{}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // the thread is thrown away with its affinity
		for cpu := range runtime.NumCPU() {
			if !cpus.IsSet(cpu) {
				continue
			}
			var one unix.CPUSet
			one.Set(cpu)
			if err := unix.SchedSetaffinity(0, &one); err != nil {
				done <- err
				return
			}
			for i := range 3 {
				path := filepath.Join(dir, fmt.Sprintf("cpu%d-%d", cpu, i))
				want[path] = true
				openPath(path)
			}
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(r.perf.rings) < cpus.Count() {
		t.Errorf("%d perf buffers for %d CPUs", len(r.perf.rings), cpus.Count())
	}
	ds := r.DataSource()
	rec := ds.NewRecord()
	r.SetDeadline(time.Now().Add(5 * time.Second))
	for len(want) > 0 {
		if err := r.ReadInto(rec); err != nil {
			t.Fatalf("%d events not read (%v): %v", len(want), want, err)
		}
		delete(want, string(ds.Field("fname").Text(rec)))
	}
}

// TestFlushDuringEmptyPass: an event written while the reader finds its
// buffers empty, just before Flush, is still read before ErrFlushed.
func TestFlushDuringEmptyPass(t *testing.T) {
	for _, kind := range []string{"ring", "perf"} {
		t.Run(kind, func(t *testing.T) {
			r := &Reader{mapName: "events", period: MinPollPeriod, maxPeriod: MaxPollPeriod}
			var write func([]byte)
			if kind == "ring" {
				fr := newFakeRing(256)
				r.ring, write = fr.r, fr.commit
			} else {
				f := newFakePerf(256)
				f.p.waiter = waiter{epfd: -1, evfd: -1, pending: f.p.pending}
				r.perf, write = f.p, f.sample
			}
			once := false
			testHookEmpty = func(r *Reader) {
				if !once {
					once = true
					write([]byte("written before Detach"))
					r.flushing.Store(true)
				}
			}
			defer func() { testHookEmpty = nil }()
			s, err := r.sample(true)
			if err != nil || string(s) != "written before Detach" {
				t.Fatalf("sample = %q, %v; want the event written before the flush", s, err)
			}
			if _, err := r.sample(true); err != ErrFlushed {
				t.Fatalf("sample after the event = %v, want ErrFlushed", err)
			}
		})
	}
}

// fakeRing is a BPF ring buffer in ordinary memory, written the way the
// kernel writes one (records that do not wrap only).
type fakeRing struct {
	r    *ringBuffer
	prod *uintptr
}

func newFakeRing(size int) *fakeRing {
	f := &fakeRing{prod: new(uintptr)}
	f.r = &ringBuffer{size: uintptr(size), mask: uintptr(size - 1), consPage: make([]byte, 8), data: make([]byte, size)}
	f.r.consPos = (*uintptr)(unsafe.Pointer(&f.r.consPage[0]))
	f.r.prodPos = f.prod
	f.r.waiter = waiter{epfd: -1, evfd: -1, pending: f.r.pending}
	return f
}

// commit writes a committed record holding s at the producer position.
func (f *fakeRing) commit(s []byte) {
	pos := atomic.LoadUintptr(f.prod)
	off := pos & f.r.mask
	binary.NativeEndian.PutUint32(f.r.data[off:], uint32(len(s)))
	copy(f.r.data[off+ringHdrSize:], s)
	atomic.StoreUintptr(f.prod, pos+ringHdrSize+uintptr(len(s)+7)&^7)
}
