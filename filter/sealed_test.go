package filter

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/vcap-sticky/vcap-sticky/token"
)

const keysEnv = "VCAP_STICKY_TEST_KEYS"

var (
	sealKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210")
	appTag   = token.RouteTagOf(appHost, "/")
)

// sealedOptions turns sealed mode on with sealKey in the environment.
func sealedOptions(t *testing.T, extra string) string {
	t.Setenv(keysEnv, base64.StdEncoding.EncodeToString(sealKey))
	o := `"sealed":{"keys_env":"` + keysEnv + `","ttl_seconds":3600}`
	if extra != "" {
		o += "," + extra
	}
	return o
}

func mustRing(t *testing.T, keys ...[]byte) *token.Ring {
	t.Helper()
	r, err := token.NewRing(keys...)
	require.NoError(t, err)
	return r
}

// sealFor seals a token as the filter would, valid for ttl from fixedNow.
func sealFor(t *testing.T, r *token.Ring, id, addr string, route token.RouteTag, ttl time.Duration) string {
	t.Helper()
	tok, err := r.Seal(token.Payload{ID: id, Address: netip.MustParseAddrPort(addr), Route: route,
		Expires: fixedNow.Add(ttl).Unix()})
	require.NoError(t, err)
	return tok
}

// openCookie opens the value of an added "__VCAP_ID__=<token>; ..." line.
func openCookie(t *testing.T, line string, route token.RouteTag) token.Payload {
	t.Helper()
	require.True(t, strings.HasPrefix(line, "__VCAP_ID__="), line)
	v, _, _ := strings.Cut(strings.TrimPrefix(line, "__VCAP_ID__="), ";")
	require.Len(t, v, token.Size)
	p, err := mustRing(t, sealKey).Open(v, route, fixedNow)
	require.NoError(t, err, line)
	return p
}

func TestSealedNewSession(t *testing.T) {
	h := newHarness(t, sealedOptions(t, ""))
	got := h.request(appHost, "/").respond(addrB, setCookie("JSESSIONID=s1; Max-Age=600; Secure"))
	require.Len(t, got, 2)
	p := openCookie(t, got[0], appTag)
	assert.Equal(t, "b", p.ID)
	assert.Equal(t, addrB, p.Address.String())
	assert.Equal(t, fixedNow.Add(time.Hour).Unix(), p.Expires)
	assert.True(t, strings.HasSuffix(got[0], "; Path=/; Max-Age=600; HttpOnly; Secure"), got[0])
	assert.NotContains(t, got[0], addrB, "the address is not readable")
	assert.True(t, strings.HasPrefix(got[1], "__VCAP_ID_META__=secure&maxage="), got[1])
	assert.Equal(t, uint64(1), h.counter("cookies_set"))
}

func TestSealedTokenPins(t *testing.T) {
	h := newHarness(t, sealedOptions(t, ""))
	tok := sealFor(t, mustRing(t, sealKey), "b", addrB, appTag, time.Hour)
	e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+tok))
	pin, ok := e.requestHeader("x-vcap-sticky-upstream")
	assert.True(t, ok)
	assert.Equal(t, addrB, pin)
	assert.Empty(t, e.respond(addrB), "served by its own instance, token fresh: no cookie")
	assert.Equal(t, uint64(1), h.counter("sticky_hits"))
}

// Rotation: [new, old] opens the old key's tokens and seals with the new.
func TestSealedKeyRotation(t *testing.T) {
	tok := sealFor(t, mustRing(t, sealKey), "b", addrB, appTag, time.Hour)
	t.Setenv(keysEnv, base64.RawURLEncoding.EncodeToString(otherKey)+","+base64.StdEncoding.EncodeToString(sealKey))
	h2 := newHarness(t, `"sealed":{"keys_env":"`+keysEnv+`"}`)
	e := h2.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+tok))
	pin, _ := e.requestHeader("x-vcap-sticky-upstream")
	assert.Equal(t, addrB, pin, "an old key's token still pins")
	got := e.respond(addrB, setCookie("JSESSIONID=s2"))
	require.Len(t, got, 2)
	v, _, _ := strings.Cut(strings.TrimPrefix(got[0], "__VCAP_ID__="), ";")
	_, err := mustRing(t, otherKey).Open(v, appTag, fixedNow)
	assert.NoError(t, err, "new cookies are sealed with the first key")
}

func TestSealedRejections(t *testing.T) {
	good := mustRing(t, sealKey)
	for _, tc := range []struct {
		name, cookie, counter string
		options               string
	}{
		{"plain instance id", "b", "tokens_rejected_malformed", ""},
		{"garbage", "Ag" + strings.Repeat("x", token.Size-3) + "A", "tokens_rejected_unauthentic", ""},
		{"garbage, version 1", "AQ" + strings.Repeat("x", token.V1Size-2), "tokens_rejected_unauthentic", ""},
		{"another key", sealFor(t, mustRing(t, otherKey), "b", addrB, appTag, time.Hour), "tokens_rejected_unauthentic", ""},
		{"expired", sealFor(t, good, "b", addrB, appTag, -time.Second), "tokens_rejected_expired", ""},
		{"another route", sealFor(t, good, "x", addrX, token.RouteTagOf("other.example", "/other"), time.Hour), "tokens_rejected_other_route", ""},
		{"strict: still no 502", sealFor(t, good, "b", addrB, appTag, -time.Second), "tokens_rejected_expired", `"strict":true`},
		{"negotiate: still no 502", "b", "tokens_rejected_malformed", `"negotiate":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sealedOptions(t, tc.options))
			e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+tc.cookie),
				[2]string{"authorization", "Negotiate abc"})
			assert.Equal(t, types.ActionContinue, e.action)
			assert.Nil(t, h.host.GetSentLocalResponse(e.id), "never a local reply")
			_, pinned := e.requestHeader("x-vcap-sticky-upstream")
			assert.False(t, pinned, "normal load balancing")
			got := e.respond(addrC, setCookie("x=1"))
			require.Len(t, got, 1, "the cookie is re-issued")
			assert.Equal(t, "c", openCookie(t, got[0], appTag).ID)
			assert.Equal(t, uint64(1), h.counter(tc.counter))
			assert.Equal(t, uint64(1), h.counter("cookies_refreshed"))
			assert.Equal(t, uint64(0), h.counter("unknown_ids"), "a rejected token is counted by reason only")
			assert.Equal(t, uint64(0), h.counter("strict_rejections"))
		})
	}
}

func TestSealedUnknownInstanceStrict(t *testing.T) {
	// A genuine token naming an instance the map no longer lists: strict
	// answers 502, as for a plain unknown id.
	h := newHarness(t, sealedOptions(t, `"strict":true`))
	tok := sealFor(t, mustRing(t, sealKey), "gone", "127.0.0.1:9999", appTag, time.Hour)
	e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+tok))
	require.NotNil(t, h.host.GetSentLocalResponse(e.id))
	assert.Equal(t, uint32(502), h.host.GetSentLocalResponse(e.id).StatusCode)
	assert.Equal(t, uint64(1), h.counter("unknown_ids"))
}

func TestSealedRenewal(t *testing.T) {
	h := newHarness(t, sealedOptions(t, ""))
	r := mustRing(t, sealKey)
	// More than half the hour left: kept; less: renewed, META attributes restored.
	e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+sealFor(t, r, "a", addrA, appTag, 31*time.Minute)))
	assert.Empty(t, e.respond(addrA))
	meta := "__VCAP_ID_META__=secure&samesite=lax"
	e = h.request(appHost, "/", cookieHeader("JSESSIONID=s; "+meta+"; __VCAP_ID__="+sealFor(t, r, "a", addrA, appTag, 29*time.Minute)))
	got := e.respond(addrA)
	require.Len(t, got, 1)
	p := openCookie(t, got[0], appTag)
	assert.Equal(t, "a", p.ID)
	assert.Equal(t, fixedNow.Add(time.Hour).Unix(), p.Expires)
	assert.True(t, strings.HasSuffix(got[0], "; Path=/; HttpOnly; Secure; SameSite=Lax"), got[0])
	assert.Equal(t, uint64(1), h.counter("tokens_renewed"))
	assert.Equal(t, uint64(0), h.counter("fallbacks"))
}

func TestSealedAppInstanceHeader(t *testing.T) {
	h := newHarness(t, sealedOptions(t, ""))
	r := mustRing(t, sealKey)
	// The token names the targeted instance: no rewrite; another one: rewritten.
	e := h.request(appHost, "/", [2]string{"x-cf-app-instance", guid + ":1"}, cookieHeader("JSESSIONID=s; __VCAP_ID__="+sealFor(t, r, "b", addrB, appTag, time.Hour)))
	assert.Empty(t, e.respond(addrB))
	e = h.request(appHost, "/", [2]string{"x-cf-app-instance", guid + ":1"}, cookieHeader("JSESSIONID=s; __VCAP_ID__="+sealFor(t, r, "a", addrA, appTag, time.Hour)))
	got := e.respond(addrB)
	require.Len(t, got, 1)
	assert.Equal(t, "b", openCookie(t, got[0], appTag).ID)
}

// metadataBytes serializes envoy.config.core.v3.Metadata with one string
// field in filter_metadata[ns].
func metadataBytes(ns, key, val string) []byte {
	var value, entry, st, fm, md []byte
	value = protowire.AppendTag(value, 3, protowire.BytesType)
	value = protowire.AppendString(value, val)
	entry = protowire.AppendTag(entry, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, key)
	entry = protowire.AppendTag(entry, 2, protowire.BytesType)
	entry = protowire.AppendBytes(entry, value)
	st = protowire.AppendTag(st, 1, protowire.BytesType)
	st = protowire.AppendBytes(st, entry)
	fm = protowire.AppendTag(fm, 1, protowire.BytesType)
	fm = protowire.AppendString(fm, ns)
	fm = protowire.AppendTag(fm, 2, protowire.BytesType)
	fm = protowire.AppendBytes(fm, st)
	md = protowire.AppendTag(md, 1, protowire.BytesType)
	md = protowire.AppendBytes(md, fm)
	return md
}

// newDynamicHarness: one route without instances, identity from metadata.
func newDynamicHarness(t *testing.T, extra string) *harness {
	t.Helper()
	pinClock(t)
	cfg := "{" + sealedOptions(t, `"endpoint_metadata":{"namespace":"vcap_sticky","key":"instance_id"},"route_metrics":true,`+
		`"routes":[{"host":"app.example","name":"shop"}]`)
	if extra != "" {
		cfg += "," + extra
	}
	return startHarness(t, NewVMContext(), cfg+"}")
}

func TestEndpointMetadataIdentity(t *testing.T) {
	for _, mode := range []string{"override_host", "stateful_session"} {
		t.Run(mode, func(t *testing.T) {
			h := newDynamicHarness(t, `"pinning":{"mode":"`+mode+`"}`)
			require.NoError(t, h.host.SetProperty([]string{"xds", "upstream_host_metadata"}, metadataBytes("vcap_sticky", "instance_id", "pod-7")))
			got := h.request(appHost, "/").respond("10.9.0.7:8080", setCookie("JSESSIONID=s"))
			require.Len(t, got, 2)
			p := openCookie(t, got[0], appTag)
			assert.Equal(t, "pod-7", p.ID)
			assert.Equal(t, "10.9.0.7:8080", p.Address.String())
			v, _, _ := strings.Cut(strings.TrimPrefix(got[0], "__VCAP_ID__="), ";")

			// The next request is pinned by the token alone.
			e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+v))
			pin, _ := e.requestHeader("x-vcap-sticky-upstream")
			want := "10.9.0.7:8080"
			if mode == "stateful_session" {
				want = base64.StdEncoding.EncodeToString([]byte(want))
			}
			assert.Equal(t, want, pin)
			assert.Empty(t, e.respond("10.9.0.7:8080"))

			// The instance is gone: another one serves, with another id.
			require.NoError(t, h.host.SetProperty([]string{"xds", "upstream_host_metadata"}, metadataBytes("vcap_sticky", "instance_id", "pod-8")))
			e = h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+v))
			got = e.respond("10.9.0.8:8080")
			require.Len(t, got, 1)
			assert.Equal(t, "pod-8", openCookie(t, got[0], appTag).ID)

			// Metadata without the key: the host is named by its address.
			require.NoError(t, h.host.SetProperty([]string{"xds", "upstream_host_metadata"}, metadataBytes("other", "instance_id", "pod-9")))
			got = h.request(appHost, "/").respond("10.9.0.9:8080", setCookie("JSESSIONID=s"))
			require.Len(t, got, 2)
			p = openCookie(t, got[0], appTag)
			assert.Equal(t, "10.9.0.9:8080", p.ID)
			assert.Equal(t, "10.9.0.9:8080", p.Address.String())

			for name, want := range map[string]uint64{"sticky_hits": 2, "fallbacks": 1, "cookies_set": 2, "cookies_refreshed": 1} {
				assert.Equal(t, want, h.counter("route.shop."+name), name)
				assert.Equal(t, want, h.counter(name), name)
			}
		})
	}
}

func TestRouteMetrics(t *testing.T) {
	h := newHarness(t, `"route_metrics":true`)
	h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__=b")).respond(addrB)
	h.request("other.example", "/other", cookieHeader("JSESSIONID=s; __VCAP_ID__=nope")).respond(addrX)
	assert.Equal(t, uint64(1), h.counter("route.app_example.sticky_hits"))
	assert.Equal(t, uint64(0), h.counter("route.other_example_other.sticky_hits"))
	assert.Equal(t, uint64(1), h.counter("route.other_example_other.unknown_ids"))
	assert.Equal(t, uint64(1), h.counter("route.other_example_other.cookies_refreshed"))
	_, err := h.host.GetCounterMetric(metricPrefix + "route.app_example.tokens_rejected_expired")
	assert.Error(t, err, "token counters only in sealed mode")
	_, err = h.host.GetCounterMetric(metricPrefix + "tokens_rejected_expired")
	assert.Error(t, err)
}

func TestSealedConfigErrors(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(sealKey)
	for _, tc := range []struct{ name, env, want string }{
		{"unset", "", "environment variable " + keysEnv + " is not set"},
		{"short key", base64.StdEncoding.EncodeToString(sealKey[:10]), "key 1 of 1 is 10 bytes"},
		{"not base64", secret + ",*" + secret, "key 2 of 2 is not base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv(keysEnv, tc.env)
			}
			cfg := `{"sealed":{"keys_env":"` + keysEnv + `"},` + routesJSON + `}`
			opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).WithPluginConfiguration([]byte(cfg))
			host, reset := proxytest.NewHostEmulator(opt)
			defer reset()
			require.Equal(t, types.OnPluginStartStatusFailed, host.StartPlugin())
			logs := strings.Join(host.GetCriticalLogs(), "\n")
			assert.Contains(t, logs, "config: sealed.keys_env: ")
			assert.Contains(t, logs, tc.want)
			assert.NotContains(t, logs, secret[:10], "never the keys")
		})
	}
}

// A token served from the cache is still checked for expiry and route.
func TestSealedTokenCache(t *testing.T) {
	h := newHarness(t, sealedOptions(t, `"route_metrics":true`))
	tok := sealFor(t, mustRing(t, sealKey), "b", addrB, appTag, time.Minute)
	for range 3 {
		e := h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+tok))
		pin, _ := e.requestHeader("x-vcap-sticky-upstream")
		assert.Equal(t, addrB, pin)
	}
	e := h.request("other.example", "/other", cookieHeader("JSESSIONID=s; __VCAP_ID__="+tok))
	_, pinned := e.requestHeader("x-vcap-sticky-upstream")
	assert.False(t, pinned)
	assert.Equal(t, uint64(1), h.counter("route.other_example_other.tokens_rejected_other_route"))
	now = func() time.Time { return fixedNow.Add(time.Minute + time.Second) }
	e = h.request(appHost, "/", cookieHeader("JSESSIONID=s; __VCAP_ID__="+tok))
	_, pinned = e.requestHeader("x-vcap-sticky-upstream")
	assert.False(t, pinned, "expired, though cached")
	assert.Equal(t, uint64(1), h.counter("tokens_rejected_expired"))
	assert.Equal(t, uint64(3), h.counter("route.app_example.sticky_hits"))
}

func TestSealedNegotiateAndDynamicAppInstance(t *testing.T) {
	t.Run("negotiate cookie is a token", func(t *testing.T) {
		h := newHarness(t, sealedOptions(t, `"negotiate":true`))
		got := h.request(appHost, "/").respond(addrA, [2]string{"www-authenticate", "Negotiate abc"})
		require.Len(t, got, 1)
		assert.Equal(t, "a", openCookie(t, got[0], appTag).ID)
		assert.True(t, strings.HasSuffix(got[0], "; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"), got[0])
	})
	t.Run("X-CF-App-Instance on a dynamic route", func(t *testing.T) {
		h := newDynamicHarness(t, "")
		e := h.request(appHost, "/", [2]string{"x-cf-app-instance", guid + ":0"})
		require.NotNil(t, h.host.GetSentLocalResponse(e.id))
		assert.Equal(t, uint32(400), h.host.GetSentLocalResponse(e.id).StatusCode)
	})
}
