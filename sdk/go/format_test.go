//go:build !wasip1

package api

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

type named struct{ n string }

func (v named) String() string { return "named:" + v.n }

// TestFormatLikeFmt: sprintf and sprint give what fmt gives for the verbs
// and types they cover, and a %! error for the others.
func TestFormatLikeFmt(t *testing.T) {
	text := "vsqxX"
	supported := []struct {
		verbs  string
		values []any
	}{
		{text, []any{"text", "", "héllo wörld", errors.New("boom"), named{"x"}}},
		{"sqxX", []any{[]byte("raw\x00bytes")}},
		{"vd", []any{[]byte{1, 200}}},
		{"vt", []any{true, false}},
		{"vdxXobcq", []any{0, 42, -42, int8(-128), int16(300), int32(-7), int64(math.MinInt64), int64(math.MaxInt64),
			uint(7), uint8(255), uint16(65535), uint32(1 << 31), uint64(math.MaxUint64), uintptr(0xdead), 0x10FFFF + 1}},
		{"vfFeEgG", []any{1.5, -0.25, 1e21, 3.14159, float32(2.5), math.Inf(1), math.Inf(-1), math.NaN(), 0.0}},
		{"v", []any{nil}},
	}
	shapes := []string{"%", "%5", "%-5", "%05", "%+", "% ", "%#", "%.2", "%08.3", "%10", "%-10", "%.3", "%5.1", "%+.1"}
	for _, group := range supported {
		for _, verb := range group.verbs {
			for _, shape := range shapes {
				if shape == "%#" && (verb == 'v' || strings.ContainsRune("fFeEgG", verb)) {
					continue // Go syntax, and the alternate float forms: not supported
				}
				format := shape + string(verb) + "|"
				for _, v := range group.values {
					if got, want := sprintf(format, []any{v}), fmt.Sprintf(format, v); got != want {
						t.Errorf("sprintf(%q, %#v) = %q, fmt gives %q", format, v, got, want)
					}
				}
			}
		}
	}
	for _, tc := range []struct {
		verb string
		v    any
	}{{"%d", "text"}, {"%t", 1}, {"%f", true}, {"%s", nil}, {"%x", 1.5}, {"%v", struct{ a int }{1}}, {"%d", []string{"a"}}, {"%#v", "x"}} {
		if got := sprintf(tc.verb, []any{tc.v}); len(got) < 2 || got[:2] != "%!" {
			t.Errorf("sprintf(%q, %#v) = %q, want a %%! error", tc.verb, tc.v, got)
		}
	}
	for _, tc := range []struct {
		format string
		args   []any
	}{
		{"plain", nil}, {"100%%", nil}, {"%d items, %s", []any{3, "done"}}, {"%d %d", []any{1}},
		{"trailing %", nil}, {"%s: %v", []any{"err", errors.New("x")}},
		{"%x|%X", []any{[]byte{0xde, 0xad}, "hi"}},
	} {
		if got, want := sprintf(tc.format, tc.args), fmt.Sprintf(tc.format, tc.args...); got != want {
			t.Errorf("sprintf(%q, %v) = %q, fmt gives %q", tc.format, tc.args, got, want)
		}
	}
	// Extra arguments are listed (fmt also names their types).
	if got := sprintf("%d", []any{1, 2, "x"}); got != "1%!(EXTRA 2, x)" {
		t.Errorf("extra arguments: %q", got)
	}
	for _, args := range [][]any{{"a", "b"}, {1, 2}, {"a", 1, 2, "b"}, {1.5, true, errors.New("e")}, {nil, 3}} {
		if got, want := sprint(args), fmt.Sprint(args...); got != want {
			t.Errorf("sprint(%v) = %q, fmt gives %q", args, got, want)
		}
	}
	if got := sprintf("%v", []any{struct{ a int }{1}}); got != "%!v(unsupported)" {
		t.Errorf("struct: %q", got)
	}
}
