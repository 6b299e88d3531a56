package main

// Addresses as text, as net/netip writes them (RFC 5952 for IPv6:
// lower-case hex, no leading zeros, the first longest run of two or more
// zero groups as "::", IPv4-mapped addresses as ::ffff:a.b.c.d), without
// net/netip: it brings the unique package, weak pointers and maps into
// the module, 90 KB of code that every start decodes and validates.

// appendIPv4 appends a as a dotted quad.
func appendIPv4(dst []byte, a [4]byte) []byte {
	for i, b := range a {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = appendDec(dst, uint32(b))
	}
	return dst
}

// appendIPv6 appends a in its RFC 5952 form.
func appendIPv6(dst []byte, a [16]byte) []byte {
	var g [8]uint16
	for i := range g {
		g[i] = uint16(a[2*i])<<8 | uint16(a[2*i+1])
	}
	if g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff {
		dst = append(dst, "::ffff:"...)
		return appendIPv4(dst, [4]byte(a[12:]))
	}
	// The first longest run of at least two zero groups.
	zs, zl := -1, 1
	for i := 0; i < len(g); {
		if g[i] != 0 {
			i++
			continue
		}
		j := i
		for j < len(g) && g[j] == 0 {
			j++
		}
		if j-i > zl {
			zs, zl = i, j-i
		}
		i = j
	}
	for i := 0; i < len(g); i++ {
		if i == zs {
			dst = append(dst, "::"...)
			i += zl - 1
			continue
		}
		if i > 0 && i != zs+zl {
			dst = append(dst, ':')
		}
		dst = appendHex(dst, g[i])
	}
	return dst
}

// appendAddr appends the address raw holds: IPv4 in its first 4 bytes
// when version is 4.
func appendAddr(dst []byte, raw [16]byte, version uint8) []byte {
	if version == 4 {
		return appendIPv4(dst, [4]byte(raw[:4]))
	}
	return appendIPv6(dst, raw)
}

// appendEndpoint appends "addr:port", "[addr]:port" for IPv6.
func appendEndpoint(dst []byte, raw [16]byte, version uint8, port uint16) []byte {
	if version == 4 {
		dst = appendIPv4(dst, [4]byte(raw[:4]))
	} else {
		dst = append(dst, '[')
		dst = append(appendIPv6(dst, raw), ']')
	}
	return appendDec(append(dst, ':'), uint32(port))
}

func appendDec(dst []byte, v uint32) []byte {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

func appendHex(dst []byte, v uint16) []byte {
	const digits = "0123456789abcdef"
	started := false
	for shift := 12; shift >= 0; shift -= 4 {
		d := v >> shift & 0xf
		if d != 0 || started || shift == 0 {
			dst = append(dst, digits[d])
			started = true
		}
	}
	return dst
}
