package formatters

import (
	"math"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	"github.com/gadgetkit/ig/internal/syscalls"
)

// This file holds the renderers: each appends the text of one value to a
// byte slice and allocates nothing when the slice has room.

// defaultTimestampLayout is upstream's timestamp layout: RFC 3339 with a
// fixed nine-digit fraction.
const defaultTimestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// appendTimestamp appends ns (since the Unix epoch) in local time; 0 means
// "not set" in gadgets and renders as nothing.
func appendTimestamp(b []byte, ns uint64, layout string) []byte {
	if ns == 0 {
		return b
	}
	return time.Unix(0, int64(ns)).AppendFormat(b, layout)
}

// timestampFormatter renders timestamps. With the default layout it keeps
// the text of the last second seen (date, time and zone) and only writes
// the nanoseconds for the next event of the same second, which is most of
// them; a zone change (DST) happens on a second boundary, so this is
// exact. It is not safe for concurrent use.
type timestampFormatter struct {
	layout string
	sec    int64 // second of head and tail; valid when head != nil
	head   []byte
	tail   []byte
}

func (f *timestampFormatter) append(b []byte, ns uint64) []byte {
	if f.layout != defaultTimestampLayout || ns > math.MaxInt64 {
		return appendTimestamp(b, ns, f.layout)
	}
	if ns == 0 {
		return b
	}
	sec, frac := int64(ns/1e9), ns%1e9
	if f.head == nil || sec != f.sec {
		t := time.Unix(sec, 0)
		f.sec = sec
		f.head = t.AppendFormat(f.head[:0], "2006-01-02T15:04:05")
		f.tail = t.AppendFormat(f.tail[:0], "Z07:00")
	}
	b = append(b, f.head...)
	b = append(b, '.')
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	b = append(b, digits[:]...)
	return append(b, f.tail...)
}

// appendErrno appends the name of a positive errno value: nothing for 0,
// "error#N" for a number Linux does not define.
func appendErrno(b []byte, v uint64) []byte {
	if v == 0 {
		return b
	}
	if v < uint64(len(errnoNames)) && errnoNames[v] != "" {
		return append(b, errnoNames[v]...)
	}
	b = append(b, "error#"...)
	return strconv.AppendUint(b, v, 10)
}

// appendSignal appends the name of a signal, "signal#N" for numbers
// without one (0, real-time signals).
func appendSignal(b []byte, v uint64) []byte {
	if v < uint64(len(signalNames)) && signalNames[v] != "" {
		return append(b, signalNames[v]...)
	}
	b = append(b, "signal#"...)
	return strconv.AppendUint(b, v, 10)
}

// syscallTable returns the syscall names of arch (a GOARCH), nil if there
// is none.
func syscallTable(arch string) []string { return syscalls.Table(arch) }

var hostSyscalls = syscallTable(runtime.GOARCH)

// appendSyscall appends "SYS_" and the upper-case name of syscall v in
// table, or SYS_UNKNOWN.
func appendSyscall(b []byte, table []string, v uint64) []byte {
	b = append(b, "SYS_"...)
	if v >= uint64(len(table)) || table[v] == "" {
		return append(b, "UNKNOWN"...)
	}
	for _, c := range []byte(table[v]) {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// flagName is one open(2) flag bit and its name.
type flagName struct {
	bit  uint32
	name string
}

// openFlags are the open(2) flags of one architecture family, in the order
// they are rendered. The order and the first fourteen names are
// upstream's; O_PATH, O_TMPFILE (its own bit, __O_TMPFILE) and O_SYNC (its
// own bit, __O_SYNC) are ours, upstream drops those bits. Other unknown
// bits are dropped too.
type openFlags []flagName

// genericOpenFlags are the values of asm-generic/fcntl.h, used by x86 and
// most architectures.
var genericOpenFlags = openFlags{
	{0o100, "O_CREAT"},
	{0o200, "O_EXCL"},
	{0o400, "O_NOCTTY"},
	{0o1000, "O_TRUNC"},
	{0o2000, "O_APPEND"},
	{0o4000, "O_NONBLOCK"},
	{0o10000, "O_DSYNC"},
	{0o20000, "O_FASYNC"},
	{0o40000, "O_DIRECT"},
	{0o100000, "O_LARGEFILE"},
	{0o200000, "O_DIRECTORY"},
	{0o400000, "O_NOFOLLOW"},
	{0o1000000, "O_NOATIME"},
	{0o2000000, "O_CLOEXEC"},
	{0o4000000, "O_SYNC"},
	{0o10000000, "O_PATH"},
	{0o20000000, "O_TMPFILE"},
}

// arm64OpenFlags differ from the generic ones in four bits
// (arch/arm64/include/uapi/asm/fcntl.h).
var arm64OpenFlags = func() openFlags {
	f := append(openFlags(nil), genericOpenFlags...)
	for i := range f {
		switch f[i].name {
		case "O_DIRECTORY":
			f[i].bit = 0o40000
		case "O_NOFOLLOW":
			f[i].bit = 0o100000
		case "O_DIRECT":
			f[i].bit = 0o200000
		case "O_LARGEFILE":
			f[i].bit = 0o400000
		}
	}
	return f
}()

func openFlagsFor(arch string) openFlags {
	if arch == "arm64" || arch == "arm" {
		return arm64OpenFlags
	}
	return genericOpenFlags
}

var hostOpenFlags = openFlagsFor(runtime.GOARCH)

// accessModes names the access modes; 3 (O_ACCMODE) is not a valid mode
// and, as upstream, has no name.
var accessModes = [4]string{"O_RDONLY", "O_WRONLY", "O_RDWR", ""}

// appendFileFlags appends the access mode, then every known flag that is
// set, joined by '|': O_RDONLY, O_WRONLY|O_CREAT|O_TRUNC.
func appendFileFlags(b []byte, flags openFlags, v uint32) []byte {
	start := len(b)
	b = append(b, accessModes[v&3]...)
	for _, f := range flags {
		if v&f.bit != 0 {
			if len(b) > start {
				b = append(b, '|')
			}
			b = append(b, f.name...)
		}
	}
	return b
}

// appendFileMode appends mode the way ls -l shows it: the file type (or
// '-' when there is none, as in an open(2) mode argument), then rwx for
// user, group and others with setuid, setgid and sticky shown as s/S and
// t/T.
func appendFileMode(b []byte, mode uint32) []byte {
	var t byte
	switch mode & 0o170000 {
	case 0, 0o100000:
		t = '-'
	case 0o040000:
		t = 'd'
	case 0o120000:
		t = 'l'
	case 0o020000:
		t = 'c'
	case 0o060000:
		t = 'b'
	case 0o010000:
		t = 'p'
	case 0o140000:
		t = 's'
	default:
		t = '?'
	}
	b = append(b, t)
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		c := byte('-')
		if mode&(1<<(8-i)) != 0 {
			c = rwx[i]
		}
		b = append(b, c)
	}
	n := len(b)
	if mode&0o4000 != 0 {
		b[n-7] = special(b[n-7], 's', 'S')
	}
	if mode&0o2000 != 0 {
		b[n-4] = special(b[n-4], 's', 'S')
	}
	if mode&0o1000 != 0 {
		b[n-1] = special(b[n-1], 't', 'T')
	}
	return b
}

// special is the character of an execute position that also carries
// setuid, setgid or sticky: lower case over x, upper case over '-'.
func special(x, set, unset byte) byte {
	if x == '-' {
		return unset
	}
	return set
}

var byteUnits = [...]string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}

// appendBytes appends a size in SI units, as go-humanize's Bytes (which
// upstream uses) renders it: "9 B", "512 B", "1.0 MB", "12 MB". The value
// is rounded to one decimal, which is shown only below 10.
func appendBytes(b []byte, v uint64) []byte {
	if v < 10 {
		b = strconv.AppendUint(b, v, 10)
		return append(b, " B"...)
	}
	e := math.Floor(math.Log(float64(v)) / math.Log(1000))
	val := math.Floor(float64(v)/math.Pow(1000, e)*10+0.5) / 10
	prec := 0
	if val < 10 {
		prec = 1
	}
	b = strconv.AppendFloat(b, val, 'f', prec, 64)
	b = append(b, ' ')
	return append(b, byteUnits[int(e)]...)
}

// appendDuration appends a duration in nanoseconds as upstream does:
// "10ns", "10.00µs", "150.00ms" below a second, else as
// time.Duration.String ("3.25s", "5m0s", "2h30m0s").
func appendDuration(b []byte, v uint64) []byte {
	d := time.Duration(v)
	switch {
	case d < time.Microsecond:
		b = strconv.AppendInt(b, int64(d), 10)
		return append(b, "ns"...)
	case d < time.Millisecond:
		b = strconv.AppendFloat(b, float64(d)/float64(time.Microsecond), 'f', 2, 64)
		return append(b, "µs"...)
	case d < time.Second:
		b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 2, 64)
		return append(b, "ms"...)
	}
	// d >= 1s here, so no sign and whole seconds.
	u := uint64(d)
	frac := u % 1e9
	secs := u / 1e9
	if h := secs / 3600; h > 0 {
		b = strconv.AppendUint(b, h, 10)
		b = append(b, 'h')
	}
	if secs >= 60 {
		b = strconv.AppendUint(b, secs/60%60, 10)
		b = append(b, 'm')
	}
	b = strconv.AppendUint(b, secs%60, 10)
	if frac != 0 {
		var digits [9]byte
		for i := 8; i >= 0; i-- {
			digits[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 9
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, digits[:n]...)
	}
	return append(b, 's')
}

// appendIP appends the address in raw (16 bytes, network order) for IP
// version 4 or 6. IPv4-mapped IPv6 addresses are shown dotted, as Go's
// net.IP (upstream) does. Version 0 (not set) and unknown versions append
// nothing and report false for unknown ones.
func appendIP(b []byte, raw []byte, version uint64) ([]byte, bool) {
	if len(raw) < 16 {
		return b, false
	}
	switch version {
	case 0:
		return b, true
	case 4:
		return netip.AddrFrom4([4]byte(raw[:4])).AppendTo(b), true
	case 6:
		a := netip.AddrFrom16([16]byte(raw[:16]))
		if a.Is4In6() {
			a = a.Unmap()
		}
		return a.AppendTo(b), true
	}
	return b, false
}

// appendProto appends the IANA keyword of IP protocol number v, or
// "proto#N".
func appendProto(b []byte, v uint64) []byte {
	if v == ipprotoMPTCP {
		return append(b, "MPTCP"...)
	}
	if v < uint64(len(ipProtocols)) && ipProtocols[v] != "" {
		return append(b, ipProtocols[v]...)
	}
	b = append(b, "proto#"...)
	return strconv.AppendUint(b, v, 10)
}

// ipprotoMPTCP is Linux's IPPROTO_MPTCP (262): a socket protocol, not an
// IP protocol number, but sockets report it (Go listeners use MPTCP by
// default since Go 1.24).
const ipprotoMPTCP = 262
