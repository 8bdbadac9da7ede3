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

// OnHttpRequestHeaders pins a sticky request to its instance, or leaves it
// to Envoy's load balancing.
func (h *httpContext) OnHttpRequestHeaders(int, bool) (action types.Action) {
	defer h.failOpen(&action)
	cfg := h.cfg
	// A client must never choose an upstream: drop its copy of our header
	// before anything else, on every request.
	_ = proxywasm.RemoveHttpRequestHeader(cfg.PinHeader)

	authority, _ := proxywasm.GetHttpRequestHeader(":authority")
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	h.route = cfg.Routes.Match(authority, path)

	// X-CF-App-Instance never goes upstream. gorouter acts on it only when
	// its value is non-empty (Envoy reports an empty one as present, "").
	if target, err := proxywasm.GetHttpRequestHeader(appInstanceHeader); err == nil {
		_ = proxywasm.RemoveHttpRequestHeader(appInstanceHeader)
		if target != "" {
			return h.routeToAppInstance(target, authority)
		}
	}
	if h.route == nil {
		return types.ActionContinue
	}

	cookieHeader, _ := proxywasm.GetHttpRequestHeader("cookie")
	rc := readRequestCookies(cfg, cookieHeader)
	negotiate := cfg.Negotiate && rc.vcapID != "" && isNegotiate(h.header("authorization"))
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
			h.metrics.strictRejections.Increment(1)
			h.debugf("unknown instance id, strict: 502")
			return h.reject(502, "endpoint_failure (No endpoints available)",
				"502 Bad Gateway: Registered endpoint failed to handle the request.\n")
		}
		h.debugf("unknown instance id %q: normal load balancing", rc.vcapID)
		return types.ActionContinue
	}
	h.pin(inst)
	h.count(cStickyHits)
	h.debugf("pinned to instance %s (%s)", inst.ID, inst.Address)
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
func (h *httpContext) routeToAppInstance(value, authority string) types.Action {
	guid, index, ok := parseAppInstance(value)
	if !ok {
		h.metrics.appInstanceRejected.Increment(1)
		return h.reject(400, "invalid_cf_app_instance_header",
			"400 Bad Request: Invalid X-CF-App-Instance Header")
	}
	var inst *config.Instance
	if h.route != nil {
		inst = h.route.ByAppInstance(value)
	}
	if inst == nil {
		h.metrics.appInstanceRejected.Increment(1)
		return h.reject(400, "unknown_route", "Requested instance ('"+index+"') with guid ('"+guid+
			"') does not exist for route ('"+hostForMessage(authority)+"')")
	}
	// A __VCAP_ID__ of another instance is now stale: the response re-issues
	// the cookie for the targeted instance.
	cookieHeader, _ := proxywasm.GetHttpRequestHeader("cookie")
	rc := readRequestCookies(h.cfg, cookieHeader)
	h.requestID, h.requestMeta = rc.vcapID, rc.meta
	if h.cfg.Sealed != nil && rc.vcapID != "" {
		h.openToken(rc.vcapID, false) // only to compare with the served instance
	}
	h.pin(inst)
	h.metrics.appInstanceRouted.Increment(1)
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

func (h *httpContext) header(name string) string {
	v, _ := proxywasm.GetHttpRequestHeader(name)
	return v
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
