// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo && !sdkabi_headers_only

package internal

// The per-stream callbacks a filter that works on headers alone does not
// need. Envoy calls a callback on every request (and on every body chunk)
// only if the module exports it, and each call is a round trip into the VM,
// so the build tag sdkabi_headers_only leaves these out (`make build` sets
// it; BENCHMARKS.md has the cost). Without the tag the binding exports every
// callback the SDK defines. Left out, Envoy's defaults apply: bodies and
// trailers continue, a stream is done at once, a plugin's OnPluginDone runs
// from proxy_on_delete (callbacks.go), nothing is logged.

//go:wasmexport proxy_on_request_body
func proxyOnRequestBodyABI(contextID, bodySize, endOfStream uint32) uint32 {
	return uint32(httpStream(contextID, "proxy_on_request_body").OnHttpRequestBody(int(bodySize), endOfStream != 0))
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailersABI(contextID, numTrailers uint32) uint32 {
	return uint32(httpStream(contextID, "proxy_on_request_trailers").OnHttpRequestTrailers(int(numTrailers)))
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBodyABI(contextID, bodySize, endOfStream uint32) uint32 {
	return uint32(httpStream(contextID, "proxy_on_response_body").OnHttpResponseBody(int(bodySize), endOfStream != 0))
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailersABI(contextID, numTrailers uint32) uint32 {
	return uint32(httpStream(contextID, "proxy_on_response_trailers").OnHttpResponseTrailers(int(numTrailers)))
}

// exportsOnDone: Envoy calls proxy_on_done itself.
const exportsOnDone = true

//go:wasmexport proxy_on_done
func proxyOnDoneABI(contextID uint32) uint32 { return boolABI(proxyOnDone(contextID)) }

//go:wasmexport proxy_on_log
func proxyOnLogABI(contextID uint32) {
	if streams.get(contextID) == nil {
		proxyOnLog(contextID) // a TCP context
		return
	}
	httpStream(contextID, "proxy_on_log").OnHttpStreamDone()
}
