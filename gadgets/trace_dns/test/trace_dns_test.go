package trace_dns_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gadgetkit/ig/internal/testutil"
)

type endpoint struct {
	Addr    string `json:"addr"`
	Port    uint16 `json:"port"`
	Proto   string `json:"proto"`
	Version uint8  `json:"version"`
}

func (e endpoint) String() string {
	if e.Version == 6 {
		return fmt.Sprintf("[%s]:%d", e.Addr, e.Port)
	}
	return fmt.Sprintf("%s:%d", e.Addr, e.Port)
}

// dnsEvent is a line of the datasource dns.
type dnsEvent struct {
	line         int
	TimestampRaw uint64   `json:"timestamp_raw"`
	NetnsID      uint64   `json:"netns_id"`
	PktType      string   `json:"pkt_type"`
	Src          endpoint `json:"src"`
	Dst          endpoint `json:"dst"`
	Nameserver   struct {
		Addr    string `json:"addr"`
		Version uint8  `json:"version"`
	} `json:"nameserver"`
	LatencyNsRaw uint64 `json:"latency_ns_raw"`
	LatencyNs    string `json:"latency_ns"`
	ID           string `json:"id"`
	QrRaw        bool   `json:"qr_raw"`
	Qr           string `json:"qr"`
	QtypeRaw     uint16 `json:"qtype_raw"`
	Qtype        string `json:"qtype"`
	Name         string `json:"name"`
	RcodeRaw     uint16 `json:"rcode_raw"`
	Rcode        string `json:"rcode"`
	NumAnswers   int32  `json:"num_answers"`
	Addresses    string `json:"addresses"`
	Rd           bool   `json:"rd"`
	Ra           bool   `json:"ra"`
	Proc         struct {
		Pid  uint32 `json:"pid"`
		Comm string `json:"comm"`
	} `json:"proc"`
}

// unansweredEvent is a line of the datasource dns_unanswered.
type unansweredEvent struct {
	line         int
	TimestampRaw uint64 `json:"timestamp_raw"`
	Timestamp    string `json:"timestamp"`
	NetnsID      uint64 `json:"netns_id"`
	Src          string `json:"src"`
	Dst          string `json:"dst"`
	Nameserver   string `json:"nameserver"`
	WaitedNsRaw  uint64 `json:"waited_ns_raw"`
	WaitedNs     string `json:"waited_ns"`
	ID           string `json:"id"`
	Qr           string `json:"qr"`
	QtypeRaw     uint16 `json:"qtype_raw"`
	Qtype        string `json:"qtype"`
	Name         string `json:"name"`
	Attempts     uint32 `json:"attempts"`
	Unanswered   bool   `json:"unanswered"`
}

// igWithTraceDNS returns ig with a private store holding trace_dns, built
// once for the package.
func igWithTraceDNS(t *testing.T) *testutil.Cmd {
	t.Helper()
	return testutil.GadgetImage(t, "..", "trace_dns")
}

// runIG runs `ig run trace_dns args...` inside n: Attach() puts the socket
// filter in ig's own network namespace.
func runIG(t *testing.T, ig *testutil.Cmd, n *netns, args ...string) string {
	t.Helper()
	cmd := n.command(ig.Bin, append([]string{"run", "trace_dns"}, args...)...)
	cmd.Env = append(os.Environ(), "IG_OCI_STORE="+ig.Store)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("ig run trace_dns %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	t.Logf("ig run trace_dns %s: %v, %d bytes of output", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out.Len())
	return out.String()
}

func parse(t *testing.T, out string) ([]*dnsEvent, []*unansweredEvent) {
	t.Helper()
	var evs []*dnsEvent
	var uns []*unansweredEvent
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &keys); err != nil {
			t.Fatalf("output line is not JSON: %q: %v", line, err)
		}
		for _, k := range []string{"data", "dns_off", "data_len"} {
			if _, ok := keys[k]; ok {
				t.Errorf("field %s is json.skip but in the output: %s", k, line)
			}
		}
		if _, ok := keys["unanswered"]; ok {
			u := &unansweredEvent{line: i}
			if err := json.Unmarshal([]byte(line), u); err != nil {
				t.Fatal(err)
			}
			uns = append(uns, u)
			continue
		}
		e := &dnsEvent{line: i}
		if err := json.Unmarshal([]byte(line), e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs, uns
}

// TestDNS runs clients and a server in the test's network namespace and
// checks what ig reports of them: queries, responses with latency and
// answers over UDP, TCP and IPv6, NXDOMAIN, and the queries to a server
// that does not exist as unanswered after --dns-timeout 1s.
func TestDNS(t *testing.T) {
	ig := igWithTraceDNS(t)
	n := newNetns(t)
	ipv6 := serve(t, n)
	tr := startTraffic(t, n, ipv6, 150*time.Millisecond)
	out := runIG(t, ig, n, "-o", "json", "--timeout", "4", "--dns-timeout", "1s")
	queries := tr.Stop()
	evs, uns := parse(t, out)

	byID := map[string]*sent{}
	for i := range queries {
		q := &queries[i]
		byID[fmt.Sprintf("%04x", q.id)] = q
		if strings.HasPrefix(q.server, "127.0.0.53") && !q.answered {
			t.Errorf("the test's server did not answer query %04x %s (%s)", q.id, q.name, q.proto)
		}
	}
	type qr struct{ id, qr string }
	seen := map[qr]*dnsEvent{}
	var lastTS uint64
	for _, e := range evs {
		lastTS = max(lastTS, e.TimestampRaw)
		if e.NetnsID != n.inode {
			t.Errorf("netns_id %d, want the test's namespace %d: line %d", e.NetnsID, n.inode, e.line)
		}
		// On lo only the sending copy of a packet is reported.
		if e.PktType != "OUTGOING" {
			t.Errorf("pkt_type %q on lo, want OUTGOING only: line %d", e.PktType, e.line)
		}
		if _, dup := seen[qr{e.ID, e.Qr}]; dup {
			t.Errorf("%s %s reported twice (lo copies not dropped?)", e.Qr, e.ID)
		}
		seen[qr{e.ID, e.Qr}] = e
		if e.Proc.Pid != 0 || e.Proc.Comm != "" {
			t.Errorf("proc filled without a socket enricher: %+v", e.Proc)
		}
	}

	// pairs returns the query/response events of the queries for name.
	pairs := func(name string) (n int, each func(func(q *sent, qe, re *dnsEvent))) {
		var list [][3]any
		for _, q := range queries {
			if q.name != name {
				continue
			}
			id := fmt.Sprintf("%04x", q.id)
			qe, re := seen[qr{id, "Q"}], seen[qr{id, "R"}]
			if qe != nil && re != nil {
				q := q
				list = append(list, [3]any{&q, qe, re})
			}
		}
		return len(list), func(f func(q *sent, qe, re *dnsEvent)) {
			for _, l := range list {
				f(l[0].(*sent), l[1].(*dnsEvent), l[2].(*dnsEvent))
			}
		}
	}
	checkPair := func(t *testing.T, q *sent, qe, re *dnsEvent, proto, qtype, server string) {
		t.Helper()
		if qe.Qr != "Q" || qe.QrRaw || re.Qr != "R" || !re.QrRaw {
			t.Errorf("%04x: qr %q/%v and %q/%v", q.id, qe.Qr, qe.QrRaw, re.Qr, re.QrRaw)
		}
		for _, e := range []*dnsEvent{qe, re} {
			if e.Name != q.name || e.Qtype != qtype || e.Nameserver.Addr != server {
				t.Errorf("%04x %s: name %q qtype %q nameserver %q, want %q %q %q", q.id, e.Qr, e.Name, e.Qtype, e.Nameserver.Addr, q.name, qtype, server)
			}
			if e.Src.Proto != proto || e.Dst.Proto != proto {
				t.Errorf("%04x %s: proto %s/%s, want %s", q.id, e.Qr, e.Src.Proto, e.Dst.Proto, proto)
			}
		}
		if qe.Src.String() != q.src || qe.Dst.String() != q.server {
			t.Errorf("%04x: query %s -> %s, the client sent %s -> %s", q.id, qe.Src, qe.Dst, q.src, q.server)
		}
		if re.Src.String() != q.server || re.Dst.String() != q.src {
			t.Errorf("%04x: response %s -> %s, want %s -> %s", q.id, re.Src, re.Dst, q.server, q.src)
		}
		if !qe.Rd || !re.Ra {
			t.Errorf("%04x: rd %v ra %v, want both set", q.id, qe.Rd, re.Ra)
		}
		if qe.LatencyNsRaw != 0 || qe.Rcode != "" {
			t.Errorf("%04x: query with latency %d rcode %q", q.id, qe.LatencyNsRaw, qe.Rcode)
		}
		if re.LatencyNsRaw == 0 || re.LatencyNsRaw > uint64(time.Second) || re.LatencyNsRaw > re.TimestampRaw-qe.TimestampRaw+1 {
			t.Errorf("%04x: latency_ns_raw %d (%s), query and response %d ns apart", q.id, re.LatencyNsRaw, re.LatencyNs, re.TimestampRaw-qe.TimestampRaw)
		}
	}

	t.Run("udp", func(t *testing.T) {
		n, each := pairs("example.test.")
		if n == 0 {
			t.Fatalf("no query with its response for example.test.; %d events", len(evs))
		}
		each(func(q *sent, qe, re *dnsEvent) {
			checkPair(t, q, qe, re, "UDP", "A", "127.0.0.53")
			if re.Rcode != "Success" || re.RcodeRaw != 0 || re.NumAnswers != 1 || re.Addresses != "192.0.2.1" {
				t.Errorf("%04x: rcode %q num_answers %d addresses %q", q.id, re.Rcode, re.NumAnswers, re.Addresses)
			}
		})
		t.Logf("%d example.test. exchanges seen", n)
	})
	t.Run("cname", func(t *testing.T) {
		n, each := pairs("cname.example.test.")
		if n == 0 {
			t.Fatal("no query with its response for cname.example.test.")
		}
		each(func(q *sent, qe, re *dnsEvent) {
			checkPair(t, q, qe, re, "UDP", "A", "127.0.0.53")
			if re.NumAnswers != 3 || re.Addresses != "192.0.2.2,192.0.2.3" {
				t.Errorf("%04x: num_answers %d addresses %q", q.id, re.NumAnswers, re.Addresses)
			}
		})
	})
	t.Run("nxdomain", func(t *testing.T) {
		n, each := pairs("missing.example.test.")
		if n == 0 {
			t.Fatal("no query with its response for missing.example.test.")
		}
		each(func(q *sent, qe, re *dnsEvent) {
			checkPair(t, q, qe, re, "UDP", "A", "127.0.0.53")
			if re.Rcode != "NameError" || re.RcodeRaw != 3 || re.NumAnswers != 0 || re.Addresses != "" {
				t.Errorf("%04x: rcode %q/%d num_answers %d addresses %q", q.id, re.Rcode, re.RcodeRaw, re.NumAnswers, re.Addresses)
			}
		})
	})
	t.Run("tcp", func(t *testing.T) {
		n, each := pairs("tcp.example.test.")
		if n == 0 {
			t.Fatal("no query with its response for tcp.example.test.")
		}
		each(func(q *sent, qe, re *dnsEvent) {
			checkPair(t, q, qe, re, "TCP", "A", "127.0.0.53")
			if re.Rcode != "Success" || re.NumAnswers != 1 || re.Addresses != "192.0.2.4" {
				t.Errorf("%04x: rcode %q num_answers %d addresses %q", q.id, re.Rcode, re.NumAnswers, re.Addresses)
			}
		})
	})
	t.Run("ipv6", func(t *testing.T) {
		if !ipv6 {
			t.Skip("no ::1 in the namespace")
		}
		n, each := pairs("v6.example.test.")
		if n == 0 {
			t.Fatal("no query with its response for v6.example.test.")
		}
		each(func(q *sent, qe, re *dnsEvent) {
			checkPair(t, q, qe, re, "UDP", "AAAA", "::1")
			if re.Src.Version != 6 || re.Nameserver.Version != 6 || re.Addresses != "2001:db8::1" {
				t.Errorf("%04x: version %d/%d addresses %q", q.id, re.Src.Version, re.Nameserver.Version, re.Addresses)
			}
		})
	})

	t.Run("unanswered", func(t *testing.T) {
		lost := 0
		for _, q := range queries {
			if q.server == "127.0.0.54:53" {
				lost++
			}
		}
		reported := map[string]*unansweredEvent{}
		for _, u := range uns {
			q := byID[u.ID]
			if q == nil || q.server != "127.0.0.54:53" {
				t.Errorf("unanswered event for a query that was answered or not sent: %+v", u)
				continue
			}
			if reported[u.ID] != nil {
				t.Errorf("query %s reported unanswered twice", u.ID)
			}
			reported[u.ID] = u
			qe := seen[qr{u.ID, "Q"}]
			if qe == nil {
				t.Errorf("unanswered %s without its query event", u.ID)
				continue
			}
			if !u.Unanswered || u.Qr != "Q" || u.Name != "nothere.example.test." || u.Qtype != "A" || u.QtypeRaw != 1 ||
				u.Nameserver != "127.0.0.54" || u.Dst != "127.0.0.54:53" || u.Src != q.src || u.Attempts != 1 {
				t.Errorf("unanswered event %+v for query %+v", u, q)
			}
			if u.NetnsID != n.inode || u.TimestampRaw != qe.TimestampRaw {
				t.Errorf("unanswered %s: netns %d timestamp %d, query %d %d", u.ID, u.NetnsID, u.TimestampRaw, qe.NetnsID, qe.TimestampRaw)
			}
			if u.WaitedNsRaw < uint64(time.Second) || u.WaitedNs == "" {
				t.Errorf("unanswered %s reported after %d ns (%s), before the 1s timeout", u.ID, u.WaitedNsRaw, u.WaitedNs)
			}
			if u.line < qe.line {
				t.Errorf("unanswered %s (line %d) before its query (line %d)", u.ID, u.line, qe.line)
			}
		}
		// Every query whose deadline a later event passed is reported,
		// and before that event.
		missed := 0
		for _, e := range evs {
			if e.Qr != "Q" || e.Nameserver.Addr != "127.0.0.54" {
				continue
			}
			deadline := e.TimestampRaw + uint64(time.Second)
			if deadline > lastTS {
				continue // reported at the end only if the clock passed it then
			}
			u := reported[e.ID]
			if u == nil {
				missed++
				t.Errorf("query %s (line %d) not reported unanswered; events went on %v after it", e.ID, e.line, time.Duration(lastTS-e.TimestampRaw))
				continue
			}
			for _, later := range evs {
				if later.TimestampRaw >= deadline {
					if u.line > later.line {
						t.Errorf("unanswered %s on line %d, after the event of line %d that passed its deadline", u.ID, u.line, later.line)
					}
					break
				}
			}
		}
		if len(reported) == 0 {
			t.Fatalf("no unanswered event; %d queries to 127.0.0.54 sent, %d dns events", lost, len(evs))
		}
		t.Logf("%d queries to 127.0.0.54 sent, %d reported unanswered, %d dns events", lost, len(reported), len(evs))
	})
}

// TestColumnsFilterNoTimeout: with --dns-timeout 0 there is no second
// datasource, so a filter on name needs no datasource prefix; the columns
// show the DNS fields.
func TestColumnsFilterNoTimeout(t *testing.T) {
	ig := igWithTraceDNS(t)
	n := newNetns(t)
	ipv6 := serve(t, n)
	tr := startTraffic(t, n, ipv6, 200*time.Millisecond)
	out := runIG(t, ig, n, "--timeout", "3", "--dns-timeout", "0", "-F", "name=example.test.")
	tr.Stop()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	header := strings.Fields(lines[0])
	for _, col := range []string{"SRC", "DST", "NAMESERVER", "LATENCY_NS", "QR", "QTYPE", "NAME", "RCODE", "ADDRESSES"} {
		if !contains(header, col) {
			t.Errorf("header %q lacks %s", lines[0], col)
		}
	}
	var q, r int
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch {
		case strings.Contains(l, "ATTEMPTS") || strings.Contains(l, "nothere") || strings.Contains(l, "cname"):
			t.Errorf("line for another name or datasource: %q", l)
		case contains(f, "Q") && contains(f, "example.test."):
			q++
		case contains(f, "R") && contains(f, "Success") && contains(f, "192.0.2.1"):
			r++
		}
	}
	if q == 0 || r == 0 {
		t.Fatalf("%d query and %d response lines for example.test.:\n%s", q, r, out)
	}
	// Another datasource header in the output means dns_unanswered exists.
	if strings.Count(out, "NAMESERVER") != 1 {
		t.Errorf("more than one table:\n%s", out)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.CleanupGadgetImages()
	os.Exit(code)
}
