package filter

import (
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
)

const appInstanceHeader = "x-cf-app-instance"

// requestCookies is what the filter needs from the Cookie header: first
// occurrence of each name wins, as in net/http.
type requestCookies struct {
	vcapID     string
	meta       string
	hasSession bool
}

func readRequestCookies(cfg *config.Config, header string) requestCookies {
	var rc requestCookies
	var seenID, seenMeta bool
	cookie.Each(header, func(name, value string) bool {
		switch {
		case name == config.VCAPCookie:
			if !seenID {
				rc.vcapID, seenID = value, true
			}
		case name == config.MetaCookie:
			if !seenMeta {
				rc.meta, seenMeta = value, true
			}
		case !rc.hasSession && cfg.SessionCookie(name):
			rc.hasSession = true
		}
		return true
	})
	return rc
}

// requestHeaders is what the filter needs of the request headers, taken from
// one host call: every host call costs a round trip through the VM (and a
// callback to allocate its result), far more than scanning the pairs in Go.
// For a repeated header the first value counts, as a single-header read
// would give it.
type requestHeaders struct {
	authority, path, cookie, authorization string
	appInstance                            string
	hasAppInstance, hasPinHeader           bool
}

func readRequestHeaders(pinHeader string) requestHeaders {
	var rh requestHeaders
	pairs, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		// Nothing to read: still make sure no client-sent pin header survives.
		rh.hasPinHeader = true
		return rh
	}
	var seenAuthority, seenPath, seenCookie, seenAuthorization bool
	for _, kv := range pairs {
		switch name, value := kv[0], kv[1]; name { // Envoy's names are lower case
		case ":authority":
			if !seenAuthority {
				rh.authority, seenAuthority = value, true
			}
		case ":path":
			if !seenPath {
				rh.path, seenPath = value, true
			}
		case "cookie":
			if !seenCookie {
				rh.cookie, seenCookie = value, true
			}
		case "authorization":
			if !seenAuthorization {
				rh.authorization, seenAuthorization = value, true
			}
		case appInstanceHeader:
			if !rh.hasAppInstance {
				rh.appInstance, rh.hasAppInstance = strings.Trim(value, " \t"), true
			}
		case pinHeader:
			rh.hasPinHeader = true
		}
	}
	return rh
}

// OnHttpRequestHeaders pins a sticky request to its instance, or leaves it
// to Envoy's load balancing.
func (h *httpContext) OnHttpRequestHeaders(int, bool) (action types.Action) {
	defer h.failOpen(&action)
	cfg := h.cfg
	rh := readRequestHeaders(cfg.PinHeader)
	// A client must never choose an upstream: drop its copy of our header
	// before anything else.
	if rh.hasPinHeader {
		_ = proxywasm.RemoveHttpRequestHeader(cfg.PinHeader)
	}
	h.route = cfg.Routes.Match(rh.authority, rh.path)

	// X-CF-App-Instance never goes upstream. gorouter acts on it only when
	// its value is non-empty.
	if rh.hasAppInstance {
		_ = proxywasm.RemoveHttpRequestHeader(appInstanceHeader)
		if rh.appInstance != "" {
			return h.routeToAppInstance(rh.appInstance, rh.authority, rh.cookie)
		}
	}
	if h.route == nil {
		return types.ActionContinue
	}

	rc := readRequestCookies(cfg, rh.cookie)
	negotiate := cfg.Negotiate && rc.vcapID != "" && isNegotiate(rh.authorization)
	if rc.vcapID == "" || !(rc.hasSession || negotiate) {
		return types.ActionContinue // __VCAP_ID__ alone does nothing
	}
	h.requestID, h.requestMeta = rc.vcapID, rc.meta

	var inst *config.Instance
	if cfg.Sealed != nil {
		// A rejected token is an unknown id, never a local reply.
		var ok bool
		if inst, ok = h.openToken(rc.vcapID, true); !ok {
			return types.ActionContinue
		}
	} else {
		inst = h.route.ByID(rc.vcapID)
	}
	if inst == nil {
		h.count(cUnknownIDs)
		if cfg.Strict || negotiate {
			h.metrics.inc(h.metrics.strictRejections)
			h.debugf("unknown instance id, strict: 502")
			return h.reject(502, "endpoint_failure (No endpoints available)",
				"502 Bad Gateway: Registered endpoint failed to handle the request.\n")
		}
		if cfg.LogDecisions { // the arguments would be boxed even with logging off
			h.debugf("unknown instance id %q: normal load balancing", rc.vcapID)
		}
		return types.ActionContinue
	}
	h.pin(inst)
	h.count(cStickyHits)
	if cfg.LogDecisions {
		h.debugf("pinned to instance %s (%s)", inst.ID, inst.Address)
	}
	return types.ActionContinue
}

// pin writes the instance to the header Envoy's pinning mechanism reads.
func (h *httpContext) pin(inst *config.Instance) {
	_ = proxywasm.ReplaceHttpRequestHeader(h.cfg.PinHeader, inst.PinValue)
	if h.cfg.InstanceHeaders {
		_ = proxywasm.ReplaceHttpRequestHeader("x-cf-instanceid", inst.Address)
		if inst.AppGUID != "" {
			_ = proxywasm.ReplaceHttpRequestHeader("x-cf-applicationid", inst.AppGUID)
		}
		if inst.IndexText != "" {
			_ = proxywasm.ReplaceHttpRequestHeader("x-cf-instanceindex", inst.IndexText)
		}
	}
}

// routeToAppInstance handles X-CF-App-Instance: <app guid>:<index>.
func (h *httpContext) routeToAppInstance(value, authority, cookieHeader string) types.Action {
	guid, index, ok := parseAppInstance(value)
	if !ok {
		h.metrics.inc(h.metrics.appInstanceRejected)
		return h.reject(400, "invalid_cf_app_instance_header",
			"400 Bad Request: Invalid X-CF-App-Instance Header")
	}
	var inst *config.Instance
	if h.route != nil {
		inst = h.route.ByAppInstance(value)
	}
	if inst == nil {
		h.metrics.inc(h.metrics.appInstanceRejected)
		return h.reject(400, "unknown_route", "Requested instance ('"+index+"') with guid ('"+guid+
			"') does not exist for route ('"+hostForMessage(authority)+"')")
	}
	// A __VCAP_ID__ of another instance is now stale: the response re-issues
	// the cookie for the targeted instance.
	rc := readRequestCookies(h.cfg, cookieHeader)
	h.requestID, h.requestMeta = rc.vcapID, rc.meta
	if h.cfg.Sealed != nil && rc.vcapID != "" {
		h.openToken(rc.vcapID, false) // only to compare with the served instance
	}
	h.pin(inst)
	h.metrics.inc(h.metrics.appInstanceRouted)
	h.debugf("X-CF-App-Instance: routed to %s", inst.ID)
	return types.ActionContinue
}

// reject answers locally with gorouter's error headers.
func (h *httpContext) reject(status uint32, routerError, body string) types.Action {
	h.route = nil // nothing to do on the local reply's response path
	headers := [][2]string{
		{"x-cf-routererror", routerError},
		{"content-type", "text/plain; charset=utf-8"},
		{"x-content-type-options", "nosniff"},
		{"cache-control", "no-cache, no-store"},
	}
	if err := proxywasm.SendHttpResponse(status, headers, []byte(body), -1); err != nil {
		proxywasm.LogErrorf("vcap-sticky: sending local %d: %v", status, err)
		return types.ActionContinue
	}
	return types.ActionPause
}

// isNegotiate: an Authorization header of the SPNEGO scheme, any case.
func isNegotiate(auth string) bool {
	const scheme = "negotiate"
	return len(auth) >= len(scheme) && strings.EqualFold(auth[:len(scheme)], scheme)
}

// hostForMessage keeps the :authority echoed in an error body printable.
func hostForMessage(authority string) string {
	host := authority
	if len(host) > 256 {
		host = host[:256]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, host)
}

func (h *httpContext) debugf(format string, args ...any) {
	if h.cfg.LogDecisions {
		proxywasm.LogDebugf("vcap-sticky: "+format, args...)
	}
}
