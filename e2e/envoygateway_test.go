package e2e

// Envoy Gateway's own output, run in Envoy: deploy/envoy-gateway/testdata/
// xds.yaml is what Envoy Gateway's translator (egctl x translate, v1.9.1)
// makes of the manifests in deploy/envoy-gateway/ (`make
// envoy-gateway-xds`). The test turns that config dump into a bootstrap and
// runs it with three app instances. Every change it makes is in
// envoyGatewayChanges, and the test logs them.

import (
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
	envoyGatewayDir = "../deploy/envoy-gateway"
	// Names Envoy Gateway gives the manifests' objects.
	egListener = "shop/shop/http"
	egCluster  = "httproute/shop/shop/rule/0"
	egHost     = "shop.example.com"
	// The Wasm filter's name and VM id, as Envoy Gateway names wasm[0] of
	// EnvoyExtensionPolicy shop/vcap-sticky (irConfigNameForWasm,
	// perRouteFilterName).
	egWasmConfigName = "envoyextensionpolicy/shop/vcap-sticky/wasm/0"
	egWasmFilter     = "envoy.filters.http.wasm/" + egWasmConfigName
)

// envoyGatewayChanges lists every change the test makes to the translator's
// output, and why.
var envoyGatewayChanges = []string{
	"bootstrap: an admin on 127.0.0.1:0 and static resources only; Envoy Gateway's own bootstrap (ADS to envoy-gateway:18000 over mTLS with SDS files, its stats and readiness listeners) is left out, as no control plane runs",
	"listener " + egListener + ": 0.0.0.0:10080 becomes 127.0.0.1:0 (loopback, a free port)",
	"listener " + egListener + ": its RDS route config " + egListener + " is inlined (route_config), from the translator's RoutesConfigDump",
	"cluster " + egCluster + ": EDS becomes a load_assignment with the three app instances; egctl reads no EndpointSlices, so its only endpoint was the Service's placeholder ClusterIP (--add-missing-resources)",
	"HCM: the Wasm filter of extensionpolicy.yaml added before the router as Envoy Gateway's xDS translator builds it (internal/xds/translator/wasm.go: named " + egWasmFilter + ", disabled on the listener, enabled on the route by typed_per_filter_config, vm_id the config name, host_env_keys from env.hostKeys, fail_open from failOpen, the config as a StringValue); egctl cannot translate it (no Wasm cache)",
	"Wasm filter: the module from a local file instead of Envoy Gateway's HTTP server (vm_config.code.remote to its wasm cluster)",
}

// egDump is the translator's output: one config dump per Gateway.
type egDump struct {
	XDS map[string]struct {
		Configs []map[string]any `json:"configs"`
	} `json:"xds"`
}

// envoyGatewayBootstrap builds the bootstrap for the translated config with
// the app cluster's endpoints at insts.
func envoyGatewayBootstrap(t *testing.T, insts []*upstream.Instance) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(envoyGatewayDir, "testdata", "xds.yaml"))
	require.NoError(t, err)
	js, err := yaml.YAMLToJSON(raw)
	require.NoError(t, err)
	var dump egDump
	require.NoError(t, json.Unmarshal(js, &dump))
	gw, ok := dump.XDS["shop/shop"]
	require.True(t, ok, "the translator's output has Gateway shop/shop")

	var listener, routeConfig, cluster map[string]any
	for _, c := range gw.Configs {
		switch c["@type"] {
		case "type.googleapis.com/envoy.admin.v3.ListenersConfigDump":
			for _, l := range list(c["dynamicListeners"]) {
				if l := obj(obj(l)["activeState"])["listener"]; obj(l)["name"] == egListener {
					listener = obj(l)
				}
			}
		case "type.googleapis.com/envoy.admin.v3.RoutesConfigDump":
			for _, r := range list(c["dynamicRouteConfigs"]) {
				if rc := obj(obj(r)["routeConfig"]); rc["name"] == egListener {
					routeConfig = rc
				}
			}
		case "type.googleapis.com/envoy.admin.v3.ClustersConfigDump":
			for _, cl := range list(c["dynamicActiveClusters"]) {
				if c := obj(obj(cl)["cluster"]); c["name"] == egCluster {
					cluster = c
				}
			}
		}
	}
	require.NotNil(t, listener, "listener %s", egListener)
	require.NotNil(t, routeConfig, "route config %s", egListener)
	require.NotNil(t, cluster, "cluster %s", egCluster)
	for _, m := range []map[string]any{listener, routeConfig, cluster} {
		delete(m, "@type") // a config dump's Any, unwrapped into the bootstrap's fields
	}

	listener["address"] = map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 0}}
	hcm := obj(obj(list(obj(listener["defaultFilterChain"])["filters"])[0])["typedConfig"])
	require.Equal(t, "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager", hcm["@type"])
	require.NotNil(t, hcm["rds"], "the translator's HCM uses RDS")
	delete(hcm, "rds")
	hcm["routeConfig"] = routeConfig

	// The Wasm filter, from extensionpolicy.yaml's wasm[0], before the router.
	wasm := extensionPolicyWasm(t)
	filters := list(hcm["httpFilters"])
	require.Equal(t, "envoy.filters.http.router", obj(filters[len(filters)-1])["name"], "the router is last")
	hcm["httpFilters"] = append(append(filters[:len(filters)-1:len(filters)-1], map[string]any{
		"name": egWasmFilter, "disabled": true,
		"typedConfig": map[string]any{
			"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
			"config": map[string]any{
				"name": wasm.Name,
				"vmConfig": map[string]any{
					"vmId": egWasmConfigName, "runtime": "envoy.wasm.runtime.v8",
					"code":                 map[string]any{"local": map[string]any{"filename": wasmPath}},
					"environmentVariables": map[string]any{"hostEnvKeys": wasm.Env.HostKeys},
				},
				"configuration": map[string]any{"@type": "type.googleapis.com/google.protobuf.StringValue", "value": string(wasm.Config)},
				"failOpen":      wasm.FailOpen,
			},
		},
	}), filters[len(filters)-1])
	enabled := 0
	for _, vh := range list(routeConfig["virtualHosts"]) {
		for _, r := range list(obj(vh)["routes"]) {
			if obj(obj(r)["route"])["cluster"] == egCluster {
				obj(r)["typedPerFilterConfig"] = map[string]any{egWasmFilter: map[string]any{
					"@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig", "config": map[string]any{}}}
				enabled++
			}
		}
	}
	require.Equal(t, 1, enabled, "one route to the app")

	require.Equal(t, "EDS", cluster["type"])
	delete(cluster, "edsClusterConfig")
	cluster["type"] = "STATIC"
	var eps []any
	for _, in := range insts {
		ep, err := EndpointOf(in.Addr())
		require.NoError(t, err)
		eps = append(eps, map[string]any{"endpoint": map[string]any{"address": map[string]any{
			"socketAddress": map[string]any{"address": ep.IP, "portValue": ep.Port}}}})
	}
	cluster["loadAssignment"] = map[string]any{"clusterName": egCluster, "endpoints": []any{map[string]any{"lbEndpoints": eps}}}

	boot := map[string]any{
		"admin":            map[string]any{"address": map[string]any{"socketAddress": map[string]any{"address": "127.0.0.1", "portValue": 0}}},
		"static_resources": map[string]any{"listeners": []any{listener}, "clusters": []any{cluster}},
	}
	out, err := json.Marshal(boot)
	require.NoError(t, err)
	return string(out) // JSON is YAML
}

// egWasm is the part of an EnvoyExtensionPolicy's wasm[] entry the filter
// is built from.
type egWasm struct {
	Name     string          `json:"name"`
	Config   json.RawMessage `json:"config"`
	FailOpen bool            `json:"failOpen"`
	Env      struct {
		HostKeys []string `json:"hostKeys"`
	} `json:"env"`
}

func extensionPolicyWasm(t *testing.T) egWasm {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(envoyGatewayDir, "extensionpolicy.yaml"))
	require.NoError(t, err)
	js, err := yaml.YAMLToJSON(raw)
	require.NoError(t, err)
	var p struct {
		Metadata struct{ Name, Namespace string } `json:"metadata"`
		Spec     struct {
			Wasm []egWasm `json:"wasm"`
		} `json:"spec"`
	}
	require.NoError(t, json.Unmarshal(js, &p))
	require.Equal(t, "shop/vcap-sticky", p.Metadata.Namespace+"/"+p.Metadata.Name, "the name egWasmConfigName assumes")
	require.Len(t, p.Spec.Wasm, 1)
	return p.Spec.Wasm[0]
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

// TestEnvoyGatewayConfig: the translated configuration with the filter, as
// users ship it (sealed, no instance list, override_host through
// endpointOverride, the retry policy Envoy Gateway made), in front of three
// instances. Not parallel: the keys reach the VM from Envoy's own
// environment (env.hostKeys), which Envoy inherits from this process.
func TestEnvoyGatewayConfig(t *testing.T) {
	for _, c := range envoyGatewayChanges {
		t.Logf("change to the translator's output: %s", c)
	}
	key := sealedKey(3)
	wasm := extensionPolicyWasm(t)
	require.Equal(t, []string{"VCAP_STICKY_KEYS"}, wasm.Env.HostKeys)
	t.Setenv("VCAP_STICKY_KEYS", key)
	g := startGeneratedGateway(t, key, egHost, egListener, func(insts []*upstream.Instance) string { return envoyGatewayBootstrap(t, insts) })

	g.sessionsStick(t, nil)
	// A client's pin header picks nothing.
	requireSpread(t, g.Spread(t, spreadRequests, "/", http.Header{PinHeader: {g.Instance(t, "instance-c").Addr()}}), "forged "+PinHeader)
	// The retry policy Envoy Gateway made moves a stopped instance's session.
	g.stoppedInstanceFallsBack(t)
	started := g.countedAndStarted(t, "override_host")
	assert.Regexp(t, `\(build [0-9A-Za-z][0-9A-Za-z.+-]*\)`, started, "the start log names the build")
	// make build records the name it linked in next to the module (git
	// describe of the checkout; "unknown" outside a git checkout).
	if v, err := os.ReadFile(filepath.Join(filepath.Dir(wasmPath), "version")); err == nil {
		assert.Contains(t, started, "(build "+strings.TrimSpace(string(v))+")", "the build make linked")
	}
}
