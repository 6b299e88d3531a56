package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// engineClient talks to the Docker Engine API over its unix socket with
// net/http (no SDK). podman's compatible API (/run/podman/podman.sock) is
// the same protocol; only the runtime name differs.
type engineClient struct {
	runtime string
	http    *http.Client // requests with a timeout
	stream  *http.Client // the event stream: no timeout

	mu      sync.Mutex
	digests map[string]string // image id → repo digest
}

func dialEngine(ctx context.Context, runtime, path string) (*engineClient, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 2,
	}
	c := &engineClient{runtime: runtime, http: &http.Client{Transport: tr, Timeout: 5 * time.Second},
		stream: &http.Client{Transport: tr}, digests: map[string]string{}}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.get(pctx, "/_ping", nil); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *engineClient) name() string { return c.runtime }
func (c *engineClient) close() error {
	c.http.CloseIdleConnections()
	return nil
}

// get decodes the JSON answer to GET path into v (v nil: ignore the body).
func (c *engineClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://engine"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	if v == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// engineContainer is the part of GET /containers/{id}/json read here.
type engineContainer struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	Image string `json:"Image"` // image id
	State struct {
		Running bool `json:"Running"`
		Pid     int  `json:"Pid"`
	} `json:"State"`
	Config struct {
		Image  string            `json:"Image"` // as given by the user
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
}

func (c *engineClient) list(ctx context.Context) ([]*Container, error) {
	var summary []struct {
		ID string `json:"Id"`
	}
	if err := c.get(ctx, "/containers/json", &summary); err != nil {
		return nil, err
	}
	var out []*Container
	for _, s := range summary {
		if ct, err := c.inspect(ctx, s.ID); err == nil && ct != nil {
			out = append(out, ct)
		}
	}
	return out, nil
}

// inspect returns a running container (nil if not running or a sandbox).
func (c *engineClient) inspect(ctx context.Context, id string) (*Container, error) {
	var ec engineContainer
	if err := c.get(ctx, "/containers/"+url.PathEscape(id)+"/json", &ec); err != nil {
		return nil, err
	}
	if !ec.State.Running || ec.State.Pid <= 0 || isSandbox(ec.Config.Labels, nil) {
		return nil, nil
	}
	labels := internLabels(ec.Config.Labels)
	ct := &Container{ID: ec.ID, Name: strings.TrimPrefix(ec.Name, "/"), Runtime: c.runtime,
		ImageName: intern(ec.Config.Image), Pid: uint32(ec.State.Pid), Labels: labels}
	ct.setK8s(labels, nil)
	ct.ImageDigest = c.digest(ctx, ec.Image)
	return ct, nil
}

// digest returns the repo digest of an image id ("" if it has none: an
// image built or loaded locally), cached.
func (c *engineClient) digest(ctx context.Context, imageID string) string {
	if imageID == "" {
		return ""
	}
	c.mu.Lock()
	d, ok := c.digests[imageID]
	c.mu.Unlock()
	if ok {
		return d
	}
	var img struct {
		RepoDigests []string `json:"RepoDigests"`
	}
	if err := c.get(ctx, "/images/"+url.PathEscape(imageID)+"/json", &img); err != nil {
		return ""
	}
	for _, rd := range img.RepoDigests {
		if _, dg, ok := strings.Cut(rd, "@"); ok {
			d = intern(dg)
			break
		}
	}
	c.mu.Lock()
	c.digests[imageID] = d
	c.mu.Unlock()
	return d
}

func (c *engineClient) watch(ctx context.Context, fn func(runtimeEvent)) error {
	q := url.Values{"filters": {`{"type":["container"],"event":["start","die"]}`}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://engine/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /events: %s", resp.Status)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ev struct {
			Type   string `json:"Type"`
			Action string `json:"Action"`
			Actor  struct {
				ID string `json:"ID"`
			} `json:"Actor"`
		}
		if err := dec.Decode(&ev); err != nil {
			return err
		}
		if ev.Type != "" && ev.Type != "container" {
			continue
		}
		switch ev.Action {
		case "start":
			ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ct, err := c.inspect(ictx, ev.Actor.ID)
			cancel()
			if err == nil && ct != nil {
				fn(runtimeEvent{started: ct})
			}
		case "die", "died":
			fn(runtimeEvent{exitedID: ev.Actor.ID})
		}
	}
}
