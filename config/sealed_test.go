package config

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/token"
)

const testKeysEnv = "VCAP_STICKY_CONFIG_TEST_KEYS"

func TestParseSealed(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	t.Setenv(testKeysEnv, key)
	cfg, err := Parse([]byte(`{"sealed":{"keys_env":"` + testKeysEnv + `","ttl_seconds":90},"route_metrics":true,
		"routes":[{"host":"Shop.Example","path":"/cart","instances":[{"id":"a","address":"10.0.0.1:80"}]},
		{"host":"*","name":"fallback-1","instances":[{"id":"a","address":"10.0.0.1:80"}]}]}`))
	require.NoError(t, err)
	require.NotNil(t, cfg.Sealed)
	assert.Equal(t, 90*time.Second, cfg.Sealed.TTL)
	assert.Equal(t, testKeysEnv, cfg.Sealed.KeysEnv)
	assert.True(t, cfg.RouteMetrics)
	r := cfg.Routes.Match("shop.example", "/cart/x")
	require.NotNil(t, r)
	assert.Equal(t, "shop_example_cart", r.Name)
	assert.False(t, r.Dynamic)
	assert.Equal(t, "fallback-1", cfg.Routes.Match("x", "/").Name)
	assert.NotEqual(t, r.Tag, cfg.Routes.Match("x", "/").Tag)

	cfg, err = Parse([]byte(`{"sealed":{"keys_env":"` + testKeysEnv + `"},"endpoint_metadata":{},"routes":[{"host":"*"}]}`))
	require.NoError(t, err)
	assert.Equal(t, DefaultTokenTTL, cfg.Sealed.TTL)
	assert.True(t, cfg.Sealed.V1Tokens, "version 1 tokens open by default (the upgrade window)")
	assert.Equal(t, EndpointMetadata{Namespace: "vcap_sticky", Key: "instance_id"}, *cfg.EndpointMetadata)
	assert.True(t, cfg.Routes.Match("x", "/").Dynamic)

	// A forged version 1 token (its version byte, 0x01, then anything):
	// tried with the key by default, refused unopened with v1_tokens false.
	v1 := "AQ" + strings.Repeat("A", token.V1Size-2)
	_, err = cfg.Sealed.Ring.Open(v1, r.Tag, time.Now())
	assert.ErrorIs(t, err, token.ErrUnauthentic)
	cfg, err = Parse([]byte(`{"sealed":{"keys_env":"` + testKeysEnv + `","v1_tokens":false},"routes":[{"host":"*"}]}`))
	require.NoError(t, err)
	assert.False(t, cfg.Sealed.V1Tokens)
	_, err = cfg.Sealed.Ring.Open(v1, r.Tag, time.Now())
	assert.ErrorIs(t, err, token.ErrMalformed)

	// Sealed, no instances, no metadata: a route named by addresses.
	cfg, err = Parse([]byte(`{"sealed":{"keys_env":"` + testKeysEnv + `"},"routes":[{"host":"shop.example"},
		{"host":"*","instances":[{"id":"a","address":"10.0.0.1:80"}]}]}`))
	require.NoError(t, err)
	assert.Nil(t, cfg.EndpointMetadata)
	assert.True(t, cfg.Routes.Match("shop.example", "/").Dynamic)
	assert.Empty(t, cfg.Routes.Match("shop.example", "/").Instances)
	assert.False(t, cfg.Routes.Match("x", "/").Dynamic, "a route with instances keeps its map")
}

func TestParseSealedErrors(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	t.Setenv(testKeysEnv, key)
	t.Setenv("VCAP_STICKY_CONFIG_TEST_BAD", key+","+key[:8])
	route := `"routes":[{"host":"h","instances":[{"id":"a","address":"10.0.0.1:80"}]}]`
	sealed := `"sealed":{"keys_env":"` + testKeysEnv + `"}`
	for _, tc := range []struct{ name, json, field, reason string }{
		{"no keys_env", `{"sealed":{},` + route + `}`, "sealed.keys_env", "required"},
		{"bad env name", `{"sealed":{"keys_env":"1X"},` + route + `}`, "sealed.keys_env", "not an environment variable name"},
		{"unset env", `{"sealed":{"keys_env":"VCAP_STICKY_CONFIG_TEST_UNSET"},` + route + `}`, "sealed.keys_env", "is not set in the Wasm VM"},
		{"bad keys", `{"sealed":{"keys_env":"VCAP_STICKY_CONFIG_TEST_BAD"},` + route + `}`, "sealed.keys_env", "key 2 of 2 is 6 bytes"},
		{"ttl zero", `{"sealed":{"keys_env":"` + testKeysEnv + `","ttl_seconds":0},` + route + `}`, "sealed.ttl_seconds", "whole number"},
		{"ttl fraction", `{"sealed":{"keys_env":"` + testKeysEnv + `","ttl_seconds":1.5},` + route + `}`, "sealed.ttl_seconds", "whole number"},
		{"v1_tokens not a bool", `{"sealed":{"keys_env":"` + testKeysEnv + `","v1_tokens":"no"},` + route + `}`, "sealed.v1_tokens", "true or false"},
		{"unknown sealed field", `{"sealed":{"keys":"x"},` + route + `}`, "sealed.keys", "unknown field"},
		{"metadata without sealed", `{"endpoint_metadata":{},` + route + `}`, "endpoint_metadata", "needs \"sealed\""},
		{"metadata with cluster mode", `{` + sealed + `,"endpoint_metadata":{},"pinning":{"mode":"cluster"},` + route + `}`, "endpoint_metadata", "cluster"},
		{"no instances unsealed", `{"routes":[{"host":"h"}]}`, "routes[0].instances", "only a sealed route may leave them out"},
		{"no instances with cluster mode", `{` + sealed + `,"pinning":{"mode":"cluster"},"routes":[{"host":"h"}]}`, "routes[0].instances", "cluster"},
		{"sealed empty instances", `{` + sealed + `,"routes":[{"host":"h","instances":[]}]}`, "routes[0].instances", "non-empty"},
		{"long id sealed", `{` + sealed + `,"routes":[{"host":"h","instances":[{"id":"` + strings.Repeat("i", 65) + `","address":"10.0.0.1:80"}]}]}`, "routes[0].instances[0].id", "longer than 64"},
		{"bad route name", `{"routes":[{"host":"h","name":"a.b","instances":[{"id":"a","address":"10.0.0.1:80"}]}]}`, "routes[0].name", "letters, digits"},
		{"duplicate route name", `{"route_metrics":true,"routes":[{"host":"a.b","instances":[{"id":"a","address":"10.0.0.1:80"}]},{"host":"a_b","instances":[{"id":"a","address":"10.0.0.1:80"}]}]}`, "routes[1].name", "also the name of routes[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json))
			var cerr *Error
			require.ErrorAs(t, err, &cerr)
			assert.Equal(t, tc.field, cerr.Field, err.Error())
			assert.Contains(t, cerr.Reason, tc.reason)
			assert.NotContains(t, err.Error(), key[:8], "never the keys")
		})
	}
}
