package containers

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// runcState is the part of runc's <root>/<id>/state.json read here.
type runcState struct {
	ID        string `json:"id"`
	InitPid   uint32 `json:"init_process_pid"`
	InitStart uint64 `json:"init_process_start"`
	Config    struct {
		Labels []string `json:"labels"` // "bundle=/path", ...
	} `json:"config"`
}

// runcRoots returns the runc state directories scanned at start: runc's
// default, every containerd namespace's, Docker's, and Options.RuncRoots.
func (c *Collection) runcRoots() []string {
	roots := []string{"/run/runc"}
	for _, pattern := range []string{"/run/containerd/runc/*", "/run/docker/runtime-runc/*", "/var/run/docker/runtime-runc/*"} {
		m, _ := filepath.Glob(filepath.Join(c.opts.HostRoot, pattern))
		for _, p := range m {
			roots = append(roots, strings.TrimPrefix(p, filepath.Clean(c.opts.HostRoot)))
		}
	}
	return append(roots, c.opts.RuncRoots...)
}

// scanRuncRoots adds the containers runc is running that no runtime
// reported: bare `runc run` ones, or those of a runtime whose socket is
// not there. Containers already known (by pid) are left alone.
func (c *Collection) scanRuncRoots() {
	for _, root := range c.runcRoots() {
		ents, err := os.ReadDir(filepath.Join(c.opts.HostRoot, root))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			var st runcState
			if readJSONFile(filepath.Join(c.opts.HostRoot, root, e.Name(), "state.json"), &st) != nil || st.InitPid == 0 {
				continue
			}
			if c.LookupPid(st.InitPid) != nil {
				continue
			}
			// The pid must still be runc's init process, not a reuse.
			if _, _, ticks, err := c.proc.stat(st.InitPid); err != nil || (st.InitStart != 0 && ticks != st.InitStart) {
				continue
			}
			inv := runcInvocation{command: "run", root: root, id: st.ID}
			for _, l := range st.Config.Labels {
				if b, ok := strings.CutPrefix(l, "bundle="); ok {
					inv.bundle = b
				}
			}
			if ct := c.fromRunc(st.InitPid, inv); ct != nil {
				c.add(ct)
			}
		}
	}
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
