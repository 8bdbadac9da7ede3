package e2e

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retryOtherHosts makes every route retry a connect failure or reset (up to
// twice) on a host not tried yet: how a request pinned to a stopped instance
// reaches another one. override_host consumes its header's host on the first
// attempt and uses its fallback policy on a retry; stateful_session's
// override host is likewise not used again on a retry (observed).
func retryOtherHosts(b *Bootstrap) {
	for i := range b.Routes {
		b.Routes[i].RetryOn = "connect-failure,reset"
		b.Routes[i].NumRetries = 2
		b.Routes[i].RetryOtherHosts = true
	}
}

// counters reads the filter's counters named, for before/after comparisons.
func counters(t *testing.T, e *Envoy, names ...string) map[string]int64 {
	t.Helper()
	out := make(map[string]int64, len(names))
	for _, n := range names {
		out[n] = e.FilterCounter(t, n)
	}
	return out
}

// assertCounterDeltas checks that each counter in before has risen by exactly
// its delta (counters missing from deltas must not have moved).
func assertCounterDeltas(t *testing.T, e *Envoy, before map[string]int64, deltas map[string]int64) {
	t.Helper()
	for name, was := range before {
		assert.Equal(t, was+deltas[name], e.FilterCounter(t, name), "counter %s", name)
	}
}

var allCounters = []string{
	"sticky_hits", "unknown_ids", "fallbacks", "cookies_set", "cookies_refreshed",
	"app_instance_routed", "app_instance_rejected", "strict_rejections",
}

// oneCookie returns the only Set-Cookie line for name.
func oneCookie(t *testing.T, r *Reply, name string) *http.Cookie {
	t.Helper()
	cs := r.SetCookies(t, name)
	require.Len(t, cs, 1, "one %s Set-Cookie: %q", name, r.SetCookieLines())
	return cs[0]
}

// TestFallbackRefreshesCookie: a session whose instance is stopped is served
// by another instance, and the response re-issues __VCAP_ID__ for it with the
// attributes the session was created with (restored from __VCAP_ID_META__,
// Max-Age as the remaining lifetime).
func TestFallbackRefreshesCookie(t *testing.T) {
	t.Parallel()
	for _, mode := range []PinningMode{ModeOverrideHost, ModeStatefulSession} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			f := StartFixture(t, mode, retryOtherHosts)
			const maxAge = 3600
			line := "JSESSIONID=fb1; Path=/; Max-Age=" + strconv.Itoa(maxAge) + "; Secure; SameSite=Strict"
			var created *Reply
			for range 10 { // round robin: instance-a within 3 tries
				created = f.Get(t, "/?"+url.Values{"set_cookie": {line}}.Encode(), nil)
				require.Equal(t, http.StatusOK, created.Status, "%s", created.Raw)
				if created.Instance() == "instance-a" {
					break
				}
			}
			require.Equal(t, "instance-a", created.Instance())
			issuedAt := time.Now()
			id := oneCookie(t, created, VCAPCookie)
			meta := oneCookie(t, created, MetaCookie)
			require.Equal(t, "instance-a", id.Value)
			require.Equal(t, maxAge, id.MaxAge, "%q", id.Raw)
			require.Equal(t, http.SameSiteStrictMode, id.SameSite, "%q", id.Raw)
			require.True(t, id.Secure, "%q", id.Raw)

			cookies := "JSESSIONID=fb1; " + VCAPCookie + "=instance-a; " + MetaCookie + "=" + meta.Value
			r := f.Get(t, "/", http.Header{"Cookie": {cookies}})
			require.Equal(t, "instance-a", r.Instance(), "pinned while running")
			require.Empty(t, r.SetCookieLines(), "same instance: no Set-Cookie")

			require.NoError(t, f.Instance(t, "instance-a").Stop())
			before := counters(t, f.Envoy, allCounters...)
			const n = 6
			for i := range n {
				r := f.Get(t, "/", http.Header{"Cookie": {cookies}})
				require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Raw)
				served := r.Instance()
				require.Contains(t, []string{"instance-b", "instance-c"}, served, "request %d", i)
				c := oneCookie(t, r, VCAPCookie)
				assert.Equal(t, served, c.Value, "request %d: re-issued for the instance that served it", i)
				assert.Equal(t, "/", c.Path)
				assert.True(t, c.HttpOnly, "%q", c.Raw)
				assert.True(t, c.Secure, "restored Secure: %q", c.Raw)
				assert.Equal(t, http.SameSiteStrictMode, c.SameSite, "restored SameSite: %q", c.Raw)
				elapsed := int(time.Since(issuedAt).Seconds()) + 1
				assert.True(t, c.MaxAge <= maxAge && c.MaxAge >= maxAge-elapsed-1,
					"request %d: Max-Age is the remaining lifetime (%d s after issue): %q", i, elapsed, c.Raw)
				assert.Empty(t, r.SetCookies(t, MetaCookie), "a refresh sends no new META: %q", r.SetCookieLines())
				assert.Empty(t, r.AppSaw(PinHeader))
			}
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{
				"sticky_hits": n, "fallbacks": n, "cookies_refreshed": n,
			})

			// Without META the refreshed cookie has the defaults.
			r = f.Get(t, "/", http.Header{"Cookie": {"JSESSIONID=fb1; " + VCAPCookie + "=instance-a"}})
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			c := oneCookie(t, r, VCAPCookie)
			assert.Equal(t, r.Instance(), c.Value)
			assert.True(t, c.HttpOnly)
			assert.False(t, c.Secure, "%q", c.Raw)
			assert.Zero(t, c.MaxAge, "%q", c.Raw)
			assert.Equal(t, http.SameSite(0), c.SameSite, "no SameSite: %q", c.Raw)

			// The re-issued cookie pins to the new instance.
			moved := "JSESSIONID=fb1; " + VCAPCookie + "=" + c.Value
			for i := range 10 {
				r := f.Get(t, "/", http.Header{"Cookie": {moved}})
				require.Equal(t, c.Value, r.Instance(), "request %d", i)
				assert.Empty(t, r.SetCookieLines())
			}
		})
	}
}

// TestPinningModesPin: in the stateful_session and cluster modes (override_host
// is TestStickyClientPinnedOthersSpread), a session stays on the instance that
// created it while cookie-less requests spread; the app never sees the pin
// header, and a client cannot choose the upstream by sending it (base64 of an
// address, or a cluster name) with or without a session.
func TestPinningModesPin(t *testing.T) {
	t.Parallel()
	for _, mode := range []PinningMode{ModeStatefulSession, ModeCluster} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			f := StartFixture(t, mode)
			sessions := map[string]Session{}
			for _, id := range DefaultIDs {
				sessions[id] = f.SessionOn(t, id)
				require.Equal(t, id, sessions[id].VCAPID)
			}
			hits := f.Envoy.FilterCounter(t, "sticky_hits")

			const rounds = 40
			unpinned := map[string]int{}
			for i := range rounds {
				for _, id := range DefaultIDs {
					r := f.Get(t, "/cart", sessions[id].CookieHeader())
					require.Equal(t, http.StatusOK, r.Status, "round %d: %s", i, r.Raw)
					require.Equal(t, id, r.Instance(), "round %d: session of %s landed elsewhere", i, id)
					assert.Empty(t, r.SetCookieLines(), "round %d: pinned, no Set-Cookie", i)
					assert.Empty(t, r.AppSaw(PinHeader), "round %d: the app never sees %s", i, PinHeader)
					assert.Empty(t, r.Header.Values(PinHeader), "round %d: nor does the client", i)
				}
				r := f.Get(t, "/cart", nil)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
				unpinned[r.Instance()]++
			}
			requireSpread(t, unpinned, string(mode)+": cookie-less requests (interleaved)")
			assert.Equal(t, hits+rounds*int64(len(DefaultIDs)), f.Envoy.FilterCounter(t, "sticky_hits"))

			// What Envoy would act on in this mode, naming instance-b.
			b := f.Instance(t, "instance-b")
			forged := b.Addr()
			switch mode {
			case ModeStatefulSession:
				forged = base64.StdEncoding.EncodeToString([]byte(b.Addr()))
			case ModeCluster:
				forged = InstanceCluster(b.ID)
			}
			counts := map[string]int{}
			for i := range spreadRequests {
				r := f.Get(t, "/", http.Header{PinHeader: {forged}})
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
				assert.Empty(t, r.AppSaw(PinHeader), "request %d: the client's %s is dropped", i, PinHeader)
				counts[r.Instance()]++
			}
			requireSpread(t, counts, string(mode)+": client-sent "+PinHeader+": "+forged)

			h := sessions["instance-a"].CookieHeader()
			h.Set(PinHeader, forged)
			for i := range 20 {
				r := f.Get(t, "/", h)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
				require.Equal(t, "instance-a", r.Instance(), "request %d: the cookie wins over a forged %s", i, PinHeader)
			}
		})
	}
}

// compositeInstanceClusters turns each instance's cluster (the name in the
// plugin config) into a composite cluster: the first attempt goes to the
// instance alone (cluster "<name>-host"), retries to the app cluster. The
// app cluster is listed twice: the previous_hosts predicate does not keep the
// composite's sub-cluster from picking the stopped host again (observed), and
// round robin picks another one on the next attempt.
func compositeInstanceClusters(b *Bootstrap) {
	var out []Cluster
	for _, c := range b.Clusters {
		if c.Name == AppCluster {
			out = append(out, c)
			continue
		}
		host := c
		host.Name += "-host"
		out = append(out, host, Cluster{Name: c.Name, Composite: []string{host.Name, AppCluster, AppCluster}})
	}
	b.Clusters = out
}

// TestClusterModeStoppedInstance: in the cluster mode a pinned instance's own
// cluster has no other host, so retries alone cannot fall back: a session
// whose instance is stopped gets Envoy's 503 and no cookie. With a composite
// cluster per instance (instance first, the app cluster on retry) the request
// falls back and the cookie is re-issued as in the other modes.
func TestClusterModeStoppedInstance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		adjust []func(*Bootstrap)
		status int
		needs  *feature
	}{
		{"retryOtherHosts", []func(*Bootstrap){retryOtherHosts}, http.StatusServiceUnavailable, nil},
		{"composite clusters", []func(*Bootstrap){retryOtherHosts, compositeInstanceClusters}, http.StatusOK, &compositeCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.needs != nil && refusedByOlderEnvoy(t, *tc.needs, ModeCluster, tc.adjust...) {
				return
			}
			f := StartFixture(t, ModeCluster, tc.adjust...)
			s := f.SessionOn(t, "instance-a")
			for i := range 10 {
				require.Equal(t, "instance-a", f.Get(t, "/", s.CookieHeader()).Instance(), "request %d: pinned while running", i)
			}
			require.NoError(t, f.Instance(t, "instance-a").Stop())
			before := counters(t, f.Envoy, allCounters...)
			const n = 6
			for i := range n {
				r := f.Get(t, "/", s.CookieHeader())
				require.Equal(t, tc.status, r.Status, "request %d: %s", i, r.Raw)
				if tc.status != http.StatusOK {
					assert.Empty(t, r.SetCookies(t, VCAPCookie), "no upstream answered: no cookie")
					continue
				}
				assert.NotEqual(t, "instance-a", r.Instance(), "request %d", i)
				assert.Equal(t, r.Instance(), oneCookie(t, r, VCAPCookie).Value, "request %d: re-issued", i)
				assert.Empty(t, r.AppSaw(PinHeader))
			}
			deltas := map[string]int64{"sticky_hits": n}
			if tc.status == http.StatusOK {
				deltas["fallbacks"], deltas["cookies_refreshed"] = n, n
			}
			assertCounterDeltas(t, f.Envoy, before, deltas)

			r := f.Get(t, "/?session=new", nil)
			require.Equal(t, http.StatusOK, r.Status, "a new session works: %s", r.Raw)
			assert.NotEqual(t, "instance-a", r.Instance())
		})
	}
}

// strictBody is the filter's 502 body in strict mode (gorouter's wording).
const strictBody = "502 Bad Gateway: Registered endpoint failed to handle the request.\n"

// TestStrictMode: with "strict": true an unknown __VCAP_ID__ next to a session
// cookie is answered by the filter with gorouter's 502, and no instance sees
// the request; without a session cookie the id is ignored as usual.
func TestStrictMode(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost, func(b *Bootstrap) { b.Wasm.Plugin.Strict = true })
	served := func() (n int64) {
		for _, in := range f.Instances {
			n += in.Requests()
		}
		return n
	}
	before, reqs := counters(t, f.Envoy, allCounters...), served()
	for _, id := range []string{"instance-z", "INSTANCE-A", "instance-a-0"} {
		r := f.Get(t, "/", http.Header{"Cookie": {"JSESSIONID=s; " + VCAPCookie + "=" + id}})
		assert.Equal(t, http.StatusBadGateway, r.Status, "%s: %s", id, r.Raw)
		assert.Equal(t, "endpoint_failure (No endpoints available)", r.Header.Get("X-Cf-Routererror"), id)
		assert.Equal(t, strictBody, string(r.Raw), id)
		assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"), id)
		assert.Equal(t, "no-cache, no-store", r.Header.Get("Cache-Control"), id)
		assert.Empty(t, r.SetCookieLines(), "%s: a local reply sets no cookie", id)
	}
	assertCounterDeltas(t, f.Envoy, before, map[string]int64{"unknown_ids": 3, "strict_rejections": 3})
	assert.Equal(t, reqs, served(), "no instance saw a rejected request")

	// __VCAP_ID__ without a session cookie is not sticky, so not strict either.
	requireSpread(t, f.Spread(t, spreadRequests, "/", http.Header{"Cookie": {VCAPCookie + "=instance-z"}}),
		"unknown __VCAP_ID__ alone")
	// A known id is pinned as usual.
	s := f.SessionOn(t, "instance-c")
	for i := range 10 {
		r := f.Get(t, "/", s.CookieHeader())
		require.Equal(t, "instance-c", r.Instance(), "request %d", i)
	}
}

// TestStrictModeStoppedInstance: strict mode knows only the configured
// instances, not whether they run. A session pinned to a stopped instance is
// decided by Envoy: without a retry policy Envoy answers 503 (the override
// host refuses the connection); with retryOtherHosts the retry falls back to
// another instance and the cookie is re-issued, as in non-strict mode.
func TestStrictModeStoppedInstance(t *testing.T) {
	t.Parallel()
	strict := func(b *Bootstrap) { b.Wasm.Plugin.Strict = true }
	for _, tc := range []struct {
		name   string
		adjust []func(*Bootstrap)
		status int
	}{
		{"no retries", []func(*Bootstrap){strict}, http.StatusServiceUnavailable},
		{"retryOtherHosts", []func(*Bootstrap){strict, retryOtherHosts}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := StartFixture(t, ModeOverrideHost, tc.adjust...)
			s := f.SessionOn(t, "instance-b")
			require.NoError(t, f.Instance(t, "instance-b").Stop())
			before := counters(t, f.Envoy, allCounters...)
			r := f.Get(t, "/", s.CookieHeader())
			require.Equal(t, tc.status, r.Status, "%s", r.Raw)
			assert.Empty(t, r.Header.Get("X-Cf-Routererror"), "not the filter's strict 502")
			deltas := map[string]int64{"sticky_hits": 1}
			if tc.status == http.StatusOK {
				assert.NotEqual(t, "instance-b", r.Instance())
				assert.Equal(t, r.Instance(), oneCookie(t, r, VCAPCookie).Value, "re-issued")
				deltas["fallbacks"], deltas["cookies_refreshed"] = 1, 1
			} else {
				assert.Empty(t, r.SetCookieLines())
			}
			assertCounterDeltas(t, f.Envoy, before, deltas)
		})
	}
}

const (
	appGUID   = "2f7d6c1a-0b3e-4c5d-8e9f-0a1b2c3d4e5f"
	otherGUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
)

// withAppInstances gives the route's instances appGUID and index 0, 1, 2.
func withAppInstances(b *Bootstrap) {
	for i := range b.Wasm.Plugin.Routes[0].Instances {
		b.Wasm.Plugin.Routes[0].Instances[i].AppGUID = appGUID
		b.Wasm.Plugin.Routes[0].Instances[i].Index = &i
	}
}

// TestAppInstanceHeader: X-CF-App-Instance: <guid>:<index> routes to that
// instance; a malformed value is a 400 invalid_cf_app_instance_header and a
// well-formed unknown one a 400 unknown_route naming index, guid and host. The
// header never reaches the app, and an empty one is ignored (gorouter tests
// the value, not the header's presence).
func TestAppInstanceHeader(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost, withAppInstances)
	const header = "X-Cf-App-Instance"

	t.Run("routed", func(t *testing.T) {
		before := counters(t, f.Envoy, allCounters...)
		const rounds = 10
		for i := range rounds {
			for idx, id := range DefaultIDs {
				r := f.Get(t, "/", http.Header{header: {appGUID + ":" + strconv.Itoa(idx)}})
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
				require.Equal(t, id, r.Instance(), "round %d: index %d", i, idx)
				assert.Empty(t, r.AppSaw(header), "the app never sees %s", header)
				assert.Empty(t, r.AppSaw(PinHeader))
				assert.Empty(t, r.SetCookieLines(), "no session: no cookie")
			}
		}
		assertCounterDeltas(t, f.Envoy, before, map[string]int64{"app_instance_routed": rounds * 3})
	})

	t.Run("rewrites a stale session", func(t *testing.T) {
		s := f.SessionOn(t, "instance-a")
		h := s.CookieHeader()
		h.Set(header, appGUID+":2")
		r := f.Get(t, "/", h)
		require.Equal(t, "instance-c", r.Instance(), "the header wins over the cookie")
		assert.Equal(t, "instance-c", oneCookie(t, r, VCAPCookie).Value, "cookie re-issued for the targeted instance")
	})

	t.Run("malformed", func(t *testing.T) {
		for _, v := range []string{
			"not-a-guid:0",
			appGUID,                         // no index
			appGUID + ":",                   // empty index
			appGUID + ":x",                  // not digits
			appGUID + ":-1",                 // sign
			appGUID + ":1:2",                // a second colon
			appGUID + ":1 2",                // inner space
			strings.ToUpper(appGUID) + ":0", // upper-case hex
			"{" + appGUID + "}:0",           // braces
			strings.ReplaceAll(appGUID, "-", "") + ":0", // no dashes
			":0",
		} {
			before := counters(t, f.Envoy, allCounters...)
			r := f.Get(t, "/", http.Header{header: {v}})
			assert.Equal(t, http.StatusBadRequest, r.Status, "%q: %s", v, r.Raw)
			assert.Equal(t, "invalid_cf_app_instance_header", r.Header.Get("X-Cf-Routererror"), "%q", v)
			assert.Equal(t, "400 Bad Request: Invalid X-CF-App-Instance Header\n", string(r.Raw), "%q", v)
			assert.Equal(t, "no-cache, no-store", r.Header.Get("Cache-Control"), "%q", v)
			assert.Empty(t, r.Instance(), "%q: no instance answered", v)
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{"app_instance_rejected": 1})
		}
	})

	t.Run("unknown", func(t *testing.T) {
		const host = "shop.example.com"
		for _, tc := range []struct{ guid, index string }{
			{appGUID, "3"},
			{appGUID, "01"},          // gorouter compares the index as text
			{appGUID, "12345678901"}, // and takes any run of digits
			{otherGUID, "0"},
		} {
			before := counters(t, f.Envoy, allCounters...)
			r := f.GetHost(t, host, "/", http.Header{header: {tc.guid + ":" + tc.index}})
			assert.Equal(t, http.StatusBadRequest, r.Status, "%+v: %s", tc, r.Raw)
			assert.Equal(t, "unknown_route", r.Header.Get("X-Cf-Routererror"), "%+v", tc)
			assert.Equal(t, "400 Bad Request: Requested instance ('"+tc.index+"') with guid ('"+tc.guid+
				"') does not exist for route ('"+host+"')\n", string(r.Raw))
			assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
			assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
			assert.Empty(t, r.Instance(), "%+v: no instance answered", tc)
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{"app_instance_rejected": 1})
		}
	})

	t.Run("empty is ignored", func(t *testing.T) {
		before := counters(t, f.Envoy, allCounters...)
		requireSpread(t, f.Spread(t, spreadRequests, "/", http.Header{header: {""}}), "empty "+header)
		r := f.Get(t, "/", http.Header{header: {""}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		assert.Nil(t, r.AppSaw(header), "an empty %s is removed too", header)
		assertCounterDeltas(t, f.Envoy, before, nil)
	})
}

// TestOtherRoutesIDIgnored: ids are looked up only in the request's own
// route. Two routes share the instances under different ids ("/" and
// "/other"); an id of the other route is unknown: normal balancing, the
// cookie is re-issued for the instance that served (with the route's Path).
func TestOtherRoutesIDIgnored(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost, func(b *Bootstrap) {
		other := PluginRoute{Host: "*", Path: "/other"}
		for _, in := range b.Wasm.Plugin.Routes[0].Instances {
			in.ID = "other-" + in.ID
			other.Instances = append(other.Instances, in)
		}
		b.Wasm.Plugin.Routes = append(b.Wasm.Plugin.Routes, other)
	})
	for _, tc := range []struct {
		path, foreignID, ownPrefix, cookiePath string
	}{
		{"/cart", "other-instance-b", "", "/"},
		{"/otherwise", "other-instance-b", "", "/"}, // not under /other
		{"/other/cart", "instance-b", "other-", "/other"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			before := counters(t, f.Envoy, allCounters...)
			h := http.Header{"Cookie": {"JSESSIONID=s; " + VCAPCookie + "=" + tc.foreignID}}
			counts := map[string]int{}
			for i := range spreadRequests {
				r := f.Get(t, tc.path, h)
				require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
				counts[r.Instance()]++
				c := oneCookie(t, r, VCAPCookie)
				assert.Equal(t, tc.ownPrefix+r.Instance(), c.Value, "request %d: re-issued with this route's id", i)
				assert.Equal(t, tc.cookiePath, c.Path)
			}
			requireSpread(t, counts, tc.path+" with "+tc.foreignID)
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{
				"unknown_ids": spreadRequests, "fallbacks": spreadRequests, "cookies_refreshed": spreadRequests,
			})

			// The route's own id for instance-b pins.
			own := http.Header{"Cookie": {"JSESSIONID=s; " + VCAPCookie + "=" + tc.ownPrefix + "instance-b"}}
			for i := range 10 {
				r := f.Get(t, tc.path, own)
				require.Equal(t, "instance-b", r.Instance(), "request %d", i)
				assert.Empty(t, r.SetCookieLines())
			}
		})
	}
}

// TestSessionDeletionMirrored: when the app deletes its session cookie,
// __VCAP_ID__ (and META) carry the same deletion, so the browser drops them.
func TestSessionDeletionMirrored(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost)
	s := f.SessionOn(t, "instance-b")
	epoch := time.Unix(0, 0).UTC()
	for _, tc := range []struct {
		name, query string
		expires     time.Time // zero: no Expires
	}{
		{"session=delete (Max-Age=0)", "session=delete", time.Time{}},
		{"negative Max-Age", url.Values{"set_cookie": {"JSESSIONID=; Path=/; Max-Age=-1"}}.Encode(), time.Time{}},
		{"Expires in the past", url.Values{"set_cookie": {"JSESSIONID=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}}.Encode(), epoch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counters(t, f.Envoy, allCounters...)
			r := f.Get(t, "/logout?"+tc.query, s.CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			require.Equal(t, "instance-b", r.Instance(), "still pinned")
			for _, name := range []string{VCAPCookie, MetaCookie} {
				c := oneCookie(t, r, name)
				assert.Equal(t, "/", c.Path, "%q", c.Raw)
				if tc.expires.IsZero() {
					assert.Less(t, c.MaxAge, 0, "%s deleted: %q", name, c.Raw)
					assert.Contains(t, c.Raw, "Max-Age=0", "%q", c.Raw)
				} else {
					assert.True(t, c.Expires.Equal(tc.expires), "%s expires with the session: %q", name, c.Raw)
					assert.Zero(t, c.MaxAge, "%q", c.Raw)
				}
			}
			assert.Equal(t, "instance-b", oneCookie(t, r, VCAPCookie).Value)
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{"sticky_hits": 1, "cookies_set": 1})
		})
	}
}

// TestSharedGatewayLeavesOtherHostsAlone: on a gateway shared with apps the
// filter does not serve, their requests and responses pass through as they
// are: X-CF-App-Instance (valid or not) reaches the app, sticky cookies do
// not pin, a session the app starts gets no __VCAP_ID__, nothing is counted.
// Only the filter's own pin header is dropped everywhere: Envoy's pinning
// mechanism trusts it. The served host, for contrast, gets gorouter's rules.
func TestSharedGatewayLeavesOtherHostsAlone(t *testing.T) {
	t.Parallel()
	const served, foreign = "shop.example.com", "blog.example.org"
	f := StartFixture(t, ModeOverrideHost, withAppInstances, func(b *Bootstrap) {
		b.Wasm.Plugin.Routes[0].Host = served
		b.Clusters[0].StripRequestHeaders = nil // let the app show what reached it
	})
	before := counters(t, f.Envoy, allCounters...)
	for _, v := range []string{appGUID + ":0", "garbage", strings.ToUpper(appGUID) + ":1"} {
		r := f.GetHost(t, foreign, "/", http.Header{"X-Cf-App-Instance": {v}})
		require.Equal(t, http.StatusOK, r.Status, "%q: %s", v, r.Raw)
		assert.Equal(t, []string{v}, r.AppSaw("X-Cf-App-Instance"), "passed on untouched")
		assert.Empty(t, r.SetCookieLines())
	}
	sticky := http.Header{"Cookie": {"JSESSIONID=s; " + VCAPCookie + "=instance-b"}}
	counts := map[string]int{}
	for range spreadRequests {
		r := f.GetHost(t, foreign, "/", sticky)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		counts[r.Instance()]++
		assert.Empty(t, r.SetCookieLines())
		assert.Empty(t, r.AppSaw(PinHeader), "no pin for a host the filter does not serve")
	}
	requireSpread(t, counts, "sticky cookies on "+foreign)
	r := f.GetHost(t, foreign, "/?session=new", nil)
	require.Len(t, r.SetCookieLines(), 1, "only the app's own cookie: %q", r.SetCookieLines())
	assert.True(t, strings.HasPrefix(r.SetCookieLines()[0], "JSESSIONID="), r.SetCookieLines()[0])
	forged := f.GetHost(t, foreign, "/", http.Header{PinHeader: {f.Instances[2].Addr()}})
	assert.Empty(t, forged.AppSaw(PinHeader), "the filter's own header is dropped for every host")
	assertCounterDeltas(t, f.Envoy, before, map[string]int64{})

	// The served host: gorouter's rules.
	bad := f.GetHost(t, served, "/", http.Header{"X-Cf-App-Instance": {"garbage"}})
	assert.Equal(t, http.StatusBadRequest, bad.Status)
	pinned := f.GetHost(t, served, "/", sticky)
	assert.Equal(t, "instance-b", pinned.Instance())
}
