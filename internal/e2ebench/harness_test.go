package e2ebench

import (
	"os"
	"strings"
	"testing"
)

func TestCounter(t *testing.T) {
	out := strings.Join([]string{
		`{"fname":"/tmp/x/marker","proc":{"pid":1}}`,
		`{"fname":"/tmp/x/load","proc":{"pid":1}}`,
		`{"lost_events":{"datasource":"open","count":12,"total":12}}`,
		`{"fname":"/tmp/x/load","proc":{"pid":1}}`,
		`{"fname":"/tmp/x/other","proc":{"pid":1}}`,
		`{"name":"load.bench.test.","unanswered":true}`,
		`{"lost_events":{"datasource":"open","count":3,"total":15}}`,
		`{"fname":"/tmp/x/load"}`, // no newline at the end
	}, "\n")
	c := newCounter(Scenario{}, `"fname":"/tmp/x/load"`, `"fname":"/tmp/x/marker"`)
	if err := c.run(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.first:
	default:
		t.Error("the marker was not seen")
	}
	if got := c.delivered.Load(); got != 3 {
		t.Errorf("delivered %d, want 3", got)
	}
	if got, n := c.dropped.Load(), c.lostRecords.Load(); got != 15 || n != 2 {
		t.Errorf("dropped %d in %d records, want 15 in 2", got, n)
	}

	c = newCounter(Scenario{}, `"name":"load.bench.test."`, `"name":"marker.bench.test."`)
	c.exclude = []byte(`"unanswered":`)
	if err := c.run(strings.NewReader(out)); err != nil {
		t.Fatal(err)
	}
	if got := c.delivered.Load(); got != 0 {
		t.Errorf("dns_unanswered counted as delivered: %d", got)
	}
}

func TestProcCPU(t *testing.T) {
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestOnlineCPUs(t *testing.T) {
	if cpus := onlineCPUs(); len(cpus) == 0 {
		t.Fatal("no online CPU")
	}
}
