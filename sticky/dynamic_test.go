package sticky

import (
	"encoding/base64"
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/token"
)

// A sealed route without instances and without endpoint_metadata: the host
// that served a new session is named by its address, the token carries it,
// and the next request pins to that address in the mode's pin format. A pod
// that left (another address served) gets a fresh token for the new one.
func TestAddressIdentity(t *testing.T) {
	const keysEnv = "VCAP_STICKY_STICKY_TEST_KEYS"
	key := []byte("0123456789abcdef0123456789abcdef")
	t.Setenv(keysEnv, base64.StdEncoding.EncodeToString(key))
	ring, err := token.NewRing(key)
	require.NoError(t, err)
	tag := token.RouteTagOf("shop.example", "/")
	// What a client's cookie jar keeps from a Set-Cookie line.
	vcapID := func(t *testing.T, lines []string) string {
		t.Helper()
		for _, l := range lines {
			if c, err := http.ParseSetCookie(l); err == nil && c.Name == "__VCAP_ID__" {
				return c.Value
			}
		}
		t.Fatalf("no __VCAP_ID__ in %q", lines)
		return ""
	}
	// How Envoy names the host at ip:port: plainly, or as Istio ambient's
	// internal address (envoy://<listener>/<endpoint id>).
	plainHost := func(a string) string { return a }
	ambientHost := func(a string) string { return "envoy://connect_originate/" + a }
	for _, tc := range []struct {
		mode, route string
		host        func(string) string
		pinOf       func(host string) string
	}{
		{"override_host", `{"host":"shop.example"}`, plainHost, plainHost},
		{"stateful_session", `{"host":"shop.example"}`, plainHost, func(h string) string { return base64.StdEncoding.EncodeToString([]byte(h)) }},
		{"override_host", `{"host":"shop.example","internal_listener":"connect_originate"}`, ambientHost, plainHost},
		{"stateful_session", `{"host":"shop.example","internal_listener":"connect_originate"}`, ambientHost, func(h string) string { return base64.StdEncoding.EncodeToString([]byte(h)) }},
	} {
		mode, pinOf := tc.mode, func(addr string) string { return tc.pinOf(tc.host(addr)) }
		t.Run(mode+" "+tc.host("ip:port"), func(t *testing.T) {
			cfg, err := config.Parse([]byte(`{"sealed":{"keys_env":"` + keysEnv + `"},"pinning":{"mode":"` + mode + `"},` +
				`"routes":[` + tc.route + `]}`))
			require.NoError(t, err)
			e := New(cfg)
			clk := fixedClock(fixedNow)
			x := &exchange{up: upstream{addr: tc.host("10.1.2.3:8080")}}
			req := [][2]string{{":authority", "shop.example"}, {":path", "/"}}

			res := x.run(e, req, [][2]string{{"set-cookie", "JSESSIONID=s1; Path=/"}}, clk)
			v := vcapID(t, res.SetCookies)
			p, err := ring.Open(v, tag, fixedNow)
			require.NoError(t, err)
			assert.Equal(t, "10.1.2.3:8080", p.ID, "the address (an internal address's endpoint id) is the id")
			assert.Equal(t, netip.MustParseAddrPort("10.1.2.3:8080"), p.Address)

			sticky := append(req, [2]string{"cookie", "JSESSIONID=s1; __VCAP_ID__=" + v})
			res = x.run(e, sticky, nil, clk)
			require.NotNil(t, x.d.Pin)
			assert.Equal(t, pinOf("10.1.2.3:8080"), x.d.Pin.PinValue)
			assert.True(t, x.d.Events.Has(StickyHit))
			assert.Empty(t, res.SetCookies, "served by its own instance: nothing to say")

			// A rollout: the pinned pod is gone and Envoy's override policy
			// balanced the request to a new one.
			x.up.addr = tc.host("10.1.9.9:8080")
			res = x.run(e, sticky, nil, clk)
			p, err = ring.Open(vcapID(t, res.SetCookies), tag, fixedNow)
			require.NoError(t, err)
			assert.Equal(t, "10.1.9.9:8080", p.ID)
			assert.Equal(t, netip.MustParseAddrPort("10.1.9.9:8080"), p.Address)
			assert.True(t, res.Events.Has(Fallback), "events %b", res.Events)

			// Envoy could name no host (a local reply): no cookie.
			x.up.addr = ""
			res = x.run(e, req, [][2]string{{"set-cookie", "JSESSIONID=s2"}}, clk)
			assert.Empty(t, res.SetCookies)
		})
	}
}
