package wasmhost

import (
	"fmt"

	"github.com/gadgetkit/ig/internal/wasmbin"
	"github.com/gadgetkit/ig/internal/wasmhost/internal/preempt"
)

// maxTableEntries bounds the entries of a module's tables, all together:
// a table lives in the host's heap (a word per entry), outside the guest
// memory limit, and table.grow on a table without a maximum could take
// gigabytes. The preemption rewrite gives tables without a maximum
// preempt.TableMax (Go and C modules declare one funcref table of a few
// thousand entries, without one).
const maxTableEntries = 4 * preempt.TableMax

// checkTables refuses a module whose tables (its own or imported) may hold
// more than maxTableEntries, and, with requireMax, one with a table
// without a maximum size. Malformed sections are left to wazero, which
// reports them.
func checkTables(wasm []byte, requireMax bool) error {
	r := &wasmbin.Reader{B: wasm, Pos: 8}
	if len(wasm) < 8 {
		return nil
	}
	var total uint64
	table := func(where string) error {
		r.Byte() // reference type
		flags := r.Byte()
		size := uint64(r.U32()) // minimum
		hasMax := flags&1 != 0
		if hasMax {
			size = uint64(r.U32())
		}
		if r.Err != nil {
			return nil
		}
		// Too large first: a table without a maximum whose minimum is
		// already too large is refused for its size.
		if total += size; total > maxTableEntries {
			return fmt.Errorf("%s: the module's tables may hold %d entries, more than %d", where, total, maxTableEntries)
		}
		if !hasMax && requireMax {
			return fmt.Errorf("%s has no maximum size (ig needs one, at most %d entries in all)", where, maxTableEntries)
		}
		return nil
	}
	for !r.Done() {
		id := r.Byte()
		size := r.U32()
		end := r.Pos + int(size)
		if r.Err != nil || end > len(wasm) || end < r.Pos {
			return nil
		}
		switch id {
		case 2: // imports
			n := r.U32()
			for k := uint32(0); k < n && r.Err == nil; k++ {
				mod, name := r.Name(), r.Name()
				switch r.Byte() {
				case 0x00: // function
					r.U32()
				case 0x01:
					if err := table(fmt.Sprintf("imported table %s.%s", mod, name)); err != nil {
						return err
					}
				case 0x02: // memory
					if r.Byte()&1 != 0 {
						r.U32()
					}
					r.U32()
				case 0x03: // global
					r.Byte()
					r.Byte()
				default:
					return nil
				}
			}
		case 4: // tables
			n := r.U32()
			for k := uint32(0); k < n && r.Err == nil; k++ {
				if err := table(fmt.Sprintf("table %d", k)); err != nil {
					return err
				}
			}
		}
		r.Pos = end
	}
	return nil
}
