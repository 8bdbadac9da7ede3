// Package sticky is the session-affinity decision and nothing else:
// gorouter's rules for JSESSIONID, __VCAP_ID__ and __VCAP_ID_META__ as pure
// functions of plain views of a request and its response. It makes no host
// call, imports nothing of the proxy-wasm SDK and never reads the clock: the
// time comes in through a Clock, asked only when a rule needs it.
//
// The filter package is the seam to Envoy, as Envoy's stateful_session filter
// is to its SessionState: it reads headers into a Request, calls Decide,
// applies the Decision (a pin header, a local reply, headers to remove),
// then reads the response into a Response and applies what Respond returns
// (Set-Cookie lines to add). The wire codecs live apart: package cookie for
// Cookie and Set-Cookie, package token for sealed __VCAP_ID__ values,
// package hostmeta for endpoint metadata.
package sticky

import (
	"time"

	"github.com/vcap-sticky/vcap-sticky/config"
)

// Clock is the current time. The adapter's clock costs host calls, so the
// core asks for it only when a rule needs it: a sealed token, a cookie
// lifetime.
type Clock interface{ Now() time.Time }

// Engine decides for one configuration. It holds the sealed mode's cache of
// opened tokens, so it belongs to one VM (one Envoy worker): no locking.
type Engine struct {
	cfg    *config.Config
	tokens *tokenCache // sealed mode only
}

// New returns the engine for a validated configuration.
func New(cfg *config.Config) *Engine {
	e := &Engine{cfg: cfg}
	if cfg.Sealed != nil {
		e.tokens = &tokenCache{}
	}
	return e
}

// Event is something the filter counts. The events below NumRouteEvents
// are counted per route too (route_metrics).
type Event uint8

const (
	StickyHit           Event = iota // pinned to the instance the cookie names
	UnknownID                        // __VCAP_ID__ names no instance of the route
	Fallback                         // a sticky request was served by another instance
	CookieSet                        // __VCAP_ID__ added for a new session
	CookieRefreshed                  // __VCAP_ID__ re-issued after a fallback
	TokenRenewed                     // sealed: a token past half its lifetime renewed
	TokenMalformed                   // sealed: rejected tokens, by reason
	TokenUnauthentic                 //
	TokenExpired                     //
	TokenOtherRoute                  //
	AppInstanceRouted                // X-CF-App-Instance routed
	AppInstanceRejected              // X-CF-App-Instance answered with 400
	StrictRejection                  // answered with 502 (strict, Negotiate)
	NumEvents
)

// NumRouteEvents: the events before it exist per route as well.
const NumRouteEvents = AppInstanceRouted

// Events is a set of events.
type Events uint16

// Has reports whether ev is in the set.
func (s Events) Has(ev Event) bool { return s&(1<<ev) != 0 }

func (s *Events) add(ev Event) { *s |= 1 << ev }
