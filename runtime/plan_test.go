package runtime

import (
	"maps"
	"testing"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/filter"
	"github.com/gadgetkit/ig/internal/gadgetspec"
)

// TestKernelPushdownScope: a filter term becomes a kernel param only when
// every datasource the programs feed has it; a filter on one datasource
// must not drop the events of another (trace_dns: -F
// dns_unanswered:proc.comm==x emptied dns).
func TestKernelPushdownScope(t *testing.T) {
	newDS := func(name string) *datasource.DataSource {
		ds := datasource.New(name, datasource.TypeSingle)
		proc, err := ds.AddField(nil, "proc", datasource.Invalid, datasource.FlagContainer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ds.AddStaticField(proc, "comm", datasource.CString, 0, 16, 0); err != nil {
			t.Fatal(err)
		}
		return ds
	}
	dns, unanswered := newDS("dns"), newDS("dns_unanswered")
	g := &Gadget{spec: &gadgetspec.Spec{Params: []*gadgetspec.Param{{Key: "comm", Kind: datasource.String, MaxLen: 16}}}}
	for _, c := range []struct {
		filters []string
		fed     []*datasource.DataSource
		user    map[string]string
		want    map[string]string
	}{
		{[]string{"dns_unanswered:proc.comm==nosuch"}, []*datasource.DataSource{dns, unanswered}, nil, map[string]string{}},
		{[]string{"proc.comm==bash"}, []*datasource.DataSource{dns, unanswered}, nil, map[string]string{"comm": "bash"}},
		{[]string{"dns:proc.comm==bash", "dns_unanswered:proc.comm==sh"}, []*datasource.DataSource{dns, unanswered}, nil, map[string]string{}},
		{[]string{"dns:proc.comm==bash"}, []*datasource.DataSource{dns}, nil, map[string]string{"comm": "bash"}},
		{[]string{"proc.comm==bash"}, []*datasource.DataSource{dns, unanswered}, map[string]string{"comm": "sh"}, map[string]string{"comm": "sh"}},
	} {
		filters, err := filter.Compile([]*datasource.DataSource{dns, unanswered}, c.filters)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.kernelParams(c.user, filters, c.fed); !maps.Equal(got, c.want) {
			t.Errorf("filters %q over %d datasources: params %v, want %v", c.filters, len(c.fed), got, c.want)
		}
	}
}
