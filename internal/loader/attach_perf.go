package loader

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// DefaultSampleFrequency is the sampling frequency, in Hz, of perf_event
// programs whose gadget.yaml sets none.
const DefaultSampleFrequency = 49

// perfConfig is the perf event of a perf_event program, from gadget.yaml:
//
//	programs:
//	  <name>:
//	    perf: {type: software, config: count_sw_cpu_clock, sampleType: sample_raw}
//	    sampler: {frequency: 49}
type perfConfig struct {
	typeName, configName string
	attr                 unix.PerfEventAttr
}

// perfTypes maps the perf.type of gadget.yaml to PERF_TYPE_* and the
// accepted perf.config names.
var perfTypes = map[string]struct {
	typ     uint32
	configs map[string]uint64
}{
	"software": {unix.PERF_TYPE_SOFTWARE, map[string]uint64{
		"count_sw_cpu_clock":        unix.PERF_COUNT_SW_CPU_CLOCK,
		"count_sw_task_clock":       unix.PERF_COUNT_SW_TASK_CLOCK,
		"count_sw_page_faults":      unix.PERF_COUNT_SW_PAGE_FAULTS,
		"count_sw_context_switches": unix.PERF_COUNT_SW_CONTEXT_SWITCHES,
		"count_sw_cpu_migrations":   unix.PERF_COUNT_SW_CPU_MIGRATIONS,
		"count_sw_page_faults_min":  unix.PERF_COUNT_SW_PAGE_FAULTS_MIN,
		"count_sw_page_faults_maj":  unix.PERF_COUNT_SW_PAGE_FAULTS_MAJ,
		"count_sw_alignment_faults": unix.PERF_COUNT_SW_ALIGNMENT_FAULTS,
		"count_sw_emulation_faults": unix.PERF_COUNT_SW_EMULATION_FAULTS,
	}},
	"hardware": {unix.PERF_TYPE_HARDWARE, map[string]uint64{
		"count_hw_cpu_cycles":              unix.PERF_COUNT_HW_CPU_CYCLES,
		"count_hw_instructions":            unix.PERF_COUNT_HW_INSTRUCTIONS,
		"count_hw_cache_references":        unix.PERF_COUNT_HW_CACHE_REFERENCES,
		"count_hw_cache_misses":            unix.PERF_COUNT_HW_CACHE_MISSES,
		"count_hw_branch_instructions":     unix.PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
		"count_hw_branch_misses":           unix.PERF_COUNT_HW_BRANCH_MISSES,
		"count_hw_bus_cycles":              unix.PERF_COUNT_HW_BUS_CYCLES,
		"count_hw_stalled_cycles_frontend": unix.PERF_COUNT_HW_STALLED_CYCLES_FRONTEND,
		"count_hw_stalled_cycles_backend":  unix.PERF_COUNT_HW_STALLED_CYCLES_BACKEND,
		"count_hw_ref_cpu_cycles":          unix.PERF_COUNT_HW_REF_CPU_CYCLES,
	}},
}

// perfSampleTypes maps perf.sampleType to PERF_SAMPLE_*.
var perfSampleTypes = map[string]uint64{"sample_raw": unix.PERF_SAMPLE_RAW}

// perfConfigFor reads programs.<prog>.perf and .sampler from gadget.yaml;
// when prog has none, programs.<target> (the name in the section
// perf_event/<target>) is used. Missing values take the defaults:
// software cpu-clock sampled at [DefaultSampleFrequency], raw samples.
func perfConfigFor(spec *gadgetspec.Spec, prog, target string) (perfConfig, error) {
	key := prog
	if _, ok := spec.Metadata.Lookup("programs." + prog); !ok && target != "" {
		key = target
	}
	perf, err := lookupMap(spec, "programs."+key+".perf", "type", "config", "sampleType")
	if err != nil {
		return perfConfig{}, err
	}
	sampler, err := lookupMap(spec, "programs."+key+".sampler", "frequency")
	if err != nil {
		return perfConfig{}, err
	}

	c := perfConfig{typeName: "software", configName: "count_sw_cpu_clock"}
	if v, ok := perf["type"]; ok {
		c.typeName = fmt.Sprint(v)
	}
	if v, ok := perf["config"]; ok {
		c.configName = fmt.Sprint(v)
	}
	pt, ok := perfTypes[c.typeName]
	if !ok {
		return perfConfig{}, fmt.Errorf("programs.%s.perf.type: unknown perf event type %q (want one of %s)",
			key, c.typeName, strings.Join(slices.Sorted(maps.Keys(perfTypes)), ", "))
	}
	config, ok := pt.configs[c.configName]
	if !ok {
		return perfConfig{}, fmt.Errorf("programs.%s.perf.config: unknown %s perf event %q (want one of %s)",
			key, c.typeName, c.configName, strings.Join(slices.Sorted(maps.Keys(pt.configs)), ", "))
	}
	sampleType := "sample_raw"
	if v, ok := perf["sampleType"]; ok {
		sampleType = fmt.Sprint(v)
	}
	st, ok := perfSampleTypes[sampleType]
	if !ok {
		return perfConfig{}, fmt.Errorf("programs.%s.perf.sampleType: unknown sample type %q (want sample_raw)", key, sampleType)
	}
	freq := uint64(DefaultSampleFrequency)
	if v, ok := sampler["frequency"]; ok {
		if freq, err = toUint(v); err != nil || freq == 0 {
			return perfConfig{}, fmt.Errorf("programs.%s.sampler.frequency: %v is not a positive integer", key, v)
		}
	}
	c.attr = unix.PerfEventAttr{
		Type:        pt.typ,
		Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config:      config,
		Sample:      freq,
		Sample_type: st,
		Bits:        unix.PerfBitFreq | unix.PerfBitDisabled,
	}
	return c, nil
}

// lookupMap returns the map at path in gadget.yaml, or nil when absent,
// and rejects keys other than known.
func lookupMap(spec *gadgetspec.Spec, path string, known ...string) (map[string]any, error) {
	v, ok := spec.Metadata.Lookup(path)
	if !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a map, got %T", path, v)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("%s: unknown key %q (want %s)", path, k, strings.Join(known, ", "))
		}
	}
	return m, nil
}

// toUint converts a YAML number (or numeric string) to uint64.
func toUint(v any) (uint64, error) {
	switch n := v.(type) {
	case int:
		if n >= 0 {
			return uint64(n), nil
		}
	case int64:
		if n >= 0 {
			return uint64(n), nil
		}
	case uint64:
		return n, nil
	case float64:
		if n >= 0 && n == math.Trunc(n) && n < math.MaxUint32 {
			return uint64(n), nil
		}
	case string:
		return strconv.ParseUint(n, 10, 64)
	}
	return 0, fmt.Errorf("%v is not a non-negative integer", v)
}

// attachPerfEvent attaches a perf_event program to one sampling perf
// event per online CPU.
func (g *Gadget) attachPerfEvent(name, section, target string, prog *ebpf.Program, made *attachment) error {
	wrap := func(err error) error {
		return fmt.Errorf("attach program %s (%s): %w", name, section, err)
	}
	cfg, err := perfConfigFor(g.spec, name, target)
	if err != nil {
		return wrap(err)
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return wrap(err)
	}
	for _, cpu := range cpus {
		attr := cfg.attr
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODEV) {
				return &FeatureError{Op: "attach", Program: name, Section: section,
					Feature: cfg.typeName + " perf events",
					Detail:  fmt.Sprintf("no PMU for %s %s", cfg.typeName, cfg.configName), Err: err}
			}
			return wrap(fmt.Errorf("open perf event %s %s on CPU %d: %w", cfg.typeName, cfg.configName, cpu, err))
		}
		made.perfFDs = append(made.perfFDs, fd)
		l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
		switch {
		case err == nil:
			made.links = append(made.links, l)
		case errors.Is(err, unix.EINVAL) || errors.Is(err, ErrNotSupported):
			// No BPF perf links (before 5.15): attach to the event itself;
			// closing the event detaches.
			if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
				return wrap(fmt.Errorf("attach to perf event on CPU %d: %w", cpu, err))
			}
		default:
			return wrap(fmt.Errorf("link perf event on CPU %d: %w", cpu, err))
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			return wrap(fmt.Errorf("enable perf event on CPU %d: %w", cpu, err))
		}
	}
	return nil
}

// onlineCPUs returns the online CPUs, from /sys/devices/system/cpu/online
// ("0-3,5").
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, fmt.Errorf("list online CPUs: %w", err)
	}
	cpus, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("list online CPUs: %w", err)
	}
	return cpus, nil
}

// parseCPUList parses a kernel CPU list such as "0-3,5".
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 16); err != nil || last < first {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, int(c))
		}
	}
	return cpus, nil
}
