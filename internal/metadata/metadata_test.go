package metadata_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gadgetkit/ig/internal/metadata"
)

func TestParseTraceOpen(t *testing.T) {
	data, err := os.ReadFile("../../gadgets/trace_open/gadget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := metadata.Parse(data, "gadget.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "trace_open" {
		t.Errorf("name = %q", g.Name)
	}
	if p := g.Param("ebpf", "targ_failed"); p == nil || p.Key != "failed" || p.DefaultValue != "false" {
		t.Errorf("params.ebpf.targ_failed = %+v", p)
	}
	if a := g.FieldAnnotations("open", "fname"); a["description"] == "" {
		t.Errorf("open.fname has no description: %v", a)
	}
}

func TestParseAnnotationsAnyScalar(t *testing.T) {
	g, err := metadata.Parse([]byte(`
name: x
annotations:
  enable-containers-datasource: true
datasources:
  ds:
    annotations:
      cli.clear-screen-before: true
    fields:
      proc.comm:
        annotations:
          columns.width: 20
          columns.hidden: true
paramDefaults:
  operator.oci.ebpf.map-fetch-interval: "0"
programs:
  p1:
    attach_to: gadget_program_disabled
ebpfParams:
  targ_x:
    key: x
    defaultValue: "1"
`), "")
	if err != nil {
		t.Fatal(err)
	}
	a := g.FieldAnnotations("ds", "proc.comm")
	if a.Int("columns.width", 0) != 20 || !a.Bool("columns.hidden", false) {
		t.Errorf("field annotations = %v", a)
	}
	if g.Annotations["enable-containers-datasource"] != "true" {
		t.Errorf("annotations = %v", g.Annotations)
	}
	if v, ok := g.Lookup("programs.p1.attach_to"); !ok || v != "gadget_program_disabled" {
		t.Errorf("Lookup(programs.p1.attach_to) = %v, %v", v, ok)
	}
	if p := g.Param("ebpf", "targ_x"); p == nil || p.Key != "x" {
		t.Errorf("legacy ebpfParams not read: %+v", p)
	}
}

// TestParseAnnotationsAliases: YAML aliases and merge keys work in
// annotations as anywhere else in the document (upstream accepts them).
func TestParseAnnotationsAliases(t *testing.T) {
	g, err := metadata.Parse([]byte(`
name: x
w: &w 20
common: &common
  columns.width: 8
  columns.hidden: true
datasources:
  ds:
    fields:
      a:
        annotations:
          columns.width: *w
      b:
        annotations:
          <<: *common
          columns.hidden: false
      c:
        annotations: *common
`), "")
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]map[string]string{
		"a": {"columns.width": "20"},
		"b": {"columns.width": "8", "columns.hidden": "false"},
		"c": {"columns.width": "8", "columns.hidden": "true"},
	} {
		got := g.FieldAnnotations("ds", field)
		if len(got) != len(want) {
			t.Errorf("field %s: annotations %v, want %v", field, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("field %s: %s = %q, want %q", field, k, got[k], v)
			}
		}
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"syntax", "name: x\ndatasources:\n  open:\n    fields: [\n", "gadget.yaml:"},
		{"bad indentation", "name: x\n  description: y\n", "gadget.yaml:2:"},
		{"wrong type", "name: x\ndatasources: 3\n", "gadget.yaml:2:"},
		{"annotation not scalar", "datasources:\n  d:\n    annotations:\n      a: [1]\n", "gadget.yaml:4:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := metadata.Parse([]byte(tc.doc), "gadget.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, metadata.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line starting with %q", err, tc.want)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	g, err := metadata.Parse(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "" || len(g.DataSources) != 0 {
		t.Errorf("empty document gave %+v", g)
	}
}

func TestCloneConfigIsIndependent(t *testing.T) {
	g, err := metadata.Parse([]byte("programs:\n  p:\n    attach_to: a\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	c := g.Clone()
	c.Config["programs"].(map[string]any)["p"].(map[string]any)["attach_to"] = "b"
	if v, _ := g.Lookup("programs.p.attach_to"); v != "a" {
		t.Fatalf("changing the clone changed the original: %v", v)
	}
	if v, _ := c.Lookup("programs.p.attach_to"); v != "b" {
		t.Fatalf("clone: %v", v)
	}
}
