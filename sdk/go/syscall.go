package api

import "errors"

const (
	maxSyscallName       = 64
	syscallParamIsPtr    = 1
	syscallMaxParams     = 6
	syscallNameFieldSize = 32
)

// syscallDeclaration is the structure getSyscallDeclaration fills in guest
// memory (252 bytes, little endian).
type syscallDeclaration struct {
	name     [syscallNameFieldSize]byte
	nrParams uint8
	_        [3]byte
	params   [syscallMaxParams]syscallParam
}

type syscallParam struct {
	name  [syscallNameFieldSize]byte
	flags uint32
}

// SyscallParam is one parameter of a system call.
type SyscallParam struct {
	Name      string
	IsPointer bool
}

// SyscallDeclaration describes a system call of the running kernel.
type SyscallDeclaration struct {
	Name   string
	Params []SyscallParam
}

// GetSyscallName returns the name of the system call with number id on the
// host's architecture.
func GetSyscallName(id uint16) (string, error) {
	var dst [maxSyscallName]byte
	if hostGetSyscallName(uint32(id), dst[:]) != 0 {
		return "", errors.New("get name of syscall " + itoa(id))
	}
	return string(cutNUL(dst[:])), nil
}

// GetSyscallID returns the number of the system call name.
func GetSyscallID(name string) (int32, error) {
	id := hostGetSyscallID(name)
	if id == -1 {
		return 0, errors.New("get number of syscall " + name)
	}
	return id, nil
}

// GetSyscallDeclaration returns the parameters of the system call name.
func GetSyscallDeclaration(name string) (SyscallDeclaration, error) {
	var raw syscallDeclaration
	if hostGetSyscallDeclaration(name, &raw) != 0 {
		return SyscallDeclaration{}, errors.New("syscall declaration " + name + " not found")
	}
	n := min(int(raw.nrParams), syscallMaxParams)
	decl := SyscallDeclaration{
		Name:   string(cutNUL(raw.name[:])),
		Params: make([]SyscallParam, n),
	}
	for i := range n {
		decl.Params[i] = SyscallParam{
			Name:      string(cutNUL(raw.params[i].name[:])),
			IsPointer: raw.params[i].flags&syscallParamIsPtr != 0,
		}
	}
	return decl, nil
}
