package sticky

import (
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/hostmeta"
	"github.com/vcap-sticky/vcap-sticky/token"
)

// How __VCAP_ID__ names an instance. Plain: the instance id, as gorouter
// writes it, looked up in the route's map. Sealed (config "sealed"): a token
// (package token) carrying the instance id, its ip:port, the route and an
// expiry. A token that does not open, has expired or names another route is
// treated like an unknown id, counted by reason: normal load balancing and a
// re-issued cookie, never a local reply, not even with strict or Negotiate;
// those answer 502 only for a genuine token naming an instance the route's
// map no longer lists.

// resolve maps a request's __VCAP_ID__ to the instance to pin to. ok is
// false when a sealed token was rejected; inst is nil for an id (or a
// genuine token's id) the route does not know.
func (e *Engine) resolve(d *Decision, value string, clk Clock) (inst *config.Instance, ok bool) {
	if e.cfg.Sealed == nil {
		return d.Route.ByID(value), true
	}
	p, ok := e.open(d, value, clk, true)
	if !ok {
		return nil, false
	}
	if !d.Route.Dynamic {
		return d.Route.ByID(p.ID), true
	}
	// No map: the token is the whole truth about the instance.
	in := &config.Instance{ID: p.ID, Address: p.Address.String()}
	in.SetPinValue(e.cfg.PinMode, d.Route.InternalListener)
	return in, true
}

// open opens a sealed token for the request's route, counting a rejection
// if count.
func (e *Engine) open(d *Decision, tok string, clk Clock, count bool) (token.Payload, bool) {
	p, err := e.tokens.open(e.cfg.Sealed.Ring, tok, d.Route.Tag, clk.Now())
	if err != nil {
		if count {
			d.Events.add(rejection(err))
		}
		return token.Payload{}, false
	}
	d.opened, d.hasOpened = p, true
	return p, true
}

func rejection(err error) Event {
	switch {
	case errors.Is(err, token.ErrExpired):
		return TokenExpired
	case errors.Is(err, token.ErrOtherRoute):
		return TokenOtherRoute
	case errors.Is(err, token.ErrUnauthentic):
		return TokenUnauthentic
	}
	return TokenMalformed
}

// tokenCache remembers the tokens that opened, so that a session's later
// requests, which carry the same token, skip AES-GCM: in Wasm (no AES
// instructions) an Open costs tens of microseconds, a lookup well under one.
// Only authentic tokens get in, so a client cannot fill it with anything but
// tokens it was given; route and expiry are checked on every use. When full
// it is emptied, the simplest bound.
type tokenCache struct {
	m map[string]token.Payload
}

const tokenCacheSize = 4096

func (c *tokenCache) open(r *token.Ring, tok string, route token.RouteTag, t time.Time) (token.Payload, error) {
	p, hit := c.m[tok]
	if !hit {
		var err error
		if p, err = r.Open(tok, route, t); err != nil {
			return token.Payload{}, err
		}
		if len(c.m) >= tokenCacheSize || c.m == nil {
			c.m = make(map[string]token.Payload, 64)
		}
		c.m[strings.Clone(tok)] = p // not a slice of the whole Cookie header
		return p, nil
	}
	// As token.Open checks them.
	switch {
	case p.Route != route:
		return token.Payload{}, token.ErrOtherRoute
	case t.Unix() > p.Expires:
		return token.Payload{}, token.ErrExpired
	}
	return p, nil
}

// Upstream is what the response step may ask about the host that served
// the request. The adapter reads each from Envoy only when asked.
type Upstream interface {
	// Address is Envoy's upstream.address; false for a local reply or no
	// upstream reached.
	Address() (string, bool)
	// Metadata is the upstream host's metadata (xds.upstream_host_metadata,
	// a serialized envoy.config.core.v3.Metadata).
	Metadata() ([]byte, bool)
}

// served maps the host that served the request to the route's instance;
// nil if it is none of them.
func (e *Engine) served(route *config.Route, up Upstream) *config.Instance {
	addr, ok := up.Address()
	if !ok {
		return nil
	}
	if !route.Dynamic {
		return route.ByAddress(addr)
	}
	// A route without a map: any host of the route's cluster is an
	// instance. It is named by its metadata, if configured and there, else
	// by its address; the sealed token never shows either to the client.
	ap, err := netip.ParseAddrPort(config.EndpointAddress(addr))
	if err != nil {
		return nil
	}
	in := &config.Instance{Address: ap.String()}
	in.ID = e.metadataID(up)
	if in.ID == "" {
		in.ID = in.Address
	}
	return in
}

// metadataID is the instance id in the upstream host's metadata, or "" if
// endpoint_metadata is not configured or the host has no usable id.
func (e *Engine) metadataID(up Upstream) string {
	m := e.cfg.EndpointMetadata
	if m == nil {
		return ""
	}
	md, ok := up.Metadata()
	if !ok {
		return ""
	}
	id, ok := hostmeta.StringValue(md, m.Namespace, m.Key)
	if !ok || len(id) > token.MaxIDLength {
		return ""
	}
	return id
}

// issue is the __VCAP_ID__ value for the served instance: its id, or in
// sealed mode a fresh token. ok is false if no token could be sealed.
func (e *Engine) issue(route *config.Route, served *config.Instance, clk Clock) (string, bool) {
	s := e.cfg.Sealed
	if s == nil {
		return served.ID, true
	}
	addr, err := netip.ParseAddrPort(served.Address)
	if err != nil {
		return "", false
	}
	tok, err := s.Ring.Seal(token.Payload{ID: served.ID, Address: addr, Route: route.Tag,
		Expires: clk.Now().Add(s.TTL).Unix()})
	if err != nil {
		return "", false
	}
	return tok, true
}

// sameInstance reports whether a sticky request was served by the instance
// its cookie names.
func (e *Engine) sameInstance(d *Decision, served *config.Instance) bool {
	if e.cfg.Sealed == nil {
		return d.requestID == served.ID
	}
	return d.hasOpened && d.opened.ID == served.ID && d.opened.Address.String() == served.Address
}

// renewDue: in sealed mode, a token that served its own instance and has
// less than half its lifetime left is renewed in the response. The clock is
// read only for an opened token.
func (e *Engine) renewDue(d *Decision, clk Clock) bool {
	s := e.cfg.Sealed
	return s != nil && d.hasOpened && d.opened.Expires-clk.Now().Unix() < int64(s.TTL/time.Second)/2
}
