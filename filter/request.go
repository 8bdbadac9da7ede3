package filter

import (
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/sticky"
)

// OnHttpRequestHeaders reads the request into the core's view, lets it
// decide, and applies the decision: remove what must not go upstream, set
// the pin header, or send the local reply.
func (h *httpContext) OnHttpRequestHeaders(int, bool) (action types.Action) {
	defer h.failOpen(&action)
	// One host call for every header: each host call is a round trip
	// through the VM and an allocation callback, far more than a scan in Go.
	pairs, err := h.requestHeaders()
	if err != nil {
		// Nothing to read: still make sure no client-sent pin header survives.
		_ = proxywasm.RemoveHttpRequestHeader(h.cfg.PinHeader)
		return types.ActionContinue
	}
	h.req.Cookies = h.cookieBuf[:0]
	h.req.Read(pairs, h.cfg.PinHeader)
	h.clk = wallClock{}
	d := &h.decision
	*d = h.engine.Decide(&h.req, &h.clk)

	if d.RemovePinHeader {
		_ = proxywasm.RemoveHttpRequestHeader(h.cfg.PinHeader)
	}
	if d.RemoveAppInstance {
		_ = proxywasm.RemoveHttpRequestHeader(sticky.AppInstanceHeader)
	}
	if d.RemoveInstanceHeaders {
		for _, name := range instanceHeaders {
			_ = proxywasm.RemoveHttpRequestHeader(name)
		}
	}
	for _, hd := range d.SetHeaders() {
		_ = proxywasm.ReplaceHttpRequestHeader(hd.Name, hd.Value)
	}
	h.metrics.count(d.Events, d.Route)
	h.debug(d.Note)
	if r := d.Reply; r != nil {
		if err := proxywasm.SendHttpResponse(r.Status, r.Headers(), []byte(r.Body), -1); err != nil {
			proxywasm.LogErrorf("vcap-sticky: sending local %d: %v", r.Status, err)
			return types.ActionContinue
		}
		return types.ActionPause
	}
	return types.ActionContinue
}

// OnHttpResponseHeaders reads the response into the core's view and adds
// the Set-Cookie lines the core returns.
func (h *httpContext) OnHttpResponseHeaders(int, bool) (action types.Action) {
	defer h.failOpen(&action)
	statefulSession := h.cfg.PinMode == config.PinStatefulSession
	if h.decision.Route == nil && !statefulSession {
		return types.ActionContinue // nothing to do: not even a header read
	}
	pairs, err := h.responseHeaders()
	if err != nil {
		if statefulSession { // unknown: remove it to be safe
			_ = proxywasm.RemoveHttpResponseHeader(h.cfg.PinHeader)
		}
		return types.ActionContinue
	}
	h.resp.SetCookies = h.setCookieBuf[:0]
	h.resp.Read(pairs, h.cfg.PinHeader)
	h.clk = wallClock{}
	res := h.engine.Respond(&h.decision, &h.resp, h, &h.clk)
	if res.RemovePinHeader {
		// Envoy's stateful_session header extension answers with
		// base64(ip:port) of the host it used; never show clients addresses.
		_ = proxywasm.RemoveHttpResponseHeader(h.cfg.PinHeader)
	}
	for _, line := range res.SetCookies {
		if err := proxywasm.AddHttpResponseHeader("set-cookie", line); err != nil {
			proxywasm.LogErrorf("vcap-sticky: adding a Set-Cookie: %v", err)
		}
	}
	h.metrics.count(res.Events, h.decision.Route)
	h.debug(res.Note)
	return types.ActionContinue
}

// Address is Envoy's upstream.address, for the core (sticky.Upstream).
func (h *httpContext) Address() (string, bool) {
	return h.upstreamAddress()
}

// Metadata is the upstream host's metadata, for the core (sticky.Upstream).
func (h *httpContext) Metadata() ([]byte, bool) {
	md, err := proxywasm.GetProperty([]string{"xds", "upstream_host_metadata"})
	return md, err == nil
}

// wallClock is a callback's "now" for the core, read at most once and only
// if a rule asks: in Envoy, reading the clock is two WASI host calls (wall
// and monotonic clock), which a sticky hit need not pay.
type wallClock struct {
	t    time.Time
	read bool
}

func (c *wallClock) Now() time.Time {
	if !c.read {
		c.t, c.read = now(), true
	}
	return c.t
}

func (h *httpContext) debug(note string) {
	if h.cfg.LogDecisions && note != "" {
		proxywasm.LogDebug("vcap-sticky: " + note)
	}
}
