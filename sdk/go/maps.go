package api

import (
	"encoding/binary"
	"errors"
	"reflect"
)

// Map is an eBPF map: one of the gadget's ([GetMap]) or one created by the
// wasm module ([NewMap]).
type Map uint32

// MapType is the kernel's map type (BPF_MAP_TYPE_*), numbered as in the
// kernel and cilium/ebpf.
type MapType uint32

const (
	UnspecifiedMap MapType = iota
	Hash
	Array
	ProgramArray
	PerfEventArray
	PerCPUHash
	PerCPUArray
	StackTrace
	CGroupArray
	LRUHash
	LRUCPUHash
	LPMTrie
	ArrayOfMaps
	HashOfMaps
	DevMap
	SockMap
	CPUMap
	XSKMap
	SockHash
	CGroupStorage
	ReusePortSockArray
	PerCPUCGroupStorage
	Queue
	Stack
	SkStorage
	DevMapHash
	StructOpsMap
	RingBuf
	InodeStorage
	TaskStorage
)

// MapUpdateFlags are the kernel's BPF_ANY, BPF_NOEXIST, BPF_EXIST and
// BPF_F_LOCK.
type MapUpdateFlags uint64

const (
	UpdateAny     MapUpdateFlags = 0
	UpdateNoExist MapUpdateFlags = 1
	UpdateExist   MapUpdateFlags = 2
	UpdateLock    MapUpdateFlags = 4
)

// MapSpec describes a map for [NewMap].
type MapSpec struct {
	Name       string
	Type       MapType
	KeySize    uint32
	ValueSize  uint32
	MaxEntries uint32
}

// NewMap creates a map.
func NewMap(spec MapSpec) (Map, error) {
	h := hostNewMap(spec.Name, uint32(spec.Type), spec.KeySize, spec.ValueSize, spec.MaxEntries)
	if h == 0 {
		return 0, errors.New("create map " + spec.Name)
	}
	return Map(h), nil
}

// GetMap returns the gadget's map called name. The eBPF maps exist once
// the eBPF programs are loaded: call it from gadgetStart, not gadgetInit.
func GetMap(name string) (Map, error) {
	h := hostGetMap(name)
	if h == 0 {
		return 0, errors.New("map " + name + " not found")
	}
	return Map(h), nil
}

// Keys and values are encoded with encoding/binary in little endian (the
// byte order of wasm and of the hosts ig runs on), so they must have a
// fixed size: int32 rather than int, arrays rather than slices in structs,
// explicit padding fields where the C struct has padding.
func encode(what string, v any) ([]byte, error) {
	b, err := binary.Append(nil, binary.LittleEndian, v)
	if err != nil {
		return nil, wrap("encode "+what+" "+typeName(v), err)
	}
	return b, nil
}

// Lookup reads the value stored under key into value, a pointer to (or a
// slice of) fixed-size data.
func (m Map) Lookup(key any, value any) error {
	k, err := encode("key", key)
	if err != nil {
		return err
	}
	n := binary.Size(value)
	if n < 0 {
		return errors.New("decode value: " + typeName(value) + " is not a pointer to fixed-size data")
	}
	v := make([]byte, n)
	if hostMapLookup(uint32(m), k, v) != 0 {
		return errors.New("look up map")
	}
	if _, err := binary.Decode(v, binary.LittleEndian, value); err != nil {
		return wrap("decode value "+typeName(value), err)
	}
	return nil
}

// Put stores value under key, creating or replacing the entry.
func (m Map) Put(key any, value any) error {
	return m.Update(key, value, UpdateAny)
}

// Update stores value under key subject to flags.
func (m Map) Update(key any, value any, flags MapUpdateFlags) error {
	k, err := encode("key", key)
	if err != nil {
		return err
	}
	v, err := encode("value", value)
	if err != nil {
		return err
	}
	if hostMapUpdate(uint32(m), k, v, uint64(flags)) != 0 {
		return errors.New("update map")
	}
	return nil
}

// Delete removes the entry of key.
func (m Map) Delete(key any) error {
	k, err := encode("key", key)
	if err != nil {
		return err
	}
	if hostMapDelete(uint32(m), k) != 0 {
		return errors.New("delete from map")
	}
	return nil
}

// Close releases the map handle.
func (m Map) Close() error {
	if hostMapRelease(uint32(m)) != 0 {
		return errors.New("close map")
	}
	return nil
}

// typeName is what %T prints for v (encoding/binary links reflect anyway).
func typeName(v any) string {
	if v == nil {
		return "<nil>"
	}
	return reflect.TypeOf(v).String()
}
