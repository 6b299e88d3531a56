// Package formatters adds human-readable siblings to raw fields, the way
// Inspektor Gadget's formatters, enum formatter and UidGidResolver do:
// error_raw (2) gets error ("ENOENT"), flags_raw gets flags
// ("O_RDONLY|O_CLOEXEC"), timestamp_raw gets timestamp, and so on.
//
// [New] is called once per run on the run's copy of a datasource, before
// anything compiles output plans or caches field indices. It looks at the
// fields' tags ("type:<typedef>"), enums and annotations, adds one dynamic
// String field per value to render (so the field set, the JSON keys and
// the --fields names are known before the first event) and returns a
// pipeline stage that fills them. Per record the stage only appends into
// the payloads of the added fields: table lookups and strconv, no
// allocation once the payloads have grown.
//
// # What is rendered
//
//	type:gadget_timestamp   ns since the epoch -> local time, layout
//	                        "2006-01-02T15:04:05.000000000Z07:00" or the
//	                        formatters.timestamp.format annotation; 0 -> ""
//	type:gadget_errno       ENOENT...; 0 -> ""; unknown -> "error#N"
//	type:gadget_signal      SIGKILL...; unknown -> "signal#N"
//	type:gadget_syscall     SYS_OPENAT... for the host arch (x86_64 or
//	                        arm64); unknown -> "SYS_UNKNOWN"
//	type:gadget_file_flags  O_RDWR|O_CREAT|O_TRUNC: the access mode, then
//	                        the flags in upstream's order (genericOpenFlags;
//	                        arm64 values on arm64)
//	type:gadget_file_mode   like ls -l: -rw-r--r--, drwxr-xr-x, -rwsr-xr-x
//	type:gadget_bytes       SI units with one decimal under 10: "512 B",
//	                        "1.0 MB", "256 MB"
//	type:gadget_duration    "10ns", "10.00µs", "150.00ms", then Go's
//	                        time.Duration form: "3.25s", "2h30m0s"
//	type:gadget_uid/gid     user or group name from <HostRoot>/etc/passwd
//	                        and /etc/group; unknown -> "uid:N" / "gid:N"
//	enum members            the enumerator's name; unknown -> "UNKNOWN"
//	enum ..._set members    names of the set bits joined by "|" or the
//	                        ebpf.formatter.bitfield.separator annotation
//	struct gadget_l3endpoint_t  addr: "10.0.0.1" or "2001:db8::1"
//	struct gadget_l4endpoint_t  addr, proto ("TCP"), and endpoint:
//	                        "10.0.0.1:80" or "[2001:db8::1]:80"
//
// # Naming and visibility
//
// The added field is a sibling of the raw one (same parent). Its name is
// the target annotation of the raw field if set (formatters.<kind>.target,
// ebpf.formatter.enum, uidgidresolver.target), else the raw name without
// its "_raw" suffix; a raw field with neither is left alone, except uid
// and gid fields, whose names default to "user" and "group"
// (proc.creds.uid -> proc.creds.user). A name that is already taken is
// skipped.
//
// The added field is moved right after its raw field in the field order,
// so it takes the raw field's place in the default columns, and the raw
// field is hidden (columns.hidden=true) unless its own annotations say
// columns.hidden=false. Both stay in JSON. The added fields carry the
// presets upstream gives them: errorString (width 12) for errors,
// timestamp (hidden, width 35), bytes, duration.
//
// UID and GID follow upstream's UidGidResolver: both the numeric field
// and the name are hidden by default (ask for them with --fields).
//
// # Endpoints
//
// The field model has no value for a container field, so an endpoint
// struct shows as one of its subfields: for an L3 endpoint "src" it is
// src.addr, for an L4 endpoint src.endpoint ("ip:port", json.skip like
// upstream). That field takes the container's place in the field order,
// copies the container's column annotations (the l4endpoint template) and
// is aliased to the container's name, so the column is still called SRC.
// Every other subfield is hidden; src.addr_raw is also skipped in JSON,
// as upstream drops it from all outputs.
//
// # Tables
//
// Errno, signal and syscall names are generated from the Linux UAPI
// headers (gen_tables.go; run go generate): the first name the headers
// give a number wins (EAGAIN, not EWOULDBLOCK; EOPNOTSUPP, not glibc's
// ENOTSUP). They do not depend on the OS the runtime is built for, so a
// remote client renders the same names. The syscall tables equal those
// of internal/wasmhost (zsyscalls.go), generated separately.
package formatters

//go:generate go run gen_tables.go
