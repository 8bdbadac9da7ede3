// Command emptyfilter is a proxy-wasm module that does nothing: every HTTP
// callback returns Continue at once. The benchmark (cmd/bench, variant F)
// runs it to measure the floor of a standard-Go Wasm filter in Envoy: the
// V8 calls for the context's lifecycle and each header callback, with no
// work in them. Build it like the filter (the same exports, so the floor is
// the filter's floor):
//
//	GOOS=wasip1 GOARCH=wasm go build -modfile=build/go.mod -tags sdkabi_headers_only -buildmode=c-shared -o build/emptyfilter.wasm ./cmd/bench/emptyfilter
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { proxywasm.SetVMContext(&vmContext{}) }

// main never runs in a reactor; the c-shared build mode still needs one.
func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

// NewHttpContext returns a context whose callbacks all continue; a nil
// context would make the SDK skip the request, which is not the floor we
// want to measure.
func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return &types.DefaultHttpContext{} }
