package api

// Handles. Every object the host hands to the guest is a 32-bit handle into
// a per-instance table; 0 is never valid. The types only differ so that the
// compiler catches a field passed where a data source is expected.
type (
	// DataSource is a stream of events, either created by the gadget
	// ([NewDataSource]) or found by name ([GetDataSource]).
	DataSource uint32
	// Field is one column of a data source ([DataSource.GetField],
	// [DataSource.AddField]).
	Field uint32
	// Data is one event: the argument of a [DataFunc], an element of a
	// [DataArray], or a [PacketSingle] converted with Data(p).
	Data uint32
	// DataArray is a packet of several events.
	DataArray uint32
	// Packet is what a data source emits or releases: a PacketSingle or a
	// PacketArray converted with Packet(p).
	Packet uint32
	// PacketSingle is a packet holding one event.
	PacketSingle uint32
	// PacketArray is a packet holding any number of events.
	PacketArray uint32
)

// Callback types for [DataSource.Subscribe], [DataSource.SubscribeArray]
// and [DataSource.SubscribePacket].
type (
	DataFunc   func(DataSource, Data)
	ArrayFunc  func(DataSource, DataArray) error
	PacketFunc func(DataSource, Packet) error
)

// FieldKind is the type of a field's value. The names and values are the
// ones of Inspektor Gadget's api.Kind.
type FieldKind uint32

const (
	Kind_Invalid FieldKind = 0
	Kind_Bool    FieldKind = 1
	Kind_Int8    FieldKind = 2
	Kind_Int16   FieldKind = 3
	Kind_Int32   FieldKind = 4
	Kind_Int64   FieldKind = 5
	Kind_Uint8   FieldKind = 6
	Kind_Uint16  FieldKind = 7
	Kind_Uint32  FieldKind = 8
	Kind_Uint64  FieldKind = 9
	Kind_Float32 FieldKind = 10
	Kind_Float64 FieldKind = 11
	Kind_String  FieldKind = 12
	Kind_CString FieldKind = 13
	Kind_Bytes   FieldKind = 14
)

// DataSourceType selects what a new data source emits.
type DataSourceType uint32

const (
	DataSourceTypeUndefined DataSourceType = 0
	DataSourceTypeSingle    DataSourceType = 1 // one event per packet
	DataSourceTypeArray     DataSourceType = 2 // many events per packet
)

// Well-known data sources.
const (
	// DataSourceContainers announces containers; its field "event_type" is
	// PRECREATE, CREATED or DELETED.
	DataSourceContainers = "containers"
	// DataSourceContainersEventTypeMaxSize is a buffer size that holds any
	// value of the containers data source's event type, with room to spare.
	DataSourceContainersEventTypeMaxSize = 16
)

// subscriptionType is the type argument of the host's dataSourceSubscribe.
// The values are the ones Inspektor Gadget's hosts and SDKs use today (0 is
// rejected as invalid).
type subscriptionType uint32

const (
	subscriptionData   subscriptionType = 1
	subscriptionArray  subscriptionType = 2
	subscriptionPacket subscriptionType = 3
)
