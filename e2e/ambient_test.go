package e2e

// Istio's ambient mode as Envoy sees it: istiod gives the app cluster
// internal endpoint addresses, envoy://connect_originate/<pod ip:port>,
// served by an internal listener that tunnels each connection with HTTP/2
// CONNECT to the pod's HBONE port. upstream.address is then the internal
// address, and Envoy's override_host policy and stateful_session header name
// a host by that whole string. Here each app instance gets a CONNECT tunnel
// on loopback in front of it (upstream.Tunnel, ztunnel's part without mTLS),
// and the bootstrap's HBONE option adds the internal listener and its
// ORIGINAL_DST cluster as istiod builds them (the tunnel address and the
// pod address travel in the endpoint's "tunnel" metadata).

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/token"
	"github.com/vcap-sticky/vcap-sticky/upstream"
)

const ambientListener = "connect_originate"

// startTunnels puts a CONNECT tunnel in front of each instance.
func startTunnels(t *testing.T, insts []*upstream.Instance) map[string]*upstream.Tunnel {
	t.Helper()
	out := map[string]*upstream.Tunnel{}
	for _, in := range insts {
		tun, err := upstream.StartTunnel(in.Addr())
		require.NoError(t, err)
		t.Cleanup(func() { _ = tun.Close() })
		out[in.Addr()] = tun
	}
	return out
}

// overHBONE makes every endpoint of b an internal address reached through
// its instance's tunnel, and names the listener in the plugin's routes.
func overHBONE(tunnels map[string]*upstream.Tunnel, pluginKnowsListener bool) func(*Bootstrap) {
	return func(b *Bootstrap) {
		b.HBONE = true
		for ci := range b.Clusters {
			c := &b.Clusters[ci]
			if len(c.Endpoints) == 0 {
				continue
			}
			c.HBONE = true
			for ei := range c.Endpoints {
				c.Endpoints[ei].Tunnel = tunnels[c.Endpoints[ei].Addr()].Addr()
			}
		}
		if pluginKnowsListener && b.Wasm != nil && b.Wasm.Plugin != nil {
			for i := range b.Wasm.Plugin.Routes {
				b.Wasm.Plugin.Routes[i].InternalListener = ambientListener
			}
		}
	}
}

// asWaypoint routes cluster mode as an Istio waypoint does: no
// cluster_header (istiod never makes one) but a VirtualService route per
// pin value, matching the header exactly and going to a one-pod subset.
func asWaypoint(b *Bootstrap) {
	var routes []Route
	for _, in := range b.Wasm.Plugin.Routes[0].Instances {
		routes = append(routes, Route{Name: "pinned-" + in.ID, HeaderPresent: PinHeader, HeaderExact: in.Cluster,
			Cluster: in.Cluster, RequestHeadersToRemove: []string{PinHeader}})
	}
	b.Routes = append(routes, Route{Name: "default", Cluster: AppCluster})
}

func TestAmbientHBONE(t *testing.T) {
	t.Parallel()
	hostOf := func(in *upstream.Instance) string { return "envoy://" + ambientListener + "/" + in.Addr() }
	for _, tc := range []struct {
		name   string
		mode   PinningMode
		sealed bool
		adjust []func(*Bootstrap)
		// forged is what a client would put in the pin header to pick in.
		forged func(in *upstream.Instance) string
	}{
		{"gateway override_host", ModeOverrideHost, false, []func(*Bootstrap){retryOtherHosts}, hostOf},
		{"gateway stateful_session", ModeStatefulSession, false, []func(*Bootstrap){retryOtherHosts},
			func(in *upstream.Instance) string { return base64.StdEncoding.EncodeToString([]byte(hostOf(in))) }},
		{"gateway sealed without instances", ModeOverrideHost, true, []func(*Bootstrap){retryOtherHosts}, hostOf},
		{"waypoint cluster", ModeCluster, false, []func(*Bootstrap){asWaypoint, retryOtherHosts},
			func(in *upstream.Instance) string { return InstanceCluster(in.ID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			insts := StartInstances(t, DefaultIDs...)
			tunnels := startTunnels(t, insts)
			// Cluster mode pins by cluster name: the listener is not its
			// business, and the config refuses it there.
			hbone := overHBONE(tunnels, tc.mode != ModeCluster)
			var f *Fixture
			var ring *token.Ring
			if tc.sealed {
				key := sealedKey(5)
				f = StartSealedEnvoy(t, insts, SealedEnvoy{Keys: key,
					Extra: map[string]any{"routes": []any{map[string]any{"host": "*", "name": "shop", "internal_listener": ambientListener}}},
					Adjust: func(b *Bootstrap) {
						for _, a := range append(tc.adjust, hbone) {
							a(b)
						}
					}})
				var err error
				ring, err = token.ParseKeys(key)
				require.NoError(t, err)
			} else {
				b, err := NewBootstrap(tc.mode, wasmPath, PluginInstances(insts))
				require.NoError(t, err)
				for _, a := range append(tc.adjust, hbone) {
					a(&b)
				}
				yaml, err := b.Render()
				require.NoError(t, err)
				f = StartFixtureYAML(t, insts, b, yaml, EnvoyOptions{})
			}
			// What the cookie must say for the instance that served.
			names := func(v string, in *upstream.Instance) {
				t.Helper()
				if ring == nil {
					assert.Equal(t, in.ID, v)
					return
				}
				p, err := ring.Open(v, token.RouteTagOf("*", "/"), time.Now())
				require.NoError(t, err)
				assert.Equal(t, in.Addr(), p.Address.String(), "the token names the pod by its ip:port (the endpoint id)")
			}

			sessions := map[string]Session{}
			for _, in := range insts {
				s := f.SessionOn(t, in.ID)
				names(s.VCAPID, in)
				assert.Equal(t, map[string]int{in.ID: 10}, pinnedRequests(t, f, s, 10), "%s: pinned over HBONE", in.ID)
				sessions[in.ID] = s
			}
			var streams int64
			for _, tun := range tunnels {
				streams += tun.Streams()
				assert.Zero(t, tun.Refused(), "every CONNECT named its own pod")
			}
			assert.Positive(t, streams, "the requests went through the tunnels")

			// A client cannot pick a host by sending the pin header itself.
			c := f.Instance(t, "instance-c")
			requireSpread(t, f.Spread(t, spreadRequests, "/", http.Header{PinHeader: {tc.forged(c)}}), "forged "+PinHeader)

			// A stopped pod (its tunnel still answers, refusing the CONNECT):
			// its session moves once, with a new cookie that pins. At a
			// waypoint the pod's subset has no other host: 503 and no cookie
			// (as cluster mode without a composite cluster, which istiod
			// cannot make), until the pod leaves the instance map.
			a := f.Instance(t, "instance-a")
			require.NoError(t, a.Stop())
			before := counters(t, f.Envoy, "fallbacks", "cookies_refreshed")
			r := f.Get(t, "/", sessions["instance-a"].CookieHeader())
			if tc.mode == ModeCluster {
				require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s", r.Raw)
				assert.Empty(t, r.SetCookies(t, VCAPCookie))
				assertCounterDeltas(t, f.Envoy, before, nil)
				return
			}
			require.Equal(t, http.StatusOK, r.Status, "the retry policy absorbs the failed tunnel: %s", r.Raw)
			moved := f.Instance(t, r.Instance())
			require.NotEqual(t, "instance-a", moved.ID)
			v := oneCookie(t, r, VCAPCookie).Value
			names(v, moved)
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{"fallbacks": 1, "cookies_refreshed": 1})
			assert.Equal(t, map[string]int{moved.ID: 10},
				pinnedRequests(t, f, Session{JSessionID: sessions["instance-a"].JSessionID, VCAPID: v}, 10), "the new cookie pins")
			for _, id := range []string{"instance-b", "instance-c"} {
				assert.Equal(t, map[string]int{id: 5}, pinnedRequests(t, f, sessions[id], 5), "%s is unaffected", id)
			}
		})
	}
}

// Strict mode over HBONE: an unknown id is answered with gorouter's 502 by
// the filter, a known one pins, as with plain addresses.
func TestAmbientStrict(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, DefaultIDs...)
	b, err := NewBootstrap(ModeOverrideHost, wasmPath, PluginInstances(insts))
	require.NoError(t, err)
	overHBONE(startTunnels(t, insts), true)(&b)
	b.Wasm.Plugin.Strict = true
	yaml, err := b.Render()
	require.NoError(t, err)
	f := StartFixtureYAML(t, insts, b, yaml, EnvoyOptions{})

	r := f.Get(t, "/", Session{JSessionID: "s", VCAPID: "instance-z"}.CookieHeader())
	assert.Equal(t, http.StatusBadGateway, r.Status)
	assert.Equal(t, strictBody, string(r.Raw))
	s := f.SessionOn(t, "instance-b")
	assert.Equal(t, map[string]int{"instance-b": 10}, pinnedRequests(t, f, s, 10))
}
