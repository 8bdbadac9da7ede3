package istio

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	extensions "istio.io/api/extensions/v1alpha1"
	networking "istio.io/api/networking/v1"
	clientextensions "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	clientnetworking "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/internal/manifest"
)

// Object is one decoded manifest document.
type Object struct {
	Source     string // file#index
	APIVersion string
	Kind       string
	Meta       metav1.ObjectMeta
	Raw        map[string]any // the document as JSON values
	Spec       proto.Message  // Istio kinds: the spec, strictly decoded
	Service    *corev1.Service
	// Plugin is the parsed pluginConfig of a WasmPlugin, PluginJSON the JSON
	// istiod hands the filter.
	Plugin     *config.Config
	PluginJSON string
}

// istioKinds are the Istio kinds the manifests may hold: a fresh spec message
// (istio.io/api) and the Kubernetes object type (istio.io/client-go).
var istioKinds = map[string]struct {
	spec   func() proto.Message
	object func() any
}{
	"extensions.istio.io/v1alpha1/WasmPlugin": {
		func() proto.Message { return &extensions.WasmPlugin{} },
		func() any { return &clientextensions.WasmPlugin{} },
	},
	"networking.istio.io/v1/Gateway": {
		func() proto.Message { return &networking.Gateway{} },
		func() any { return &clientnetworking.Gateway{} },
	},
	"networking.istio.io/v1/VirtualService": {
		func() proto.Message { return &networking.VirtualService{} },
		func() any { return &clientnetworking.VirtualService{} },
	},
	"networking.istio.io/v1/DestinationRule": {
		func() proto.Message { return &networking.DestinationRule{} },
		func() any { return &clientnetworking.DestinationRule{} },
	},
}

// strictJSON decodes data into v, failing on fields v does not have.
func strictJSON(data []byte, v any) error {
	// As the API server decodes: field names case-sensitive (encoding/json
	// would take "selectOr" for "selector"), unknown and duplicate fields
	// are errors.
	strict, err := kjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// Decode decodes one YAML document strictly: duplicate keys, unknown fields
// (in metadata, in an Istio spec, in a Service) and unknown kinds fail. A
// WasmPlugin's pluginConfig must also pass config.Parse.
func Decode(source string, doc []byte) (*Object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	o := &Object{Source: source}
	if err := json.Unmarshal(js, &o.Raw); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var env struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Spec       json.RawMessage   `json:"spec"`
	}
	if err := strictJSON(js, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	o.APIVersion, o.Kind, o.Meta = env.APIVersion, env.Kind, env.Metadata
	if o.Meta.Name == "" || o.Meta.Namespace == "" {
		return nil, fmt.Errorf("%s: metadata.name and metadata.namespace are required", source)
	}
	gvk := o.APIVersion + "/" + o.Kind
	if gvk == "v1/Service" {
		o.Service = &corev1.Service{}
		if err := strictJSON(js, o.Service); err != nil {
			return nil, fmt.Errorf("%s: Service: %w", source, err)
		}
		return o, nil
	}
	kind, ok := istioKinds[gvk]
	if !ok {
		return nil, fmt.Errorf("%s: unexpected kind %s", source, gvk)
	}
	// The Kubernetes object type istiod and kubectl use (its spec decoder
	// tolerates unknown fields, so strictness comes from protojson below).
	if err := json.Unmarshal(js, kind.object()); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", source, gvk, err)
	}
	o.Spec = kind.spec()
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(env.Spec, o.Spec); err != nil {
		return nil, fmt.Errorf("%s: %s spec: %w", source, gvk, err)
	}
	if wp, ok := o.Spec.(*extensions.WasmPlugin); ok {
		if wp.PluginConfig == nil || len(wp.PluginConfig.Fields) == 0 {
			return nil, fmt.Errorf("%s: WasmPlugin without pluginConfig", source)
		}
		// What istiod does: the Struct marshalled to a JSON string, which
		// becomes the filter's configuration (a StringValue).
		b, err := protojson.Marshal(wp.PluginConfig)
		if err != nil {
			return nil, fmt.Errorf("%s: pluginConfig to JSON: %w", source, err)
		}
		o.PluginJSON = string(b)
		if o.Plugin, err = config.Parse(b); err != nil {
			return nil, fmt.Errorf("%s: pluginConfig: %w", source, err)
		}
	}
	return o, nil
}

// istiodValues is the part of the istiod Helm chart's values the manifests set.
type istiodValues struct {
	Pilot struct {
		Env map[string]string `json:"env"`
	} `json:"pilot"`
}

// loadDir decodes every manifest under dir (one setup: gateway/ or waypoint/).
func loadDir(t *testing.T, dir string) ([]*Object, *istiodValues) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	sort.Strings(files)
	var objs []*Object
	var values *istiodValues
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		if filepath.Base(f) == "istiod-values.yaml" {
			values = &istiodValues{}
			require.NoError(t, yaml.UnmarshalStrict(data, values), f)
			continue
		}
		for i, doc := range manifest.SplitDocs(data) {
			o, err := Decode(fmt.Sprintf("%s#%d", f, i), doc)
			require.NoError(t, err)
			objs = append(objs, o)
		}
	}
	return objs, values
}

func find(objs []*Object, kind string) []*Object {
	var out []*Object
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// loadSetup loads one setup's manifests, which hold exactly one WasmPlugin,
// checked with checkWasmPlugin.
func loadSetup(t *testing.T, dir string) ([]*Object, *istiodValues, *Object, *extensions.WasmPlugin) {
	t.Helper()
	objs, values := loadDir(t, dir)
	plugins := find(objs, "WasmPlugin")
	require.Len(t, plugins, 1)
	return objs, values, plugins[0], checkWasmPlugin(t, plugins[0])
}

// checkWasmPlugin checks what every WasmPlugin here must choose explicitly.
func checkWasmPlugin(t *testing.T, o *Object) *extensions.WasmPlugin {
	t.Helper()
	wp := o.Spec.(*extensions.WasmPlugin)
	spec := o.Raw["spec"].(map[string]any)
	for _, field := range []string{"url", "sha256", "imagePullPolicy", "failStrategy", "phase", "priority", "pluginConfig"} {
		assert.Contains(t, spec, field, "%s: spec.%s is chosen explicitly", o.Source, field)
	}
	assert.True(t, strings.HasPrefix(wp.Url, "oci://"), "%s: url %q", o.Source, wp.Url)
	sum, err := hex.DecodeString(wp.Sha256)
	assert.NoError(t, err, "%s: sha256 is hex", o.Source)
	assert.Len(t, sum, 32, "%s: sha256 is 64 hex digits (the image digest without sha256:)", o.Source)
	assert.NotEqual(t, extensions.PullPolicy_UNSPECIFIED_POLICY, wp.ImagePullPolicy, o.Source)
	assert.Contains(t, []extensions.PluginType{extensions.PluginType_UNSPECIFIED_PLUGIN_TYPE, extensions.PluginType_HTTP},
		wp.Type, "%s: an HTTP filter (unset means HTTP)", o.Source)
	return wp
}

// testKeys stands for the gateway proxy's VCAP_STICKY_KEYS (a Secret in the
// Deployment's environment), which the sealed pluginConfig needs to parse.
const testKeys = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestMain(m *testing.M) {
	os.Setenv("VCAP_STICKY_KEYS", testKeys)
	os.Exit(m.Run())
}

// The ingress-gateway setup: WasmPlugin by selector, stateful_session mode,
// sealed tokens and a route without instances (pods named by address), the
// keys from the proxy's environment, the Service label naming the same
// header, istiod's feature flag.
func TestGatewayManifests(t *testing.T) {
	objs, values, p, wp := loadSetup(t, "gateway")
	assert.Equal(t, "ingressgateway", wp.GetSelector().GetMatchLabels()["istio"], "selects the ingress gateway")
	assert.Empty(t, wp.TargetRefs)
	assert.Equal(t, config.PinStatefulSession, p.Plugin.PinMode)

	require.NotNil(t, p.Plugin.Sealed, "sealed tokens by default")
	var keysFromHost bool
	for _, e := range wp.GetVmConfig().GetEnv() {
		keysFromHost = keysFromHost || e.Name == p.Plugin.Sealed.KeysEnv && e.ValueFrom == extensions.EnvValueSource_HOST
	}
	assert.True(t, keysFromHost, "vmConfig.env passes %s from the proxy's environment", p.Plugin.Sealed.KeysEnv)
	for _, r := range p.Plugin.Routes.All() {
		assert.True(t, r.Dynamic, "route %s: no instance list to keep in step with the pods", r.Name)
		assert.Empty(t, r.Instances)
	}

	svcs := find(objs, "Service")
	require.Len(t, svcs, 1)
	assert.Equal(t, p.Plugin.PinHeader, svcs[0].Meta.Labels["istio.io/persistent-session-header"],
		"the Service label names the header the filter writes")

	require.NotNil(t, values, "istiod-values.yaml")
	assert.Equal(t, "true", values.Pilot.Env["PILOT_ENABLE_PERSISTENT_SESSION_FILTER"])

	// The gateway routes the plugin's host to that Service.
	vss := find(objs, "VirtualService")
	require.Len(t, vss, 1)
	vs := vss[0].Spec.(*networking.VirtualService)
	for _, r := range p.Plugin.Routes.All() {
		assert.Contains(t, vs.Hosts, r.Host)
	}
	svcHost := svcs[0].Meta.Name + "." + svcs[0].Meta.Namespace + ".svc.cluster.local"
	assert.Equal(t, svcHost, vs.Http[0].Route[0].Destination.Host)
	assert.Contains(t, vs.Http[0].GetHeaders().GetRequest().GetRemove(), p.Plugin.PinHeader,
		"the route removes the pin header before the app (after stateful_session read it)")
	t.Logf("gateway pluginConfig as istiod hands it to the filter: %s", p.PluginJSON)
}

// The waypoint setup: WasmPlugin by targetRefs on the Service, cluster mode,
// each instance's cluster value routed by the VirtualService to a subset of
// the DestinationRule, the pin header removed on the way.
func TestWaypointManifests(t *testing.T) {
	objs, _, p, wp := loadSetup(t, "waypoint")
	require.Len(t, wp.TargetRefs, 1)
	svcs := find(objs, "Service")
	require.Len(t, svcs, 1)
	assert.Equal(t, "Service", wp.TargetRefs[0].Kind)
	assert.Equal(t, svcs[0].Meta.Name, wp.TargetRefs[0].Name)
	assert.Nil(t, wp.Selector, "targetRefs and selector are exclusive")
	assert.Equal(t, config.PinCluster, p.Plugin.PinMode)

	drs := find(objs, "DestinationRule")
	require.Len(t, drs, 1)
	subsets := map[string]bool{}
	for _, s := range drs[0].Spec.(*networking.DestinationRule).Subsets {
		subsets[s.Name] = true
	}
	vss := find(objs, "VirtualService")
	require.Len(t, vss, 1)
	routed := map[string]string{} // header value -> subset
	for _, r := range vss[0].Spec.(*networking.VirtualService).Http {
		for _, m := range r.Match {
			if sm, ok := m.Headers[p.Plugin.PinHeader]; ok {
				routed[sm.GetExact()] = r.Route[0].Destination.Subset
				assert.Contains(t, r.GetHeaders().GetRequest().GetRemove(), p.Plugin.PinHeader,
					"route %s removes the pin header before the app", r.Name)
			}
		}
	}
	n := 0
	for _, r := range p.Plugin.Routes.All() {
		for _, in := range r.Instances {
			n++
			assert.Equal(t, in.Cluster, routed[in.Cluster], "instance %s: the VirtualService routes its header value to subset %s", in.ID, in.Cluster)
			assert.True(t, subsets[in.Cluster], "instance %s: the DestinationRule has subset %s", in.ID, in.Cluster)
		}
	}
	assert.Equal(t, n, len(routed), "one pinned route per instance")
}

// The alternative to the gateway's WasmPlugin: a static instance map with
// gorouter's plain ids, for the same gateway and Service.
func TestStaticMapManifest(t *testing.T) {
	_, _, p, wp := loadSetup(t, "static-map")
	assert.Equal(t, "ingressgateway", wp.GetSelector().GetMatchLabels()["istio"])
	assert.Nil(t, p.Plugin.Sealed, "plain ids")
	for _, r := range p.Plugin.Routes.All() {
		assert.NotEmpty(t, r.Instances, "route %s lists its pods", r.Name)
	}
	_, _, gw, _ := loadSetup(t, "gateway")
	assert.Equal(t, gw.Plugin.PinHeader, p.Plugin.PinHeader, "the gateway's Service label fits both")
}

// Broken manifests are rejected, each for its own reason.
func TestBrokenManifestsRejected(t *testing.T) {
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		_, err = Decode(path, b)
		require.NoError(t, err, "the starting point decodes")
		return b
	}
	staticMap, sealed := read(filepath.Join("static-map", "wasmplugin.yaml")), read(filepath.Join("gateway", "wasmplugin.yaml"))
	good := staticMap
	editOf := func(doc []byte) func(old, new string) []byte {
		return func(old, new string) []byte {
			require.Contains(t, string(doc), old)
			return []byte(strings.Replace(string(doc), old, new, 1))
		}
	}
	edit, editSealed := editOf(good), editOf(sealed)
	cases := []struct {
		name, wantErr string
		doc           []byte
	}{
		{"unknown spec field", "unknown field", edit("  failStrategy: FAIL_OPEN", "  failStrategy: FAIL_OPEN\n  failurePolicy: FAIL_OPEN")},
		{"misspelled field", "unknown field", edit("  imagePullPolicy:", "  imagePullpolicy:")},
		{"unknown enum value", "unknown value", edit("failStrategy: FAIL_OPEN", "failStrategy: FAIL_SOMETIMES")},
		{"unknown metadata field", "unknown field", edit("  name: vcap-sticky\n", "  name: vcap-sticky\n  labelz: {}\n")},
		{"duplicate key", "already set", edit("  phase: UNSPECIFIED_PHASE", "  phase: UNSPECIFIED_PHASE\n  phase: AUTHN")},
		{"wrong apiVersion", "unexpected kind", edit("extensions.istio.io/v1alpha1", "extensions.istio.io/v1")},
		{"pluginConfig the filter refuses", "routes[0].instances[1].address", edit("address: 10.1.0.12:8080", "address: 10.1.0.12")},
		{"pluginConfig unknown field", "pinning.headers", edit("header: x-vcap-sticky-upstream", "headers: x-vcap-sticky-upstream")},
		{"sealed keys the proxy lacks", "VCAP_STICKY_ELSEWHERE is not set", editSealed("keys_env: VCAP_STICKY_KEYS", "keys_env: VCAP_STICKY_ELSEWHERE")},
		{"no instances unsealed", "only a sealed route may leave them out", editSealed("    sealed:\n      keys_env: VCAP_STICKY_KEYS\n", "")},
		{"unknown vmConfig env source", "unknown value", editSealed("valueFrom: HOST", "valueFrom: SECRET")},
		{"Service unknown field", "unknown field", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: b}\nspec:\n  selectors: {app: a}\n")},
		{"Service field in the wrong case", "unknown field", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: b}\nspec:\n  Selector: {app: a}\n")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.name, c.doc)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.wantErr)
		})
	}
	var v istiodValues
	assert.Error(t, yaml.UnmarshalStrict([]byte("pilot:\n  envs:\n    X: \"1\"\n"), &v), "istiod values: unknown key")
}
