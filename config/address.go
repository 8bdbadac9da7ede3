package config

import "strings"

// Envoy names an upstream host by its address: "ip:port" for a socket
// address, "envoy://<listener>/<endpoint id>" for an EnvoyInternalAddress
// (how Istio's ambient mode reaches pods over HBONE: the listener is
// connect_originate and the endpoint id the pod's ip:port). upstream.address,
// the override_host policy and the stateful_session header all use that
// string.

const internalScheme = "envoy://"

// HostAddress is the address Envoy names the host of an instance at addr
// by, on a route whose hosts are behind internalListener ("" for none).
func HostAddress(addr, internalListener string) string {
	if internalListener == "" {
		return addr
	}
	return internalScheme + internalListener + "/" + addr
}

// EndpointAddress is the instance address in a host address: the endpoint
// id of an internal address, else the address itself. It does not allocate.
func EndpointAddress(hostAddress string) string {
	rest, ok := strings.CutPrefix(hostAddress, internalScheme)
	if !ok {
		return hostAddress
	}
	// The endpoint id is an ip:port, which holds no "/"; a listener name may.
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		return rest[i+1:]
	}
	return hostAddress
}

// canonicalIPv4Port reports whether s is an IPv4 address and port as netip
// writes them: four decimal octets and a port from 1 to 65535, none with a
// leading zero. A generated instance map holds its addresses that way, and
// this check costs a tenth of netip's parse and re-formatting.
func canonicalIPv4Port(s string) bool {
	i := 0
	for field := range 5 {
		start, n := i, 0
		for i < len(s) && i-start < 5 && '0' <= s[i] && s[i] <= '9' {
			n = n*10 + int(s[i]-'0')
			i++
		}
		if i == start || s[start] == '0' && i-start > 1 {
			return false
		}
		if field == 4 {
			return i == len(s) && 1 <= n && n <= 65535
		}
		sep := byte('.')
		if field == 3 {
			sep = ':'
		}
		if n > 255 || i == len(s) || s[i] != sep {
			return false
		}
		i++
	}
	return false
}
