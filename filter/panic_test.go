package filter

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/sticky"
)

// These tests force panics inside the filter's callbacks. The request and
// response panics need no seam in the production code: the SDK panics when
// the host refuses a metric update, so the tests give the plugin a counter id
// the host never defined. That panic comes after the callback has done its
// work: the pin header is written just before sticky_hits is incremented
// (and before app_instance_routed), the cookies just before cookies_set.

// capturingVM is the filter's VM context, keeping its plugin context so a
// test can reach the plugin's metrics.
type capturingVM struct {
	vmContext
	plugin *pluginContext
}

func (v *capturingVM) NewPluginContext(uint32) types.PluginContext {
	v.plugin = &pluginContext{}
	return v.plugin
}

// undefinedCounter is a metric id the host never handed out.
const undefinedCounter = proxywasm.MetricCounter(1 << 30)

// breakCounter makes c panic in the host emulator when it sends an
// increment, and m send increments at once: on the request path itself.
func breakCounter(m *metrics, c *counter) {
	c.metric = undefinedCounter
	m.batched = false
}

func newPanicHarness(t *testing.T, options string) (*harness, *pluginContext) {
	t.Helper()
	vm := &capturingVM{}
	return startHarness(t, vm, configWith(options)), vm.plugin
}

func TestPanicInRequestFailsOpen(t *testing.T) {
	stickyCookies := cookieHeader("JSESSIONID=s; __VCAP_ID__=b")
	for _, tc := range []struct {
		name    string
		options string
		break_  func(*metrics)
		headers [][2]string
	}{
		{"sticky request", `"instance_headers":true`, func(m *metrics) { breakCounter(m, m.events[sticky.StickyHit]) },
			[][2]string{stickyCookies}},
		{"stateful_session mode", `"pinning":{"mode":"stateful_session"}`, func(m *metrics) { breakCounter(m, m.events[sticky.StickyHit]) },
			[][2]string{stickyCookies}},
		{"X-CF-App-Instance", `"instance_headers":true`, func(m *metrics) { breakCounter(m, m.events[sticky.AppInstanceRouted]) },
			[][2]string{{"x-cf-app-instance", guid + ":2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, plugin := newPanicHarness(t, tc.options)
			tc.break_(plugin.metrics)
			for i := 1; i <= 3; i++ {
				e := h.request(appHost, "/", tc.headers...)
				assert.Equal(t, types.ActionContinue, e.action, "the request continues")
				assert.Nil(t, h.host.GetSentLocalResponse(e.id))
				for _, name := range []string{"x-vcap-sticky-upstream", "x-cf-instanceid", "x-cf-applicationid", "x-cf-instanceindex"} {
					v, left := e.requestHeader(name)
					assert.False(t, left, "a half-done decision left %s: %q", name, v)
				}
				// No stickiness on the response path either: no cookie refresh.
				assert.Empty(t, e.respond(addrC))
				assert.Equal(t, uint64(i), h.counter("panics"))
			}
			logs := h.host.GetErrorLogs()
			if assert.Len(t, logs, 1, "the first panic is logged, later ones only counted") {
				assert.Contains(t, logs[0], "recovered from a panic")
				assert.Contains(t, logs[0], "increment", "the panic's value")
			}

			// The VM lives on: other requests are served, with stickiness.
			got := h.request(appHost, "/").respond(addrA, setCookie("JSESSIONID=new"))
			assert.Equal(t, []string{"__VCAP_ID__=a; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly"}, got)
			assert.Equal(t, uint64(3), h.counter("panics"))
		})
	}
}

func TestPanicInResponseFailsOpen(t *testing.T) {
	h, plugin := newPanicHarness(t, `"pinning":{"mode":"stateful_session"}`)
	breakCounter(plugin.metrics, plugin.metrics.events[sticky.CookieSet])
	e := h.request(appHost, "/")
	e.h.host.SetProperty([]string{"upstream", "address"}, []byte(addrB))
	leaked := [2]string{"x-vcap-sticky-upstream", "MTI3LjAuMC4xOjgwODI="}
	action := h.host.CallOnResponseHeaders(e.id, [][2]string{{":status", "200"}, setCookie("JSESSIONID=s"), leaked}, true)
	assert.Equal(t, types.ActionContinue, action)
	assert.Equal(t, uint64(1), h.counter("panics"))
	assert.Len(t, h.host.GetErrorLogs(), 1)
	assert.NotContains(t, h.host.GetCurrentResponseHeaders(e.id), leaked, "the address never reaches the client")

	// Later exchanges still run the filter (and panic in the same place).
	sticky := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=b"))
	pin, _ := sticky.requestHeader("x-vcap-sticky-upstream")
	assert.NotEmpty(t, pin, "the request path is unaffected")
	sticky.respond(addrB, setCookie("JSESSIONID=s"))
	assert.Equal(t, uint64(2), h.counter("panics"))
	assert.Len(t, h.host.GetErrorLogs(), 1, "logged once")
}

// A batched counter that cannot be sent panics on the tick, not on the
// request path: the tick recovers, counts the panic, and later ticks still
// flush the other counters.
func TestPanicInTickIsRecovered(t *testing.T) {
	h, plugin := newPanicHarness(t, "")
	plugin.metrics.events[sticky.CookieSet].metric = undefinedCounter // batched (the default)
	got := h.request(appHost, "/").respond(addrA, setCookie("JSESSIONID=new"))
	assert.Len(t, got, 2, "the response path is unaffected")
	assert.Empty(t, h.host.GetErrorLogs(), "nothing sent yet")
	assert.Equal(t, uint64(1), h.counter("panics"), "the tick in counter() panicked and recovered")
	if logs := h.host.GetErrorLogs(); assert.Len(t, logs, 1) {
		assert.Contains(t, logs[0], "OnTick")
	}
	h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=b")).respond(addrB)
	assert.Equal(t, uint64(1), h.counter("sticky_hits"), "a later tick flushes")
}

func TestPanicInPluginStartFailsTheStart(t *testing.T) {
	parse := parseConfig
	parseConfig = func([]byte) (*config.Config, error) { panic("boom") }
	t.Cleanup(func() { parseConfig = parse })
	opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).
		WithPluginConfiguration([]byte("{" + routesJSON + "}"))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	assert.Equal(t, types.OnPluginStartStatusFailed, host.StartPlugin())
	logs := host.GetErrorLogs()
	if assert.Len(t, logs, 1) {
		assert.True(t, strings.Contains(logs[0], "OnPluginStart") && strings.Contains(logs[0], "boom"), logs[0])
	}
	n, err := host.GetCounterMetric(metricPrefix + "panics")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), n)

	// Envoy creates no HTTP context for a plugin that failed to start.
}

// A counter whose host call fails loses its own batch but does not stop the
// others: with the broken counter at each position of the flush order, every
// other counter's batch reaches Envoy on the tick, and the panic is counted.
func TestBrokenCounterDoesNotStopTheOthers(t *testing.T) {
	var n int
	t.Run("flush order", func(t *testing.T) { // one host emulator at a time
		_, plugin := newPanicHarness(t, "")
		n = len(plugin.metrics.perRequest)
	})
	require.Greater(t, n, 2)
	for pos := range n {
		t.Run(fmt.Sprint(pos), func(t *testing.T) {
			h, plugin := newPanicHarness(t, "")
			m := plugin.metrics
			names := map[*counter]string{}
			for ev, c := range m.events {
				if c != nil {
					names[c] = eventNames[ev]
				}
			}
			require.Len(t, names, n, "without route_metrics the flush order is the global counters")
			broken := m.perRequest[pos]
			broken.metric = undefinedCounter
			for _, c := range m.perRequest {
				c.pending = 2
			}
			h.host.Tick()
			for _, c := range m.perRequest {
				if c == broken {
					continue
				}
				v, err := h.host.GetCounterMetric(metricPrefix + names[c])
				require.NoError(t, err)
				assert.Equal(t, uint64(2), v, "%s, with %s broken", names[c], names[broken])
			}
			v, err := h.host.GetCounterMetric(metricPrefix + "panics")
			require.NoError(t, err)
			assert.Equal(t, uint64(1), v, "the broken counter's panic is counted")
		})
	}
}
