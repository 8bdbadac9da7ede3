package sticky

import (
	"unsafe"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
)

// NegotiateMaxAge is the lifetime gorouter gives a Negotiate __VCAP_ID__.
const NegotiateMaxAge = 60

// Response is what the response step reads of the response's headers.
type Response struct {
	// SetCookies holds every Set-Cookie line, in order.
	SetCookies []string
	// WWWAuthenticate is the first WWW-Authenticate.
	WWWAuthenticate string
	// HasPinHeader: the response carries the pin header (Envoy's
	// stateful_session header extension answers with the host it used).
	HasPinHeader bool

	// built is where Respond builds, kept across Reads: a reused Response
	// makes a new session's cookies without allocating.
	built builtCookies
}

// builtCookies holds the response step's work: the app's session cookies,
// and the Set-Cookie lines built, which alias one buffer.
type builtCookies struct {
	sessions []cookie.SetCookie
	lines    []string
	buf      []byte
}

// add builds c as a line. Config validation and META decoding keep every
// part buildable; should one still not be, it adds nothing rather than an
// empty Set-Cookie.
func (b *builtCookies) add(c cookie.SetCookie) {
	start := len(b.buf)
	if b.buf = c.AppendTo(b.buf); len(b.buf) > start {
		// Appending never changes bytes already there (growing copies
		// them), so the line stays as built until the buffer is reset.
		b.lines = append(b.lines, unsafe.String(&b.buf[start], len(b.buf)-start))
	}
}

// meta builds a META value, as add builds a line.
func (b *builtCookies) meta(m metaAttrs) string {
	start := len(b.buf)
	if b.buf = m.appendEncode(b.buf); len(b.buf) == start {
		return ""
	}
	return unsafe.String(&b.buf[start], len(b.buf)-start)
}

// Read fills r from Envoy's response header pairs (names in lower case).
// Set-Cookie lines are appended to r.SetCookies[:0].
func (r *Response) Read(pairs [][2]string, pinHeader string) {
	lines := r.SetCookies[:0]
	*r = Response{built: r.built}
	var seenWWWAuthenticate bool
	for i := range pairs { // by index: copying a pair out takes a memory.copy in Wasm
		switch name, value := pairs[i][0], pairs[i][1]; name {
		case "set-cookie":
			lines = append(lines, value)
		case "www-authenticate":
			if !seenWWWAuthenticate {
				r.WWWAuthenticate, seenWWWAuthenticate = value, true
			}
		case pinHeader:
			r.HasPinHeader = true
		}
	}
	r.SetCookies = lines
}

// Result is what the response step decided.
type Result struct {
	// RemovePinHeader: drop the pin header from the response, so that no
	// client sees an instance's address.
	RemovePinHeader bool
	// SetCookies are the Set-Cookie lines to add, in order. They alias the
	// Response's buffer: valid until the next Respond with that Response.
	SetCookies []string
	// Events are what to count; Note says why, for the debug log.
	Events Events
	Note   string
}

// responseCookies is what the response step needs from the app's
// Set-Cookie lines.
type responseCookies struct {
	sessions  []cookie.SetCookie // session cookies the app sets, in order
	appSetsID bool               // the app sets __VCAP_ID__ itself
}

func readResponseCookies(cfg *config.Config, lines []string, sessions []cookie.SetCookie) responseCookies {
	rc := responseCookies{sessions: sessions[:0]}
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

// Respond is the response step, gorouter's setupStickySession: __VCAP_ID__
// for the instance that served the request when a session starts, when a
// Negotiate handshake starts, when a sticky request was served by another
// instance, or (sealed mode) when its token is due for renewal. The lines
// it returns are built in resp, which keeps its buffers for the next.
func (e *Engine) Respond(d *Decision, resp *Response, up Upstream, clk Clock) Result {
	b := &resp.built
	b.lines, b.buf = b.lines[:0], b.buf[:0]
	res := e.respond(d, resp, b, up, clk)
	res.SetCookies = b.lines
	return res
}

func (e *Engine) respond(d *Decision, resp *Response, b *builtCookies, up Upstream, clk Clock) Result {
	cfg := e.cfg
	res := Result{RemovePinHeader: cfg.PinMode == config.PinStatefulSession && resp.HasPinHeader}
	if d.Route == nil || d.Reply != nil {
		return res // not the filter's, or its own local reply
	}
	rc := readResponseCookies(cfg, resp.SetCookies, b.sessions)
	b.sessions = rc.sessions
	negotiate := cfg.Negotiate && IsNegotiate(resp.WWWAuthenticate)
	if rc.appSetsID {
		res.Note = "the app sets __VCAP_ID__ itself: no cookie"
		return res
	}
	if len(rc.sessions) == 0 && !negotiate && d.requestID == "" {
		return res
	}
	served := e.served(d.Route, up)
	if served == nil {
		res.Note = "served by a host that is no instance of the route: no cookie"
		return res
	}
	stale := d.requestID != "" && !e.sameInstance(d, served)
	if stale {
		res.Events.add(Fallback)
	}
	// gorouter: a Negotiate handshake gets its short cookie unless it was
	// sticky to the instance that answers (each 401 round trip would restart
	// its 60 s); then a session cookie the app sets counts as usual.
	negotiate = negotiate && (d.requestID == "" || stale)
	renew := !stale && e.renewDue(d, clk)
	if !negotiate && len(rc.sessions) == 0 && !stale && !renew {
		return res
	}
	value, ok := e.issue(d.Route, served, clk)
	if !ok {
		res.Note = "no token could be sealed: no cookie"
		return res
	}
	path, secure := d.Route.Path, cfg.SecureCookies
	switch {
	case negotiate:
		b.add(cookie.SetCookie{Name: config.VCAPCookie, Value: value, Path: path,
			MaxAge: NegotiateMaxAge, HttpOnly: true, Secure: secure, SameSite: cookie.SameSiteStrict})
		res.Events.add(CookieSet)
	case len(rc.sessions) > 0:
		// One __VCAP_ID__ and META per session cookie, each mirroring its
		// attributes, so that deleting the session deletes __VCAP_ID__.
		for i := range rc.sessions {
			sc := &rc.sessions[i]
			m := metaFromSessionCookie(sc, secure, clk)
			id := m.cookie(config.VCAPCookie, value, path, sc.MaxAge) // as the app wrote it
			b.add(id)
			id.Name, id.Value = config.MetaCookie, b.meta(m)
			b.add(id)
		}
		res.Events.add(CookieSet)
	default: // stale or renew: the attributes the request's META recorded
		m, ok, complete := decodeMetaFields(d.requestMeta)
		switch {
		case !d.hasMeta:
			res.Note = "no __VCAP_ID_META__: refreshed with default attributes"
		case !ok:
			res.Note = "unreadable __VCAP_ID_META__: refreshed with default attributes"
		case !complete:
			res.Note = "__VCAP_ID_META__ has unreadable attributes: refreshed without them"
		}
		m.secure = m.secure || secure
		b.add(m.cookie(config.VCAPCookie, value, path, m.maxAge(clk)))
		if stale {
			res.Events.add(CookieRefreshed)
		} else {
			res.Events.add(TokenRenewed)
		}
	}
	return res
}
