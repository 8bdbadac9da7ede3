package filter

import (
	"math/bits"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/sticky"
)

// metrics are the filter's counters. Envoy lists them in its stats under the
// "wasmcustom." prefix, e.g. wasmcustom.vcap_sticky.sticky_hits.
type metrics struct {
	// events holds the counter of each event the core reports, nil for
	// one not defined for this configuration (a metric id of 0 is valid).
	events counterSet
	// routes holds each route's counters, by Route.Index, when
	// route_metrics is on.
	routes []*counterSet
	// Sent at once, never batched: they must show while requests fail.
	configErrors proxywasm.MetricCounter
	panics       proxywasm.MetricCounter

	// perRequest are the counters the request path increments.
	perRequest []*counter
	// batched: increments wait in the VM for flush (on the plugin's tick),
	// when metrics_flush_interval_ms is not 0.
	batched bool

	// panicLogged: the plugin's first recovered panic has been logged; later
	// ones are only counted (see recovered).
	panicLogged bool
}

type counterSet [sticky.NumEvents]*counter

// counter is one of Envoy's counters the request path increments, with the
// increments not sent yet. Batching them saves a host call, a round trip out
// of the VM, on every request.
type counter struct {
	metric  proxywasm.MetricCounter
	pending uint64
}

// eventNames: wasmcustom.vcap_sticky.<name> globally,
// wasmcustom.vcap_sticky.route.<route name>.<name> per route.
var eventNames = [sticky.NumEvents]string{
	sticky.StickyHit:           "sticky_hits",
	sticky.UnknownID:           "unknown_ids",
	sticky.Fallback:            "fallbacks",
	sticky.CookieSet:           "cookies_set",
	sticky.CookieRefreshed:     "cookies_refreshed",
	sticky.TokenRenewed:        "tokens_renewed",
	sticky.TokenMalformed:      "tokens_rejected_malformed",
	sticky.TokenUnauthentic:    "tokens_rejected_unauthentic",
	sticky.TokenExpired:        "tokens_rejected_expired",
	sticky.TokenOtherRoute:     "tokens_rejected_other_route",
	sticky.AppInstanceRouted:   "app_instance_routed",
	sticky.AppInstanceRejected: "app_instance_rejected",
	sticky.StrictRejection:     "strict_rejections",
}

// sealedOnly: the events that exist only in sealed mode.
func sealedOnly(ev sticky.Event) bool {
	return ev >= sticky.TokenRenewed && ev <= sticky.TokenOtherRoute
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
	for ev := range sticky.NumEvents {
		if !sealedOnly(ev) {
			m.events[ev] = m.perRequestCounter(metricPrefix + eventNames[ev])
		}
	}
	return m
}

// perRequestCounter defines a counter the request path increments.
func (m *metrics) perRequestCounter(name string) *counter {
	c := &counter{metric: proxywasm.DefineCounterMetric(name)}
	m.perRequest = append(m.perRequest, c)
	return c
}

// defineConfigMetrics defines, at plugin start, the counters a configuration
// needs beyond the default ones: the sealed mode's, and every route's with
// route_metrics, and batches the request path's counters if the
// configuration says so. Nothing is defined on the request path.
func (m *metrics) defineConfigMetrics(cfg *config.Config) {
	if cfg.Sealed != nil {
		for ev := range sticky.NumEvents {
			if sealedOnly(ev) {
				m.events[ev] = m.perRequestCounter(metricPrefix + eventNames[ev])
			}
		}
	}
	if cfg.RouteMetrics {
		m.routes = make([]*counterSet, len(cfg.Routes.All()))
		for _, r := range cfg.Routes.All() {
			rc := &counterSet{}
			for ev := range sticky.NumRouteEvents {
				if !sealedOnly(ev) || cfg.Sealed != nil {
					rc[ev] = m.perRequestCounter(routeMetricPrefix + r.Name + "." + eventNames[ev])
				}
			}
			m.routes[r.Index] = rc
		}
	}
	m.batched = cfg.MetricsFlushInterval > 0
}

// count counts each event, globally and, for the first NumRouteEvents, for
// the request's route.
func (m *metrics) count(events sticky.Events, route *config.Route) {
	var rc *counterSet
	if route != nil && m.routes != nil {
		rc = m.routes[route.Index]
	}
	for events != 0 {
		ev := sticky.Event(bits.TrailingZeros16(uint16(events)))
		events &^= 1 << ev
		m.inc(m.events[ev])
		if rc != nil {
			m.inc(rc[ev])
		}
	}
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
		m.flushCounter(c)
	}
}

// flushCounter flushes c. A host call that fails panics in the SDK: that
// counter loses its batch, the panic is counted, and the flush goes on, so
// one broken counter never stops the others.
func (m *metrics) flushCounter(c *counter) {
	defer func() {
		if r := recover(); r != nil {
			m.recovered("OnTick", r)
		}
	}()
	c.flush()
}
