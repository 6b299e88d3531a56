//go:build linux

package formatters

import (
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The generated tables must agree with golang.org/x/sys/unix, which
// upstream uses (unix.ErrnoName, unix.SignalName), on the host, except
// where x/sys picks a glibc or kernel-internal alias over the UAPI name
// (or names a number the UAPI headers leave unnamed).
func TestTablesMatchUnix(t *testing.T) {
	uapi := map[uint64]string{95: "EOPNOTSUPP", 117: "EUCLEAN", 134: "error#134"}
	for v := uint64(1); v < 4096; v++ {
		want := unix.ErrnoName(syscall.Errno(v))
		got := string(appendErrno(nil, v))
		if want == "" {
			want = "error#" + itoa(v)
		}
		if name, ok := uapi[v]; ok {
			if got != name {
				t.Errorf("errno %d: got %q, want the UAPI name %q", v, got, name)
			}
			continue
		}
		if got != want {
			t.Errorf("errno %d: got %q, x/sys/unix says %q", v, got, want)
		}
	}
	for v := uint64(0); v < 128; v++ {
		want := unix.SignalName(syscall.Signal(v))
		if want == "" {
			want = "signal#" + itoa(v)
		}
		if got := string(appendSignal(nil, v)); got != want {
			t.Errorf("signal %d: got %q, x/sys/unix says %q", v, got, want)
		}
	}
}

func itoa(v uint64) string { return string(appendUint(nil, v)) }

func appendUint(b []byte, v uint64) []byte {
	if v >= 10 {
		b = appendUint(b, v/10)
	}
	return append(b, byte('0'+v%10))
}

func TestHostTables(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skipf("no syscall table for %s", runtime.GOARCH)
	}
	for nr, want := range map[uint64]string{
		unix.SYS_READ: "SYS_READ", unix.SYS_OPENAT: "SYS_OPENAT", unix.SYS_EXECVE: "SYS_EXECVE",
		unix.SYS_CLONE3: "SYS_CLONE3", unix.SYS_BPF: "SYS_BPF", unix.SYS_IO_URING_SETUP: "SYS_IO_URING_SETUP",
	} {
		if got := string(appendSyscall(nil, hostSyscalls, nr)); got != want {
			t.Errorf("syscall %d: got %q, want %q", nr, got, want)
		}
	}
	for v, want := range map[int]string{
		unix.O_RDONLY | unix.O_CLOEXEC | unix.O_DIRECTORY:             "O_RDONLY|O_DIRECTORY|O_CLOEXEC",
		unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | unix.O_NOFOLLOW: "O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW",
		unix.O_RDWR | unix.O_DIRECT | unix.O_NOATIME:                  "O_RDWR|O_DIRECT|O_NOATIME",
		unix.O_RDONLY | unix.O_PATH:                                   "O_RDONLY|O_PATH",
		unix.O_RDWR | unix.O_TMPFILE:                                  "O_RDWR|O_DIRECTORY|O_TMPFILE",
		unix.O_WRONLY | unix.O_SYNC:                                   "O_WRONLY|O_DSYNC|O_SYNC",
	} {
		if got := string(appendFileFlags(nil, hostOpenFlags, uint32(v))); got != want {
			t.Errorf("flags %#o: got %q, want %q", v, got, want)
		}
	}
}
