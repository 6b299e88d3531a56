package containers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
)

// memberOffset returns the byte offset of a member of a kernel struct,
// looking through anonymous structs and unions.
func memberOffset(spec *btf.Spec, typ, member string) (uint32, error) {
	var s *btf.Struct
	if err := spec.TypeByName(typ, &s); err != nil {
		return 0, err
	}
	var find func(ms []btf.Member) (uint32, bool)
	find = func(ms []btf.Member) (uint32, bool) {
		for _, m := range ms {
			if m.Name == member {
				return m.Offset.Bytes(), true
			}
			if m.Name == "" {
				var inner []btf.Member
				switch t := btf.UnderlyingType(m.Type).(type) {
				case *btf.Struct:
					inner = t.Members
				case *btf.Union:
					inner = t.Members
				}
				if off, ok := find(inner); ok {
					return m.Offset.Bytes() + off, true
				}
			}
		}
		return 0, false
	}
	if off, ok := find(s.Members); ok {
		return off, nil
	}
	return 0, fmt.Errorf("struct %s has no member %s", typ, member)
}

// execTracer is what a filtered trace_exec does in the kernel: on every
// exec, read the task's mount namespace id, drop it unless it is in the
// filter map, report {mntns, pid} otherwise.
func execTracer(t *testing.T, filter *ebpf.Map) (*ringbuf.Reader, func()) {
	t.Helper()
	kspec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Skipf("kernel BTF: %v", err)
	}
	offNsproxy, err1 := memberOffset(kspec, "task_struct", "nsproxy")
	offMnt, err2 := memberOffset(kspec, "nsproxy", "mnt_ns")
	offNs, err3 := memberOffset(kspec, "mnt_namespace", "ns")
	offInum, err4 := memberOffset(kspec, "ns_common", "inum")
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Skipf("kernel layout: %v", err)
	}
	read := func(size int32) asm.Instructions { // *(fp-8 or fp-16) = *(r3), size bytes
		dst := int32(-8)
		if size == 4 {
			dst = -16
		}
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP), asm.Add.Imm(asm.R1, dst),
			asm.Mov.Imm(asm.R2, size),
			asm.FnProbeReadKernel.Call(),
		}
	}
	insns := asm.Instructions{
		asm.FnGetCurrentTask.Call(),
		asm.Mov.Reg(asm.R3, asm.R0), asm.Add.Imm(asm.R3, int32(offNsproxy)),
	}
	insns = append(insns, read(8)...)
	insns = append(insns,
		asm.LoadMem(asm.R3, asm.RFP, -8, asm.DWord), asm.JEq.Imm(asm.R3, 0, "out"),
		asm.Add.Imm(asm.R3, int32(offMnt)))
	insns = append(insns, read(8)...)
	insns = append(insns,
		asm.LoadMem(asm.R3, asm.RFP, -8, asm.DWord), asm.JEq.Imm(asm.R3, 0, "out"),
		asm.Add.Imm(asm.R3, int32(offNs+offInum)))
	insns = append(insns, read(4)...)
	insns = append(insns,
		asm.LoadMem(asm.R1, asm.RFP, -16, asm.Word),
		asm.StoreMem(asm.RFP, -24, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference("filter"),
		asm.Mov.Reg(asm.R2, asm.RFP), asm.Add.Imm(asm.R2, -24),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.Word),
		asm.StoreImm(asm.RFP, -12, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference("events"),
		asm.Mov.Reg(asm.R2, asm.RFP), asm.Add.Imm(asm.R2, -24),
		asm.Mov.Imm(asm.R3, 16),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnRingbufOutput.Call(),
		asm.Mov.Imm(asm.R0, 0).WithSymbol("out"),
		asm.Return(),
	)
	coll, err := ebpf.NewCollectionWithOptions(&ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			"filter": {Type: ebpf.Hash, KeySize: 8, ValueSize: 4, MaxEntries: filter.MaxEntries()},
			"events": {Type: ebpf.RingBuf, MaxEntries: 1 << 16},
		},
		Programs: map[string]*ebpf.ProgramSpec{"exec": {Type: ebpf.TracePoint, License: "GPL", Instructions: insns}},
	}, ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{"filter": filter}})
	if err != nil {
		t.Fatalf("load the test exec tracer: %v", err)
	}
	l, err := link.Tracepoint("sched", "sched_process_exec", coll.Programs["exec"], nil)
	if err != nil {
		coll.Close()
		t.Fatal(err)
	}
	rd, err := ringbuf.NewReader(coll.Maps["events"])
	if err != nil {
		t.Fatal(err)
	}
	return rd, func() { l.Close(); rd.Close(); coll.Close() }
}

// TestFirstExecTraced is the kernel-side proof: a container started while
// a filtered exec tracer runs has its very first exec pass the filter,
// because the MntnsSet has put its mount namespace in the map before the
// runc hook lets it run. Nothing from the host gets through.
func TestFirstExecTraced(t *testing.T) {
	requireEnv(t)
	root := t.TempDir()
	c := newTestCollection(t, Options{})
	rec := record(t, c)
	id := uniq("first")
	sel, err := NewSelector(SelectorFlags{ContainerName: id})
	if err != nil {
		t.Fatal(err)
	}
	filter := filterMap(t, 64)
	set, err := NewMntnsSet(c, sel, filter, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	rd, stop := execTracer(t, filter)
	defer stop()

	// The host keeps exec'ing meanwhile (runc itself, the shell below).
	runcRun(t, root, runcBundle(t, id, nil, "sh", "-c", "cat /etc/hostname; exec sleep 1"), id)
	ev := rec.wait(t, "Added "+id, 5*time.Second, func(ev Event) bool { return ev.Type == Added && ev.Container.ID == id })
	ct := ev.Container

	rd.SetDeadline(time.Now().Add(5 * time.Second))
	var pids []uint32
	for len(pids) < 3 { // sh (the init's first exec), cat, sleep
		r, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		mntns := binary.NativeEndian.Uint64(r.RawSample)
		pid := binary.NativeEndian.Uint32(r.RawSample[8:])
		if mntns != ct.MntnsID {
			t.Errorf("exec of pid %d in mntns %d passed the filter (container mntns %d)", pid, mntns, ct.MntnsID)
		}
		pids = append(pids, pid)
	}
	if len(pids) == 0 || pids[0] != ct.Pid {
		t.Fatalf("execs traced in the container: pids %v; the first should be the init process %d", pids, ct.Pid)
	}
	t.Logf("container %s (pid %d): %d execs traced, the first by the init process itself", id, ct.Pid, len(pids))
	logTiming(t, c, id)
}
