package config

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Envoy formats an EnvoyInternalAddress host as envoy://<listener>/<id>
// (what Istio's ambient endpoints look like in upstream.address).
func TestEndpointAddress(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.0.11:8080": "10.1.0.11:8080",
		"envoy://connect_originate/10.1.0.11:8080": "10.1.0.11:8080",
		"envoy://connect_originate/[fd00::7]:8080": "[fd00::7]:8080",
		"envoy://a/b/10.1.0.11:8080":               "10.1.0.11:8080",
		"envoy://connect_originate":                "envoy://connect_originate",
		"envoy://connect_originate/":               "",
		"[::1]:80":                                 "[::1]:80",
	} {
		assert.Equal(t, want, EndpointAddress(in), in)
	}
	assert.Equal(t, "envoy://connect_originate/10.1.0.11:8080", HostAddress("10.1.0.11:8080", "connect_originate"))
	assert.Equal(t, "10.1.0.11:8080", HostAddress("10.1.0.11:8080", ""))
}

// A route behind an internal listener pins to the host as Envoy names it,
// and finds its instances by the endpoint id of the served address.
func TestInternalListenerRoute(t *testing.T) {
	for mode, pin := range map[string]string{
		"override_host":    "envoy://connect_originate/10.1.0.12:8080",
		"stateful_session": base64.StdEncoding.EncodeToString([]byte("envoy://connect_originate/10.1.0.12:8080")),
	} {
		cfg, err := Parse([]byte(`{"pinning":{"mode":"` + mode + `"},"routes":[
			{"host":"ambient.example","internal_listener":"connect_originate","instances":[{"id":"a","address":"10.1.0.11:8080"},{"id":"b","address":"10.1.0.12:8080"}]},
			{"host":"plain.example","instances":[{"id":"b","address":"10.1.0.12:8080"}]}]}`))
		require.NoError(t, err, mode)
		r := cfg.Routes.Match("ambient.example", "/")
		assert.Equal(t, "connect_originate", r.InternalListener)
		assert.Equal(t, pin, r.ByID("b").PinValue, mode)
		assert.Same(t, r.ByID("b"), r.ByAddress("envoy://connect_originate/10.1.0.12:8080"))
		assert.Same(t, r.ByID("b"), r.ByAddress("10.1.0.12:8080"), "a plain address still names the instance")
		assert.Nil(t, r.ByAddress("envoy://connect_originate/10.1.0.13:8080"))
		plain := cfg.Routes.Match("plain.example", "/").ByID("b")
		assert.NotContains(t, plain.PinValue, "connect_originate", "only the route that says so")
	}
	for _, tc := range []struct{ json, reason string }{
		{`{"routes":[{"host":"h","internal_listener":"","instances":[{"id":"a","address":"10.0.0.1:80"}]}]}`, "1 to 64"},
		{`{"routes":[{"host":"h","internal_listener":"a/b","instances":[{"id":"a","address":"10.0.0.1:80"}]}]}`, "1 to 64"},
		{`{"routes":[{"host":"h","internal_listener":7,"instances":[{"id":"a","address":"10.0.0.1:80"}]}]}`, "string"},
		{`{"pinning":{"mode":"cluster"},"routes":[{"host":"h","internal_listener":"connect_originate","instances":[{"id":"a","address":"10.0.0.1:80","cluster":"c"}]}]}`, "cluster"},
	} {
		_, err := Parse([]byte(tc.json))
		var cerr *Error
		require.ErrorAs(t, err, &cerr, tc.json)
		assert.Equal(t, "routes[0].internal_listener", cerr.Field)
		assert.Contains(t, cerr.Reason, tc.reason)
	}
}
