package main

// A small DNS message reader (RFC 1035, AAAA from RFC 3596): the header,
// the first question and the A/AAAA answers. It reads what is there and
// stops at the first malformed or missing byte, so a message cut short by
// the capture limit still yields its header and question.

import (
	"errors"
	"strconv"
)

var (
	errShort   = errors.New("message too short")
	errPointer = errors.New("bad compression pointer")
	errName    = errors.New("name too long")
)

// Limits on what one message may make the reader do.
const (
	maxNameLen   = 255 // wire length of a name (RFC 1035 3.1)
	maxPointers  = 32  // compression pointers followed in one name
	maxAnswers   = 64  // answer records looked at for addresses
	headerLength = 12
)

// message is what the gadget reports of a DNS message. Its byte slices
// are reused from message to message (the module is single-threaded and
// reports a message before it reads the next): parsing allocates nothing
// once they have grown.
type message struct {
	id       uint16
	response bool
	opcode   uint8
	tc, rd   bool
	ra       bool
	rcode    uint8
	qdcount  uint16
	ancount  uint16

	// hasQuestion is set once the first question was read entirely.
	hasQuestion bool
	name        []byte // presentation form, with the final dot
	qtype       uint16

	// addresses of the A and AAAA answers, in message order, separated
	// by commas.
	addresses []byte
}

// parseMessage reads b into m (reset first). On error, m holds what was
// read before the error; the header is always complete when the error is
// not errShort at offset 0.
func parseMessage(b []byte, m *message) error {
	*m = message{name: m.name[:0], addresses: m.addresses[:0]}
	if len(b) < headerLength {
		return errShort
	}
	m.id = be16(b[0:])
	flags := be16(b[2:])
	m.response = flags&0x8000 != 0
	m.opcode = uint8(flags>>11) & 0xf
	m.tc = flags&0x0200 != 0
	m.rd = flags&0x0100 != 0
	m.ra = flags&0x0080 != 0
	m.rcode = uint8(flags & 0xf)
	m.qdcount = be16(b[4:])
	m.ancount = be16(b[6:])

	off := headerLength
	// Questions: the first one is reported, the others skipped.
	for i := 0; i < int(m.qdcount); i++ {
		var err error
		var name []byte
		if i == 0 {
			name, off, err = readName(m.name[:0], b, off)
		} else {
			off, err = skipName(b, off)
		}
		if err != nil {
			return err
		}
		if off+4 > len(b) {
			return errShort
		}
		if i == 0 {
			m.name = name
			m.qtype = be16(b[off:])
			m.hasQuestion = true
		}
		off += 4 // type, class
	}

	for i := 0; i < int(m.ancount) && i < maxAnswers; i++ {
		var err error
		if off, err = skipName(b, off); err != nil {
			return err
		}
		if off+10 > len(b) {
			return errShort
		}
		typ, class := be16(b[off:]), be16(b[off+2:])
		rdlen := int(be16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return errShort
		}
		rdata := b[off : off+rdlen]
		off += rdlen
		if class != classINET {
			continue
		}
		if !(typ == typeA && rdlen == 4 || typ == typeAAAA && rdlen == 16) {
			continue
		}
		if len(m.addresses) > 0 {
			m.addresses = append(m.addresses, ',')
		}
		if rdlen == 4 {
			m.addresses = appendIPv4(m.addresses, [4]byte(rdata))
		} else {
			m.addresses = appendIPv6(m.addresses, [16]byte(rdata))
		}
	}
	return nil
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// readName appends the name at off in presentation form ("example.com.",
// "." for the root) to sb and returns it with the offset after the name in
// the message (after the first pointer, if compressed).
func readName(sb, msg []byte, off int) ([]byte, int, error) {
	start := len(sb)
	end := -1 // where the name ends in the message, once a pointer was taken
	wire := 0
	for ptrs := 0; ; {
		if off >= len(msg) {
			return sb, 0, errShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				if len(sb) == start {
					sb = append(sb, '.')
				}
				return sb, end, nil
			}
			if off+1+c > len(msg) {
				return sb, 0, errShort
			}
			if wire += c + 1; wire > maxNameLen {
				return sb, 0, errName
			}
			sb = appendLabel(sb, msg[off+1:off+1+c])
			sb = append(sb, '.')
			off += 1 + c
		case 0xc0:
			if off+1 >= len(msg) {
				return sb, 0, errShort
			}
			if ptrs++; ptrs > maxPointers {
				return sb, 0, errPointer
			}
			if end < 0 {
				end = off + 2
			}
			off = (c&0x3f)<<8 | int(msg[off+1])
		default: // 0x40 and 0x80: extended label types, unused
			return sb, 0, errName
		}
	}
}

// skipName returns the offset after the name at off, without decoding it.
func skipName(msg []byte, off int) (int, error) {
	for {
		if off >= len(msg) {
			return 0, errShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				return off + 1, nil
			}
			off += 1 + c
		case 0xc0:
			if off+1 >= len(msg) {
				return 0, errShort
			}
			return off + 2, nil
		default:
			return 0, errName
		}
	}
}

// appendLabel writes a label as zone files show it: dots and backslashes
// inside it escaped, bytes that are not printable ASCII as \DDD. Labels
// that need no escape (nearly all) are copied in one go: in the guest a
// loop iteration costs far more than a byte of memmove.
func appendLabel(sb []byte, label []byte) []byte {
	plain := true
	for _, c := range label {
		if c < 0x21 || c > 0x7e || c == '.' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return append(sb, label...)
	}
	for _, c := range label {
		switch {
		case c == '.' || c == '\\':
			sb = append(sb, '\\', c)
		case c < 0x21 || c > 0x7e:
			sb = append(sb, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			sb = append(sb, c)
		}
	}
	return sb
}

const (
	classINET = 1
	typeA     = 1
	typeAAAA  = 28
)

// Names of query types: upstream's set, then a few that are common today.
// An array indexed by type (CAA, 257, is the only one above 255): a map
// would link Go's map code into the module.
var qtypeSmall = [256]string{
	1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 11: "WKS", 12: "PTR", 13: "HINFO",
	14: "MINFO", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 41: "OPT",
	252: "AXFR", 255: "ALL",
	35: "NAPTR", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
	64: "SVCB", 65: "HTTPS", 251: "IXFR",
}

const typeCAA = 257

func qtypeName(t uint16) string {
	switch {
	case t < 256 && qtypeSmall[t] != "":
		return qtypeSmall[t]
	case t == typeCAA:
		return "CAA"
	}
	return strconv.Itoa(int(t))
}

var rcodeNames = [...]string{"Success", "FormatError", "ServerFailure", "NameError", "NotImplemented", "Refused"}

func rcodeName(r uint8) string {
	if int(r) < len(rcodeNames) {
		return rcodeNames[r]
	}
	return strconv.Itoa(int(r))
}

// hexID is the id as 4 lower-case hex digits.
func hexID(id uint16) [4]byte {
	const digits = "0123456789abcdef"
	return [4]byte{digits[id>>12], digits[id>>8&0xf], digits[id>>4&0xf], digits[id&0xf]}
}
