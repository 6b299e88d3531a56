package loader

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/cilium/ebpf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// Datasource annotations read by the fetchers.
const (
	// AnnotationIterFetchOnStop makes the runtime run an iterator once more
	// when the gadget stops.
	AnnotationIterFetchOnStop = "ebpf.iter.fetch-on-stop"
	// AnnotationMapFlushOnStop makes the runtime drain a map iterator once
	// more when the gadget stops.
	AnnotationMapFlushOnStop = "ebpf.map.flush-on-stop"
)

// Fetcher produces the records of an array datasource, one fetch at a
// time. It is implemented by [*IterFetcher] (GADGET_ITER) and
// [*MapIterFetcher] (GADGET_MAPITER).
//
// Fetch must not be called concurrently with itself; the runtime calls it
// on a ticker (see [ScheduleFor]). After [Gadget.Close], Fetch returns an
// error wrapping [ErrClosed]. Fetchers keep working after
// [Gadget.Detach], so that a last fetch can be made at stop.
type Fetcher interface {
	// DataSource returns the array datasource the records belong to.
	DataSource() *datasource.DataSource
	// Fetch runs one fetch (all the iterator's programs once, or one
	// drain of the map) and appends one record per element: next()
	// returns a record slot to fill (filled with rec.SetStatic(raw,
	// ds.StaticSize)). It returns the number of records appended.
	Fetch(next func() *datasource.Record) (int, error)
	// FetchOnStop reports whether the runtime should fetch once more
	// when the gadget stops, after [Gadget.Detach] (annotations
	// [AnnotationIterFetchOnStop] and [AnnotationMapFlushOnStop]).
	FetchOnStop() bool
}

// Fetchers returns one fetcher per iterator and then one per map
// iterator, in the order of spec.Iters and spec.MapIters.
func (g *Gadget) Fetchers() []Fetcher { return g.fetchers }

// checkFetchers checks, before loading, that the loader can run every
// iterator and map iterator of spec.
func checkFetchers(spec *gadgetspec.Spec) error {
	for _, it := range spec.Iters {
		for _, name := range it.Programs {
			if _, err := iterKindOf(spec, name); err != nil {
				return fmt.Errorf("iterator %s: %w", it.DataSource.Name, err)
			}
		}
	}
	for _, mi := range spec.MapIters {
		if m := spec.Collection.Maps[mi.MapName]; m != nil && m.Type != ebpf.Hash && m.Type != ebpf.LRUHash {
			return fmt.Errorf("map iterator %s: map %s is a %v map, want Hash or LRUHash", mi.DataSource.Name, mi.MapName, m.Type)
		}
	}
	return nil
}

// newFetchers creates the fetchers of spec. On error, the fetchers made so
// far are closed.
func newFetchers(spec *gadgetspec.Spec, coll *ebpf.Collection) ([]Fetcher, error) {
	var out []Fetcher
	fail := func(err error) ([]Fetcher, error) {
		closeFetchers(out)
		return nil, err
	}
	for _, it := range spec.Iters {
		f, err := newIterFetcher(spec, coll, it)
		if err != nil {
			return fail(fmt.Errorf("iterator %s: %w", it.DataSource.Name, err))
		}
		out = append(out, f)
	}
	for _, mi := range spec.MapIters {
		f, err := newMapIterFetcher(coll, mi)
		if err != nil {
			return fail(fmt.Errorf("map iterator %s: %w", mi.DataSource.Name, err))
		}
		out = append(out, f)
	}
	return out, nil
}

// closeFetchers releases the iterator links. It waits for a running Fetch.
func closeFetchers(fs []Fetcher) error {
	var errs []error
	for _, f := range fs {
		var err error
		switch f := f.(type) {
		case *IterFetcher:
			err = f.close()
		case *MapIterFetcher:
			f.close()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("close fetcher %s: %w", f.DataSource().Name, err))
		}
	}
	return errors.Join(errs...)
}

// annotationBool reads a boolean datasource annotation; absent or invalid
// values are false.
func annotationBool(ds *datasource.DataSource, key string) bool {
	b, _ := strconv.ParseBool(ds.Annotations[key])
	return b
}
