package e2e

// Kubernetes without an instance map: a sealed route that lists no
// instances and reads no endpoint metadata names each served pod by its
// address. The cluster's endpoints come from a file (EDS), addresses only,
// as Istio and Envoy Gateway send a Service's pods; a rollout replaces every
// endpoint without touching the plugin config.

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/token"
	"github.com/vcap-sticky/vcap-sticky/upstream"
)

func TestRolloutWithoutInstanceMap(t *testing.T) {
	t.Parallel()
	old := StartInstances(t, "old-a", "old-b", "old-c")
	eds := filepath.Join(t.TempDir(), "eds.json")
	WriteEDSAddresses(t, eds, AppCluster, "1", old...)
	key := sealedKey(9)
	// Two gateway replicas sharing the key, reading the same endpoints.
	replica := func() *Fixture {
		f := StartSealedEnvoy(t, old, SealedEnvoy{
			Keys:       key,
			Extra:      map[string]any{"routes": []any{map[string]any{"host": "*", "name": "shop"}}},
			AdjustYAML: withEDSCluster(eds),
		})
		awaitMembers(t, f, 3)
		return f
	}
	a, b := replica(), replica()

	ring, err := token.ParseKeys(key)
	require.NoError(t, err)
	// The token names the pod that served by its address, nothing else.
	addressOf := func(f *Fixture, v string) string {
		t.Helper()
		checkToken(t, f, v)
		p, err := ring.Open(v, token.RouteTagOf("*", "/"), time.Now())
		require.NoError(t, err)
		require.Equal(t, p.Address.String(), p.ID, "the address is the instance id")
		return p.Address.String()
	}
	byID := map[string]*upstream.Instance{}
	for _, in := range old {
		byID[in.ID] = in
	}
	sessions := map[string]Session{}
	for _, in := range old {
		s := a.SessionOn(t, in.ID)
		assert.Equal(t, netip.MustParseAddrPort(in.Addr()).String(), addressOf(a, s.VCAPID))
		assert.Equal(t, map[string]int{in.ID: 10}, pinnedRequests(t, a, s, 10), "pinned on replica A")
		assert.Equal(t, map[string]int{in.ID: 10}, pinnedRequests(t, b, s, 10), "and on replica B")
		sessions[in.ID] = s
	}
	modified := func(f *Fixture) int64 { return f.Envoy.Counter(t, "listener_manager.listener_modified") }
	before := map[*Fixture]map[string]int64{}
	for _, f := range []*Fixture{a, b} {
		require.Zero(t, modified(f))
		before[f] = counters(t, f.Envoy, "fallbacks", "cookies_refreshed", "cookies_set", "sticky_hits")
	}

	// The rollout: new pods on new addresses come up and join the Service,
	// then the old ones leave it and stop.
	fresh := StartInstances(t, "new-a", "new-b", "new-c")
	WriteEDSAddresses(t, eds, AppCluster, "2", append(append([]*upstream.Instance{}, old...), fresh...)...)
	awaitMembers(t, a, 6)
	awaitMembers(t, b, 6)
	for id, s := range sessions {
		assert.Equal(t, map[string]int{id: 5}, pinnedRequests(t, b, s, 5), "%s while both generations serve", id)
	}
	WriteEDSAddresses(t, eds, AppCluster, "3", fresh...)
	awaitMembers(t, a, 3)
	awaitMembers(t, b, 3)
	for _, in := range old {
		require.NoError(t, in.Stop())
	}
	newIDs := []string{"new-a", "new-b", "new-c"}

	// Each old session falls back once, on whichever replica it reaches, and
	// gets a cookie for its new pod that both replicas honour.
	fallbacks := map[*Fixture]int64{}
	i := 0
	for id, s := range sessions {
		f := []*Fixture{a, b}[i%2]
		i++
		r := f.Get(t, "/", s.CookieHeader())
		require.Equal(t, http.StatusOK, r.Status, "%s: %s", id, r.Raw)
		moved := r.Instance()
		require.Contains(t, newIDs, moved, "%s moves to a new pod", id)
		v := oneCookie(t, r, VCAPCookie).Value
		for _, in := range fresh {
			if in.ID == moved {
				assert.Equal(t, netip.MustParseAddrPort(in.Addr()).String(), addressOf(f, v), "a cookie for the pod that served")
			}
		}
		fallbacks[f]++
		next := Session{JSessionID: s.JSessionID, VCAPID: v}
		assert.Equal(t, map[string]int{moved: 10}, pinnedRequests(t, a, next, 10), "%s's new cookie pins on A", id)
		assert.Equal(t, map[string]int{moved: 10}, pinnedRequests(t, b, next, 10), "and on B")
	}
	for _, f := range []*Fixture{a, b} {
		assert.Equal(t, before[f]["fallbacks"]+fallbacks[f], f.Envoy.FilterCounter(t, "fallbacks"))
		assert.Equal(t, before[f]["cookies_refreshed"]+fallbacks[f], f.Envoy.FilterCounter(t, "cookies_refreshed"))
	}

	// New sessions land on new pods and stick; no config changed anywhere.
	a.Instances = fresh
	for _, id := range newIDs {
		s := a.SessionOn(t, id)
		assert.Equal(t, map[string]int{id: 10}, pinnedRequests(t, b, s, 10), "a new session on %s", id)
	}
	for _, f := range []*Fixture{a, b} {
		assert.Zero(t, modified(f), "no listener (and so no plugin config) was replaced")
		fiveXX, _ := f.Envoy.Stat(t, "cluster."+AppCluster+".upstream_rq_5xx") // made at the first 5xx
		assert.Zero(t, fiveXX, "no 5xx from the app cluster")
		assert.Positive(t, f.Envoy.Counter(t, "cluster."+AppCluster+".upstream_rq_2xx"))
	}
}
