package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf"
)

// Layout of a perf event buffer as the kernel maps it
// (include/uapi/linux/perf_event.h): a metadata page (struct
// perf_event_mmap_page, whose data_head the kernel advances and whose
// data_tail the reader does), then a power-of-two number of data pages.
// Each record starts with a struct perf_event_header {u32 type; u16 misc;
// u16 size}; records are 8-byte aligned, so a header never wraps around
// the end of the data, but the rest of a record may.
const (
	perfHdrSize = 8
	// perfRecordLost: u64 id, u64 lost (the records the kernel dropped).
	perfRecordLost = 2
	// perfRecordSample with PERF_SAMPLE_RAW: u32 size, then the bytes the
	// program passed to bpf_perf_event_output.
	perfRecordSample = 9
)

// errPerfEmpty: every perf buffer has been read up to its head.
var errPerfEmpty = errors.New("perf buffers empty")

// perfBuffers consumes the per-CPU buffers of a perf event array in place,
// as ringBuffer does a BPF ring buffer: samples are read from the shared
// mappings, without a system call or a copy (but for the rare sample that
// wraps), and each buffer's tail is handed back to the kernel once per
// pass over it, not after every record. The buffers are opened with a
// watermark: the kernel wakes an idle reader (see waiter) once a buffer is
// filled to it.
type perfBuffers struct {
	// array is the descriptor of the map the events were stored
	// through: the kernel removes them when it is closed.
	array *ebpf.Map
	rings []*perfRing
	// cur is the ring being read.
	cur int
	// size is the size of each ring's data area.
	size uint64
	// wrapped holds a sample that wraps around the end of its ring.
	wrapped []byte
	// lost counts the records the kernel reported lost.
	lost atomic.Uint64

	// waiter holds the perf events.
	waiter
}

// perfRing is the buffer of one CPU.
type perfRing struct {
	fd   int
	mmap []byte
	meta *unix.PerfEventMmapPage
	data []byte
	// tail is the position up to which records were read; pub the tail
	// last published to the kernel; head the kernel's head last loaded.
	tail, pub, head uint64
}

// newPerfBuffers opens a perf event and its buffer of size bytes (a power
// of two multiple of the page size) for each online CPU and stores them
// in m (through a descriptor of its own, closed with them). The kernel
// wakes the reader when a buffer holds watermark bytes.
func newPerfBuffers(m *ebpf.Map, size, watermark int) (*perfBuffers, error) {
	page := os.Getpagesize()
	if size <= 0 || size&(size-1) != 0 || size%page != 0 {
		return nil, fmt.Errorf("perf buffer size %d is not a power of two multiple of the page size", size)
	}
	if watermark <= 0 || watermark >= size {
		return nil, fmt.Errorf("perf buffer watermark %d is not within (0, %d)", watermark, size)
	}
	p := &perfBuffers{size: uint64(size), waiter: waiter{epfd: -1, evfd: -1}}
	fail := func(err error) (*perfBuffers, error) {
		_ = p.close()
		return nil, err
	}
	var err error
	if p.array, err = m.Clone(); err != nil {
		return fail(fmt.Errorf("duplicate the perf event array's descriptor: %w", err))
	}
	var fds []int
	cpus := int(m.MaxEntries())
	for cpu := range cpus {
		r, err := newPerfRing(cpu, size, watermark)
		if errors.Is(err, unix.ENODEV) {
			continue // offline CPU
		}
		if err != nil {
			return fail(fmt.Errorf("perf buffer of CPU %d: %w", cpu, err))
		}
		p.rings = append(p.rings, r)
		if err := p.array.Put(uint32(cpu), uint32(r.fd)); err != nil {
			return fail(fmt.Errorf("store the perf event of CPU %d: %w", cpu, err))
		}
		fds = append(fds, r.fd)
	}
	if len(p.rings) == 0 {
		return fail(fmt.Errorf("no online CPU among the %d entries of the perf event array", cpus))
	}
	if err := p.waiter.init(p.pending, fds...); err != nil {
		return fail(err)
	}
	return p, nil
}

func newPerfRing(cpu, size, watermark int) (*perfRing, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_SOFTWARE,
		Config:      unix.PERF_COUNT_SW_BPF_OUTPUT,
		Sample_type: unix.PERF_SAMPLE_RAW,
		Bits:        unix.PerfBitWatermark,
		Wakeup:      uint32(watermark),
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("perf_event_open: %w", err)
	}
	r := &perfRing{fd: fd}
	if r.mmap, err = unix.Mmap(fd, 0, os.Getpagesize()+size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("mmap: %w", err)
	}
	r.meta = (*unix.PerfEventMmapPage)(unsafe.Pointer(&r.mmap[0]))
	off, n := r.meta.Data_offset, r.meta.Data_size
	if n != uint64(size) || off+n > uint64(len(r.mmap)) {
		_ = r.close()
		return nil, fmt.Errorf("the kernel laid out %d data bytes at %d in a %d-byte mapping, want %d", n, off, len(r.mmap), size)
	}
	r.data = r.mmap[off : off+n : off+n]
	r.tail = atomic.LoadUint64(&r.meta.Data_tail)
	r.pub, r.head = r.tail, r.tail
	return r, nil
}

// publish hands the space of every record read so far back to the
// kernel.
func (r *perfRing) publish() {
	if r.pub != r.tail {
		atomic.StoreUint64(&r.meta.Data_tail, r.tail)
		r.pub = r.tail
	}
}

func (r *perfRing) close() error {
	var err error
	if r.mmap != nil {
		err = unix.Munmap(r.mmap)
		r.mmap, r.data, r.meta = nil, nil, nil
	}
	if r.fd >= 0 {
		err = errors.Join(err, unix.Close(r.fd))
		r.fd = -1
	}
	return err
}

// next returns the next sample, which stays valid until the next call, or
// errPerfEmpty when every buffer has been read up to its head. It reads a
// buffer up to the head it loaded on coming to it, then goes on to the
// next, so that a busy CPU does not starve the others.
func (p *perfBuffers) next() ([]byte, error) {
	empty := 0
	for {
		r := p.rings[p.cur]
		if r.tail != r.head {
			s, err := p.record(r)
			if err != nil || s != nil {
				return s, err
			}
			continue
		}
		r.publish()
		if empty == len(p.rings) {
			return nil, errPerfEmpty
		}
		p.cur++
		if p.cur == len(p.rings) {
			p.cur = 0
		}
		r = p.rings[p.cur]
		if r.head = atomic.LoadUint64(&r.meta.Data_head); r.head == r.tail {
			empty++
		} else {
			empty = 0
		}
	}
}

// record consumes the record at r's tail: the sample of a sample record,
// nil for any other (a lost record is counted).
func (p *perfBuffers) record(r *perfRing) ([]byte, error) {
	// Release what the caller has copied by now when it is a lot, so that
	// a long drain does not starve the producer.
	if r.tail-r.pub >= p.size/4 {
		r.publish()
	}
	off := r.tail & (p.size - 1)
	hdr := r.data[off : off+perfHdrSize]
	typ, size := binary.NativeEndian.Uint32(hdr), uint64(binary.NativeEndian.Uint16(hdr[6:]))
	if size < perfHdrSize || size%8 != 0 || r.head-r.tail < size {
		return nil, fmt.Errorf("perf buffer record of %d bytes at %d, head at %d: %w", size, r.tail, r.head, io.ErrUnexpectedEOF)
	}
	body := p.bytes(r, r.tail+perfHdrSize, size-perfHdrSize)
	r.tail += size
	switch typ {
	case perfRecordSample:
		if len(body) < 4 {
			return nil, fmt.Errorf("perf buffer sample record of %d bytes: %w", size, io.ErrUnexpectedEOF)
		}
		n := uint64(binary.NativeEndian.Uint32(body))
		if n > uint64(len(body))-4 {
			return nil, fmt.Errorf("perf buffer sample of %d bytes in a %d-byte record: %w", n, size, io.ErrUnexpectedEOF)
		}
		return body[4 : 4+n : 4+n], nil
	case perfRecordLost:
		if len(body) >= 16 {
			p.lost.Add(binary.NativeEndian.Uint64(body[8:]))
		}
	}
	return nil, nil
}

// bytes returns the n bytes at position pos of r: a view of the mapping,
// or a copy in p.wrapped if they wrap around its end.
func (p *perfBuffers) bytes(r *perfRing, pos, n uint64) []byte {
	start := pos & (p.size - 1)
	if end := start + n; end <= p.size {
		return r.data[start:end:end]
	}
	p.wrapped = append(append(p.wrapped[:0], r.data[start:]...), r.data[:n-(p.size-start)]...)
	return p.wrapped
}

// publish hands the space of the records read so far back to the kernel
// (those of the other buffers were when the reader left them).
func (p *perfBuffers) publish() {
	if len(p.rings) > 0 {
		p.rings[p.cur].publish()
	}
}

// pending reports whether a buffer holds a record not read yet.
func (p *perfBuffers) pending() bool {
	for _, r := range p.rings {
		if atomic.LoadUint64(&r.meta.Data_head) != r.tail {
			return true
		}
	}
	return false
}

// close releases everything; it must not run concurrently with next or
// wait. The array's entries stay until the map is closed (the clone shares
// its file); events written to them meanwhile are lost uncounted, as the
// gadget is closing.
func (p *perfBuffers) close() error {
	var err error
	for _, r := range p.rings {
		err = errors.Join(err, r.close())
	}
	p.rings = nil
	if p.array != nil {
		err = errors.Join(err, p.array.Close())
		p.array = nil
	}
	return errors.Join(err, p.waiter.close())
}
