package filter

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

// metrics are the filter's counters. Envoy lists them in its stats under the
// "wasmcustom." prefix, e.g. wasmcustom.vcap_sticky.sticky_hits.
type metrics struct {
	stickyHits          proxywasm.MetricCounter // pinned to the instance the cookie names
	unknownIDs          proxywasm.MetricCounter // __VCAP_ID__ names no instance of the route
	fallbacks           proxywasm.MetricCounter // sticky request served by another instance
	cookiesSet          proxywasm.MetricCounter // __VCAP_ID__ added for a new session
	cookiesRefreshed    proxywasm.MetricCounter // __VCAP_ID__ re-issued after a fallback
	appInstanceRouted   proxywasm.MetricCounter
	appInstanceRejected proxywasm.MetricCounter
	strictRejections    proxywasm.MetricCounter // 502 instead of balancing
	configErrors        proxywasm.MetricCounter
	panics              proxywasm.MetricCounter // recovered; the request failed open

	// panicLogged: the plugin's first recovered panic has been logged; later
	// ones are only counted (see recovered).
	panicLogged bool
}

const metricPrefix = "vcap_sticky."

// defineMetrics is called once per plugin start: the host returns the same
// counter for a name defined again.
func defineMetrics() *metrics {
	c := func(name string) proxywasm.MetricCounter {
		return proxywasm.DefineCounterMetric(metricPrefix + name)
	}
	return &metrics{
		stickyHits:          c("sticky_hits"),
		unknownIDs:          c("unknown_ids"),
		fallbacks:           c("fallbacks"),
		cookiesSet:          c("cookies_set"),
		cookiesRefreshed:    c("cookies_refreshed"),
		appInstanceRouted:   c("app_instance_routed"),
		appInstanceRejected: c("app_instance_rejected"),
		strictRejections:    c("strict_rejections"),
		configErrors:        c("config_errors"),
		panics:              c("panics"),
	}
}
