package envoygateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/internal/manifest"
)

// testKeys stands for the proxy's VCAP_STICKY_KEYS (envoyproxy.yaml), which
// the sealed plugin config needs to parse.
const testKeys = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

func TestMain(m *testing.M) {
	os.Setenv("VCAP_STICKY_KEYS", testKeys)
	os.Exit(m.Run())
}

// Object is one decoded manifest document.
type Object struct {
	Source string
	Kind   string
	Value  any // a pointer to the kind's Go type
	// Plugins are the parsed configs of an EnvoyExtensionPolicy's wasm[].
	Plugins []*config.Config
}

// kinds are the kinds the manifests may hold, by apiVersion/kind, with the
// Go type Envoy Gateway and Gateway API decode them into.
var kinds = map[string]func() any{
	"gateway.networking.k8s.io/v1/GatewayClass":           func() any { return &gwapiv1.GatewayClass{} },
	"gateway.networking.k8s.io/v1/Gateway":                func() any { return &gwapiv1.Gateway{} },
	"gateway.networking.k8s.io/v1/HTTPRoute":              func() any { return &gwapiv1.HTTPRoute{} },
	"gateway.envoyproxy.io/v1alpha1/EnvoyProxy":           func() any { return &egv1a1.EnvoyProxy{} },
	"gateway.envoyproxy.io/v1alpha1/EnvoyExtensionPolicy": func() any { return &egv1a1.EnvoyExtensionPolicy{} },
	"gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy": func() any { return &egv1a1.BackendTrafficPolicy{} },
	"v1/Service": func() any { return &corev1.Service{} },
}

// Decode decodes one YAML document strictly: duplicate keys, unknown fields
// and unknown kinds fail, and each wasm config must pass config.Parse.
func Decode(source string, doc []byte) (*Object, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	mk, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: unexpected kind %s/%s", source, head.APIVersion, head.Kind)
	}
	o := &Object{Source: source, Kind: head.Kind, Value: mk()}
	// As the API server decodes: field names case-sensitive (encoding/json
	// would take "hostkeys" for "hostKeys"), unknown and duplicate fields
	// are errors.
	strict, err := kjson.UnmarshalStrict(js, o.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", source, head.Kind, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%s: %s: %w", source, head.Kind, errors.Join(strict...))
	}
	if p, ok := o.Value.(*egv1a1.EnvoyExtensionPolicy); ok {
		for i, w := range p.Spec.Wasm {
			if w.Config == nil {
				return nil, fmt.Errorf("%s: wasm[%d] without config", source, i)
			}
			cfg, err := config.Parse(w.Config.Raw)
			if err != nil {
				return nil, fmt.Errorf("%s: wasm[%d].config: %w", source, i, err)
			}
			o.Plugins = append(o.Plugins, cfg)
		}
	}
	return o, nil
}

// load decodes every manifest matching glob.
func load(t *testing.T, glob string) []*Object {
	t.Helper()
	files, err := filepath.Glob(glob)
	require.NoError(t, err)
	require.NotEmpty(t, files)
	sort.Strings(files)
	var objs []*Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, doc := range manifest.SplitDocs(data) {
			o, err := Decode(fmt.Sprintf("%s#%d", f, i), doc)
			require.NoError(t, err)
			objs = append(objs, o)
		}
	}
	return objs
}

// only returns the one object of type T.
func only[T any](t *testing.T, objs []*Object) (T, *Object) {
	t.Helper()
	var found []*Object
	for _, o := range objs {
		if _, ok := o.Value.(T); ok {
			found = append(found, o)
		}
	}
	require.Len(t, found, 1, "one %T", *new(T))
	return found[0].Value.(T), found[0]
}

// The pieces fit: both policies target the HTTPRoute, the plugin runs the
// override_host mode on the header the BackendTrafficPolicy reads, its
// routes are the HTTPRoute's hostnames, its keys come from the proxy's
// environment, and the GatewayClass points at that EnvoyProxy.
func TestManifests(t *testing.T) {
	objs := load(t, "*.yaml")
	route, _ := only[*gwapiv1.HTTPRoute](t, objs)
	ext, extObj := only[*egv1a1.EnvoyExtensionPolicy](t, objs)
	btp, _ := only[*egv1a1.BackendTrafficPolicy](t, objs)
	proxy, _ := only[*egv1a1.EnvoyProxy](t, objs)
	class, _ := only[*gwapiv1.GatewayClass](t, objs)
	gw, _ := only[*gwapiv1.Gateway](t, objs)
	svc, _ := only[*corev1.Service](t, objs)

	assert.Equal(t, gwapiv1.GatewayController("gateway.envoyproxy.io/gatewayclass-controller"), class.Spec.ControllerName)
	require.NotNil(t, class.Spec.ParametersRef)
	assert.Equal(t, proxy.Name, class.Spec.ParametersRef.Name)
	assert.Equal(t, gwapiv1.ObjectName(class.Name), gw.Spec.GatewayClassName)
	assert.Equal(t, gwapiv1.ObjectName(gw.Name), route.Spec.ParentRefs[0].Name)
	assert.Equal(t, gwapiv1.ObjectName(svc.Name), route.Spec.Rules[0].BackendRefs[0].Name)

	for _, refs := range [][]gwapiv1.LocalPolicyTargetReferenceWithSectionName{ext.Spec.TargetRefs, btp.Spec.TargetRefs} {
		require.Len(t, refs, 1)
		assert.Equal(t, gwapiv1.Kind("HTTPRoute"), refs[0].Kind)
		assert.Equal(t, gwapiv1.ObjectName(route.Name), refs[0].Name)
	}
	require.Len(t, ext.Spec.Wasm, 1)
	w := ext.Spec.Wasm[0]
	assert.Equal(t, egv1a1.ImageWasmCodeSourceType, w.Code.Type)
	require.NotNil(t, w.Code.Image.SHA256)
	assert.Regexp(t, `^[0-9a-f]{64}$`, *w.Code.Image.SHA256)
	require.NotNil(t, w.FailOpen, "failOpen is chosen explicitly")

	cfg := extObj.Plugins[0]
	assert.Equal(t, config.PinOverrideHost, cfg.PinMode, "endpointOverride is Envoy's override_host policy")
	require.NotNil(t, btp.Spec.LoadBalancer)
	require.NotNil(t, btp.Spec.LoadBalancer.EndpointOverride)
	from := btp.Spec.LoadBalancer.EndpointOverride.ExtractFrom
	require.Len(t, from, 1)
	require.NotNil(t, from[0].Header)
	assert.Equal(t, cfg.PinHeader, *from[0].Header, "the policy reads the header the filter writes")

	require.NotNil(t, cfg.Sealed, "sealed tokens by default")
	require.NotNil(t, w.Env)
	assert.Contains(t, w.Env.HostKeys, cfg.Sealed.KeysEnv, "the keys pass from the proxy's environment")
	var proxyEnv []string
	for _, e := range proxy.Spec.Provider.Kubernetes.EnvoyDeployment.Container.Env {
		proxyEnv = append(proxyEnv, e.Name)
		if e.Name == cfg.Sealed.KeysEnv {
			assert.NotNil(t, e.ValueFrom, "from a Secret, not inline")
		}
	}
	assert.Contains(t, proxyEnv, cfg.Sealed.KeysEnv, "the proxy has the keys")
	for _, r := range cfg.Routes.All() {
		assert.Contains(t, route.Spec.Hostnames, gwapiv1.Hostname(r.Host))
		assert.True(t, r.Dynamic, "route %s: no instance list", r.Name)
	}
}

// The HTTP variant decodes too, with the module's own sha256.
func TestHTTPCodeVariant(t *testing.T) {
	ext, o := only[*egv1a1.EnvoyExtensionPolicy](t, load(t, filepath.Join("alternatives", "extensionpolicy-http.yaml")))
	w := ext.Spec.Wasm[0]
	assert.Equal(t, egv1a1.HTTPWasmCodeSourceType, w.Code.Type)
	require.NotNil(t, w.Code.HTTP)
	assert.True(t, strings.HasPrefix(w.Code.HTTP.URL, "https://"))
	require.NotNil(t, w.Code.HTTP.SHA256)
	assert.Regexp(t, `^[0-9a-f]{64}$`, *w.Code.HTTP.SHA256)
	assert.Equal(t, config.PinOverrideHost, o.Plugins[0].PinMode)
}

// Broken manifests are rejected, each for its own reason.
func TestBrokenManifestsRejected(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		_, err = Decode(name, b)
		require.NoError(t, err, "the starting point decodes")
		return b
	}
	ext, btp := read("extensionpolicy.yaml"), read("backendtrafficpolicy.yaml")
	edit := func(doc []byte, old, new string) []byte {
		require.Contains(t, string(doc), old)
		return []byte(strings.Replace(string(doc), old, new, 1))
	}
	for _, c := range []struct {
		name, wantErr string
		doc           []byte
	}{
		{"unknown spec field", "unknown field", edit(ext, "    failOpen: false", "    failOpen: false\n    failurePolicy: open")},
		{"misspelled field", "unknown field", edit(ext, "      hostKeys:", "      hostkeys:")},
		{"duplicate key", "already set", edit(ext, "    failOpen: false", "    failOpen: false\n    failOpen: true")},
		{"wrong apiVersion", "unexpected kind", edit(ext, "gateway.envoyproxy.io/v1alpha1", "gateway.envoyproxy.io/v1")},
		{"plugin config refused", "pinning.mode", edit(ext, "mode: override_host", "mode: sticky")},
		{"plugin config unknown field", "pinning.headers", edit(ext, "header: x-vcap-sticky-upstream", "headers: x-vcap-sticky-upstream")},
		{"plugin keys the proxy lacks", "VCAP_STICKY_ELSEWHERE is not set", edit(ext, "keys_env: VCAP_STICKY_KEYS", "keys_env: VCAP_STICKY_ELSEWHERE")},
		{"endpointOverride misspelled", "unknown field", edit(btp, "endpointOverride:", "endpointOverrides:")},
		{"Service unknown field", "unknown field", []byte("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: b}\nspec:\n  selectors: {app: a}\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.name, c.doc)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.wantErr)
		})
	}
}
