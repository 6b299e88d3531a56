package containers

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/pipeline"
)

func TestContainersDataSource(t *testing.T) {
	c := bareCollection()
	c.insert(fake(301, "a", RuntimeContainerd, 3001))
	c.insert(fake(302, "b", RuntimeContainerd, 3002))
	d, err := NewContainersDataSource("node1")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"event_type", "name", "mntns_id", "cgroup_id", "k8s.podName", "runtime.containerName", "runtime.containerImageName"} {
		if d.DS.Field(name) == nil {
			t.Errorf("no field %s", name)
		}
	}
	sel, _ := NewSelector(SelectorFlags{ContainerName: "!b"})
	src := d.Source(c, sel)
	defer src.Close()
	c.insert(fake(303, "c", RuntimeContainerd, 3003))
	c.insert(fake(304, "b", RuntimeContainerd, 3004)) // not selected
	c.removePid(301)
	c.removePid(304)

	r := d.DS.NewRecord()
	type got struct {
		typ, name string
		mntns     uint64
	}
	var seen []got
	src.SetDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		err := src.ReadInto(r)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, got{string(d.DS.Field("event_type").Text(r)), string(d.DS.Field("name").Text(r)), d.DS.Field("mntns_id").Uint64(r)})
	}
	want := []got{{EventCreated, "a", 3001}, {EventCreated, "c", 3003}, {EventDeleted, "a", 3001}}
	if len(seen) != len(want) {
		t.Fatalf("got %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("got %v, want %v", seen, want)
		}
	}
	if string(d.DS.Field("k8s.node").Text(r)) != "node1" || string(d.DS.Field("runtime.runtimeName").Text(r)) != RuntimeContainerd {
		t.Error("runtime/k8s fields not filled")
	}

	// Flush: the queue is drained, then the source is done.
	c.insert(fake(305, "e", RuntimeContainerd, 3005))
	src.SetDeadline(time.Time{})
	if err := src.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := src.ReadInto(r); err != nil || string(d.DS.Field("name").Text(r)) != "e" {
		t.Fatalf("after flush: %v %q", err, d.DS.Field("name").Text(r))
	}
	if err := src.ReadInto(r); !errors.Is(err, pipeline.ErrSourceDone) {
		t.Fatalf("got %v, want ErrSourceDone", err)
	}

	// Listing (ig list-containers) fills records the same way.
	list := c.ListContainers(sel)
	if len(list) != 2 || list[0].Name != "c" || list[1].Name != "e" {
		t.Fatalf("list %v", names(list))
	}
	d.Fill(r, "", list[0])
	if string(d.DS.Field("event_type").Text(r)) != "" || string(d.DS.Field("name").Text(r)) != "c" {
		t.Error("listing record")
	}
}
