package main

// Durations without the time package, and without float parsing or
// formatting: each would add a few hundred KB to the module, which every
// run decodes, validates and maps before its first event (see the SDK's
// LogString).

import (
	"errors"
	"strconv"
)

const (
	nsPerUs = int64(1e3)
	nsPerMs = int64(1e6)
	nsPerS  = int64(1e9)
)

// durationUnit is the scale of a unit of Go durations (no map: see
// qtypeSmall).
func durationUnit(u string) (int64, bool) {
	switch u {
	case "ns":
		return 1, true
	case "us", "µs":
		return nsPerUs, true
	case "ms":
		return nsPerMs, true
	case "s":
		return nsPerS, true
	case "m":
		return 60 * nsPerS, true
	case "h":
		return 3600 * nsPerS, true
	}
	return 0, false
}

var errDuration = errors.New("not a duration (a number of seconds, or a Go duration such as 5s, 500ms, 1m30s)")

// parseTimeout reads --dns-timeout in nanoseconds: a Go duration ("5s",
// "500ms", "1m30s") or a number of seconds ("2", "0.5"); 0 turns the
// tracking off.
func parseTimeout(s string) (int64, error) {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	if s == "" {
		return 0, nil
	}
	if s[0] == '-' {
		return 0, errors.New("negative timeout " + strconv.Quote(s))
	}
	if v, ok := decimal(s, nsPerS); ok {
		return v, nil
	}
	var total int64
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		scale, known := durationUnit(rest[i:j])
		v, ok := decimal(rest[:i], scale)
		if !known || !ok || total+v < total {
			return 0, errDuration
		}
		total += v
		rest = rest[j:]
	}
	return total, nil
}

// decimal returns the decimal number s ("12", "0.5", ".5") times scale,
// computed in integers; false if s is not such a number or overflows.
func decimal(s string, scale int64) (int64, bool) {
	if s == "" || s == "." || scale <= 0 {
		return 0, false
	}
	var v int64
	i := 0
	for ; i < len(s) && s[i] != '.'; i++ {
		d := int64(s[i] - '0')
		if s[i] < '0' || s[i] > '9' || v > (1<<62)/10/scale {
			return 0, false
		}
		v = v*10 + d
	}
	v *= scale
	for f := scale; i+1 < len(s); i++ {
		c := s[i+1]
		if c < '0' || c > '9' {
			return 0, false
		}
		f /= 10
		v += int64(c-'0') * f
	}
	return v, true
}

// formatDuration renders ns as ig renders gadget_duration fields: "10ns",
// "1.50µs", "2.50ms" below a second, else as Go prints durations ("1.234s",
// "1m5s", "2h0m0s").
func formatDuration(ns int64) string {
	var b []byte
	switch {
	case ns < nsPerUs:
		return strconv.FormatInt(ns, 10) + "ns"
	case ns < nsPerMs:
		return hundredths(b, ns, nsPerUs) + "µs"
	case ns < nsPerS:
		return hundredths(b, ns, nsPerMs) + "ms"
	}
	secs, frac := ns/nsPerS, ns%nsPerS
	if h := secs / 3600; h > 0 {
		b = append(strconv.AppendInt(b, h, 10), 'h')
	}
	if secs >= 60 {
		b = append(strconv.AppendInt(b, secs/60%60, 10), 'm')
	}
	b = strconv.AppendInt(b, secs%60, 10)
	if frac != 0 {
		digits := []byte(strconv.FormatInt(frac+nsPerS, 10)[1:]) // 9 digits
		for len(digits) > 0 && digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b = append(append(b, '.'), digits...)
	}
	return string(append(b, 's'))
}

// hundredths formats ns/unit with two decimals exactly as the host
// formats durations below a second (internal/formatters): the float64
// quotient through strconv's 'f' formatting, whose rounding an integer
// computation does not reproduce (float64(1015)/1e3 lies below 1.015).
// The float formatting is in the module anyway: the Go runtime uses it.
func hundredths(b []byte, ns, unit int64) string {
	return string(strconv.AppendFloat(b, float64(ns)/float64(unit), 'f', 2, 64))
}
