package e2e

// Identity from endpoint metadata: the route lists no instances; the filter
// takes the served instance's id from the upstream host's metadata
// (xds.upstream_host_metadata) and its address from upstream.address, and
// the sealed token carries both. The cluster's endpoints come from a file
// (EDS with a path config source) that the test rewrites, as a control plane
// would push them.

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/token"
	"github.com/vcap-sticky/vcap-sticky/upstream"
)

// WriteEDS writes the endpoints of cluster to path atomically (temp file and
// rename), each with filter_metadata.vcap_sticky.instance_id = its id.
func WriteEDS(t testing.TB, path, cluster, version string, insts ...*upstream.Instance) {
	t.Helper()
	writeEDS(t, path, cluster, version, true, nil, insts)
}

// WriteEDSAddresses writes endpoints with addresses only, as Istio and Envoy
// Gateway send a Service's pods.
func WriteEDSAddresses(t testing.TB, path, cluster, version string, insts ...*upstream.Instance) {
	t.Helper()
	writeEDS(t, path, cluster, version, false, nil, insts)
}

// WriteEDSHealth writes endpoints with addresses and, for the instances in
// health (by id), that EDS health status ("DRAINING", ...).
func WriteEDSHealth(t testing.TB, path, cluster, version string, health map[string]string, insts ...*upstream.Instance) {
	t.Helper()
	writeEDS(t, path, cluster, version, false, health, insts)
}

func writeEDS(t testing.TB, path, cluster, version string, metadata bool, health map[string]string, insts []*upstream.Instance) {
	t.Helper()
	var lbs []any
	for _, in := range insts {
		ep, err := EndpointOf(in.Addr())
		require.NoError(t, err)
		lb := map[string]any{"endpoint": map[string]any{"address": map[string]any{"socket_address": map[string]any{
			"address": ep.IP, "port_value": ep.Port}}}}
		if metadata {
			lb["metadata"] = map[string]any{"filter_metadata": map[string]any{
				"vcap_sticky": map[string]any{"instance_id": in.ID}}}
		}
		if s, ok := health[in.ID]; ok {
			lb["health_status"] = s
		}
		lbs = append(lbs, lb)
	}
	doc := map[string]any{
		"version_info": version,
		"resources": []any{map[string]any{
			"@type":        "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
			"cluster_name": cluster,
			"endpoints":    []any{map[string]any{"lb_endpoints": lbs}},
		}},
	}
	data, err := json.Marshal(doc)
	require.NoError(t, err)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".eds-*.tmp")
	require.NoError(t, err)
	_, werr := tmp.Write(data)
	require.NoError(t, tmp.Close())
	require.NoError(t, werr)
	require.NoError(t, os.Rename(tmp.Name(), path))
}

// withEDSCluster turns the rendered app cluster (the last one) from STATIC
// with inline endpoints into EDS from the file edsPath.
func withEDSCluster(edsPath string) func(string) (string, error) {
	return func(yaml string) (string, error) {
		p, _ := json.Marshal(edsPath)
		i := strings.LastIndex(yaml, "\n    type: STATIC\n")
		j := strings.LastIndex(yaml, "\n    load_assignment:\n")
		if i < 0 || j < i {
			return "", os.ErrNotExist
		}
		yaml = yaml[:j+1] // the endpoints block is the end of the document
		// File-based xDS needs a node id and cluster.
		return "node: { id: e2e, cluster: e2e }\n" + yaml[:i] + "\n    type: EDS\n    eds_cluster_config:\n      eds_config:\n        resource_api_version: V3\n" +
			"        path_config_source: { path: " + string(p) + " }\n" + yaml[i+len("\n    type: STATIC\n"):], nil
	}
}

// awaitMembers waits until the app cluster has n hosts.
func awaitMembers(t *testing.T, f *Fixture, n int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, ok := f.Envoy.Stat(t, "cluster."+AppCluster+".membership_total")
		return ok && v == n
	}, 15*time.Second, 50*time.Millisecond, "cluster %s never had %d hosts", AppCluster, n)
}

func TestEndpointMetadataIdentityEDS(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, "pod-a", "pod-b", "pod-c")
	byID := map[string]*upstream.Instance{}
	for _, in := range insts {
		byID[in.ID] = in
	}
	dir := t.TempDir()
	eds := filepath.Join(dir, "eds.json")
	WriteEDS(t, eds, AppCluster, "1", byID["pod-a"], byID["pod-b"])
	key := sealedKey(7)
	f := StartSealedEnvoy(t, insts, SealedEnvoy{
		Keys: key,
		Extra: map[string]any{
			"endpoint_metadata": map[string]any{"namespace": "vcap_sticky", "key": "instance_id"},
			"routes":            []any{map[string]any{"host": "*", "name": "shop"}},
		},
		AdjustYAML: withEDSCluster(eds),
	})
	awaitMembers(t, f, 2)

	ring, err := token.ParseKeys(key)
	require.NoError(t, err)
	open := func(v string) token.Payload {
		t.Helper()
		checkToken(t, f, v)
		p, err := ring.Open(v, token.RouteTagOf("*", "/"), time.Now())
		require.NoError(t, err)
		return p
	}
	sessions := map[string]Session{}
	for _, id := range []string{"pod-a", "pod-b"} {
		s := f.SessionOn(t, id)
		p := open(s.VCAPID)
		assert.Equal(t, id, p.ID, "the id from the endpoint's metadata")
		assert.Equal(t, netip.MustParseAddrPort(byID[id].Addr()), p.Address, "the address from upstream.address")
		assert.Equal(t, map[string]int{id: 10}, pinnedRequests(t, f, s, 10), "pinned without any instance map")
		sessions[id] = s
	}

	// pod-c comes: the sessions keep their instances; new ones reach pod-c.
	WriteEDS(t, eds, AppCluster, "2", byID["pod-a"], byID["pod-b"], byID["pod-c"])
	awaitMembers(t, f, 3)
	for id, s := range sessions {
		assert.Equal(t, map[string]int{id: 10}, pinnedRequests(t, f, s, 10), "%s after pod-c was added", id)
	}
	sessions["pod-c"] = f.SessionOn(t, "pod-c")
	assert.Equal(t, "pod-c", open(sessions["pod-c"].VCAPID).ID)

	// pod-a goes (its process still answers: only the endpoints changed).
	WriteEDS(t, eds, AppCluster, "3", byID["pod-b"], byID["pod-c"])
	awaitMembers(t, f, 2)
	before := counters(t, f.Envoy, "fallbacks", "cookies_refreshed", "route.shop.fallbacks")
	r := f.Get(t, "/", sessions["pod-a"].CookieHeader())
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	moved := r.Instance()
	assert.Contains(t, []string{"pod-b", "pod-c"}, moved, "pod-a's session moves to an instance that exists")
	v := oneCookie(t, r, VCAPCookie).Value
	assert.Equal(t, moved, open(v).ID, "with a fresh cookie for it")
	assertCounterDeltas(t, f.Envoy, before, map[string]int64{"fallbacks": 1, "cookies_refreshed": 1, "route.shop.fallbacks": 1})
	assert.Equal(t, map[string]int{moved: 10}, pinnedRequests(t, f, Session{JSessionID: sessions["pod-a"].JSessionID, VCAPID: v}, 10),
		"the fresh cookie pins")
	for _, id := range []string{"pod-b", "pod-c"} {
		assert.Equal(t, map[string]int{id: 10}, pinnedRequests(t, f, sessions[id], 10), "%s after pod-a was removed", id)
	}
}
