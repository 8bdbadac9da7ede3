package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// dispatchModule is sdkabi/testdata/dispatch, built by `make e2e`.
func dispatchModule(t *testing.T) []byte {
	t.Helper()
	bin, err := os.ReadFile("build/dispatch.wasm")
	require.NoError(t, err, "build it with `make build/dispatch.wasm`")
	return bin
}

// The binding keeps a stream's plugin in its table, not in the SDK's
// contextIDToRootID (sdkabi/streams.go): an HTTP call made from a stream
// must still find the stream's plugin, its response must reach that stream,
// and a response that comes after Envoy deleted the stream must reach no
// one (the SDK's own rule: the stream's callbacks are never called again).
func TestBindingDispatchesFromAStream(t *testing.T) {
	e, ctx := startModule(t, dispatchModule(t), "")
	req := [][2]string{{":authority", "app.example"}, {":path", "/"}}
	e.reqHeaders = req

	// Ids as Envoy hands them out, and one in the binding's overflow map
	// (the same slot as 2, while 2 is live).
	for _, id := range []uint64{2, 3, 2 + 256} {
		e.replaced = map[string]string{}
		e.call(t, ctx, "proxy_on_context_create", id, 1)
		require.Equal(t, uint64(1), e.call(t, ctx, "proxy_on_request_headers", id, uint64(len(req)), 1), "Pause")
		require.Equal(t, 1, e.counts.hostCalls["proxy_http_call"])
		e.counts.hostCalls["proxy_http_call"] = 0
		e.call(t, ctx, "proxy_on_http_call_response", 1, uint64(e.callouts), 0, 0, 0)
		require.Equal(t, "yes", e.replaced["x-dispatched"], "stream %d: the call's response reached it", id)
		require.Equal(t, id, e.effective, "the response ran as stream %d", id)
	}
	for _, id := range []uint64{2, 3, 2 + 256} {
		e.call(t, ctx, "proxy_on_delete", id)
	}

	// A stream deleted before its call's response came.
	e.replaced, e.effective = map[string]string{}, 0
	e.call(t, ctx, "proxy_on_context_create", 5, 1)
	require.Equal(t, uint64(1), e.call(t, ctx, "proxy_on_request_headers", 5, uint64(len(req)), 1), "Pause")
	e.call(t, ctx, "proxy_on_delete", 5)
	e.call(t, ctx, "proxy_on_http_call_response", 1, uint64(e.callouts), 0, 0, 0)
	require.Empty(t, e.replaced, "a deleted stream's callback ran")
	require.Zero(t, e.effective, "a deleted stream was made the effective context")
}
