package filter

// Fuzz targets for the filter's own parsers (X-CF-App-Instance,
// __VCAP_ID_META__) and for the whole request/response decision through
// proxytest. The exchange target checks the decision against a model of the
// rules written here with net/http's cookie reading: a request is pinned only
// to the instance its cookie or X-CF-App-Instance names within its own route,
// a client's copy of the pin header never survives, every Set-Cookie the
// filter adds reads back (here and in net/http) and no value the filter
// writes holds a control byte. A recovered panic counts as a failure: failOpen
// must never be what keeps a fuzz input from crashing.

import (
	"encoding/base64"
	"math"
	"net/http"
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

var appInstanceRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9]{1,10}$`)

func FuzzParseAppInstance(f *testing.F) {
	for _, v := range []string{guid + ":0", guid + ":4294967296", guid + ":12345678901", guid + ":", guid,
		strings.ToUpper(guid) + ":1", guid + ":-1", guid + ":1:2", guid + ":１", ":" + guid, "../../etc\r\n"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		g, index, ok := parseAppInstance(v)
		if want := appInstanceRE.MatchString(v); ok != want {
			t.Fatalf("parseAppInstance(%q) ok = %v, want %v", v, ok, want)
		}
		if ok && g+":"+index != v {
			t.Fatalf("parseAppInstance(%q) = %q, %q", v, g, index)
		}
		if !ok && (g != "" || index != "") {
			t.Fatalf("parseAppInstance(%q) = %q, %q, false", v, g, index)
		}
	})
}

// FuzzMetaDecode feeds __VCAP_ID_META__ values a client can send: what
// decodes re-encodes to a cookie-safe value that decodes the same, and the
// refreshed __VCAP_ID__ built from it always builds.
func FuzzMetaDecode(f *testing.F) {
	for _, v := range []string{"", "secure", "secure&partitioned&expires=1795867200&maxage=1795867300&samesite=strict",
		"maxage=-1", "maxage=0", "expires=0", "expires=-11676096000", "expires=253402300799", "expires=253402300800",
		"expires=9223372036854775807", "maxage=9223372036854775807", "samesite=Lax", "secure&&", "secure=1", "&"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, ok := decodeMeta(v)
		if !ok {
			if m != (metaAttrs{}) {
				t.Fatalf("decodeMeta(%q) = %+v, false", v, m)
			}
			return
		}
		checkMeta(t, m, v)
	})
}

// FuzzMetaFromSetCookie takes the app's session Set-Cookie line: the META
// written for it decodes to the same attributes, and both cookies build.
func FuzzMetaFromSetCookie(f *testing.F) {
	for _, line := range []string{
		"JSESSIONID=s; Secure; SameSite=None; Partitioned; Max-Age=600; Expires=Wed, 02 Dec 2026 12:00:00 GMT",
		"JSESSIONID=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
		"JSESSIONID=x; Expires=Sat, 01 Jan 1600 00:00:00 GMT",
		"JSESSIONID=x; Expires=Fri, 31 Dec 9999 23:59:59 GMT; Max-Age=9223372036854775807",
		"JSESSIONID=x; SameSite=lax; max-age=+60",
	} {
		f.Add(line, fixedNow.Unix())
	}
	f.Fuzz(func(t *testing.T, line string, atUnix int64) {
		sc, ok := cookie.ParseSetCookie(line)
		if !ok {
			return
		}
		// A clock from 1970 to 9999, as Envoy's can be.
		at := time.Unix(int64(uint64(atUnix)%253402300800), 0)
		clk := &clock{t: at, read: true}
		m := metaFromSessionCookie(&sc, clk)
		enc := m.encode()
		got, ok := decodeMeta(enc)
		if !m.expires.IsZero() { // META keeps whole seconds, as the cookie date does
			m.expires = time.Unix(m.expires.Unix(), 0).UTC()
		}
		if !ok || got != m {
			t.Fatalf("session %q at %d: META %q decodes to %+v, %v; want %+v", line, at.Unix(), enc, got, ok, m)
		}
		checkMeta(t, m, enc)
		// The refresh restores the lifetime the session cookie had left.
		if sc.MaxAge > 0 && m.maxAge(clk) != sc.MaxAge && int64(sc.MaxAge) <= math.MaxInt64-at.Unix() {
			t.Fatalf("session %q: Max-Age %d restored as %d", line, sc.MaxAge, m.maxAge(clk))
		}
	})
}

// checkMeta: m (decoded from v) re-encodes to a cookie-safe value that decodes
// to m again, and the cookies the response path builds from it are valid.
func checkMeta(t *testing.T, m metaAttrs, v string) {
	t.Helper()
	enc := m.encode()
	if !cookie.ValidValue(enc) {
		t.Fatalf("META %q re-encodes to %q, not a cookie value", v, enc)
	}
	if m2, ok := decodeMeta(enc); !ok || m2 != m {
		t.Fatalf("META %q: %+v re-encodes to %q, which decodes to %+v, %v", v, m, enc, m2, ok)
	}
	for _, at := range []time.Time{fixedNow, time.Unix(0, 0), time.Unix(253402300799, 0)} {
		c := cookie.SetCookie{Name: config.VCAPCookie, Value: "a", Path: "/", HttpOnly: true,
			Secure: m.secure, Partitioned: m.partitioned, SameSite: m.sameSite, Expires: m.expires, MaxAge: m.maxAge(&clock{t: at, read: true})}
		if err := c.Valid(); err != nil {
			t.Fatalf("META %q at %v: refreshed cookie %+v does not build: %v", v, at, c, err)
		}
		meta := c
		meta.Name, meta.Value = config.MetaCookie, enc
		if err := meta.Valid(); err != nil {
			t.Fatalf("META %q: META cookie does not build: %v", v, err)
		}
	}
}

// The exchange target's configuration: instance ids repeat across routes with
// other addresses, so that a pin to the wrong route's instance shows.
const (
	fuzzGUID2  = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
	fuzzRoutes = `"routes":[
	{"host":"app.example","instances":[
		{"id":"a","address":"127.0.0.1:8081","app_guid":"` + guid + `","index":0,"cluster":"app_a"},
		{"id":"b","address":"127.0.0.1:8082","app_guid":"` + guid + `","index":1,"cluster":"app_b"},
		{"id":"c","address":"[::1]:8083","app_guid":"` + guid + `","index":2,"cluster":"app_c"}]},
	{"host":"app.example","path":"/admin","instances":[
		{"id":"a","address":"10.0.0.1:80","app_guid":"` + fuzzGUID2 + `","index":0,"cluster":"admin_a"}]},
	{"host":"other.example","path":"/other","instances":[
		{"id":"x","address":"10.0.0.10:80","cluster":"other_x"},
		{"id":"b","address":"10.0.0.11:80","app_guid":"` + guid + `","index":1,"cluster":"other_b"}]},
	{"host":"*","instances":[{"id":"w","address":"10.0.0.9:80","cluster":"any_w"}]}]`
	// spoofedPin is a client's copy of the pin header: instance w's address.
	spoofedPin = "10.0.0.9:80"
)

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
	opts := []string{fuzzRoutes, `"session_cookie_names":["JSESSIONID","SESSION"]`}
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
		cookies, appInstance, authority, path, authorization, setCookie1, setCookie2, upstream string
		flags                                                                                  uint8
	}
	for _, s := range []seed{
		{"", "", "app.example", "/", "", "JSESSIONID=s1; Path=/; Secure", "", "127.0.0.1:8082", 0},
		{"JSESSIONID=s; __VCAP_ID__=b", "", "app.example", "/x", "", "", "", "127.0.0.1:8082", 1},
		{"JSESSIONID=s; __VCAP_ID__=a", "", "APP.example:443", "/admin/x?y", "", "", "", "127.0.0.1:8081", 2},
		{"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=secure&samesite=none&maxage=1795867300", "", "app.example", "/", "", "", "", "[::1]:8083", flagSecureCookies},
		{"__Host-SESSION=s; __VCAP_ID__=x", "", "app.example", "/", "", "SESSION=n; Max-Age=9223372036854775807", "JSESSIONID=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "127.0.0.1:8081", flagStrict},
		{"__VCAP_ID__=a", "", "app.example", "/admin", "Negotiate abc", "", "", "10.0.0.1:80", flagNegotiate | flagWWWNegotiate},
		{"JSESSIONID=s; __VCAP_ID__=c", guid + ":1", "other.example", "/other/x", "", "", "", "10.0.0.11:80", flagAppInstance | flagInstanceHeaders},
		{"JSESSIONID=s; __VCAP_ID__=b", fuzzGUID2 + ":0", "app.example", "/admin", "", "", "", "10.0.0.1:80", flagAppInstance | 1},
		{"JSESSIONID=s; __VCAP_ID__=zz; __VCAP_ID_META__=expires=99999999999999", "", "nowhere", "/", "", "", "", "10.0.0.9:80", 0},
		{"JSESSIONID=a\r\nx: y; __VCAP_ID__=a", guid + ":9\r\n", "app.example\x00", "/\r\n", "", "JSESSIONID=s\r\n", "__VCAP_ID__=evil", "127.0.0.1:8081", flagAppInstance},
	} {
		f.Add(s.cookies, s.appInstance, s.authority, s.path, s.authorization, s.setCookie1, s.setCookie2, s.upstream, s.flags)
	}
	configs := map[uint8]*config.Config{}
	saved := now
	now = func() time.Time { return fixedNow }
	f.Cleanup(func() { now = saved })
	f.Fuzz(func(t *testing.T, cookies, appInstance, authority, path, authorization, setCookie1, setCookie2, upstream string, flags uint8) {
		cfgJSON := fuzzConfig(flags)
		cfg := configs[flags]
		if cfg == nil {
			var err error
			if cfg, err = config.Parse([]byte(cfgJSON)); err != nil {
				t.Fatal(err)
			}
			configs[flags] = cfg
		}
		opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).WithPluginConfiguration([]byte(cfgJSON))
		host, reset := proxytest.NewHostEmulator(opt)
		defer reset()
		if host.StartPlugin() != types.OnPluginStartStatusOK {
			t.Fatalf("plugin start: %v", host.GetCriticalLogs())
		}
		// Envoy strips a header value's surrounding whitespace, and so does
		// proxytest, unicode spaces included, when the filter reads one value.
		trim := strings.TrimSpace
		cookies, appInstance, authority, path, authorization = trim(cookies), trim(appInstance), trim(authority), trim(path), trim(authorization)
		x := fuzzExchange{t: t, cfg: cfg, host: host, cookies: cookies, appInstance: appInstance, authority: authority,
			path: path, authorization: authorization, upstream: upstream, flags: flags}
		for _, l := range []string{setCookie1, setCookie2} {
			if l != "" {
				x.appSetCookies = append(x.appSetCookies, l)
			}
		}
		x.run()
	})
}

type fuzzExchange struct {
	t    *testing.T
	cfg  *config.Config
	host proxytest.HostEmulator

	cookies, appInstance, authority, path, authorization, upstream string
	appSetCookies                                                  []string
	flags                                                          uint8

	id uint32
	// The model's decision for the request.
	route     *config.Route
	want      *config.Instance // the pinned instance, nil for none
	status    uint32           // a local reply, 0 for none
	requestID string           // the __VCAP_ID__ the response path compares
}

func (x *fuzzExchange) run() {
	t := x.t
	x.decide()
	headers := [][2]string{{":authority", x.authority}, {":path", x.path}, {":method", "GET"},
		{"cookie", x.cookies}, {x.cfg.PinHeader, spoofedPin}}
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
	pin, pinned := x.requestHeader(x.cfg.PinHeader)
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
		if !pinned || pin != x.want.PinValue {
			t.Fatalf("%s: pin header %q (%v), want %q (instance %s of %s%s)", x, pin, pinned, x.want.PinValue,
				x.want.ID, x.route.Host, x.route.Path)
		}
		if !x.ofRoute(pin) {
			t.Fatalf("%s: pinned to %q, no instance of route %s%s", x, pin, x.route.Host, x.route.Path)
		}
		checkPrintable(t, "pin header", pin)
		if x.cfg.InstanceHeaders {
			for name, want := range map[string]string{"x-cf-instanceid": x.want.Address,
				"x-cf-applicationid": x.want.AppGUID, "x-cf-instanceindex": x.want.IndexText} {
				if got, _ := x.requestHeader(name); got != want {
					t.Fatalf("%s: %s = %q, want %q", x, name, got, want)
				}
			}
		}
	}
	if _, sent := x.requestHeader("x-cf-app-instance"); sent {
		t.Fatalf("%s: X-CF-App-Instance forwarded upstream", x)
	}
	x.respond()
}

// decide is the model: the README's rules, with net/http reading cookies.
func (x *fuzzExchange) decide() {
	cfg := x.cfg
	x.route = cfg.Routes.Match(x.authority, x.path)
	req := &http.Request{Header: http.Header{"Cookie": {x.cookies}}}
	vcapID := ""
	if c, err := req.Cookie(config.VCAPCookie); err == nil {
		vcapID = c.Value
	}
	if x.flags&flagAppInstance != 0 && x.appInstance != "" { // empty: as if absent, as in gorouter
		var inst *config.Instance
		if x.route != nil && appInstanceRE.MatchString(x.appInstance) {
			inst = x.route.ByAppInstance(x.appInstance)
		}
		if inst == nil {
			x.status, x.route = 400, nil
			return
		}
		x.want, x.requestID = inst, vcapID
		return
	}
	if x.route == nil {
		return
	}
	hasSession := false
	for _, c := range req.Cookies() {
		hasSession = hasSession || cfg.SessionCookie(c.Name)
	}
	negotiate := cfg.Negotiate && vcapID != "" && len(x.authorization) >= 9 &&
		strings.EqualFold(x.authorization[:9], "negotiate")
	if vcapID == "" || !(hasSession || negotiate) {
		return
	}
	x.requestID = vcapID
	if x.want = x.route.ByID(vcapID); x.want == nil && (cfg.Strict || negotiate) {
		x.status, x.route = 502, nil
	}
}

// ofRoute reports whether pin is the pin value of an instance of the route.
func (x *fuzzExchange) ofRoute(pin string) bool {
	for _, in := range x.route.Instances {
		if in.PinValue == pin {
			return true
		}
	}
	return false
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
	headers = append(headers, [2]string{x.cfg.PinHeader, leaked})
	if action := x.host.CallOnResponseHeaders(x.id, headers, true); action != types.ActionContinue {
		t.Fatalf("%s: response action %v", x, action)
	}
	x.checkNoPanic("response")

	var added []string
	for _, kv := range x.host.GetCurrentResponseHeaders(x.id) {
		switch kv[0] {
		case x.cfg.PinHeader:
			if x.cfg.PinMode == config.PinStatefulSession {
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

// checkCookies checks the Set-Cookie lines the filter added against the model.
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
		case x.cfg.SessionCookie(c.Name):
			sessions = append(sessions, c)
		}
	}
	negotiate := x.cfg.Negotiate && x.flags&flagWWWNegotiate != 0
	var served *config.Instance
	if x.route != nil && x.upstream != "" {
		served = x.route.ByAddress(x.upstream)
	}
	want := 0
	switch {
	case x.route == nil, served == nil, appSetsID:
	case negotiate:
		want = 1
	case len(sessions) > 0:
		want = 2 * len(sessions)
	case x.requestID != "" && x.requestID != served.ID:
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
		if c.Path != x.route.Path || !c.HttpOnly || (x.cfg.SecureCookies && !c.Secure) {
			t.Fatalf("%s: added Set-Cookie %q: wrong Path, HttpOnly or Secure", x, line)
		}
		if c.String() != line {
			t.Fatalf("%s: added Set-Cookie %q rebuilds as %q", x, line, c.String())
		}
		if i%2 == 1 && !negotiate {
			if c.Name != config.MetaCookie {
				t.Fatalf("%s: line %d %q is not %s", x, i, line, config.MetaCookie)
			}
			m, ok := decodeMeta(c.Value)
			s := sessions[i/2]
			if !ok || m.secure != s.Secure || m.partitioned != s.Partitioned {
				t.Fatalf("%s: META %q of session %q decodes to %+v, %v", x, c.Value, s.String(), m, ok)
			}
			continue
		}
		if c.Name != config.VCAPCookie || c.Value != served.ID {
			t.Fatalf("%s: line %d %q, want __VCAP_ID__=%s", x, i, line, served.ID)
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
		", path " + strconv.Quote(x.path) + ", cookie " + strconv.Quote(x.cookies) +
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
