package config

import (
	"maps"
	"slices"
	"strings"

	"github.com/vcap-sticky/vcap-sticky/token"
)

// Route is one app's route: requests whose host matches Host and whose path
// is under Path. An instance id is looked up only among the route's own
// instances, so an id of another app is unknown here.
type Route struct {
	// Host is lower case without a port; "*" matches any host that no other
	// route names.
	Host string
	// Path is the route's path prefix and the __VCAP_ID__ cookie's Path.
	Path string
	// Name names the route in per-route stats: "name" from the config, or
	// one derived from host and path.
	Name string
	// Index is the route's position in the configuration's routes, for
	// per-route state kept in a slice.
	Index int
	// Tag identifies the route inside a sealed token.
	Tag token.RouteTag
	// Dynamic: a sealed route that lists no instances. The served instance
	// is named by the upstream host's metadata (EndpointMetadata) if it has
	// it, else by its address; the token carries both id and address.
	Dynamic bool
	// InternalListener, if set, is the Envoy internal listener the route's
	// hosts are behind (Istio ambient: connect_originate): pin values name
	// a host as envoy://<listener>/<ip:port>.
	InternalListener string

	Instances []*Instance
	// The indexes of a route of more than smallTable instances (index.go).
	byID, byAddress instanceIndex
	// byAppInstance is keyed by "<app guid>:<index>"; empty when no
	// instance has an app guid.
	byAppInstance instanceIndex
}

// smallTable is the size up to which a lookup compares keys one by one
// rather than hashing the key: in the Wasm VM, Go's string hash is its
// portable fallback, which costs more than a few comparisons.
const smallTable = 8

// ByID returns the route's instance with this __VCAP_ID__ value.
func (r *Route) ByID(id string) *Instance { return r.byID.find(r.Instances, keyID, id) }

// ByAddress returns the route's instance at an upstream address: "ip:port",
// or an internal address whose endpoint id is that "ip:port".
func (r *Route) ByAddress(addr string) *Instance {
	return r.byAddress.find(r.Instances, keyAddress, EndpointAddress(addr))
}

// ByAppInstance returns the instance named by an X-CF-App-Instance value
// "<app guid>:<index>".
func (r *Route) ByAppInstance(guidAndIndex string) *Instance {
	return r.byAppInstance.find(r.Instances, keyAppInstance, guidAndIndex)
}

// RouteTable finds the route of a request: host first, then the longest
// path prefix. Routes per host are kept longest path first.
type RouteTable struct {
	byHost map[string][]*Route
	// hosts and hostRoutes are byHost as two slices, when it has at most
	// smallTable hosts: most filters serve one or two.
	hosts      []string
	hostRoutes [][]*Route
	wildcard   []*Route
}

// index prepares the lookup once the routes are in.
func (t *RouteTable) index() {
	t.hosts, t.hostRoutes = nil, nil
	if len(t.byHost) > smallTable {
		return
	}
	for _, host := range slices.Sorted(maps.Keys(t.byHost)) {
		t.hosts = append(t.hosts, host)
		t.hostRoutes = append(t.hostRoutes, t.byHost[host])
	}
}

// Match returns the route for a request's :authority and :path, or nil.
func (t *RouteTable) Match(authority, path string) *Route {
	routes := t.forHost(hostOf(authority))
	// The path ends at "?" or "#": a plain loop, because strings.IndexAny
	// over a short path is a call per byte in Wasm.
	for i := 0; i < len(path); i++ {
		if path[i] == '?' || path[i] == '#' {
			path = path[:i]
			break
		}
	}
	for _, r := range routes {
		if underPath(path, r.Path) {
			return r
		}
	}
	return nil
}

// forHost returns the routes of a host, longest path first.
func (t *RouteTable) forHost(host string) []*Route {
	if t.hosts == nil {
		if routes, ok := t.byHost[host]; ok {
			return routes
		}
		return t.wildcard
	}
	for i, h := range t.hosts {
		if h == host {
			return t.hostRoutes[i]
		}
	}
	return t.wildcard
}

// All returns every route, for metrics and tests.
func (t *RouteTable) All() []*Route {
	var all []*Route
	for _, rs := range t.byHost {
		all = append(all, rs...)
	}
	return append(all, t.wildcard...)
}

// hostOf strips the port from an authority and lower-cases it, as hosts
// compare: ASCII letters only (Unicode case folding would make "K", the
// Kelvin sign, a "k"). Only a port of digits is stripped, as net/url reads
// an authority. It allocates only when the host has upper-case letters.
func hostOf(authority string) string {
	host := authority
	if strings.HasPrefix(host, "[") { // [v6]:port
		if end := strings.IndexByte(host, ']'); end >= 0 {
			host = host[:end+1]
		}
	} else if colon := strings.LastIndexByte(host, ':'); colon >= 0 && digits(host[colon+1:]) {
		host = host[:colon]
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			b := []byte(host)
			for j, c := range b {
				if 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return host
}

// digits: s is empty or ASCII digits only.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// underPath reports whether path is prefix or below it, on segment
// boundaries: "/app" covers "/app" and "/app/x" but not "/apple".
func underPath(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}
