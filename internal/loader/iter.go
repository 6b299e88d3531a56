package loader

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// iterKinds are the iter/<kind> sections an [IterFetcher] runs. needsMap
// kinds take their map from a GADGET_ITER_TARGET_MAP marker; netns kinds
// list the sockets of the network namespace of the thread that opens the
// iterator.
var iterKinds = map[string]iterKind{
	"task":               {},
	"task_file":          {},
	"task_vma":           {},
	"ksym":               {},
	"bpf_map":            {},
	"bpf_prog":           {},
	"bpf_link":           {},
	"tcp":                {netns: true},
	"udp":                {netns: true},
	"unix":               {netns: true},
	"bpf_map_elem":       {needsMap: true},
	"bpf_sk_storage_map": {needsMap: true},
	"sockmap":            {needsMap: true},
}

type iterKind struct{ needsMap, netns bool }

// iterKindOf checks that program name can run as part of an iterator and
// returns its kind.
func iterKindOf(spec *gadgetspec.Spec, name string) (iterKind, error) {
	ps := spec.Collection.Programs[name]
	if ps == nil {
		return iterKind{}, fmt.Errorf("program %s not found", name)
	}
	_, kind := splitSection(ps.SectionName)
	k, ok := iterKinds[kind]
	if !ok {
		return iterKind{}, fmt.Errorf("program %s: %w %q", name, ErrUnsupportedSection, ps.SectionName)
	}
	if _, ok := spec.IterTargets[name]; k.needsMap && !ok {
		return iterKind{}, fmt.Errorf("program %s (%s) needs a target map: declare it with GADGET_ITER_TARGET_MAP (marker %s%s___<map>)",
			name, ps.SectionName, gadgetspec.PrefixIterTarget, name)
	}
	return k, nil
}

// iterReadSize is the initial size of the buffer an iterator is read into;
// it grows as needed and is kept for the next fetch.
const iterReadSize = 16 << 10

// IterFetcher runs the 1 to 3 iter/* programs of a GADGET_ITER datasource.
// Each program writes whole records of the datasource's struct with
// bpf_seq_write; a fetch concatenates the programs' output, in marker
// order, and splits it into records.
//
// The programs are attached (link.AttachIter) at [Load]; each fetch
// creates a fresh iterator instance of every program and reads it to the
// end. Iterators over sockets (iter/tcp, iter/udp, iter/unix) see the
// network namespace of the thread that creates the instance: [Fetch] uses
// the caller's, [FetchInNetns] a given one.
type IterFetcher struct {
	ds          *datasource.DataSource
	progs       []iterProg
	netns       bool
	fetchOnStop bool

	mu     sync.Mutex
	closed bool
	buf    []byte
	files  []io.ReadCloser
}

type iterProg struct {
	name string
	link *link.Iter
}

func newIterFetcher(spec *gadgetspec.Spec, coll *ebpf.Collection, it *gadgetspec.IterSpec) (*IterFetcher, error) {
	ds := it.DataSource
	if ds.StaticSize == 0 {
		return nil, fmt.Errorf("struct %s has size 0", it.StructName)
	}
	f := &IterFetcher{ds: ds, fetchOnStop: annotationBool(ds, AnnotationIterFetchOnStop)}
	for _, name := range it.Programs {
		k, err := iterKindOf(spec, name)
		if err != nil {
			f.close()
			return nil, err
		}
		ps := spec.Collection.Programs[name]
		prog := coll.Programs[name]
		if prog == nil {
			f.close()
			return nil, fmt.Errorf("program %s is not loaded", name)
		}
		opts := link.IterOptions{Program: prog}
		if target, ok := spec.IterTargets[name]; ok {
			if opts.Map = coll.Maps[target]; opts.Map == nil {
				f.close()
				return nil, fmt.Errorf("program %s: target map %s is not loaded", name, target)
			}
		}
		l, err := link.AttachIter(opts)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("attach program %s (%s): %w", name, ps.SectionName, err)
		}
		f.progs = append(f.progs, iterProg{name: name, link: l})
		f.netns = f.netns || k.netns
	}
	return f, nil
}

// DataSource returns the iterator's datasource.
func (f *IterFetcher) DataSource() *datasource.DataSource { return f.ds }

// FetchOnStop reports the [AnnotationIterFetchOnStop] annotation.
func (f *IterFetcher) FetchOnStop() bool { return f.fetchOnStop }

// Programs returns the names of the iterator's programs, in marker order.
func (f *IterFetcher) Programs() []string {
	names := make([]string, len(f.progs))
	for i, p := range f.progs {
		names[i] = p.name
	}
	return names
}

// NetnsScoped reports whether one of the programs lists the sockets of a
// network namespace (iter/tcp, iter/udp, iter/unix): such an iterator is
// run once per network namespace of interest with [FetchInNetns].
func (f *IterFetcher) NetnsScoped() bool { return f.netns }

// Fetch runs every program once, in the caller's namespaces, and appends
// one record per struct written; see [Fetcher]. Output whose size is not a
// multiple of the struct size is an error naming the datasource and the
// program; no record is appended then.
func (f *IterFetcher) Fetch(next func() *datasource.Record) (int, error) {
	return f.fetch(next, func(progs []iterProg, files []io.ReadCloser) error {
		return openIters(progs, files)
	})
}

// FetchInNetns is [Fetch] with the iterator instances created in the
// network namespace at netnsPath (e.g. /proc/<pid>/ns/net): a locked OS
// thread joins that namespace, creates them and is then thrown away. Only
// the creation needs the namespace; the reading happens on the caller's
// thread.
func (f *IterFetcher) FetchInNetns(netnsPath string, next func() *datasource.Record) (int, error) {
	return f.fetch(next, func(progs []iterProg, files []io.ReadCloser) error {
		return inNetns(netnsPath, func() error { return openIters(progs, files) })
	})
}

func (f *IterFetcher) fetch(next func() *datasource.Record, open func([]iterProg, []io.ReadCloser) error) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, fmt.Errorf("fetch %s: %w", f.ds.Name, ErrClosed)
	}
	if cap(f.files) < len(f.progs) {
		f.files = make([]io.ReadCloser, len(f.progs))
	}
	files := f.files[:len(f.progs)]
	clear(files)
	defer func() {
		for i, rc := range files {
			if rc != nil {
				rc.Close()
				files[i] = nil
			}
		}
	}()
	if err := open(f.progs, files); err != nil {
		return 0, fmt.Errorf("fetch %s: %w", f.ds.Name, err)
	}

	size := int(f.ds.StaticSize)
	buf := f.buf[:0]
	for i, p := range f.progs {
		start := len(buf)
		var err error
		buf, err = readIter(files[i], buf)
		if err != nil {
			f.buf = buf
			return 0, fmt.Errorf("fetch %s: read program %s: %w", f.ds.Name, p.name, err)
		}
		if n := len(buf) - start; n%size != 0 {
			f.buf = buf
			return 0, fmt.Errorf("fetch %s: program %s wrote %d bytes, not a multiple of the %d-byte struct",
				f.ds.Name, p.name, n, size)
		}
	}
	f.buf = buf

	n := 0
	for off := 0; off < len(buf); off += size {
		next().SetStatic(buf[off:off+size], f.ds.StaticSize)
		n++
	}
	return n, nil
}

// openIters creates an instance of every program's iterator into files.
func openIters(progs []iterProg, files []io.ReadCloser) error {
	for i, p := range progs {
		rc, err := p.link.Open()
		if err != nil {
			return fmt.Errorf("open program %s: %w", p.name, err)
		}
		files[i] = rc
	}
	return nil
}

// readIter appends everything r produces to buf.
func readIter(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(iterReadSize, cap(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case errors.Is(err, unix.EAGAIN):
			// The kernel stops after a large number of objects that
			// produced no output; reading again resumes.
			continue
		case err != nil:
			return buf, err
		}
	}
}

// close releases the links; it waits for a running fetch.
func (f *IterFetcher) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	var errs []error
	for _, p := range f.progs {
		if err := p.link.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close link of %s: %w", p.name, err))
		}
	}
	f.progs = nil
	return errors.Join(errs...)
}

// inNetns runs fn on a thread that joined the network namespace at path;
// see inNetnsFD.
func inNetns(path string, fn func() error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := inNetnsFD(fd, fn); err != nil {
		return fmt.Errorf("netns %s: %w", path, err)
	}
	return nil
}
