/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text, DNS messages, addresses and durations for trace_dns's module.
 * Everything here writes into caller buffers: the module allocates nothing
 * per event.
 */
#ifndef TRACE_DNS_DNS_H
#define TRACE_DNS_DNS_H

/* text is a bounded output buffer; writes beyond cap are dropped. */
struct text {
	char *p;
	uint32_t n, cap;
};

static void text_add(struct text *t, const void *s, uint32_t n)
{
	if (n > t->cap - t->n)
		n = t->cap - t->n;
	__builtin_memcpy(t->p + t->n, s, n);
	t->n += n;
}

static void text_byte(struct text *t, char c)
{
	if (t->n < t->cap)
		t->p[t->n++] = c;
}

/* text_uint appends v in base 10 or 16 (lower case). */
static void text_uint(struct text *t, uint64_t v, unsigned base)
{
	char d[20];
	int i = sizeof(d);

	do {
		d[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	text_add(t, d + i, sizeof(d) - i);
}

/* DNS messages (RFC 1035, AAAA from RFC 3596): the header, the first
 * question and the A/AAAA answers. The reader reads what is there and
 * stops at the first malformed or missing byte, so a message cut short by
 * the capture limit still yields its header and question. */

#define DNS_HEADER_LEN 12
#define MAX_NAME_WIRE 255 /* wire length of a name (RFC 1035 3.1) */
#define MAX_POINTERS 32	  /* compression pointers followed in one name */
#define MAX_ANSWERS 64	  /* answer records looked at for addresses */
#define CLASS_INET 1
#define TYPE_A 1
#define TYPE_AAAA 28
#define TYPE_CAA 257

/* The presentation form of a name of at most 255 wire bytes: every byte
 * escaped as \DDD at worst. */
#define MAX_NAME_TEXT (4 * MAX_NAME_WIRE + 1)
/* "a:b:c:d:e:f:g:h" or "a.b.c.d", and a comma, per answer. */
#define MAX_ADDRESSES_TEXT (MAX_ANSWERS * 40)

struct message {
	uint16_t id;
	uint8_t response, opcode, tc, rd, ra, rcode;
	uint16_t qdcount, ancount;

	/* has_question is set once the first question was read entirely. */
	uint8_t has_question;
	uint16_t qtype;
	uint32_t name_len;	/* presentation form, with the final dot */
	uint32_t addresses_len; /* A and AAAA answers in message order, comma-separated */
	char name[MAX_NAME_TEXT];
	char addresses[MAX_ADDRESSES_TEXT];
};

static const char err_short[] = "message too short";
static const char err_pointer[] = "bad compression pointer";
static const char err_name[] = "name too long";

static inline uint16_t be16(const unsigned char *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* append_label writes a label as zone files show it: dots and
 * backslashes escaped, bytes that are not printable ASCII as \DDD. */
static void append_label(struct text *t, const unsigned char *l, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		unsigned char c = l[i];
		if (c == '.' || c == '\\') {
			text_byte(t, '\\');
			text_byte(t, (char)c);
		} else if (c < 0x21 || c > 0x7e) {
			text_byte(t, '\\');
			text_byte(t, (char)('0' + c / 100));
			text_byte(t, (char)('0' + c / 10 % 10));
			text_byte(t, (char)('0' + c % 10));
		} else {
			text_byte(t, (char)c);
		}
	}
}

/* read_name writes the name at *off in presentation form ("example.com.",
 * "." for the root) and moves *off after it in the message (after the
 * first pointer, if compressed). */
static const char *read_name(struct text *t, const unsigned char *m, uint32_t len, uint32_t *off)
{
	uint32_t o = *off, end = 0, wire = 0, ptrs = 0, start = t->n;
	int jumped = 0;

	for (;;) {
		if (o >= len)
			return err_short;
		uint32_t c = m[o];
		switch (c & 0xc0) {
		case 0x00:
			if (c == 0) {
				if (!jumped)
					end = o + 1;
				if (t->n == start)
					text_byte(t, '.');
				*off = end;
				return 0;
			}
			if (o + 1 + c > len)
				return err_short;
			if ((wire += c + 1) > MAX_NAME_WIRE)
				return err_name;
			append_label(t, m + o + 1, c);
			text_byte(t, '.');
			o += 1 + c;
			break;
		case 0xc0:
			if (o + 1 >= len)
				return err_short;
			if (++ptrs > MAX_POINTERS)
				return err_pointer;
			if (!jumped) {
				end = o + 2;
				jumped = 1;
			}
			o = (c & 0x3f) << 8 | m[o + 1];
			break;
		default: /* 0x40 and 0x80: extended label types, unused */
			return err_name;
		}
	}
}

/* skip_name moves *off after the name at *off without decoding it. */
static const char *skip_name(const unsigned char *m, uint32_t len, uint32_t *off)
{
	uint32_t o = *off;

	for (;;) {
		if (o >= len)
			return err_short;
		uint32_t c = m[o];
		switch (c & 0xc0) {
		case 0x00:
			if (c == 0) {
				*off = o + 1;
				return 0;
			}
			o += 1 + c;
			break;
		case 0xc0:
			if (o + 1 >= len)
				return err_short;
			*off = o + 2;
			return 0;
		default:
			return err_name;
		}
	}
}

static void append_ipv4(struct text *t, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			text_byte(t, '.');
		text_uint(t, a[i], 10);
	}
}

/* append_ipv6 writes a in its RFC 5952 form, as Go's net/netip does:
 * lower-case hex without leading zeros, the first longest run of two or
 * more zero groups as "::", IPv4-mapped addresses as ::ffff:a.b.c.d. */
static void append_ipv6(struct text *t, const uint8_t *a)
{
	uint16_t g[8];
	int zs = -1, zl = 1;

	for (int i = 0; i < 8; i++)
		g[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	if (!g[0] && !g[1] && !g[2] && !g[3] && !g[4] && g[5] == 0xffff) {
		text_add(t, "::ffff:", 7);
		append_ipv4(t, a + 12);
		return;
	}
	for (int i = 0; i < 8;) {
		if (g[i]) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && !g[j])
			j++;
		if (j - i > zl) {
			zs = i;
			zl = j - i;
		}
		i = j;
	}
	for (int i = 0; i < 8; i++) {
		if (i == zs) {
			text_add(t, "::", 2);
			i += zl - 1;
			continue;
		}
		if (i > 0 && i != zs + zl)
			text_byte(t, ':');
		text_uint(t, g[i], 16);
	}
}

/* ipv4_of returns the IPv4 address raw holds, if any: version 4, or an
 * IPv4-mapped IPv6 address. */
static const uint8_t *ipv4_of(const uint8_t *raw, uint8_t version)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (version == 4)
		return raw;
	for (int i = 0; i < 12; i++)
		if (raw[i] != mapped[i])
			return 0;
	return raw + 12;
}

/* append_addr writes an address field as the host formats addresses: an
 * IPv4-mapped IPv6 address as IPv4. */
static void append_addr(struct text *t, const uint8_t *raw, uint8_t version)
{
	const uint8_t *v4 = ipv4_of(raw, version);

	if (v4)
		append_ipv4(t, v4);
	else
		append_ipv6(t, raw);
}

/* append_endpoint writes "addr:port", "[addr]:port" for IPv6. */
static void append_endpoint(struct text *t, const uint8_t *raw, uint8_t version, uint16_t port)
{
	const uint8_t *v4 = ipv4_of(raw, version);

	if (v4) {
		append_ipv4(t, v4);
	} else {
		text_byte(t, '[');
		append_ipv6(t, raw);
		text_byte(t, ']');
	}
	text_byte(t, ':');
	text_uint(t, port, 10);
}

/* parse_message reads the message b into m. On error m holds what was read
 * before it; the header is complete whenever len >= DNS_HEADER_LEN. */
static const char *parse_message(const unsigned char *b, uint32_t len, struct message *m)
{
	struct text name = {m->name, 0, sizeof(m->name)};
	struct text addrs = {m->addresses, 0, sizeof(m->addresses)};
	const char *err = 0;
	uint32_t off = DNS_HEADER_LEN;

	m->has_question = 0;
	m->qtype = 0;
	m->name_len = 0;
	m->addresses_len = 0;
	if (len < DNS_HEADER_LEN) {
		m->id = 0;
		m->response = m->opcode = m->tc = m->rd = m->ra = m->rcode = 0;
		m->qdcount = m->ancount = 0;
		return err_short;
	}
	uint16_t flags = be16(b + 2);
	m->id = be16(b);
	m->response = (flags & 0x8000) != 0;
	m->opcode = (flags >> 11) & 0xf;
	m->tc = (flags & 0x0200) != 0;
	m->rd = (flags & 0x0100) != 0;
	m->ra = (flags & 0x0080) != 0;
	m->rcode = flags & 0xf;
	m->qdcount = be16(b + 4);
	m->ancount = be16(b + 6);

	/* Questions: the first one is reported, the others skipped. */
	for (uint32_t i = 0; i < m->qdcount; i++) {
		err = i == 0 ? read_name(&name, b, len, &off) : skip_name(b, len, &off);
		if (err)
			return err;
		if (off + 4 > len)
			return err_short;
		if (i == 0) {
			m->name_len = name.n;
			m->qtype = be16(b + off);
			m->has_question = 1;
		}
		off += 4; /* type, class */
	}

	for (uint32_t i = 0; i < m->ancount && i < MAX_ANSWERS; i++) {
		if ((err = skip_name(b, len, &off)))
			return err;
		if (off + 10 > len)
			return err_short;
		uint16_t type = be16(b + off), class = be16(b + off + 2);
		uint32_t rdlen = be16(b + off + 8);
		off += 10;
		if (off + rdlen > len)
			return err_short;
		const unsigned char *rdata = b + off;
		off += rdlen;
		if (class != CLASS_INET)
			continue;
		if (!((type == TYPE_A && rdlen == 4) || (type == TYPE_AAAA && rdlen == 16)))
			continue;
		if (addrs.n)
			text_byte(&addrs, ',');
		if (rdlen == 4)
			append_ipv4(&addrs, rdata);
		else
			append_ipv6(&addrs, rdata);
		m->addresses_len = addrs.n;
	}
	return 0;
}

/* Names of query types: upstream's set, then a few that are common today. */
static const char *qtype_name(char *num, uint16_t t)
{
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 11: return "WKS";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 14: return "MINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 35: return "NAPTR";
	case 41: return "OPT";
	case 43: return "DS";
	case 46: return "RRSIG";
	case 47: return "NSEC";
	case 48: return "DNSKEY";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 251: return "IXFR";
	case 252: return "AXFR";
	case 255: return "ALL";
	case TYPE_CAA: return "CAA";
	}
	struct text x = {num, 0, 7};
	text_uint(&x, t, 10);
	num[x.n] = 0;
	return num;
}

static const char *rcode_name(char *num, uint8_t r)
{
	static const char *const names[] = {"Success",	      "FormatError", "ServerFailure",
					    "NameError",      "NotImplemented", "Refused"};

	if (r < sizeof(names) / sizeof(names[0]))
		return names[r];
	struct text x = {num, 0, 7};
	text_uint(&x, r, 10);
	num[x.n] = 0;
	return num;
}

/* hex_id writes the id as 4 lower-case hex digits. */
static void hex_id(char *dst, uint16_t id)
{
	static const char digits[] = "0123456789abcdef";

	dst[0] = digits[id >> 12];
	dst[1] = digits[id >> 8 & 0xf];
	dst[2] = digits[id >> 4 & 0xf];
	dst[3] = digits[id & 0xf];
}

/* Durations. */

#define NS_PER_US 1000LL
#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL

static int64_t duration_unit(const char *u, uint32_t n)
{
	if (n == 2 && u[0] == 'n' && u[1] == 's')
		return 1;
	if ((n == 2 && u[0] == 'u' && u[1] == 's') ||
	    (n == 3 && (unsigned char)u[0] == 0xc2 && (unsigned char)u[1] == 0xb5 && u[2] == 's'))
		return NS_PER_US;
	if (n == 2 && u[0] == 'm' && u[1] == 's')
		return NS_PER_MS;
	if (n == 1 && u[0] == 's')
		return NS_PER_S;
	if (n == 1 && u[0] == 'm')
		return 60 * NS_PER_S;
	if (n == 1 && u[0] == 'h')
		return 3600 * NS_PER_S;
	return 0;
}

/* decimal computes the decimal number s ("12", "0.5", ".5") times scale in
 * integers; 0 if s is not such a number or the result overflows. */
static int decimal(const char *s, uint32_t n, int64_t scale, int64_t *out)
{
	int64_t v = 0;
	uint32_t i = 0;

	if (!n || (n == 1 && s[0] == '.') || scale <= 0)
		return 0;
	for (; i < n && s[i] != '.'; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (1LL << 62) / 10 / scale)
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	v *= scale;
	for (int64_t f = scale; i + 1 < n; i++) {
		char c = s[i + 1];
		if (c < '0' || c > '9')
			return 0;
		f /= 10;
		v += (c - '0') * f;
	}
	*out = v;
	return 1;
}

static int is_num(char c)
{
	return (c >= '0' && c <= '9') || c == '.';
}

/* parse_timeout reads --dns-timeout in ns: a Go duration ("5s", "500ms",
 * "1m30s") or a number of seconds ("2", "0.5"); 0 turns tracking off.
 * It returns an error text, 0 on success. */
static const char *parse_timeout(const char *s, uint32_t n, int64_t *out)
{
	int64_t total = 0, v;

	while (n && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*out = 0;
	if (!n)
		return 0;
	if (s[0] == '-')
		return "negative timeout";
	if (decimal(s, n, NS_PER_S, out))
		return 0;
	while (n) {
		uint32_t i = 0, j;
		while (i < n && is_num(s[i]))
			i++;
		for (j = i; j < n && !is_num(s[j]);)
			j++;
		int64_t scale = duration_unit(s + i, j - i);
		if (!scale || !decimal(s, i, scale, &v) || v > INT64_MAX - total)
			return "not a duration (a number of seconds, or a Go duration such as 5s, "
			       "500ms, 1m30s)";
		total += v;
		s += j;
		n -= j;
	}
	*out = total;
	return 0;
}

/* append_hundredths writes ns/unit with two decimals as the host formats
 * durations below a second: the quotient in float64, then rounded to two
 * decimals from its exact binary value, ties to even (what Go's
 * strconv.FormatFloat(q, 'f', 2, 64) does). q >= 1 here. */
static void append_hundredths(struct text *t, int64_t ns, int64_t unit)
{
	double q = (double)ns / (double)unit;
	uint64_t bits;

	__builtin_memcpy(&bits, &q, 8);
	int exp = (int)(bits >> 52 & 0x7ff) - 1075; /* q = mant * 2^exp */
	uint64_t mant = (bits & ((1ULL << 52) - 1)) | 1ULL << 52;
	uint64_t h; /* round(q * 100) */
	if (exp >= 0) {
		h = (mant << exp) * 100; /* not reached for q < 2^53 */
	} else {
		uint64_t x = mant * 100; /* < 2^60 */
		int s = -exp;
		if (s >= 64) {
			h = 0;
		} else {
			uint64_t r = x & ((1ULL << s) - 1), half = 1ULL << (s - 1);
			h = x >> s;
			if (r > half || (r == half && (h & 1)))
				h++;
		}
	}
	text_uint(t, h / 100, 10);
	text_byte(t, '.');
	text_byte(t, (char)('0' + h / 10 % 10));
	text_byte(t, (char)('0' + h % 10));
}

/* format_duration writes ns as ig writes gadget_duration fields: "10ns",
 * "1.50µs", "2.50ms" below a second, else as Go prints durations
 * ("1.234s", "1m5s", "2h0m0s"). */
static void format_duration(struct text *t, int64_t ns)
{
	if (ns < NS_PER_US) {
		if (ns < 0) {
			text_byte(t, '-');
			ns = -ns;
		}
		text_uint(t, (uint64_t)ns, 10);
		text_add(t, "ns", 2);
		return;
	}
	if (ns < NS_PER_MS) {
		append_hundredths(t, ns, NS_PER_US);
		text_add(t, "\xc2\xb5s", 3);
		return;
	}
	if (ns < NS_PER_S) {
		append_hundredths(t, ns, NS_PER_MS);
		text_add(t, "ms", 2);
		return;
	}
	int64_t secs = ns / NS_PER_S, frac = ns % NS_PER_S;
	if (secs / 3600 > 0) {
		text_uint(t, (uint64_t)(secs / 3600), 10);
		text_byte(t, 'h');
	}
	if (secs >= 60) {
		text_uint(t, (uint64_t)(secs / 60 % 60), 10);
		text_byte(t, 'm');
	}
	text_uint(t, (uint64_t)(secs % 60), 10);
	if (frac) {
		char d[9];
		int n = 9;
		for (int i = 8; i >= 0; i--, frac /= 10)
			d[i] = (char)('0' + frac % 10);
		while (n > 0 && d[n - 1] == '0')
			n--;
		text_byte(t, '.');
		text_add(t, d, (uint32_t)n);
	}
	text_byte(t, 's');
}

#endif
