// Package config parses and validates the filter's JSON plugin configuration
// into lookup tables, once, so that the request path does no JSON work.
package config

import (
	"encoding/base64"
	"strings"
	"time"
)

// PinMode is the Envoy mechanism that pins a request to an instance.
type PinMode uint8

const (
	// PinOverrideHost writes "ip:port" to a header read by the cluster's
	// envoy.load_balancing_policies.override_host policy (Envoy 1.35+).
	PinOverrideHost PinMode = iota
	// PinStatefulSession writes base64("ip:port") to the header read by
	// envoy.filters.http.stateful_session with the header extension (Istio's
	// istio.io/persistent-session-header).
	PinStatefulSession
	// PinCluster writes the instance's own cluster name to a header used by a
	// route's cluster_header.
	PinCluster
)

var pinModeNames = map[string]PinMode{
	"override_host":    PinOverrideHost,
	"stateful_session": PinStatefulSession,
	"cluster":          PinCluster,
}

func (m PinMode) String() string {
	for name, mode := range pinModeNames {
		if mode == m {
			return name
		}
	}
	return "unknown"
}

// Defaults, also documented in the README.
const (
	DefaultSessionCookie = "JSESSIONID"
	DefaultPinHeader     = "x-vcap-sticky-upstream"
	// DefaultMetricsFlushInterval: counters show in Envoy's stats at most
	// this late, and the request path makes no host call to count.
	DefaultMetricsFlushInterval = time.Second
	maxMetricsFlushMS           = 60_000
	// HostPrefix marks a cookie name bound to its host; "__Host-JSESSIONID"
	// counts as the session cookie "JSESSIONID", as in gorouter.
	HostPrefix = "__Host-"
)

// Config is the validated plugin configuration.
type Config struct {
	// SessionCookieNames are the configured names; SessionCookie also
	// accepts each with the __Host- prefix.
	SessionCookieNames []string
	// SecureCookies forces Secure on every __VCAP_ID__ cookie.
	SecureCookies bool
	// PinMode and PinHeader say how a pinned request reaches its instance.
	PinMode   PinMode
	PinHeader string
	// Strict answers 502 instead of balancing when the pinned instance is
	// unknown or gone.
	Strict bool
	// Negotiate enables gorouter's sticky_sessions_for_auth_negotiate.
	Negotiate bool
	// InstanceHeaders sends X-CF-InstanceID, X-CF-ApplicationID and
	// X-CF-InstanceIndex to the app.
	InstanceHeaders bool
	// LogDecisions logs each request's decision at debug level. Off by
	// default: a log call is a host call on every request.
	LogDecisions bool
	// Routes maps a request's host and path to its route.
	Routes RouteTable
	// Sealed, if set, makes __VCAP_ID__ a sealed token (see sealed.go).
	Sealed *Sealed
	// EndpointMetadata, if set, lets routes without instances take the
	// served instance's id from the upstream host's metadata (sealed only);
	// a host without it is named by its address.
	EndpointMetadata *EndpointMetadata
	// RouteMetrics defines per-route counters (route.<name>.<counter>).
	RouteMetrics bool
	// MetricsFlushInterval is how long the request path's counters collect
	// in the VM before they reach Envoy's stats; 0 sends each increment at
	// once (a host call each).
	MetricsFlushInterval time.Duration
}

// SessionCookie reports whether name is a configured session cookie name,
// with or without the __Host- prefix.
func (c *Config) SessionCookie(name string) bool {
	name = strings.TrimPrefix(name, HostPrefix)
	for _, n := range c.SessionCookieNames {
		if n == name {
			return true
		}
	}
	return false
}

// Instance is one app instance of a route.
type Instance struct {
	// ID is the value of the __VCAP_ID__ cookie.
	ID string
	// Address is the canonical "ip:port" ("[v6]:port") Envoy reports as
	// upstream.address.
	Address string
	// AppGUID and Index identify the instance for X-CF-App-Instance; AppGUID
	// is empty when not configured. IndexText is Index in decimal.
	AppGUID   string
	Index     int
	IndexText string
	// Cluster is the instance's own Envoy cluster (cluster pin mode).
	Cluster string
	// PinValue is what the pin header carries for this instance, computed
	// once: the address, its base64, or the cluster name, by mode.
	PinValue string
}

// SetPinValue computes PinValue for mode from the instance's address (as
// Envoy names its host, see HostAddress) or cluster: the one place a pin
// value is made.
func (in *Instance) SetPinValue(mode PinMode, internalListener string) {
	switch mode {
	case PinStatefulSession:
		in.PinValue = base64.StdEncoding.EncodeToString([]byte(HostAddress(in.Address, internalListener)))
	case PinCluster:
		in.PinValue = in.Cluster
	default:
		in.PinValue = HostAddress(in.Address, internalListener)
	}
}
