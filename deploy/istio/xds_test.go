package istio

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	extensions "istio.io/api/extensions/v1alpha1"
	networking "istio.io/api/networking/v1"

	"github.com/vcap-sticky/vcap-sticky/internal/manifest"
)

// testdata/xds.yaml is what istiod's own config generator (the fake
// discovery server of istio.io/istio/pilot/test/xds, run by xdsgen/, `make
// istio-xds`) gives the ingress gateway for the manifests of gateway/ and
// the cluster of testdata/cluster.yaml. These tests read that file only:
// they never build istio.io/istio.

// The Envoy names these tests look for.
const (
	hcmType            = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
	statefulSession    = "envoy.filters.http.stateful_session"
	router             = "envoy.filters.http.router"
	wasmType           = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
	perRouteType       = "type.googleapis.com/envoy.extensions.filters.http.stateful_session.v3.StatefulSessionPerRoute"
	headerSessionState = "type.googleapis.com/envoy.extensions.http.stateful_session.header.v3.HeaderBasedSessionState"
)

// generated is the gateway's part of testdata/xds.yaml.
type generated struct {
	Listeners        []map[string]any `json:"listeners"`
	Routes           []map[string]any `json:"routes"`
	Clusters         []map[string]any `json:"clusters"`
	Endpoints        []map[string]any `json:"endpoints"`
	ExtensionConfigs []map[string]any `json:"extensionConfigs"`
}

func readGenerated(t *testing.T) generated {
	t.Helper()
	raw, err := os.ReadFile("testdata/xds.yaml")
	require.NoError(t, err)
	js, err := yaml.YAMLToJSON(raw)
	require.NoError(t, err)
	var doc struct {
		Gateway generated `json:"gateway"`
	}
	require.NoError(t, json.Unmarshal(js, &doc))
	return doc.Gateway
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

// testdata/xds.yaml must be current: made from the inputs as they are (the
// manifests, the cluster state and the generator), by the istio.io/istio
// this module pins.
func TestGeneratedConfigIsCurrent(t *testing.T) {
	out, err := os.ReadFile("testdata/xds.yaml")
	require.NoError(t, err)
	g, ok := manifest.ReadGenerated(out, "Istio istio.io/istio")
	require.True(t, ok, "the generator's header")
	sum, err := manifest.InputsSum(g.Inputs)
	require.NoError(t, err)
	assert.Equal(t, g.Sum, sum, "the inputs changed since testdata/xds.yaml was made: run `make istio-xds`")
	for _, f := range []string{"gateway/gateway.yaml", "gateway/wasmplugin.yaml", "gateway/app-service.yaml", "testdata/cluster.yaml", "xdsgen/main.go"} {
		assert.Contains(t, g.Inputs, f, "an input of the generator")
	}
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	pinned, ok := manifest.RequiredVersion(mod, "istio.io/istio")
	require.True(t, ok, "go.mod requires istio.io/istio")
	assert.Equal(t, pinned, g.Version, "made by the istio.io/istio in go.mod: run `make istio-xds`")
}

// gatewayInputs are the manifests' facts the generated config must reflect.
type gatewayInputs struct {
	plugin     *Object
	wp         *extensions.WasmPlugin
	pinHeader  string
	host       string // the VirtualService's host, the plugin's route
	appCluster string // Istio's name for the VirtualService destination's cluster
}

func loadGatewayInputs(t *testing.T) gatewayInputs {
	t.Helper()
	objs, _, p, wp := loadSetup(t, "gateway")
	vs := find(objs, "VirtualService")[0].Spec.(*networking.VirtualService)
	dst := vs.Http[0].Route[0].Destination
	svc := find(objs, "Service")[0]
	require.Equal(t, p.Plugin.PinHeader, svc.Meta.Labels["istio.io/persistent-session-header"])
	return gatewayInputs{
		plugin: p, wp: wp, pinHeader: p.Plugin.PinHeader, host: vs.Hosts[0],
		// Istio's cluster names: outbound|<port>|<subset>|<host>.
		appCluster: "outbound|" + jsonNumber(dst.Port.Number) + "||" + dst.Host,
	}
}

func jsonNumber(n uint32) string { b, _ := json.Marshal(n); return string(b) }

// gatewayHCM finds the listener whose RDS route config serves host, and
// returns its HTTP connection manager and that route config.
func gatewayHCM(t *testing.T, g generated, host string) (hcm, routeConfig map[string]any) {
	t.Helper()
	routes := map[string]map[string]any{}
	for _, rc := range g.Routes {
		routes[rc["name"].(string)] = rc
	}
	for _, l := range g.Listeners {
		for _, fc := range list(l["filterChains"]) {
			for _, f := range list(obj(fc)["filters"]) {
				tc := obj(obj(f)["typedConfig"])
				if tc["@type"] != hcmType {
					continue
				}
				rc := routes[obj(tc["rds"])["routeConfigName"].(string)]
				for _, vh := range list(rc["virtualHosts"]) {
					for _, d := range list(obj(vh)["domains"]) {
						if d == host {
							require.Nil(t, hcm, "one HCM serves %s", host)
							hcm, routeConfig = tc, rc
						}
					}
				}
			}
		}
	}
	require.NotNil(t, hcm, "a gateway listener serves %s", host)
	return hcm, routeConfig
}

// The filter's place in the gateway's HTTP filter chain: the WasmPlugin
// (delivered through ECDS) runs before stateful_session, which reads the
// header the filter wrote, and stateful_session before the router, which
// picks the host (the order of pilot/pkg/networking/core/listener_builder.go).
func TestGeneratedFilterOrder(t *testing.T) {
	in := loadGatewayInputs(t)
	g := readGenerated(t)
	hcm, _ := gatewayHCM(t, g, in.host)
	var names []string
	wasm, stateful, route := -1, -1, -1
	// istiod names a WasmPlugin's filter after its namespace and name.
	pluginName := in.plugin.Meta.Namespace + "." + in.plugin.Meta.Name
	for i, f := range list(hcm["httpFilters"]) {
		name := obj(f)["name"].(string)
		names = append(names, name)
		switch {
		case strings.Contains(name, pluginName):
			require.Equal(t, -1, wasm, "one filter for the WasmPlugin: %v", names)
			wasm = i
			cd := obj(obj(f)["configDiscovery"])
			require.NotNil(t, cd, "the WasmPlugin's filter comes through ECDS")
			assert.Contains(t, list(cd["typeUrls"]), wasmType)
			assert.NotNil(t, obj(cd["configSource"])["ads"], "from istiod (ADS)")
		case name == statefulSession:
			require.Equal(t, -1, stateful, "one stateful_session filter: %v", names)
			stateful = i
			// The listener's filter has no session state of its own: each
			// labelled Service's route brings it.
			assert.Equal(t, map[string]any{"@type": "type.googleapis.com/envoy.extensions.filters.http.stateful_session.v3.StatefulSession"},
				obj(f)["typedConfig"])
		case name == router:
			route = i
		}
	}
	t.Logf("the gateway's HTTP filters: %v", names)
	require.NotEqual(t, -1, wasm, "the WasmPlugin's filter: %v", names)
	require.NotEqual(t, -1, stateful, "stateful_session (PILOT_ENABLE_PERSISTENT_SESSION_FILTER): %v", names)
	require.NotEqual(t, -1, route, "the router: %v", names)
	assert.Less(t, wasm, stateful, "the filter writes the pin header before stateful_session reads it")
	assert.Less(t, stateful, route, "stateful_session overrides the host before the router picks one")
	assert.Equal(t, len(names)-1, route, "the router is last")
}

// The WasmPlugin's ECDS resource: the manifest's url, sha256, fail strategy,
// VM environment and pluginConfig, as istiod hands them to the istio-agent.
func TestGeneratedExtensionConfig(t *testing.T) {
	in := loadGatewayInputs(t)
	g := readGenerated(t)
	hcm, _ := gatewayHCM(t, g, in.host)
	pluginName := in.plugin.Meta.Namespace + "." + in.plugin.Meta.Name
	var ref string
	for _, f := range list(hcm["httpFilters"]) {
		if n := obj(f)["name"].(string); strings.Contains(n, pluginName) {
			ref = n
		}
	}
	var ec map[string]any
	for _, e := range g.ExtensionConfigs {
		if e["name"] == ref {
			ec = e
		}
	}
	require.NotNil(t, ec, "the ECDS resource %q the listener names", ref)
	tc := obj(ec["typedConfig"])
	require.Equal(t, wasmType, tc["@type"])
	cfg := obj(tc["config"])
	vm := obj(cfg["vmConfig"])
	assert.Equal(t, "envoy.wasm.runtime.v8", vm["runtime"])
	remote := obj(obj(vm["code"])["remote"])
	assert.Equal(t, in.wp.Url, obj(remote["httpUri"])["uri"], "the istio-agent fetches the url")
	assert.Equal(t, in.wp.Sha256, remote["sha256"])
	assert.Equal(t, in.wp.FailStrategy.String(), cfg["failurePolicy"], "failStrategy becomes Envoy's failure_policy")
	var hostKeys []any
	for _, e := range in.wp.GetVmConfig().GetEnv() {
		if e.ValueFrom == extensions.EnvValueSource_HOST {
			hostKeys = append(hostKeys, e.Name)
		}
	}
	require.NotEmpty(t, hostKeys)
	assert.Equal(t, hostKeys, list(obj(vm["environmentVariables"])["hostEnvKeys"]), "vmConfig.env valueFrom HOST")
	conf := obj(cfg["configuration"])
	require.Equal(t, "type.googleapis.com/google.protobuf.StringValue", conf["@type"], "pluginConfig as a JSON string")
	assert.JSONEq(t, in.plugin.PluginJSON, conf["value"].(string), "the pluginConfig")
}

// The route to the labelled Service carries the per-route stateful_session
// override naming the Service label's header (route/route.go), never
// strict; the VirtualService's header removal is on the same route.
func TestGeneratedStatefulSessionRoute(t *testing.T) {
	in := loadGatewayInputs(t)
	g := readGenerated(t)
	_, rc := gatewayHCM(t, g, in.host)
	var routes []map[string]any
	for _, vh := range list(rc["virtualHosts"]) {
		for _, r := range list(obj(vh)["routes"]) {
			if obj(obj(r)["route"])["cluster"] == in.appCluster {
				routes = append(routes, obj(r))
			}
		}
	}
	require.Len(t, routes, 1, "one route to %s", in.appCluster)
	r := routes[0]
	per := obj(obj(r["typedPerFilterConfig"])[statefulSession])
	require.NotNil(t, per, "the route overrides stateful_session")
	assert.Equal(t, perRouteType, per["@type"])
	ss := obj(obj(per["statefulSession"])["sessionState"])
	assert.Equal(t, "envoy.http.stateful_session.header", ss["name"])
	assert.Equal(t, map[string]any{"@type": headerSessionState, "name": in.pinHeader}, ss["typedConfig"],
		"header-based session state on the pin header")
	assert.NotContains(t, obj(per["statefulSession"]), "strict", "not strict: an unknown host falls back to balancing")
	assert.Contains(t, list(r["requestHeadersToRemove"]), in.pinHeader,
		"the VirtualService removes the pin header (the router does, after stateful_session)")
}

// The labelled Service's cluster accepts an override to a host in any of
// these states (core/cluster.go); a Service without the label gets none.
func TestGeneratedClusterOverrideHostStatus(t *testing.T) {
	in := loadGatewayInputs(t)
	g := readGenerated(t)
	var app map[string]any
	unlabelled := 0
	for _, c := range g.Clusters {
		if c["name"] == in.appCluster {
			app = c
		} else if c["type"] == "EDS" {
			unlabelled++
			assert.Nil(t, obj(c["commonLbConfig"])["overrideHostStatus"], "cluster %s: no label, no override", c["name"])
		}
	}
	require.NotNil(t, app, "cluster %s", in.appCluster)
	assert.Positive(t, unlabelled, "a cluster of a Service without the label to compare with")
	assert.Equal(t, "EDS", app["type"])
	assert.Equal(t, []any{"HEALTHY", "DRAINING", "UNKNOWN", "DEGRADED"},
		list(obj(obj(obj(app["commonLbConfig"])["overrideHostStatus"]))["statuses"]))
}

// The app's endpoints are the ready pods of testdata/cluster.yaml's
// EndpointSlice as plain socket addresses (ip, port): the form the filter's
// stateful_session pin value (base64 of "ip:port") matches. Pods outside
// ambient mode, so no internal (envoy://) addresses.
func TestGeneratedEndpoints(t *testing.T) {
	in := loadGatewayInputs(t)
	g := readGenerated(t)
	want := sliceEndpoints(t)
	require.Len(t, want, 3, "three app pods")
	var got []string
	var cla map[string]any
	for _, e := range g.Endpoints {
		if e["clusterName"] == in.appCluster {
			cla = e
		}
	}
	require.NotNil(t, cla, "endpoints of %s", in.appCluster)
	for _, le := range list(cla["endpoints"]) {
		for _, lb := range list(obj(le)["lbEndpoints"]) {
			addr := obj(obj(obj(lb)["endpoint"])["address"])
			assert.Nil(t, addr["envoyInternalAddress"], "not an internal address")
			sa := obj(addr["socketAddress"])
			require.NotNil(t, sa, "a socket address: %v", addr)
			got = append(got, sa["address"].(string)+":"+jsonNumber(uint32(sa["portValue"].(float64))))
			assert.Equal(t, "HEALTHY", obj(lb)["healthStatus"])
		}
	}
	assert.ElementsMatch(t, want, got)
}

// sliceEndpoints are the ready ip:port of the app's EndpointSlice in
// testdata/cluster.yaml.
func sliceEndpoints(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("testdata/cluster.yaml")
	require.NoError(t, err)
	var out []string
	for _, doc := range manifest.SplitDocs(raw) {
		var es struct {
			Kind      string `json:"kind"`
			Metadata  struct{ Labels map[string]string }
			Ports     []struct{ Port uint32 }
			Endpoints []struct {
				Addresses  []string
				Conditions struct{ Ready bool }
			}
		}
		require.NoError(t, yaml.Unmarshal(doc, &es))
		if es.Kind != "EndpointSlice" || es.Metadata.Labels["kubernetes.io/service-name"] != "shop" {
			continue
		}
		require.Len(t, es.Ports, 1)
		for _, e := range es.Endpoints {
			if e.Conditions.Ready {
				for _, a := range e.Addresses {
					out = append(out, a+":"+jsonNumber(es.Ports[0].Port))
				}
			}
		}
	}
	return out
}
