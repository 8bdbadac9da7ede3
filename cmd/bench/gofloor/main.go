//go:build wasip1

// Command gofloor is variant G4's module: a standard-Go proxy-wasm filter
// that makes exactly a sticky hit's host calls, as w4.wat does, through the
// same binding (sdkabi) and the same allocation-free reads as the filter,
// and does nothing else: the request's header pairs, the pin header
// replaced with the value of its plugin configuration, the response's
// header pairs and upstream.address. C/G4 is then what the filter's own
// work costs, and G4/W4 what the Go runtime costs for the same crossings.
// Build it like the filter:
//
//	GOOS=wasip1 GOARCH=wasm go build -modfile=build/go.mod -tags sdkabi_headers_only -buildmode=c-shared -o build/gofloor.wasm ./cmd/bench/gofloor
//
// It exists for wasip1 only: the allocation-free reads are the binding's
// (sdkabi/proxywasm), which the SDK's native build does not have.
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { proxywasm.SetVMContext(&vmContext{}) }

// main never runs in a reactor; the c-shared build mode still needs one.
func main() {}

// pinHeader is the header the bench's Envoy setup pins on (w4.wat's too).
const pinHeader = "x-vcap-sticky-upstream"

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	pin  string
	free []*httpContext // contexts Envoy has deleted, for reuse: no allocation per request
}

func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	cfg, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(cfg) == 0 {
		proxywasm.LogCritical("gofloor: the plugin configuration is the pin value")
		return types.OnPluginStartStatusFailed
	}
	p.pin = string(cfg)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free = p.free[:n-1]
		return h
	}
	return &httpContext{plugin: p}
}

type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
	buf    []byte      // the host's bytes of the last read
	pairs  [][2]string // the last read's header pairs, aliasing buf
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	h.pairs, _ = proxywasm.GetHttpRequestHeadersInto(&h.buf, h.pairs[:0])
	_ = proxywasm.ReplaceHttpRequestHeader(pinHeader, h.plugin.pin)
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseHeaders(int, bool) types.Action {
	h.pairs, _ = proxywasm.GetHttpResponseHeadersInto(&h.buf, h.pairs[:0])
	_, _ = proxywasm.GetPropertyInto(&h.buf, "upstream\x00address")
	return types.ActionContinue
}

// HttpContextDeleted is called by the binding when Envoy deletes a stream
// (sdkabi/README.md): its context goes back to the plugin's list.
func (p *pluginContext) HttpContextDeleted(ctx types.HttpContext) {
	if h, ok := ctx.(*httpContext); ok {
		p.free = append(p.free, h)
	}
}
