package e2e

// What TestIstioConfig and TestEnvoyGatewayConfig check alike: a gateway
// configuration a control plane generated (istiod, Envoy Gateway), the filter
// sealed with no instance list, in front of three instances.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/token"
	"github.com/vcap-sticky/vcap-sticky/upstream"
)

// generatedGateway is Envoy running a generated configuration for host.
type generatedGateway struct {
	*Fixture
	host     string
	ring     *token.Ring
	sessions map[string]Session // one per instance, by instance id
}

// startGeneratedGateway starts the instances and Envoy with the bootstrap
// made for them. key is the ring the VM reads from Envoy's environment (the
// caller has set it).
func startGeneratedGateway(t *testing.T, key, host, listener string, bootstrap func([]*upstream.Instance) string) *generatedGateway {
	t.Helper()
	insts := StartInstances(t, DefaultIDs...)
	f := StartFixtureYAML(t, insts, Bootstrap{}, bootstrap(insts), EnvoyOptions{ListenerName: listener})
	f.Host = host
	ring, err := token.ParseKeys(key)
	require.NoError(t, err)
	return &generatedGateway{Fixture: f, host: host, ring: ring, sessions: map[string]Session{}}
}

// addressIn opens a __VCAP_ID__ token for the route and returns its address.
func (g *generatedGateway) addressIn(t *testing.T, v string) string {
	t.Helper()
	p, err := g.ring.Open(v, token.RouteTagOf(g.host, "/"), time.Now())
	require.NoError(t, err, "a token for route %s", g.host)
	return p.Address.String()
}

// sessionsStick makes a session on each instance: it gets a token naming
// that instance, and both cookies stick. each runs on every session's reply.
func (g *generatedGateway) sessionsStick(t *testing.T, each func(*Reply)) {
	t.Helper()
	for _, in := range g.Instances {
		s := g.SessionOn(t, in.ID)
		checkToken(t, g.Fixture, s.VCAPID)
		assert.Equal(t, in.Addr(), g.addressIn(t, s.VCAPID))
		assert.Equal(t, map[string]int{in.ID: 10}, pinnedRequests(t, g.Fixture, s, 10), "%s", in.ID)
		if each != nil {
			r := g.Get(t, "/", s.CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			each(r)
		}
		g.sessions[in.ID] = s
	}
}

// stoppedInstanceFallsBack stops instance-a: the generated retry policy
// reaches another instance, the cookie is rewritten for it and sticks there,
// and the other sessions stay where they are.
func (g *generatedGateway) stoppedInstanceFallsBack(t *testing.T) {
	t.Helper()
	require.NoError(t, g.Instance(t, "instance-a").Stop())
	r := g.Get(t, "/", g.sessions["instance-a"].CookieHeader())
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	moved := g.Instance(t, r.Instance())
	require.NotEqual(t, "instance-a", moved.ID)
	v := oneCookie(t, r, VCAPCookie).Value
	assert.Equal(t, moved.Addr(), g.addressIn(t, v), "a cookie for the instance that served")
	assert.Equal(t, map[string]int{moved.ID: 10}, pinnedRequests(t, g.Fixture, Session{JSessionID: g.sessions["instance-a"].JSessionID, VCAPID: v}, 10))
	for _, id := range []string{"instance-b", "instance-c"} {
		assert.Equal(t, map[string]int{id: 5}, pinnedRequests(t, g.Fixture, g.sessions[id], 5), "%s", id)
	}
}

// countedAndStarted: the filter's counters reach Envoy's stats (the shipped
// batching: wait for the flush), nothing panicked, and the plugin started in
// mode. It returns the start log lines.
func (g *generatedGateway) countedAndStarted(t *testing.T, mode string) string {
	t.Helper()
	require.Eventually(t, func() bool {
		v, ok := g.Envoy.Stat(t, FilterStat("fallbacks"))
		return ok && v >= 1
	}, 5*time.Second, 100*time.Millisecond, "wasmcustom.vcap_sticky.fallbacks in Envoy's stats")
	for _, name := range []string{"sticky_hits", "cookies_set", "cookies_refreshed"} {
		v, ok := g.Envoy.Stat(t, FilterStat(name))
		assert.True(t, ok && v > 0, "%s = %d", FilterStat(name), v)
	}
	assert.Zero(t, g.Envoy.FilterCounter(t, "panics"))
	started := fmt.Sprint(g.Envoy.LogLines(`vcap-sticky: configured`))
	assert.Contains(t, started, mode, "the plugin started in %s mode", mode)
	return started
}
