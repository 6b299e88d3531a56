package decode

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

func TestBootOffsetMakesWallClock(t *testing.T) {
	off, err := BootOffset()
	if err != nil {
		t.Fatal(err)
	}
	var boot unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		t.Fatal(err)
	}
	got := WallClock(uint64(boot.Nano() + off))
	if d := time.Since(got); d < -time.Millisecond || d > time.Second {
		t.Fatalf("boot time + offset is %v away from now", d)
	}
}

func TestStage(t *testing.T) {
	ds := datasource.New("x", datasource.TypeSingle)
	ts, _ := ds.AddStaticField(nil, "timestamp_raw", datasource.Uint64, 0, 8, 0)
	ts.Tags = []string{"type:gadget_timestamp"}
	zero, _ := ds.AddStaticField(nil, "other_ts", datasource.Uint64, 8, 8, 0)
	zero.Tags = []string{"type:gadget_timestamp"}
	n, _ := ds.AddStaticField(nil, "data_len", datasource.Uint32, 16, 4, 0)
	rest, _ := ds.AddField(nil, "data", datasource.Bytes, 0)
	ds.StaticSize = 24 // the struct is padded to 8 bytes
	if New(datasource.New("none", datasource.TypeSingle), nil, nil, 1) != nil {
		t.Error("a datasource without timestamps or trailing data got a stage")
	}
	st := New(ds, rest, n, 1000)

	raw := make([]byte, 24+5)
	binary.NativeEndian.PutUint64(raw[0:], 42)
	binary.NativeEndian.PutUint32(raw[16:], 3)
	copy(raw[24:], "hello")
	r := ds.NewRecord()
	r.SetStatic(raw, ds.StaticSize)
	if err := st.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}}); err != nil {
		t.Fatal(err)
	}
	if ts.Uint64(r) != 1042 || zero.Uint64(r) != 0 {
		t.Errorf("timestamps %d %d, want 1042 0", ts.Uint64(r), zero.Uint64(r))
	}
	if string(rest.Raw(r)) != "hel" {
		t.Errorf("rest %q, want hel (cut to data_len)", rest.Raw(r))
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = st.Process(&pipeline.Batch{DS: ds, Records: []*datasource.Record{r}})
	}); n > 1 { // the Batch literal itself
		t.Errorf("%v allocations per batch", n)
	}
}
