package loader

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/metadata"
)

func TestPerfConfig(t *testing.T) {
	for name, tt := range map[string]struct {
		yaml           string
		typ            uint32
		config, sample uint64
		err            string
	}{
		"defaults": {yaml: "", typ: unix.PERF_TYPE_SOFTWARE, config: unix.PERF_COUNT_SW_CPU_CLOCK, sample: DefaultSampleFrequency},
		"explicit": {
			yaml: "programs:\n  ig_pt_sample:\n    perf: {type: software, config: count_sw_task_clock, sampleType: sample_raw}\n    sampler: {frequency: 99}\n",
			typ:  unix.PERF_TYPE_SOFTWARE, config: unix.PERF_COUNT_SW_TASK_CLOCK, sample: 99,
		},
		"by section name": {
			yaml: "programs:\n  cpu:\n    sampler: {frequency: 7}\n",
			typ:  unix.PERF_TYPE_SOFTWARE, config: unix.PERF_COUNT_SW_CPU_CLOCK, sample: 7,
		},
		"hardware": {
			yaml: "programs:\n  ig_pt_sample:\n    perf: {type: hardware, config: count_hw_instructions}\n",
			typ:  unix.PERF_TYPE_HARDWARE, config: unix.PERF_COUNT_HW_INSTRUCTIONS, sample: DefaultSampleFrequency,
		},
		"unknown type":        {yaml: "programs:\n  ig_pt_sample:\n    perf: {type: tracepoint}\n", err: `programs.ig_pt_sample.perf.type: unknown perf event type "tracepoint" (want one of hardware, software)`},
		"unknown config":      {yaml: "programs:\n  ig_pt_sample:\n    perf: {config: count_hw_cpu_cycles}\n", err: `programs.ig_pt_sample.perf.config: unknown software perf event "count_hw_cpu_cycles" (want one of count_sw_alignment_faults, `},
		"unknown sample type": {yaml: "programs:\n  ig_pt_sample:\n    perf: {sampleType: sample_callchain}\n", err: `unknown sample type "sample_callchain"`},
		"zero frequency":      {yaml: "programs:\n  ig_pt_sample:\n    sampler: {frequency: 0}\n", err: "programs.ig_pt_sample.sampler.frequency: 0 is not a positive integer"},
		"bad frequency":       {yaml: "programs:\n  ig_pt_sample:\n    sampler: {frequency: fast}\n", err: "fast is not a positive integer"},
		"unknown key":         {yaml: "programs:\n  ig_pt_sample:\n    sampler: {frequncy: 10}\n", err: `programs.ig_pt_sample.sampler: unknown key "frequncy" (want frequency)`},
		"not a map":           {yaml: "programs:\n  ig_pt_sample:\n    perf: software\n", err: "programs.ig_pt_sample.perf: want a map, got string"},
	} {
		t.Run(name, func(t *testing.T) {
			spec := &gadgetspec.Spec{Metadata: &metadata.Gadget{}}
			if tt.yaml != "" {
				m, err := metadata.Parse([]byte(tt.yaml), "gadget.yaml")
				if err != nil {
					t.Fatal(err)
				}
				spec.Metadata = m
			}
			c, err := perfConfigFor(spec, "ig_pt_sample", "cpu")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := c.attr
			if a.Type != tt.typ || a.Config != tt.config || a.Sample != tt.sample ||
				a.Sample_type != unix.PERF_SAMPLE_RAW || a.Bits&unix.PerfBitFreq == 0 || a.Size == 0 {
				t.Errorf("attr = %+v", a)
			}
		})
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"0":          {0},
		"0-1":        {0, 1},
		"0-2,5,7-8":  {0, 1, 2, 5, 7, 8},
		"":           nil,
		"1-0":        nil,
		"a":          nil,
		"0-":         nil,
		"0,,1":       nil,
		"0-65536000": nil,
	} {
		got, err := parseCPUList(in)
		if want == nil {
			if err == nil {
				t.Errorf("%q: got %v, want an error", in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
}
