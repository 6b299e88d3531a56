package filter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gadgetkit/ig/internal/datasource"
)

// legacyNames maps the column names of the old built-in gadgets (before
// image-based gadgets) to the names of the image-based gadgets' fields:
// the first candidate the datasource has wins. A name is only looked up
// here when the datasource has no field of that name, so a current name
// always means itself (trace_tcp's "type" stays "type"; trace_dns's old
// "type" becomes "pkt_type").
//
// This is the one table of legacy names; --fields, -o columns=…, -F and
// --sort all go through ResolveField. Keys are lower case.
var legacyNames = map[string][]string{
	// Common to most gadgets (process, namespaces, Kubernetes, runtime).
	"pid":       {"proc.pid"},
	"tid":       {"proc.tid"},
	"comm":      {"proc.comm"},
	"uid":       {"proc.creds.uid"},
	"gid":       {"proc.creds.gid"},
	"ppid":      {"proc.parent.pid"},
	"pcomm":     {"proc.parent.comm"},
	"mntns":     {"proc.mntns_id", "mntns_id"},
	"mountnsid": {"proc.mntns_id", "mntns_id"},
	"mntnsid":   {"proc.mntns_id", "mntns_id"},
	"netns":     {"netns_id"},
	"netnsid":   {"netns_id"},
	"node":      {"k8s.node"},
	"namespace": {"k8s.namespace"},
	"pod":       {"k8s.podName"},
	"podname":   {"k8s.podName"},
	"container": {"runtime.containerName", "k8s.containerName"},
	"k8s.pod":   {"k8s.podName"},
	// k8s.container was the Kubernetes container name column.
	"k8s.container":          {"k8s.containerName"},
	"containername":          {"runtime.containerName"},
	"runtime.runtimename":    {"runtime.runtimeName"},
	"runtime.containerid":    {"runtime.containerId"},
	"runtime.containerimage": {"runtime.containerImageName"},

	// trace open: path, fullPath, err, ret; flagsRaw, modeRaw.
	"path":     {"fname"},
	"fullpath": {"fpath"},
	"err":      {"error_raw", "error"},
	"ret":      {"error_raw", "error"}, // trace exec, signal, mount: ret
	"flagsraw": {"flags_raw"},
	"moderaw":  {"mode_raw"},

	// trace dns: type (packet type), numAnswers, latency, endpoints.
	"type":       {"pkt_type"},
	"pkttype":    {"pkt_type"},
	"numanswers": {"num_answers"},
	"latency":    {"latency_ns", "delta_raw"}, // trace mount: latency
	"srcip":      {"src.addr"},
	"dstip":      {"dst.addr"},
	"srcport":    {"src.port"},
	"dstport":    {"dst.port"},
	"proto":      {"src.proto", "addr.proto"}, // trace dns, trace bind
	"protocol":   {"src.proto", "addr.proto"}, // snapshot socket
	"nameserver": {"nameserver.addr"},

	// trace exec.
	"upperlayer": {"upper_layer"},

	// trace tcp: t (A/C/X), ip (4/6), operation.
	"t":         {"type"},
	"operation": {"type", "op"},
	"ip":        {"src.version"},

	// trace bind: addr, port, if.
	"addr": {"addr.addr"},
	"port": {"addr.port"},
	"if":   {"bound_dev_if"},

	// trace signal.
	"signal": {"sig"},

	// trace oomkill: kpid/kcomm (killed) are now tpid/tcomm.
	"kpid":  {"tpid"},
	"kcomm": {"tcomm"},

	// trace mount: op, src, dst.
	"dst": {"dest"},

	// top file: filename, fileType; top block-io: r/w, time, ops.
	"filename": {"file"},
	"filetype": {"t"},
	"r/w":      {"rw"},
	"write":    {"rw"},
	"time":     {"us"},
	"ops":      {"io"},

	// top tcp: saddr, daddr, sport, dport, family.
	"saddr":  {"src.addr"},
	"daddr":  {"dst.addr"},
	"sport":  {"src.port"},
	"dport":  {"dst.port"},
	"family": {"src.version"},

	// snapshot socket: local/remote endpoints, status, inode.
	"local":      {"src"},
	"remote":     {"dst"},
	"localaddr":  {"src.addr"},
	"localport":  {"src.port"},
	"remoteaddr": {"dst.addr"},
	"remoteport": {"dst.port"},
	"status":     {"state"},
	"inode":      {"ino"},
}

// LegacyCandidates returns the current names a legacy name may stand for
// (nil when it is not a legacy name).
func LegacyCandidates(name string) []string {
	return legacyNames[strings.ToLower(name)]
}

// ResolveField finds the field a user named in ds: its full dotted name
// (case-insensitive) first, then the legacy-name table. A name that only
// matches a container (a field without a value, such as "proc") returns
// the container; callers that need a value reject it. nil: no such field.
func ResolveField(ds *datasource.DataSource, name string) *datasource.Field {
	f := ds.Field(name)
	if f == nil {
		// Field() only knows the exact and the all-lower-case spellings.
		for _, g := range ds.Fields {
			if strings.EqualFold(g.FullName, name) {
				f = g
				break
			}
		}
	}
	if f != nil && !isContainer(f) {
		return f
	}
	for _, c := range legacyNames[strings.ToLower(name)] {
		if g := ds.Field(c); g != nil && !isContainer(g) {
			return g
		}
	}
	return f
}

func isContainer(f *datasource.Field) bool { return f.Flags&datasource.FlagContainer != 0 }

// NumericSibling returns the number a text field of ds was made from:
// its "<name>_raw" sibling when f is text (a formatter's rendering, such
// as "4.0 MB" of rbytes_raw or "1.2ms" of latency_ns_raw) and the sibling
// an integer or a float; nil otherwise. Sorting and comparing by order
// use the number, as upstream, whose fields were numbers, did.
func NumericSibling(ds *datasource.DataSource, f *datasource.Field) *datasource.Field {
	if f == nil || (f.Kind != datasource.String && f.Kind != datasource.CString) {
		return nil
	}
	raw := ds.Field(f.FullName + "_raw")
	if raw == nil || !(raw.Kind.IsInteger() || raw.Kind.IsFloat()) {
		return nil
	}
	return raw
}

// ErrUnknownField is matched (errors.Is) by every *UnknownFieldError.
var ErrUnknownField = errors.New("unknown field")

// UnknownFieldError is a field name that is not in a datasource. Its
// message is one line that lists the valid names.
type UnknownFieldError struct {
	Flag  string // the flag it came from: "--fields", "--filter", "--sort"
	DS    string
	Name  string
	Valid []string
}

func (e *UnknownFieldError) Error() string {
	return fmt.Sprintf("%s: unknown field %q in datasource %s (valid: %s)", e.Flag, e.Name, e.DS, strings.Join(e.Valid, ", "))
}

func (e *UnknownFieldError) Is(target error) bool { return target == ErrUnknownField }

// UnknownField returns the error for name, listing ds's fields that have
// a value.
func UnknownField(flag string, ds *datasource.DataSource, name string) *UnknownFieldError {
	return &UnknownFieldError{Flag: flag, DS: ds.Name, Name: name, Valid: ValueFieldNames(ds)}
}

// ValueFieldNames lists the full names of ds's fields that have a value.
func ValueFieldNames(ds *datasource.DataSource) []string {
	var out []string
	for _, f := range ds.Fields {
		if !isContainer(f) {
			out = append(out, f.FullName)
		}
	}
	return out
}
