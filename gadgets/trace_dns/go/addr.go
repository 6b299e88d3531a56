package main

import "strconv"

// Addresses as text, as net/netip writes them (RFC 5952 for IPv6:
// lower-case hex, no leading zeros, the first longest run of two or more
// zero groups as "::", IPv4-mapped addresses as ::ffff:a.b.c.d), without
// net/netip: it brings the unique package, weak pointers and maps into
// the module, 90 KB of code that every start decodes and validates. The
// endpoints of reports are written as the host writes address fields
// (IPv4-mapped addresses as IPv4).

// appendIPv4 appends a as a dotted quad.
func appendIPv4(dst []byte, a [4]byte) []byte {
	for i, b := range a {
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendUint(dst, uint64(b), 10)
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
		dst = strconv.AppendUint(dst, uint64(g[i]), 16)
	}
	return dst
}

// appendAddr appends the address raw holds (IPv4 in its first 4 bytes
// when version is 4) as the host formats the address fields of events:
// an IPv4-mapped IPv6 address as IPv4.
func appendAddr(dst []byte, raw [16]byte, version uint8) []byte {
	if a, ok := ipv4Of(raw, version); ok {
		return appendIPv4(dst, a)
	}
	return appendIPv6(dst, raw)
}

// appendEndpoint appends "addr:port", "[addr]:port" for IPv6, the
// address as appendAddr has it.
func appendEndpoint(dst []byte, raw [16]byte, version uint8, port uint16) []byte {
	if a, ok := ipv4Of(raw, version); ok {
		dst = appendIPv4(dst, a)
	} else {
		dst = append(dst, '[')
		dst = append(appendIPv6(dst, raw), ']')
	}
	return strconv.AppendUint(append(dst, ':'), uint64(port), 10)
}

// ipv4Of returns the IPv4 address raw holds, if any: version 4, or an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d).
func ipv4Of(raw [16]byte, version uint8) ([4]byte, bool) {
	if version == 4 {
		return [4]byte(raw[:4]), true
	}
	if [12]byte(raw[:12]) == [12]byte{10: 0xff, 11: 0xff} {
		return [4]byte(raw[12:]), true
	}
	return [4]byte{}, false
}
