package trace_open_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/gadgetkit/ig/internal/gadgetspec"
	"github.com/gadgetkit/ig/internal/testutil"
	"github.com/gadgetkit/ig/internal/testutil/imagetest"
)

// The Go view of trace_open's event, as consumers of its raw records see
// it. CheckLayout keeps it honest against the BTF of the built object.
type gadgetProcess struct {
	Comm    [16]byte `btf:"comm"`
	Pid     uint32   `btf:"pid"`
	Tid     uint32   `btf:"tid"`
	MntnsID uint64   `btf:"mntns_id"`
	Creds   struct {
		UID uint32 `btf:"uid"`
		GID uint32 `btf:"gid"`
	} `btf:"creds"`
	Parent struct {
		Comm [16]byte `btf:"comm"`
		Pid  uint32   `btf:"pid"`
		Tid  uint32   `btf:"tid"`
	} `btf:"parent"`
}

type openEvent struct {
	TimestampRaw uint64        `btf:"timestamp_raw"`
	Proc         gadgetProcess `btf:"proc"`
	ErrorRaw     uint32        `btf:"error_raw"`
	Fd           uint32        `btf:"fd"`
	FlagsRaw     uint32        `btf:"flags_raw"`
	ModeRaw      uint32        `btf:"mode_raw"`
	Fname        [255]byte     `btf:"fname"`
	Fpath        [512]byte     `btf:"fpath"`
}

func TestEventLayoutMatchesBTF(t *testing.T) {
	ig := igWithTraceOpen(t)
	img, _ := imagetest.Image(t, ig.Store, "trace_open")
	testutil.CheckLayout(t, imagetest.Struct(t, ig.Store, "trace_open", "event"), reflect.TypeOf(openEvent{}))

	// The datasource the runtime builds agrees with the Go view too.
	spec, err := gadgetspec.New(bytes.NewReader(img.Program), nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := spec.Tracers[0].DataSource
	if ds.StaticSize != uint32(reflect.TypeOf(openEvent{}).Size()) {
		t.Errorf("datasource size %d, Go size %d", ds.StaticSize, reflect.TypeOf(openEvent{}).Size())
	}
	for name, off := range map[string]uintptr{
		"timestamp_raw": 0,
		"proc.pid":      reflect.TypeOf(openEvent{}).Field(1).Offset + reflect.TypeOf(gadgetProcess{}).Field(1).Offset,
		"error_raw":     reflect.TypeOf(openEvent{}).Field(2).Offset,
		"fname":         reflect.TypeOf(openEvent{}).Field(6).Offset,
	} {
		if f := ds.Field(name); f == nil || uintptr(f.Offset) != off {
			t.Errorf("field %s: %+v, want offset %d", name, f, off)
		}
	}
}
