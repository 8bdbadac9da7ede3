package filter

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/hostmeta"
	"github.com/vcap-sticky/vcap-sticky/token"
)

// Sealed mode (config "sealed"): __VCAP_ID__ is a token (package token)
// naming the instance, its ip:port, the route and an expiry. A token that
// does not open, has expired or names another route is treated like an
// unknown id: normal load balancing and a re-issued cookie, counted by
// reason. It never causes a local reply, not even with strict or negotiate:
// those answer 502 only for a genuine token naming an instance the route's
// map no longer lists.

// openToken opens the request's token for the request's route and returns
// the instance to pin to. ok is false when the token was rejected (counted);
// inst is nil for a genuine token whose id the route's map does not know.
func (h *httpContext) openToken(tok string, count bool) (inst *config.Instance, ok bool) {
	p, err := h.tokens.open(h.cfg.Sealed.Ring, tok, h.route.Tag, now())
	if err != nil {
		if count {
			h.count(rejectionCounter(err))
		}
		h.debugf("%s rejected (%v): normal load balancing", config.VCAPCookie, err)
		return nil, false
	}
	h.opened = &p
	if !h.route.Dynamic {
		return h.route.ByID(p.ID), true
	}
	// No map: the token is the whole truth about the instance.
	in := &config.Instance{ID: p.ID, Address: p.Address.String()}
	if h.cfg.PinMode == config.PinStatefulSession {
		in.PinValue = base64.StdEncoding.EncodeToString([]byte(in.Address))
	} else {
		in.PinValue = in.Address
	}
	return in, true
}

// tokenCache remembers the tokens that opened, so that a session's later
// requests, which carry the same token, skip AES-GCM: in Wasm (no AES
// instructions) an Open costs tens of microseconds, a lookup well under one.
// Only authentic tokens get in, so a client cannot fill it with anything but
// tokens it was given; route and expiry are checked on every use. One cache
// per plugin context, that is per VM and worker thread: no locking. When
// full it is emptied, the simplest bound.
type tokenCache struct {
	m map[string]token.Payload
}

const tokenCacheSize = 4096

func (c *tokenCache) open(r *token.Ring, tok string, route token.RouteTag, t time.Time) (token.Payload, error) {
	if c == nil {
		return r.Open(tok, route, t)
	}
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

func rejectionCounter(err error) counterKind {
	switch {
	case errors.Is(err, token.ErrExpired):
		return cRejectedExpired
	case errors.Is(err, token.ErrOtherRoute):
		return cRejectedOtherRoute
	case errors.Is(err, token.ErrUnauthentic):
		return cRejectedUnauthentic
	}
	return cRejectedMalformed
}

// idValue is the __VCAP_ID__ value for the served instance: its id, or in
// sealed mode a fresh token. ok is false if no token could be sealed.
func (h *httpContext) idValue(served *config.Instance, clk *clock) (string, bool) {
	s := h.cfg.Sealed
	if s == nil {
		return served.ID, true
	}
	addr, err := netip.ParseAddrPort(served.Address)
	if err != nil {
		return "", false
	}
	tok, err := s.Ring.Seal(token.Payload{ID: served.ID, Address: addr, Route: h.route.Tag,
		Expires: clk.now().Add(s.TTL).Unix()})
	if err != nil {
		proxywasm.LogErrorf("vcap-sticky: sealing %s: %v", config.VCAPCookie, err)
		return "", false
	}
	return tok, true
}

// sameInstance reports whether a sticky request was served by the instance
// its cookie names.
func (h *httpContext) sameInstance(served *config.Instance) bool {
	if h.cfg.Sealed == nil {
		return h.requestID == served.ID
	}
	return h.opened != nil && h.opened.ID == served.ID && h.opened.Address.String() == served.Address
}

// renewDue: in sealed mode, a token that served its own instance and has
// less than half its lifetime left is renewed in the response.
func (h *httpContext) renewDue(t time.Time) bool {
	s := h.cfg.Sealed
	return s != nil && h.opened != nil && h.opened.Expires-t.Unix() < int64(s.TTL/time.Second)/2
}

// dynamicServed is the served instance of a route without a map: its id
// from the upstream host's metadata, its address from upstream.address.
func (h *httpContext) dynamicServed(addr string) *config.Instance {
	md, err := proxywasm.GetProperty([]string{"xds", "upstream_host_metadata"})
	if err != nil {
		h.debugf("no upstream host metadata: no cookie")
		return nil
	}
	m := h.cfg.EndpointMetadata
	id, ok := hostmeta.StringValue(md, m.Namespace, m.Key)
	if !ok || id == "" || len(id) > token.MaxIDLength {
		h.debugf("upstream host metadata has no usable %s/%s: no cookie", m.Namespace, m.Key)
		return nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil
	}
	return &config.Instance{ID: id, Address: ap.String()}
}
