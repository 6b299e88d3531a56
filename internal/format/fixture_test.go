package format

import (
	"encoding/binary"
	"math"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
)

// openDS builds a datasource shaped like trace_open after the formatters
// stage: the eBPF struct (timestamp, struct gadget_process, error, fd,
// flags, mode, fname) plus the formatted string fields (timestamp, error,
// flags, mode) that stage adds, with the annotations the templates give.
type openDS struct {
	ds                                      *datasource.DataSource
	ts, comm, pid, tid, mntns, uid, gid     *datasource.Field
	pcomm, ppid, ptid                       *datasource.Field
	errRaw, fd, flagsRaw, modeRaw, fname    *datasource.Field
	timestamp, errStr, flags, mode, latency *datasource.Field
	static                                  uint32
}

func newOpenDS(tb testing.TB, typ datasource.Type) *openDS {
	o := &openDS{ds: datasource.New("open", typ)}
	ds := o.ds
	must := func(f *datasource.Field, err error) *datasource.Field {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return f
	}
	static := func(parent *datasource.Field, name string, k datasource.Kind, size uint32, flags datasource.Flags, ann ...string) *datasource.Field {
		f := must(ds.AddStaticField(parent, name, k, o.static, size, flags))
		o.static += size
		for i := 0; i+1 < len(ann); i += 2 {
			f.Annotations[ann[i]] = ann[i+1]
		}
		return f
	}
	container := func(parent *datasource.Field, name string, flags datasource.Flags) *datasource.Field {
		return must(ds.AddStaticField(parent, name, datasource.Invalid, o.static, 0, flags|datasource.FlagContainer))
	}
	dynamic := func(name string, flags datasource.Flags, ann ...string) *datasource.Field {
		f := must(ds.AddField(nil, name, datasource.String, flags))
		for i := 0; i+1 < len(ann); i += 2 {
			f.Annotations[ann[i]] = ann[i+1]
		}
		return f
	}
	o.ts = static(nil, "timestamp_raw", datasource.Uint64, 8, datasource.FlagHidden)
	proc := container(nil, "proc", datasource.FlagHidden)
	o.comm = static(proc, "comm", datasource.CString, 16, 0, annAlias, "comm", annMaxWidth, "16")
	o.pid = static(proc, "pid", datasource.Uint32, 4, 0, annAlias, "pid", annMinWidth, "7", annAlignment, "right")
	o.tid = static(proc, "tid", datasource.Uint32, 4, 0, annAlias, "tid", annMinWidth, "7", annAlignment, "right")
	o.mntns = static(proc, "mntns_id", datasource.Uint64, 8, datasource.FlagHidden, annAlias, "mntns_id", annWidth, "12", annAlignment, "right")
	creds := container(proc, "creds", 0)
	o.uid = static(creds, "uid", datasource.Uint32, 4, 0, annAlias, "uid", annMinWidth, "8", annAlignment, "right")
	o.gid = static(creds, "gid", datasource.Uint32, 4, 0, annAlias, "gid", annMinWidth, "8", annAlignment, "right")
	parent := container(proc, "parent", datasource.FlagHidden)
	o.pcomm = static(parent, "comm", datasource.CString, 16, datasource.FlagHidden, annAlias, "comm")
	o.ppid = static(parent, "pid", datasource.Uint32, 4, datasource.FlagHidden, annAlias, "pid")
	o.ptid = static(parent, "tid", datasource.Uint32, 4, datasource.FlagHidden, annAlias, "tid")
	o.errRaw = static(nil, "error_raw", datasource.Int32, 4, datasource.FlagHidden)
	o.fd = static(nil, "fd", datasource.Uint32, 4, 0, annWidth, "5", annAlignment, "right")
	o.flagsRaw = static(nil, "flags_raw", datasource.Int32, 4, datasource.FlagHidden, annWidth, "8", annAlignment, "right")
	o.modeRaw = static(nil, "mode_raw", datasource.Uint32, 4, datasource.FlagHidden)
	o.fname = static(nil, "fname", datasource.CString, 256, 0, annMinWidth, "24", annWidth, "32")
	// Added by the formatters stage; hidden by annotation only.
	o.timestamp = dynamic("timestamp", 0, annWidth, "35", annMaxWidth, "35", annHidden, "true")
	o.errStr = dynamic("error", 0, annWidth, "12")
	o.flags = dynamic("flags", 0, annWidth, "24", annHidden, "true")
	o.mode = dynamic("mode", 0, annWidth, "10", annHidden, "true")
	o.latency = must(ds.AddField(nil, "latency", datasource.Float64, datasource.FlagHidden))
	return o
}

type openEvent struct {
	ts                       uint64
	comm                     string
	pid, tid                 uint32
	mntns                    uint64
	uid, gid                 uint32
	pcomm                    string
	ppid, ptid               uint32
	errno                    int32
	fd                       uint32
	flagsRaw                 int32
	modeRaw                  uint32
	fname                    string
	timestamp, errStr, flags string
	mode                     string
	latency                  float64
}

func (o *openDS) record(e openEvent) *datasource.Record {
	raw := make([]byte, o.ds.StaticSize)
	ne := binary.NativeEndian
	ne.PutUint64(raw[o.ts.Offset:], e.ts)
	copy(raw[o.comm.Offset:o.comm.Offset+o.comm.Size], e.comm)
	ne.PutUint32(raw[o.pid.Offset:], e.pid)
	ne.PutUint32(raw[o.tid.Offset:], e.tid)
	ne.PutUint64(raw[o.mntns.Offset:], e.mntns)
	ne.PutUint32(raw[o.uid.Offset:], e.uid)
	ne.PutUint32(raw[o.gid.Offset:], e.gid)
	copy(raw[o.pcomm.Offset:o.pcomm.Offset+o.pcomm.Size], e.pcomm)
	ne.PutUint32(raw[o.ppid.Offset:], e.ppid)
	ne.PutUint32(raw[o.ptid.Offset:], e.ptid)
	ne.PutUint32(raw[o.errRaw.Offset:], uint32(e.errno))
	ne.PutUint32(raw[o.fd.Offset:], e.fd)
	ne.PutUint32(raw[o.flagsRaw.Offset:], uint32(e.flagsRaw))
	ne.PutUint32(raw[o.modeRaw.Offset:], e.modeRaw)
	copy(raw[o.fname.Offset:o.fname.Offset+o.fname.Size-1], e.fname)
	r := o.ds.NewRecord()
	r.SetStatic(raw, o.ds.StaticSize)
	o.timestamp.SetString(r, e.timestamp)
	o.errStr.SetString(r, e.errStr)
	o.flags.SetString(r, e.flags)
	o.mode.SetString(r, e.mode)
	var f [8]byte
	ne.PutUint64(f[:], math.Float64bits(e.latency))
	o.latency.SetBytes(r, f[:])
	return r
}

// Recorded events: a reader of resolv.conf, a writer of it, a failed open.
var (
	evReader = openEvent{ts: 1714566896123456789, comm: "systemd-resolve", pid: 612, tid: 612, mntns: 4026531841,
		uid: 101, gid: 103, pcomm: "systemd", ppid: 1, ptid: 1, fd: 12, flagsRaw: 0x80000,
		fname: "/etc/resolv.conf", timestamp: "2024-05-01T12:34:56.123456789Z", flags: "O_RDONLY|O_CLOEXEC", mode: "----------", latency: 1.5}
	evWriter = openEvent{ts: 1714566896223456789, comm: "NetworkManager", pid: 880, tid: 901, mntns: 4026531841,
		uid: 0, gid: 0, pcomm: "systemd", ppid: 1, ptid: 1, fd: 27, flagsRaw: 0x241, modeRaw: 0o644,
		fname: "/etc/resolv.conf", timestamp: "2024-05-01T12:34:56.223456789Z", flags: "O_WRONLY|O_CREAT|O_TRUNC", mode: "-rw-r--r--"}
	evFailed = openEvent{ts: 1714566896323456789, comm: "bash", pid: 4242, tid: 4242, mntns: 4026532001,
		uid: 1000, gid: 1000, pcomm: "sshd: alice", ppid: 4100, ptid: 4100, errno: 2, flagsRaw: 0,
		fname:     "/home/alice/projects/a-rather-long-directory-name/with/many/levels/config.yaml",
		timestamp: "2024-05-01T12:34:56.323456789Z", errStr: "ENOENT", flags: "O_RDONLY", mode: "----------"}
)

// bigEvent is a ~600-byte JSON event (every field, a long path).
var bigEvent = openEvent{ts: 1714566896123456789, comm: "kube-apiserver", pid: 1234567, tid: 1234599, mntns: 4026532457,
	uid: 65534, gid: 65534, pcomm: "containerd-shim", ppid: 1233000, ptid: 1233000, errno: 13, fd: 0,
	flagsRaw: 0x80241, modeRaw: 0o644,
	fname:     "/var/lib/kubelet/pods/0f3c2a7e-5b1d-4c8e-9a61-2d7f0e4b9c13/volumes/kubernetes.io~projected/kube-api-access-x7k2q/..2024_05_01_12_34_56.1234567890/service-account-token",
	timestamp: "2024-05-01T12:34:56.123456789Z", errStr: "EACCES", flags: "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC",
	mode: "-rw-r--r--", latency: 0.000123}

func BenchmarkJSON600(b *testing.B) {
	o := newOpenDS(b, datasource.TypeSingle)
	r := o.record(bigEvent)
	j := NewJSON(nil, o.ds)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(j.AppendRecord(nil, r))))
	b.ReportAllocs()
	// CPU time of this thread as well as wall time: on a loaded machine
	// the first stays meaningful.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	for b.Loop() {
		buf = j.AppendRecord(buf[:0], r)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
	b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/event")
}

// threadCPU returns the CPU time used by the calling thread, in ns.
func threadCPU() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
