//go:build !wasip1

package filter

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// Natively (proxytest), the SDK's own reads; the module reads into the
// context's buffers instead (host_wasip1.go).
type hostBufs struct{}

func (h *httpContext) requestHeaders() ([][2]string, error) {
	return proxywasm.GetHttpRequestHeaders()
}

func (h *httpContext) responseHeaders() ([][2]string, error) {
	return proxywasm.GetHttpResponseHeaders()
}

func (h *httpContext) upstreamAddress() (string, bool) {
	addr, err := proxywasm.GetProperty([]string{"upstream", "address"})
	if err != nil {
		return "", false // a local reply, or no upstream was reached
	}
	return string(addr), true
}
