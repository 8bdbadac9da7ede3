package filter

import (
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/internal/benchapp"
)

// The benchmarks of the whole callbacks through proxytest; the core's own
// work, and its zero-allocation test, are in package sticky.

// benchEmulator starts the plugin in the SDK's host emulator.
func benchEmulator(b *testing.B) proxytest.HostEmulator {
	b.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).WithPluginConfiguration([]byte(benchapp.Config))
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
		{":authority", benchapp.Host}, {":path", "/cart/items?page=2"}, {":method", "GET"},
		{"user-agent", "Mozilla/5.0"}, {"accept", "*/*"}, {"cookie", benchapp.Cookies},
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
	host.SetProperty([]string{"upstream", "address"}, []byte(benchapp.Addr0))
	req := [][2]string{{":authority", benchapp.Host}, {":path", "/"}, {":method", "GET"}}
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
	benchExchange(b, benchapp.Cookies, [][2]string{{":status", "200"}, {"content-type", "application/json"}})
}

// BenchmarkExchangeNewSession: variant D (the app starts a session).
func BenchmarkExchangeNewSession(b *testing.B) {
	benchExchange(b, "", [][2]string{{":status", "200"}, {"set-cookie", benchapp.SessionSetCookie}})
}
