package runtime

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gadgetkit/ig/internal/loader"
)

// lossTick is how often kernel-side loss counters are read.
const lossTick = time.Second

// lossReporter reads the kernel's lost-event counters of every tracer and
// reports new losses: a warning on stderr and, with -o json or jsonpretty
// for the datasource, a record on
// stdout that programs can tell from events by its single key:
//
//	{"lost_events":{"datasource":"open","count":12,"total":40}}
//
// It runs in the pipeline's processing goroutine (pipeline.Config.OnTick),
// so its lines never interleave with events.
type lossReporter struct {
	gadget  string
	readers []*loader.Reader
	opts    RunOptions
	json    bool
	totals  map[string]uint64
	errs    map[string]bool
	buf     []byte
}

func newLossReporter(gadget string, readers []*loader.Reader, opts RunOptions, json bool) *lossReporter {
	return &lossReporter{gadget: gadget, readers: readers, opts: opts, json: json, totals: map[string]uint64{}, errs: map[string]bool{}}
}

func (l *lossReporter) tick() {
	for _, rd := range l.readers {
		name := rd.DataSource().Name
		n, err := rd.Lost()
		if err != nil {
			if !l.errs[name] {
				l.errs[name] = true
				fmt.Fprintf(l.opts.Stderr, "warning: %s: datasource %s: cannot read lost-event counter: %v\n", l.gadget, name, err)
			}
			continue
		}
		if n == 0 {
			continue
		}
		l.totals[name] += n
		fmt.Fprintf(l.opts.Stderr, "warning: %s: datasource %s: %d events lost (%d in total): the kernel buffer was full\n",
			l.gadget, name, n, l.totals[name])
		if l.json {
			b := append(l.buf[:0], `{"lost_events":{"datasource":`...)
			b = strconv.AppendQuote(b, name)
			b = append(b, `,"count":`...)
			b = strconv.AppendUint(b, n, 10)
			b = append(b, `,"total":`...)
			b = strconv.AppendUint(b, l.totals[name], 10)
			b = append(b, "}}\n"...)
			l.buf = b
			_, _ = l.opts.Stdout.Write(b)
		}
	}
}
