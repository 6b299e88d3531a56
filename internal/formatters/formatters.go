package formatters

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
	"github.com/gadgetkit/ig/internal/pipeline"
)

// Options configure [New]. The zero value is usable.
type Options struct {
	// HostRoot is where the host's root filesystem is visible; user and
	// group names come from HostRoot/etc/passwd and HostRoot/etc/group.
	// Default "/".
	HostRoot string
}

// Annotation keys read or written here.
const (
	annHidden    = "columns.hidden"
	annAlias     = "columns.alias"
	annTemplate  = "template"
	annJSONSkip  = "json.skip"
	annDesc      = "description"
	annTSFormat  = "formatters.timestamp.format"
	annEnum      = "ebpf.formatter.enum"
	annSeparator = "ebpf.formatter.bitfield.separator"
	annUIDGID    = "uidgidresolver.target"
)

// presets are the annotation templates the added fields get, as upstream
// gives them (see the template table in internal/gadgetspec/templates.go,
// which these must match).
var presets = map[string]map[string]string{
	"timestamp":   {"columns.width": "35", "columns.maxwidth": "35", "columns.ellipsis": "end", annHidden: "true"},
	"errorString": {"columns.width": "12"},
	"bytes":       {"columns.width": "10", "columns.alignment": "right"},
	"duration":    {"columns.width": "20", "columns.alignment": "right"},
}

// kind is what a converter renders.
type kind uint8

const (
	kindTimestamp kind = iota
	kindErrno
	kindSignal
	kindSyscall
	kindFileFlags
	kindFileMode
	kindBytes
	kindDuration
	kindUser
	kindGroup
	kindEnum
	kindBitfield
	kindL3
	kindL4
)

// typed describes the formatter selected by a "type:<typedef>" tag.
type typed struct {
	kind kind
	// target is the annotation naming the added field.
	target string
	// fallback is the name used when there is neither a target annotation
	// nor a _raw suffix ("" = leave the field alone).
	fallback string
	// preset is the template of the added field, "" for none.
	preset string
	// hideOut hides the added field too (UidGidResolver does).
	hideOut bool
}

var typedByTag = map[string]typed{
	"type:gadget_timestamp":  {kind: kindTimestamp, target: "formatters.timestamp.target", preset: "timestamp"},
	"type:gadget_errno":      {kind: kindErrno, target: "formatters.errno.target", preset: "errorString"},
	"type:gadget_signal":     {kind: kindSignal, target: "formatters.signal.target"},
	"type:gadget_syscall":    {kind: kindSyscall, target: "formatters.syscall.target"},
	"type:gadget_file_flags": {kind: kindFileFlags, target: "formatters.file_flags.target"},
	"type:gadget_file_mode":  {kind: kindFileMode, target: "formatters.file_mode.target"},
	"type:gadget_bytes":      {kind: kindBytes, target: "formatters.bytes.target", preset: "bytes"},
	"type:gadget_duration":   {kind: kindDuration, target: "formatters.duration.target", preset: "duration"},
	"type:gadget_uid":        {kind: kindUser, target: annUIDGID, fallback: "user", hideOut: true},
	"type:gadget_gid":        {kind: kindGroup, target: annUIDGID, fallback: "group", hideOut: true},
}

const (
	tagL3 = "type:gadget_l3endpoint_t"
	tagL4 = "type:gadget_l4endpoint_t"
	tagIP = "type:gadget_ip_addr_t"
)

// converter renders one added field (for endpoints: up to three) of every
// record.
type converter struct {
	kind kind
	in   *datasource.Field // the raw value; addr_raw for endpoints
	out  *datasource.Field

	ts    *timestampFormatter    // timestamp
	enum  []datasource.EnumValue // enum, bitfield
	sep   string                 // bitfield
	names idNames                // user, group

	// Endpoints: the version, port and proto_raw members (port and proto
	// may be nil) and the proto and endpoint fields added (may be nil).
	version, port, proto  *datasource.Field
	protoOut, endpointOut *datasource.Field
}

// Stage fills the fields [New] added. It is a [pipeline.Stage].
type Stage struct {
	conv []converter
}

// New adds to ds a String field for every value that has a human-readable
// form (see the package documentation) and returns the stage that fills
// them, or nil when ds has nothing to render. It changes ds: fields are
// added, moved next to their raw fields (renumbering Field.Index and
// Field.Parent) and raw fields are hidden. Call it once per run, on the
// run's copy of the datasource, before anything keeps field indices.
//
// Errors come only from reading HostRoot/etc/passwd or /etc/group (a
// missing file is not an error) and from the datasource refusing a field.
func New(ds *datasource.DataSource, opts Options) (*Stage, error) {
	b := &builder{ds: ds, opts: opts}
	// Walk a snapshot: fields are added and moved while planning.
	fields := append([]*datasource.Field(nil), ds.Fields...)
	for _, f := range fields {
		if err := b.field(f); err != nil {
			return nil, fmt.Errorf("formatters: datasource %s: field %s: %w", ds.Name, f.FullName, err)
		}
	}
	if len(b.conv) == 0 {
		return nil, nil
	}
	return &Stage{conv: b.conv}, nil
}

type builder struct {
	ds     *datasource.DataSource
	opts   Options
	conv   []converter
	loaded bool
	users  idNames
	groups idNames
}

func (b *builder) field(f *datasource.Field) error {
	if f.Flags&datasource.FlagContainer != 0 {
		switch {
		case f.HasTag(tagL4):
			return b.endpoint(f, true)
		case f.HasTag(tagL3):
			return b.endpoint(f, false)
		}
		return nil
	}
	if !f.Kind.IsInteger() {
		return nil
	}
	for _, tag := range f.Tags {
		t, ok := typedByTag[tag]
		if !ok {
			continue
		}
		return b.typed(f, t)
	}
	if len(f.Enum) > 0 {
		return b.enum(f)
	}
	return nil
}

// targetName returns the name of the field added for raw: the annotation
// key's value, else the name without "_raw", else fallback.
func targetName(raw *datasource.Field, key, fallback string) string {
	if v, ok := raw.Annotations[key]; ok && v != "" {
		return v
	}
	if name, ok := strings.CutSuffix(raw.Name, "_raw"); ok && name != "" {
		return name
	}
	return fallback
}

func (b *builder) typed(f *datasource.Field, t typed) error {
	name := targetName(f, t.target, t.fallback)
	if name == "" {
		return nil
	}
	ann := map[string]string{}
	if t.preset != "" {
		ann[annTemplate] = t.preset
		for k, v := range presets[t.preset] {
			ann[k] = v
		}
	}
	if t.hideOut {
		ann[annHidden] = "true"
	}
	out, err := b.addSibling(f, name, ann)
	if out == nil || err != nil {
		return err
	}
	c := converter{kind: t.kind, in: f, out: out}
	switch t.kind {
	case kindTimestamp:
		c.ts = &timestampFormatter{layout: defaultTimestampLayout}
		if l := f.Annotations[annTSFormat]; l != "" {
			c.ts.layout = l
		}
	case kindUser, kindGroup:
		if err := b.loadNames(); err != nil {
			return err
		}
		c.names = b.users
		if t.kind == kindGroup {
			c.names = b.groups
		}
	}
	hide(f)
	b.conv = append(b.conv, c)
	return nil
}

func (b *builder) loadNames() error {
	if b.loaded {
		return nil
	}
	b.loaded = true
	var err error
	b.users, b.groups, err = hostIDNames(b.opts.HostRoot)
	return err
}

func (b *builder) enum(f *datasource.Field) error {
	name := targetName(f, annEnum, "")
	if name == "" {
		return nil
	}
	out, err := b.addSibling(f, name, nil)
	if out == nil || err != nil {
		return err
	}
	c := converter{kind: kindEnum, in: f, out: out, enum: f.Enum}
	if f.Bitfield {
		c.kind = kindBitfield
		c.sep = f.Annotations[annSeparator]
		if c.sep == "" {
			c.sep = "|"
		}
	}
	hide(f)
	b.conv = append(b.conv, c)
	return nil
}

// endpoint handles a struct gadget_l3endpoint_t or gadget_l4endpoint_t.
func (b *builder) endpoint(ep *datasource.Field, l4 bool) error {
	var addrRaw, version, port, proto *datasource.Field
	var children []*datasource.Field
	for _, f := range b.ds.Fields {
		if f.Parent != ep.Index {
			continue
		}
		children = append(children, f)
		switch {
		case f.HasTag(tagIP) || f.Name == "addr_raw":
			addrRaw = f
		case f.Name == "version":
			version = f
		case f.Name == "port":
			port = f
		case f.Name == "proto_raw":
			proto = f
		}
	}
	if addrRaw == nil || addrRaw.Size != 16 || version == nil || !version.Kind.IsInteger() ||
		(l4 && (port == nil || !port.Kind.IsInteger())) || (proto != nil && !proto.Kind.IsInteger()) {
		return nil // not the layout of types.h
	}

	// The field shown in the container's column: src.addr for L3,
	// src.endpoint for L4. It carries the container's column annotations.
	shown := map[string]string{}
	for k, v := range ep.Annotations {
		if (strings.HasPrefix(k, "columns.") && k != annHidden) || k == annDesc || k == annTemplate {
			shown[k] = v
		}
	}
	if shown[annAlias] == "" {
		shown[annAlias] = ep.FullName
	}
	if ep.Flags&datasource.FlagHidden != 0 {
		shown[annHidden] = "true"
	}

	addrName := strings.TrimSuffix(addrRaw.Name, "_raw")
	addrAnn, addrAfter := map[string]string{annHidden: "true"}, addrRaw
	if !l4 {
		addrAnn, addrAfter = shown, ep
	}
	addr, err := b.add(ep, addrName, addrAnn, addrAfter)
	if addr == nil || err != nil {
		return err
	}
	c := converter{kind: kindL3, in: addrRaw, out: addr, version: version}
	if l4 {
		c.kind, c.port = kindL4, port
		if proto != nil {
			name := strings.TrimSuffix(proto.Name, "_raw")
			c.protoOut, err = b.add(ep, name, map[string]string{annHidden: "true"}, proto)
			if err != nil {
				return err
			}
			if c.protoOut != nil {
				c.proto = proto
			}
		}
		shown[annJSONSkip] = "true"
		c.endpointOut, err = b.add(ep, "endpoint", shown, ep)
		if err != nil {
			return err
		}
	}
	// Only the container's column shows; its members are there for
	// filters, --fields and JSON. addr_raw is in no output, as upstream.
	for _, f := range children {
		hide(f)
	}
	addrRaw.Annotations[annJSONSkip] = "true"
	b.conv = append(b.conv, c)
	return nil
}

// addSibling adds a String field next to raw (same parent), placed right
// after it. It returns nil, nil when the name is taken.
func (b *builder) addSibling(raw *datasource.Field, name string, ann map[string]string) (*datasource.Field, error) {
	var parent *datasource.Field
	if raw.Parent >= 0 {
		parent = b.ds.Fields[raw.Parent]
	}
	return b.add(parent, name, ann, raw)
}

// add adds a String field below parent (nil: top level), placed right
// after the field after. It returns nil, nil when the name is taken.
func (b *builder) add(parent *datasource.Field, name string, ann map[string]string, after *datasource.Field) (*datasource.Field, error) {
	f, err := b.ds.AddField(parent, name, datasource.String, 0)
	if errors.Is(err, datasource.ErrFieldExists) {
		return nil, nil // the gadget has this field already; leave it
	}
	if err != nil {
		return nil, err
	}
	f.Tags = append(f.Tags, "name:"+name, "src:formatters")
	for k, v := range ann {
		f.Annotations[k] = v
	}
	if isTrue(f.Annotations[annHidden]) {
		f.Flags |= datasource.FlagHidden
	}
	b.ds.MoveAfter(f, after)
	return f, nil
}

// hide hides f in columns unless its annotations explicitly show it.
func hide(f *datasource.Field) {
	if v, ok := f.Annotations[annHidden]; ok && !isTrue(v) {
		return
	}
	f.Annotations[annHidden] = "true"
	f.Flags |= datasource.FlagHidden
}

func isTrue(s string) bool {
	v, err := strconv.ParseBool(s)
	return err == nil && v
}

// Process implements pipeline.Stage.
func (s *Stage) Process(b *pipeline.Batch) error {
	for _, r := range b.Records {
		s.record(r)
	}
	return nil
}

func (s *Stage) record(r *datasource.Record) {
	for i := range s.conv {
		c := &s.conv[i]
		p := r.Payload[c.out.Payload][:0]
		switch c.kind {
		case kindTimestamp:
			p = c.ts.append(p, c.in.Uint64(r))
		case kindErrno:
			// A negative errno is the kernel's -errno convention.
			v := c.in.Uint64(r)
			if c.in.Kind.IsSigned() && int64(v) < 0 {
				v = uint64(-int64(v))
			}
			p = appendErrno(p, v)
		case kindSignal:
			if v := c.in.Uint64(r); c.in.Kind.IsSigned() && int64(v) < 0 {
				p = strconv.AppendInt(append(p, "signal#"...), int64(v), 10)
			} else {
				p = appendSignal(p, v)
			}
		case kindSyscall:
			p = appendSyscall(p, hostSyscalls, c.in.Uint64(r))
		case kindFileFlags:
			p = appendFileFlags(p, hostOpenFlags, uint32(c.in.Uint64(r)))
		case kindFileMode:
			p = appendFileMode(p, uint32(c.in.Uint64(r)))
		case kindBytes:
			p = appendBytes(p, c.in.Uint64(r))
		case kindDuration:
			p = appendDuration(p, c.in.Uint64(r))
		case kindUser, kindGroup:
			id := uint32(c.in.Uint64(r))
			if name, ok := c.names[id]; ok {
				p = append(p, name...)
			} else {
				if c.kind == kindUser {
					p = append(p, "uid:"...)
				} else {
					p = append(p, "gid:"...)
				}
				p = strconv.AppendUint(p, uint64(id), 10)
			}
		case kindEnum:
			p = appendEnum(p, c.enum, c.in.Uint64(r))
		case kindBitfield:
			p = appendBitfield(p, c.enum, c.sep, c.in.Uint64(r))
		case kindL3, kindL4:
			p = c.endpoint(r, p)
		}
		r.Payload[c.out.Payload] = p
	}
}

// endpoint renders addr (returned, for c.out) and, for L4, the proto and
// endpoint fields.
func (c *converter) endpoint(r *datasource.Record, addr []byte) []byte {
	addr, ok := appendIP(addr, c.in.Raw(r), c.version.Uint64(r))
	if c.kind != kindL4 {
		return addr
	}
	if c.endpointOut != nil {
		e := r.Payload[c.endpointOut.Payload][:0]
		if ok {
			if bytes.IndexByte(addr, ':') >= 0 {
				e = append(e, '[')
				e = append(e, addr...)
				e = append(e, ']')
			} else {
				e = append(e, addr...)
			}
			e = append(e, ':')
			e = strconv.AppendUint(e, c.port.Uint64(r), 10)
		}
		r.Payload[c.endpointOut.Payload] = e
	}
	if c.protoOut != nil {
		r.Payload[c.protoOut.Payload] = appendProto(r.Payload[c.protoOut.Payload][:0], c.proto.Uint64(r))
	}
	return addr
}

// appendEnum appends the name of the first enumerator equal to v, or
// UNKNOWN.
func appendEnum(b []byte, values []datasource.EnumValue, v uint64) []byte {
	for _, e := range values {
		if e.Value == v {
			return append(b, e.Name...)
		}
	}
	return append(b, "UNKNOWN"...)
}

// appendBitfield appends the names of the enumerators whose bits are all
// set in v, in declaration order, joined by sep. Bits no enumerator names
// are dropped, and a zero enumerator always matches, as upstream.
func appendBitfield(b []byte, values []datasource.EnumValue, sep string, v uint64) []byte {
	first := true
	for _, e := range values {
		if v&e.Value != e.Value {
			continue
		}
		if !first {
			b = append(b, sep...)
		}
		first = false
		b = append(b, e.Name...)
	}
	return b
}
