package formatters

import (
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
	"github.com/gadgetkit/ig/internal/syscalls"
)

// BenchmarkTraceOpen renders a batch of trace_open events (timestamp,
// errno, flags, mode, uid and gid names) and reports the cost per event.
func BenchmarkTraceOpen(b *testing.B) {
	e := newTraceOpen(b)
	st, err := New(e.ds, Options{HostRoot: writeHostRoot(b)})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 256
	bt := &pipeline.Batch{DS: e.ds}
	now := uint64(time.Now().UnixNano())
	for i := 0; i < batch; i++ {
		r := e.ds.NewRecord()
		// Mostly successful opens, some ENOENT, a few O_CREAT with a mode.
		errno, flags, mode := uint32(0), uint32(0o2000000), uint32(0)
		switch i % 8 {
		case 1, 5:
			errno = 2
		case 3:
			flags, mode = 0o2001101, 0o644
		}
		e.set(r, now+uint64(i)*1000, "cat", uint32(i%2)*1000, 50, errno, 3, flags, mode, "/usr/lib/x86_64-linux-gnu/libc.so.6")
		bt.Records = append(bt.Records, r)
	}
	_ = st.Process(bt)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = st.Process(bt)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}

// BenchmarkKind renders one value of each kind into a reused buffer.
func BenchmarkKind(b *testing.B) {
	now := uint64(time.Now().UnixNano())
	raw := ipRaw("2001:db8::1")
	tsf := &timestampFormatter{layout: defaultTimestampLayout}
	benches := []struct {
		name string
		fn   func([]byte) []byte
	}{
		{"timestamp", func(p []byte) []byte { return appendTimestamp(p, now, defaultTimestampLayout) }},
		{"timestamp_cached", func(p []byte) []byte { return tsf.append(p, now) }},
		{"errno", func(p []byte) []byte { return appendErrno(p, 2) }},
		{"signal", func(p []byte) []byte { return appendSignal(p, 9) }},
		{"syscall", func(p []byte) []byte { return appendSyscall(p, syscalls.Table("amd64"), 257) }},
		{"file_flags", func(p []byte) []byte { return appendFileFlags(p, genericOpenFlags, 0o2001101) }},
		{"file_mode", func(p []byte) []byte { return appendFileMode(p, 0o104755) }},
		{"bytes", func(p []byte) []byte { return appendBytes(p, 82854982) }},
		{"duration", func(p []byte) []byte { return appendDuration(p, 1234567) }},
		{"ipv6", func(p []byte) []byte { p, _ = appendIP(p, raw, 6); return p }},
		{"bitfield", func(p []byte) []byte { return appendBitfield(p, tcpFlags, "|", 18) }},
		{"enum", func(p []byte) []byte {
			return appendEnum(p, []datasource.EnumValue{{Name: "A", Value: 1}, {Name: "B", Value: 2}}, 2)
		}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			p := make([]byte, 0, 64)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p = bb.fn(p[:0])
			}
		})
	}
}
