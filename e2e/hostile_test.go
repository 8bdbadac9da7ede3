package e2e

// Hostile traffic through the real Envoy: a table of requests (and, through
// the fake app's set_cookie parameter, upstream responses) that try to break
// the filter, crash its VM, steer a request where it must not go or inject a
// header or cookie. Each row states its outcome from the rules:
//
//   - the filter's (README "Behaviour"): a request is sticky with a session
//     cookie and __VCAP_ID__, read as Go's net/http reads a Cookie header
//     (first valid occurrence of a name wins, a value with a byte net/http does
//     not read is skipped, nothing is read from a header with more than 3000
//     cookies); the id is looked up in the request's own route only; an
//     unknown id is balanced and the response re-issues the cookie; the app's
//     session cookies each get a __VCAP_ID__ and META mirroring them; an app
//     that sets __VCAP_ID__ itself is left alone.
//   - Envoy's, with the defaults the bootstrap keeps: more than 60 KiB of
//     request headers (max_request_headers_kb) or more than 100 request
//     headers (max_headers_count) is a 431; a header byte outside RFC 9110's
//     field-value (a control byte other than HTAB) or a malformed header line
//     is a 400; HTTP/1.0 is a 426 (accept_http_10 false); an upstream response
//     with more than 100 headers or a control byte in a header value is an
//     upstream protocol error, a 502. Envoy hands the filter the first value
//     of a repeated request header (the proxy-wasm ABI returns one value), so
//     of several Cookie headers the filter reads the first one only.
//
// The fixture keeps the pin header on the way upstream (no header_mutation
// filter), so the app's echo shows what the filter wrote: exactly the pinned
// instance's address, or nothing. Every row is checked for: the status, which
// instance served (a given one, or any), the pin header the app saw, the exact
// change of every filter counter, the __VCAP_ID__ and META Set-Cookie lines,
// and the raw response head (no bare CR, LF or NUL in any header line). At
// the end the VM must be alive: a normal session still sticks, the panics
// counter is 0, no wasm VM was created or lost, and Envoy logged no wasm
// failure.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// The routes of the hostile fixture (all over the same three instances):
	// "*" "/" with ids instance-a.., "*" "/other" with other-instance-a.., and
	// host shop.example.com "/" with shop-instance-a...
	otherPrefix = "other-"
	shopPrefix  = "shop-"
	shopHost    = "shop.example.com"
	// Envoy's defaults (HttpConnectionManager): 60 KiB of request headers
	// (names and values), 100 headers; the cluster's 100 response headers.
	envoyMaxHeaderBytes    = 60 * 1024
	envoyMaxHeaders        = 100
	envoyMaxUpstreamHeader = 100
	// The headers the fake app sends besides Set-Cookie: X-Instance-Id,
	// Content-Type, Cache-Control, Content-Length, Date.
	appOwnHeaders = 5
	// The test's client sends Host, User-Agent and (one connection per
	// request) Connection: close besides the row's headers.
	goClientHeaders = 3
)

// outcome is what a row must produce.
type outcome struct {
	status int
	// by: "app" (an instance answered), "filter" (its local reply), "envoy"
	// (Envoy's own reply: 4xx for the request, 502 for the upstream response).
	by string
	// instance that must serve ("" = any: Envoy balances).
	instance string
	// pinned is the instance whose address the app must see in the pin
	// header ("" = no pin header at all).
	pinned string
	// counters that must rise (by exactly this much; all others stay).
	deltas map[string]int64
	// vcap is the __VCAP_ID__ values the response must set, in order;
	// "$served" stands for the serving instance's id in the request's route.
	vcap []string
	// vcapLines, if set, are the exact __VCAP_ID__ lines ("$served" replaced).
	vcapLines []string
	// meta is how many __VCAP_ID_META__ lines the response must set.
	meta int
	// routerError is the filter's X-Cf-Routererror (by == "filter").
	routerError string
	// appLines are the app's own Set-Cookie lines, which must come first
	// and verbatim.
	appLines []string
	// appPath, if set, is the path the app must have received.
	appPath string
	// refreshCheck, if set, checks the re-issued __VCAP_ID__ (time-dependent
	// attributes).
	refreshCheck func(t *testing.T, c *http.Cookie)
}

// row is one hostile request.
type row struct {
	name   string
	host   string // Host (Go client rows); "" = the listener address
	path   string // default "/"
	header http.Header
	// raw, if set, is sent as is on a new TCP connection instead: the bytes
	// from the request line to the blank line (Go's client refuses them).
	raw  string
	want outcome
}

// Outcome constructors, named after the rules.

func balanced() outcome { return outcome{status: 200, by: "app"} }

func pinnedTo(id string) outcome {
	return outcome{status: 200, by: "app", instance: id, pinned: id, deltas: map[string]int64{"sticky_hits": 1}}
}

// unknownID: balanced, and the response re-issues __VCAP_ID__ for the
// instance that served, under the route's id (prefix + instance id).
func unknownID(prefix string) outcome {
	return outcome{status: 200, by: "app", vcap: []string{prefix + "$served"},
		deltas: map[string]int64{"unknown_ids": 1, "fallbacks": 1, "cookies_refreshed": 1}}
}

// appInstance: X-CF-App-Instance routes to id; a request __VCAP_ID__ naming
// another instance (staleID) is rewritten.
func appInstance(id, staleID string) outcome {
	o := outcome{status: 200, by: "app", instance: id, pinned: id, deltas: map[string]int64{"app_instance_routed": 1}}
	if staleID != "" && staleID != id {
		o.deltas["fallbacks"], o.deltas["cookies_refreshed"] = 1, 1
		o.vcap = []string{id}
	}
	return o
}

func filterReject(routerError string) outcome {
	return outcome{status: 400, by: "filter", routerError: routerError, deltas: map[string]int64{"app_instance_rejected": 1}}
}

func envoyReply(status int) outcome { return outcome{status: status, by: "envoy"} }

// cookieRow is a Go-client row with one Cookie header on path.
func cookieRow(name, path, cookies string, want outcome) row {
	return row{name: name, path: path, header: http.Header{"Cookie": {cookies}}, want: want}
}

// netHTTPDecision is the filter's request rule for one Cookie header on the
// route whose ids carry prefix, with Go's net/http as the reader (what the
// README promises): sticky iff a session cookie and a non-empty __VCAP_ID__
// are read; pinned if the id is prefix+instance, else unknown.
func netHTTPDecision(cookies, prefix string) outcome {
	req := &http.Request{Header: http.Header{"Cookie": {cookies}}}
	id, err := req.Cookie(VCAPCookie)
	if err != nil || id.Value == "" {
		return balanced()
	}
	_, e1 := req.Cookie(SessionCookie)
	_, e2 := req.Cookie("__Host-" + SessionCookie)
	if e1 != nil && e2 != nil {
		return balanced()
	}
	for _, inst := range DefaultIDs {
		if id.Value == prefix+inst {
			return pinnedTo(inst)
		}
	}
	return unknownID(prefix)
}

// derived is a cookie row whose outcome is netHTTPDecision's.
func derived(name, path, cookies, prefix string) row {
	return cookieRow(name, path, cookies, netHTTPDecision(cookies, prefix))
}

func requestRows(addrOf func(string) string) []row {
	var rows []row
	add := func(r ...row) { rows = append(rows, r...) }
	const sess = "JSESSIONID=s"
	ids := DefaultIDs

	// Duplicate and conflicting __VCAP_ID__: the first occurrence wins (an
	// empty one too: no id, not sticky); an unreadable one is skipped.
	firsts := []struct{ v, label string }{
		{"instance-a", "a"}, {"instance-b", "b"}, {"instance-c", "c"},
		{"zzz", "unknown"}, {otherPrefix + "instance-a", "other route's"}, {"", "empty"},
		{`"instance-a`, "open quote"}, {`instance-a\`, "backslash"}, {`inst"ance-a`, "inner quote"}, {"instance-\u00e9", "unicode"},
	}
	for _, f := range firsts {
		for _, second := range ids {
			c := sess + "; " + VCAPCookie + "=" + f.v + "; " + VCAPCookie + "=" + second
			var want outcome
			switch f.label {
			case "a", "b", "c":
				want = pinnedTo(f.v)
			case "unknown", "other route's":
				want = unknownID("")
			case "empty":
				want = balanced()
			default: // skipped: the second one counts
				want = pinnedTo(second)
			}
			add(cookieRow("duplicate: "+f.label+" then "+second, "/", c, want))
		}
	}
	// The session cookie before, between or after; duplicated too.
	add(cookieRow("id before session", "/", VCAPCookie+"=instance-c; "+sess, pinnedTo("instance-c")),
		cookieRow("session between ids", "/", VCAPCookie+"=instance-b; "+sess+"; "+VCAPCookie+"=instance-a", pinnedTo("instance-b")),
		cookieRow("two sessions two ids", "/", sess+"; "+VCAPCookie+"=instance-a; JSESSIONID=t; "+VCAPCookie+"=instance-c", pinnedTo("instance-a")),
		cookieRow("META before id", "/", MetaCookie+"=secure; "+sess+"; "+VCAPCookie+"=instance-b", pinnedTo("instance-b")))

	// Ids with separators, quotes, spaces and other bytes Go's client sends
	// (net/http decides what is read; ';' ends the cookie, '"' pairs are
	// stripped, a stray '"', '\' or a byte outside printable ASCII skips it).
	for _, sep := range []string{",", ";", "=", " ", `"`, `\`, "/", ":", "?", "@", "[", "]", "{", "}", "(", ")", "<", ">", "\t", "%00", "'", "|", "&", "+"} {
		add(derived(fmt.Sprintf("id with %q inside", sep), "/", sess+"; "+VCAPCookie+"=instance-a"+sep+"x", ""))
		if sep != "\t" && sep != " " { // Envoy trims a value's leading/trailing OWS
			add(derived(fmt.Sprintf("id with %q in front", sep), "/", sess+"; "+VCAPCookie+"="+sep+"instance-a", ""))
		}
	}
	for _, v := range []string{
		`"instance-a"`, `""`, `"instance-a`, `instance-a"`, `"instance-"a"`, `'instance-a'`,
		"INSTANCE-A", "Instance-a", "instance-A", "instance%2Da", "instance-a%20", "instance-a=",
		"=instance-a", "instance-a instance-b", "instance-a,instance-b",
		strings.Repeat("x", 256), strings.Repeat("instance-a", 410), strings.Repeat("z", 16<<10),
		"\u00edstance-a", "instance-a\u200b", "\u202einstance-a", "instance-a\U0001F600", "\uff49nstance-a",
		"\xff\xfe", "\xc0\xaf", "instance-\x80",
	} {
		add(derived(fmt.Sprintf("id %.40q", v), "/", sess+"; "+VCAPCookie+"="+v, ""))
	}
	// Cookie names: exact, case-sensitive; __Host- for the session only.
	for _, c := range []string{
		"__vcap_id__=instance-a; " + sess,
		"__VCAP_ID_=instance-a; " + sess,
		"__VCAP_ID__X=instance-a; " + sess,
		"__VCAP_ID__ =instance-a; " + sess, // the name is trimmed
		" __VCAP_ID__=instance-b ; " + sess,
		"__VCAP_ID__ = instance-a; " + sess, // the value keeps its space: unknown
		"__Host-JSESSIONID=s; __VCAP_ID__=instance-b",
		"__host-JSESSIONID=s; __VCAP_ID__=instance-b",
		"__Secure-JSESSIONID=s; __VCAP_ID__=instance-b",
		"__Host-__Host-JSESSIONID=s; __VCAP_ID__=instance-b",
		"jsessionid=s; __VCAP_ID__=instance-b",
		"JSESSIONID2=s; __VCAP_ID__=instance-b",
		"JSESSIONID; __VCAP_ID__=instance-c", // a cookie without '=' is a cookie with an empty value
		"JSESSIONID=; __VCAP_ID__=instance-c",
		`JSESSIONID="s; __VCAP_ID__=instance-c`, // unreadable session value: skipped
		`JSESSIONID=s\; __VCAP_ID__=instance-c`,
		"JSESSIONID=s __VCAP_ID__=instance-a",   // no ';': all one value
		"JSESSIONID=s,__VCAP_ID__=instance-a",   // ',' separates nothing
		"JSESSIONID=s;__VCAP_ID__=instance-a",   // no space needed
		"JSESSIONID=s;\t__VCAP_ID__=instance-a", // tab is trimmed
		";;;;JSESSIONID=s;;;;__VCAP_ID__=instance-b;;;;",
		"=;=;==;JSESSIONID=s;=instance-c;__VCAP_ID__=instance-a",
		"__VCAP_ID__==instance-a; " + sess,
		"; ; ;",
		"=",
		VCAPCookie + "=instance-a",
		sess,
	} {
		add(derived(fmt.Sprintf("cookie %.50q", c), "/", c, ""))
	}

	// Thousands of cookies: net/http reads none of a header with more than
	// 3000, so neither does the filter (not sticky).
	for _, n := range []int{10, 100, 1000, 2998, 3000, 3001, 4000, 10000} {
		var parts []string
		for i := 0; i < n-2; i++ {
			parts = append(parts, "a=1")
		}
		front := strings.Join(append([]string{sess, VCAPCookie + "=instance-b"}, parts...), "; ")
		back := strings.Join(append(parts, sess, VCAPCookie+"=instance-c"), "; ")
		want := func(id string) outcome {
			if n > 3000 {
				return balanced()
			}
			return pinnedTo(id)
		}
		add(cookieRow(fmt.Sprintf("%d cookies, sticky first", n), "/", front, want("instance-b")),
			cookieRow(fmt.Sprintf("%d cookies, sticky last", n), "/", back, want("instance-c")))
	}
	// Cookie headers near Envoy's 60 KiB: a padding cookie after the sticky
	// ones; the row's header bytes besides the Cookie value stay under 100.
	for _, kib := range []float64{1, 16, 32, 48, 56, 59, 60, 61, 64, 100, 512} {
		size := int(kib * 1024)
		prefix := sess + "; " + VCAPCookie + "=instance-a; pad="
		c := prefix + strings.Repeat("p", size-len(prefix))
		want := pinnedTo("instance-a")
		if size > envoyMaxHeaderBytes-100 {
			want = envoyReply(431)
			if size < envoyMaxHeaderBytes {
				continue // too close to call
			}
		}
		add(cookieRow(fmt.Sprintf("Cookie of %g KiB", kib), "/", c, want))
	}
	for _, kib := range []int{59, 61} {
		want := balanced()
		if kib*1024 > envoyMaxHeaderBytes {
			want = envoyReply(431)
		}
		add(row{name: fmt.Sprintf("X-Big of %d KiB", kib), header: http.Header{"X-Big": {strings.Repeat("b", kib*1024)}}, want: want})
	}
	// Header count: Envoy allows 100 (Host and User-Agent included).
	for _, n := range []int{envoyMaxHeaders - goClientHeaders, envoyMaxHeaders - goClientHeaders + 1, 300} {
		h := http.Header{"Cookie": {sess + "; " + VCAPCookie + "=instance-b"}}
		for i := 0; i < n-1; i++ {
			h.Add(fmt.Sprintf("X-J%d", i), "1")
		}
		want := pinnedTo("instance-b")
		if n+goClientHeaders > envoyMaxHeaders {
			want = envoyReply(431)
		}
		add(row{name: fmt.Sprintf("%d headers", n+goClientHeaders), header: h, want: want})
	}
	// Several Cookie headers: the filter reads them all, as gorouter does
	// (net/http's Request.Cookie), the first occurrence of a name winning.
	for _, tc := range []struct {
		name    string
		cookies []string
		want    outcome
	}{
		{"session and id in separate Cookie headers", []string{sess, VCAPCookie + "=instance-b"}, pinnedTo("instance-b")},
		{"id and session in separate Cookie headers", []string{VCAPCookie + "=instance-b", sess}, pinnedTo("instance-b")},
		{"sticky first, another id second", []string{sess + "; " + VCAPCookie + "=instance-a", VCAPCookie + "=instance-b"}, pinnedTo("instance-a")},
		{"sticky first, another sticky second", []string{VCAPCookie + "=instance-b; " + sess, "JSESSIONID=t; " + VCAPCookie + "=instance-c"}, pinnedTo("instance-b")},
		{"empty first", []string{"", sess + "; " + VCAPCookie + "=instance-c"}, pinnedTo("instance-c")},
		{"empty id first, another id second", []string{VCAPCookie + "=; " + sess, VCAPCookie + "=instance-c"}, balanced()},
		{"Cookie headers up to Envoy's 100 headers", append([]string{sess + "; " + VCAPCookie + "=instance-c"},
			repeat(VCAPCookie+"=instance-a", envoyMaxHeaders-goClientHeaders-1)...), pinnedTo("instance-c")},
		{"Cookie headers beyond Envoy's 100 headers", repeat(sess+"; "+VCAPCookie+"=instance-c", envoyMaxHeaders-goClientHeaders+1), envoyReply(431)},
	} {
		add(row{name: tc.name, header: http.Header{"Cookie": tc.cookies}, want: tc.want})
	}

	// Another app's ids: looked up in the request's own route only.
	add(derived("other route's id on /", "/cart", sess+"; "+VCAPCookie+"="+otherPrefix+"instance-b", ""),
		derived("own id on /other", "/other/cart", sess+"; "+VCAPCookie+"="+otherPrefix+"instance-b", otherPrefix),
		derived("main route's id on /other", "/other", sess+"; "+VCAPCookie+"=instance-b", otherPrefix),
		derived("/otherwise is not /other", "/otherwise", sess+"; "+VCAPCookie+"=instance-b", ""),
		derived("/OTHER is not /other", "/OTHER", sess+"; "+VCAPCookie+"="+otherPrefix+"instance-a", ""),
		derived("//other is not /other", "//other", sess+"; "+VCAPCookie+"="+otherPrefix+"instance-a", ""),
		derived("/other%2Fx is not under /other", "/other%2Fx", sess+"; "+VCAPCookie+"="+otherPrefix+"instance-a", ""),
		derived("/other?q", "/other?"+VCAPCookie+"=instance-a", sess+"; "+VCAPCookie+"="+otherPrefix+"instance-c", otherPrefix),
		derived("shop's id on another host", "/", sess+"; "+VCAPCookie+"="+shopPrefix+"instance-a", ""),
	)
	// Envoy does not normalize paths (HCM normalize_path off): the filter
	// and the app see the same raw path.
	for _, p := range []string{"/other/../cart", "/cart/../other", "/other/./x"} {
		r := derived("raw path "+p, p, sess+"; "+VCAPCookie+"="+otherPrefix+"instance-b", map[bool]string{true: otherPrefix, false: ""}[strings.HasPrefix(p, "/other/")])
		r.want.appPath = p
		add(r)
	}
	for _, tc := range []struct{ host, id, prefix string }{
		{shopHost, shopPrefix + "instance-a", shopPrefix},
		{shopHost, "instance-a", shopPrefix},
		{shopHost, otherPrefix + "instance-a", shopPrefix},
		{"SHOP.Example.COM:8443", shopPrefix + "instance-b", shopPrefix},
		{shopHost + ":1", "instance-b", shopPrefix},
		{shopHost + ".", shopPrefix + "instance-c", ""}, // another host: the "*" route
		{shopHost + ".", "instance-c", ""},
		{"www." + shopHost, shopPrefix + "instance-c", ""},
		{"evil.example", shopPrefix + "instance-a", ""},
	} {
		r := derived("host "+tc.host+" id "+tc.id, "/", sess+"; "+VCAPCookie+"="+tc.id, tc.prefix)
		r.host = tc.host
		add(r)
	}

	// A client-supplied pin header is removed (or, on a pinned request,
	// overwritten): the app sees exactly what the filter wrote.
	for _, tc := range []struct {
		name string
		pin  []string
	}{
		{"one", []string{addrOf("instance-b")}},
		{"two copies", []string{addrOf("instance-b"), addrOf("instance-b")}},
		{"a list", []string{addrOf("instance-b") + "," + addrOf("instance-c")}},
		{"an address outside the cluster", []string{"127.0.0.1:1"}},
		{"a name", []string{"evil.example:80"}},
		{"ipv6", []string{"[::1]:80"}},
		{"empty", []string{""}},
		{"8 KiB", []string{strings.Repeat("9", 8<<10)}},
	} {
		add(row{name: "forged pin header, " + tc.name, header: http.Header{PinHeader: tc.pin}, want: balanced()},
			row{name: "forged pin header, upper case, " + tc.name, header: http.Header{strings.ToUpper(PinHeader): tc.pin}, want: balanced()},
			row{name: "forged pin header with session on a, " + tc.name,
				header: http.Header{PinHeader: tc.pin, "Cookie": {sess + "; " + VCAPCookie + "=instance-a"}}, want: pinnedTo("instance-a")},
		)
	}
	add(row{name: "forged pin header with an unknown id", header: http.Header{PinHeader: {addrOf("instance-b")},
		"Cookie": {sess + "; " + VCAPCookie + "=zzz"}}, want: unknownID("")},
		row{name: "forged pin header with X-CF-App-Instance", header: http.Header{PinHeader: {addrOf("instance-b")},
			"X-Cf-App-Instance": {appGUID + ":2"}}, want: appInstance("instance-c", "")},
		row{name: "underscore look-alike of the pin header", header: http.Header{strings.ReplaceAll(PinHeader, "-", "_"): {addrOf("instance-b")}}, want: balanced()},
		row{name: "spoofed X-CF-InstanceID and index", header: http.Header{"X-Cf-Instanceid": {addrOf("instance-b")},
			"X-Cf-Instanceindex": {"1"}, "X-Cf-Applicationid": {appGUID}}, want: balanced()},
	)

	// Spoofed X-CF-App-Instance.
	const xcf = "X-Cf-App-Instance"
	for i, id := range ids {
		add(row{name: "X-CF-App-Instance " + id, header: http.Header{xcf: {appGUID + ":" + strconv.Itoa(i)}}, want: appInstance(id, "")},
			row{name: "X-CF-App-Instance " + id + " over a session on another", header: http.Header{xcf: {appGUID + ":" + strconv.Itoa(i)},
				"Cookie": {sess + "; " + VCAPCookie + "=" + ids[(i+1)%3]}}, want: appInstance(id, ids[(i+1)%3])},
		)
	}
	add(row{name: "X-CF-App-Instance with an unknown id cookie", header: http.Header{xcf: {appGUID + ":0"},
		"Cookie": {sess + "; " + VCAPCookie + "=zzz"}}, want: appInstance("instance-a", "zzz")},
		// gorouter: __VCAP_ID__ without a session cookie is no sticky
		// session, so nothing is stale.
		row{name: "X-CF-App-Instance with an id cookie alone", header: http.Header{xcf: {appGUID + ":0"},
			"Cookie": {VCAPCookie + "=instance-b"}}, want: appInstance("instance-a", "")},
		row{name: "X-CF-App-Instance: first of two", header: http.Header{xcf: {appGUID + ":1", appGUID + ":2"}}, want: appInstance("instance-b", "")},
		row{name: "X-CF-App-Instance: valid then garbage", header: http.Header{xcf: {appGUID + ":2", "garbage"}}, want: appInstance("instance-c", "")},
		row{name: "X-CF-App-Instance: garbage then valid", header: http.Header{xcf: {"garbage", appGUID + ":2"}}, want: filterReject("invalid_cf_app_instance_header")},
		row{name: "X-CF-App-Instance: surrounding spaces (OWS)", header: http.Header{xcf: {"  " + appGUID + ":0  "}}, want: appInstance("instance-a", "")},
	)
	for _, v := range []string{
		"not-a-guid:0", appGUID, appGUID + ":", appGUID + ":x", appGUID + ":-1", appGUID + ":+1", appGUID + ":1:2",
		appGUID + ":1 2", appGUID + ":1,2", appGUID + ":0," + appGUID + ":1", strings.ToUpper(appGUID) + ":0",
		"{" + appGUID + "}:0", strings.ReplaceAll(appGUID, "-", "") + ":0", ":0", ":",
		appGUID + ":\u0661", appGUID + "\u00e9:0", appGUID + ":0x1", appGUID + ":1e3", strings.Repeat("a", 8<<10), "%00",
	} {
		add(row{name: fmt.Sprintf("X-CF-App-Instance malformed %.40q", v), header: http.Header{xcf: {v}}, want: filterReject("invalid_cf_app_instance_header")})
	}
	for _, tc := range []struct{ host, path, v string }{
		{"", "/", appGUID + ":3"}, {"", "/", appGUID + ":01"}, {"", "/", appGUID + ":99999"},
		// Any run of digits is an index, as gorouter validates it.
		{"", "/", appGUID + ":12345678901"}, {"", "/", appGUID + ":" + strings.Repeat("9", 400)},
		{"", "/", otherGUID + ":0"}, {"", "/other", appGUID + ":0"}, {shopHost, "/", appGUID + ":1"},
	} {
		add(row{name: "X-CF-App-Instance unknown " + tc.host + tc.path + " " + tc.v, host: tc.host, path: tc.path,
			header: http.Header{xcf: {tc.v}}, want: filterReject("unknown_route")})
	}
	return rows
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// rawRows are requests Go's client will not send, written byte for byte.
func rawRows(addrOf func(string) string) []row {
	var rows []row
	req := func(headers ...string) string {
		return "GET / HTTP/1.1\r\nHost: raw.example\r\n" + strings.Join(headers, "\r\n") + "\r\n\r\n"
	}
	sticky := "Cookie: JSESSIONID=s; " + VCAPCookie + "=instance-a"
	// A control byte other than HTAB in a header value: Envoy's 400.
	for _, b := range []byte{0x00, 0x01, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f, 0x7f} {
		rows = append(rows,
			row{name: fmt.Sprintf("raw: %#02x in the id", b), raw: req(sticky + string(b) + "x"), want: envoyReply(400)},
			row{name: fmt.Sprintf("raw: %#02x in X-CF-App-Instance", b), raw: req("X-CF-App-Instance: " + appGUID + ":0" + string(b)), want: envoyReply(400)},
			row{name: fmt.Sprintf("raw: %#02x in the pin header", b), raw: req(PinHeader + ": " + addrOf("instance-b") + string(b)), want: envoyReply(400)},
		)
	}
	rows = append(rows,
		row{name: "raw: NUL in a header name", raw: req("Coo\x00kie: JSESSIONID=s"), want: envoyReply(400)},
		row{name: "raw: space before the colon", raw: req(PinHeader + " : " + addrOf("instance-b")), want: envoyReply(400)},
		row{name: "raw: bare LF inside the Cookie value", raw: req("Cookie: JSESSIONID=s;\n" + VCAPCookie + "=instance-b"), want: envoyReply(400)},
		row{name: "raw: header line without a colon", raw: req("Cookie JSESSIONID=s"), want: envoyReply(400)},
		row{name: "raw: HTTP/1.0", raw: "GET / HTTP/1.0\r\nHost: raw.example\r\n" + sticky + "\r\n\r\n", want: envoyReply(426)},
		// HTAB inside a value is a valid field byte, but not a cookie byte:
		// the id is skipped.
		row{name: "raw: tab inside the id", raw: req(sticky + "\tx"), want: balanced()},
		row{name: "raw: tab inside the id, a second id", raw: req(sticky + "\tx; " + VCAPCookie + "=instance-c"), want: pinnedTo("instance-c")},
		row{name: "raw: trailing tab (OWS)", raw: req(sticky + "\t"), want: pinnedTo("instance-a")},
		// obs-fold: RFC 9112 lets a server replace it with SP.
		row{name: "raw: obs-fold", raw: req("Cookie: JSESSIONID=s;\r\n " + VCAPCookie + "=instance-b"), want: pinnedTo("instance-b")},
		row{name: "raw: obs-fold with tab", raw: req("Cookie: JSESSIONID=s;\r\n\t" + VCAPCookie + "=instance-c"), want: pinnedTo("instance-c")},
		row{name: "raw: LF line endings", raw: strings.ReplaceAll(req(sticky), "\r\n", "\n"), want: pinnedTo("instance-a")},
		row{name: "raw: lower-case cookie", raw: req("cookie: JSESSIONID=s; " + VCAPCookie + "=instance-b"), want: pinnedTo("instance-b")},
		row{name: "raw: upper-case COOKIE", raw: req("COOKIE: JSESSIONID=s; " + VCAPCookie + "=instance-c"), want: pinnedTo("instance-c")},
		row{name: "raw: two Cookie headers", raw: req("Cookie: JSESSIONID=s", "Cookie: "+VCAPCookie+"=instance-b"), want: pinnedTo("instance-b")},
		row{name: "raw: empty Cookie", raw: req("Cookie:"), want: balanced()},
		row{name: "raw: Latin-1 id", raw: req("Cookie: JSESSIONID=s; " + VCAPCookie + "=instance-\xe9"), want: balanced()},
		row{name: "raw: forged pin header twice, different case", raw: req(PinHeader+": "+addrOf("instance-b"), "X-Vcap-Sticky-Upstream: "+addrOf("instance-c")), want: balanced()},
		row{name: "raw: forged pin header and a session", raw: req(PinHeader+": "+addrOf("instance-b"), sticky), want: pinnedTo("instance-a")},
		row{name: "raw: X-CF-App-Instance empty", raw: req("X-CF-App-Instance:"), want: balanced()},
	)
	return rows
}

// responseRows have the app send hostile Set-Cookie lines (set_cookie,
// verbatim through Go's server, which turns CR and LF into spaces).
func responseRows(now time.Time) []row {
	var rows []row
	goServerLine := strings.NewReplacer("\r", " ", "\n", " ").Replace
	// setCookies: the outcome for the app's lines on an unsticky request, from
	// the rules: Envoy refuses a control byte (not HTAB) or more than 100
	// headers (502); an app's __VCAP_ID__ stops the filter; each session
	// cookie (as http.ParseSetCookie reads it) gets a __VCAP_ID__ mirroring its
	// attributes, written as net/http writes cookies, and a META.
	setCookies := func(name string, lines []string, status int) row {
		q := url.Values{"set_cookie": lines}
		if status != 0 {
			q.Set("status", strconv.Itoa(status))
		}
		r := row{name: name, path: "/?" + q.Encode()}
		sent := make([]string, len(lines))
		for i, l := range lines {
			sent[i] = goServerLine(l)
		}
		if len(lines)+appOwnHeaders > envoyMaxUpstreamHeader || strings.ContainsFunc(strings.Join(sent, ""), func(r rune) bool {
			return r < 0x20 && r != '\t' || r == 0x7f
		}) {
			r.want = envoyReply(502)
			return r
		}
		o := balanced()
		if status != 0 {
			o.status = status
		}
		o.appLines = make([]string, len(sent))
		for i, l := range sent {
			o.appLines[i] = strings.Trim(l, " \t") // Envoy drops a value's surrounding OWS
		}
		var sessions []*http.Cookie
		appSetsID := false
		for _, l := range o.appLines {
			c, err := http.ParseSetCookie(l)
			if err != nil {
				continue
			}
			switch {
			case c.Name == VCAPCookie:
				appSetsID = true
			case c.Name == SessionCookie || c.Name == "__Host-"+SessionCookie:
				sessions = append(sessions, c)
			}
		}
		if !appSetsID && len(sessions) > 0 {
			o.deltas = map[string]int64{"cookies_set": 1}
			o.meta = len(sessions)
			for _, s := range sessions {
				o.vcap = append(o.vcap, "$served")
				want := &http.Cookie{Name: VCAPCookie, Value: "$served", Path: "/", HttpOnly: true,
					Secure: s.Secure, SameSite: s.SameSite, Partitioned: s.Partitioned, Expires: s.Expires, MaxAge: s.MaxAge}
				o.vcapLines = append(o.vcapLines, want.String())
			}
		}
		r.want = o
		return r
	}
	for _, n := range []int{1, 2, 5, 20, 50, envoyMaxUpstreamHeader - appOwnHeaders, envoyMaxUpstreamHeader - appOwnHeaders + 1, 300} {
		var lines []string
		for i := range n {
			lines = append(lines, fmt.Sprintf("JSESSIONID=s%d; Path=/", i))
		}
		rows = append(rows, setCookies(fmt.Sprintf("%d session cookies", n), lines, 0))
	}
	for _, n := range []int{50, 94, 95, 96} {
		lines := append(repeat("other=1", n-1), "JSESSIONID=last; Secure")
		rows = append(rows, setCookies(fmt.Sprintf("%d Set-Cookie lines, the session last", n), lines, 0))
	}
	rows = append(rows, setCookies("a 16 KiB session value", []string{"JSESSIONID=" + strings.Repeat("v", 16<<10)}, 0))
	future := now.Add(48 * time.Hour).UTC().Format(http.TimeFormat)
	for _, l := range []string{
		"JSESSIONID", "JSESSIONID=", "=JSESSIONID", "JSESSIONID =s", " JSESSIONID=s", "JSESSIONID=\"quoted\"",
		"JSESSIONID=\"open", "JSESSIONID=a b", "JSESSIONID=a,b", "JSESSIONID=a\\b", "JSESSIONID=a\tb", "JSESSIONID=caf\u00e9",
		"JSESSIONID=s;;;;", "JSESSIONID=s; ; ;", "JSESSIONID=s; Max-Age=abc", "JSESSIONID=s; Max-Age=-5", "JSESSIONID=s; Max-Age=0",
		"JSESSIONID=s; Max-Age=99999999999999999999", "JSESSIONID=s; Max-Age=9223372036854775807", "JSESSIONID=s; Max-Age=0100",
		"JSESSIONID=s; Max-Age= 60", "JSESSIONID=s; Max-Age=60; Max-Age=120",
		"JSESSIONID=s; Expires=garbage", "JSESSIONID=s; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "JSESSIONID=s; Expires=Mon, 01 Jan 1600 00:00:00 GMT",
		"JSESSIONID=s; Expires=" + future, "JSESSIONID=s; expires=Wed, 21-Oct-2099 07:28:00 GMT", "JSESSIONID=s; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
		"JSESSIONID=s; SameSite=bogus", "JSESSIONID=s; SameSite=LAX", "JSESSIONID=s; SameSite=None; Secure", "JSESSIONID=s; SameSite",
		"JSESSIONID=s; samesite=strict; SECURE; httponly; PARTITIONED", "JSESSIONID=s; Secure; Secure", "JSESSIONID=s; Partitioned=yes",
		"JSESSIONID=s; Path=/../x", "JSESSIONID=s; Domain=evil.example", "JSESSIONID=s; Path=/\u00e9", "JSESSIONID=s; =; ==; x",
		"JSESSIONID=s\r\nSet-Cookie: " + VCAPCookie + "=evil", "JSESSIONID=s; Path=/\r\n" + VCAPCookie + ": evil",
		"jsessionid=s", "JSESSIONIDX=s", "__Host-JSESSIONID=s; Secure; Path=/", "__host-JSESSIONID=s",
		"JSESSIONID=s\x00", "JSESSIONID=s\x01", "JSESSIONID=s\x7f", "JSESSIONID=s; Path=/\x1b",
	} {
		rows = append(rows, setCookies(fmt.Sprintf("Set-Cookie %.60q", l), []string{l}, 0))
	}
	// The app's own __VCAP_ID__ (any way net/http reads the name) is left alone.
	for _, l := range []string{VCAPCookie + "=evil; Path=/", " " + VCAPCookie + " =evil", VCAPCookie + "=", VCAPCookie, "__vcap_id__=x"} {
		rows = append(rows, setCookies(fmt.Sprintf("app sets %.30q and a session", l), []string{"JSESSIONID=s", l}, 0))
	}
	rows = append(rows, setCookies("two session cookies", []string{"JSESSIONID=s; Max-Age=60", "__Host-JSESSIONID=t; Secure; SameSite=Lax"}, 0))
	for _, status := range []int{201, 204, 302, 404, 500, 503} {
		rows = append(rows, setCookies(fmt.Sprintf("session cookie on a %d", status), []string{"JSESSIONID=s; HttpOnly"}, status))
	}
	return rows
}

// metaRows: a stale request (unknown id) re-issues __VCAP_ID__ with the
// attributes its __VCAP_ID_META__ records, or defaults if it does not parse.
func metaRows(now time.Time) []row {
	var rows []row
	type attrs struct {
		secure, partitioned bool
		sameSite            http.SameSite
		expires             time.Time
		maxAgeFrom          int64 // the META's maxage: 0 none, -1 delete, else absolute
	}
	far := now.Unix() + 86400
	for _, tc := range []struct {
		meta string
		a    attrs
	}{
		{"", attrs{}},
		{"secure", attrs{secure: true}},
		{"partitioned", attrs{partitioned: true}},
		{"secure&samesite=strict", attrs{secure: true, sameSite: http.SameSiteStrictMode}},
		{"secure&partitioned&samesite=none", attrs{secure: true, partitioned: true, sameSite: http.SameSiteNoneMode}},
		{"samesite=lax", attrs{sameSite: http.SameSiteLaxMode}},
		{"maxage=-1", attrs{maxAgeFrom: -1}},
		{"maxage=" + strconv.FormatInt(far, 10), attrs{maxAgeFrom: far}},
		{"maxage=1", attrs{maxAgeFrom: 1}}, // long past: delete
		{"expires=0", attrs{}},             // gorouter: 0 is no Expires
		{"expires=253402300799", attrs{expires: time.Unix(253402300799, 0).UTC()}},
		{`"secure"`, attrs{secure: true}}, // net/http strips the quotes
		// gorouter's query-string reading: an unknown key is ignored, any
		// negative maxage deletes, a malformed escape means defaults.
		{"secure&bogus", attrs{secure: true}}, {"maxage=-2", attrs{maxAgeFrom: -1}},
		{"secure&samesite=strict&maxage=x", attrs{secure: true, sameSite: http.SameSiteStrictMode}},
		{"secure&partitioned=%ZZ", attrs{}}, {"sam%65site=lax", attrs{sameSite: http.SameSiteLaxMode}},
		// Anything else: defaults.
		{"expires=253402300800", attrs{}}, {"expires=-99999999999999", attrs{}}, {"expires=x", attrs{}},
		{"maxage=0", attrs{}}, {"maxage=99999999999999999999", attrs{}},
		{"samesite=LAX", attrs{}}, {"samesite=", attrs{}}, {"garbage", attrs{}},
		{"&&&", attrs{}}, {"secure&secure&secure", attrs{secure: true}}, {"<script>alert(1)</script>", attrs{}},
		{"secure%26samesite%3Dnone", attrs{}}, {strings.Repeat("secure&", 2000) + "secure", attrs{secure: true}},
		{"secure\u00e9", attrs{}}, // not a readable cookie value: no META
	} {
		a := tc.a
		r := cookieRow(fmt.Sprintf("META %.40q", tc.meta), "/", "JSESSIONID=s; "+VCAPCookie+"=zzz; "+MetaCookie+"="+tc.meta, unknownID(""))
		r.want.refreshCheck = func(t *testing.T, c *http.Cookie) {
			assert.Equal(t, "/", c.Path, "%q", c.Raw)
			assert.True(t, c.HttpOnly, "%q", c.Raw)
			assert.Equal(t, a.secure, c.Secure, "Secure: %q", c.Raw)
			assert.Equal(t, a.partitioned, c.Partitioned, "Partitioned: %q", c.Raw)
			assert.Equal(t, a.sameSite, c.SameSite, "SameSite: %q", c.Raw)
			assert.True(t, a.expires.Equal(c.Expires), "Expires %v: %q", a.expires, c.Raw)
			switch {
			case a.maxAgeFrom == 0:
				assert.Zero(t, c.MaxAge, "no Max-Age: %q", c.Raw)
			case a.maxAgeFrom == -1 || a.maxAgeFrom <= time.Now().Unix():
				assert.Equal(t, -1, c.MaxAge, "Max-Age=0 (delete): %q", c.Raw)
			default:
				left := a.maxAgeFrom - time.Now().Unix()
				assert.InDelta(t, left, c.MaxAge, 5, "the remaining lifetime: %q", c.Raw)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// hostileFixture: override_host, the pin header kept for the app to echo,
// three routes over the instances, X-CF-App-Instance data on the main route,
// and the shipped counter batching (metrics_flush_interval_ms left out).
func hostileFixture(t *testing.T) *Fixture {
	return StartFixture(t, ModeOverrideHost, withAppInstances, func(b *Bootstrap) {
		b.Clusters[0].StripRequestHeaders = nil
		b.AccessLog = false
		b.Wasm.Plugin.MetricsFlushIntervalMS = nil
		main := b.Wasm.Plugin.Routes[0]
		for _, p := range []struct{ host, path, prefix string }{{"*", "/other", otherPrefix}, {shopHost, "/", shopPrefix}} {
			r := PluginRoute{Host: p.host, Path: p.path}
			for _, in := range main.Instances {
				r.Instances = append(r.Instances, PluginInstance{ID: p.prefix + in.ID, Address: in.Address})
			}
			b.Wasm.Plugin.Routes = append(b.Wasm.Plugin.Routes, r)
		}
	})
}

// rawRecorder records the bytes a connection reads (the response heads).
type rawRecorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

type recordingConn struct {
	net.Conn
	rec *rawRecorder
}

func (c recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.rec.mu.Lock()
	c.rec.buf.Write(p[:n])
	c.rec.mu.Unlock()
	return n, err
}

func (r *rawRecorder) take() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]byte(nil), r.buf.Bytes()...)
	r.buf.Reset()
	return out
}

// recordingClient: one connection per request, its bytes recorded.
func recordingClient(rec *rawRecorder) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:             nil,
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return recordingConn{Conn: c, rec: rec}, nil
			},
			DisableCompression:     true,
			MaxResponseHeaderBytes: 8 << 20,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkHead fails t if the response head has a bare CR or LF or a NUL in a
// header line: no header or cookie was injected.
func checkHead(t *testing.T, raw []byte) {
	t.Helper()
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	require.GreaterOrEqual(t, end, 0, "no end of the response head in %q", raw[:min(len(raw), 200)])
	for i, line := range bytes.Split(raw[:end], []byte("\r\n")) {
		assert.False(t, bytes.ContainsAny(line, "\r\n\x00"), "response head line %d has CR, LF or NUL: %q", i, line)
		if i > 0 {
			name, _, ok := bytes.Cut(line, []byte(":"))
			assert.True(t, ok && len(name) > 0 && !bytes.ContainsAny(name, " \t"), "malformed header line %d: %q", i, line)
		}
	}
}

// sendRaw writes a raw request on a new connection and reads one response.
func sendRaw(t *testing.T, addr, raw string) (*Reply, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(c, raw)
	require.NoError(t, err)
	rec := &rawRecorder{}
	res, err := http.ReadResponse(bufio.NewReader(recordingConn{Conn: c, rec: rec}), nil)
	require.NoError(t, err, "reading Envoy's answer to %q", raw)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	r := &Reply{Status: res.StatusCode, Header: res.Header, Raw: body}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(body) > 0 {
		require.NoError(t, json.Unmarshal(body, &r.Body), "app body %q", body)
	}
	return r, rec.take()
}

// filterCounters reads every filter counter in one admin call.
func filterCounters(t *testing.T, e *Envoy) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for k, v := range e.Stats(t, `^wasmcustom\.vcap_sticky\.`) {
		out[strings.TrimPrefix(k, "wasmcustom.vcap_sticky.")] = v
	}
	return out
}

// vmHealth is what shows a VM failure: the wasm VM gauges and counters and
// the filter's panics.
func vmHealth(t *testing.T, e *Envoy) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for k, v := range e.Stats(t, `^wasm\.|panics`) {
		if !strings.HasPrefix(k, "wasm.remote_load") {
			out[k] = v
		}
	}
	return out
}

// wasmFailureLines are Envoy log lines that report a VM failure.
var wasmFailureLines = `(?i)(wasm|vm|vcap-sticky).*(panic|trap|failed|uncaught|runtimeerror|unreachable|crash)`

func TestHostileTraffic(t *testing.T) {
	t.Parallel()
	f := hostileFixture(t)
	addrOf := func(id string) string { return f.Instance(t, id).Addr() }
	now := time.Now()
	var rows []row
	rows = append(rows, requestRows(addrOf)...)
	rows = append(rows, rawRows(addrOf)...)
	rows = append(rows, responseRows(now)...)
	rows = append(rows, metaRows(now)...)
	require.GreaterOrEqual(t, len(rows), 200)
	t.Logf("%d hostile rows", len(rows))

	health := vmHealth(t, f.Envoy)
	require.Zero(t, health[FilterStat("panics")])
	rec := &rawRecorder{}
	client := recordingClient(rec)
	defer client.CloseIdleConnections()
	byStatus := map[int]int{}
	// Counters batch in the VM (the shipped default): each row's rises add
	// up in want, checked against Envoy's stats once they settle.
	before := settledFilterCounters(t, f.Envoy)
	want := map[string]int64{}
	contributors := map[string][]string{} // counter → rows that raise it

	failed := false
	for i, rw := range rows {
		ok := t.Run(fmt.Sprintf("%03d %s", i, rw.name), func(t *testing.T) {
			var r *Reply
			var head []byte
			if rw.raw != "" {
				r, head = sendRaw(t, f.Envoy.ListenerAddr, rw.raw)
			} else {
				path := rw.path
				if path == "" {
					path = "/"
				}
				req, err := http.NewRequest(http.MethodGet, f.Envoy.URL(path), http.NoBody)
				require.NoError(t, err)
				req.Host = rw.host
				for k, vs := range rw.header {
					req.Header[k] = vs // as given: several values, any case
				}
				rec.take()
				r = DoRequest(t, client, req)
				head = rec.take()
			}
			byStatus[r.Status]++
			checkHead(t, head)
			w := rw.want
			require.Equal(t, w.status, r.Status, "status; body %.300q", r.Raw)

			served := r.Instance()
			switch w.by {
			case "app":
				require.Contains(t, DefaultIDs, served, "an instance answered")
				if w.instance != "" {
					require.Equal(t, w.instance, served, "routing")
				}
				var wantPin []string
				if w.pinned != "" {
					wantPin = []string{addrOf(w.pinned)}
				}
				assert.Equal(t, wantPin, r.AppSaw(PinHeader), "the pin header the app saw")
				assert.Nil(t, r.AppSaw("x-cf-app-instance"), "X-CF-App-Instance never reaches the app")
				if w.appPath != "" {
					assert.Equal(t, w.appPath, r.Body.Path)
				}
			case "filter":
				assert.Empty(t, served, "the filter answered, no instance")
				assert.Equal(t, w.routerError, r.Header.Get("X-Cf-Routererror"))
			case "envoy":
				assert.Empty(t, served, "Envoy answered, no instance")
				assert.Empty(t, r.Header.Get("X-Cf-Routererror"), "not the filter's reply")
			}

			// Set-Cookie: the app's lines first and verbatim, then the filter's.
			lines := r.SetCookieLines()
			if len(w.appLines) > 0 {
				require.GreaterOrEqual(t, len(lines), len(w.appLines))
				assert.Equal(t, w.appLines, lines[:len(w.appLines)], "the app's Set-Cookie lines, verbatim")
			}
			added := lines[min(len(w.appLines), len(lines)):]
			var vcap, vcapLines []string
			meta := 0
			for _, l := range added {
				c, err := http.ParseSetCookie(l)
				require.NoError(t, err, "the filter's Set-Cookie %q", l)
				switch c.Name {
				case VCAPCookie:
					vcap, vcapLines = append(vcap, c.Value), append(vcapLines, l)
					if w.refreshCheck != nil {
						w.refreshCheck(t, c)
					}
				case MetaCookie:
					meta++
				default:
					t.Errorf("unexpected Set-Cookie %q", l)
				}
			}
			subst := func(in []string) []string {
				var out []string
				for _, s := range in {
					out = append(out, strings.ReplaceAll(s, "$served", served))
				}
				return out
			}
			assert.Equal(t, subst(w.vcap), vcap, "__VCAP_ID__ values")
			if w.vcapLines != nil {
				assert.Equal(t, subst(w.vcapLines), vcapLines, "__VCAP_ID__ lines")
			}
			assert.Equal(t, w.meta, meta, "META lines")

		})
		for name, d := range rw.want.deltas {
			want[name] += d
			contributors[name] = append(contributors[name], fmt.Sprintf("%03d", i))
		}
		if !ok {
			failed = true
		}
	}
	after := settledFilterCounters(t, f.Envoy)
	if bad := counterDeltaMismatches(before, after, want); len(bad) > 0 && !failed {
		for _, b := range bad {
			name, _, _ := strings.Cut(b, ":")
			t.Errorf("counter %s; rows that raise it: %v", b, contributors[name])
		}
	}
	t.Logf("counters over the table, after the flush: %v", want)
	statuses := make([]string, 0, len(byStatus))
	for s, n := range byStatus {
		statuses = append(statuses, fmt.Sprintf("%d×%d", s, n))
	}
	sort.Strings(statuses)
	t.Logf("statuses: %s", strings.Join(statuses, " "))

	// The VM is alive: a normal session sticks, nothing panicked, no VM was
	// created, reloaded or lost, and Envoy logged no wasm failure.
	s := f.SessionOn(t, "instance-b")
	for i := range 20 {
		r := f.Get(t, "/", s.CookieHeader())
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		require.Equal(t, "instance-b", r.Instance(), "request %d after the hostile rows", i)
	}
	assert.Equal(t, health, vmHealth(t, f.Envoy), "wasm VM stats and the filter's panics before and after")
	assert.Empty(t, f.Envoy.LogLines(wasmFailureLines), "Envoy log lines about a wasm failure")
	t.Logf("wasm stats after %d rows: %v", len(rows), vmHealth(t, f.Envoy))
}
