package filter

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

const flagName = "--filter"

// Op is a comparison. Negation (!=, !~, legacy "field:!…") is a separate
// flag of the term.
type Op uint8

const (
	OpEq    Op = iota // == or =; legacy field:value
	OpLt              // <
	OpLe              // <=
	OpGt              // >
	OpGe              // >=
	OpMatch           // ~ (RE2)
)

var opNames = [...]string{OpEq: "==", OpLt: "<", OpLe: "<=", OpGt: ">", OpGe: ">=", OpMatch: "~"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// operators of the current syntax, longest first.
var operators = []struct {
	s      string
	op     Op
	negate bool
}{
	{"==", OpEq, false}, {"!=", OpEq, true}, {">=", OpGe, false}, {"<=", OpLe, false},
	{"!~", OpMatch, true}, {"=", OpEq, false}, {"~", OpMatch, false}, {">", OpGt, false}, {"<", OpLt, false},
}

// class is how a term reads and compares its field.
type class uint8

const (
	cInt class = iota
	cUint
	cFloat
	cBool
	cText  // String, CString, Bytes: byte-wise comparison
	cRegex // any kind, matched on its text
)

// Term is one compiled comparison: field op value. Match reads the
// field's typed value from a record and compares it with the value parsed
// once to the field's kind.
type Term struct {
	DS     *datasource.DataSource
	Field  *datasource.Field
	Name   string // the field as the user wrote it
	Op     Op
	Negate bool
	Value  string // the value as written (escapes removed)
	Legacy bool   // written field:value

	class   class
	i       int64
	u       uint64
	f       float64
	b       bool
	text    []byte
	re      *regexp.Regexp
	scratch []byte // text of a non-text field for ~
}

func (t *Term) String() string {
	neg := ""
	if t.Negate {
		neg = "!"
	}
	op := t.Op.String()
	if t.Negate && t.Op == OpEq {
		op = "="
	}
	return t.Field.FullName + neg + op + t.Value
}

// Match reports whether r passes the term. It does not allocate; it is
// not safe for concurrent use (a regexp on a number formats into a
// scratch buffer).
func (t *Term) Match(r *datasource.Record) bool {
	var c int
	switch t.class {
	case cInt:
		c = cmp.Compare(t.Field.Int64(r), t.i)
	case cUint:
		c = cmp.Compare(t.Field.Uint64(r), t.u)
	case cFloat:
		c = cmp.Compare(t.Field.Float64(r), t.f)
	case cBool:
		return (t.Field.Bool(r) == t.b) != t.Negate
	case cText:
		c = bytes.Compare(t.Field.Text(r), t.text)
	case cRegex:
		return t.re.Match(t.textOf(r)) != t.Negate
	}
	var ok bool
	switch t.Op {
	case OpEq:
		ok = c == 0
	case OpLt:
		ok = c < 0
	case OpLe:
		ok = c <= 0
	case OpGt:
		ok = c > 0
	case OpGe:
		ok = c >= 0
	}
	return ok != t.Negate
}

// textOf is the field's value as text, for regular expressions.
func (t *Term) textOf(r *datasource.Record) []byte {
	f := t.Field
	k := f.Kind
	switch {
	case k.IsText(), k == datasource.Bytes:
		return f.Text(r)
	case k == datasource.Bool:
		t.scratch = strconv.AppendBool(t.scratch[:0], f.Bool(r))
	case k.IsSigned():
		t.scratch = strconv.AppendInt(t.scratch[:0], f.Int64(r), 10)
	case k.IsUnsigned():
		t.scratch = strconv.AppendUint(t.scratch[:0], f.Uint64(r), 10)
	case k.IsFloat():
		t.scratch = strconv.AppendFloat(t.scratch[:0], f.Float64(r), 'g', -1, 64)
	default:
		t.scratch = t.scratch[:0]
	}
	return t.scratch
}

// Filter is the conjunction of the terms on one datasource, and the
// pipeline stage dropping the records that fail it. Place it after the
// stages that add fields (enrichment, formatters, Wasm), so that those
// fields can be filtered.
type Filter struct {
	DS    *datasource.DataSource
	terms []*Term
	keep  func(*datasource.Record) bool
}

func newFilter(ds *datasource.DataSource) *Filter {
	f := &Filter{DS: ds}
	f.keep = f.Match
	return f
}

// Terms returns the filter's terms (for KernelPushdown).
func (f *Filter) Terms() []*Term { return f.terms }

// Match reports whether r passes every term.
func (f *Filter) Match(r *datasource.Record) bool {
	for _, t := range f.terms {
		if !t.Match(r) {
			return false
		}
	}
	return true
}

// Process implements pipeline.Stage.
func (f *Filter) Process(b *pipeline.Batch) error {
	b.Keep(f.keep)
	return nil
}

// Parse compiles -F/--filter values against one datasource. Terms naming
// another datasource (ds:field==value) are an error.
func Parse(ds *datasource.DataSource, exprs ...string) (*Filter, error) {
	m, err := Compile([]*datasource.DataSource{ds}, exprs)
	if err != nil {
		return nil, err
	}
	if f := m[ds]; f != nil {
		return f, nil
	}
	return newFilter(ds), nil
}

// Compile compiles -F/--filter values (each a comma-separated list of
// terms; every term of every value must hold) against the run's
// datasources. It returns one Filter per datasource that has terms.
//
// A term is field<op>value with op one of == = != >= > <= < ~ !~, or
// ds:field<op>value for one datasource, or the legacy field:value,
// field:!value, field:~regex, field:!~regex, field:>=value (and >, <=,
// <). "\," is a comma inside a value. Field names are full dotted names,
// case-insensitive, or legacy names (see ResolveField). Without ds:, the
// term applies to every datasource that has the field (trace_dns's dns
// and dns_unanswered share their field names, for instance).
func Compile(dss []*datasource.DataSource, exprs []string) (map[*datasource.DataSource]*Filter, error) {
	out := map[*datasource.DataSource]*Filter{}
	for _, expr := range exprs {
		for _, raw := range splitTerms(expr) {
			if strings.TrimSpace(raw) == "" {
				continue
			}
			for _, targets := range termTargets(dss, raw) {
				t, err := parseTerm(targets, raw)
				if err != nil {
					return nil, err
				}
				f := out[t.DS]
				if f == nil {
					f = newFilter(t.DS)
					out[t.DS] = f
				}
				f.terms = append(f.terms, t)
			}
		}
	}
	return out, nil
}

// termTargets returns the datasource lists to parse raw against: one list
// per datasource having the field when raw names no datasource and
// several have it, else dss itself (parseTerm then reports errors).
func termTargets(dss []*datasource.DataSource, raw string) [][]*datasource.DataSource {
	s, err := split(dss, raw)
	if err != nil || s.ds != "" {
		return [][]*datasource.DataSource{dss}
	}
	var having [][]*datasource.DataSource
	for _, ds := range dss {
		if f := ResolveField(ds, s.field); f != nil && !isContainer(f) {
			having = append(having, []*datasource.DataSource{ds})
		}
	}
	if len(having) < 2 {
		return [][]*datasource.DataSource{dss}
	}
	return having
}

// splitTerms splits on commas not preceded by a backslash and turns "\,"
// into ",". Other backslashes stay (regular expressions need them).
func splitTerms(expr string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c == '\\' && i+1 < len(expr) && expr[i+1] == ',' {
			cur.WriteByte(',')
			i++
			continue
		}
		if c == ',' {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

// syntax is a term split into its parts, before field lookup.
type syntax struct {
	ds, field, value string
	op               Op
	negate, legacy   bool
}

func parseTerm(dss []*datasource.DataSource, raw string) (*Term, error) {
	s, err := split(dss, raw)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flagName, raw, err)
	}
	ds, f, err := lookup(dss, s)
	if err != nil {
		return nil, err
	}
	// A number compared with a formatter's text ("4.0 MB", "1.2ms") is
	// compared with the number it was made from; other values (a date, a
	// name) with the text.
	if raw := NumericSibling(ds, f); raw != nil && s.op != OpMatch {
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s.value), 64); nerr == nil {
			f = raw
		}
	}
	t := &Term{DS: ds, Field: f, Name: s.field, Op: s.op, Negate: s.negate, Value: s.value, Legacy: s.legacy}
	if err := t.compile(); err != nil {
		return nil, fmt.Errorf("%s %q: %w", flagName, raw, err)
	}
	return t, nil
}

const opChars = "!~<>="

func split(dss []*datasource.DataSource, raw string) (syntax, error) {
	opAt := strings.IndexAny(raw, opChars)
	colon := strings.IndexByte(raw, ':')
	if colon >= 0 && (opAt < 0 || colon < opAt) {
		prefix, rest := raw[:colon], raw[colon+1:]
		if ds := dsByName(dss, prefix); ds != nil && strings.ContainsAny(rest, opChars+":") && !startsWithOp(rest) {
			s, err := split(dss, rest)
			// top_file's datasource and a field are both "file": in
			// file:/tmp/a=b, "/tmp/a" is no field, "file" one.
			if f := ResolveField(ds, prefix); (err != nil || ResolveField(ds, s.field) == nil) && f != nil && !isContainer(f) {
				return splitLegacy(prefix, rest)
			}
			if err != nil {
				return s, err
			}
			if s.ds != "" {
				return s, fmt.Errorf("two datasource prefixes")
			}
			s.ds = prefix
			return s, nil
		}
		return splitLegacy(prefix, rest)
	}
	if opAt < 0 {
		return syntax{}, fmt.Errorf("no operator: use field==value (or !=, >=, >, <=, <, ~, !~) or field:value")
	}
	s := syntax{field: strings.TrimSpace(raw[:opAt])}
	if s.field == "" {
		return s, fmt.Errorf("missing field name")
	}
	rest := raw[opAt:]
	for _, o := range operators {
		if strings.HasPrefix(rest, o.s) {
			s.op, s.negate, s.value = o.op, o.negate, rest[len(o.s):]
			// "comm == bash": spaced around the operator, the value's
			// spaces are layout too (a value that starts with a space
			// is written without one before the operator).
			if strings.TrimRight(raw[:opAt], " ") != raw[:opAt] {
				s.value = strings.TrimSpace(s.value)
			}
			return s, nil
		}
	}
	return s, fmt.Errorf("invalid operator at %q", rest)
}

func startsWithOp(s string) bool { return s != "" && strings.IndexByte(opChars, s[0]) >= 0 }

// splitLegacy parses the value part of field:value: an optional "!"
// negates, then an optional ~ (regexp), >=, >, <=, <.
func splitLegacy(field, rest string) (syntax, error) {
	s := syntax{field: strings.TrimSpace(field), legacy: true, op: OpEq}
	if s.field == "" {
		return s, fmt.Errorf("missing field name")
	}
	if v, ok := strings.CutPrefix(rest, "!"); ok {
		s.negate, rest = true, v
	}
	for _, p := range []struct {
		s  string
		op Op
	}{{"~", OpMatch}, {">=", OpGe}, {">", OpGt}, {"<=", OpLe}, {"<", OpLt}} {
		if v, ok := strings.CutPrefix(rest, p.s); ok {
			s.op, rest = p.op, v
			break
		}
	}
	s.value = rest
	return s, nil
}

func dsByName(dss []*datasource.DataSource, name string) *datasource.DataSource {
	for _, ds := range dss {
		if ds.Name == name {
			return ds
		}
	}
	for _, ds := range dss {
		if strings.EqualFold(ds.Name, name) {
			return ds
		}
	}
	return nil
}

// lookup finds the term's datasource and field.
func lookup(dss []*datasource.DataSource, s syntax) (*datasource.DataSource, *datasource.Field, error) {
	if s.ds != "" {
		ds := dsByName(dss, s.ds)
		f := ResolveField(ds, s.field)
		if f == nil {
			return nil, nil, UnknownField(flagName, ds, s.field)
		}
		if isContainer(f) {
			return nil, nil, noValue(ds, f)
		}
		return ds, f, nil
	}
	var foundDS *datasource.DataSource
	var found, container *datasource.Field
	var in []string
	for _, ds := range dss {
		f := ResolveField(ds, s.field)
		switch {
		case f == nil:
		case isContainer(f):
			if container == nil {
				foundDS, container = ds, f
			}
		default:
			if found == nil {
				foundDS = ds
			}
			found = f
			in = append(in, ds.Name)
		}
	}
	switch {
	case len(in) > 1:
		return nil, nil, fmt.Errorf("%s: field %q is in datasources %s: write ds:%s<op>value",
			flagName, s.field, strings.Join(in, " and "), s.field)
	case len(in) == 1:
		for _, ds := range dss {
			if ds.Name == in[0] {
				foundDS = ds
			}
		}
		return foundDS, found, nil
	case container != nil:
		return nil, nil, noValue(foundDS, container)
	}
	if len(dss) == 1 {
		return nil, nil, UnknownField(flagName, dss[0], s.field)
	}
	e := &UnknownFieldError{Flag: flagName, Name: s.field}
	var names []string
	for _, ds := range dss {
		names = append(names, ds.Name)
		for _, n := range ValueFieldNames(ds) {
			e.Valid = append(e.Valid, ds.Name+":"+n)
		}
	}
	e.DS = strings.Join(names, ", ")
	return nil, nil, e
}

func noValue(ds *datasource.DataSource, f *datasource.Field) error {
	var subs []string
	for _, g := range ds.Fields {
		if strings.HasPrefix(g.FullName, f.FullName+".") && !isContainer(g) {
			subs = append(subs, g.FullName)
		}
	}
	return fmt.Errorf("%s: field %s of datasource %s has no value of its own (its fields: %s)",
		flagName, f.FullName, ds.Name, strings.Join(subs, ", "))
}

// compile parses the value to the field's kind.
func (t *Term) compile() error {
	f := t.Field
	k := f.Kind
	if t.Op == OpMatch {
		if k&datasource.ArrayOf != 0 {
			return fmt.Errorf("field %s is an array (%s): it cannot be filtered", f.FullName, k)
		}
		re, err := regexp.Compile(t.Value)
		if err != nil {
			return fmt.Errorf("bad regular expression %q: %w", t.Value, err)
		}
		t.class, t.re = cRegex, re
		return nil
	}
	switch {
	case k&datasource.ArrayOf != 0:
		return fmt.Errorf("field %s is an array (%s): it cannot be filtered", f.FullName, k)
	case k == datasource.Bool:
		if t.Op != OpEq {
			return fmt.Errorf("field %s is a bool: only ==, != (and ~) apply", f.FullName)
		}
		b, err := strconv.ParseBool(strings.TrimSpace(t.Value))
		if err != nil {
			return fmt.Errorf("field %s is a bool: %q is not true or false", f.FullName, t.Value)
		}
		t.class, t.b = cBool, b
	case k.IsSigned():
		bits := int(f.Size) * 8
		if bits == 0 {
			bits = int(k.Size()) * 8
		}
		v, err := parseInt(f, t.Value, bits)
		if err != nil {
			return err
		}
		t.class, t.i = cInt, v
	case k.IsUnsigned():
		bits := int(f.Size) * 8
		if bits == 0 {
			bits = int(k.Size()) * 8
		}
		v, err := parseUint(f, t.Value, bits)
		if err != nil {
			return err
		}
		t.class, t.u = cUint, v
	case k.IsFloat():
		v, err := strconv.ParseFloat(strings.TrimSpace(t.Value), 64)
		if err != nil || math.IsNaN(v) {
			return fmt.Errorf("field %s is a %s: %q is not a number", f.FullName, k, t.Value)
		}
		t.class, t.f = cFloat, v
	case k.IsText(), k == datasource.Bytes:
		t.class, t.text = cText, []byte(t.Value)
	default:
		return fmt.Errorf("field %s of kind %s cannot be filtered", f.FullName, k)
	}
	return nil
}

// parseInt parses decimal first ("010" is ten), then 0x/0o/0b prefixes,
// then the name of one of the field's enum values.
func parseInt(f *datasource.Field, s string, bits int) (int64, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseInt(s, 10, bits)
	if err == nil {
		return v, nil
	}
	if v, err2 := strconv.ParseInt(s, 0, bits); err2 == nil {
		return v, nil
	}
	if e, ok := enumValue(f, s); ok {
		return int64(e), nil
	}
	return 0, badNumber(f, s, err)
}

func parseUint(f *datasource.Field, s string, bits int) (uint64, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseUint(s, 10, bits)
	if err == nil {
		return v, nil
	}
	if v, err2 := strconv.ParseUint(s, 0, bits); err2 == nil {
		return v, nil
	}
	if e, ok := enumValue(f, s); ok {
		return e, nil
	}
	return 0, badNumber(f, s, err)
}

func enumValue(f *datasource.Field, s string) (uint64, bool) {
	for _, e := range f.Enum {
		if strings.EqualFold(e.Name, s) {
			return e.Value, true
		}
	}
	return 0, false
}

func badNumber(f *datasource.Field, s string, err error) error {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return fmt.Errorf("field %s is a %s: %q is out of range", f.FullName, f.Kind, s)
	}
	return fmt.Errorf("field %s is a %s: %q is not an integer", f.FullName, f.Kind, s)
}
