// Command dispatch is a test module for the binding (sdkabi): each stream
// makes an HTTP call from its request headers callback, and the call's
// response sets a request header on that stream and resumes it. It checks
// what the binding keeps of a stream in place of the SDK's
// contextIDToRootID: the stream's plugin, found when the call is made, and
// that a response arriving after Envoy deleted the stream is dropped.
// binding_test.go runs it in an emulated Envoy; `make e2e` builds it.
//
//go:build wasip1

package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { proxywasm.SetVMContext(&vmContext{}) }

func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{} }

type httpContext struct{ types.DefaultHttpContext }

func (*httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	headers := [][2]string{{":method", "GET"}, {":path", "/check"}, {":authority", "auth"}}
	if _, err := proxywasm.DispatchHttpCall("auth", headers, nil, nil, 1000, onResponse); err != nil {
		proxywasm.LogCriticalf("dispatch: %v", err)
		return types.ActionContinue
	}
	return types.ActionPause
}

func onResponse(int, int, int) {
	_ = proxywasm.ReplaceHttpRequestHeader("x-dispatched", "yes")
	_ = proxywasm.ResumeHttpRequest()
}
