package top_tcp_test

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}

type endpoint struct {
	Addr     string `json:"addr"`
	Port     uint16 `json:"port"`
	Proto    string `json:"proto"`
	ProtoRaw uint16 `json:"proto_raw"`
	Version  uint8  `json:"version"`
}

type entry struct {
	Proc struct {
		Comm string `json:"comm"`
		Pid  int    `json:"pid"`
	} `json:"proc"`
	Src         endpoint `json:"src"`
	Dst         endpoint `json:"dst"`
	SentRaw     uint64   `json:"sent_raw"`
	Sent        string   `json:"sent"`
	ReceivedRaw uint64   `json:"received_raw"`
	Received    string   `json:"received"`
	Key         *int64   `json:"__pid"`
}

// chunk is what the client sends at a time.
const chunk = 64 << 10

// pair is a TCP connection on 127.0.0.1 inside the test process: the
// client sends chunk bytes every 50 ms, the server reads them all.
type pair struct {
	client, server net.Conn
	stop           chan struct{}
	wg             sync.WaitGroup
}

func startPair(t *testing.T) *pair {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	p := &pair{client: client, server: server, stop: make(chan struct{})}
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(io.Discard, server)
	}()
	go func() {
		defer p.wg.Done()
		buf := make([]byte, chunk)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := client.Write(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *pair) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.client.Close()
	p.server.Close()
	p.wg.Wait()
}

func ports(c net.Conn) (local, remote uint16) {
	return uint16(c.LocalAddr().(*net.TCPAddr).Port), uint16(c.RemoteAddr().(*net.TCPAddr).Port)
}

// fetches parses the output of `-o json` for a map iterator: one JSON
// array per fetch.
func fetches(t *testing.T, out string) [][]entry {
	t.Helper()
	var all [][]entry
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var batch []entry
		if err := dec.Decode(&batch); err != nil {
			t.Fatalf("not a JSON array of entries: %v\n%s", err, out)
		}
		all = append(all, batch)
	}
	return all
}

func TestTopTCP(t *testing.T) {
	ig := testutil.GadgetImage(t, "..", "top_tcp")
	p := startPair(t)
	cport, sport := ports(p.client)

	type result struct {
		out string
		err error
	}
	run := func(extra ...string) <-chan result {
		ch := make(chan result, 1)
		go func() {
			args := append([]string{"run", "top_tcp", "-o", "json",
				"--map-fetch-interval", "500ms", "--map-fetch-count", "3",
				"--sort", "-sent_raw"}, extra...)
			out, stderr, err := ig.Run(args...)
			if err != nil {
				err = &runError{err: err, stderr: stderr}
			}
			ch <- result{out, err}
		}()
		return ch
	}
	// Both runs at once, while the pair keeps sending.
	all, v6 := run(), run("--family", "6")
	r := <-all
	r6 := <-v6
	p.close()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r6.err != nil {
		t.Fatal(r6.err)
	}

	batches := fetches(t, r.out)
	if len(batches) != 3 {
		t.Errorf("%d fetches, want 3:\n%s", len(batches), r.out)
	}
	pid := os.Getpid()
	var clientSeen, serverSeen bool
	for _, b := range batches {
		for i, e := range b {
			if i > 0 && b[i-1].SentRaw < e.SentRaw {
				t.Errorf("not sorted by sent_raw, descending: %d before %d", b[i-1].SentRaw, e.SentRaw)
			}
			if e.Key != nil {
				t.Errorf("private key member shown: %+v", e)
			}
			if e.Proc.Pid != pid {
				continue
			}
			switch {
			case e.Src.Port == cport && e.Dst.Port == sport:
				if e.SentRaw >= chunk {
					clientSeen = true
				}
				if e.ReceivedRaw != 0 {
					t.Errorf("client received %d bytes, the server sends none", e.ReceivedRaw)
				}
			case e.Src.Port == sport && e.Dst.Port == cport:
				if e.ReceivedRaw >= chunk {
					serverSeen = true
				}
				if e.SentRaw != 0 {
					t.Errorf("server sent %d bytes, it sends none", e.SentRaw)
				}
			default:
				continue
			}
			if e.Src.Addr != "127.0.0.1" || e.Dst.Addr != "127.0.0.1" || e.Src.Version != 4 ||
				e.Src.Proto != "TCP" || e.Dst.ProtoRaw != 6 || e.Sent == "" || e.Received == "" {
				t.Errorf("wrong entry: %+v", e)
			}
		}
	}
	if !clientSeen {
		t.Errorf("no entry of pid %d for %d -> %d with sent_raw >= %d:\n%s", pid, cport, sport, chunk, r.out)
	}
	if !serverSeen {
		t.Errorf("no entry of pid %d for %d -> %d with received_raw >= %d:\n%s", pid, sport, cport, chunk, r.out)
	}

	// --family 6: the IPv4 connection is left out.
	for _, b := range fetches(t, r6.out) {
		for _, e := range b {
			if e.Src.Version != 6 {
				t.Errorf("--family 6 shows an IPv%d entry: %+v", e.Src.Version, e)
			}
		}
	}
}

type runError struct {
	err    error
	stderr string
}

func (e *runError) Error() string { return e.err.Error() + "\n" + e.stderr }
