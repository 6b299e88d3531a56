package filter

import (
	"strconv"
)

// processParams is the one table of fields that the common process
// filters of gadget/filter.h test in the kernel, and the param each one
// becomes. Those params filter on the current task, which is what
// struct gadget_process (proc.*) holds.
var processParams = []struct {
	field, param string
	valid        func(t *Term) bool
}{
	{"proc.pid", "pid", func(t *Term) bool { return t.u != 0 }}, // 0 means "all"
	{"proc.tid", "tid", func(t *Term) bool { return t.u != 0 }}, // 0 means "all"
	{"proc.creds.uid", "uid", func(t *Term) bool { return t.u != invalidID }},
	{"proc.creds.gid", "gid", func(t *Term) bool { return t.u != invalidID }},
	{"proc.comm", "comm", func(t *Term) bool { return len(t.text) > 0 && len(t.text) < commLen }},
}

const (
	invalidID = 1<<32 - 1 // GADGET_INVALID_UID / _GID: "all"
	commLen   = 16        // TASK_COMM_LEN, NUL included
)

// KernelPushdown returns the eBPF params (key → value) that implement
// some of terms in the kernel: equality terms, not negated, on a field of
// processParams whose param the gadget declares (params: its param keys).
// A param two terms want with different values is left out. The terms
// keep running in user space, which keeps the semantics exact; the
// params only spare the ring buffer. The caller should not override a
// param the user set explicitly.
func KernelPushdown(terms []*Term, params []string) map[string]string {
	declared := map[string]bool{}
	for _, p := range params {
		declared[p] = true
	}
	out := map[string]string{}
	conflict := map[string]bool{}
	for _, t := range terms {
		if t.Negate || t.Op != OpEq || (t.class != cUint && t.class != cText) {
			continue
		}
		for _, pp := range processParams {
			if t.Field.FullName != pp.field || !declared[pp.param] || !pp.valid(t) {
				continue
			}
			v := string(t.text)
			if t.class == cUint {
				v = strconv.FormatUint(t.u, 10)
			}
			if old, ok := out[pp.param]; ok && old != v {
				conflict[pp.param] = true
			}
			out[pp.param] = v
		}
	}
	for p := range conflict {
		delete(out, p)
	}
	return out
}
