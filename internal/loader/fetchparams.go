package loader

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Fetch schedule defaults. A map iterator is drained every second until
// the gadget stops; an iterator runs once, at start.
const (
	DefaultMapFetchInterval  = time.Second
	DefaultMapFetchCount     = 0
	DefaultIterFetchInterval = 0
	DefaultIterFetchCount    = 1
)

// ErrInvalidFetchParam is wrapped by the errors of [ParseFetchInterval] and
// [ParseFetchCount].
var ErrInvalidFetchParam = errors.New("invalid fetch parameter")

// ParseFetchInterval parses the value of --map-fetch-interval: either one
// duration for every datasource ("500ms"), or a comma-separated list of
// <datasource>:<duration> ("ds1:2s,ds2:500ms"), or both, the bare duration
// then applying to the datasources not named ("2s,ds2:500ms"). Durations
// use the syntax of [time.ParseDuration] and must not be negative; 0
// means no interval (see [FetchSchedule]).
//
// The result holds the datasources that s sets, all of them from dsNames
// (another name is an error); the empty string sets none. Datasources it
// does not hold keep the default of their kind; see [ScheduleFor]. The
// upstream default value of the flag, "1000ms", equals
// [DefaultMapFetchInterval].
func ParseFetchInterval(s string, dsNames []string) (map[string]time.Duration, error) {
	return parseFetchParam(s, dsNames, "map-fetch-interval", func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, err
		}
		if d < 0 {
			return 0, errors.New("negative interval")
		}
		return d, nil
	})
}

// ParseFetchCount parses the value of --map-fetch-count, the number of
// fetches before the runtime stops fetching (0: until the gadget stops),
// with the syntax of [ParseFetchInterval]: "5", "ds1:1,ds2:10" or
// "0,ds1:1".
func ParseFetchCount(s string, dsNames []string) (map[string]int, error) {
	return parseFetchParam(s, dsNames, "map-fetch-count", func(v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, errors.New("not an integer")
		}
		if n < 0 {
			return 0, errors.New("negative count")
		}
		return n, nil
	})
}

func parseFetchParam[T any](s string, dsNames []string, param string, parse func(string) (T, error)) (map[string]T, error) {
	out := map[string]T{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	fail := func(format string, args ...any) (map[string]T, error) {
		return nil, fmt.Errorf("%s %q: %s: %w", param, s, fmt.Sprintf(format, args...), ErrInvalidFetchParam)
	}
	var (
		bare    T
		hasBare bool
	)
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return fail("empty entry")
		}
		name, value, named := strings.Cut(entry, ":")
		if !named {
			if hasBare {
				return fail("more than one value without a datasource name")
			}
			v, err := parse(entry)
			if err != nil {
				return fail("%q: %v", entry, err)
			}
			bare, hasBare = v, true
			continue
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !slices.Contains(dsNames, name) {
			return fail("unknown datasource %q (have %s)", name, strings.Join(dsNames, ", "))
		}
		if _, dup := out[name]; dup {
			return fail("datasource %q given twice", name)
		}
		v, err := parse(value)
		if err != nil {
			return fail("datasource %s: %q: %v", name, value, err)
		}
		out[name] = v
	}
	if hasBare {
		for _, name := range dsNames {
			if _, ok := out[name]; !ok {
				out[name] = bare
			}
		}
	}
	return out, nil
}

// FetchSchedule says how the runtime calls [Fetcher.Fetch].
type FetchSchedule struct {
	// Interval is the time between fetches. 0 means a single fetch at
	// start (Count is then 1).
	Interval time.Duration
	// Count is the number of fetches; 0 means until the gadget stops.
	Count int
}

// ScheduleFor returns the schedule of f: the interval and count that
// intervals and counts (from [ParseFetchInterval] and [ParseFetchCount])
// set for its datasource, else the defaults of its kind:
// [DefaultMapFetchInterval] and [DefaultMapFetchCount] for a map
// iterator, a single fetch for an iterator. An iterator given an interval
// but no count is fetched until the gadget stops.
func ScheduleFor(f Fetcher, intervals map[string]time.Duration, counts map[string]int) FetchSchedule {
	name := f.DataSource().Name
	s := FetchSchedule{Interval: DefaultMapFetchInterval, Count: DefaultMapFetchCount}
	_, isIter := f.(*IterFetcher)
	if isIter {
		s = FetchSchedule{Interval: DefaultIterFetchInterval, Count: DefaultIterFetchCount}
	}
	d, hasInterval := intervals[name]
	if hasInterval {
		s.Interval = d
	}
	if n, ok := counts[name]; ok {
		s.Count = n
	} else if isIter && hasInterval && d > 0 {
		s.Count = 0
	}
	if s.Interval == 0 {
		s.Count = 1
	}
	return s
}
