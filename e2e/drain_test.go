package e2e

// Drain-aware pinning: an instance whose EDS health status is DRAINING (a
// pod being terminated, a Cloud Foundry instance on its way out) keeps the
// sessions pinned to it and gets no new ones; once it leaves the cluster its
// sessions fall back with a rewritten cookie. Envoy does this when the
// cluster's common_lb_config.override_host_status lists DRAINING: the
// load balancer skips draining hosts, a pin (override_host policy or the
// stateful_session header) may still select them.

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// drainStatuses are the statuses a pin may select (README "Envoy setup").
var drainStatuses = []string{"UNKNOWN", "HEALTHY", "DRAINING"}

func TestDrainingInstanceKeepsItsSessions(t *testing.T) {
	t.Parallel()
	for _, mode := range []PinningMode{ModeOverrideHost, ModeStatefulSession} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			insts := StartInstances(t, DefaultIDs...)
			eds := filepath.Join(t.TempDir(), "eds.json")
			WriteEDSHealth(t, eds, AppCluster, "1", nil, insts...)
			b, err := NewBootstrap(mode, wasmPath, PluginInstances(insts))
			require.NoError(t, err)
			retryOtherHosts(&b)
			for i := range b.Clusters {
				b.Clusters[i].OverrideHostStatuses = drainStatuses
			}
			yaml, err := b.Render()
			require.NoError(t, err)
			yaml, err = withEDSCluster(eds)(yaml)
			require.NoError(t, err)
			f := StartFixtureYAML(t, insts, b, yaml, EnvoyOptions{})
			awaitMembers(t, f, 3)

			a := f.SessionOn(t, "instance-a")
			b2 := f.SessionOn(t, "instance-b")

			// instance-a drains: its sessions stay, new sessions go elsewhere.
			WriteEDSHealth(t, eds, AppCluster, "2", map[string]string{"instance-a": "DRAINING"}, insts...)
			require.Eventually(t, func() bool {
				v, ok := f.Envoy.Stat(t, "cluster."+AppCluster+".membership_healthy")
				return ok && v == 2
			}, 10*time.Second, 50*time.Millisecond, "instance-a counted as not healthy")
			before := counters(t, f.Envoy, "fallbacks", "cookies_refreshed")
			assert.Equal(t, map[string]int{"instance-a": 20}, pinnedRequests(t, f, a, 20), "a draining instance keeps its sessions")
			assert.Equal(t, map[string]int{"instance-b": 10}, pinnedRequests(t, f, b2, 10))
			for i := range 30 {
				r := f.Get(t, "/?session=new", nil)
				require.Equal(t, http.StatusOK, r.Status)
				require.NotEqual(t, "instance-a", r.Instance(), "new session %d landed on the draining instance", i)
			}
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{})

			// instance-a is gone from the cluster: its session falls back once.
			WriteEDSHealth(t, eds, AppCluster, "3", nil, insts[1:]...)
			awaitMembers(t, f, 2)
			r := f.Get(t, "/", a.CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			require.NotEqual(t, "instance-a", r.Instance())
			v := oneCookie(t, r, VCAPCookie).Value
			assert.Equal(t, r.Instance(), v, "the cookie names the instance that served")
			assertCounterDeltas(t, f.Envoy, before, map[string]int64{"fallbacks": 1, "cookies_refreshed": 1})
			assert.Equal(t, map[string]int{r.Instance(): 10}, pinnedRequests(t, f, Session{JSessionID: a.JSessionID, VCAPID: v}, 10))
		})
	}
}
