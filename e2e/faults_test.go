package e2e

// Faults around a running session. Covered elsewhere, not repeated here:
//   - the pinned instance stops: fallback with the cookie rewritten
//     (TestFallbackRefreshesCookie, TestClusterModeStoppedInstance) or
//     Envoy's 503 / the filter's strict 502 (TestStrictModeStoppedInstance,
//     TestStrictMode), in semantics_test.go;
//   - the config replaced by an invalid one (and a module that does not
//     load): rejected, the previous one keeps serving under load
//     (TestECDSLiveConfigUpdate in ecds_test.go).

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstanceComesBack: a session's instance stops (requests fall back,
// the cookie is re-issued for the instance that served) and comes back on the
// same address: a cookie that still names it is pinned to it again, and a
// session that moved during the outage stays where it moved (no flapping).
func TestInstanceComesBack(t *testing.T) {
	t.Parallel()
	for _, mode := range []PinningMode{ModeOverrideHost, ModeStatefulSession} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			f := StartFixture(t, mode, retryOtherHosts)
			b := f.Instance(t, "instance-b")
			s := f.SessionOn(t, "instance-b")
			for i := range 5 {
				require.Equal(t, "instance-b", f.Get(t, "/", s.CookieHeader()).Instance(), "request %d: pinned while running", i)
			}

			require.NoError(t, b.Stop())
			r := f.Get(t, "/", s.CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			moved := r.Instance()
			require.Contains(t, []string{"instance-a", "instance-c"}, moved, "fell back while instance-b is down")
			require.Equal(t, moved, oneCookie(t, r, VCAPCookie).Value, "the cookie is re-issued for the instance that served")
			movedSession := Session{JSessionID: s.JSessionID, VCAPID: moved}

			servedBefore := b.Requests()
			require.NoError(t, b.Restart())
			require.Equal(t, s.VCAPID, "instance-b")
			before := counters(t, f.Envoy, allCounters...)
			const n = 10
			for i := range n {
				// The browser that kept the old cookie (e.g. the refresh was lost).
				r := f.Get(t, "/", s.CookieHeader())
				require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Raw)
				require.Equal(t, "instance-b", r.Instance(), "request %d: back on instance-b", i)
				assert.Empty(t, r.SetCookieLines(), "request %d: served by its own instance, no cookie", i)
				// The browser that took the refreshed cookie stays put.
				r = f.Get(t, "/", movedSession.CookieHeader())
				require.Equal(t, moved, r.Instance(), "request %d: the moved session stays on %s", i, moved)
				assert.Empty(t, r.SetCookieLines())
			}
			assert.Equal(t, servedBefore+n, b.Requests(), "instance-b served exactly the requests pinned to it")
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{"sticky_hits": 2 * n})

			// New sessions go to instance-b again too.
			ns := f.SessionOn(t, "instance-b")
			assert.Equal(t, "instance-b", ns.VCAPID)
		})
	}
}

// TestEnvoyRestartKeepsSessions: Envoy stops and starts again with the same
// configuration (the same rendered bootstrap, the same listener port). The
// cookie is the instance id, not state kept in Envoy, so every session is
// pinned where it was, and new sessions get the same id for the same
// instance.
func TestEnvoyRestartKeepsSessions(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, DefaultIDs...)
	b, err := NewBootstrap(ModeOverrideHost, wasmPath, PluginInstances(insts))
	require.NoError(t, err)
	b.ListenerPort = FreePort(t)

	first := &Fixture{Instances: insts, Bootstrap: b, Client: NewClient()}
	first.Envoy = StartEnvoy(t, b)
	sessions := map[string]Session{}
	for _, id := range DefaultIDs {
		sessions[id] = first.SessionOn(t, id)
		require.Equal(t, id, sessions[id].VCAPID)
	}
	listener := first.Envoy.ListenerAddr
	first.Client.CloseIdleConnections()
	first.Envoy.Stop()
	exited, _ := first.Envoy.Exited()
	require.True(t, exited)

	second := &Fixture{Instances: insts, Bootstrap: b, Client: NewClient()}
	defer second.Client.CloseIdleConnections()
	second.Envoy = StartEnvoy(t, b)
	require.Equal(t, listener, second.Envoy.ListenerAddr, "the same listener address")
	require.Zero(t, second.Envoy.FilterCounter(t, "sticky_hits"), "a new Envoy: no state carried over")
	for i := range 10 {
		for _, id := range DefaultIDs {
			r := second.Get(t, "/", sessions[id].CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			require.Equal(t, id, r.Instance(), "round %d: the session created before the restart stays on %s", i, id)
			assert.Empty(t, r.SetCookieLines())
		}
	}
	assert.Equal(t, int64(10*len(DefaultIDs)), second.Envoy.FilterCounter(t, "sticky_hits"))
	for _, id := range DefaultIDs {
		assert.Equal(t, id, second.SessionOn(t, id).VCAPID, "the same id for the same instance after the restart")
	}
	v, ok := second.Envoy.Stat(t, FilterStat("panics"))
	assert.True(t, ok)
	assert.Zero(t, v)
}
