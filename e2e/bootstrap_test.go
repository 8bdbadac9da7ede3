package e2e

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"text/template"

	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/upstream"
)

// The pinning modes of the plugin config (README "Configuration").
type PinningMode string

const (
	ModeOverrideHost    PinningMode = "override_host"
	ModeStatefulSession PinningMode = "stateful_session"
	ModeCluster         PinningMode = "cluster"
)

const (
	// PinHeader is the request header the filter writes for Envoy (all modes here).
	PinHeader = "x-vcap-sticky-upstream"
	// PluginName is the wasm plugin's name (wasm.<name>.* stats, log lines).
	PluginName = "vcap-sticky"
	// AppCluster is the cluster holding every instance.
	AppCluster = "app"
	// VCAPCookie is the cookie the filter sets.
	VCAPCookie = "__VCAP_ID__"
	MetaCookie = "__VCAP_ID_META__"
	// SessionCookie is the app's session cookie.
	SessionCookie = upstream.SessionCookie
)

// PluginConfig is the filter's configuration (README "Configuration"). Empty
// optional fields are left out, so the filter's defaults apply.
type PluginConfig struct {
	SessionCookieNames []string `json:"session_cookie_names,omitempty"`
	SecureCookies      bool     `json:"secure_cookies,omitempty"`
	Pinning            *Pinning `json:"pinning,omitempty"`
	Strict             bool     `json:"strict,omitempty"`
	Negotiate          bool     `json:"negotiate,omitempty"`
	InstanceHeaders    bool     `json:"instance_headers,omitempty"`
	LogDecisions       bool     `json:"log_decisions,omitempty"`
	// MetricsFlushIntervalMS: nil is the filter's default (batched counters).
	MetricsFlushIntervalMS *int          `json:"metrics_flush_interval_ms,omitempty"`
	Routes                 []PluginRoute `json:"routes"`
}

// Pinning is the plugin config's "pinning" object.
type Pinning struct {
	Mode   PinningMode `json:"mode,omitempty"`
	Header string      `json:"header,omitempty"`
}

// PluginRoute is one entry of the plugin config's "routes".
type PluginRoute struct {
	Host             string           `json:"host"`
	Path             string           `json:"path,omitempty"`
	InternalListener string           `json:"internal_listener,omitempty"`
	Instances        []PluginInstance `json:"instances"`
}

// PluginInstance is one app instance of a PluginRoute.
type PluginInstance struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	AppGUID string `json:"app_guid,omitempty"`
	Index   *int   `json:"index,omitempty"`
	Cluster string `json:"cluster,omitempty"`
}

// Bootstrap is the data of testdata/bootstrap.yaml.tmpl: one listener
// ("ingress") with one virtual host, the HTTP filters (wasm, optional
// stateful_session, router) and STATIC clusters. Port 0 lets Envoy pick a free
// port; StartEnvoy finds out which.
type Bootstrap struct {
	AdminPort    int
	ListenerPort int
	AccessLog    bool // one "ACCESS ..." line per request on Envoy's stdout

	Wasm            *WasmFilter      // nil: no wasm filter
	StatefulSession *StatefulSession // nil: no stateful_session filter
	Routes          []Route          // in match order
	Clusters        []Cluster
	// HBONE adds Istio ambient's upstream path: the internal listener
	// connect_originate and its cluster, for clusters with HBONE set.
	HBONE bool
}

// WasmFilter is the envoy.filters.http.wasm filter running the module.
type WasmFilter struct {
	Name string // plugin name, default PluginName
	Path string // the .wasm file
	// Plugin is marshalled into the filter's configuration, unless PluginJSON
	// is set, which is used verbatim (for invalid or hostile configs).
	Plugin        *PluginConfig
	PluginJSON    string
	FailurePolicy string // FAIL_CLOSED (default), FAIL_OPEN, FAIL_RELOAD
}

// ConfigJSON is the configuration string given to the plugin.
func (w *WasmFilter) ConfigJSON() (string, error) {
	if w.PluginJSON != "" {
		return w.PluginJSON, nil
	}
	if w.Plugin == nil {
		return "", fmt.Errorf("wasm filter %q: neither Plugin nor PluginJSON set", w.Name)
	}
	b, err := json.Marshal(w.Plugin)
	return string(b), err
}

// StatefulSession is envoy.filters.http.stateful_session with the header-based
// session state (value: base64 of "ip:port"). Stats: http.ingress_http.stateful_session.sticky.*
type StatefulSession struct {
	Header string
	Strict bool
}

// Route is one route of the virtual host.
type Route struct {
	Name   string
	Prefix string // default "/"
	// HeaderPresent: the route matches only when this request header is
	// present, and equals HeaderExact if that is set.
	HeaderPresent string
	HeaderExact   string
	// Exactly one of Cluster and ClusterHeader.
	Cluster       string
	ClusterHeader string
	// RetryOn ("connect-failure,reset", ...) and NumRetries: a retry_policy.
	RetryOn    string
	NumRetries int
	// RetryOtherHosts adds the previous_hosts retry host predicate (with RetryOn).
	RetryOtherHosts bool
	// RequestHeadersToRemove are removed by the route. Not for override_host's
	// header: that removal happens before load balancing and breaks pinning.
	RequestHeadersToRemove []string
}

// Cluster is a STATIC cluster, or a composite one (Composite set).
type Cluster struct {
	Name      string
	Endpoints []Endpoint
	// Composite makes this an envoy.clusters.composite cluster over the named
	// clusters: the first attempt goes to the first, the first retry to the
	// second, and so on. Endpoints and the other fields are unused.
	Composite []string
	// OverrideHostHeader: load_balancing_policy override_host reading "ip:port"
	// from this request header, round robin otherwise. Empty: lb_policy ROUND_ROBIN.
	OverrideHostHeader string
	// StripRequestHeaders are removed by an upstream header_mutation filter,
	// after the host was chosen (so the app never sees them).
	StripRequestHeaders []string
	// OverrideHostStatuses: common_lb_config.override_host_status, the host
	// health statuses a pin (override_host or stateful_session) may select.
	OverrideHostStatuses []string
	// HBONE: the endpoints with a Tunnel are reached through the internal
	// listener connect_originate (Bootstrap.HBONE), as istiod sends ambient
	// pods: Envoy names such a host envoy://connect_originate/<ip:port>.
	HBONE bool
}

// Endpoint is an "ip:port" upstream.
type Endpoint struct {
	IP   string
	Port int
	// Tunnel, if set, is the "ip:port" of the pod's CONNECT tunnel: the
	// endpoint is the internal address connect_originate/<ip:port>.
	Tunnel string
}

// Addr is the endpoint's "ip:port".
func (e Endpoint) Addr() string { return net.JoinHostPort(e.IP, strconv.Itoa(e.Port)) }

// EndpointOf parses "ip:port".
func EndpointOf(addr string) (Endpoint, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Endpoint{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%q: bad port: %w", addr, err)
	}
	return Endpoint{IP: host, Port: p}, nil
}

// PluginInstances lists running instances for a PluginRoute (id and address).
func PluginInstances(insts []*upstream.Instance) []PluginInstance {
	out := make([]PluginInstance, len(insts))
	for i, in := range insts {
		out[i] = PluginInstance{ID: in.ID, Address: in.Addr()}
	}
	return out
}

// InstanceCluster is the name of an instance's own cluster in ModeCluster.
func InstanceCluster(id string) string { return "app-" + id }

// NewBootstrap builds the standard setup for a pinning mode: the wasm filter
// with a plugin config holding one catch-all route ("*", "/") over instances,
// the app cluster, and the mode's Envoy side:
//
//   - ModeOverrideHost: cluster app with override_host on PinHeader; an upstream
//     header_mutation filter strips PinHeader.
//   - ModeStatefulSession: the stateful_session filter (header PinHeader, not
//     strict) before the router; the route strips PinHeader.
//   - ModeCluster: one cluster per instance (InstanceCluster(id)), a "sticky"
//     route selected by PinHeader's presence (cluster_header) that strips it,
//     and a "default" route to app.
//
// Tests adjust the result (b.Wasm.Plugin, b.Clusters[0], ...) before StartEnvoy.
func NewBootstrap(mode PinningMode, wasmPath string, instances []PluginInstance) (Bootstrap, error) {
	eps := make([]Endpoint, len(instances))
	for i, in := range instances {
		ep, err := EndpointOf(in.Address)
		if err != nil {
			return Bootstrap{}, fmt.Errorf("instance %s: %w", in.ID, err)
		}
		eps[i] = ep
	}
	unbatched := 0
	plugin := &PluginConfig{
		SessionCookieNames: []string{SessionCookie},
		Pinning:            &Pinning{Mode: mode, Header: PinHeader},
		// The tests read counters right after their requests: each
		// increment goes to Envoy at once. TestCountersFlushOnTheTick runs
		// the default.
		MetricsFlushIntervalMS: &unbatched,
		Routes:                 []PluginRoute{{Host: "*", Path: "/", Instances: append([]PluginInstance(nil), instances...)}},
	}
	b := Bootstrap{
		AccessLog: true,
		Wasm:      &WasmFilter{Name: PluginName, Path: wasmPath, Plugin: plugin, FailurePolicy: "FAIL_CLOSED"},
	}
	app := Cluster{Name: AppCluster, Endpoints: eps}
	switch mode {
	case ModeOverrideHost:
		app.OverrideHostHeader = PinHeader
		app.StripRequestHeaders = []string{PinHeader}
		b.Routes = []Route{{Name: "default", Prefix: "/", Cluster: AppCluster}}
		b.Clusters = []Cluster{app}
	case ModeStatefulSession:
		b.StatefulSession = &StatefulSession{Header: PinHeader}
		b.Routes = []Route{{Name: "default", Prefix: "/", Cluster: AppCluster, RequestHeadersToRemove: []string{PinHeader}}}
		b.Clusters = []Cluster{app}
	case ModeCluster:
		b.Routes = []Route{
			{Name: "sticky", Prefix: "/", HeaderPresent: PinHeader, ClusterHeader: PinHeader, RequestHeadersToRemove: []string{PinHeader}},
			{Name: "default", Prefix: "/", Cluster: AppCluster},
		}
		for i, in := range instances {
			name := InstanceCluster(in.ID)
			plugin.Routes[0].Instances[i].Cluster = name
			b.Clusters = append(b.Clusters, Cluster{Name: name, Endpoints: []Endpoint{eps[i]}})
		}
		b.Clusters = append(b.Clusters, app)
	default:
		return Bootstrap{}, fmt.Errorf("unknown pinning mode %q", mode)
	}
	return b, nil
}

//go:embed testdata/bootstrap.yaml.tmpl
var bootstrapTemplateText string

var bootstrapTemplate = template.Must(template.New("bootstrap").Funcs(template.FuncMap{
	// q quotes a string for YAML (a JSON string is a YAML double-quoted scalar).
	"q": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}).Option("missingkey=error").Parse(bootstrapTemplateText))

// Render returns the bootstrap YAML.
func (b Bootstrap) Render() (string, error) {
	if b.Wasm != nil {
		w := *b.Wasm
		if w.Name == "" {
			w.Name = PluginName
		}
		if w.FailurePolicy == "" {
			w.FailurePolicy = "FAIL_CLOSED"
		}
		b.Wasm = &w
	}
	for i := range b.Routes {
		r := &b.Routes[i]
		if r.Prefix == "" {
			r.Prefix = "/"
		}
		if (r.Cluster == "") == (r.ClusterHeader == "") {
			return "", fmt.Errorf("route %q: set exactly one of Cluster and ClusterHeader", r.Name)
		}
	}
	if len(b.Clusters) == 0 || len(b.Routes) == 0 {
		return "", fmt.Errorf("bootstrap needs at least one route and one cluster")
	}
	var buf bytes.Buffer
	if err := bootstrapTemplate.Execute(&buf, b); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// WriteBootstrap renders b into dir/envoy.yaml and returns the path.
func WriteBootstrap(t testing.TB, dir string, b Bootstrap) string {
	t.Helper()
	yaml, err := b.Render()
	require.NoError(t, err, "render bootstrap")
	path := filepath.Join(dir, "envoy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}
