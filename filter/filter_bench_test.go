package filter

import (
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// The benchmarks of the whole callbacks through proxytest; the core's own
// work, and its zero-allocation test, are in package sticky.

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
