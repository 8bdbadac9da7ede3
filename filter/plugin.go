// Package filter is the proxy-wasm HTTP filter: gorouter-style session
// affinity (JSESSIONID + __VCAP_ID__) for Envoy.
package filter

import (
	"runtime"
	"time"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/sticky"
)

// now is the wall clock for cookie lifetimes; tests replace it.
var now = time.Now

// parseConfig parses the plugin configuration the host returned. The buffer
// is read once and never written (in Envoy, the one the host call
// allocated for this read; under proxytest, the test's), so the
// configuration keeps pointing into it instead of a copy: 100,000
// instances are 7 MB of JSON. It is a variable only so that a test can make
// plugin start panic (nothing in it is known to) and check that
// OnPluginStart recovers; nothing else assigns it.
var parseConfig = func(data []byte) (*config.Config, error) {
	return config.ParseString(unsafe.String(unsafe.SliceData(data), len(data)))
}

// NewVMContext is the filter's entry point for proxywasm.SetVMContext.
func NewVMContext() types.VMContext { return &vmContext{} }

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct {
	types.DefaultPluginContext
	cfg     *config.Config
	engine  *sticky.Engine
	metrics *metrics

	// free holds HTTP contexts Envoy has deleted, for the next streams: a
	// context and the buffers it reads headers into are allocated once, not
	// per request (HttpContextDeleted; only the Wasm binding calls it).
	free []*httpContext
}

// maxFree bounds the contexts kept for reuse: as many as were in flight at
// once, up to this.
const maxFree = 1024

// OnPluginStart parses the configuration once; an invalid one fails the
// plugin with one log line naming the field, and Envoy keeps any previous one.
func (p *pluginContext) OnPluginStart(int) (status types.OnPluginStartStatus) {
	defer func() {
		// A panic here would trap the VM: fail the start instead, like an
		// invalid configuration, and pass traffic through unfiltered.
		if r := recover(); r != nil {
			p.cfg = nil
			p.metrics.recovered("OnPluginStart", r)
			status = types.OnPluginStartStatusFailed
		}
	}()
	p.metrics = defineMetrics()
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("vcap-sticky: reading plugin configuration: %v", err)
		p.metrics.configErrors.Increment(1)
		return types.OnPluginStartStatusFailed
	}
	cfg, err := parseConfig(data)
	if err != nil {
		proxywasm.LogCriticalf("vcap-sticky: %v", err)
		p.metrics.configErrors.Increment(1)
		return types.OnPluginStartStatusFailed
	}
	p.cfg = cfg
	p.metrics.defineConfigMetrics(cfg)
	if ms := cfg.MetricsFlushInterval.Milliseconds(); ms > 0 {
		if err := proxywasm.SetTickPeriodMilliSeconds(uint32(ms)); err != nil {
			// Without a tick nothing would flush: count unbatched instead.
			proxywasm.LogWarnf("vcap-sticky: no tick for batched metrics (%v): counting each increment at once", err)
			p.metrics.unbatch()
		}
	}
	p.engine = sticky.New(cfg)
	// The parse allocated the configuration's tables, and may have started
	// a collection. In Wasm the runtime advances one only while the module
	// allocates, and the request path allocates nothing: a collection left
	// open would keep its write barriers (and some marking) on every
	// request for the VM's life. With 100,000 instances it did, and a
	// sticky hit cost three times one with a small configuration
	// (TestBigConfigLeavesNoCollectionOpen).
	runtime.GC()
	proxywasm.LogInfof("vcap-sticky: configured %d routes, pinning mode %s via header %s (build %s)",
		len(cfg.Routes.All()), cfg.PinMode, cfg.PinHeader, version)
	if s := cfg.Sealed; s != nil {
		// The keys' source only: never the keys.
		proxywasm.LogInfof("vcap-sticky: sealed tokens, keys from environment variable %s, lifetime %s",
			s.KeysEnv, s.TTL)
	}
	return types.OnPluginStartStatusOK
}

// OnTick hands the counters batched since the last tick to Envoy.
func (p *pluginContext) OnTick() {
	defer func() {
		if r := recover(); r != nil {
			p.metrics.recovered("OnTick", r)
		}
	}()
	if p.metrics != nil {
		p.metrics.flush()
	}
}

// OnPluginDone runs when Envoy retires the plugin: a configuration update
// (ECDS), a listener drain, shutdown. The plugin's tick stops with it, so it
// hands over what it batched, and its streams still in flight count each
// increment at once: nothing counted is lost with the plugin.
func (p *pluginContext) OnPluginDone() bool {
	defer func() {
		if r := recover(); r != nil {
			p.metrics.recovered("OnPluginDone", r)
		}
	}()
	if p.metrics != nil {
		p.metrics.unbatch()
	}
	return true
}

func (p *pluginContext) NewHttpContext(uint32) types.HttpContext {
	if p.cfg == nil {
		// Never configured (Envoy creates no stream for a plugin that failed
		// to start, but a nil context would panic inside the SDK and kill
		// the VM): pass the traffic through.
		return &types.DefaultHttpContext{}
	}
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		// A fresh context, but with the buffers it grew: the host's results
		// are read into bufs, the response's cookies built in resp (its
		// views are reset by the next Read).
		*h = httpContext{cfg: p.cfg, engine: p.engine, metrics: p.metrics, bufs: h.bufs, resp: h.resp}
		return h
	}
	return &httpContext{cfg: p.cfg, engine: p.engine, metrics: p.metrics}
}

// HttpContextDeleted is called by the Wasm binding (sdkabi) once Envoy has
// deleted a stream's context: Envoy never calls into it again, so it is
// kept for a later stream.
func (p *pluginContext) HttpContextDeleted(ctx types.HttpContext) {
	if h, ok := ctx.(*httpContext); ok && p.cfg == h.cfg && len(p.free) < maxFree {
		p.free = append(p.free, h)
	}
}

// httpContext carries one request's decision to its response. The views
// and their buffers live here so that reading headers does not allocate.
type httpContext struct {
	types.DefaultHttpContext
	cfg     *config.Config
	engine  *sticky.Engine
	metrics *metrics

	req          sticky.Request
	decision     sticky.Decision
	resp         sticky.Response
	clk          wallClock
	cookieBuf    [2]string // the usual one or two Cookie headers
	setCookieBuf [2]string // the usual one or two Set-Cookie lines
	bufs         hostBufs  // what the host's results are read into (host_*.go)
}

// instanceHeaders are gorouter's headers naming the instance.
var instanceHeaders = [...]string{sticky.InstanceIDHeader, sticky.ApplicationIDHeader, sticky.InstanceIndexHeader}

// failOpen turns a panic in a callback into "no stickiness for this
// request" instead of a trapped VM that fails every later request. Deferred
// by every HTTP callback the filter implements (request and response
// headers). A half-done decision must not route the request: whatever pinning
// headers the callback may already have written are removed.
func (h *httpContext) failOpen(action *types.Action) {
	r := recover()
	if r == nil {
		return
	}
	h.metrics.recovered("an HTTP headers callback", r)
	h.decision = sticky.Decision{}
	// Done whichever callback panicked: in the response callback the request
	// was routed already and these change nothing, in the request callback
	// there are no response headers yet.
	_ = proxywasm.RemoveHttpRequestHeader(h.cfg.PinHeader)
	if h.cfg.InstanceHeaders {
		for _, name := range instanceHeaders {
			_ = proxywasm.RemoveHttpRequestHeader(name)
		}
	}
	if h.cfg.PinMode == config.PinStatefulSession {
		_ = proxywasm.RemoveHttpResponseHeader(h.cfg.PinHeader) // never show a client an address
	}
	*action = types.ActionContinue
}
