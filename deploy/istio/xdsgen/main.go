//go:build istioxds

// Command xdsgen runs istiod's own config generator in-process on the Istio
// manifests of ../gateway/ and writes what the ingress gateway's Envoy would
// receive (listeners, routes, clusters, endpoints and the WasmPlugin's ECDS
// extension config) to ../testdata/xds.yaml. scripts/istio-xds.sh (make
// istio-xds) runs it from the module's directory.
//
// It is behind the build tag istioxds: building istio.io/istio takes about
// ten minutes on two cores, so `make unit` (go vet/test ./... without the
// tag) never builds it. The test that reads the output (../xds_test.go) needs
// only the checked-in file.
//
// The generator is istiod's test fake (istio.io/istio/pilot/test/xds
// NewFakeDiscoveryServer): the config store, the Kubernetes service registry
// over a fake client, the push context and the xDS generators of istiod,
// without a network or an API server.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/config/kube/crd"
	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/util/sets"
)

// The inputs, relative to the module directory, in the order they are hashed.
var (
	istioInputs = []string{"gateway/gateway.yaml", "gateway/wasmplugin.yaml"}
	kubeInputs  = []string{"gateway/app-service.yaml", "testdata/cluster.yaml"}
	self        = "xdsgen/main.go"
)

// The ingress gateway proxy of testdata/cluster.yaml, as its istio-agent
// would announce itself.
const (
	gatewayIP        = "10.0.0.10"
	gatewayPod       = "istio-ingressgateway-0"
	gatewayNamespace = "istio-system"
	proxyVersion     = "1.31.0"
)

// failer is the test.Failer the fake needs, for a command: a fatal error
// ends the program.
type failer struct{ cleanups []func() }

func (f *failer) Fail()    { f.Fatal("failed") }
func (f *failer) FailNow() { f.Fatal("failed") }
func (f *failer) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"xdsgen:"}, args...)...)
	os.Exit(1)
}
func (f *failer) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }
func (f *failer) Log(args ...any)                   { fmt.Fprintln(os.Stderr, args...) }
func (f *failer) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (f *failer) Helper()                           {}
func (f *failer) Skip(args ...any)                  { f.Fatal(append([]any{"skip:"}, args...)...) }
func (f *failer) Cleanup(fn func())                 { f.cleanups = append(f.cleanups, fn) }
func (f *failer) TempDir() string {
	d, err := os.MkdirTemp("", "xdsgen")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { os.RemoveAll(d) })
	return d
}
func (f *failer) done() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func main() {
	out := flag.String("out", "testdata/xds.yaml", "output file")
	flag.Parse()
	for _, s := range log.Scopes() {
		s.SetOutputLevel(log.ErrorLevel)
	}
	// istiod's PILOT_ENABLE_PERSISTENT_SESSION_FILTER=true
	// (gateway/istiod-values.yaml).
	features.EnablePersistentSessionFilter.Store(true)

	read := func(files []string) (string, []byte) {
		var docs []string
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				fatal(err)
			}
			docs = append(docs, string(b))
			all = append(all, b...)
		}
		return strings.Join(docs, "\n---\n"), all
	}
	istioYAML, ib := read(istioInputs)
	kubeYAML, kb := read(kubeInputs)
	_, sb := read([]string{self})
	sum := sha256.Sum256(append(append(ib, kb...), sb...))

	// The Istio objects as istiod's file/kube config sources read them, with
	// a fixed resource version and creation time (the fake store would stamp
	// the clock's, which reaches the ECDS resource as
	// ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION).
	configs, unknown, err := crd.ParseInputs(istioYAML)
	if err != nil {
		fatal(err)
	}
	if len(unknown) > 0 {
		fatal(fmt.Sprintf("not Istio config: %v", unknown))
	}
	for i := range configs {
		configs[i].ResourceVersion = "1"
		configs[i].CreationTimestamp = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}

	t := &failer{}
	defer t.done()
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		Configs:                configs,
		KubernetesObjectString: kubeYAML,
	})
	proxy := s.SetupProxy(&model.Proxy{
		Type:            model.Router,
		ID:              gatewayPod + "." + gatewayNamespace,
		ConfigNamespace: gatewayNamespace,
		IPAddresses:     []string{gatewayIP},
		Labels:          map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"},
		Metadata: &model.NodeMetadata{
			ClusterID:    constants.DefaultClusterName,
			Namespace:    gatewayNamespace,
			Labels:       map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"},
			IstioVersion: proxyVersion,
		},
	})

	listeners := s.Listeners(proxy)
	routes := s.RoutesFromListeners(proxy, listeners)
	clusters := s.Clusters(proxy)
	endpoints := s.Endpoints(proxy)

	// The ECDS resources the listeners name (a WasmPlugin's filter is a
	// config_discovery reference in the HCM), from istiod's ECDS generator.
	names := ecdsNames(listeners)
	if len(names) == 0 {
		fatal("no ECDS reference in the gateway's listeners: the WasmPlugin was not applied")
	}
	gen := s.Discovery.Generators[v3.ExtensionConfigurationType]
	ecds, _, err := gen.Generate(proxy, &model.WatchedResource{ResourceNames: sets.New(names...)},
		&model.PushRequest{Push: s.PushContext(), Forced: true, Start: time.Now()})
	if err != nil {
		fatal(err)
	}
	var exts []proto.Message
	for _, r := range ecds {
		ec := &core.TypedExtensionConfig{}
		if err := r.Resource.UnmarshalTo(ec); err != nil {
			fatal(err)
		}
		exts = append(exts, ec)
	}

	doc := map[string]any{
		"gateway": map[string]any{
			"proxy": map[string]any{
				"id": proxy.ID, "type": string(proxy.Type), "namespace": proxy.ConfigNamespace,
				"ip": gatewayIP, "labels": proxy.Labels, "istioVersion": proxyVersion,
			},
			"listeners":        messages(listeners),
			"routes":           messages(routes),
			"clusters":         messages(clusters),
			"endpoints":        messages(endpoints),
			"extensionConfigs": messages(exts),
		},
	}
	js, err := json.Marshal(doc)
	if err != nil {
		fatal(err)
	}
	body, err := yaml.JSONToYAML(js)
	if err != nil {
		fatal(err)
	}
	var buf bytes.Buffer
	fmt.Fprintln(&buf, "# Generated by scripts/istio-xds.sh (make istio-xds): do not edit.")
	fmt.Fprintln(&buf, "# istiod's config generator in-process (istio.io/istio/pilot/test/xds NewFakeDiscoveryServer), PILOT_ENABLE_PERSISTENT_SESSION_FILTER=true")
	fmt.Fprintf(&buf, "# Istio %s; inputs %s\n", istioVersion(), strings.Join(append(append(append([]string{}, istioInputs...), kubeInputs...), self), " "))
	fmt.Fprintf(&buf, "# inputs sha256 %s\n", hex.EncodeToString(sum[:]))
	buf.Write(body)
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		fatal(err)
	}
}

// ecdsNames are the extension config names the listeners' HTTP filters
// fetch through ECDS.
func ecdsNames(ls []*listener.Listener) []string {
	seen := map[string]bool{}
	for _, l := range ls {
		chains := l.GetFilterChains()
		if l.GetDefaultFilterChain() != nil {
			chains = append(chains, l.GetDefaultFilterChain())
		}
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				m := &hcm.HttpConnectionManager{}
				if f.GetTypedConfig().UnmarshalTo(m) != nil {
					continue
				}
				for _, hf := range m.GetHttpFilters() {
					if hf.GetConfigDiscovery() != nil {
						seen[hf.GetName()] = true
					}
				}
			}
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// messages renders protos as JSON values (protojson: Any resolved, field
// names in lowerCamelCase), sorted by name for a stable file.
func messages[M proto.Message](ms []M) []any {
	type named struct {
		name string
		v    any
	}
	var out []named
	for _, m := range ms {
		b, err := protojson.Marshal(m)
		if err != nil {
			fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			fatal(err)
		}
		n, _ := v["name"].(string)
		if n == "" {
			n, _ = v["clusterName"].(string)
		}
		out = append(out, named{n, v})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	vs := make([]any, len(out))
	for i, n := range out {
		vs[i] = n.v
	}
	return vs
}

// istioVersion is the istio.io/istio module this binary was built with.
func istioVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "istio.io/istio" {
				return d.Path + " " + d.Version
			}
		}
	}
	fatal("no istio.io/istio in the build info")
	return ""
}

func fatal(v any) {
	fmt.Fprintln(os.Stderr, "xdsgen:", v)
	os.Exit(1)
}
