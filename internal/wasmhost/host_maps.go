package wasmhost

import (
	"encoding/binary"
	"errors"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"github.com/tetratelabs/wazero/api"
)

// perfReadEmpty is perfReaderRead's result when no record is waiting
// (upstream's "deadline exceeded").
const perfReadEmpty = 2

func (i *Instance) mapOf(fn string, h uint32) *handleEntry {
	e := i.h.get(h, hMap)
	if e == nil {
		i.logf(LevelWarn, fn, "invalid map handle %d", h)
	}
	return e
}

// mapName keeps what the kernel accepts in a map name.
func mapName(b []byte) string {
	out := make([]byte, 0, 15)
	for _, c := range b {
		if len(out) == cap(out) {
			break
		}
		if c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			out = append(out, c)
		}
	}
	return string(out)
}

// Bounds of the kernel memory a guest may ask for.
const (
	maxGuestMapBytes   = 64 << 20 // per map (entries × (key + value))
	maxGuestPerfBuffer = 16 << 20 // per CPU
)

func (i *Instance) hNewMap(g api.Module, s []uint64) {
	const fn = "newMap"
	name, ok := i.readGuest(g, fn, s[0])
	spec := &ebpf.MapSpec{
		Name:       mapName(name),
		Type:       ebpf.MapType(u32(s[1])),
		KeySize:    u32(s[2]),
		ValueSize:  u32(s[3]),
		MaxEntries: u32(s[4]),
	}
	s[0] = noHandle
	if !ok {
		return
	}
	// The kernel allocates what the guest asks (a map of 2^32 entries of
	// 64 KiB) as root, without a memlock limit: bound it here.
	if bytes := uint64(spec.MaxEntries) * uint64(spec.KeySize+spec.ValueSize); bytes > maxGuestMapBytes {
		i.logf(LevelWarn, fn, "map %q: %d entries of %d+%d bytes, more than %d MiB", name, spec.MaxEntries, spec.KeySize, spec.ValueSize, maxGuestMapBytes>>20)
		return
	}
	m, err := ebpf.NewMap(spec)
	if err != nil {
		i.logf(LevelWarn, fn, "map %q: %v", name, err)
		return
	}
	h := i.newHandle(fn, handleEntry{kind: hMap, m: m, ownsMap: true, created: true})
	if h == 0 {
		m.Close()
	}
	s[0] = uint64(h)
}

func (i *Instance) hGetMap(g api.Module, s []uint64) {
	const fn = "getMap"
	name, ok := i.readGuest(g, fn, s[0])
	s[0] = noHandle
	if !ok {
		return
	}
	if i.env.Map == nil {
		i.logf(LevelWarn, fn, "map %q: the eBPF collection is not loaded yet (getMap works from gadgetStart on)", name)
		return
	}
	m := i.env.Map(string(name))
	if m == nil {
		i.logf(LevelWarn, fn, "the gadget has no map %q", name)
		return
	}
	s[0] = uint64(i.newHandle(fn, handleEntry{kind: hMap, m: m}))
}

func isMapOfMaps(t ebpf.MapType) bool { return t == ebpf.ArrayOfMaps || t == ebpf.HashOfMaps }

func isPerCPU(t ebpf.MapType) bool {
	return t == ebpf.PerCPUHash || t == ebpf.PerCPUArray || t == ebpf.LRUCPUHash || t == ebpf.PerCPUCGroupStorage
}

// mapKey reads a key and checks its size.
func (i *Instance) mapKey(g api.Module, fn string, m *ebpf.Map, packed uint64) ([]byte, bool) {
	key, ok := i.readGuest(g, fn, packed)
	if !ok {
		return nil, false
	}
	if uint32(len(key)) != m.KeySize() {
		i.logf(LevelWarn, fn, "key of %d bytes, the map's keys have %d", len(key), m.KeySize())
		return nil, false
	}
	return key, true
}

// hMapLookup copies the value of key into the value buffer, which must
// have the map's value size. For a map of maps the value is a new map
// handle (4 bytes) the guest releases with releaseHandle.
func (i *Instance) hMapLookup(g api.Module, s []uint64) {
	const fn = "mapLookup"
	mh, kp, vp := u32(s[0]), s[1], s[2]
	s[0] = err32
	e := i.mapOf(fn, mh)
	if e == nil {
		return
	}
	key, ok := i.mapKey(g, fn, e.m, kp)
	if !ok {
		return
	}
	_, vlen := unpack(vp)
	if isMapOfMaps(e.m.Type()) {
		if vlen != 4 {
			i.logf(LevelWarn, fn, "value buffer of %d bytes for a map of maps, want 4 (a map handle)", vlen)
			return
		}
		var inner *ebpf.Map
		if err := e.m.Lookup(key, &inner); err != nil {
			i.logLookupErr(fn, err)
			return
		}
		h := i.newHandle(fn, handleEntry{kind: hMap, m: inner, ownsMap: true})
		if h == 0 {
			inner.Close()
			return
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], h)
		if !i.writeGuest(g, fn, vp, b[:], false) {
			_ = i.release(h)
			return
		}
		s[0] = ok32
		return
	}
	if !isPerCPU(e.m.Type()) && vlen != e.m.ValueSize() {
		i.logf(LevelWarn, fn, "value buffer of %d bytes, the map's values have %d", vlen, e.m.ValueSize())
		return
	}
	val, err := e.m.LookupBytes(key)
	if err != nil || val == nil {
		if err == nil {
			err = ebpf.ErrKeyNotExist
		}
		i.logLookupErr(fn, err)
		return
	}
	if uint32(len(val)) != vlen {
		i.logf(LevelWarn, fn, "value buffer of %d bytes, the map's values have %d", vlen, len(val))
		return
	}
	if i.writeGuest(g, fn, vp, val, false) {
		s[0] = ok32
	}
}

func (i *Instance) logLookupErr(fn string, err error) {
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		i.logf(LevelDebug, fn, "%v", err)
		return
	}
	i.logf(LevelWarn, fn, "%v", err)
}

func (i *Instance) hMapUpdate(g api.Module, s []uint64) {
	const fn = "mapUpdate"
	mh, kp, vp, flags := u32(s[0]), s[1], s[2], s[3]
	s[0] = err32
	e := i.mapOf(fn, mh)
	if e == nil {
		return
	}
	if flags&^uint64(ebpf.UpdateNoExist|ebpf.UpdateExist|ebpf.UpdateLock) != 0 {
		i.logf(LevelWarn, fn, "invalid flags 0x%x", flags)
		return
	}
	key, ok := i.mapKey(g, fn, e.m, kp)
	if !ok {
		return
	}
	val, ok := i.readGuest(g, fn, vp)
	if !ok {
		return
	}
	var value any = val
	switch t := e.m.Type(); {
	case isMapOfMaps(t):
		if len(val) != 4 {
			i.logf(LevelWarn, fn, "value of %d bytes for a map of maps, want 4 (a map handle)", len(val))
			return
		}
		inner := i.h.get(binary.LittleEndian.Uint32(val), hMap)
		if inner == nil {
			i.logf(LevelWarn, fn, "value is not a map handle")
			return
		}
		value = inner.m
	case isPerCPU(t):
		i.logf(LevelWarn, fn, "per-CPU maps cannot be updated from Wasm")
		return
	case uint32(len(val)) != e.m.ValueSize():
		i.logf(LevelWarn, fn, "value of %d bytes, the map's values have %d", len(val), e.m.ValueSize())
		return
	}
	if err := e.m.Update(key, value, ebpf.MapUpdateFlags(flags)); err != nil {
		i.logf(LevelWarn, fn, "%v", err)
		return
	}
	s[0] = ok32
}

func (i *Instance) hMapDelete(g api.Module, s []uint64) {
	const fn = "mapDelete"
	mh, kp := u32(s[0]), s[1]
	s[0] = err32
	e := i.mapOf(fn, mh)
	if e == nil {
		return
	}
	key, ok := i.mapKey(g, fn, e.m, kp)
	if !ok {
		return
	}
	if err := e.m.Delete(key); err != nil {
		i.logLookupErr(fn, err)
		return
	}
	s[0] = ok32
}

func (i *Instance) hMapRelease(_ api.Module, s []uint64) {
	const fn = "mapRelease"
	mh := u32(s[0])
	s[0] = err32
	e := i.mapOf(fn, mh)
	if e == nil {
		return
	}
	if !e.created {
		i.logf(LevelWarn, fn, "map handle %d was not created by newMap (use releaseHandle)", mh)
		return
	}
	if err := i.release(mh); err != nil {
		i.logf(LevelWarn, fn, "%v", err)
		return
	}
	s[0] = ok32
}

// --- perf buffers ---

func (i *Instance) readerOf(fn string, h uint32) *perf.Reader {
	e := i.h.get(h, hReader)
	if e == nil {
		i.logf(LevelWarn, fn, "invalid perf reader handle %d", h)
		return nil
	}
	return e.reader
}

// hNewPerfReader opens a reader on a perf event array map. Reads never
// block: its deadline is in the past.
func (i *Instance) hNewPerfReader(_ api.Module, s []uint64) {
	const fn = "newPerfReader"
	mh, size, overwritable := u32(s[0]), u32(s[1]), u32(s[2]) != 0
	s[0] = noHandle
	e := i.mapOf(fn, mh)
	if e == nil {
		return
	}
	if e.m.Type() != ebpf.PerfEventArray {
		i.logf(LevelWarn, fn, "map is a %s, not a perf event array", e.m.Type())
		return
	}
	if size == 0 || size > maxGuestPerfBuffer {
		i.logf(LevelWarn, fn, "per-CPU buffer size %d: want 1 to %d MiB", size, maxGuestPerfBuffer>>20)
		return
	}
	r, err := perf.NewReaderWithOptions(e.m, int(size), perf.ReaderOptions{Overwritable: overwritable})
	if err != nil {
		i.logf(LevelWarn, fn, "%v", err)
		return
	}
	r.SetDeadline(time.Unix(1, 0))
	h := i.newHandle(fn, handleEntry{kind: hReader, reader: r})
	if h == 0 {
		r.Close()
	}
	s[0] = uint64(h)
}

func (i *Instance) hPerfReaderPause(_ api.Module, s []uint64) {
	r := i.readerOf("perfReaderPause", u32(s[0]))
	s[0] = err32
	if r == nil {
		return
	}
	if err := r.Pause(); err != nil {
		i.logf(LevelWarn, "perfReaderPause", "%v", err)
		return
	}
	s[0] = ok32
}

func (i *Instance) hPerfReaderResume(_ api.Module, s []uint64) {
	r := i.readerOf("perfReaderResume", u32(s[0]))
	s[0] = err32
	if r == nil {
		return
	}
	if err := r.Resume(); err != nil {
		i.logf(LevelWarn, "perfReaderResume", "%v", err)
		return
	}
	s[0] = ok32
}

// hPerfReaderRead copies the next record's raw sample into dst: 0 when it
// did, 2 when no record is waiting, 1 on error (including a sample larger
// than dst, which is then lost).
func (i *Instance) hPerfReaderRead(g api.Module, s []uint64) {
	const fn = "perfReaderRead"
	rh, dst := u32(s[0]), s[1]
	s[0] = err32
	r := i.readerOf(fn, rh)
	if r == nil {
		return
	}
	var rec perf.Record
	for {
		err := r.ReadInto(&rec)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			s[0] = perfReadEmpty
			return
		case err != nil:
			i.logf(LevelWarn, fn, "%v", err)
			return
		case rec.LostSamples > 0 && len(rec.RawSample) == 0:
			continue
		}
		break
	}
	if !i.writeGuest(g, fn, dst, rec.RawSample, false) {
		i.logf(LevelWarn, fn, "sample of %d bytes does not fit the buffer; dropped", len(rec.RawSample))
		return
	}
	s[0] = ok32
}

func (i *Instance) hPerfReaderClose(_ api.Module, s []uint64) {
	rh := u32(s[0])
	s[0] = err32
	if i.readerOf("perfReaderClose", rh) == nil {
		return
	}
	if err := i.release(rh); err != nil {
		i.logf(LevelWarn, "perfReaderClose", "%v", err)
		return
	}
	s[0] = ok32
}
