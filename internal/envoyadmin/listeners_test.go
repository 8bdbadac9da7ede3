package envoyadmin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListenerAddr(t *testing.T) {
	body := []byte(`{"listener_statuses":[
		{"name":"admin-like","local_address":{"socket_address":{"address":"127.0.0.1","port_value":9901}}},
		{"name":"ingress","local_address":{"socket_address":{"address":"::1","port_value":10000}}},
		{"name":"unbound","local_address":{"socket_address":{"address":"127.0.0.1","port_value":0}}}]}`)
	addr, err := ListenerAddr(body, "ingress")
	require.NoError(t, err)
	assert.Equal(t, "[::1]:10000", addr)

	_, err = ListenerAddr(body, "unbound")
	assert.ErrorContains(t, err, "unbound not bound yet")
	_, err = ListenerAddr(body, "missing")
	assert.Error(t, err)
	_, err = ListenerAddr([]byte("not json"), "ingress")
	assert.ErrorContains(t, err, "/listeners")
}
