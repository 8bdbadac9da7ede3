package filter

import (
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
)

// The benchmarks' app: one route, three instances, override_host pinning.
const (
	benchID0    = "d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f"
	benchAddr0  = "10.1.0.11:8080"
	benchHost   = "shop.example.com"
	benchConfig = `{"routes":[{"host":"shop.example.com","instances":[
		{"id":"` + benchID0 + `","address":"` + benchAddr0 + `"},
		{"id":"6b0f2c55-1d2e-4f3a-8b4c-5d6e7f8a9b0c","address":"10.1.0.12:8080"},
		{"id":"0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f","address":"10.1.0.13:8080"}]}]}`
	// A browser's Cookie header on a sticky request: analytics cookies
	// around the session cookie and __VCAP_ID__.
	benchCookies = `_ga=GA1.2.1234567890.1600000000; _gid=GA1.2.987654321.1600000000; lang=en-US; ` +
		`JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; __VCAP_ID__=` + benchID0 + `; theme=dark`
	benchSessionSetCookie = "JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; Path=/; HttpOnly"
)

func benchParsedConfig(b *testing.B) *config.Config {
	b.Helper()
	cfg, err := config.Parse([]byte(benchConfig))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// benchStickyHit is the filter's own work on a sticky hit, without host
// calls: read the Cookie header, find the route, find the instance.
func benchStickyHit(cfg *config.Config) *config.Instance {
	rc := readRequestCookies(cfg, benchCookies)
	if rc.vcapID == "" || !rc.hasSession {
		return nil
	}
	r := cfg.Routes.Match(benchHost, "/cart/items?page=2")
	if r == nil {
		return nil
	}
	return r.ByID(rc.vcapID)
}

// BenchmarkStickyHitNative: cookie parse + route match + id lookup (the
// target is 0 allocations).
func BenchmarkStickyHitNative(b *testing.B) {
	cfg := benchParsedConfig(b)
	b.ReportAllocs()
	for b.Loop() {
		if benchStickyHit(cfg) == nil {
			b.Fatal("no instance")
		}
	}
}

func BenchmarkReadRequestCookies(b *testing.B) {
	cfg := benchParsedConfig(b)
	b.ReportAllocs()
	for b.Loop() {
		if rc := readRequestCookies(cfg, benchCookies); rc.vcapID != benchID0 {
			b.Fatal("no __VCAP_ID__")
		}
	}
}

// BenchmarkNewSessionCookies is the response path's own work when a session
// starts: parse the app's Set-Cookie, build __VCAP_ID__ and
// __VCAP_ID_META__ as OnHttpResponseHeaders does.
func BenchmarkNewSessionCookies(b *testing.B) {
	cfg := benchParsedConfig(b)
	h := &httpContext{cfg: cfg, route: cfg.Routes.Match(benchHost, "/")}
	served := h.route.ByAddress(benchAddr0)
	lines := []string{benchSessionSetCookie}
	clk := &clock{t: now(), read: true}
	b.ReportAllocs()
	for b.Loop() {
		rc := readResponseCookies(cfg, lines)
		sc := &rc.sessions[0]
		id := h.vcapCookieValue(served.ID, sc.Secure, sc.Partitioned, sc.SameSite, sc.Expires, sc.MaxAge)
		meta := id
		meta.Name, meta.Value = config.MetaCookie, metaFromSessionCookie(sc, clk).encode()
		if id.String() == "" || meta.String() == "" {
			b.Fatal("no cookie")
		}
	}
}

// BenchmarkVCAPSetCookieAppend builds the __VCAP_ID__ Set-Cookie value into
// a reused buffer: what the response path costs without String's copy.
func BenchmarkVCAPSetCookieAppend(b *testing.B) {
	c := cookie.SetCookie{Name: config.VCAPCookie, Value: benchID0, Path: "/", HttpOnly: true}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.AppendTo(buf[:0])
	}
}

// benchEmulator starts the plugin in the SDK's host emulator.
func benchEmulator(b *testing.B) proxytest.HostEmulator {
	b.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).WithPluginConfiguration([]byte(benchConfig))
	host, reset := proxytest.NewHostEmulator(opt)
	b.Cleanup(reset)
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		b.Fatal(host.GetCriticalLogs())
	}
	return host
}

// BenchmarkOnHttpRequestHeadersStickyHit runs the whole request callback of a
// sticky hit through proxytest, host calls included. The emulator's own work
// (copying headers in, context bookkeeping) is part of the figure, so its
// allocations are an upper bound for the filter's.
func BenchmarkOnHttpRequestHeadersStickyHit(b *testing.B) {
	host := benchEmulator(b)
	headers := [][2]string{
		{":authority", benchHost}, {":path", "/cart/items?page=2"}, {":method", "GET"},
		{"user-agent", "Mozilla/5.0"}, {"accept", "*/*"}, {"cookie", benchCookies},
	}
	b.ReportAllocs()
	for b.Loop() {
		id := host.InitializeHttpContext()
		if host.CallOnRequestHeaders(id, headers, true) != types.ActionContinue {
			b.Fatal("paused")
		}
		host.CompleteHttpContext(id)
	}
}

// TestStickyHitNativeDoesNotAllocate: the native part of a sticky hit (cookie
// parse and lookups) allocates nothing.
func TestStickyHitNativeDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	cfg, err := config.Parse([]byte(benchConfig))
	if err != nil {
		t.Fatal(err)
	}
	var inst *config.Instance
	if n := testing.AllocsPerRun(100, func() { inst = benchStickyHit(cfg) }); n != 0 {
		t.Errorf("sticky hit: %v allocations, want 0", n)
	}
	if inst == nil || inst.ID != benchID0 {
		t.Fatalf("sticky hit found %+v", inst)
	}
}

// benchExchange runs a whole request and response through proxytest.
func benchExchange(b *testing.B, reqCookie string, respHeaders [][2]string) {
	host := benchEmulator(b)
	host.SetProperty([]string{"upstream", "address"}, []byte(benchAddr0))
	req := [][2]string{{":authority", benchHost}, {":path", "/"}, {":method", "GET"}}
	if reqCookie != "" {
		req = append(req, [2]string{"cookie", reqCookie})
	}
	b.ReportAllocs()
	for b.Loop() {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, req, true)
		host.CallOnResponseHeaders(id, respHeaders, false)
		host.CompleteHttpContext(id)
	}
}

// BenchmarkExchangeStickyHit: variant C of the Envoy benchmark, natively.
func BenchmarkExchangeStickyHit(b *testing.B) {
	benchExchange(b, benchCookies, [][2]string{{":status", "200"}, {"content-type", "application/json"}})
}

// BenchmarkExchangeNewSession: variant D (the app starts a session).
func BenchmarkExchangeNewSession(b *testing.B) {
	benchExchange(b, "", [][2]string{{":status", "200"}, {"set-cookie", benchSessionSetCookie}})
}
