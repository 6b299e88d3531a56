package format

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/gadgetkit/ig/internal/datasource"
)

const hexDigits = "0123456789abcdef"

// jsonSafe[c] is true for ASCII bytes that go into a JSON string as is.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// plain8 reports whether none of the 8 bytes in x needs escaping in a
// JSON string: no control character, quote, backslash or non-ASCII byte.
// (A false "no" only sends the bytes to the byte-by-byte path.)
func plain8(x uint64) bool {
	q := x ^ ('"' * ones)
	bs := x ^ ('\\' * ones)
	t := (x - 0x20*ones) | (q - ones) | (bs - ones) | x
	return t&high == 0
}

// appendJSONString appends s as a JSON string literal. Invalid UTF-8
// becomes U+FFFD.
func appendJSONString(b []byte, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip 8 plain ASCII bytes at a time.
		for i+8 <= len(s) && plain8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if i+8 > len(s) && len(s) >= 8 && plain8(binary.LittleEndian.Uint64(s[len(s)-8:])) {
			// The last 8 bytes overlap what was checked: all plain.
			i = len(s)
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONValue appends the value of f in r as JSON.
func appendJSONValue(b []byte, f *datasource.Field, r *datasource.Record) []byte {
	if f.Kind&datasource.ArrayOf != 0 {
		return appendJSONArray(b, f, r)
	}
	switch {
	case f.Kind == datasource.Bool:
		return strconv.AppendBool(b, f.Bool(r))
	case f.Kind.IsSigned():
		return strconv.AppendInt(b, f.Int64(r), 10)
	case f.Kind.IsUnsigned():
		return strconv.AppendUint(b, f.Uint64(r), 10)
	case f.Kind.IsFloat():
		return appendJSONFloat(b, f.Float64(r))
	case f.Kind.IsText():
		return appendJSONString(b, f.Text(r))
	case f.Kind == datasource.Bytes:
		raw := f.Raw(r)
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, raw)
		return append(b, '"')
	}
	return append(b, "null"...)
}

func appendJSONFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendJSONArray(b []byte, f *datasource.Field, r *datasource.Record) []byte {
	elem := f.Kind &^ datasource.ArrayOf
	size := elem.Size()
	raw := f.Raw(r)
	b = append(b, '[')
	if size > 0 {
		tmp := datasource.Field{Kind: elem, Size: size}
		one := datasource.Record{Payload: [][]byte{nil}}
		for i := 0; i+int(size) <= len(raw); i += int(size) {
			if i > 0 {
				b = append(b, ',')
			}
			one.Payload[0] = raw[i : i+int(size)]
			tmp.Offset = 0
			b = appendJSONValue(b, &tmp, &one)
		}
	}
	return append(b, ']')
}

// appendText appends the value of f in r as plain text (for columns):
// unsigned integers in hex when hex is set, floats with prec decimals
// (-1: as many as needed).
func appendText(b []byte, f *datasource.Field, r *datasource.Record, hex bool, prec int) []byte {
	if f.Kind&datasource.ArrayOf != 0 {
		return appendJSONArray(b, f, r)
	}
	switch {
	case f.Kind == datasource.Bool:
		return strconv.AppendBool(b, f.Bool(r))
	case f.Kind.IsSigned():
		return strconv.AppendInt(b, f.Int64(r), 10)
	case f.Kind.IsUnsigned():
		if hex {
			b = append(b, '0', 'x')
			return strconv.AppendUint(b, f.Uint64(r), 16)
		}
		return strconv.AppendUint(b, f.Uint64(r), 10)
	case f.Kind.IsFloat():
		return strconv.AppendFloat(b, f.Float64(r), 'f', prec, 64)
	case f.Kind.IsText():
		return appendPrintable(b, f.Text(r))
	case f.Kind == datasource.Bytes:
		raw := f.Raw(r)
		for _, c := range raw {
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		}
		return b
	}
	return b
}

// appendPrintable appends text with control characters replaced, so a
// hostile file name cannot move the terminal cursor or rewrite the screen:
// C0 and DEL, C1 (U+0080-U+009F: U+009B starts a terminal command like
// ESC [) and the bidirectional overrides, which make text display in
// another order than it is.
func appendPrintable(b []byte, s []byte) []byte { return AppendPrintable(b, s, false) }

// AppendPrintable appends s with every character that could drive a
// terminal or reorder what it shows written '?': C0 controls and DEL,
// invalid UTF-8 and what UnsafeRune names. With logLine, s stays one line
// of a log that cannot pass for another: tabs are kept, and newlines and
// carriage returns are written \n and \r.
func AppendPrintable(b []byte, s []byte, logLine bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != 0x7f:
				b = append(b, c)
			case logLine && c == '\t':
				b = append(b, c)
			case logLine && c == '\n':
				b = append(b, '\\', 'n')
			case logLine && c == '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '?')
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if (r == utf8.RuneError && size == 1) || UnsafeRune(r) {
			b = append(b, '?')
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return b
}

// UnsafeRune reports whether r is a C1 control or a bidirectional
// formatting character (LRM, RLM, ALM, the embeddings, overrides and
// isolates): characters that must not reach a terminal from untrusted
// text (U+009B starts a terminal command; the overrides reorder what is
// shown).
func UnsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
