package api

import (
	"errors"
	"strconv"
)

// apiVersion is what gadgetAPIVersion returns: the v1 ABI.
const apiVersion = 1

// Subscriptions: callback ID i is callbacks[i-1]. The guest is
// single-threaded (the host never calls into it concurrently), so no
// locking. A slice rather than a map: a lookup is one index, and a module
// that uses no map of its own links none of Go's map code.
var callbacks []any

// callback returns the subscription registered under id, nil if none.
func callback(id uint64) any {
	if id == 0 || id > uint64(len(callbacks)) {
		return nil
	}
	return callbacks[id-1]
}

// GetDataSource returns the data source called name, which an earlier
// stage (the eBPF program, another operator) created.
func GetDataSource(name string) (DataSource, error) {
	h := hostGetDataSource(name)
	if h == 0 {
		return 0, errors.New("data source " + strconv.Quote(name) + " not found")
	}
	return DataSource(h), nil
}

// NewDataSource creates a data source the gadget emits into.
func NewDataSource(name string, typ DataSourceType) (DataSource, error) {
	h := hostNewDataSource(name, uint32(typ))
	if h == 0 {
		return 0, errors.New("create data source " + strconv.Quote(name))
	}
	return DataSource(h), nil
}

func (ds DataSource) subscribe(cb any, priority uint32, typ subscriptionType) error {
	callbacks = append(callbacks, cb)
	id := uint64(len(callbacks))
	if hostSubscribe(uint32(ds), uint32(typ), priority, id) != 0 {
		callbacks = callbacks[:id-1] // the host did not take the id
		return errors.New("subscribe to data source")
	}
	return nil
}

// Subscribe calls cb for every event of ds. Lower priorities run first.
// On an ig host the calls come in batches (see the package documentation);
// cb cannot tell the difference.
func (ds DataSource) Subscribe(cb DataFunc, priority uint32) error {
	return ds.subscribe(cb, priority, subscriptionData)
}

// SubscribeArray calls cb once per packet of an array data source.
func (ds DataSource) SubscribeArray(cb ArrayFunc, priority uint32) error {
	return ds.subscribe(cb, priority, subscriptionArray)
}

// SubscribePacket calls cb once per packet, single or array.
func (ds DataSource) SubscribePacket(cb PacketFunc, priority uint32) error {
	return ds.subscribe(cb, priority, subscriptionPacket)
}

// dispatch runs the callback registered under cbID: the v1 per-event path.
//
// A call that comes while a batch runs is nested in it (the guest emitted
// on a datasource it subscribes to, and the host runs the new event at
// once). Its handle may look like a record of the running batch (the
// host's per-event driver numbers records as batch records are numbered),
// so the batch stops answering for its handles until the call returns:
// the host answers for the nested event.
func dispatch(cbID uint64, ds, h uint32) {
	if batch.active {
		batch.setActive(false)
		defer batch.setActive(true)
	}
	switch cb := callback(cbID).(type) {
	case DataFunc:
		cb(DataSource(ds), Data(h))
	case ArrayFunc:
		_ = cb(DataSource(ds), DataArray(h))
	case PacketFunc:
		_ = cb(DataSource(ds), Packet(h))
	}
}

// NewPacketSingle allocates a packet for one event of ds; fill it through
// Data(p), then EmitAndRelease(Packet(p)) or Release(Packet(p)).
func (ds DataSource) NewPacketSingle() (PacketSingle, error) {
	h := hostNewPacketSingle(uint32(ds))
	if h == 0 {
		return 0, errors.New("create packet")
	}
	return PacketSingle(h), nil
}

// NewPacketArray allocates an empty array packet; add events with
// DataArray(p).New and Append.
func (ds DataSource) NewPacketArray() (PacketArray, error) {
	h := hostNewPacketArray(uint32(ds))
	if h == 0 {
		return 0, errors.New("create packet")
	}
	return PacketArray(h), nil
}

// EmitAndRelease hands packet to the next stages; it must not be used
// afterwards.
func (ds DataSource) EmitAndRelease(packet Packet) error {
	if hostEmitAndRelease(uint32(ds), uint32(packet)) != 0 {
		return errors.New("emit packet")
	}
	return nil
}

// Release frees a packet without emitting it.
func (ds DataSource) Release(packet Packet) error {
	if hostRelease(uint32(ds), uint32(packet)) != 0 {
		return errors.New("release packet")
	}
	return nil
}

// Unreference hides ds from the stages after this one (the output, for
// instance).
func (ds DataSource) Unreference() error {
	if hostUnreference(uint32(ds)) != 0 {
		return errors.New("unreference data source")
	}
	return nil
}

// IsReferenced tells whether a later stage uses ds.
func (ds DataSource) IsReferenced() bool {
	return hostIsReferenced(uint32(ds)) == 1
}

// GetField returns the field called name.
func (ds DataSource) GetField(name string) (Field, error) {
	h := hostGetField(uint32(ds), name)
	if h == 0 {
		return 0, errors.New("field " + strconv.Quote(name) + " not found")
	}
	return Field(h), nil
}

// AddField adds a field of the given kind to ds; call it from gadgetInit.
func (ds DataSource) AddField(name string, kind FieldKind) (Field, error) {
	h := hostAddField(uint32(ds), name, uint32(kind))
	if h == 0 {
		return 0, errors.New("add field " + strconv.Quote(name))
	}
	return Field(h), nil
}

// New allocates an event in the array; fill it and Append it, or Release
// it.
func (d DataArray) New() Data {
	return Data(hostArrayNew(uint32(d)))
}

// Append adds an event created by New to the array.
func (d DataArray) Append(data Data) error {
	if hostArrayAppend(uint32(d), uint32(data)) != 0 {
		return errors.New("append to data array")
	}
	return nil
}

// Release frees an event created by New that was not appended.
func (d DataArray) Release(data Data) error {
	if hostArrayRelease(uint32(d), uint32(data)) != 0 {
		return errors.New("release data")
	}
	return nil
}

// Len is the number of events in the array.
func (d DataArray) Len() int {
	return int(hostArrayLen(uint32(d)))
}

// Get returns the event at index; the handle is 0 when index is out of
// range.
func (d DataArray) Get(index int) Data {
	return Data(hostArrayGet(uint32(d), uint32(index)))
}
