package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrInvalid is wrapped by every error returned by [Parse].
var ErrInvalid = errors.New("invalid gadget metadata")

// DefaultFile is the name of the metadata file in a gadget directory.
const DefaultFile = "gadget.yaml"

// Gadget is a parsed gadget.yaml.
type Gadget struct {
	Name             string
	Description      string
	HomepageURL      string
	DocumentationURL string
	SourceURL        string
	Annotations      Annotations
	// DataSources is keyed by datasource name.
	DataSources map[string]*DataSource
	// Params is keyed by operator ("ebpf", "wasm") and then by variable or key.
	Params map[string]map[string]*Param
	// Config holds the whole document as generic values, for keys such as
	// paramDefaults or programs.<name>.attach_to.
	Config map[string]any
	// Raw is the original document.
	Raw []byte
}

// DataSource holds the annotations of one datasource and of its fields.
type DataSource struct {
	Annotations Annotations       `yaml:"annotations"`
	Fields      map[string]*Field `yaml:"fields"`
}

// Field holds the annotations of one field, keyed by its full (dotted) name.
type Field struct {
	Annotations Annotations `yaml:"annotations"`
}

// Param describes one gadget parameter.
type Param struct {
	Key            string   `yaml:"key"`
	DefaultValue   string   `yaml:"defaultValue"`
	Description    string   `yaml:"description"`
	AlternativeKey string   `yaml:"alternativeKey"`
	Alias          string   `yaml:"alias"`
	Title          string   `yaml:"title"`
	IsMandatory    bool     `yaml:"isMandatory"`
	Tags           []string `yaml:"tags"`
	TypeHint       string   `yaml:"type"`
	ValueHint      string   `yaml:"valueHint"`
	PossibleValues []string `yaml:"possibleValues"`
}

// Annotations is a string map that accepts any YAML scalar as a value
// (columns.width: 20 and columns.hidden: true are both common).
type Annotations map[string]string

// UnmarshalYAML implements yaml.Unmarshaler. Aliases are followed, and
// merge keys (<<: *base) bring in the annotations of the mappings they
// name, which the mapping's own keys override.
func (a *Annotations) UnmarshalYAML(n *yaml.Node) error {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	m := make(Annotations, len(n.Content)/2)
	if err := m.add(n, 0); err != nil {
		return err
	}
	*a = m
	return nil
}

// maxAliasDepth bounds the merges followed from one mapping.
const maxAliasDepth = 32

// deref follows an alias to the node it names (never an alias: YAML
// anchors nodes, not aliases).
func deref(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// add adds the annotations of the mapping n to m: merged mappings first,
// then n's own keys.
func (m Annotations) add(n *yaml.Node, depth int) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: annotations must be a mapping", n.Line)
	}
	if depth > maxAliasDepth {
		return fmt.Errorf("line %d: annotations merged more than %d deep", n.Line, maxAliasDepth)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Tag != "!!merge" {
			continue
		}
		v := deref(n.Content[i+1])
		from := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			from = v.Content
		}
		for _, f := range from {
			if err := m.add(f, depth+1); err != nil {
				return err
			}
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Tag == "!!merge" {
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: annotation %q must be a scalar", v.Line, k.Value)
		}
		m[k.Value] = v.Value
	}
	return nil
}

type document struct {
	Name             string                       `yaml:"name"`
	Description      string                       `yaml:"description"`
	HomepageURL      string                       `yaml:"homepageURL"`
	DocumentationURL string                       `yaml:"documentationURL"`
	SourceURL        string                       `yaml:"sourceURL"`
	Annotations      Annotations                  `yaml:"annotations"`
	DataSources      map[string]*DataSource       `yaml:"datasources"`
	LegacyDS         map[string]*DataSource       `yaml:"dataSources"`
	Params           map[string]map[string]*Param `yaml:"params"`
	LegacyEBPFParams map[string]*Param            `yaml:"ebpfParams"`
}

var lineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// Parse parses a gadget.yaml document. file is used in error messages only.
// An empty document is valid and yields an empty Gadget.
func Parse(data []byte, file string) (*Gadget, error) {
	if file == "" {
		file = DefaultFile
	}
	var doc document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(false)
	if err := dec.Decode(&doc); err != nil && !isEOF(err) {
		return nil, wrap(file, err)
	}
	var config map[string]any
	if err := yaml.Unmarshal(data, &config); err != nil {
		return nil, wrap(file, err)
	}
	g := &Gadget{
		Name:             doc.Name,
		Description:      doc.Description,
		HomepageURL:      doc.HomepageURL,
		DocumentationURL: doc.DocumentationURL,
		SourceURL:        doc.SourceURL,
		Annotations:      doc.Annotations,
		DataSources:      doc.DataSources,
		Params:           doc.Params,
		Config:           config,
		Raw:              data,
	}
	if g.DataSources == nil {
		g.DataSources = doc.LegacyDS
	}
	if len(doc.LegacyEBPFParams) > 0 {
		if g.Params == nil {
			g.Params = map[string]map[string]*Param{}
		}
		if g.Params["ebpf"] == nil {
			g.Params["ebpf"] = doc.LegacyEBPFParams
		}
	}
	for opName, ps := range g.Params {
		for name, p := range ps {
			if p == nil {
				return nil, fmt.Errorf("%s: params.%s.%s: empty param: %w", file, opName, name, ErrInvalid)
			}
		}
	}
	return g, nil
}

func isEOF(err error) bool { return err != nil && err.Error() == "EOF" }

func wrap(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		err = errors.New(te.Errors[0])
	}
	msg := err.Error()
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s:%s: %s: %w", file, m[1], m[2], ErrInvalid)
	}
	return fmt.Errorf("%s: %s: %w", file, msg, ErrInvalid)
}

// Field returns the annotations of field fullName in datasource ds, or nil.
func (g *Gadget) FieldAnnotations(ds, fullName string) Annotations {
	if g == nil || g.DataSources[ds] == nil || g.DataSources[ds].Fields == nil {
		return nil
	}
	if f := g.DataSources[ds].Fields[fullName]; f != nil {
		return f.Annotations
	}
	return nil
}

// DataSourceAnnotations returns the annotations of datasource ds, or nil.
func (g *Gadget) DataSourceAnnotations(ds string) Annotations {
	if g == nil || g.DataSources[ds] == nil {
		return nil
	}
	return g.DataSources[ds].Annotations
}

// Param returns the param declared for operator op and variable or key name.
func (g *Gadget) Param(op, name string) *Param {
	if g == nil || g.Params[op] == nil {
		return nil
	}
	return g.Params[op][name]
}

// Lookup returns the value at a dotted path of the generic config, e.g.
// "programs.ig_open.attach_to" or "paramDefaults". ok is false when a path
// element is missing.
func (g *Gadget) Lookup(path string) (v any, ok bool) {
	if g == nil {
		return nil, false
	}
	var cur any = g.Config
	for _, p := range strings.Split(path, ".") {
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Bool parses an annotation value as a boolean; absent or invalid values
// give def.
func (a Annotations) Bool(key string, def bool) bool {
	v, ok := a[key]
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def
	}
	return b
}

// Int parses an annotation value as an integer; absent or invalid values
// give def.
func (a Annotations) Int(key string, def int) int {
	v, ok := a[key]
	if !ok {
		return def
	}
	i, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return def
	}
	return i
}

// Keys returns the annotation keys in sorted order.
func (a Annotations) Keys() []string {
	ks := make([]string, 0, len(a))
	for k := range a {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Clone returns a copy of g whose Config can be changed (setConfig from a
// Wasm module) without changing g. The typed parts are shared: they are
// read-only after Parse.
func (g *Gadget) Clone() *Gadget {
	if g == nil {
		return nil
	}
	c := *g
	c.Config, _ = cloneValue(g.Config).(map[string]any)
	return &c
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = cloneValue(e)
		}
		return s
	}
	return v
}
