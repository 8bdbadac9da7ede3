package e2e

// Live configuration updates the way Istio delivers them: the wasm filter is
// not in the bootstrap but comes through extension config discovery (ECDS).
// istiod sends the WasmPlugin to the istio-agent, which fetches the module,
// rewrites it to a local file and hands Envoy the filter config; here Envoy
// reads the same TypedExtensionConfig from a file (a path config source),
// which the tests rewrite atomically (write a temp file, rename it over the
// watched path: Envoy's file watch reacts to the rename).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// The types the discovered filter config may have, as istiod lists them:
	// the wasm filter, or the RBAC filter the istio-agent puts in its place
	// when it cannot fetch the module (see TestFailStrategy).
	wasmTypeURL = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
	rbacTypeURL = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC"
	// ecdsFilterName is the HTTP filter's name and the ECDS resource name.
	ecdsFilterName = "vcap-sticky"
	// ecdsSwitchTimeout bounds how long a config update may take to apply.
	ecdsSwitchTimeout = 15 * time.Second
)

// ECDSFilter is the extension config an ECDS file delivers: the wasm filter
// with a module path, a plugin configuration and a failure policy.
type ECDSFilter struct {
	Version       string // version_info of the discovery response
	ModulePath    string
	PluginJSON    string
	FailurePolicy string // FAIL_CLOSED, FAIL_OPEN
	// TypedConfig, if set, is delivered instead of the wasm filter.
	TypedConfig map[string]any
}

// ecdsResponse is the DiscoveryResponse Envoy reads from the watched file. It
// is JSON, which Envoy parses by the file's .json extension.
func (f ECDSFilter) ecdsResponse() ([]byte, error) {
	policy := f.FailurePolicy
	if policy == "" {
		policy = "FAIL_CLOSED"
	}
	typed := f.TypedConfig
	if typed == nil {
		typed = map[string]any{
			"@type": wasmTypeURL,
			"config": map[string]any{
				"name": PluginName,
				"vm_config": map[string]any{
					"runtime": "envoy.wasm.runtime.v8",
					"code":    map[string]any{"local": map[string]any{"filename": f.ModulePath}},
				},
				"configuration": map[string]any{
					"@type": "type.googleapis.com/google.protobuf.StringValue",
					"value": f.PluginJSON,
				},
				"failure_policy": policy,
			},
		}
	}
	doc := map[string]any{
		"version_info": f.Version,
		"resources": []any{map[string]any{
			"@type":        "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
			"name":         ecdsFilterName,
			"typed_config": typed,
		}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// WriteECDS writes the discovery response to path atomically: a temp file in
// the same directory, then a rename over path, the one change a file-based
// xDS watch is guaranteed to see whole.
func WriteECDS(t testing.TB, path string, f ECDSFilter) {
	t.Helper()
	data, err := f.ecdsResponse()
	require.NoError(t, err)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ecds-*.tmp")
	require.NoError(t, err)
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	require.NoError(t, werr)
	require.NoError(t, cerr)
	require.NoError(t, os.Rename(tmp.Name(), path), "rename %s over %s", tmp.Name(), path)
}

// wasmFilterHeader starts the inline wasm filter in the rendered bootstrap.
const wasmFilterHeader = "          - name: envoy.filters.http.wasm\n"

// RenderECDSBootstrap renders b (whose Wasm must be set: it marks where the
// filter goes) with the wasm filter replaced by a config_discovery filter
// that reads its config from ecdsPath.
func RenderECDSBootstrap(b Bootstrap, ecdsPath string) (string, error) {
	if b.Wasm == nil {
		return "", fmt.Errorf("RenderECDSBootstrap: b.Wasm marks the filter's place; it is nil")
	}
	yaml, err := b.Render()
	if err != nil {
		return "", err
	}
	start := strings.Index(yaml, wasmFilterHeader)
	if start < 0 {
		return "", fmt.Errorf("rendered bootstrap has no line %q", strings.TrimSpace(wasmFilterHeader))
	}
	// The block ends where the next filter of the list starts.
	rest := yaml[start+len(wasmFilterHeader):]
	end := strings.Index(rest, "\n          - name: ")
	if end < 0 {
		return "", fmt.Errorf("rendered bootstrap: no HTTP filter after the wasm filter")
	}
	path, err := json.Marshal(ecdsPath)
	if err != nil {
		return "", err
	}
	ecds := "          - name: " + ecdsFilterName + "\n" +
		"            config_discovery:\n" +
		"              config_source:\n" +
		"                resource_api_version: V3\n" +
		"                path_config_source:\n" +
		"                  path: " + string(path) + "\n" +
		"              type_urls:\n" +
		"              - " + wasmTypeURL + "\n" +
		"              - " + rbacTypeURL
	return yaml[:start] + ecds + rest[end:], nil
}

// ECDSFixture is Envoy whose wasm filter comes from an ECDS file.
type ECDSFixture struct {
	*Fixture
	ECDSPath string
}

// StartECDSFixture starts DefaultIDs instances and Envoy in override_host mode
// with the wasm filter discovered from a file that first holds initial.
// initial.ModulePath defaults to the module under test and PluginJSON to the
// standard plugin config over the instances (after adjust).
func StartECDSFixture(t testing.TB, initial ECDSFilter, adjust ...func(*Bootstrap)) *ECDSFixture {
	t.Helper()
	insts := StartInstances(t, DefaultIDs...)
	b, err := NewBootstrap(ModeOverrideHost, wasmPath, PluginInstances(insts))
	require.NoError(t, err)
	for _, a := range adjust {
		a(&b)
	}
	if initial.ModulePath == "" {
		initial.ModulePath = wasmPath
	}
	if initial.PluginJSON == "" {
		initial.PluginJSON, err = b.Wasm.ConfigJSON()
		require.NoError(t, err)
	}
	if initial.Version == "" {
		initial.Version = "1"
	}
	dir := t.TempDir()
	ecdsPath := filepath.Join(dir, "vcap-sticky.ecds.json")
	WriteECDS(t, ecdsPath, initial)
	yaml, err := RenderECDSBootstrap(b, ecdsPath)
	require.NoError(t, err)
	f := &Fixture{Instances: insts, Bootstrap: b, Client: NewClient()}
	// xDS subscriptions, file-based ones too, need a node id and cluster.
	f.Envoy = StartEnvoyYAML(t, yaml, EnvoyOptions{
		ExtraArgs: []string{"--service-node", "e2e", "--service-cluster", "e2e"},
		// config: the ECDS subscription's accept/reject lines.
		ComponentLogLevel: "main:warn,wasm:debug,config:debug",
	})
	t.Cleanup(f.Client.CloseIdleConnections)
	return &ECDSFixture{Fixture: f, ECDSPath: ecdsPath}
}

// pluginJSON is the standard plugin config with instance ids mapped to
// addresses as given (id -> the address of the instance named by the value).
func (f *ECDSFixture) pluginJSON(t testing.TB, idToInstance map[string]string) string {
	t.Helper()
	var insts []PluginInstance
	for _, id := range DefaultIDs {
		insts = append(insts, PluginInstance{ID: id, Address: f.Instance(t, idToInstance[id]).Addr()})
	}
	cfg := *f.Bootstrap.Wasm.Plugin
	cfg.Routes = []PluginRoute{{Host: "*", Path: "/", Instances: insts}}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	return string(b)
}

// ecdsStats returns the ECDS subscription's counters for the filter
// (extension_config_discovery.<prefix>.vcap-sticky.*), keyed by last name part.
func (f *ECDSFixture) ecdsStats(t testing.TB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for name, v := range f.Envoy.Stats(t, `^extension_config_discovery\..*`+ecdsFilterName+`\.`) {
		out[name[strings.LastIndex(name, ".")+1:]] = v
	}
	return out
}

// awaitStat waits (bounded) until counter key of ecdsStats reaches want.
func (f *ECDSFixture) awaitStat(t testing.TB, key string, want int64) {
	t.Helper()
	deadline := time.Now().Add(ecdsSwitchTimeout)
	for {
		s := f.ecdsStats(t)
		if s[key] >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ECDS counter %s did not reach %d within %s: %v", key, want, ecdsSwitchTimeout, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loadResult is one request of the background load.
type loadResult struct {
	Worker   int
	Status   int
	Instance string
	Err      error
}

// Load sends pinned requests from a few keep-alive clients until stopped,
// bounded in count and time. It only talks to Envoy on loopback.
type Load struct {
	mu      sync.Mutex
	results []loadResult
	stop    chan struct{}
	wg      sync.WaitGroup
}

const (
	loadWorkers     = 2
	loadMaxRequests = 5000 // per worker
	loadMaxDuration = 60 * time.Second
)

// StartLoad starts loadWorkers goroutines sending GET / with header through
// Envoy. Stop (also run on cleanup) ends them and returns the results.
func StartLoad(t testing.TB, e *Envoy, header http.Header) *Load {
	t.Helper()
	l := &Load{stop: make(chan struct{})}
	deadline := time.Now().Add(loadMaxDuration)
	for w := range loadWorkers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := NewClient()
			defer c.CloseIdleConnections()
			for range loadMaxRequests {
				select {
				case <-l.stop:
					return
				default:
				}
				if time.Now().After(deadline) {
					return
				}
				r := loadResult{Worker: w}
				req, err := http.NewRequest(http.MethodGet, e.URL("/"), http.NoBody)
				if err == nil {
					for k, vs := range header {
						req.Header[k] = vs
					}
					var res *http.Response
					if res, err = c.Do(req); err == nil {
						r.Status, r.Instance = res.StatusCode, res.Header.Get("X-Instance-Id")
						_ = res.Body.Close()
					}
				}
				r.Err = err
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

// Count is the number of requests sent so far.
func (l *Load) Count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}

// Stop ends the load (idempotent) and returns every result in order.
func (l *Load) Stop() []loadResult {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loadResult(nil), l.results...)
}

// awaitCount waits (bounded) until the load has sent n more requests.
func (l *Load) awaitMore(t testing.TB, n int) {
	t.Helper()
	want := l.Count() + n
	deadline := time.Now().Add(ecdsSwitchTimeout)
	for l.Count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the load sent %d requests, not %d, within %s", l.Count(), want, ecdsSwitchTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitPinnedTo waits (bounded) until a request with header is served by id.
func (f *ECDSFixture) awaitPinnedTo(t testing.TB, header http.Header, id string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r := f.Get(t, "/", header)
		if r.Status == http.StatusOK && r.Instance() == id {
			return time.Since(start)
		}
		if time.Since(start) > ecdsSwitchTimeout {
			t.Fatalf("the pinned request did not reach %s within %s (last: %d from %q)", id, ecdsSwitchTimeout, r.Status, r.Instance())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With load running, a new instance map delivered through ECDS takes effect
// without a failed request; an invalid one is rejected with a log line naming
// the field, and the previous map keeps serving.
func TestECDSLiveConfigUpdate(t *testing.T) {
	f := StartECDSFixture(t, ECDSFilter{})
	require.Equal(t, int64(1), f.ecdsStats(t)["update_success"], "the initial config came through ECDS: %v", f.ecdsStats(t))

	// A browser's session on instance-b: __VCAP_ID__=instance-b.
	s := f.SessionOn(t, "instance-b")
	require.Equal(t, "instance-b", s.VCAPID)
	pinned := s.CookieHeader()
	for range 5 {
		require.Equal(t, "instance-b", f.Get(t, "/", pinned).Instance(), "v1 pins instance-b's cookie to instance-b")
	}

	load := StartLoad(t, f.Envoy, pinned)
	load.awaitMore(t, 50)

	// v2: the ids are rotated over the instances, so the same cookie now names
	// instance-c's address.
	v2 := map[string]string{"instance-a": "instance-b", "instance-b": "instance-c", "instance-c": "instance-a"}
	WriteECDS(t, f.ECDSPath, ECDSFilter{Version: "2", ModulePath: wasmPath, PluginJSON: f.pluginJSON(t, v2)})
	took := f.awaitPinnedTo(t, pinned, "instance-c")
	f.awaitStat(t, "update_success", 2)
	t.Logf("v2 took effect after %s", took)
	load.awaitMore(t, 50)
	for range 10 {
		require.Equal(t, "instance-c", f.Get(t, "/", pinned).Instance(), "v2 pins the cookie instance-b to instance-c's address")
	}
	// The response path uses the new map too: a session created on instance-a
	// is labelled with the id v2 gives instance-a's address.
	ns := f.SessionOn(t, "instance-a")
	assert.Equal(t, "instance-c", ns.VCAPID, "v2: instance-a's address has id instance-c")

	// v3 is invalid: Envoy must keep v2.
	bad := `{"pinning":{"mode":"override_host","header":"x-vcap-sticky-upstream"},` +
		`"routes":[{"host":"*","instances":[{"id":"instance-a","address":"127.0.0.1"}]}]}`
	WriteECDS(t, f.ECDSPath, ECDSFilter{Version: "3", ModulePath: wasmPath, PluginJSON: bad})
	f.awaitStat(t, "update_rejected", 1)
	load.awaitMore(t, 100)

	// v4 has a valid config but a module that cannot load: rejected too.
	WriteECDS(t, f.ECDSPath, ECDSFilter{Version: "4", ModulePath: CorruptModule(t), PluginJSON: f.pluginJSON(t, v2)})
	f.awaitStat(t, "update_rejected", 2)
	load.awaitMore(t, 100)
	results := load.Stop()

	stats := f.ecdsStats(t)
	t.Logf("ECDS counters: %v", stats)
	assert.Equal(t, int64(2), stats["update_success"], "v1 and v2 were applied, v3 and v4 were not")
	assert.Equal(t, int64(2), stats["update_rejected"], "v3 and v4 were rejected")
	assert.Equal(t, int64(2), stats["config_fail"], "v3 and v4 were rejected")
	for range 10 {
		require.Equal(t, "instance-c", f.Get(t, "/", pinned).Instance(), "after the rejected v3 and v4, v2 still serves")
	}

	// The rejection is explained in Envoy's log: the plugin's own line names
	// the field, and Envoy says the filter config update was rejected.
	pluginLines := f.Envoy.LogLines(`vcap-sticky: config: routes\[0\]\.instances\[0\]\.address: .*127\.0\.0\.1`)
	assert.NotEmpty(t, pluginLines, "the plugin logs why v3 is invalid")
	envoyLines := f.Envoy.LogLines(`config update rejected: .*` + ecdsFilterName)
	assert.Len(t, envoyLines, 2, "Envoy logs that it rejected v3 and v4")
	t.Logf("log lines about the rejection:\n%s\n%s", strings.Join(pluginLines, "\n"), strings.Join(envoyLines, "\n"))

	// No request failed during either switch; the cookie went from instance-b
	// (v1) to instance-c (v2) and nowhere else.
	served := map[string]int{}
	var failures []loadResult
	for _, r := range results {
		if r.Err != nil || r.Status != http.StatusOK {
			failures = append(failures, r)
			continue
		}
		served[r.Instance]++
	}
	t.Logf("load: %d requests from %d workers, served by %v", len(results), loadWorkers, served)
	assert.Empty(t, failures, "requests that failed during the config switches")
	assert.ElementsMatch(t, []string{"instance-b", "instance-c"}, Keys(served), "only v1's and v2's target served the cookie: %v", served)
	// Per worker, once v2 applied, v1 never serves again: the tail of each
	// worker's requests is all instance-c.
	for w := range loadWorkers {
		var last []string
		for _, r := range results {
			if r.Worker == w {
				last = append(last, r.Instance)
			}
		}
		require.Greater(t, len(last), 20, "worker %d sent too few requests", w)
		for i, id := range last[len(last)-20:] {
			assert.Equal(t, "instance-c", id, "worker %d: request %d of the last 20", w, i)
		}
	}
}

// CorruptModule writes a file that starts like a wasm module but is not one.
func CorruptModule(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "corrupt.wasm")
	require.NoError(t, os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00 this is not a module"), 0o600))
	return path
}

// What users see when the module cannot be used, per failStrategy.
//
// Istio applies a WasmPlugin's failStrategy in two places. (1) The istio-agent
// fetches the module (oci://, https://); when that fails it hands Envoy an RBAC
// filter instead of the wasm filter: allow-all for FAIL_OPEN, deny-all for
// FAIL_CLOSE. (2) Envoy's failure_policy (FAIL_OPEN / FAIL_CLOSED) governs a
// VM that fails while running. A module that reaches Envoy but cannot load
// (corrupt binary, or a pluginConfig the filter refuses) is rejected as a
// config update whatever the policy: Envoy keeps the previous config (see
// TestECDSLiveConfigUpdate), and with no previous config, the filter has none
// and every request gets a 500.
func TestFailStrategy(t *testing.T) {
	// (1) The agent could not fetch the module.
	t.Run("fetch failed/FAIL_OPEN: traffic flows without stickiness", func(t *testing.T) {
		f := StartECDSFixture(t, ECDSFilter{TypedConfig: map[string]any{
			"@type": rbacTypeURL, "rules_stat_prefix": "wasm-default-allow",
		}})
		counts := map[string]int{}
		for range 6 {
			r := f.Get(t, "/?session=new", nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			assert.Len(t, r.SetCookies(t, SessionCookie), 1, "the app's session cookie passes")
			assert.Empty(t, r.SetCookies(t, VCAPCookie), "no __VCAP_ID__: the filter is not there")
			counts[r.Instance()]++
		}
		assert.Len(t, counts, 3, "plain round robin: %v", counts)
	})
	t.Run("fetch failed/FAIL_CLOSE: 403 RBAC access denied", func(t *testing.T) {
		f := StartECDSFixture(t, ECDSFilter{TypedConfig: map[string]any{
			"@type": rbacTypeURL, "rules": map[string]any{}, "rules_stat_prefix": "wasm-default-deny",
		}})
		r := f.Get(t, "/", nil)
		assert.Equal(t, http.StatusForbidden, r.Status)
		assert.Equal(t, "RBAC: access denied", string(r.Raw))
		assert.Empty(t, r.Instance(), "no app instance was reached")
	})

	// (2) The module reaches Envoy but cannot load.
	for _, policy := range []string{"FAIL_OPEN", "FAIL_CLOSED"} {
		t.Run("module cannot load/ECDS/"+policy+": 500 for every request", func(t *testing.T) {
			f := StartECDSFixture(t, ECDSFilter{ModulePath: CorruptModule(t), FailurePolicy: policy})
			for range 3 {
				r := f.Get(t, "/", nil)
				assert.Equal(t, http.StatusInternalServerError, r.Status, "%s", r.Raw)
				assert.Empty(t, r.Raw, "Envoy answers with an empty body")
				assert.Empty(t, r.Instance(), "no app instance was reached")
			}
			stats := f.ecdsStats(t)
			assert.Equal(t, int64(1), stats["update_rejected"], "%v", stats)
			assert.Equal(t, int64(0), stats["update_success"], "%v", stats)
			assert.NotEmpty(t, f.Envoy.LogLines(`Failed to load Wasm code`), "the VM says why")
			assert.NotEmpty(t, f.Envoy.LogLines(`config update rejected: Unable to create Wasm plugin `+PluginName),
				"Envoy says it rejected the filter config")
		})
		t.Run("module cannot load/bootstrap/"+policy+": Envoy refuses the config", func(t *testing.T) {
			insts := []PluginInstance{{ID: "instance-a", Address: "127.0.0.1:18081"}}
			b, err := NewBootstrap(ModeOverrideHost, CorruptModule(t), insts)
			require.NoError(t, err)
			b.Wasm.FailurePolicy = policy
			path := WriteBootstrap(t, t.TempDir(), b)
			ctx, cancel := context.WithTimeout(context.Background(), 2*defaultReadyTimeout)
			defer cancel()
			out, err := exec.CommandContext(ctx, envoyPath, "--mode", "validate", "-c", path,
				"--disable-hot-restart", "--log-level", "warn").CombinedOutput()
			require.Error(t, err, "envoy --mode validate accepted a corrupt module:\n%s", out)
			assert.Contains(t, string(out), "Unable to create Wasm plugin "+PluginName)
		})
	}
}
