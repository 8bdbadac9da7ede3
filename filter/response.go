package filter

import (
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
)

// negotiateMaxAge is the lifetime gorouter gives a Negotiate __VCAP_ID__.
const negotiateMaxAge = 60

// responseCookies is what the filter needs from the app's Set-Cookie headers.
type responseCookies struct {
	sessions  []cookie.SetCookie // session cookies the app sets, in order
	appSetsID bool               // the app sets __VCAP_ID__ itself
}

func readResponseCookies(cfg *config.Config, lines []string) responseCookies {
	var rc responseCookies
	for _, line := range lines {
		sc, ok := cookie.ParseSetCookie(line)
		switch {
		case !ok:
		case sc.Name == config.VCAPCookie:
			rc.appSetsID = true
		case cfg.SessionCookie(sc.Name):
			rc.sessions = append(rc.sessions, sc)
		}
	}
	return rc
}

// OnHttpResponseHeaders adds __VCAP_ID__ for the instance that served the
// request, when a session starts or a sticky request was served elsewhere.
func (h *httpContext) OnHttpResponseHeaders(int, bool) (action types.Action) {
	defer h.failOpen(&action)
	statefulSession := h.cfg.PinMode == config.PinStatefulSession
	if h.route == nil && !statefulSession {
		return types.ActionContinue
	}
	rh := readResponseHeaders(h.cfg.PinHeader)
	if statefulSession && rh.hasPinHeader {
		// Envoy's stateful_session header extension answers with
		// base64(ip:port) of the host it used; never show clients addresses.
		_ = proxywasm.RemoveHttpResponseHeader(h.cfg.PinHeader)
	}
	if h.route == nil {
		return types.ActionContinue
	}
	rc := readResponseCookies(h.cfg, rh.setCookies)
	negotiate := h.cfg.Negotiate && isNegotiate(rh.wwwAuthenticate)
	if rc.appSetsID || (len(rc.sessions) == 0 && !negotiate && h.requestID == "") {
		return types.ActionContinue
	}
	served := h.servedInstance()
	if served == nil {
		h.debugf("served by an address outside the route's instances: no cookie")
		return types.ActionContinue
	}
	stale := h.requestID != "" && !h.sameInstance(served)
	if stale {
		h.count(cFallbacks)
	}
	var clk clock
	// Sealed mode: a token past half its lifetime is renewed.
	renew := !stale && h.opened != nil && h.renewDue(clk.now())
	if !negotiate && len(rc.sessions) == 0 && !stale && !renew {
		return types.ActionContinue
	}
	value, ok := h.idValue(served, &clk)
	if !ok {
		return types.ActionContinue
	}
	switch {
	case negotiate:
		h.addCookie(cookie.SetCookie{
			Name: config.VCAPCookie, Value: value, Path: h.route.Path,
			MaxAge: negotiateMaxAge, HttpOnly: true, Secure: h.cfg.SecureCookies,
			SameSite: cookie.SameSiteStrict,
		})
		h.count(cCookiesSet)
	case len(rc.sessions) > 0:
		// One __VCAP_ID__ (and META) per session cookie, each mirroring its
		// attributes, so deleting the session deletes __VCAP_ID__.
		for i := range rc.sessions {
			sc := &rc.sessions[i]
			id := h.vcapCookieValue(value, sc.Secure, sc.Partitioned, sc.SameSite, sc.Expires, sc.MaxAge)
			h.addCookie(id)
			meta := id
			meta.Name, meta.Value = config.MetaCookie, metaFromSessionCookie(sc, &clk).encode()
			h.addCookie(meta)
		}
		h.count(cCookiesSet)
	case stale:
		h.addCookie(h.refreshedCookie(value, &clk))
		h.count(cCookiesRefreshed)
	case renew:
		h.addCookie(h.refreshedCookie(value, &clk))
		h.count(cTokensRenewed)
	}
	return types.ActionContinue
}

// clock is a callback's "now", read at most once and only if a cookie needs
// it: in Envoy, reading the clock is two WASI host calls (wall and monotonic
// clock), which a sticky hit or a session cookie without a lifetime need not
// pay.
type clock struct {
	t    time.Time
	read bool
}

func (c *clock) now() time.Time {
	if !c.read {
		c.t, c.read = now(), true
	}
	return c.t
}

// refreshedCookie re-issues __VCAP_ID__ after a fallback, restoring the
// attributes recorded in the request's __VCAP_ID_META__.
func (h *httpContext) refreshedCookie(value string, clk *clock) cookie.SetCookie {
	m, ok := decodeMeta(h.requestMeta)
	if !ok {
		h.debugf("unreadable %s %q: refreshing with default attributes", config.MetaCookie, h.requestMeta)
		m = metaAttrs{}
	}
	return h.vcapCookieValue(value, m.secure, m.partitioned, m.sameSite, m.expires, m.maxAge(clk))
}

// vcapCookieValue is the __VCAP_ID__ cookie with value (the instance id, or
// a sealed token) and the given attributes.
func (h *httpContext) vcapCookieValue(value string, secure, partitioned bool,
	sameSite cookie.SameSite, expires time.Time, maxAge int) cookie.SetCookie {
	return cookie.SetCookie{
		Name: config.VCAPCookie, Value: value, Path: h.route.Path,
		HttpOnly: true, Secure: secure || h.cfg.SecureCookies, Partitioned: partitioned,
		SameSite: sameSite, Expires: expires, MaxAge: maxAge,
	}
}

func (h *httpContext) addCookie(c cookie.SetCookie) {
	// Config validation and META decoding keep every part buildable; should
	// one still not be, send nothing rather than an empty Set-Cookie.
	line := c.String()
	if line == "" {
		proxywasm.LogErrorf("vcap-sticky: not adding %s: %v", c.Name, c.Valid())
		return
	}
	if err := proxywasm.AddHttpResponseHeader("set-cookie", line); err != nil {
		proxywasm.LogErrorf("vcap-sticky: adding %s: %v", c.Name, err)
	}
}

// servedInstance maps Envoy's upstream.address back to the route's instance.
func (h *httpContext) servedInstance() *config.Instance {
	addr, err := proxywasm.GetProperty([]string{"upstream", "address"})
	if err != nil {
		return nil // a local reply, or no upstream was reached
	}
	if h.route.Dynamic {
		return h.dynamicServed(string(addr))
	}
	return h.route.ByAddress(string(addr))
}

// responseHeaders is what the filter needs of the response headers, taken
// from one host call, as on the request path.
type responseHeaders struct {
	setCookies      []string // every Set-Cookie line, in order
	wwwAuthenticate string   // the first WWW-Authenticate
	hasPinHeader    bool
}

func readResponseHeaders(pinHeader string) responseHeaders {
	var rh responseHeaders
	pairs, err := proxywasm.GetHttpResponseHeaders()
	if err != nil {
		rh.hasPinHeader = true // unknown: remove it to be safe
		return rh
	}
	var seenWWWAuthenticate bool
	for _, kv := range pairs {
		switch name, value := kv[0], kv[1]; name { // Envoy's names are lower case
		case "set-cookie":
			rh.setCookies = append(rh.setCookies, value)
		case "www-authenticate":
			if !seenWWWAuthenticate {
				rh.wwwAuthenticate, seenWWWAuthenticate = value, true
			}
		case pinHeader:
			rh.hasPinHeader = true
		}
	}
	return rh
}
