package formatters

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
)

func TestErrno(t *testing.T) {
	tests := []struct {
		v    uint64
		want string
	}{
		{0, ""},
		{1, "EPERM"},
		{2, "ENOENT"},
		{11, "EAGAIN"}, // not EWOULDBLOCK
		{13, "EACCES"},
		{28, "ENOSPC"},
		{35, "EDEADLK"}, // not EDEADLOCK
		{95, "EOPNOTSUPP"},
		{110, "ETIMEDOUT"},
		{133, "EHWPOISON"},
		{134, "error#134"},
		{512, "error#512"}, // kernel-internal ERESTARTSYS has no UAPI name
		{math.MaxUint32, "error#4294967295"},
	}
	for _, tc := range tests {
		if got := string(appendErrno(nil, tc.v)); got != tc.want {
			t.Errorf("errno %d: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestSignal(t *testing.T) {
	tests := []struct {
		v    uint64
		want string
	}{
		{0, "signal#0"},
		{1, "SIGHUP"},
		{6, "SIGABRT"}, // not SIGIOT
		{9, "SIGKILL"},
		{11, "SIGSEGV"},
		{15, "SIGTERM"},
		{29, "SIGIO"}, // not SIGPOLL or SIGLOST
		{31, "SIGSYS"},
		{32, "signal#32"},
		{100, "signal#100"},
	}
	for _, tc := range tests {
		if got := string(appendSignal(nil, tc.v)); got != tc.want {
			t.Errorf("signal %d: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestSyscall(t *testing.T) {
	tests := []struct {
		arch string
		v    uint64
		want string
	}{
		{"amd64", 0, "SYS_READ"},
		{"amd64", 2, "SYS_OPEN"},
		{"amd64", 3, "SYS_CLOSE"},
		{"amd64", 60, "SYS_EXIT"},
		{"amd64", 80, "SYS_CHDIR"},
		{"amd64", 257, "SYS_OPENAT"},
		{"amd64", 292, "SYS_DUP3"},
		{"amd64", 300, "SYS_FANOTIFY_INIT"},
		{"amd64", 437, "SYS_OPENAT2"},
		{"amd64", 1e6, "SYS_UNKNOWN"},
		{"arm64", 56, "SYS_OPENAT"},
		{"arm64", 64, "SYS_WRITE"},
		{"arm64", 77, "SYS_TEE"},
		{"arm64", 79, "SYS_NEWFSTATAT"},
		{"arm64", 147, "SYS_SETRESUID"},
		{"arm64", 210, "SYS_SHUTDOWN"},
		{"arm64", 211, "SYS_SENDMSG"},
		{"arm64", 222, "SYS_MMAP"},
		{"arm64", 244, "SYS_UNKNOWN"}, // arch-specific range, unused on arm64
		{"arm64", 1e6, "SYS_UNKNOWN"},
		{"riscv64", 56, "SYS_UNKNOWN"}, // no table
	}
	for _, tc := range tests {
		if got := string(appendSyscall(nil, syscallTable(tc.arch), tc.v)); got != tc.want {
			t.Errorf("%s syscall %d: got %q, want %q", tc.arch, tc.v, got, tc.want)
		}
	}
}

func TestFileFlags(t *testing.T) {
	tests := []struct {
		name  string
		flags openFlags
		v     uint32
		want  string
	}{
		{"rdonly alone", genericOpenFlags, 0, "O_RDONLY"},
		{"wronly", genericOpenFlags, 1, "O_WRONLY"},
		{"rdwr", genericOpenFlags, 2, "O_RDWR"},
		{"creat", genericOpenFlags, 0o100, "O_RDONLY|O_CREAT"},
		{"wronly creat trunc", genericOpenFlags, 0o1101, "O_WRONLY|O_CREAT|O_TRUNC"},
		{"rdwr creat trunc", genericOpenFlags, 0o1102, "O_RDWR|O_CREAT|O_TRUNC"},
		{"append", genericOpenFlags, 0o2000, "O_RDONLY|O_APPEND"},
		{"cloexec first in value, last in text", genericOpenFlags, 0o2000000 | 0o200000 | 0o4000, "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC"},
		{"path", genericOpenFlags, 0o10000000 | 0o2000000, "O_RDONLY|O_CLOEXEC|O_PATH"},
		{"sync is __O_SYNC|O_DSYNC", genericOpenFlags, 0o4010001, "O_WRONLY|O_DSYNC|O_SYNC"},
		{"tmpfile is __O_TMPFILE|O_DIRECTORY", genericOpenFlags, 0o20200002, "O_RDWR|O_DIRECTORY|O_TMPFILE"},
		{"unknown bit dropped", genericOpenFlags, 0o40000000 | 1, "O_WRONLY"},
		{"accmode 3 has no name", genericOpenFlags, 3 | 0o100, "O_CREAT"},
		{"arm64 directory", arm64OpenFlags, 0o40000, "O_RDONLY|O_DIRECTORY"},
		{"arm64 nofollow", arm64OpenFlags, 0o100000, "O_RDONLY|O_NOFOLLOW"},
		{"arm64 direct", arm64OpenFlags, 0o200000, "O_RDONLY|O_DIRECT"},
		{"arm64 largefile", arm64OpenFlags, 0o400000, "O_RDONLY|O_LARGEFILE"},
	}
	for _, tc := range tests {
		if got := string(appendFileFlags(nil, tc.flags, tc.v)); got != tc.want {
			t.Errorf("%s (%#o): got %q, want %q", tc.name, tc.v, got, tc.want)
		}
	}
}

func TestFileMode(t *testing.T) {
	tests := []struct {
		v    uint32
		want string
	}{
		{0, "----------"},
		{0o644, "-rw-r--r--"},
		{0o100644, "-rw-r--r--"},
		{0o755, "-rwxr-xr-x"},
		{0o777, "-rwxrwxrwx"},
		{0o600, "-rw-------"},
		{0o444, "-r--r--r--"},
		{0o104755, "-rwsr-xr-x"}, // setuid regular file
		{0o4755, "-rwsr-xr-x"},
		{0o4644, "-rwSr--r--"},
		{0o2755, "-rwxr-sr-x"},
		{0o2745, "-rwxr-Sr-x"},
		{0o041777, "drwxrwxrwt"},
		{0o041770, "drwxrwx--T"},
		{0o040755, "drwxr-xr-x"},
		{0o120777, "lrwxrwxrwx"},
		{0o020620, "crw--w----"},
		{0o060660, "brw-rw----"},
		{0o010644, "prw-r--r--"},
		{0o140755, "srwxr-xr-x"},
		{0o170644, "?rw-r--r--"},
	}
	for _, tc := range tests {
		if got := string(appendFileMode(nil, tc.v)); got != tc.want {
			t.Errorf("mode %#o: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		v    uint64
		want string
	}{
		{0, "0 B"},
		{9, "9 B"},
		{10, "10 B"},
		{512, "512 B"},
		{999, "999 B"},
		{1000, "1.0 kB"},
		{1500, "1.5 kB"},
		{9949, "9.9 kB"},
		{9950, "10 kB"},
		{1e6, "1.0 MB"},
		{12345678, "12 MB"},
		{82854982, "83 MB"},
		{256e6, "256 MB"},
		{1e9, "1.0 GB"},
		{5e12, "5.0 TB"},
		{math.MaxUint64, "18 EB"},
	}
	for _, tc := range tests {
		if got := string(appendBytes(nil, tc.v)); got != tc.want {
			t.Errorf("bytes %d: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		v    time.Duration
		want string
	}{
		{0, "0ns"},
		{10, "10ns"},
		{999, "999ns"},
		{10 * time.Microsecond, "10.00µs"},
		{1234567, "1.23ms"},
		{150 * time.Millisecond, "150.00ms"},
		{time.Second, "1s"},
		{3*time.Second + 250*time.Millisecond, "3.25s"},
		{5 * time.Minute, "5m0s"},
		{2*time.Hour + 30*time.Minute, "2h30m0s"},
		{time.Hour + time.Nanosecond, "1h0m0.000000001s"},
	}
	for _, tc := range tests {
		if got := string(appendDuration(nil, uint64(tc.v))); got != tc.want {
			t.Errorf("duration %d: got %q, want %q", int64(tc.v), got, tc.want)
		}
	}
	// From one second up the text is time.Duration's.
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		d := time.Second + time.Duration(rng.Int64N(math.MaxInt64-int64(time.Second)))
		if i%2 == 0 {
			d = time.Second + time.Duration(rng.Int64N(int64(100*time.Hour)))
		}
		if got, want := string(appendDuration(nil, uint64(d))), d.String(); got != want {
			t.Fatalf("duration %d: got %q, want %q", int64(d), got, want)
		}
	}
	// Above MaxInt64 the value wraps negative, as upstream's conversion.
	if got := string(appendDuration(nil, math.MaxUint64)); got != "-1ns" {
		t.Errorf("duration MaxUint64: got %q", got)
	}
}

func TestTimestamp(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.UTC
	ns := uint64(time.Date(2024, 7, 29, 16, 53, 44, 12000, time.UTC).UnixNano())
	tests := []struct {
		ns     uint64
		layout string
		want   string
	}{
		{0, defaultTimestampLayout, ""},
		{ns, defaultTimestampLayout, "2024-07-29T16:53:44.000012000Z"},
		{ns, "15:04:05", "16:53:44"},
		{ns, time.RFC3339Nano, "2024-07-29T16:53:44.000012Z"},
	}
	for _, tc := range tests {
		if got := string(appendTimestamp(nil, tc.ns, tc.layout)); got != tc.want {
			t.Errorf("timestamp %d %q: got %q, want %q", tc.ns, tc.layout, got, tc.want)
		}
	}
}

func ipRaw(s string) []byte {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		b := a.As4()
		return append(b[:], make([]byte, 12)...)
	}
	b := a.As16()
	return b[:]
}

func TestIP(t *testing.T) {
	tests := []struct {
		raw     []byte
		version uint64
		want    string
		ok      bool
	}{
		{ipRaw("192.168.10.10"), 4, "192.168.10.10", true},
		{ipRaw("2001:db8::1"), 6, "2001:db8::1", true},
		{ipRaw("fe80::1"), 6, "fe80::1", true},
		{ipRaw("::1"), 6, "::1", true},
		{ipRaw("::ffff:10.0.0.1"), 6, "10.0.0.1", true},
		{ipRaw("::"), 6, "::", true},
		{ipRaw("10.0.0.1"), 0, "", true},
		{ipRaw("::1"), 10, "", false},
		{make([]byte, 4), 4, "", false},
	}
	for _, tc := range tests {
		got, ok := appendIP(nil, tc.raw, tc.version)
		if string(got) != tc.want || ok != tc.ok {
			t.Errorf("ip %x v%d: got %q %v, want %q %v", tc.raw, tc.version, got, ok, tc.want, tc.ok)
		}
	}
}

func TestProto(t *testing.T) {
	for v, want := range map[uint64]string{1: "ICMP", 6: "TCP", 17: "UDP", 58: "IPv6-ICMP", 132: "SCTP", 200: "proto#200", 255: "reserved", 300: "proto#300"} {
		if got := string(appendProto(nil, v)); got != want {
			t.Errorf("proto %d: got %q, want %q", v, got, want)
		}
	}
}

var tcpFlags = []datasource.EnumValue{{Name: "FIN", Value: 1}, {Name: "SYN", Value: 2}, {Name: "RST", Value: 4}, {Name: "PSH", Value: 8}, {Name: "ACK", Value: 16}}

func TestEnum(t *testing.T) {
	states := []datasource.EnumValue{{Name: "TCP_ESTABLISHED", Value: 1}, {Name: "TCP_SYN_SENT", Value: 2}, {Name: "NEG", Value: math.MaxUint64}}
	tests := []struct {
		v    uint64
		want string
	}{
		{1, "TCP_ESTABLISHED"}, // no prefix is stripped
		{2, "TCP_SYN_SENT"},
		{math.MaxUint64, "NEG"}, // a signed -1, sign-extended by Field.Uint64
		{0, "UNKNOWN"},
		{7, "UNKNOWN"},
	}
	for _, tc := range tests {
		if got := string(appendEnum(nil, states, tc.v)); got != tc.want {
			t.Errorf("enum %d: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestBitfield(t *testing.T) {
	withZero := append([]datasource.EnumValue{{Name: "NONE", Value: 0}}, tcpFlags...)
	tests := []struct {
		values []datasource.EnumValue
		sep    string
		v      uint64
		want   string
	}{
		{tcpFlags, "|", 0, ""},
		{tcpFlags, "|", 2, "SYN"},
		{tcpFlags, "|", 18, "SYN|ACK"},
		{tcpFlags, "|", 18 | 0x80, "SYN|ACK"}, // 0x80 has no name: dropped
		{tcpFlags, ", ", 0x1f, "FIN, SYN, RST, PSH, ACK"},
		{withZero, "|", 1, "NONE|FIN"}, // a zero value always matches (upstream)
	}
	for _, tc := range tests {
		if got := string(appendBitfield(nil, tc.values, tc.sep, tc.v)); got != tc.want {
			t.Errorf("bitfield %#x: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestParseIDNames(t *testing.T) {
	m := parseIDNames([]byte("root:x:0:0:root:/root:/bin/bash\n" +
		"# comment\n\n  daemon:x:1:1::/:/usr/sbin/nologin\n" +
		"toor:x:0:0::/root:/bin/sh\n" + // a second name for 0: the first wins
		"broken line\nbad:x:notanumber:0\n:x:7:7\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin"))
	want := idNames{0: "root", 1: "daemon", 65534: "nobody"}
	if len(m) != len(want) {
		t.Fatalf("got %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("id %d: got %q, want %q", k, m[k], v)
		}
	}
}

func TestTimestampFormatter(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("X", 5*3600+1800), time.FixedZone("Y", -7*3600)} {
		time.Local = loc
		for _, layout := range []string{defaultTimestampLayout, "15:04:05.000"} {
			f := &timestampFormatter{layout: layout}
			base := uint64(time.Date(2025, 3, 30, 0, 59, 58, 0, time.UTC).UnixNano())
			for i := 0; i < 5000; i++ {
				ns := base + uint64(rng.Int64N(4e9)) // a few seconds, many per second
				if i%100 == 0 {
					ns = uint64(rng.Int64N(math.MaxInt64))
				}
				want := time.Unix(0, int64(ns)).Format(layout)
				if got := string(f.append(nil, ns)); got != want {
					t.Fatalf("%s %q %d: got %q, want %q", loc, layout, ns, got, want)
				}
			}
			if got := f.append(nil, 0); len(got) != 0 {
				t.Errorf("zero timestamp rendered %q", got)
			}
		}
	}
}
