package e2e

// istiod's own output, run in Envoy: deploy/istio/testdata/xds.yaml is what
// istiod's config generator (istio.io/istio's fake discovery server,
// in-process, the version deploy/istio/go.mod pins) gives the ingress
// gateway for the manifests in deploy/istio/gateway/ and three app pods
// (`make istio-xds`). The test turns the gateway's listeners, routes,
// clusters, endpoints and the WasmPlugin's ECDS resource into a bootstrap
// and runs it with three app instances. Every change it makes is in
// istioChanges, and the test logs them.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/vcap-sticky/vcap-sticky/upstream"
)

const (
	istioDir = "../deploy/istio"
	// Names istiod gives the manifests' objects: the gateway listener on the
	// gateway Service's targetPort, its RDS route config, the Service's
	// cluster (outbound|<port>||<host>).
	istioListener   = "0.0.0.0_8080"
	istioRoutes     = "http.8080"
	istioAppCluster = "outbound|8080||shop.shop.svc.cluster.local"
	istioHost       = "shop.example.com"
	// The WasmPlugin istio-system/vcap-sticky's filter and ECDS resource.
	istioWasmFilter = "extensions.istio.io/trafficextension/istio-system.vcap-sticky~istio-translated-wasmplugin"
)

// istioOnlyHTTPFilters are HTTP filters istiod configures that only
// istio-proxy's Envoy build has.
var istioOnlyHTTPFilters = map[string]string{
	"istio.metadata_exchange": "istio-proxy's peer metadata filter (io.istio.http.peer_metadata)",
	"istio.alpn":              "istio-proxy's ALPN override filter (istio.envoy.config.filter.http.alpn)",
}

// istioChanges lists every change the test makes to istiod's output, and why.
var istioChanges = []string{
	"bootstrap: an admin on 127.0.0.1:0 and static resources only; the istio-agent's bootstrap (ADS to istiod, the sds-grpc and xds-grpc clusters to the agent, its stats, readiness and Prometheus listeners) is left out, as no control plane runs",
	"listener " + istioListener + ": 0.0.0.0:8080 becomes 127.0.0.1:0 (loopback, a free port)",
	"listener " + istioListener + ": its RDS route config " + istioRoutes + " is inlined (route_config)",
	"HCM: the HTTP filter istio.metadata_exchange removed: " + istioOnlyHTTPFilters["istio.metadata_exchange"] + ", not in upstream Envoy",
	"HCM: the HTTP filter istio.alpn removed: " + istioOnlyHTTPFilters["istio.alpn"] + ", not in upstream Envoy",
	"HCM: the Wasm filter's config_discovery (ECDS) replaced by istiod's ECDS resource " + istioWasmFilter + " inline, as the istio-agent rewrites it (pkg/wasm/convert.go): vm_config.code.remote (oci:// url) becomes a local file, here VCAP_STICKY_WASM instead of the fetched image; the ISTIO_META_* key_values are dropped",
	"cluster " + istioAppCluster + ": the upstream network filter istio.metadata_exchange removed (istio-proxy's envoy.tcp.metadataexchange, not in upstream Envoy)",
	"cluster " + istioAppCluster + ": the transport socket match tlsMode-istio removed (mTLS with certificates over SDS from the istio-agent); the pods have no tlsMode=istio label, so the plaintext match tlsMode-disabled is the one istiod's config uses anyway",
	"cluster " + istioAppCluster + ": EDS becomes a load_assignment: istiod's endpoints (the three pods, with their metadata and health status) with each pod address 10.1.0.1x:8080 replaced by an app instance on loopback, in order",
	"clusters BlackHoleCluster and the gateway's own Service left out: no route uses them",
}

// istioGenerated is the gateway's part of deploy/istio/testdata/xds.yaml.
type istioGenerated struct {
	Listeners        []map[string]any `json:"listeners"`
	Routes           []map[string]any `json:"routes"`
	Clusters         []map[string]any `json:"clusters"`
	Endpoints        []map[string]any `json:"endpoints"`
	ExtensionConfigs []map[string]any `json:"extensionConfigs"`
}

func byName(t *testing.T, items []map[string]any, key, name string) map[string]any {
	t.Helper()
	var found map[string]any
	for _, it := range items {
		if it[key] == name {
			require.Nil(t, found, "one %s", name)
			found = it
		}
	}
	require.NotNil(t, found, "%s in istiod's output", name)
	return found
}

// istioBootstrap builds the bootstrap from istiod's output with the app
// cluster's endpoints at insts.
func istioBootstrap(t *testing.T, insts []*upstream.Instance) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(istioDir, "testdata", "xds.yaml"))
	require.NoError(t, err)
	js, err := yaml.YAMLToJSON(raw)
	require.NoError(t, err)
	var doc struct {
		Gateway istioGenerated `json:"gateway"`
	}
	require.NoError(t, json.Unmarshal(js, &doc))
	g := doc.Gateway

	require.Len(t, g.Listeners, 1, "the gateway has one listener")
	listener := byName(t, g.Listeners, "name", istioListener)
	routeConfig := byName(t, g.Routes, "name", istioRoutes)
	cluster := byName(t, g.Clusters, "name", istioAppCluster)
	cla := byName(t, g.Endpoints, "clusterName", istioAppCluster)
	ext := byName(t, g.ExtensionConfigs, "name", istioWasmFilter)

	listener["address"] = map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 0}}
	chains := list(listener["filterChains"])
	require.Len(t, chains, 1)
	filters := list(obj(chains[0])["filters"])
	require.Len(t, filters, 1)
	hcm := obj(obj(filters[0])["typedConfig"])
	require.Equal(t, "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", hcm["@type"])
	require.Equal(t, istioRoutes, obj(hcm["rds"])["routeConfigName"])
	delete(hcm, "rds")
	hcm["routeConfig"] = routeConfig

	// The HTTP filters: istio-proxy's own removed, the ECDS reference
	// replaced by its resource as the istio-agent delivers it.
	wasm := obj(obj(ext["typedConfig"])["config"])
	vm := obj(wasm["vmConfig"])
	require.NotNil(t, obj(obj(vm["code"])["remote"]), "istiod sends a remote (oci://) module")
	vm["code"] = map[string]any{"local": map[string]any{"filename": wasmPath}}
	env := obj(vm["environmentVariables"])
	for k := range obj(env["keyValues"]) {
		require.True(t, strings.HasPrefix(k, "ISTIO_META_"), "only the agent's own key_values: %s", k)
	}
	delete(env, "keyValues")
	removed := map[string]bool{}
	var kept []any
	for _, f := range list(hcm["httpFilters"]) {
		name := obj(f)["name"].(string)
		switch {
		case istioOnlyHTTPFilters[name] != "":
			removed[name] = true
		case name == istioWasmFilter:
			require.NotNil(t, obj(f)["configDiscovery"], "the WasmPlugin's filter comes through ECDS")
			kept = append(kept, map[string]any{"name": name, "typedConfig": ext["typedConfig"]})
		default:
			kept = append(kept, f)
		}
	}
	for name := range istioOnlyHTTPFilters {
		require.True(t, removed[name], "istiod's output has %s (istioChanges says it is removed)", name)
	}
	hcm["httpFilters"] = kept

	// The app cluster.
	cf := list(cluster["filters"])
	require.Len(t, cf, 1)
	require.Equal(t, "istio.metadata_exchange", obj(cf[0])["name"])
	delete(cluster, "filters")
	var matches []any
	for _, m := range list(cluster["transportSocketMatches"]) {
		if obj(m)["name"] == "tlsMode-istio" {
			continue
		}
		matches = append(matches, m)
	}
	require.Len(t, matches, 1, "the plaintext transport socket match stays")
	require.Equal(t, "tlsMode-disabled", obj(matches[0])["name"])
	cluster["transportSocketMatches"] = matches
	require.Equal(t, "EDS", cluster["type"])
	delete(cluster, "edsClusterConfig")
	cluster["type"] = "STATIC"
	n := 0
	for _, le := range list(cla["endpoints"]) {
		for _, lb := range list(obj(le)["lbEndpoints"]) {
			require.Less(t, n, len(insts), "one instance per endpoint")
			ep, err := EndpointOf(insts[n].Addr())
			require.NoError(t, err)
			obj(obj(lb)["endpoint"])["address"] = map[string]any{"socketAddress": map[string]any{"address": ep.IP, "portValue": ep.Port}}
			n++
		}
	}
	require.Equal(t, len(insts), n, "istiod's endpoints: one per instance")
	cluster["loadAssignment"] = cla

	boot := map[string]any{
		"admin":            map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 0}}},
		"static_resources": map[string]any{"listeners": []any{listener}, "clusters": []any{cluster}},
	}
	out, err := json.Marshal(boot)
	require.NoError(t, err)
	return string(out) // JSON is YAML
}

// TestIstioConfig: istiod's configuration for the gateway setup (the
// WasmPlugin in stateful_session mode, sealed, no instance list; the Service
// label; the VirtualService that removes the pin header), in front of three
// instances. Not parallel: the keys reach the VM from Envoy's own
// environment (vmConfig.env valueFrom HOST), which Envoy inherits from this
// process.
func TestIstioConfig(t *testing.T) {
	for _, c := range istioChanges {
		t.Logf("change to istiod's output: %s", c)
	}
	key := sealedKey(4)
	t.Setenv("VCAP_STICKY_KEYS", key)
	g := startGeneratedGateway(t, key, istioHost, istioListener, func(insts []*upstream.Instance) string { return istioBootstrap(t, insts) })

	// The app never sees the pin header: the route removes it.
	g.sessionsStick(t, func(r *Reply) {
		assert.Empty(t, r.AppSaw(PinHeader), "the VirtualService's headers.request.remove")
	})
	// A client's pin header (base64 of an instance's address, what
	// stateful_session reads) picks nothing.
	forged := base64.StdEncoding.EncodeToString([]byte(g.Instance(t, "instance-c").Addr()))
	requireSpread(t, g.Spread(t, spreadRequests, "/", http.Header{PinHeader: {forged}}), "forged "+PinHeader)
	// istiod's retry policy (connect-failure, another host) moves a stopped
	// instance's session.
	g.stoppedInstanceFallsBack(t)
	g.countedAndStarted(t, "stateful_session")
}
