// Package syscalls holds the syscall number tables of the architectures
// gadgets are built for, generated from the Linux UAPI headers, for every
// part of ig that names syscalls (the gadget_syscall formatter, the Wasm
// host's getSyscallName/getSyscallID).
package syscalls

//go:generate go run ./internal/mksyscalls -o zsyscalls.go

// Table returns the syscall names of architecture goarch ("amd64",
// "arm64") indexed by number ("" for unused numbers), or nil.
func Table(goarch string) []string {
	switch goarch {
	case "amd64":
		return syscallNamesAMD64[:]
	case "arm64":
		return syscallNamesARM64[:]
	}
	return nil
}
