package gadgetspec

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/metadata"
)

// Param is a gadget parameter backed by a const volatile variable in
// .rodata. Its value is written into the collection spec before loading,
// so the verifier sees a constant.
type Param struct {
	// Key is the param key (CLI flag without dashes), e.g. "pid".
	Key string
	// VarName is the C variable.
	VarName string
	// Kind is a scalar kind, or String for char[N].
	Kind datasource.Kind
	// MaxLen is N for a char[N] variable (Kind String), else 0.
	MaxLen int
	// Default is the value as a string: the .rodata initializer unless
	// gadget.yaml overrides it.
	Default     string
	Description string
	Tags        []string
}

// wellKnownParams renames params declared by the common gadget headers.
// typedef is matched against the variable's typedef chain ("" = any).
var wellKnownParams = []struct {
	typedef, varName, key, description string
	process                            bool
}{
	{"gadget_pid", "targ_pid", "pid", "Show only events of this process ID (0: all processes)", true},
	{"gadget_tid", "targ_tid", "tid", "Show only events of this thread ID (0: all threads)", true},
	{"gadget_uid", "targ_uid", "uid", "Show only events of this user ID (default: all users)", true},
	{"gadget_gid", "targ_gid", "gid", "Show only events of this group ID (default: all groups)", true},
	{"gadget_comm", "targ_comm", "comm", "Show only events of processes with this command name (default: all)", true},
	{"", "collect_ustack", "collect-ustack", "Collect user stacks", false},
	{"", "collect_build_id", "collect-build-id", "Collect build IDs of user stacks", false},
	{"", "collect_otel_stack", "collect-otel-stack", "Collect user stacks with the OpenTelemetry profiler", false},
}

// constVar checks that varName is a const volatile global in .rodata and
// returns its param kind and size.
func constVar(cs *ebpf.CollectionSpec, varName string) (datasource.Kind, uint32, error) {
	vs := cs.Variables[varName]
	if vs == nil {
		return 0, 0, fmt.Errorf("variable %s not found: %w", varName, ErrInvalidParam)
	}
	if vs.Type == nil {
		return 0, 0, fmt.Errorf("variable %s has no BTF: %w", varName, ErrInvalidParam)
	}
	if !vs.Constant() || !isConstVolatile(vs.Type.Type) {
		return 0, 0, fmt.Errorf("variable %s must be a const volatile global (in .rodata), is %v in %s: %w",
			varName, vs.Type.Type, vs.SectionName, ErrInvalidParam)
	}
	_, u := resolve(vs.Type.Type)
	kind := datasource.Invalid
	if arr, ok := u.(*btf.Array); ok {
		if _, eu := resolve(arr.Type); isByte(eu) {
			kind = datasource.String
		}
	} else if k, ok := scalarKind(u); ok {
		kind = k
	}
	if kind == datasource.Invalid {
		return 0, 0, fmt.Errorf("variable %s: unsupported type %v: %w", varName, vs.Type.Type, ErrInvalidParam)
	}
	return kind, vs.Size(), nil
}

// isConstVolatile reports whether t carries both qualifiers, looking
// through typedefs and into array elements.
func isConstVolatile(t btf.Type) bool {
	var c, v bool
	for range maxTypeDepth {
		switch x := t.(type) {
		case *btf.Const:
			c, t = true, x.Type
		case *btf.Volatile:
			v, t = true, x.Type
		case *btf.Typedef:
			t = x.Type
		case *btf.Restrict:
			t = x.Type
		case *btf.TypeTag:
			t = x.Type
		case *btf.Array:
			t = x.Type
		default:
			return c && v
		}
	}
	return false // a loop: not a parameter
}

func newParam(cs *ebpf.CollectionSpec, meta *metadata.Gadget, varName string) (*Param, error) {
	if varName == "" {
		return nil, fmt.Errorf("empty variable name: %w", ErrInvalidParam)
	}
	kind, size, err := constVar(cs, varName)
	if err != nil {
		return nil, err
	}
	p := &Param{Key: varName, VarName: varName, Kind: kind}
	if kind == datasource.String {
		p.MaxLen = int(size)
	}
	if p.Default, err = readDefault(cs.Variables[varName], kind); err != nil {
		return nil, fmt.Errorf("variable %s: read default: %w", varName, err)
	}

	// Filter params such as targ_comm are arrays of a typedef'd element
	// (gadget_comm targ_comm[16]): the element's typedefs count too.
	typedefs, u := resolve(cs.Variables[varName].Type.Type)
	if arr, ok := u.(*btf.Array); ok {
		elem, _ := resolve(arr.Type)
		typedefs = append(typedefs, elem...)
	}
	for _, w := range wellKnownParams {
		if w.varName != varName || (w.typedef != "" && !contains(typedefs, w.typedef)) {
			continue
		}
		p.Key, p.Description = w.key, w.description
		if w.process {
			p.Tags = append(p.Tags, "group:Process")
		}
		break
	}

	if mp := meta.Param("ebpf", varName); mp != nil {
		if mp.Key != "" {
			p.Key = mp.Key
		}
		if mp.DefaultValue != "" {
			p.Default = mp.DefaultValue
		}
		if mp.Description != "" {
			p.Description = mp.Description
		}
		p.Tags = append(p.Tags, mp.Tags...)
	}
	if p.Default != "" {
		if _, err := p.Parse(p.Default); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readDefault formats the initial value of vs.
func readDefault(vs *ebpf.VariableSpec, kind datasource.Kind) (string, error) {
	if vs.Value == nil {
		return "", nil
	}
	switch kind {
	case datasource.Bool:
		var v uint8
		err := vs.Get(&v)
		return strconv.FormatBool(v != 0), err
	case datasource.Int8:
		var v int8
		err := vs.Get(&v)
		return strconv.FormatInt(int64(v), 10), err
	case datasource.Int16:
		var v int16
		err := vs.Get(&v)
		return strconv.FormatInt(int64(v), 10), err
	case datasource.Int32:
		var v int32
		err := vs.Get(&v)
		return strconv.FormatInt(int64(v), 10), err
	case datasource.Int64:
		var v int64
		err := vs.Get(&v)
		return strconv.FormatInt(v, 10), err
	case datasource.Uint8:
		var v uint8
		err := vs.Get(&v)
		return strconv.FormatUint(uint64(v), 10), err
	case datasource.Uint16:
		var v uint16
		err := vs.Get(&v)
		return strconv.FormatUint(uint64(v), 10), err
	case datasource.Uint32:
		var v uint32
		err := vs.Get(&v)
		return strconv.FormatUint(uint64(v), 10), err
	case datasource.Uint64:
		var v uint64
		err := vs.Get(&v)
		return strconv.FormatUint(v, 10), err
	case datasource.Float32:
		var v float32
		err := vs.Get(&v)
		return strconv.FormatFloat(float64(v), 'g', -1, 32), err
	case datasource.Float64:
		var v float64
		err := vs.Get(&v)
		return strconv.FormatFloat(v, 'g', -1, 64), err
	case datasource.String:
		var v []byte
		err := vs.Get(&v)
		if i := bytes.IndexByte(v, 0); i >= 0 {
			v = v[:i]
		}
		return string(v), err
	}
	return "", fmt.Errorf("unsupported kind %v", kind)
}

var byteType = reflect.TypeFor[byte]()

// Parse converts s, e.g. a command-line value, to the Go value to write
// into the variable: bool, int8 ... uint64, float32, float64, or for a
// char[N] variable a [N]byte holding s zero-padded.
func (p *Param) Parse(s string) (any, error) {
	var (
		v   any
		err error
	)
	t := strings.TrimSpace(s)
	switch p.Kind {
	case datasource.Bool:
		v, err = strconv.ParseBool(t)
	case datasource.Int8, datasource.Int16, datasource.Int32, datasource.Int64:
		var n int64
		n, err = strconv.ParseInt(t, 10, int(p.Kind.Size()*8))
		switch p.Kind {
		case datasource.Int8:
			v = int8(n)
		case datasource.Int16:
			v = int16(n)
		case datasource.Int32:
			v = int32(n)
		default:
			v = n
		}
	case datasource.Uint8, datasource.Uint16, datasource.Uint32, datasource.Uint64:
		var n uint64
		n, err = strconv.ParseUint(t, 10, int(p.Kind.Size()*8))
		switch p.Kind {
		case datasource.Uint8:
			v = uint8(n)
		case datasource.Uint16:
			v = uint16(n)
		case datasource.Uint32:
			v = uint32(n)
		default:
			v = n
		}
	case datasource.Float32:
		var f float64
		f, err = strconv.ParseFloat(t, 32)
		v = float32(f)
	case datasource.Float64:
		v, err = strconv.ParseFloat(t, 64)
	case datasource.String:
		if p.MaxLen == 0 {
			return s, nil // not an eBPF char array: any length (Wasm params)
		}
		if len(s) > p.MaxLen {
			return nil, fmt.Errorf("param %s: %q is longer than %d bytes: %w", p.Key, s, p.MaxLen, ErrInvalidParamValue)
		}
		arr := reflect.New(reflect.ArrayOf(p.MaxLen, byteType)).Elem()
		reflect.Copy(arr, reflect.ValueOf([]byte(s)))
		return arr.Interface(), nil
	default:
		return nil, fmt.Errorf("param %s: unsupported kind %v: %w", p.Key, p.Kind, ErrInvalidParamValue)
	}
	if err != nil {
		return nil, fmt.Errorf("param %s: %q is not a valid %v: %w", p.Key, s, p.Kind, ErrInvalidParamValue)
	}
	return v, nil
}

// HasTag reports whether the param has tag t.
func (p *Param) HasTag(t string) bool { return contains(p.Tags, t) }
