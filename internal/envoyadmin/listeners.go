// Package envoyadmin reads Envoy's admin endpoint answers that both the e2e
// tests and the benchmark need.
package envoyadmin

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
)

// ListenerAddr returns the "host:port" the listener name is bound to, from
// the body of Envoy's admin /listeners?format=json. A listener configured
// with port 0 shows its real port there once bound; until then, or if there
// is no such listener, it is an error.
func ListenerAddr(body []byte, name string) (string, error) {
	var ls struct {
		ListenerStatuses []struct {
			Name         string `json:"name"`
			LocalAddress struct {
				SocketAddress struct {
					Address   string `json:"address"`
					PortValue int    `json:"port_value"`
				} `json:"socket_address"`
			} `json:"local_address"`
		} `json:"listener_statuses"`
	}
	if err := json.Unmarshal(body, &ls); err != nil {
		return "", fmt.Errorf("/listeners: %w", err)
	}
	for _, l := range ls.ListenerStatuses {
		if sa := l.LocalAddress.SocketAddress; l.Name == name && sa.PortValue != 0 {
			return net.JoinHostPort(sa.Address, strconv.Itoa(sa.PortValue)), nil
		}
	}
	return "", fmt.Errorf("listener %s not bound yet", name)
}
