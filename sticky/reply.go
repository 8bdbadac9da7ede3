package sticky

import "strings"

// Reply is a local reply, byte for byte as gorouter writes it.
type Reply struct {
	Status uint32
	// RouterError is X-Cf-RouterError's value.
	RouterError string
	Body        string
}

// Headers are the reply's headers as gorouter sends them with an error.
func (r *Reply) Headers() [][2]string {
	return [][2]string{
		{"x-cf-routererror", r.RouterError},
		{"content-type", "text/plain; charset=utf-8"},
		{"x-content-type-options", "nosniff"},
		{"cache-control", "no-cache, no-store"},
	}
}

func (d *Decision) reject(r *Reply) {
	d.Reply, d.Pin, d.NHeaders = r, nil, 0
}

var (
	// gorouter: a Negotiate (or strict) request whose instance is gone.
	endpointFailure = Reply{502, "endpoint_failure (No endpoints available)",
		"502 Bad Gateway: Registered endpoint failed to handle the request.\n"}
	// gorouter: X-CF-App-Instance is not <app guid>:<index>.
	invalidAppInstance = Reply{400, "invalid_cf_app_instance_header",
		"400 Bad Request: Invalid X-CF-App-Instance Header\n"}
)

// unknownInstance: X-CF-App-Instance names no instance of the route.
func unknownInstance(guid, index, authority string) *Reply {
	return &Reply{400, "unknown_route", "400 Bad Request: Requested instance ('" + index +
		"') with guid ('" + guid + "') does not exist for route ('" + hostForMessage(authority) + "')\n"}
}

// hostForMessage keeps the :authority echoed in an error body printable
// and short.
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
