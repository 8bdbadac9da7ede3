package filter

// FuzzExchange runs a whole request and response through the filter in
// proxytest and checks them against a model of the rules written here from
// the README and gorouter's behaviour, with net/http and net/url as the
// reference readers of cookies and authorities and a route table of its own
// (nothing of package config's lookups): a request is pinned only to the
// instance its cookie or X-CF-App-Instance names within its own route, a
// request for a host no route names passes through untouched, a client's
// copy of the pin header never survives, the Set-Cookie lines the filter
// adds are the ones the rules call for and read back (here and in net/http),
// and no value the filter writes holds a control byte. A recovered panic
// counts as a failure: failOpen must never be what keeps a fuzz input from
// crashing.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
)

// The exchange target's routes, as the model knows them; the plugin config
// is written from this table. Instance ids repeat across routes with other
// addresses, so that a pin to the wrong route's instance shows.
type modelInstance struct{ id, addr, appGUID, index, cluster string }

type modelRoute struct {
	host, path string // path "" is "/"
	instances  []modelInstance
}

const fuzzGUID2 = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

var modelRoutes = []modelRoute{
	{"app.example", "/", []modelInstance{
		{"a", "127.0.0.1:8081", guid, "0", "app_a"},
		{"b", "127.0.0.1:8082", guid, "1", "app_b"},
		{"c", "[::1]:8083", guid, "2", "app_c"}}},
	{"app.example", "/admin", []modelInstance{{"a", "10.0.0.1:80", fuzzGUID2, "0", "admin_a"}}},
	{"other.example", "/other", []modelInstance{
		{"x", "10.0.0.10:80", "", "", "other_x"},
		{"b", "10.0.0.11:80", guid, "1", "other_b"}}},
	{"*", "/", []modelInstance{{"w", "10.0.0.9:80", "", "", "any_w"}}},
}

// spoofedPin is a client's copy of the pin header: instance w's address.
const spoofedPin = "10.0.0.9:80"

func fuzzRoutesJSON() string {
	var routes []string
	for _, r := range modelRoutes {
		var insts []string
		for _, in := range r.instances {
			j := fmt.Sprintf(`{"id":%q,"address":%q,"cluster":%q`, in.id, in.addr, in.cluster)
			if in.appGUID != "" {
				j += fmt.Sprintf(`,"app_guid":%q,"index":%s`, in.appGUID, in.index)
			}
			insts = append(insts, j+"}")
		}
		routes = append(routes, fmt.Sprintf(`{"host":%q,"path":%q,"instances":[%s]}`, r.host, r.path, strings.Join(insts, ",")))
	}
	return `"routes":[` + strings.Join(routes, ",") + "]"
}

// modelMatch: the host (net/url's reading of the authority, port dropped,
// ASCII case ignored) picks the routes naming it, or else the "*" routes;
// among them the longest path that is the request path (before any ? or #)
// or a parent of it on a "/" boundary.
func modelMatch(authority, path string) *modelRoute {
	host := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, (&url.URL{Host: authority}).Hostname())
	if strings.HasPrefix(authority, "[") {
		host = "" // an IPv6 literal: no route names one
	}
	named := false
	for _, r := range modelRoutes {
		named = named || r.host == host
	}
	if !named {
		host = "*"
	}
	path, _, _ = strings.Cut(path, "?")
	path, _, _ = strings.Cut(path, "#")
	var best *modelRoute
	for i, r := range modelRoutes {
		under := r.path == "/" || path == r.path || strings.HasPrefix(path, r.path+"/")
		if r.host == host && under && (best == nil || len(r.path) > len(best.path)) {
			best = &modelRoutes[i]
		}
	}
	return best
}

func (r *modelRoute) byID(id string) *modelInstance {
	for i := range r.instances {
		if r.instances[i].id == id {
			return &r.instances[i]
		}
	}
	return nil
}

func (r *modelRoute) byAddr(addr string) *modelInstance {
	for i := range r.instances {
		if r.instances[i].addr == addr {
			return &r.instances[i]
		}
	}
	return nil
}

// pinValue is what the pin header carries for in, by pinning mode.
func (in *modelInstance) pinValue(flags uint8) string {
	switch flags & flagModeMask {
	case 1:
		return base64.StdEncoding.EncodeToString([]byte(in.addr))
	case 2:
		return in.cluster
	}
	return in.addr
}

// gorouter's pattern for X-CF-App-Instance.
var appInstanceRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9]+$`)

// negotiateRE: the Negotiate scheme, any case, then a space or the end.
var negotiateRE = regexp.MustCompile(`^(?i:negotiate)( |$)`)

func isSessionCookie(name string) bool {
	name = strings.TrimPrefix(name, "__Host-")
	return name == "JSESSIONID" || name == "SESSION"
}

// fuzzFlags select the configuration and optional headers of one exchange.
const (
	flagModeMask        = 3 // 0, 3: override_host; 1: stateful_session; 2: cluster
	flagStrict          = 1 << 2
	flagNegotiate       = 1 << 3
	flagInstanceHeaders = 1 << 4
	flagSecureCookies   = 1 << 5
	flagAppInstance     = 1 << 6 // send X-CF-App-Instance
	flagWWWNegotiate    = 1 << 7 // the response has WWW-Authenticate: Negotiate
)

func fuzzConfig(flags uint8) string {
	opts := []string{fuzzRoutesJSON(), `"session_cookie_names":["JSESSIONID","SESSION"]`}
	switch flags & flagModeMask {
	case 1:
		opts = append(opts, `"pinning":{"mode":"stateful_session"}`)
	case 2:
		opts = append(opts, `"pinning":{"mode":"cluster"}`)
	}
	for _, o := range []struct {
		flag uint8
		json string
	}{{flagStrict, `"strict":true`}, {flagNegotiate, `"negotiate":true`},
		{flagInstanceHeaders, `"instance_headers":true`}, {flagSecureCookies, `"secure_cookies":true`}} {
		if flags&o.flag != 0 {
			opts = append(opts, o.json)
		}
	}
	return "{" + strings.Join(opts, ",") + "}"
}

func FuzzExchange(f *testing.F) {
	type seed struct {
		cookies, cookies2, appInstance, authority, path, authorization, setCookie1, setCookie2, upstream string
		flags                                                                                            uint8
	}
	for _, s := range []seed{
		{"", "", "", "app.example", "/", "", "JSESSIONID=s1; Path=/; Secure", "", "127.0.0.1:8082", 0},
		{"JSESSIONID=s; __VCAP_ID__=b", "", "", "app.example", "/x", "", "", "", "127.0.0.1:8082", 1},
		{"JSESSIONID=s", "__VCAP_ID__=b; JSESSIONID=t", "", "app.example", "/x", "", "", "", "127.0.0.1:8081", 0},
		{"JSESSIONID=s; __VCAP_ID__=a", "", "", "APP.example:443", "/admin/x?y", "", "", "", "127.0.0.1:8081", 2},
		{"JSESSIONID=s; __VCAP_ID__=a", "", "", "app.example:abc", "/", "", "", "", "10.0.0.9:80", 0},
		{"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=secure&samesite=none&maxage=1795867300", "", "", "app.example", "/", "", "", "", "[::1]:8083", flagSecureCookies},
		{"__Host-SESSION=s; __VCAP_ID__=x", "", "", "app.example", "/", "", "SESSION=n; Max-Age=9223372036854775807", "JSESSIONID=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "127.0.0.1:8081", flagStrict},
		{"__VCAP_ID__=a", "", "", "app.example", "/admin", "Negotiate abc", "", "", "10.0.0.1:80", flagNegotiate | flagWWWNegotiate},
		{"__VCAP_ID__=a", "", "", "app.example", "/admin", "Negotiated abc", "", "", "10.0.0.1:80", flagNegotiate | flagWWWNegotiate},
		{"JSESSIONID=s; __VCAP_ID__=c", "", guid + ":1", "other.example", "/other/x", "", "", "", "10.0.0.11:80", flagAppInstance | flagInstanceHeaders},
		{"JSESSIONID=s; __VCAP_ID__=b", "", fuzzGUID2 + ":0", "app.example", "/admin", "", "", "", "10.0.0.1:80", flagAppInstance | 1},
		{"", "", guid + ":01", "nowhere.example", "/", "", "", "", "10.0.0.1:80", flagAppInstance},
		{"JSESSIONID=s; __VCAP_ID__=zz; __VCAP_ID_META__=expires=99999999999999", "", "", "nowhere", "/", "", "", "", "10.0.0.9:80", 0},
		{"JSESSIONID=a\r\nx: y; __VCAP_ID__=a", "", guid + ":9\r\n", "app.example\x00", "/\r\n", "", "JSESSIONID=s\r\n", "__VCAP_ID__=evil", "127.0.0.1:8081", flagAppInstance},
	} {
		f.Add(s.cookies, s.cookies2, s.appInstance, s.authority, s.path, s.authorization, s.setCookie1, s.setCookie2, s.upstream, s.flags)
	}
	saved := now
	now = func() time.Time { return fixedNow }
	f.Cleanup(func() { now = saved })
	f.Fuzz(func(t *testing.T, cookies, cookies2, appInstance, authority, path, authorization, setCookie1, setCookie2, upstream string, flags uint8) {
		opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).WithPluginConfiguration([]byte(fuzzConfig(flags)))
		host, reset := proxytest.NewHostEmulator(opt)
		defer reset()
		if host.StartPlugin() != types.OnPluginStartStatusOK {
			t.Fatalf("plugin start: %v", host.GetCriticalLogs())
		}
		// Envoy strips a header value's surrounding whitespace, and so does
		// proxytest, unicode spaces included, when the filter reads one value.
		trim := strings.TrimSpace
		x := fuzzExchange{t: t, host: host, appInstance: trim(appInstance), authority: trim(authority),
			path: trim(path), authorization: trim(authorization), upstream: upstream, flags: flags}
		for _, c := range []string{cookies, cookies2} {
			if c = trim(c); c != "" {
				x.cookies = append(x.cookies, c)
			}
		}
		for _, l := range []string{setCookie1, setCookie2} {
			if l != "" {
				x.appSetCookies = append(x.appSetCookies, l)
			}
		}
		x.run()
	})
}

const pinHeader = config.DefaultPinHeader

type fuzzExchange struct {
	t    *testing.T
	host proxytest.HostEmulator

	cookies                                               []string // Cookie headers
	appInstance, authority, path, authorization, upstream string
	appSetCookies                                         []string
	flags                                                 uint8

	id uint32
	// The model's decision for the request.
	route       *modelRoute
	want        *modelInstance // the pinned instance, nil for none
	status      uint32         // a local reply, 0 for none
	requestID   string         // the sticky __VCAP_ID__ the response compares
	requestMeta string         // its __VCAP_ID_META__
}

func (x *fuzzExchange) run() {
	t := x.t
	x.decide()
	headers := [][2]string{{":authority", x.authority}, {":path", x.path}, {":method", "GET"}}
	for _, c := range x.cookies {
		headers = append(headers, [2]string{"cookie", c})
	}
	headers = append(headers, [2]string{pinHeader, spoofedPin})
	if x.authorization != "" {
		headers = append(headers, [2]string{"authorization", x.authorization})
	}
	if x.flags&flagAppInstance != 0 {
		headers = append(headers, [2]string{"x-cf-app-instance", x.appInstance})
	}
	x.id = x.host.InitializeHttpContext()
	action := x.host.CallOnRequestHeaders(x.id, headers, true)
	x.checkNoPanic("request")

	local := x.host.GetSentLocalResponse(x.id)
	pin, pinned := x.requestHeader(pinHeader)
	switch {
	case x.status != 0:
		if local == nil || local.StatusCode != x.status || action != types.ActionPause {
			t.Fatalf("%s: want a local %d reply, got %+v, action %v", x, x.status, local, action)
		}
		for _, kv := range local.Headers {
			checkPrintable(t, "local reply header "+kv[0], kv[1])
		}
	case local != nil:
		t.Fatalf("%s: unexpected local %d reply", x, local.StatusCode)
	case action != types.ActionContinue:
		t.Fatalf("%s: action %v", x, action)
	}
	if x.want == nil {
		if pinned {
			t.Fatalf("%s: pin header %q reached Envoy, want none", x, pin)
		}
	} else {
		if want := x.want.pinValue(x.flags); !pinned || pin != want {
			t.Fatalf("%s: pin header %q (%v), want %q (instance %s of %s%s)", x, pin, pinned, want,
				x.want.id, x.route.host, x.route.path)
		}
		checkPrintable(t, "pin header", pin)
		if x.flags&flagInstanceHeaders != 0 {
			for name, want := range map[string]string{"x-cf-instanceid": x.want.id,
				"x-cf-applicationid": x.want.appGUID, "x-cf-instanceindex": x.want.index} {
				if got, _ := x.requestHeader(name); got != want {
					t.Fatalf("%s: %s = %q, want %q", x, name, got, want)
				}
			}
		}
	}
	v, sent := x.requestHeader("x-cf-app-instance")
	switch {
	case x.flags&flagAppInstance != 0 && x.route == nil && x.status == 0:
		// Not the filter's host: untouched.
		if !sent || v != x.appInstance {
			t.Fatalf("%s: X-CF-App-Instance of a host the filter does not serve became %q (%v)", x, v, sent)
		}
	case sent:
		t.Fatalf("%s: X-CF-App-Instance forwarded upstream", x)
	}
	x.respond()
}

// decide is the model of the request step.
func (x *fuzzExchange) decide() {
	x.route = modelMatch(x.authority, x.path)
	if x.route == nil {
		return
	}
	req := &http.Request{Header: http.Header{"Cookie": x.cookies}}
	vcapID, meta := "", ""
	if c, err := req.Cookie(config.VCAPCookie); err == nil {
		vcapID = c.Value
	}
	if c, err := req.Cookie(config.MetaCookie); err == nil {
		meta = c.Value
	}
	hasSession := false
	for _, c := range req.Cookies() {
		hasSession = hasSession || isSessionCookie(c.Name)
	}
	mustBeSticky := x.flags&flagNegotiate != 0 && vcapID != "" && negotiateRE.MatchString(x.authorization)
	if vcapID != "" && (hasSession || mustBeSticky) {
		x.requestID, x.requestMeta = vcapID, meta
	}
	if x.flags&flagAppInstance != 0 && x.appInstance != "" { // empty: as if absent, as in gorouter
		for i, in := range x.route.instances {
			if appInstanceRE.MatchString(x.appInstance) && in.appGUID != "" && in.appGUID+":"+in.index == x.appInstance {
				x.want = &x.route.instances[i]
			}
		}
		if x.want == nil {
			x.status = 400
		}
		return
	}
	if x.requestID == "" {
		return
	}
	if x.want = x.route.byID(x.requestID); x.want == nil && (x.flags&flagStrict != 0 || mustBeSticky) {
		x.status = 502
	}
}

func (x *fuzzExchange) respond() {
	t := x.t
	if x.upstream != "" {
		if err := x.host.SetProperty([]string{"upstream", "address"}, []byte(x.upstream)); err != nil {
			t.Fatal(err)
		}
	}
	headers := [][2]string{{":status", "200"}}
	for _, l := range x.appSetCookies {
		headers = append(headers, [2]string{"set-cookie", l})
	}
	if x.flags&flagWWWNegotiate != 0 {
		headers = append(headers, [2]string{"www-authenticate", "Negotiate oRQwEqADCgEAoQsGCSqGSIb3EgECAg=="})
	}
	leaked := base64.StdEncoding.EncodeToString([]byte(x.upstream))
	headers = append(headers, [2]string{pinHeader, leaked})
	if action := x.host.CallOnResponseHeaders(x.id, headers, true); action != types.ActionContinue {
		t.Fatalf("%s: response action %v", x, action)
	}
	x.checkNoPanic("response")

	var added []string
	for _, kv := range x.host.GetCurrentResponseHeaders(x.id) {
		switch kv[0] {
		case pinHeader:
			if x.flags&flagModeMask == 1 {
				t.Fatalf("%s: stateful_session header %q reached the client", x, kv[1])
			}
		case "set-cookie":
			if added != nil {
				continue
			}
			first := ""
			if len(x.appSetCookies) > 0 {
				first = x.appSetCookies[0]
			}
			if !strings.HasPrefix(kv[1], first) {
				t.Fatalf("%s: the app's Set-Cookie %q became %q", x, first, kv[1])
			}
			added = splitAddedCookies(kv[1][len(first):])
			if added == nil {
				added = []string{}
			}
		}
	}
	x.checkCookies(added)
}

// checkCookies checks the Set-Cookie lines the filter added against the
// model of the response step.
func (x *fuzzExchange) checkCookies(added []string) {
	t := x.t
	var sessions []*http.Cookie
	appSetsID := false
	for _, l := range x.appSetCookies {
		c, err := http.ParseSetCookie(l)
		switch {
		case err != nil:
		case c.Name == config.VCAPCookie:
			appSetsID = true
		case isSessionCookie(c.Name):
			sessions = append(sessions, c)
		}
	}
	negotiate := x.flags&flagNegotiate != 0 && x.flags&flagWWWNegotiate != 0
	secureCookies := x.flags&flagSecureCookies != 0
	var served *modelInstance
	if x.route != nil && x.status == 0 && x.upstream != "" {
		served = x.route.byAddr(x.upstream)
	}
	stale := served != nil && x.requestID != "" && x.requestID != served.id
	want := 0
	switch {
	case served == nil, appSetsID:
	case negotiate && (x.requestID == "" || stale):
		// gorouter: a Negotiate response sets one short cookie unless the
		// request was sticky to the instance that answers; the session
		// cookies' attributes do not count then.
		want = 1
	case len(sessions) > 0:
		want = 2 * len(sessions)
	case stale:
		want = 1 // a refresh after a fallback
	}
	if len(added) != want {
		t.Fatalf("%s: the filter added %d Set-Cookie lines %q, want %d", x, len(added), added, want)
	}
	for i, line := range added {
		checkPrintable(t, "Set-Cookie", line)
		c, ok := cookie.ParseSetCookie(line)
		hc, err := http.ParseSetCookie(line)
		if !ok || err != nil || hc.Name != c.Name || hc.Value != c.Value || hc.Path != c.Path {
			t.Fatalf("%s: added Set-Cookie %q reads back as %+v, %v; net/http: %+v, %v", x, line, c, ok, hc, err)
		}
		if hc.Path != x.route.path || !hc.HttpOnly || (secureCookies && !hc.Secure) {
			t.Fatalf("%s: added Set-Cookie %q: wrong Path, HttpOnly or Secure", x, line)
		}
		if hc.String() != line {
			t.Fatalf("%s: added Set-Cookie %q is not what net/http writes for it: %q", x, line, hc.String())
		}
		switch {
		case want == 1 && negotiate:
			if hc.MaxAge != 60 || hc.SameSite != http.SameSiteStrictMode || hc.Secure != secureCookies {
				t.Fatalf("%s: Negotiate cookie %q, want Max-Age=60, SameSite=Strict, Secure only with secure_cookies", x, line)
			}
		case len(sessions) > 0:
			s := sessions[i/2]
			if hc.Secure != (s.Secure || secureCookies) || hc.Partitioned != s.Partitioned || hc.SameSite != s.SameSite {
				t.Fatalf("%s: line %d %q does not mirror session cookie %q", x, i, line, s.String())
			}
			if i%2 == 1 {
				// gorouter's META is a query string of the attributes.
				q, err := url.ParseQuery(hc.Value)
				if hc.Name != config.MetaCookie || err != nil || q.Has("secure") != hc.Secure || q.Has("partitioned") != s.Partitioned {
					t.Fatalf("%s: META line %d %q does not record session cookie %q", x, i, line, s.String())
				}
				continue
			}
		}
		if hc.Name != config.VCAPCookie || hc.Value != served.id {
			t.Fatalf("%s: line %d %q, want __VCAP_ID__=%s", x, i, line, served.id)
		}
	}
}

func (x *fuzzExchange) checkNoPanic(phase string) {
	if n, err := x.host.GetCounterMetric(metricPrefix + "panics"); err != nil || n != 0 {
		x.t.Fatalf("%s: %s path panicked (%v): %q", x, phase, err, x.host.GetErrorLogs())
	}
}

func (x *fuzzExchange) requestHeader(name string) (string, bool) {
	for _, kv := range x.host.GetCurrentRequestHeaders(x.id) {
		if kv[0] == name {
			return kv[1], true
		}
	}
	return "", false
}

func (x *fuzzExchange) String() string {
	return "config " + strconv.Itoa(int(x.flags)) + ", authority " + strconv.Quote(x.authority) +
		", path " + strconv.Quote(x.path) + ", cookies " + strconv.Quote(strings.Join(x.cookies, " | ")) +
		", x-cf-app-instance " + strconv.Quote(x.appInstance) + ", upstream " + strconv.Quote(x.upstream) +
		", set-cookie " + strconv.Quote(strings.Join(x.appSetCookies, " | "))
}

// checkPrintable: a header value the filter wrote holds no CR, LF, NUL or
// other control byte.
func checkPrintable(t *testing.T, what, v string) {
	t.Helper()
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			t.Fatalf("%s %q holds control byte %#x", what, v, v[i])
		}
	}
}
