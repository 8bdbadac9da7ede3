//go:build wasip1

package filter

import (
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// In the module, the request path reads what it needs from the host into
// buffers the context keeps (the binding's zero-copy reads, sdkabi/proxywasm):
// a sticky hit allocates nothing. The views of the request (h.req, and the
// decision made from it) alias the request's buffer until the next stream
// reuses the context; nothing of them outlives the stream (the core copies
// what it keeps, sticky's token cache).
type hostBufs struct {
	request, response, address []byte
	pairs                      [][2]string // grown to the largest header count
}

func (h *httpContext) requestHeaders() ([][2]string, error) {
	pairs, err := proxywasm.GetHttpRequestHeadersInto(&h.bufs.request, h.bufs.pairs[:0])
	h.bufs.pairs = pairs
	return pairs, err
}

func (h *httpContext) responseHeaders() ([][2]string, error) {
	// The pairs slice is the request's: the request's views hold strings,
	// not the slice. The bytes are a buffer of their own.
	pairs, err := proxywasm.GetHttpResponseHeadersInto(&h.bufs.response, h.bufs.pairs[:0])
	h.bufs.pairs = pairs
	return pairs, err
}

// upstreamAddress is Envoy's upstream.address, aliasing the context's
// buffer: the core uses it within the response callback.
func (h *httpContext) upstreamAddress() (string, bool) {
	addr, err := proxywasm.GetPropertyInto(&h.bufs.address, "upstream\x00address")
	if err != nil || len(addr) == 0 {
		return "", err == nil // a local reply, or no upstream was reached
	}
	return unsafe.String(&addr[0], len(addr)), true
}
