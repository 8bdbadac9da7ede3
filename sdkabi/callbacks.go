// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo

package internal

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

// The callbacks of proxy-wasm ABI 0.2.x that the SDK defines, exported for
// standard Go. The SDK marks its handlers with tinygo's //export, which
// standard Go ignores; each wrapper here exports the ABI name with i32
// arguments and hands over to the SDK's own handler, except that a stream's
// callbacks find its HTTP context in the binding's table (streams.go)
// rather than the SDK's map. The per-stream callbacks a headers-only filter
// can do without are in callbacks_stream.go.

func boolABI(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

//go:wasmexport proxy_abi_version_0_2_0
func proxyABIVersionABI() { proxyABIVersion() }

//go:wasmexport proxy_on_context_create
func proxyOnContextCreateABI(contextID, parentContextID uint32) {
	if parentContextID == 0 {
		proxyOnContextCreate(contextID, parentContextID) // a plugin
		return
	}
	createStream(contextID, parentContextID) // streams.go
}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStartABI(contextID, vmConfigurationSize uint32) uint32 {
	return boolABI(bool(proxyOnVMStart(contextID, int(vmConfigurationSize))))
}

//go:wasmexport proxy_on_configure
func proxyOnConfigureABI(contextID, pluginConfigurationSize uint32) uint32 {
	return boolABI(bool(proxyOnConfigure(contextID, int(pluginConfigurationSize))))
}

//go:wasmexport proxy_on_tick
func proxyOnTickABI(contextID uint32) { proxyOnTick(contextID) }

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReadyABI(contextID, queueID uint32) { proxyOnQueueReady(contextID, queueID) }

//go:wasmexport proxy_on_new_connection
func proxyOnNewConnectionABI(contextID uint32) uint32 {
	return uint32(proxyOnNewConnection(contextID))
}

//go:wasmexport proxy_on_downstream_data
func proxyOnDownstreamDataABI(contextID, dataSize, endOfStream uint32) uint32 {
	return uint32(proxyOnDownstreamData(contextID, int(dataSize), endOfStream != 0))
}

//go:wasmexport proxy_on_downstream_connection_close
func proxyOnDownstreamConnectionCloseABI(contextID, peerType uint32) {
	proxyOnDownstreamConnectionClose(contextID, types.PeerType(peerType))
}

//go:wasmexport proxy_on_upstream_data
func proxyOnUpstreamDataABI(contextID, dataSize, endOfStream uint32) uint32 {
	return uint32(proxyOnUpstreamData(contextID, int(dataSize), endOfStream != 0))
}

//go:wasmexport proxy_on_upstream_connection_close
func proxyOnUpstreamConnectionCloseABI(contextID, peerType uint32) {
	proxyOnUpstreamConnectionClose(contextID, types.PeerType(peerType))
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeadersABI(contextID, numHeaders, endOfStream uint32) uint32 {
	ctx := httpStream(contextID, "proxy_on_request_headers")
	return uint32(ctx.OnHttpRequestHeaders(int(numHeaders), endOfStream != 0))
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeadersABI(contextID, numHeaders, endOfStream uint32) uint32 {
	ctx := httpStream(contextID, "proxy_on_response_headers")
	return uint32(ctx.OnHttpResponseHeaders(int(numHeaders), endOfStream != 0))
}

//go:wasmexport proxy_on_http_call_response
func proxyOnHttpCallResponseABI(contextID, calloutID, numHeaders, bodySize, numTrailers uint32) {
	proxyOnHttpCallResponse(contextID, calloutID, int(numHeaders), int(bodySize), int(numTrailers))
}

//go:wasmexport proxy_on_delete
func proxyOnDeleteABI(contextID uint32) {
	// A stream, the most frequent by far: as the SDK's proxyOnDelete does for
	// one, then its plugin's hook.
	if s, ok := streams.remove(contextID); ok {
		if s.recycler != nil {
			s.recycler.HttpContextDeleted(s.ctx)
		}
		return
	}
	if !exportsOnDone {
		// Envoy calls proxy_on_done only if the module exports it, and then
		// proxy_on_delete; without it, a plugin is deleted at once. Give
		// OnPluginDone its call here, so that a plugin can hand over what it
		// holds (batched counters) before it goes. A plugin that asks to
		// finish later (false) cannot be waited for: it is deleted.
		if _, ok := currentState.pluginContexts[contextID]; ok {
			proxyOnDone(contextID)
		}
	}
	streams.forgetPlugin(contextID)
	proxyOnDelete(contextID)
}
