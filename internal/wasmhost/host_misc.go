package wasmhost

import (
	"bytes"
	"os"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/gadgetkit/ig/internal/datasource"
)

func (i *Instance) hGadgetLog(g api.Module, s []uint64) {
	level := u32(s[0])
	if level <= LevelTrace && int(level) > i.cfg.logLevel() {
		return // filtered before the message is even read
	}
	if level > LevelTrace && i.cfg.logLevel() < LevelWarn {
		return
	}
	msg, ok := i.readGuest(g, "gadgetLog", s[1])
	if !ok {
		return
	}
	i.guestLog(level, msg)
}

func (i *Instance) hGadgetShouldLog(_ api.Module, s []uint64) {
	s[0] = boolResult(int(u32(s[0])) <= i.cfg.logLevel())
}

func (i *Instance) hGetParamValue(g api.Module, s []uint64) {
	const fn = "getParamValue"
	key, ok := i.readGuest(g, fn, s[0])
	dst := s[1]
	s[0] = err32
	if !ok {
		return
	}
	v, found := i.env.Params[string(key)]
	if !found {
		i.logf(LevelDebug, fn, "no param %q", key)
		return
	}
	if i.writeGuest(g, fn, dst, []byte(v), true) {
		s[0] = ok32
	}
}

// Bounds of what setConfig may add to the configuration, which lives in
// the host's heap for the whole run.
const (
	maxConfigKey   = 256
	maxConfigValue = 64 << 10
	maxConfigDepth = 16
	maxConfigKeys  = 4096
)

// hSetConfig sets a dotted key of the gadget's configuration to a string
// (the only kind upstream supports), creating intermediate mappings.
func (i *Instance) hSetConfig(g api.Module, s []uint64) {
	const fn = "setConfig"
	key, ok := i.readGuest(g, fn, s[0])
	val, kind := s[1], datasource.Kind(u32(s[2]))
	s[0] = err32
	if !ok {
		return
	}
	if kind != datasource.String && kind != datasource.CString {
		i.logf(LevelWarn, fn, "key %q: unsupported kind %s (only string values can be set)", key, kind)
		return
	}
	v, ok := i.readGuest(g, fn, val)
	if !ok {
		return
	}
	if i.env.Config == nil {
		i.logf(LevelWarn, fn, "key %q: this run has no gadget configuration", key)
		return
	}
	if len(key) > maxConfigKey || len(v) > maxConfigValue {
		i.logf(LevelWarn, fn, "key of %d bytes and value of %d: more than %d or %d", len(key), len(v), maxConfigKey, maxConfigValue)
		return
	}
	parts := strings.Split(string(key), ".")
	if len(parts) > maxConfigDepth {
		i.logf(LevelWarn, fn, "key %q: more than %d levels", key, maxConfigDepth)
		return
	}
	for _, p := range parts {
		if p == "" {
			i.logf(LevelWarn, fn, "invalid key %q", key)
			return
		}
	}
	if i.env.Config.Config == nil {
		i.env.Config.Config = map[string]any{}
	}
	m := i.env.Config.Config
	added := 0 // the keys this call adds
	for _, p := range parts {
		if _, found := m[p]; !found {
			added = len(parts)
			break
		}
		if next, isMap := m[p].(map[string]any); isMap {
			m = next
		}
	}
	if i.configKeys+added > maxConfigKeys {
		i.logf(LevelWarn, fn, "key %q: the module has added %d configuration keys, the most it may", key, i.configKeys)
		return
	}
	i.configKeys += added
	m = i.env.Config.Config
	for k, p := range parts[:len(parts)-1] {
		next, found := m[p]
		if !found || next == nil {
			nm := map[string]any{}
			m[p] = nm
			m = nm
			continue
		}
		nm, isMap := next.(map[string]any)
		if !isMap {
			i.logf(LevelWarn, fn, "key %q: %s is not a mapping", key, strings.Join(parts[:k+1], "."))
			return
		}
		m = nm
	}
	m[parts[len(parts)-1]] = string(v)
	s[0] = ok32
}

func (i *Instance) hShouldDiscardMntnsID(_ api.Module, s []uint64) {
	s[0] = boolResult(i.env.ShouldDiscardMntns != nil && i.env.ShouldDiscardMntns(s[0]))
}

// kallsymsPath is a variable for tests.
var kallsymsPath = "/proc/kallsyms"

func (i *Instance) hKallsymsSymbolExists(g api.Module, s []uint64) {
	const fn = "kallsymsSymbolExists"
	sym, ok := i.readGuest(g, fn, s[0])
	s[0] = 0
	if !ok || len(sym) == 0 {
		return
	}
	if i.kallsyms == nil {
		syms, err := readKallsyms(kallsymsPath)
		if err != nil {
			i.logf(LevelWarn, fn, "%v", err)
			return
		}
		i.kallsyms = syms
	}
	_, found := i.kallsyms[string(sym)]
	s[0] = boolResult(found)
}

// readKallsyms returns the symbol names of /proc/kallsyms (module
// symbols without their "[module]" suffix). The keys share one string.
func readKallsyms(path string) (map[string]struct{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	all := string(data)
	syms := make(map[string]struct{}, bytes.Count(data, []byte{'\n'}))
	for len(all) > 0 {
		line := all
		if k := strings.IndexByte(all, '\n'); k >= 0 {
			line, all = all[:k], all[k+1:]
		} else {
			all = ""
		}
		// "ffffffff81000000 T _stext" or "... t name\t[module]"
		_, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		_, name, ok := strings.Cut(rest, " ")
		if !ok {
			continue
		}
		if k := strings.IndexByte(name, '\t'); k >= 0 {
			name = name[:k]
		}
		syms[name] = struct{}{}
	}
	return syms, nil
}
