package wasmhost

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/gadgetkit/ig/internal/syscalls"

	"github.com/tetratelabs/wazero/api"
)

// syscallNames is the syscall table of the running architecture.
var syscallNames = syscalls.Table(runtime.GOARCH)

var syscallIDs = sync.OnceValue(func() map[string]int {
	m := make(map[string]int, len(syscallNames))
	for nr, name := range syscallNames {
		if name != "" {
			m[name] = nr
		}
	}
	return m
})

// syscallName returns the name of syscall nr, or "syscall_<hex nr>" (as
// strace prints unknown ones).
func syscallName(nr uint32) string {
	if uint64(nr) < uint64(len(syscallNames)) && syscallNames[nr] != "" {
		return syscallNames[nr]
	}
	return "syscall_" + strconv.FormatUint(uint64(nr), 16)
}

func (i *Instance) hGetSyscallName(g api.Module, s []uint64) {
	name := syscallName(u32(s[0]))
	s[0] = err32
	if i.writeGuest(g, "getSyscallName", s[1], []byte(name), true) {
		s[0] = ok32
	}
}

func (i *Instance) hGetSyscallID(g api.Module, s []uint64) {
	name, ok := i.readGuest(g, "getSyscallID", s[0])
	s[0] = minus1
	if !ok {
		return
	}
	if nr, found := syscallIDs()[string(name)]; found {
		s[0] = uint64(uint32(nr))
	}
}

// The declaration struct getSyscallDeclaration writes (little endian):
//
//	name     [32]byte
//	nrParams uint8
//	_        [3]byte
//	params   [6]struct{ name [32]byte; flags uint32 }  // flags: 1 = pointer
const (
	declNameLen   = 32
	declMaxParams = 6
	declParamSize = declNameLen + 4
	declSize      = declNameLen + 4 + declMaxParams*declParamSize // 252
	declIsPointer = 1
)

type syscallParam struct {
	name      string
	isPointer bool
}

// syscallDecls caches declarations read from tracefs.
type syscallDecls struct {
	m map[string][]syscallParam
}

// tracefsRoots are where syscall event formats are looked up, in order.
var tracefsRoots = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

func validSyscallName(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// readSyscallParams parses events/syscalls/sys_enter_<name>/format: each
// "field:<type> <name>;" line after __syscall_nr is a parameter.
func readSyscallParams(name string) ([]syscallParam, error) {
	var lastErr error
	for _, root := range tracefsRoots {
		f, err := os.Open(root + "/events/syscalls/sys_enter_" + name + "/format")
		if err != nil {
			lastErr = err
			continue
		}
		defer f.Close()
		var params []syscallParam
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			decl, ok := strings.CutPrefix(line, "field:")
			if !ok {
				continue
			}
			decl, _, _ = strings.Cut(decl, ";")
			k := strings.LastIndexAny(decl, " *")
			if k < 0 {
				continue
			}
			pname := decl[k+1:]
			if strings.HasPrefix(pname, "common_") || pname == "__syscall_nr" {
				continue
			}
			params = append(params, syscallParam{name: pname, isPointer: strings.Contains(decl, "*")})
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return params, nil
	}
	if errors.Is(lastErr, os.ErrNotExist) {
		return nil, fmt.Errorf("no syscall %q in tracefs (mounted at %s?)", name, tracefsRoots[0])
	}
	return nil, lastErr
}

func (i *Instance) hGetSyscallDeclaration(g api.Module, s []uint64) {
	const fn = "getSyscallDeclaration"
	name, ok := i.readGuest(g, fn, s[0])
	dst := s[1]
	s[0] = err32
	if !ok {
		return
	}
	if !validSyscallName(name) {
		i.logf(LevelDebug, fn, "invalid syscall name %q", name)
		return
	}
	if i.syscalls == nil {
		i.syscalls = &syscallDecls{m: map[string][]syscallParam{}}
	}
	params, cached := i.syscalls.m[string(name)]
	if !cached {
		var err error
		if params, err = readSyscallParams(string(name)); err != nil {
			i.logf(LevelDebug, fn, "%v", err)
			return
		}
		i.syscalls.m[string(name)] = params
	}
	var out [declSize]byte
	copy(out[:declNameLen-1], name)
	n := min(len(params), declMaxParams)
	out[declNameLen] = byte(n)
	for k := 0; k < n; k++ {
		p := out[declNameLen+4+k*declParamSize:]
		copy(p[:declNameLen-1], params[k].name)
		if params[k].isPointer {
			binary.LittleEndian.PutUint32(p[declNameLen:], declIsPointer)
		}
	}
	if i.writeGuest(g, fn, dst, out[:], false) {
		s[0] = ok32
	}
}
