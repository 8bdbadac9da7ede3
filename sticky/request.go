package sticky

import (
	"strings"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
	"github.com/vcap-sticky/vcap-sticky/token"
)

// AppInstanceHeader is gorouter's X-CF-App-Instance, as Envoy names it.
const AppInstanceHeader = "x-cf-app-instance"

// Request is what the decision reads of a request's headers.
type Request struct {
	Authority, Path string
	// Cookies holds every Cookie header value, in order: an HTTP/1.1
	// client may send several, and gorouter reads them all.
	Cookies []string
	// Authorization is the first Authorization header.
	Authorization string
	// AppInstance is the first X-CF-App-Instance, without surrounding
	// blanks; HasAppInstance says whether the request has the header.
	AppInstance    string
	HasAppInstance bool
	// HasPinHeader: the client sent a copy of the filter's pin header.
	HasPinHeader bool
	// HasInstanceHeaders: the client sent X-CF-InstanceID,
	// X-CF-ApplicationID or X-CF-InstanceIndex.
	HasInstanceHeaders bool
}

// Read fills r from Envoy's request header pairs (names in lower case). For
// a repeated header the first value counts, except Cookie, of which all do.
// Cookie values are appended to r.Cookies[:0], so a reused Request reads
// without allocating.
func (r *Request) Read(pairs [][2]string, pinHeader string) {
	cookies := r.Cookies[:0]
	*r = Request{}
	var seenAuthority, seenPath, seenAuthorization bool
	for i := range pairs { // by index: copying a pair out takes a memory.copy in Wasm
		switch name, value := pairs[i][0], pairs[i][1]; name {
		case ":authority":
			if !seenAuthority {
				r.Authority, seenAuthority = value, true
			}
		case ":path":
			if !seenPath {
				r.Path, seenPath = value, true
			}
		case "cookie":
			cookies = append(cookies, value)
		case "authorization":
			if !seenAuthorization {
				r.Authorization, seenAuthorization = value, true
			}
		case AppInstanceHeader:
			if !r.HasAppInstance {
				r.AppInstance, r.HasAppInstance = strings.Trim(value, " \t"), true
			}
		case pinHeader:
			r.HasPinHeader = true
		case InstanceIDHeader, ApplicationIDHeader, InstanceIndexHeader:
			r.HasInstanceHeaders = true
		}
	}
	r.Cookies = cookies
}

// Decision is what the request step decided, and what the response step
// needs of the request.
type Decision struct {
	// Route is the request's route; nil: the filter does not serve this
	// host and path and leaves the request alone.
	Route *config.Route
	// Pin is the instance to pin to; nil: Envoy balances as usual.
	Pin *config.Instance
	// Reply, if not nil, is a local reply to send instead of routing.
	Reply *Reply
	// RemovePinHeader: drop the client's copy of the pin header (Pin, if
	// set, replaces it anyway). RemoveAppInstance: X-CF-App-Instance never
	// goes upstream.
	RemovePinHeader, RemoveAppInstance bool
	// RemoveInstanceHeaders: drop the client's copies of X-CF-InstanceID,
	// X-CF-ApplicationID and X-CF-InstanceIndex (instance_headers): only
	// the filter names the instance, as gorouter does.
	RemoveInstanceHeaders bool
	// Headers are the request headers to set for Envoy and the app: the pin
	// header first, then gorouter's X-CF-Instance* headers if configured.
	Headers  [4]Header
	NHeaders int
	// Events are what to count; Note says why, for the debug log.
	Events Events
	Note   string

	// What the response step compares the served instance with.
	requestID   string        // the request's __VCAP_ID__, "" if it carried none that counts
	requestMeta string        // its __VCAP_ID_META__
	hasMeta     bool          // it had one
	opened      token.Payload // sealed: what its token carried
	hasOpened   bool
}

// Header is a request header to set.
type Header struct{ Name, Value string }

// SetHeaders returns the headers to set, pin header first.
func (d *Decision) SetHeaders() []Header { return d.Headers[:d.NHeaders] }

// requestCookies is what the decision needs from the Cookie headers: the
// first occurrence of each name wins, across every header, as in net/http.
type requestCookies struct {
	vcapID, meta               string
	hasID, hasMeta, hasSession bool
}

func readRequestCookies(cfg *config.Config, headers []string) requestCookies {
	var rc requestCookies
	// Names first: a value is read only for a name that counts, and a name
	// that counts is a token, so comparing it before net/http's checks
	// changes nothing of what it reads.
	for s := cookie.NewScanner(headers); s.Next(); {
		var value *string
		var has *bool
		switch name := s.Name(); {
		case name == config.VCAPCookie:
			value, has = &rc.vcapID, &rc.hasID
		case name == config.MetaCookie:
			value, has = &rc.meta, &rc.hasMeta
		case cfg.SessionCookie(name):
			value, has = nil, &rc.hasSession
		default:
			continue
		}
		if *has {
			continue // the first occurrence wins
		}
		v, ok := s.Value()
		if !ok {
			continue // net/http skips it: a later one may count
		}
		if value != nil {
			*value = v
		}
		*has = true
		if rc.hasID && rc.hasMeta && rc.hasSession {
			break
		}
	}
	return rc
}

// Decide is the request step: gorouter's lookup (X-CF-App-Instance) and its
// choice of a sticky endpoint (a session cookie with __VCAP_ID__, or
// Negotiate with __VCAP_ID__).
func (e *Engine) Decide(req *Request, clk Clock) Decision {
	cfg := e.cfg
	// A client never chooses an upstream: its copy of the pin header goes,
	// whatever the host (Envoy's pinning mechanism trusts that header).
	d := Decision{RemovePinHeader: req.HasPinHeader}
	d.Route = cfg.Routes.Match(req.Authority, req.Path)
	if d.Route == nil {
		d.Note = "no route for this host and path: untouched"
		return d
	}
	d.RemoveInstanceHeaders = cfg.InstanceHeaders && req.HasInstanceHeaders
	// gorouter's sticky session: __VCAP_ID__ with a session cookie, or with
	// Negotiate (SPNEGO) credentials, which must stay sticky: gorouter
	// answers 502 rather than balance them. An empty __VCAP_ID__ is none.
	rc := readRequestCookies(cfg, req.Cookies)
	mustBeSticky := cfg.Negotiate && rc.vcapID != "" && IsNegotiate(req.Authorization)
	if rc.vcapID != "" && (rc.hasSession || mustBeSticky) {
		d.requestID, d.requestMeta, d.hasMeta = rc.vcapID, rc.meta, rc.hasMeta
	}
	// gorouter acts on X-CF-App-Instance only when its value is not empty;
	// the header never goes upstream.
	if req.HasAppInstance {
		d.RemoveAppInstance = true
		if req.AppInstance != "" {
			e.appInstance(&d, req, clk)
			return d
		}
	}
	if d.requestID == "" {
		d.Note = "no sticky cookies: normal load balancing"
		return d
	}
	inst, ok := e.resolve(&d, d.requestID, clk)
	if !ok {
		d.Note = "__VCAP_ID__ token rejected: normal load balancing"
		return d
	}
	if inst == nil {
		d.Events.add(UnknownID)
		if cfg.Strict || mustBeSticky {
			d.Events.add(StrictRejection)
			d.Note = "unknown instance id, must be sticky: 502"
			d.reject(&endpointFailure)
			return d
		}
		d.Note = "unknown instance id: normal load balancing"
		return d
	}
	d.pin(cfg, inst)
	d.Events.add(StickyHit)
	d.Note = "pinned to the instance its cookie names"
	return d
}

// appInstance routes X-CF-App-Instance: <app guid>:<index> to that instance
// of the route, or answers 400 as gorouter does.
func (e *Engine) appInstance(d *Decision, req *Request, clk Clock) {
	guid, index, ok := ParseAppInstance(req.AppInstance)
	if !ok {
		d.Events.add(AppInstanceRejected)
		d.Note = "invalid X-CF-App-Instance: 400"
		d.reject(&invalidAppInstance)
		return
	}
	inst := d.Route.ByAppInstance(req.AppInstance)
	if inst == nil {
		d.Events.add(AppInstanceRejected)
		d.Note = "X-CF-App-Instance names no instance of the route: 400"
		d.reject(unknownInstance(guid, index, req.Authority))
		return
	}
	// A sticky __VCAP_ID__ of another instance is stale now: the response
	// re-issues it for the targeted instance.
	if d.requestID != "" && e.cfg.Sealed != nil {
		e.open(d, d.requestID, clk, false) // only to compare with the served instance
	}
	d.pin(e.cfg, inst)
	d.Events.add(AppInstanceRouted)
	d.Note = "routed by X-CF-App-Instance"
}

// pin sets the headers that take the request to inst.
func (d *Decision) pin(cfg *config.Config, inst *config.Instance) {
	d.Pin = inst
	d.Headers[0] = Header{cfg.PinHeader, inst.PinValue}
	d.NHeaders = 1
	if !cfg.InstanceHeaders {
		return
	}
	d.add(InstanceIDHeader, inst.ID)
	if inst.AppGUID != "" {
		d.add(ApplicationIDHeader, inst.AppGUID)
	}
	if inst.IndexText != "" {
		d.add(InstanceIndexHeader, inst.IndexText)
	}
}

func (d *Decision) add(name, value string) {
	d.Headers[d.NHeaders] = Header{name, value}
	d.NHeaders++
}

// gorouter's headers naming the instance a request goes to.
const (
	InstanceIDHeader    = "x-cf-instanceid"
	ApplicationIDHeader = "x-cf-applicationid"
	InstanceIndexHeader = "x-cf-instanceindex"
)

// IsNegotiate reports whether an Authorization or WWW-Authenticate value is
// of the Negotiate (SPNEGO) scheme: the scheme name, any case, followed by
// a space or the end.
func IsNegotiate(v string) bool {
	const scheme = "negotiate"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return false
	}
	return len(v) == len(scheme) || v[len(scheme)] == ' '
}
