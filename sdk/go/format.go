package api

import (
	"strconv"
	"unicode/utf8"
)

// The loggers format their arguments without fmt (see LogString): a
// package that imports fmt links fmt's and os's initialisation into every
// module, about 0.4 MB whether the module logs or not. sprint and sprintf
// cover what log messages use, with fmt's output: the flags - + 0 space
// (and # for %x %X %o %b %q), width and precision; %v %s %q %x %X for strings, byte slices, errors and
// values with a String method; %v %t for booleans; %v %d %x %X %o %b %c %q
// for integers; %v %f %F %e %E %g %G for floats; and %% (%#v, Go
// syntax, is not: it needs reflection). A value of
// another type prints as %!v(unsupported): format it with fmt in the
// module and log the string.

// stringer is fmt.Stringer.
type stringer interface{ String() string }

type verbSpec struct {
	verb                            rune
	minus, plus, zero, space, sharp bool
	width, prec                     int // -1: not given
}

// sprint formats args as fmt.Sprint does: operands side by side, with a
// space between two when neither is a string.
func sprint(args []any) string {
	var b []byte
	for i, a := range args {
		if i > 0 {
			_, s1 := args[i-1].(string)
			_, s2 := a.(string)
			if !s1 && !s2 {
				b = append(b, ' ')
			}
		}
		b = appendValue(b, a, verbSpec{verb: 'v', width: -1, prec: -1})
	}
	return string(b)
}

// sprintf formats args as fmt.Sprintf does for the verbs and types above.
func sprintf(format string, args []any) string {
	b := make([]byte, 0, len(format)+16)
	n := 0
	for i := 0; i < len(format); {
		if format[i] != '%' {
			b = append(b, format[i])
			i++
			continue
		}
		i++
		sp := verbSpec{width: -1, prec: -1}
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '-':
				sp.minus = true
			case '+':
				sp.plus = true
			case '0':
				sp.zero = true
			case ' ':
				sp.space = true
			case '#':
				sp.sharp = true
			default:
				break flags
			}
		}
		sp.width, i = digits(format, i)
		if i < len(format) && format[i] == '.' {
			sp.prec, i = digits(format, i+1)
			if sp.prec < 0 {
				sp.prec = 0
			}
		}
		if i >= len(format) {
			b = append(b, "%!(NOVERB)"...)
			break
		}
		verb, size := utf8.DecodeRuneInString(format[i:])
		i += size
		if verb == '%' {
			b = append(b, '%')
			continue
		}
		sp.verb = verb
		if n >= len(args) {
			b = append(b, '%', '!')
			b = utf8.AppendRune(b, verb)
			b = append(b, "(MISSING)"...)
			continue
		}
		b = appendValue(b, args[n], sp)
		n++
	}
	if n < len(args) {
		b = append(b, "%!(EXTRA "...)
		for k, a := range args[n:] {
			if k > 0 {
				b = append(b, ", "...)
			}
			b = appendValue(b, a, verbSpec{verb: 'v', width: -1, prec: -1})
		}
		b = append(b, ')')
	}
	return string(b)
}

// digits reads a decimal number at format[i:]; -1 when there is none.
func digits(format string, i int) (int, int) {
	n := -1
	for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
		if n < 0 {
			n = 0
		}
		if n < 1e6 {
			n = n*10 + int(format[i]-'0')
		}
	}
	return n, i
}

func appendValue(b []byte, a any, sp verbSpec) []byte {
	if sp.verb == 'v' {
		if sp.sharp {
			// Go syntax needs reflection.
			return append(b, "%!v(unsupported)"...)
		}
		sp.plus = false // %+v adds field names, not signs
	}
	start := len(b)
	switch v := a.(type) {
	case nil:
		if sp.verb != 'v' {
			b = append(b, '%', '!')
			b = utf8.AppendRune(b, sp.verb)
			return append(b, "(<nil>)"...)
		}
		b = append(b, "<nil>"...)
	case string:
		b = appendText(b, v, sp)
	case []byte:
		if sp.verb == 'v' || sp.verb == 'd' {
			// fmt prints a byte slice as a list of numbers here, each
			// formatted (and padded) alone.
			b = append(b, '[')
			for i, c := range v {
				if i > 0 {
					b = append(b, ' ')
				}
				b = intValue(b, uint64(c), false, sp)
			}
			return append(b, ']')
		}
		b = appendText(b, string(v), sp)
	case error:
		b = appendText(b, v.Error(), sp)
	case stringer:
		b = appendText(b, v.String(), sp)
	case bool:
		if sp.verb != 'v' && sp.verb != 't' {
			return badVerb(b, sp.verb)
		}
		b = strconv.AppendBool(b, v)
	case int:
		return intValue(b, uint64(v), v < 0, sp)
	case int8:
		return intValue(b, uint64(v), v < 0, sp)
	case int16:
		return intValue(b, uint64(v), v < 0, sp)
	case int32:
		return intValue(b, uint64(v), v < 0, sp)
	case int64:
		return intValue(b, uint64(v), v < 0, sp)
	case uint:
		return intValue(b, uint64(v), false, sp)
	case uint8:
		return intValue(b, uint64(v), false, sp)
	case uint16:
		return intValue(b, uint64(v), false, sp)
	case uint32:
		return intValue(b, uint64(v), false, sp)
	case uint64:
		return intValue(b, v, false, sp)
	case uintptr:
		return intValue(b, uint64(v), false, sp)
	case float32:
		return floatValue(b, float64(v), 32, sp)
	case float64:
		return floatValue(b, v, 64, sp)
	default:
		b = append(b, '%', '!')
		b = utf8.AppendRune(b, sp.verb)
		return append(b, "(unsupported)"...)
	}
	return pad(b, start, sp, false)
}

func badVerb(b []byte, verb rune) []byte {
	b = append(b, '%', '!')
	b = utf8.AppendRune(b, verb)
	return append(b, "(bad verb)"...)
}

func appendText(b []byte, s string, sp verbSpec) []byte {
	switch sp.verb {
	case 'v', 's', 'q':
		if sp.prec >= 0 {
			for i := range s {
				if sp.prec == 0 {
					s = s[:i]
					break
				}
				sp.prec--
			}
		}
		switch {
		case sp.verb != 'q':
			return append(b, s...)
		case sp.sharp && strconv.CanBackquote(s):
			return append(append(append(b, '`'), s...), '`')
		case sp.plus:
			return strconv.AppendQuoteToASCII(b, s)
		}
		return strconv.AppendQuote(b, s)
	case 'x', 'X':
		digits := "0123456789abcdef"
		if sp.verb == 'X' {
			digits = "0123456789ABCDEF"
		}
		if sp.prec >= 0 && sp.prec < len(s) {
			s = s[:sp.prec] // bytes, for hex
		}
		for i := 0; i < len(s); i++ {
			if sp.space && i > 0 {
				b = append(b, ' ')
			}
			if sp.sharp && (sp.space || i == 0) {
				b = append(b, '0', byte(sp.verb))
			}
			b = append(b, digits[s[i]>>4], digits[s[i]&0xf])
		}
		return b
	}
	return badVerb(b, sp.verb)
}

// intValue formats and pads an integer (a precision turns zero padding
// off, as in fmt).
func intValue(b []byte, u uint64, negative bool, sp verbSpec) []byte {
	start := len(b)
	b = appendInt(b, u, negative, sp)
	if sp.verb == 'c' || sp.verb == 'q' {
		return pad(b, start, sp, false)
	}
	if sp.prec >= 0 {
		sp.zero = false
	}
	return pad(b, start, sp, true)
}

// appendInt formats the integer u (negative: the two's complement of a
// negative signed value).
func appendInt(b []byte, u uint64, negative bool, sp verbSpec) []byte {
	mag := u
	if negative {
		mag = -u
	}
	base := 10
	switch sp.verb {
	case 'v', 'd':
	case 'x', 'X':
		base = 16
	case 'o':
		base = 8
	case 'b':
		base = 2
	case 'c', 'q':
		r := utf8.RuneError
		if !negative && u <= utf8.MaxRune {
			r = rune(u)
		}
		switch {
		case sp.verb == 'c':
			return utf8.AppendRune(b, r)
		case sp.plus:
			return strconv.AppendQuoteRuneToASCII(b, r)
		}
		return strconv.AppendQuoteRune(b, r)
	default:
		return badVerb(b, sp.verb)
	}
	switch {
	case negative:
		b = append(b, '-')
	case sp.plus:
		b = append(b, '+')
	case sp.space:
		b = append(b, ' ')
	}
	if sp.sharp {
		switch base {
		case 16:
			b = append(b, '0', byte(sp.verb))
		case 8:
			if mag != 0 {
				b = append(b, '0')
			}
		case 2:
			b = append(b, '0', 'b')
		}
	}
	digitsAt := len(b)
	if mag != 0 || sp.prec != 0 { // %.0d of 0 prints no digit
		b = strconv.AppendUint(b, mag, base)
	}
	if sp.verb == 'X' {
		for i := digitsAt; i < len(b); i++ {
			if b[i] >= 'a' && b[i] <= 'f' {
				b[i] -= 'a' - 'A'
			}
		}
	}
	for sp.prec > len(b)-digitsAt {
		b = append(b[:digitsAt+1], b[digitsAt:]...)
		b[digitsAt] = '0'
	}
	return b
}

// floatValue formats and pads a float; infinities and NaN are padded
// with spaces, signed as fmt signs them.
func floatValue(b []byte, f float64, bits int, sp verbSpec) []byte {
	start := len(b)
	const maxFloat = 1.79769313486231570814527423731704356798070e+308
	if f == f && f <= maxFloat && f >= -maxFloat {
		return pad(appendFloat(b, f, bits, sp), start, sp, true)
	}
	if !isFloatVerb(sp.verb) {
		return badVerb(b, sp.verb)
	}
	switch {
	case f < 0:
		b = append(b, '-')
	case sp.plus || f == f && !sp.space:
		b = append(b, '+') // fmt signs +Inf even without the flag
	case sp.space:
		b = append(b, ' ')
	}
	if f != f {
		b = append(b, "NaN"...)
	} else {
		b = append(b, "Inf"...)
	}
	sp.zero = false
	return pad(b, start, sp, false)
}

func isFloatVerb(v rune) bool {
	switch v {
	case 'v', 'f', 'F', 'e', 'E', 'g', 'G':
		return true
	}
	return false
}

func appendFloat(b []byte, f float64, bits int, sp verbSpec) []byte {
	var fmtByte byte
	prec := sp.prec
	switch sp.verb {
	case 'v', 'g', 'G':
		fmtByte = 'g'
		if sp.verb == 'G' {
			fmtByte = 'G'
		}
	case 'f', 'F':
		fmtByte = 'f'
		if prec < 0 {
			prec = 6
		}
	case 'e', 'E':
		fmtByte = byte(sp.verb)
		if prec < 0 {
			prec = 6
		}
	default:
		return badVerb(b, sp.verb)
	}
	if f >= 0 || f != f { // not negative, or NaN
		switch {
		case sp.plus:
			b = append(b, '+')
		case sp.space:
			b = append(b, ' ')
		}
	}
	return strconv.AppendFloat(b, f, fmtByte, prec, bits)
}

// pad widens b[start:] to sp.width runes: spaces before it, after it
// with '-', or zeros with '0' (after the sign and base prefix of a
// number).
func pad(b []byte, start int, sp verbSpec, numeric bool) []byte {
	n := sp.width - utf8.RuneCount(b[start:])
	if n <= 0 {
		return b
	}
	if sp.minus {
		for ; n > 0; n-- {
			b = append(b, ' ')
		}
		return b
	}
	fill, at := byte(' '), start
	if sp.zero {
		fill = '0'
	}
	if sp.zero && numeric {
		if at < len(b) && (b[at] == '-' || b[at] == '+' || b[at] == ' ') {
			at++
		}
		if at+1 < len(b) && b[at] == '0' && (b[at+1] == 'x' || b[at+1] == 'X' || b[at+1] == 'b') {
			at += 2
		}
	}
	b = append(b, make([]byte, n)...)
	copy(b[at+n:], b[at:len(b)-n])
	for i := at; i < at+n; i++ {
		b[i] = fill
	}
	return b
}
