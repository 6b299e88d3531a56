package main

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestAddrLikeNetip: the module's address formatting agrees with
// net/netip's, which it replaces, on edge cases and random addresses; the
// endpoints of reports unmap IPv4-mapped addresses as the host's address
// fields do (internal/formatters).
func TestAddrLikeNetip(t *testing.T) {
	var addrs [][16]byte
	for _, s := range []string{
		"::", "::1", "1::", "::ffff:1.2.3.4", "::ffff:0.0.0.0", "::fffe:1.2.3.4", "64:ff9b::1.2.3.4",
		"2001:db8::1", "2001:db8:0:0:1:0:0:1", "2001:0:0:1::1", "fe80::1:0:0:0", "1:0:1:0:1:0:1:0",
		"ff02::fb", "2001:db8:85a3::8a2e:370:7334", "1:2:3:4:5:6:7:8", "0:1:0:0:0:1:0:0", "::1:0:0:0:1",
	} {
		addrs = append(addrs, netip.MustParseAddr(s).As16())
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var a [16]byte
		for i := range a {
			// Many zero bytes, to exercise the "::" choice.
			if r.IntN(3) > 0 {
				a[i] = byte(r.UintN(256))
			}
		}
		if r.IntN(20) == 0 {
			copy(a[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
		}
		addrs = append(addrs, a)
	}
	for _, a := range addrs {
		v6 := netip.AddrFrom16(a)
		if got, want := string(appendIPv6(nil, a)), v6.String(); got != want {
			t.Fatalf("appendIPv6(%x) = %q, want %q", a, got, want)
		}
		host := v6.Unmap()
		if got, want := string(appendAddr(nil, a, 6)), host.String(); got != want {
			t.Fatalf("appendAddr(%x, 6) = %q, want %q", a, got, want)
		}
		if got, want := string(appendEndpoint(nil, a, 6, 5353)), netip.AddrPortFrom(host, 5353).String(); got != want {
			t.Fatalf("appendEndpoint(%x, 6) = %q, want %q", a, got, want)
		}
		v4 := netip.AddrFrom4([4]byte(a[:4]))
		if got, want := string(appendAddr(nil, a, 4)), v4.String(); got != want {
			t.Fatalf("appendAddr(%x, 4) = %q, want %q", a[:4], got, want)
		}
		if got, want := string(appendEndpoint(nil, a, 4, 53)), netip.AddrPortFrom(v4, 53).String(); got != want {
			t.Fatalf("appendEndpoint(%x, 4) = %q, want %q", a[:4], got, want)
		}
	}
}
