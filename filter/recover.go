package filter

import (
	"runtime/debug"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
)

// recovered accounts for a panic recovered at a callback boundary: it counts
// it in the panics metric and logs only the plugin's first one, with its
// stack. A panic on the request path may repeat on every request; one log
// line per request would flood Envoy's log, so later ones are only counted.
// Nothing here may panic again (a second panic in a deferred recovery would
// trap the VM after all), so a failing host call is swallowed too.
func (m *metrics) recovered(callback string, r any) {
	defer func() { _ = recover() }()
	if m == nil || !m.panicLogged {
		if m != nil {
			m.panicLogged = true
		}
		proxywasm.LogErrorf("vcap-sticky: recovered from a panic in %s, failing open (no stickiness); "+
			"later panics are only counted in %spanics: %v\n%s", callback, metricPrefix, r, debug.Stack())
	}
	if m != nil {
		m.panics.Increment(1)
	}
}
