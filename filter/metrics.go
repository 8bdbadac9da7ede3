package filter

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/vcap-sticky/vcap-sticky/config"
)

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

	// global holds the counters that also exist per route, by kind: the
	// ones above and the sealed mode's.
	global counterSet
	// routes holds each route's counters when route_metrics is on.
	routes map[*config.Route]*counterSet

	// panicLogged: the plugin's first recovered panic has been logged; later
	// ones are only counted (see recovered).
	panicLogged bool
}

// counterSet holds the counters of each kind that are defined, nil for the
// others (a metric id of 0 is valid). The global set points at the fields
// of metrics, so that what is counted there is what tests see.
type counterSet [numRouteCounters]*proxywasm.MetricCounter

func (s *counterSet) set(k counterKind, c *proxywasm.MetricCounter) { s[k] = c }

func (s *counterSet) inc(k counterKind) {
	if s != nil && s[k] != nil {
		s[k].Increment(1)
	}
}

func newCounter(name string) *proxywasm.MetricCounter {
	c := proxywasm.DefineCounterMetric(name)
	return &c
}

// counterKind names a counter kept globally and, with route_metrics, per route.
type counterKind int

const (
	cStickyHits counterKind = iota
	cUnknownIDs
	cFallbacks
	cCookiesSet
	cCookiesRefreshed
	cTokensRenewed
	cRejectedMalformed
	cRejectedUnauthentic
	cRejectedExpired
	cRejectedOtherRoute
	numRouteCounters
)

// counterNames: wasmcustom.vcap_sticky.<name> globally,
// wasmcustom.vcap_sticky.route.<route name>.<name> per route.
var counterNames = [numRouteCounters]string{
	"sticky_hits", "unknown_ids", "fallbacks", "cookies_set", "cookies_refreshed",
	"tokens_renewed", "tokens_rejected_malformed", "tokens_rejected_unauthentic",
	"tokens_rejected_expired", "tokens_rejected_other_route",
}

const (
	metricPrefix      = "vcap_sticky."
	routeMetricPrefix = metricPrefix + "route."
)

// defineMetrics is called once per plugin start: the host returns the same
// counter for a name defined again.
func defineMetrics() *metrics {
	c := func(name string) proxywasm.MetricCounter {
		return proxywasm.DefineCounterMetric(metricPrefix + name)
	}
	m := &metrics{
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
	m.global.set(cStickyHits, &m.stickyHits)
	m.global.set(cUnknownIDs, &m.unknownIDs)
	m.global.set(cFallbacks, &m.fallbacks)
	m.global.set(cCookiesSet, &m.cookiesSet)
	m.global.set(cCookiesRefreshed, &m.cookiesRefreshed)
	return m
}

// defineConfigMetrics defines, at plugin start, the counters a configuration
// needs beyond the default ones: the sealed mode's, and every route's with
// route_metrics. Nothing is defined on the request path.
func (m *metrics) defineConfigMetrics(cfg *config.Config) {
	if cfg.Sealed != nil {
		for k := cTokensRenewed; k < numRouteCounters; k++ {
			m.global.set(k, newCounter(metricPrefix+counterNames[k]))
		}
	}
	if !cfg.RouteMetrics {
		return
	}
	m.routes = map[*config.Route]*counterSet{}
	for _, r := range cfg.Routes.All() {
		rc := &counterSet{}
		for k := range numRouteCounters {
			if k >= cTokensRenewed && cfg.Sealed == nil {
				break
			}
			rc.set(k, newCounter(routeMetricPrefix+r.Name+"."+counterNames[k]))
		}
		m.routes[r] = rc
	}
}

// count increments a counter, globally and for the request's route.
func (h *httpContext) count(k counterKind) {
	h.metrics.global.inc(k)
	if h.metrics.routes != nil {
		h.metrics.routes[h.route].inc(k)
	}
}
