package loader

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cilium/ebpf"
)

// Layout of a BPF ring buffer as the kernel maps it (include/uapi/linux/bpf.h,
// kernel/bpf/ringbuf.c): a consumer page holding the consumer position
// (writable by user space), then a producer page holding the producer
// position, then the data pages, which the kernel offers twice in a row
// so that a record wrapping around the end can be read in one piece.
// Each record starts with an 8-byte header whose first 32 bits are the
// length and two flags; records are padded to 8 bytes, so a header never
// wraps.
//
// The kernel inserts every page of a mapping at mmap time, so each mapped
// page counts in the reader's resident size from the start: only one copy
// of the data pages is mapped here, and the rare record that wraps is
// copied out in two pieces.
const (
	ringHdrSize    = 8
	ringBusyBit    = 1 << 31
	ringDiscardBit = 1 << 30
)

var (
	// errRingEmpty: nothing to read now.
	errRingEmpty = errors.New("ring buffer empty")
	// errRingBusy: the next record is reserved but not yet committed.
	errRingBusy = errors.New("ring buffer record not committed yet")
)

// ringBuffer consumes a BPF ring buffer in place. Records are read from
// the shared mapping; the consumer position is published to the kernel
// only when the reader has caught up with the producer (or has read a
// quarter of the ring), not after every record. That costs one atomic
// store per batch instead of one per record, and, because the kernel
// only wakes a consumer that has caught up, it keeps the kernel from
// waking the reader for every record while it drains.
//
// An idle reader waits in epoll_wait(2) (see waiter).
type ringBuffer struct {
	consPage, dataPages []byte
	consPos, prodPos    *uintptr
	// data is the data area, mapped once: len(data) = size.
	data []byte
	// wrapped holds a record that wraps around the end of data.
	wrapped []byte
	mask    uintptr
	size    uintptr
	// pos is the consumer position up to which records were read; pub
	// the position last published to the kernel; prod the producer
	// position last loaded.
	pos, pub, prod uintptr

	// waiter holds the map.
	waiter
}

func newRingBuffer(m *ebpf.Map) (*ringBuffer, error) {
	size := int(m.MaxEntries())
	page := os.Getpagesize()
	if size <= 0 || size&(size-1) != 0 || size%page != 0 {
		return nil, fmt.Errorf("ring buffer size %d is not a power of two multiple of the page size", size)
	}
	r := &ringBuffer{size: uintptr(size), mask: uintptr(size - 1), waiter: waiter{epfd: -1, evfd: -1}}
	fail := func(err error) (*ringBuffer, error) {
		r.close()
		return nil, err
	}
	fd := m.FD()
	if err := r.waiter.init(r.pending, fd); err != nil {
		return fail(err)
	}
	var err error
	if r.consPage, err = unix.Mmap(fd, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail(fmt.Errorf("mmap ring buffer consumer page: %w", err))
	}
	if r.dataPages, err = unix.Mmap(fd, int64(page), page+size, unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return fail(fmt.Errorf("mmap ring buffer data: %w", err))
	}
	r.consPos = (*uintptr)(unsafe.Pointer(&r.consPage[0]))
	r.prodPos = (*uintptr)(unsafe.Pointer(&r.dataPages[0]))
	r.data = r.dataPages[page:]
	r.pos = atomic.LoadUintptr(r.consPos)
	r.pub, r.prod = r.pos, r.pos
	return r, nil
}

// publish hands the space of every record read so far back to the
// kernel. A Go atomic store is sequentially consistent: the producer
// position loaded after it is at least what any producer saw when it
// compared the consumer position with its record to decide on a wakeup.
func (r *ringBuffer) publish() {
	if r.pub != r.pos {
		atomic.StoreUintptr(r.consPos, r.pos)
		r.pub = r.pos
	}
}

// next returns the next record's sample, which stays valid until the next
// call. It returns errRingEmpty when every committed record has been read
// and errRingBusy when the next one is still being written.
func (r *ringBuffer) next() ([]byte, error) {
	// Release what the caller has copied by now when it is a lot, so that
	// a long drain does not starve producers.
	if r.pos-r.pub >= r.size/4 {
		r.publish()
	}
	for {
		if r.pos == r.prod {
			r.publish()
			r.prod = atomic.LoadUintptr(r.prodPos)
			if r.pos == r.prod {
				return nil, errRingEmpty
			}
		}
		off := r.pos & r.mask
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[off])))
		if hdr&ringBusyBit != 0 {
			r.publish()
			return nil, errRingBusy
		}
		n := uintptr(hdr &^ (ringBusyBit | ringDiscardBit))
		adv := ringHdrSize + (n+7)&^7
		if r.prod-r.pos < adv {
			return nil, fmt.Errorf("ring buffer record of %d bytes past the producer: %w", n, io.ErrUnexpectedEOF)
		}
		r.pos += adv
		if hdr&ringDiscardBit != 0 {
			continue
		}
		start := (off + ringHdrSize) & r.mask
		if end := start + n; end <= r.size {
			return r.data[start:end:end], nil
		}
		r.wrapped = append(append(r.wrapped[:0], r.data[start:]...), r.data[:n-(r.size-start)]...)
		return r.wrapped, nil
	}
}

// pending reports whether the producer is ahead of what was read. A
// wait (see waiter) must follow a next that returned errRingEmpty, so
// that the kernel knows the reader caught up and wakes it for the next
// record; the map is registered level-triggered, so a record committed
// before the wait ends it at once.
func (r *ringBuffer) pending() bool {
	return atomic.LoadUintptr(r.prodPos) != r.pos
}

// close releases everything; it must not run concurrently with next or
// wait.
func (r *ringBuffer) close() error {
	var err error
	for _, m := range [][]byte{r.dataPages, r.consPage} {
		if m != nil {
			err = errors.Join(err, unix.Munmap(m))
		}
	}
	r.dataPages, r.consPage, r.data = nil, nil, nil
	return errors.Join(err, r.waiter.close())
}
