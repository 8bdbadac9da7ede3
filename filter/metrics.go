package filter

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/vcap-sticky/vcap-sticky/config"
)

// metrics are the filter's counters. Envoy lists them in its stats under the
// "wasmcustom." prefix, e.g. wasmcustom.vcap_sticky.sticky_hits.
type metrics struct {
	stickyHits          *counter // pinned to the instance the cookie names
	unknownIDs          *counter // __VCAP_ID__ names no instance of the route
	fallbacks           *counter // sticky request served by another instance
	cookiesSet          *counter // __VCAP_ID__ added for a new session
	cookiesRefreshed    *counter // __VCAP_ID__ re-issued after a fallback
	appInstanceRouted   *counter
	appInstanceRejected *counter
	strictRejections    *counter // 502 instead of balancing
	// Sent at once, never batched: they must show while requests fail.
	configErrors proxywasm.MetricCounter
	panics       proxywasm.MetricCounter // recovered; the request failed open

	// global holds the counters that also exist per route, by kind: the
	// ones above and the sealed mode's.
	global counterSet
	// routes holds each route's counters when route_metrics is on.
	routes map[*config.Route]*counterSet
	// perRequest are the counters the request path increments.
	perRequest []*counter
	// batched: increments wait in the VM for flush (on the plugin's tick),
	// when metrics_flush_interval_ms is not 0.
	batched bool

	// panicLogged: the plugin's first recovered panic has been logged; later
	// ones are only counted (see recovered).
	panicLogged bool
}

// counter is one of Envoy's counters the request path increments, with the
// increments not sent yet. Batching them saves a host call, a round trip out
// of the VM, on every request.
type counter struct {
	metric  proxywasm.MetricCounter
	pending uint64
}

// inc counts one event in c: at the next flush when batched, else at once.
// A nil c (not defined for this configuration) counts nothing.
func (m *metrics) inc(c *counter) {
	if c == nil {
		return
	}
	c.pending++
	if !m.batched {
		c.flush()
	}
}

// flush hands the pending increments to Envoy.
func (c *counter) flush() {
	if c.pending == 0 {
		return
	}
	n := c.pending
	c.pending = 0
	c.metric.Increment(n)
}

// counterSet holds the counters of each kind that are defined, nil for the
// others (a metric id of 0 is valid). The global set shares its counters
// with the fields of metrics.
type counterSet [numRouteCounters]*counter

func (s *counterSet) set(k counterKind, c *counter) { s[k] = c }

// perRequestCounter defines a counter the request path increments.
func (m *metrics) perRequestCounter(name string) *counter {
	c := &counter{metric: proxywasm.DefineCounterMetric(name)}
	m.perRequest = append(m.perRequest, c)
	return c
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
	m := &metrics{
		configErrors: proxywasm.DefineCounterMetric(metricPrefix + "config_errors"),
		panics:       proxywasm.DefineCounterMetric(metricPrefix + "panics"),
	}
	c := func(name string) *counter { return m.perRequestCounter(metricPrefix + name) }
	m.stickyHits = c("sticky_hits")
	m.unknownIDs = c("unknown_ids")
	m.fallbacks = c("fallbacks")
	m.cookiesSet = c("cookies_set")
	m.cookiesRefreshed = c("cookies_refreshed")
	m.appInstanceRouted = c("app_instance_routed")
	m.appInstanceRejected = c("app_instance_rejected")
	m.strictRejections = c("strict_rejections")
	m.global.set(cStickyHits, m.stickyHits)
	m.global.set(cUnknownIDs, m.unknownIDs)
	m.global.set(cFallbacks, m.fallbacks)
	m.global.set(cCookiesSet, m.cookiesSet)
	m.global.set(cCookiesRefreshed, m.cookiesRefreshed)
	return m
}

// defineConfigMetrics defines, at plugin start, the counters a configuration
// needs beyond the default ones: the sealed mode's, and every route's with
// route_metrics, and batches the request path's counters if the
// configuration says so. Nothing is defined on the request path.
func (m *metrics) defineConfigMetrics(cfg *config.Config) {
	if cfg.Sealed != nil {
		for k := cTokensRenewed; k < numRouteCounters; k++ {
			m.global.set(k, m.perRequestCounter(metricPrefix+counterNames[k]))
		}
	}
	if cfg.RouteMetrics {
		m.routes = map[*config.Route]*counterSet{}
		for _, r := range cfg.Routes.All() {
			rc := &counterSet{}
			for k := range numRouteCounters {
				if k >= cTokensRenewed && cfg.Sealed == nil {
					break
				}
				rc.set(k, m.perRequestCounter(routeMetricPrefix+r.Name+"."+counterNames[k]))
			}
			m.routes[r] = rc
		}
	}
	m.batched = cfg.MetricsFlushInterval > 0
}

// unbatch makes every counter send its increments at once, after handing
// over what was batched.
func (m *metrics) unbatch() {
	m.flush()
	m.batched = false
}

// flush hands every batched increment to Envoy: one host call per counter
// that changed since the last flush.
func (m *metrics) flush() {
	for _, c := range m.perRequest {
		c.flush()
	}
}

// count increments a counter, globally and for the request's route.
func (h *httpContext) count(k counterKind) {
	m := h.metrics
	m.inc(m.global[k])
	if rc := m.routes[h.route]; rc != nil {
		m.inc(rc[k])
	}
}
