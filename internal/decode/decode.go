package decode

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// BootOffset returns the Unix time of boot in nanoseconds: adding it to a
// CLOCK_BOOTTIME value (bpf_ktime_get_boot_ns) gives wall-clock time. It
// reads both clocks back to back and keeps the pair read fastest, so the
// error is well below a microsecond.
func BootOffset() (int64, error) {
	best := int64(-1)
	var off int64
	for i := 0; i < 5; i++ {
		var a, b, c unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &a); err != nil {
			return 0, err
		}
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &b); err != nil {
			return 0, err
		}
		if err := unix.ClockGettime(unix.CLOCK_REALTIME, &c); err != nil {
			return 0, err
		}
		span := c.Nano() - a.Nano()
		if best < 0 || span < best {
			best = span
			off = a.Nano() + span/2 - b.Nano()
		}
	}
	return off, nil
}

// Stage is the decode stage of one datasource.
type Stage struct {
	timestamps    []*datasource.Field
	offset        uint64
	rest, restLen *datasource.Field
}

// New returns the decode stage for ds, or nil when ds needs none. rest
// and restLen are the tracer's trailing-data fields (may be nil).
// bootOffset comes from [BootOffset].
func New(ds *datasource.DataSource, rest, restLen *datasource.Field, bootOffset int64) *Stage {
	s := &Stage{offset: uint64(bootOffset), rest: rest, restLen: restLen}
	for _, f := range ds.Fields {
		if f.Flags&datasource.FlagStatic != 0 && f.Kind == datasource.Uint64 && f.HasTag("type:gadget_timestamp") {
			s.timestamps = append(s.timestamps, f)
		}
	}
	if len(s.timestamps) == 0 && rest == nil {
		return nil
	}
	return s
}

// Process implements pipeline.Stage.
func (s *Stage) Process(b *pipeline.Batch) error {
	for _, r := range b.Records {
		for _, f := range s.timestamps {
			// 0 means "not set" in gadgets; it stays 0.
			if v := f.Uint64(r); v != 0 {
				f.SetUint64(r, v+s.offset)
			}
		}
		if s.rest != nil {
			data := r.Rest
			if s.restLen != nil {
				if n := s.restLen.Uint64(r); n < uint64(len(data)) {
					data = data[:n]
				}
			}
			s.rest.SetBytes(r, data)
		}
	}
	return nil
}

// WallClock converts a decoded timestamp (ns since the epoch) to a time.
func WallClock(ns uint64) time.Time { return time.Unix(0, int64(ns)) }
