package loader

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// MapIterBatchSize is the number of elements a [MapIterFetcher] asks the
// kernel for per BPF_MAP_LOOKUP_AND_DELETE_BATCH call. The batch grows
// when a hash bucket holds more elements than that.
const MapIterBatchSize = 100

// MapIterFetcher drains the hash map of a GADGET_MAPITER datasource. Each
// fetch removes every element it returns, so counters kept in the map
// start again from zero: what a fetch returns is what accumulated since
// the previous one.
//
// A record's static payload is the key at offset 0 followed by the value
// at the key size, as [gadgetspec.MapIterSpec] lays out the fields.
//
// The map is read with BPF_MAP_LOOKUP_AND_DELETE_BATCH. When the kernel
// lacks batch operations on the map's type, the fetcher falls back for
// good to walking the keys and deleting each element after reading it;
// an update that lands between the two is then lost.
type MapIterFetcher struct {
	ds          *datasource.DataSource
	m           *ebpf.Map
	mapName     string
	keySize     int
	valueSize   int
	fetchOnStop bool

	mu      sync.Mutex
	closed  bool
	noBatch bool
	batch   int
	// keys and values are []([keySize]byte) and []([valueSize]byte) of
	// length batch, so that the batch calls copy straight into them;
	// keyBuf and valueBuf are the same memory as bytes.
	keys, values     any
	keyBuf, valueBuf []byte
}

func newMapIterFetcher(coll *ebpf.Collection, mi *gadgetspec.MapIterSpec) (*MapIterFetcher, error) {
	m := coll.Maps[mi.MapName]
	if m == nil {
		return nil, fmt.Errorf("map %s is not loaded", mi.MapName)
	}
	switch m.Type() {
	case ebpf.Hash, ebpf.LRUHash:
	default:
		return nil, fmt.Errorf("map %s is a %v map, want Hash or LRUHash", mi.MapName, m.Type())
	}
	if m.KeySize() != mi.KeySize || m.ValueSize() != mi.ValueSize || mi.KeySize == 0 {
		return nil, fmt.Errorf("map %s has key/value sizes %d/%d, want %d/%d",
			mi.MapName, m.KeySize(), m.ValueSize(), mi.KeySize, mi.ValueSize)
	}
	f := &MapIterFetcher{
		ds:          mi.DataSource,
		m:           m,
		mapName:     mi.MapName,
		keySize:     int(mi.KeySize),
		valueSize:   int(mi.ValueSize),
		fetchOnStop: annotationBool(mi.DataSource, AnnotationMapFlushOnStop),
	}
	f.grow(MapIterBatchSize)
	return f, nil
}

// grow (re)allocates the batch buffers for n elements.
func (f *MapIterFetcher) grow(n int) {
	f.batch = n
	f.keys, f.keyBuf = byteArrays(f.keySize, n)
	f.values, f.valueBuf = byteArrays(f.valueSize, n)
}

// byteArrays returns a []([size]byte) of length n, as an interface and as
// the bytes it holds.
func byteArrays(size, n int) (any, []byte) {
	s := reflect.MakeSlice(reflect.SliceOf(reflect.ArrayOf(size, reflect.TypeFor[byte]())), n, n)
	return s.Interface(), unsafe.Slice((*byte)(s.UnsafePointer()), size*n)
}

// DataSource returns the map iterator's datasource.
func (f *MapIterFetcher) DataSource() *datasource.DataSource { return f.ds }

// FetchOnStop reports the [AnnotationMapFlushOnStop] annotation.
func (f *MapIterFetcher) FetchOnStop() bool { return f.fetchOnStop }

// MapName returns the name of the map drained.
func (f *MapIterFetcher) MapName() string { return f.mapName }

// Fetch drains the map and appends one record per element; see
// [Fetcher]. Once the batch buffers have grown to the map's bucket sizes
// it allocates nothing per element. On error, the records already
// appended (and counted in the result) were removed from the map.
func (f *MapIterFetcher) Fetch(next func() *datasource.Record) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("fetch %s: %w", f.ds.Name, ErrClosed)
	}
	var (
		n   int
		err error
	)
	if !f.noBatch {
		n, err = f.drainBatch(next)
		if n == 0 && errors.Is(err, ebpf.ErrNotSupported) {
			f.noBatch = true
		}
	}
	if f.noBatch {
		n, err = f.drainIterate(next)
	}
	if err != nil {
		return n, fmt.Errorf("fetch %s: drain map %s: %w", f.ds.Name, f.mapName, err)
	}
	return n, nil
}

// drainBatch drains the map with BPF_MAP_LOOKUP_AND_DELETE_BATCH.
func (f *MapIterFetcher) drainBatch(next func() *datasource.Record) (int, error) {
	var cursor ebpf.MapBatchCursor
	total := 0
	for {
		n, err := f.m.BatchLookupAndDelete(&cursor, f.keys, f.values, nil)
		if errors.Is(err, unix.ENOSPC) && n == 0 && f.batch < int(f.m.MaxEntries()) {
			// A bucket holds more elements than a batch: nothing was
			// taken, and the cursor still points at that bucket.
			f.grow(min(2*f.batch, int(f.m.MaxEntries())))
			continue
		}
		if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return total, err
		}
		for i := range n {
			f.emit(next(), f.keyBuf[i*f.keySize:(i+1)*f.keySize], f.valueBuf[i*f.valueSize:(i+1)*f.valueSize])
		}
		total += n
		if err != nil { // ErrKeyNotExist: the end of the map
			return total, nil
		}
	}
}

// drainIterate drains the map by walking its keys, for kernels without
// batch operations. The previous key is deleted only once the next one is
// known, so that the walk does not start over.
func (f *MapIterFetcher) drainIterate(next func() *datasource.Record) (int, error) {
	if f.batch < 2 {
		f.grow(2)
	}
	prev := unsafe.Pointer(&f.keyBuf[0])
	cur := unsafe.Pointer(&f.keyBuf[f.keySize])
	value := unsafe.Pointer(&f.valueBuf[0])
	havePrev := false
	total := 0
	for {
		var err error
		if havePrev {
			err = f.m.NextKey(prev, cur)
		} else {
			err = f.m.NextKey(nil, cur)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			break
		}
		if err != nil {
			return total, err
		}
		switch err := f.m.Lookup(cur, value); {
		case err == nil:
			f.emit(next(), unsafe.Slice((*byte)(cur), f.keySize), f.valueBuf[:f.valueSize])
			total++
		case !errors.Is(err, ebpf.ErrKeyNotExist):
			return total, err
		}
		if havePrev {
			if err := f.m.Delete(prev); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return total, err
			}
		}
		prev, cur, havePrev = cur, prev, true
	}
	if havePrev {
		if err := f.m.Delete(prev); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return total, err
		}
	}
	return total, nil
}

// emit writes key then value into rec's static payload.
func (f *MapIterFetcher) emit(rec *datasource.Record, key, value []byte) {
	rec.SetStatic(key, f.ds.StaticSize)
	copy(rec.Payload[0][f.keySize:], value)
}

func (f *MapIterFetcher) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}
