package filter

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

const (
	guid    = "2f7d6c1a-0b3e-4c5d-8e9f-0a1b2c3d4e5f"
	addrA   = "127.0.0.1:8081"
	addrB   = "127.0.0.1:8082"
	addrC   = "127.0.0.1:8083"
	addrX   = "10.0.0.9:80"
	appHost = "app.example"
)

// routesJSON: app.example with instances a, b, c; other.example/other with x.
const routesJSON = `"routes":[
	{"host":"app.example","instances":[
		{"id":"a","address":"` + addrA + `","app_guid":"` + guid + `","index":0,"cluster":"app_a"},
		{"id":"b","address":"` + addrB + `","app_guid":"` + guid + `","index":1,"cluster":"app_b"},
		{"id":"c","address":"` + addrC + `","app_guid":"` + guid + `","index":2,"cluster":"app_c"}]},
	{"host":"other.example","path":"/other","instances":[{"id":"x","address":"` + addrX + `","cluster":"other_x"}]}]`

// fixedNow pins the clock so Max-Age/META arithmetic is exact.
var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type harness struct {
	t    *testing.T
	host proxytest.HostEmulator
}

func newHarness(t *testing.T, options string) *harness {
	t.Helper()
	pinClock(t)
	return startHarness(t, NewVMContext(), configWith(options))
}

// pinClock fixes the filter's clock at fixedNow for the test.
func pinClock(t *testing.T) {
	now = func() time.Time { return fixedNow }
	t.Cleanup(func() { now = time.Now })
}

// configWith is the plugin config of routesJSON plus options ("" for none).
func configWith(options string) string {
	if options == "" {
		return "{" + routesJSON + "}"
	}
	return "{" + routesJSON + "," + options + "}"
}

// startHarness starts vm with the plugin config cfg in proxytest's host
// emulator; the plugin must start.
func startHarness(t *testing.T, vm types.VMContext, cfg string) *harness {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(vm).WithPluginConfiguration([]byte(cfg))
	host, reset := proxytest.NewHostEmulator(opt)
	t.Cleanup(reset)
	require.Equal(t, types.OnPluginStartStatusOK, host.StartPlugin(), "%v", host.GetCriticalLogs())
	return &harness{t: t, host: host}
}

// exchange is one request/response through the filter.
type exchange struct {
	id     uint32
	action types.Action
	h      *harness
}

func (h *harness) request(authority, path string, headers ...[2]string) *exchange {
	id := h.host.InitializeHttpContext()
	all := append([][2]string{{":authority", authority}, {":path", path}, {":method", "GET"}}, headers...)
	return &exchange{id: id, h: h, action: h.host.CallOnRequestHeaders(id, all, true)}
}

func cookieHeader(v string) [2]string { return [2]string{"cookie", v} }

func (e *exchange) requestHeader(name string) (string, bool) {
	for _, kv := range e.h.host.GetCurrentRequestHeaders(e.id) {
		if kv[0] == name {
			return kv[1], true
		}
	}
	return "", false
}

// respond runs the response path as if servedBy answered with headers, and
// returns the __VCAP_ID__ / __VCAP_ID_META__ Set-Cookie lines the filter added.
func (e *exchange) respond(servedBy string, headers ...[2]string) []string {
	e.h.host.SetProperty([]string{"upstream", "address"}, []byte(servedBy))
	all := append([][2]string{{":status", "200"}}, headers...)
	var appFirst string // the app's first Set-Cookie value, if any
	for _, kv := range headers {
		if kv[0] == "set-cookie" {
			appFirst = kv[1]
			break
		}
	}
	require.Equal(e.h.t, types.ActionContinue, e.h.host.CallOnResponseHeaders(e.id, all, true))
	for _, kv := range e.h.host.GetCurrentResponseHeaders(e.id) {
		if kv[0] == "set-cookie" {
			require.True(e.h.t, strings.HasPrefix(kv[1], appFirst), "the app's Set-Cookie was changed: %q", kv[1])
			return splitAddedCookies(kv[1][len(appFirst):])
		}
	}
	return nil
}

// splitAddedCookies undoes a quirk of proxytest v0.24.0: its
// AddHttpResponseHeader appends the value to the first header of that name
// with no separator, where Envoy adds a separate header line. Each line the
// filter adds starts with one of its two cookie names, which appear nowhere
// inside its values.
func splitAddedCookies(joined string) []string {
	var lines []string
	for joined != "" {
		next := len(joined)
		for _, name := range []string{"__VCAP_ID__=", "__VCAP_ID_META__="} {
			if i := strings.Index(joined[1:], name); i >= 0 && i+1 < next {
				next = i + 1
			}
		}
		lines = append(lines, joined[:next])
		joined = joined[next:]
	}
	return lines
}

func setCookie(v string) [2]string { return [2]string{"set-cookie", v} }

// counter reads a counter as Envoy's stats show it after the plugin's next
// tick (counters are batched by default).
func (h *harness) counter(name string) uint64 {
	h.host.Tick()
	v, err := h.host.GetCounterMetric(metricPrefix + name)
	require.NoError(h.t, err)
	return v
}

// Request counters collect in the VM and reach Envoy on the plugin's tick
// (one host call per changed counter, not one per request); with
// metrics_flush_interval_ms 0 each increment is sent at once.
func TestCountersAreBatchedUntilTheTick(t *testing.T) {
	read := func(h *harness, name string) uint64 {
		v, err := h.host.GetCounterMetric(metricPrefix + name)
		require.NoError(t, err)
		return v
	}
	sticky := cookieHeader("JSESSIONID=s; __VCAP_ID__=b")

	t.Run("default", func(t *testing.T) {
		h := newHarness(t, "")
		assert.Equal(t, uint32(1000), h.host.GetTickPeriod(), "a flush a second")
		for range 3 {
			h.request(appHost, "/", sticky).respond(addrB)
		}
		assert.Zero(t, read(h, "sticky_hits"), "not sent before the tick")
		h.host.Tick()
		assert.Equal(t, uint64(3), read(h, "sticky_hits"))
		h.host.Tick()
		assert.Equal(t, uint64(3), read(h, "sticky_hits"), "a tick sends each increment once")
		h.request(appHost, "/", sticky).respond(addrB)
		h.host.Tick()
		assert.Equal(t, uint64(4), read(h, "sticky_hits"))
	})
	t.Run("plugin retired", func(t *testing.T) {
		h := newHarness(t, "")
		for range 3 {
			h.request(appHost, "/", sticky).respond(addrB)
		}
		inFlight := h.request(appHost, "/", sticky)
		assert.Zero(t, read(h, "sticky_hits"), "not sent before the tick")
		assert.True(t, h.host.FinishVM(), "done at once")
		assert.Equal(t, uint64(4), read(h, "sticky_hits"), "handed over when the plugin is retired, with no tick")
		inFlight.respond(addrA)
		assert.Equal(t, uint64(1), read(h, "fallbacks"), "a stream still in flight counts at once")
	})
	t.Run("unbatched", func(t *testing.T) {
		h := newHarness(t, `"metrics_flush_interval_ms":0`)
		assert.Zero(t, h.host.GetTickPeriod(), "no tick")
		h.request(appHost, "/", sticky).respond(addrB)
		assert.Equal(t, uint64(1), read(h, "sticky_hits"), "sent at once")
	})
	t.Run("interval", func(t *testing.T) {
		h := newHarness(t, `"metrics_flush_interval_ms":250`)
		assert.Equal(t, uint32(250), h.host.GetTickPeriod())
	})
}

// Reading the clock is two WASI host calls in Envoy: only a cookie with a
// lifetime needs it, and then once per response.
func TestClockIsReadOnlyForLifetimes(t *testing.T) {
	h := newHarness(t, `"session_cookie_names":["JSESSIONID","SESSION"]`)
	reads := 0
	now = func() time.Time { reads++; return fixedNow }
	t.Cleanup(func() { now = time.Now })
	h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=b")).respond(addrB)
	assert.Zero(t, reads, "sticky hit")
	got := h.request(appHost, "/").respond(addrA, setCookie("JSESSIONID=new"))
	assert.Len(t, got, 2, "__VCAP_ID__ and META")
	assert.Zero(t, reads, "new session, a session cookie")
	got = h.request(appHost, "/").respond(addrA, setCookie("JSESSIONID=a; Max-Age=60"), setCookie("SESSION=b; Max-Age=60"))
	assert.Len(t, got, 4, "two session cookies: two __VCAP_ID__ and META pairs")
	assert.Equal(t, 1, reads, "Max-Age: the clock is read, once")
}

func TestNewSessionGetsVCAPCookie(t *testing.T) {
	unix := func(d time.Duration) string { return strconv.FormatInt(fixedNow.Add(d).Unix(), 10) }
	for _, tc := range []struct {
		name    string
		options string
		session string
		want    []string
	}{
		{"plain session", "", "JSESSIONID=s1; Path=/",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly"}},
		{"session path is not copied", "", "JSESSIONID=s1; Path=/deep; Domain=app.example",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly"}},
		{"secure copied", "", "JSESSIONID=s1; Secure",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly; Secure", "__VCAP_ID_META__=secure; Path=/; HttpOnly; Secure"}},
		{"secure_cookies forces Secure", `"secure_cookies":true`, "JSESSIONID=s1",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly; Secure", "__VCAP_ID_META__=secure; Path=/; HttpOnly; Secure"}},
		{"max-age copied", "", "JSESSIONID=s1; Max-Age=3600",
			[]string{"__VCAP_ID__=b; Path=/; Max-Age=3600; HttpOnly", "__VCAP_ID_META__=maxage=" + unix(time.Hour) + "; Path=/; Max-Age=3600; HttpOnly"}},
		{"deleting the session deletes __VCAP_ID__", "", "JSESSIONID=; Max-Age=0",
			[]string{"__VCAP_ID__=b; Path=/; Max-Age=0; HttpOnly", "__VCAP_ID_META__=maxage=-1; Path=/; Max-Age=0; HttpOnly"}},
		{"expires copied", "", "JSESSIONID=s1; Expires=Wed, 02 Dec 2026 12:00:00 GMT",
			[]string{"__VCAP_ID__=b; Path=/; Expires=Wed, 02 Dec 2026 12:00:00 GMT; HttpOnly",
				"__VCAP_ID_META__=expires=" + unix(7*24*time.Hour) + "; Path=/; Expires=Wed, 02 Dec 2026 12:00:00 GMT; HttpOnly"}},
		{"samesite and partitioned copied", "", "JSESSIONID=s1; Secure; SameSite=None; Partitioned",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly; Secure; SameSite=None; Partitioned",
				"__VCAP_ID_META__=secure&partitioned&samesite=none; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"}},
		{"samesite lax", "", "JSESSIONID=s1; SameSite=lax",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly; SameSite=Lax", "__VCAP_ID_META__=samesite=lax; Path=/; HttpOnly; SameSite=Lax"}},
		{"__Host- session cookie", "", "__Host-JSESSIONID=s1; Path=/; Secure",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly; Secure", "__VCAP_ID_META__=secure; Path=/; HttpOnly; Secure"}},
		{"configured name", `"session_cookie_names":["SESSION"]`, "SESSION=s1",
			[]string{"__VCAP_ID__=b; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly"}},
		{"unconfigured name", `"session_cookie_names":["SESSION"]`, "JSESSIONID=s1", nil},
		{"not a session cookie", "", "theme=dark", nil},
		{"malformed session cookie", "", "JSESSIONID", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.options)
			got := h.request(appHost, "/").respond(addrB, setCookie(tc.session))
			assert.Equal(t, tc.want, got)
			assert.Equal(t, uint64(len(tc.want)/2), h.counter("cookies_set"))
		})
	}
}

func TestOneVCAPCookiePerSessionCookie(t *testing.T) {
	h := newHarness(t, "")
	got := h.request(appHost, "/").respond(addrA,
		setCookie("JSESSIONID=old; Max-Age=0"), setCookie("other=1"), setCookie("JSESSIONID=new; Secure; Partitioned"))
	assert.Equal(t, []string{
		"__VCAP_ID__=a; Path=/; Max-Age=0; HttpOnly", "__VCAP_ID_META__=maxage=-1; Path=/; Max-Age=0; HttpOnly",
		"__VCAP_ID__=a; Path=/; HttpOnly; Secure; Partitioned", "__VCAP_ID_META__=secure&partitioned; Path=/; HttpOnly; Secure; Partitioned",
	}, got)
}

func TestRoutePathIsCookiePath(t *testing.T) {
	h := newHarness(t, "")
	got := h.request("other.example", "/other/page").respond(addrX, setCookie("JSESSIONID=s"))
	assert.Equal(t, []string{"__VCAP_ID__=x; Path=/other; HttpOnly", "__VCAP_ID_META__=; Path=/other; HttpOnly"}, got)
}

func TestNoCookie(t *testing.T) {
	for _, tc := range []struct {
		name, authority, path, servedBy string
		headers                         [][2]string
	}{
		{"app sets its own __VCAP_ID__", appHost, "/", addrB, [][2]string{setCookie("JSESSIONID=s"), setCookie("__VCAP_ID__=mine")}},
		{"served by an address outside the route", appHost, "/", addrX, [][2]string{setCookie("JSESSIONID=s")}},
		{"no route for the host", "nowhere.example", "/", addrB, [][2]string{setCookie("JSESSIONID=s")}},
		{"outside the route's path", "other.example", "/otherwise", addrX, [][2]string{setCookie("JSESSIONID=s")}},
		{"no set-cookie at all", appHost, "/", addrB, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			assert.Empty(t, h.request(tc.authority, tc.path).respond(tc.servedBy, tc.headers...))
			assert.Zero(t, h.counter("cookies_set"))
		})
	}
}

func TestStickyRequestIsPinned(t *testing.T) {
	stateful := base64.StdEncoding.EncodeToString([]byte(addrB))
	for _, tc := range []struct {
		name, options, cookies string
		spoof                  string // a client-sent pin header
		wantPin                string // "" = no pin header reaches Envoy
	}{
		{"session + id", "", "JSESSIONID=s; __VCAP_ID__=b", "", addrB},
		{"id first", "", "__VCAP_ID__=b; JSESSIONID=s", "", addrB},
		{"__Host- session", "", "__Host-JSESSIONID=s; __VCAP_ID__=b", "", addrB},
		{"first occurrence wins", "", "__VCAP_ID__=b; JSESSIONID=s; __VCAP_ID__=c", "", addrB},
		{"quoted id", "", `JSESSIONID=s; __VCAP_ID__="b"`, "", addrB},
		{"id alone does nothing", "", "__VCAP_ID__=b", "", ""},
		{"session alone does nothing", "", "JSESSIONID=s", "", ""},
		{"id of another route is unknown", "", "JSESSIONID=s; __VCAP_ID__=x", "", ""},
		{"unknown id", "", "JSESSIONID=s; __VCAP_ID__=zzz", "", ""},
		{"empty id", "", "JSESSIONID=s; __VCAP_ID__=", "", ""},
		{"spoofed header without cookies is dropped", "", "", addrC, ""},
		{"spoofed header with cookies is overwritten", "", "JSESSIONID=s; __VCAP_ID__=b", addrC, addrB},
		{"stateful_session mode", `"pinning":{"mode":"stateful_session"}`, "JSESSIONID=s; __VCAP_ID__=b", "", stateful},
		{"cluster mode", `"pinning":{"mode":"cluster"}`, "JSESSIONID=s; __VCAP_ID__=b", "", "app_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.options)
			var headers [][2]string
			if tc.cookies != "" {
				headers = append(headers, cookieHeader(tc.cookies))
			}
			if tc.spoof != "" {
				headers = append(headers, [2]string{"x-vcap-sticky-upstream", tc.spoof})
			}
			e := h.request(appHost, "/", headers...)
			assert.Equal(t, types.ActionContinue, e.action)
			pin, ok := e.requestHeader("x-vcap-sticky-upstream")
			assert.Equal(t, tc.wantPin != "", ok, "pin header present")
			assert.Equal(t, tc.wantPin, pin)
			if tc.wantPin != "" {
				assert.Equal(t, uint64(1), h.counter("sticky_hits"))
			}
		})
	}
}

func TestCustomPinHeader(t *testing.T) {
	h := newHarness(t, `"pinning":{"header":"x-pin"}`)
	e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=a"), [2]string{"x-vcap-sticky-upstream", addrC})
	pin, _ := e.requestHeader("x-pin")
	assert.Equal(t, addrA, pin)
	other, _ := e.requestHeader("x-vcap-sticky-upstream")
	assert.Equal(t, addrC, other, "only the configured header is the filter's")
}

func TestSameInstanceNoSetCookie(t *testing.T) {
	h := newHarness(t, "")
	e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=b"))
	assert.Empty(t, e.respond(addrB))
	assert.Zero(t, h.counter("fallbacks"))
}

func TestStaleSessionIsRefreshed(t *testing.T) {
	at := func(d time.Duration) string { return strconv.FormatInt(fixedNow.Add(d).Unix(), 10) }
	for _, tc := range []struct {
		name, options, cookies string
		response               [][2]string
		want                   []string
	}{
		{"no META: defaults", "", "JSESSIONID=s; __VCAP_ID__=b", nil,
			[]string{"__VCAP_ID__=c; Path=/; HttpOnly"}},
		{"no META, secure_cookies", `"secure_cookies":true`, "JSESSIONID=s; __VCAP_ID__=b", nil,
			[]string{"__VCAP_ID__=c; Path=/; HttpOnly; Secure"}},
		{"META restores attributes with the remaining lifetime", "",
			"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=secure&partitioned&maxage=" + at(90*time.Second) + "&samesite=strict", nil,
			[]string{"__VCAP_ID__=c; Path=/; Max-Age=90; HttpOnly; Secure; SameSite=Strict; Partitioned"}},
		{"META expires restored", "",
			"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=expires=" + at(24*time.Hour), nil,
			[]string{"__VCAP_ID__=c; Path=/; Expires=Thu, 26 Nov 2026 12:00:00 GMT; HttpOnly"}},
		{"run-out lifetime deletes", "",
			"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=maxage=" + at(-time.Second), nil,
			[]string{"__VCAP_ID__=c; Path=/; Max-Age=0; HttpOnly"}},
		{"unknown META key: ignored", "",
			"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=secure&bogus", nil,
			[]string{"__VCAP_ID__=c; Path=/; HttpOnly; Secure"}},
		{"malformed META escape: defaults", "",
			"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=secure&partitioned=%ZZ", nil,
			[]string{"__VCAP_ID__=c; Path=/; HttpOnly"}},
		{"unknown id is refreshed too", "", "JSESSIONID=s; __VCAP_ID__=gone", nil,
			[]string{"__VCAP_ID__=c; Path=/; HttpOnly"}},
		{"session cookie in the response wins over META", "",
			"JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__=secure", [][2]string{setCookie("JSESSIONID=n; SameSite=Lax")},
			[]string{"__VCAP_ID__=c; Path=/; HttpOnly; SameSite=Lax", "__VCAP_ID_META__=samesite=lax; Path=/; HttpOnly; SameSite=Lax"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.options)
			got := h.request(appHost, "/", cookieHeader(tc.cookies)).respond(addrC, tc.response...)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, uint64(1), h.counter("fallbacks"))
		})
	}
}

func TestMetaRoundTrip(t *testing.T) {
	// The META a new session writes restores the same attributes on refresh.
	h := newHarness(t, "")
	first := h.request(appHost, "/").respond(addrB,
		setCookie("JSESSIONID=s; Secure; SameSite=Strict; Partitioned; Max-Age=600; Expires=Wed, 02 Dec 2026 12:00:00 GMT"))
	require.Len(t, first, 2)
	meta := strings.SplitN(strings.TrimPrefix(first[1], "__VCAP_ID_META__="), ";", 2)[0]

	now = func() time.Time { return fixedNow.Add(100 * time.Second) }
	got := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=b; __VCAP_ID_META__="+meta)).respond(addrA)
	assert.Equal(t, []string{
		"__VCAP_ID__=a; Path=/; Expires=Wed, 02 Dec 2026 12:00:00 GMT; Max-Age=500; HttpOnly; Secure; SameSite=Strict; Partitioned",
	}, got)
}

func TestStrictModeRejectsUnknownID(t *testing.T) {
	h := newHarness(t, `"strict":true`)
	e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=gone"))
	assert.Equal(t, types.ActionPause, e.action)
	resp := h.host.GetSentLocalResponse(e.id)
	require.NotNil(t, resp)
	assert.Equal(t, uint32(502), resp.StatusCode)
	assert.Contains(t, resp.Headers, [2]string{"x-cf-routererror", "endpoint_failure (No endpoints available)"})
	assert.Equal(t, uint64(1), h.counter("strict_rejections"))

	ok := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=a"))
	assert.Equal(t, types.ActionContinue, ok.action, "a known id still passes in strict mode")
}

func TestAppInstanceHeader(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		status      uint32 // 0: routed
		routerError string
		body        string
		wantPin     string
	}{
		{"routed", guid + ":2", 0, "", "", addrC},
		{"upper-case guid", strings.ToUpper(guid) + ":2", 400, "invalid_cf_app_instance_header", "400 Bad Request: Invalid X-CF-App-Instance Header\n", ""},
		{"no index", guid, 400, "invalid_cf_app_instance_header", "400 Bad Request: Invalid X-CF-App-Instance Header\n", ""},
		{"negative index", guid + ":-1", 400, "invalid_cf_app_instance_header", "400 Bad Request: Invalid X-CF-App-Instance Header\n", ""},
		{"garbage", "../../etc\r\n", 400, "invalid_cf_app_instance_header", "400 Bad Request: Invalid X-CF-App-Instance Header\n", ""},
		{"no such instance", guid + ":7", 400, "unknown_route",
			"400 Bad Request: Requested instance ('7') with guid ('" + guid + "') does not exist for route ('app.example')\n", ""},
		{"index compared as text", guid + ":02", 400, "unknown_route",
			"400 Bad Request: Requested instance ('02') with guid ('" + guid + "') does not exist for route ('app.example')\n", ""},
		{"long index is unknown, not invalid", guid + ":12345678901", 400, "unknown_route",
			"400 Bad Request: Requested instance ('12345678901') with guid ('" + guid + "') does not exist for route ('app.example')\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "")
			e := h.request(appHost, "/", [2]string{"x-cf-app-instance", tc.value})
			resp := h.host.GetSentLocalResponse(e.id)
			if tc.status == 0 {
				assert.Equal(t, types.ActionContinue, e.action)
				assert.Nil(t, resp)
				pin, _ := e.requestHeader("x-vcap-sticky-upstream")
				assert.Equal(t, tc.wantPin, pin)
				_, forwarded := e.requestHeader("x-cf-app-instance")
				assert.False(t, forwarded, "the header is removed before the request goes upstream")
				assert.Equal(t, uint64(1), h.counter("app_instance_routed"))
				return
			}
			assert.Equal(t, types.ActionPause, e.action)
			require.NotNil(t, resp)
			assert.Equal(t, tc.status, resp.StatusCode)
			assert.Equal(t, tc.body, string(resp.Data))
			assert.Contains(t, resp.Headers, [2]string{"x-cf-routererror", tc.routerError})
			assert.Contains(t, resp.Headers, [2]string{"cache-control", "no-cache, no-store"})
			assert.Contains(t, resp.Headers, [2]string{"x-content-type-options", "nosniff"})
			assert.Equal(t, uint64(1), h.counter("app_instance_rejected"))
		})
	}
}

// gorouter checks X-CF-App-Instance only when its value is non-empty: an
// empty header is removed and the request is sticky or balanced as usual.
func TestAppInstanceHeaderEmptyIsIgnored(t *testing.T) {
	h := newHarness(t, "")
	e := h.request(appHost, "/", [2]string{"x-cf-app-instance", ""}, cookieHeader("JSESSIONID=s; __VCAP_ID__=b"))
	assert.Equal(t, types.ActionContinue, e.action)
	assert.Nil(t, h.host.GetSentLocalResponse(e.id))
	_, forwarded := e.requestHeader("x-cf-app-instance")
	assert.False(t, forwarded, "the header is removed before the request goes upstream")
	pin, _ := e.requestHeader("x-vcap-sticky-upstream")
	assert.Equal(t, addrB, pin, "the session cookie pins as usual")
	assert.Zero(t, h.counter("app_instance_rejected"))
	assert.Zero(t, h.counter("app_instance_routed"))
}

func TestAppInstanceRewritesStaleCookie(t *testing.T) {
	h := newHarness(t, "")
	e := h.request(appHost, "/", [2]string{"x-cf-app-instance", guid + ":0"}, cookieHeader("JSESSIONID=s; __VCAP_ID__=c"))
	assert.Equal(t, []string{"__VCAP_ID__=a; Path=/; HttpOnly"}, e.respond(addrA))
}

func TestInstanceHeaders(t *testing.T) {
	sticky := cookieHeader("JSESSIONID=s; __VCAP_ID__=b")
	t.Run("sent when configured", func(t *testing.T) {
		e := newHarness(t, `"instance_headers":true`).request(appHost, "/", sticky)
		for name, want := range map[string]string{"x-cf-instanceid": "b", "x-cf-applicationid": guid, "x-cf-instanceindex": "1"} {
			got, _ := e.requestHeader(name)
			assert.Equal(t, want, got, name)
		}
	})
	t.Run("off by default", func(t *testing.T) {
		_, sent := newHarness(t, "").request(appHost, "/", sticky).requestHeader("x-cf-instanceid")
		assert.False(t, sent)
	})
}

func TestNegotiate(t *testing.T) {
	negotiate := [2]string{"authorization", "Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXeg"}
	t.Run("off by default", func(t *testing.T) {
		h := newHarness(t, "")
		e := h.request(appHost, "/", negotiate, cookieHeader("__VCAP_ID__=b"))
		_, pinned := e.requestHeader("x-vcap-sticky-upstream")
		assert.False(t, pinned)
		assert.Empty(t, e.respond(addrB, [2]string{"www-authenticate", "Negotiate"}))
	})
	t.Run("request pinned without a session cookie", func(t *testing.T) {
		h := newHarness(t, `"negotiate":true`)
		e := h.request(appHost, "/", [2]string{"authorization", "nEgOtIaTe abc"}, cookieHeader("__VCAP_ID__=b"))
		pin, _ := e.requestHeader("x-vcap-sticky-upstream")
		assert.Equal(t, addrB, pin)
	})
	t.Run("unknown id is strict", func(t *testing.T) {
		h := newHarness(t, `"negotiate":true`)
		e := h.request(appHost, "/", negotiate, cookieHeader("__VCAP_ID__=gone"))
		require.NotNil(t, h.host.GetSentLocalResponse(e.id))
		assert.Equal(t, uint32(502), h.host.GetSentLocalResponse(e.id).StatusCode)
	})
	t.Run("response sets a short strict cookie without META", func(t *testing.T) {
		h := newHarness(t, `"negotiate":true`)
		got := h.request(appHost, "/").respond(addrA, [2]string{"www-authenticate", "Negotiate oRQwEqADCgEAoQsGCSqGSIb3EgECAg=="})
		assert.Equal(t, []string{"__VCAP_ID__=a; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"}, got)
	})
	t.Run("basic auth is not negotiate", func(t *testing.T) {
		h := newHarness(t, `"negotiate":true`)
		e := h.request(appHost, "/", [2]string{"authorization", "Basic Zm9vOmJhcg=="}, cookieHeader("__VCAP_ID__=b"))
		_, pinned := e.requestHeader("x-vcap-sticky-upstream")
		assert.False(t, pinned)
	})
}

func TestInvalidConfigFailsPluginStart(t *testing.T) {
	for _, tc := range []struct{ config, field string }{
		{``, "empty configuration"},
		{`{"routes":[{"host":"h","instances":[{"id":"a","address":"nope"}]}]}`, "routes[0].instances[0].address"},
		{`{"routes":[],"bogus":1}`, "bogus: unknown field"},
	} {
		opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).WithPluginConfiguration([]byte(tc.config))
		host, reset := proxytest.NewHostEmulator(opt)
		assert.Equal(t, types.OnPluginStartStatusFailed, host.StartPlugin(), tc.config)
		logs := host.GetCriticalLogs()
		if assert.Len(t, logs, 1, "exactly one log line") {
			assert.Contains(t, logs[0], tc.field)
		}
		v, err := host.GetCounterMetric(metricPrefix + "config_errors")
		assert.NoError(t, err)
		assert.Equal(t, uint64(1), v)
		reset()
	}
}

func TestCountersForAFallback(t *testing.T) {
	h := newHarness(t, "")
	h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=gone")).respond(addrA)
	h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=a")).respond(addrA)
	h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=a")).respond(addrB)
	assert.Equal(t, uint64(1), h.counter("unknown_ids"))
	assert.Equal(t, uint64(2), h.counter("sticky_hits"))
	assert.Equal(t, uint64(2), h.counter("fallbacks"))
	assert.Equal(t, uint64(2), h.counter("cookies_refreshed"))
	assert.Zero(t, h.counter("cookies_set"))
}

func TestStatefulSessionHeaderNeverReachesClients(t *testing.T) {
	h := newHarness(t, `"pinning":{"mode":"stateful_session"}`)
	e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=b"))
	leaked := [2]string{"x-vcap-sticky-upstream", base64.StdEncoding.EncodeToString([]byte(addrC))}
	e.respond(addrC, leaked)
	assert.NotContains(t, h.host.GetCurrentResponseHeaders(e.id), leaked)
}

// A host no route names is another app's on a shared gateway: its
// X-CF-App-Instance, forged X-CF-* headers and cookies pass through, and its
// responses get no cookie. Only the filter's own pin header goes.
func TestOtherHostsPassThrough(t *testing.T) {
	h := newHarness(t, `"instance_headers":true`)
	e := h.request("nowhere.example", "/", [2]string{"x-cf-app-instance", "garbage"},
		[2]string{"x-cf-instanceid", "forged"}, cookieHeader("JSESSIONID=s; __VCAP_ID__=b"),
		[2]string{"x-vcap-sticky-upstream", addrC})
	assert.Equal(t, types.ActionContinue, e.action)
	assert.Nil(t, h.host.GetSentLocalResponse(e.id))
	v, ok := e.requestHeader("x-cf-app-instance")
	assert.True(t, ok && v == "garbage", "X-CF-App-Instance untouched: %q", v)
	v, _ = e.requestHeader("x-cf-instanceid")
	assert.Equal(t, "forged", v)
	_, pinned := e.requestHeader("x-vcap-sticky-upstream")
	assert.False(t, pinned, "the filter's own header is dropped for every host")
	assert.Empty(t, e.respond(addrB, setCookie("JSESSIONID=new")))
	assert.Zero(t, h.counter("app_instance_rejected"))
}
