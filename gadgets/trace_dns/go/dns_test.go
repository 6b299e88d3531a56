package main

// Native tests of the DNS reader and the unanswered-query tracker. The
// module is not part of ig's Go module: ../test/trace_dns_test.go runs
// them with a go.work joining this directory and the SDK.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// builder assembles DNS messages for the tests.
type builder struct{ b []byte }

func newMsg(id, flags, qd, an uint16) *builder {
	b := &builder{}
	for _, v := range []uint16{id, flags, qd, an, 0, 0} {
		b.b = binary.BigEndian.AppendUint16(b.b, v)
	}
	return b
}

func (b *builder) name(n string) *builder {
	for _, l := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if l == "" {
			continue
		}
		b.b = append(b.b, byte(len(l)))
		b.b = append(b.b, l...)
	}
	b.b = append(b.b, 0)
	return b
}

func (b *builder) raw(p ...byte) *builder { b.b = append(b.b, p...); return b }

func (b *builder) u16(v ...uint16) *builder {
	for _, x := range v {
		b.b = binary.BigEndian.AppendUint16(b.b, x)
	}
	return b
}

// rr appends the fixed part of a record after its name, and its data.
func (b *builder) rr(typ uint16, data []byte) *builder {
	b.u16(typ, classINET)
	b.b = binary.BigEndian.AppendUint32(b.b, 60)
	b.u16(uint16(len(data)))
	b.b = append(b.b, data...)
	return b
}

func TestQuery(t *testing.T) {
	b := newMsg(0x1234, 0x0100, 1, 0).name("example.test.").u16(typeA, classINET)
	var m message
	if err := parseMessage(b.b, &m); err != nil {
		t.Fatal(err)
	}
	if m.id != 0x1234 || m.response || !m.rd || m.ra || m.tc || m.ancount != 0 {
		t.Errorf("header: %+v", m)
	}
	if !m.hasQuestion || string(m.name) != "example.test." || m.qtype != typeA {
		t.Errorf("question: %+v", m)
	}
	if h, h2 := hexID(m.id), hexID(0xab); string(h[:]) != "1234" || string(h2[:]) != "00ab" {
		t.Errorf("hexID: %s %s", h[:], h2[:])
	}
}

func TestResponseWithCompressionAndCNAME(t *testing.T) {
	// Question at offset 12; answers refer to it with pointer 0xc00c.
	b := newMsg(7, 0x8180, 1, 4).name("www.example.test.").u16(typeA, classINET)
	target := (&builder{}).raw(3, 'c', 'd', 'n', 0xc0, 16).b // "cdn." + pointer to "example.test."
	b.raw(0xc0, 12).rr(5, target)                            // CNAME
	b.raw(0xc0, 12).rr(typeA, []byte{192, 0, 2, 1})
	b.raw(0xc0, 12).rr(typeAAAA, []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
	b.raw(0xc0, 12).rr(16, []byte("\x05hello")) // TXT: not an address
	var m message
	if err := parseMessage(b.b, &m); err != nil {
		t.Fatal(err)
	}
	if !m.response || !m.ra || m.rcode != 0 || m.ancount != 4 {
		t.Errorf("header: %+v", m)
	}
	if string(m.name) != "www.example.test." {
		t.Errorf("name %q", m.name)
	}
	if want := "192.0.2.1,2001:db8::1"; string(m.addresses) != want {
		t.Errorf("addresses %s, want %s", m.addresses, want)
	}
	// The CNAME target decodes through its pointer.
	at := bytes.Index(b.b, target)
	if n, next, err := readName(nil, b.b, at); err != nil || string(n) != "cdn.example.test." || next != at+len(target) {
		t.Errorf("CNAME target: %q %d %v", n, next, err)
	}
}

func TestNameErrorAndNames(t *testing.T) {
	var m message
	b := newMsg(1, 0x8183, 1, 0).name(".").u16(28, classINET)
	if err := parseMessage(b.b, &m); err != nil {
		t.Fatal(err)
	}
	if m.rcode != 3 || rcodeName(m.rcode) != "NameError" || string(m.name) != "." || qtypeName(m.qtype) != "AAAA" {
		t.Errorf("%+v %s", m, rcodeName(m.rcode))
	}
	if rcodeName(9) != "9" || qtypeName(65) != "HTTPS" || qtypeName(999) != "999" {
		t.Errorf("names: %s %s %s", rcodeName(9), qtypeName(65), qtypeName(999))
	}
	// Labels with dots, backslashes and unprintable bytes are escaped.
	b = newMsg(1, 0, 1, 0).raw(3, 'a', '.', 'b', 2, '\\', 0x01, 0).u16(1, 1)
	if err := parseMessage(b.b, &m); err != nil || string(m.name) != `a\.b.\\\001.` {
		t.Errorf("escaped name %q, %v", m.name, err)
	}
}

func TestMalformed(t *testing.T) {
	var m message
	full := newMsg(9, 0x8180, 1, 1).name("example.test.").u16(typeA, classINET).
		raw(0xc0, 12).rr(typeA, []byte{192, 0, 2, 1}).b
	// Every truncation reads the header, and the question once complete.
	for n := 0; n < len(full); n++ {
		err := parseMessage(full[:n], &m)
		if err == nil {
			t.Fatalf("%d bytes: no error", n)
		}
		if n >= headerLength && m.id != 9 {
			t.Errorf("%d bytes: header lost: %+v", n, m)
		}
		if n >= headerLength+14+4 && (!m.hasQuestion || string(m.name) != "example.test.") {
			t.Errorf("%d bytes: question lost: %+v", n, m)
		}
	}
	// A pointer loop and a pointer to itself end with an error.
	loop := newMsg(1, 0, 1, 0).raw(0xc0, 12).u16(1, 1).b
	if err := parseMessage(loop, &m); !errors.Is(err, errPointer) {
		t.Errorf("pointer loop: %v", err)
	}
	// A name over 255 bytes.
	long := newMsg(1, 0, 1, 0)
	for i := 0; i < 5; i++ {
		long.raw(63)
		long.raw(make([]byte, 63)...)
	}
	long.raw(0).u16(1, 1)
	if err := parseMessage(long.b, &m); !errors.Is(err, errName) {
		t.Errorf("long name: %v", err)
	}
	// Reserved label types.
	if err := parseMessage(newMsg(1, 0, 1, 0).raw(0x40, 0).b, &m); !errors.Is(err, errName) {
		t.Errorf("label type 0x40: %v", err)
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add(newMsg(7, 0x8180, 1, 1).name("a.b.").u16(1, 1).raw(0xc0, 12).rr(typeA, []byte{1, 2, 3, 4}).b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		_ = parseMessage(b, &m)
	})
}

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]int64{"5s": 5e9, "500ms": 5e8, "2": 2e9, "0.5": 5e8, "0": 0, "": 0} {
		d, err := parseTimeout(in)
		if err != nil || int64(d) != want {
			t.Errorf("%q: %v %v, want %d", in, d, err, want)
		}
	}
	for _, in := range []string{"-1s", "-2", "soon"} {
		if _, err := parseTimeout(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
	// 1015 ns: the host prints float64(1015)/1e3, just below 1.015, as 1.01.
	if formatDuration(1500) != "1.50µs" || formatDuration(2_500_000) != "2.50ms" || formatDuration(1_234_000_000) != "1.234s" || formatDuration(1015) != "1.01µs" {
		t.Errorf("formatDuration: %s %s %s %s", formatDuration(1500), formatDuration(2_500_000), formatDuration(1_234_000_000), formatDuration(1015))
	}
}

func TestTracker(t *testing.T) {
	const s = int64(1e9)
	tr := newTracker(1 * s)
	var got []string
	report := func(p *entry, waited int64) {
		if waited < tr.timeout {
			t.Errorf("%s reported after %d ns", p.info.name, waited)
		}
		got = append(got, string(p.info.name))
	}
	key := func(id uint16) *queryKey {
		return &queryKey{netns: 1, id: id, proto: 17, port: 4000, addr: [16]byte{127, 0, 0, 1}, version: 4}
	}
	query := func(k *queryKey, ts int64, name string) {
		if p := tr.query(k, ts); p != nil {
			p.info.name = append(p.info.name, name...)
		}
	}

	tr.advance(10*s, report)
	query(key(1), 10*s, "answered")
	query(key(2), 10*s, "lost")
	query(key(2), 10*s+s/2, "lost again") // a retransmission
	tr.response(key(1), 10*s+s/10)
	// A response handed over before its query (another CPU's buffer).
	tr.response(key(3), 10*s+s/5)
	query(key(3), 10*s+s/10, "reordered")
	// A later query that reuses the id of an answered one is tracked.
	query(key(1), 10*s+s/2, "reused id")

	tr.advance(10*s+9*s/10, report)
	if len(got) != 0 {
		t.Fatalf("reported before the deadline: %v", got)
	}
	if p := tr.lookup(*key(2)); p == nil || p.attempts != 2 || p.ts != 10*s {
		t.Fatalf("retransmission: %+v", p)
	}
	tr.advance(11*s, report)
	if !slices.Equal(got, []string{"lost"}) {
		t.Fatalf("at 11s: %v", got)
	}
	tr.advance(12*s, report)
	if !slices.Equal(got, []string{"lost", "reused id"}) {
		t.Fatalf("at 12s: %v", got)
	}
	if tr.pending != 0 {
		t.Errorf("left pending: %d", tr.pending)
	}
	// Time never goes back.
	tr.advance(5*s, report)
	if tr.now != 12*s {
		t.Errorf("clock went back to %d", tr.now)
	}
	// Early responses are forgotten after the window.
	tr.response(key(9), 12*s)
	tr.advance(12*s+earlyWindow, report)
	if tr.early != 0 || tr.waits.head != -1 {
		t.Errorf("early responses kept: %d, list head %d", tr.early, tr.waits.head)
	}
}

// TestEarlyResponsesAtRate: responses that come before their queries, at
// a steady rate for longer than the window, are all matched (none is
// refused for lack of room) and leave nothing pending.
func TestEarlyResponsesAtRate(t *testing.T) {
	tr := newTracker(5e9)
	reported := 0
	report := func(*entry, int64) { reported++ }
	const step = int64(100e3) // 10,000 per second
	for i := 0; i < 100000; i++ {
		ts := int64(i) * step
		k := queryKey{id: uint16(i), port: uint16(i >> 16), addr: [16]byte{1}}
		tr.advance(ts, report)
		tr.response(&k, ts)
		tr.query(&k, ts-1)
	}
	tr.advance(int64(100000)*step+10e9, report)
	if reported != 0 || tr.pending != 0 {
		t.Errorf("%d reported as unanswered, %d pending; want 0", reported, tr.pending)
	}
	if tr.early != 0 || len(tr.slots) > 2 {
		t.Errorf("%d early responses kept, %d slots", tr.early, len(tr.slots))
	}
}

func TestTrackerBounds(t *testing.T) {
	tr := newTracker(1e9)
	reported := 0
	for i := 0; i < maxPending+10; i++ {
		tr.query(&queryKey{id: uint16(i), port: uint16(i >> 16), addr: [16]byte{2}}, int64(i))
	}
	if tr.pending != maxPending || tr.dropped != 10 {
		t.Fatalf("pending %d dropped %d", tr.pending, tr.dropped)
	}
	tr.advance(1e10, func(*entry, int64) { reported++ })
	if reported != maxPending || tr.pending != 0 || tr.queries.head != -1 {
		t.Fatalf("reported %d, pending %d, list head %d", reported, tr.pending, tr.queries.head)
	}
}

// TestTrackerTable checks the open-addressing table against a map through
// a long run of random insertions and removals (removal moves entries
// back along their probe sequences).
func TestTrackerTable(t *testing.T) {
	tr := newTracker(1e9)
	model := map[queryKey]int32{}
	rng := rand.New(rand.NewPCG(1, 2))
	randKey := func() queryKey {
		return queryKey{id: uint16(rng.IntN(40000)), port: uint16(rng.IntN(2)), addr: [16]byte{127, 0, 0, 1}, version: 4}
	}
	for i := 0; i < 400000; i++ {
		k := randKey()
		h := k.hash()
		s, b := tr.find(&k, h)
		want, ok := model[k]
		if ok != (s >= 0) || ok && s != want {
			t.Fatalf("op %d: find %+v = %d, want %d (%v)", i, k, s, want, ok)
		}
		switch {
		case ok:
			tr.release(b)
			delete(model, k)
		case len(model) < maxPending:
			tr.take(&k, h, b, false, 0)
			model[k], _ = tr.find(&k, h)
		}
	}
	if tr.pending != len(model) {
		t.Fatalf("%d pending, want %d", tr.pending, len(model))
	}
	for k, s := range model {
		if got, _ := tr.find(&k, k.hash()); got != s {
			t.Fatalf("%+v: slot %d, want %d", k, got, s)
		}
	}
	// The expiry list holds exactly the slots in use, linked both ways.
	n, prev := 0, int32(-1)
	for s := tr.queries.head; s >= 0; s = tr.slots[s].next {
		if tr.slots[s].prev != prev {
			t.Fatalf("slot %d: prev %d, want %d", s, tr.slots[s].prev, prev)
		}
		if m, ok := model[tr.slots[s].key]; !ok || m != s {
			t.Fatalf("slot %d in the list is not in use", s)
		}
		prev = s
		n++
	}
	if n != len(model) || tr.queries.tail != prev {
		t.Fatalf("list of %d slots ending at %d, want %d ending at %d", n, tr.queries.tail, len(model), prev)
	}
}

// TestAnsweredAtRate: answered queries leave nothing behind, so the
// tracker's memory does not grow with the query rate.
func TestAnsweredAtRate(t *testing.T) {
	tr := newTracker(5e9)
	reported := 0
	report := func(*entry, int64) { reported++ }
	const step = int64(10e3) // 100,000 per second, for 10 s
	for i := 0; i < 1000000; i++ {
		ts := int64(i) * step
		k := queryKey{id: uint16(i), port: uint16(i >> 16), addr: [16]byte{1}}
		tr.advance(ts, report)
		tr.query(&k, ts)
		tr.response(&k, ts+step/2)
	}
	if reported != 0 || tr.pending != 0 || len(tr.slots) > 1 || len(tr.free) > 1 {
		t.Errorf("%d reported, %d pending, %d slots, free list of %d", reported, tr.pending, len(tr.slots), len(tr.free))
	}
}
