package e2e

// Sealed mode in real Envoys: __VCAP_ID__ is an AES-GCM token, the keys come
// from the VM's environment (vm_config.environment_variables), and any Envoy
// with the same key accepts a token another one issued. docs/sealed.md
// describes the mode; these tests are what it claims.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/upstream"
)

const (
	// sealedKeysEnv is the VM environment variable holding the keys.
	sealedKeysEnv = "VCAP_STICKY_KEYS"
	// sealedTokenSize is the documented length of every token.
	sealedTokenSize = 175
	// routeTagRegex extracts the route of wasmcustom.vcap_sticky.route.<name>.<counter>
	// as the tag vcap_sticky_route (docs/sealed.md, "Operating it").
	routeTagRegex = `^wasmcustom\.vcap_sticky\.route\.((.+?)\.)\w+$`
)

// sealedKey is a 32-byte AES key, as base64: distinct for each seed.
func sealedKey(seed byte) string {
	k := make([]byte, 32)
	for i := range k {
		k[i] = seed*31 + byte(i)*7 + 1
	}
	return base64.StdEncoding.EncodeToString(k)
}

// SealedEnvoy describes one gateway replica in sealed mode.
type SealedEnvoy struct {
	Keys       string // the VM's VCAP_STICKY_KEYS
	TTLSeconds int    // 0: the default
	// Extra plugin config members (JSON values by name).
	Extra map[string]any
	// Adjust changes the bootstrap before it is rendered.
	Adjust func(*Bootstrap)
	// AdjustYAML changes the rendered bootstrap.
	AdjustYAML func(string) (string, error)
}

// sealedPluginJSON is the standard plugin config of b with sealed mode on.
func sealedPluginJSON(t testing.TB, b Bootstrap, s SealedEnvoy) string {
	t.Helper()
	raw, err := json.Marshal(b.Wasm.Plugin)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	sealed := map[string]any{"keys_env": sealedKeysEnv}
	if s.TTLSeconds > 0 {
		sealed["ttl_seconds"] = s.TTLSeconds
	}
	m["sealed"] = sealed
	m["route_metrics"] = true
	for k, v := range s.Extra {
		m[k] = v
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return string(out)
}

// withVMEnv adds vm_config.environment_variables.key_values to the rendered
// bootstrap's wasm filter: the only way keys reach the filter.
func withVMEnv(yaml string, env map[string]string) (string, error) {
	const code = "\n                  code: { local: { filename: "
	i := strings.Index(yaml, code)
	if i < 0 {
		return "", fmt.Errorf("no wasm vm_config code line in the bootstrap")
	}
	eol := i + 1 + strings.IndexByte(yaml[i+1:], '\n')
	kv, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	return yaml[:eol] + "\n                  environment_variables:\n                    key_values: " + string(kv) + yaml[eol:], nil
}

// withRouteStatsTag adds a stats_config whose tag extractor makes the route
// of the filter's per-route counters a tag (a Prometheus label).
func withRouteStatsTag(yaml string) string {
	re, _ := json.Marshal(routeTagRegex)
	return "stats_config:\n  stats_tags:\n  - tag_name: vcap_sticky_route\n    regex: " + string(re) + "\n" + yaml
}

// StartSealedEnvoy starts an Envoy in override_host mode in front of insts
// (already running, shared between replicas) with sealed mode on.
func StartSealedEnvoy(t testing.TB, insts []*upstream.Instance, s SealedEnvoy) *Fixture {
	t.Helper()
	b, err := NewBootstrap(ModeOverrideHost, wasmPath, PluginInstances(insts))
	require.NoError(t, err)
	if s.Adjust != nil {
		s.Adjust(&b)
	}
	b.Wasm.PluginJSON = sealedPluginJSON(t, b, s)
	yaml, err := b.Render()
	require.NoError(t, err)
	yaml, err = withVMEnv(yaml, map[string]string{sealedKeysEnv: s.Keys})
	require.NoError(t, err)
	yaml = withRouteStatsTag(yaml)
	if s.AdjustYAML != nil {
		yaml, err = s.AdjustYAML(yaml)
		require.NoError(t, err)
	}
	f := StartFixtureYAML(t, insts, b, yaml, EnvoyOptions{})
	t.Cleanup(func() {
		if exited, _ := f.Envoy.Exited(); exited {
			return
		}
		for _, l := range f.Envoy.LogLines(`(?i)wasm`) {
			for _, k := range strings.Split(s.Keys, ",") {
				if strings.Contains(l, k) || strings.Contains(l, k[:12]) {
					t.Errorf("a key appears in Envoy's log: %q", l)
				}
			}
		}
	})
	return f
}

// pinnedRequests sends n requests with the session's cookies and returns how
// many each instance served; every answer must be a 200.
func pinnedRequests(t *testing.T, f *Fixture, s Session, n int) map[string]int {
	t.Helper()
	return f.Spread(t, n, "/", s.CookieHeader())
}

// checkToken: the value is an opaque token of the documented size that
// shows neither the instance id nor its address.
func checkToken(t *testing.T, f *Fixture, v string) {
	t.Helper()
	require.Len(t, v, sealedTokenSize, "token %q", v)
	require.Regexp(t, `^[A-Za-z0-9_-]+$`, v, "base64url without padding")
	for _, in := range f.Instances {
		assert.NotContains(t, v, in.ID)
		assert.NotContains(t, v, in.Addr())
	}
}

// TestSealedReplicas: two Envoys sharing a key are two gateway replicas: a
// session started on one is pinned on the other. A third Envoy with another
// key rejects the token, as both reject a hand-edited one and a plain
// instance id: normal balancing, a fresh cookie, counted by reason, no 5xx.
func TestSealedReplicas(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, DefaultIDs...)
	key := sealedKey(1)
	a := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: key})
	b := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: key})
	c := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: sealedKey(2)})

	for _, id := range DefaultIDs {
		s := a.SessionOn(t, id)
		checkToken(t, a, s.VCAPID)
		hits := b.Envoy.FilterCounter(t, "sticky_hits")
		assert.Equal(t, map[string]int{id: 20}, pinnedRequests(t, b, s, 20), "a session of replica A is pinned on replica B")
		assert.Equal(t, hits+20, b.Envoy.FilterCounter(t, "sticky_hits"))
		assert.Equal(t, map[string]int{id: 5}, pinnedRequests(t, a, s, 5), "and on A")
	}

	s := a.SessionOn(t, "instance-b")
	rejected := func(e *Fixture, name string, vcap string, reason string) {
		t.Helper()
		before := e.Envoy.FilterCounter(t, "tokens_rejected_"+reason)
		sess := Session{JSessionID: s.JSessionID, VCAPID: vcap}
		served := map[string]int{}
		for range 6 {
			r := e.Get(t, "/", sess.CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "%s: never a 5xx: %s", name, r.Raw)
			served[r.Instance()]++
			// The cookie is re-issued, for the instance that served, sealed
			// with this replica's key.
			v := oneCookie(t, r, VCAPCookie).Value
			checkToken(t, e, v)
			assert.Equal(t, map[string]int{r.Instance(): 3}, pinnedRequests(t, e, Session{JSessionID: s.JSessionID, VCAPID: v}, 3),
				"%s: the re-issued cookie pins", name)
		}
		assert.Greater(t, len(served), 1, "%s: normal balancing, not pinned: %v", name, served)
		assert.Equal(t, before+6, e.Envoy.FilterCounter(t, "tokens_rejected_"+reason), name)
	}
	rejected(c, "another key's token", s.VCAPID, "unauthentic")

	edited := []byte(s.VCAPID)
	edited[80] = map[bool]byte{true: 'A', false: 'B'}[edited[80] != 'A']
	rejected(a, "hand-edited token on A", string(edited), "unauthentic")
	rejected(b, "hand-edited token on B", string(edited), "unauthentic")
	rejected(a, "a plain instance id", "instance-b", "malformed")
	rejected(b, "a truncated token", s.VCAPID[:100], "malformed")

	// Per-route counters, with the route as a Prometheus label.
	prom := b.Envoy.Admin(t, "/stats/prometheus")
	t.Logf("per-route counters in /stats/prometheus:\n%s", grepLines(prom, "vcap_sticky_route"))
	re := regexp.MustCompile(`(?m)^\S*vcap_sticky_route_sticky_hits\{[^}]*vcap_sticky_route="any"[^}]*\} (\d+)$`)
	m := re.FindStringSubmatch(prom)
	if assert.NotNil(t, m, "per-route counter with a route label in:\n%s", grepLines(prom, "vcap_sticky")) {
		n, _ := strconv.Atoi(m[1])
		assert.Equal(t, int64(n), b.Envoy.FilterCounter(t, "sticky_hits"), "one route: the route's hits are all hits")
	}
	assert.Regexp(t, `(?m)^\S*vcap_sticky_route_tokens_rejected_unauthentic\{[^}]*vcap_sticky_route="any"[^}]*\} 6$`, prom)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSealedExpiry: a token past its lifetime is rejected by every replica
// (wall-clock expiry inside the token, not a per-process clock).
func TestSealedExpiry(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, DefaultIDs...)
	key := sealedKey(3)
	const ttl = 2
	a := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: key, TTLSeconds: ttl})
	b := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: key, TTLSeconds: ttl})
	s := a.SessionOn(t, "instance-c")
	issued := time.Now()
	assert.Equal(t, map[string]int{"instance-c": 1}, pinnedRequests(t, b, s, 1), "valid on B before it expires")

	time.Sleep(time.Until(issued.Add((ttl+1)*time.Second)).Truncate(time.Millisecond) + 100*time.Millisecond)
	for name, e := range map[string]*Fixture{"A": a, "B": b} {
		before := e.Envoy.FilterCounter(t, "tokens_rejected_expired")
		served := map[string]int{}
		for range 6 {
			r := e.Get(t, "/", s.CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Raw)
			served[r.Instance()]++
			checkToken(t, e, oneCookie(t, r, VCAPCookie).Value)
		}
		assert.Greater(t, len(served), 1, "%s: the expired token does not pin: %v", name, served)
		assert.Equal(t, before+6, e.Envoy.FilterCounter(t, "tokens_rejected_expired"), name)
	}
}

// TestSealedKeyRotation: keys [new, old] open tokens of both and seal with
// new; once old is dropped, only its tokens stop working.
func TestSealedKeyRotation(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, DefaultIDs...)
	oldKey, newKey := sealedKey(4), sealedKey(5)
	before := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: oldKey})
	during := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: newKey + "," + oldKey})
	after := StartSealedEnvoy(t, insts, SealedEnvoy{Keys: newKey})

	old := before.SessionOn(t, "instance-a")
	assert.Equal(t, map[string]int{"instance-a": 10}, pinnedRequests(t, during, old, 10), "[new, old] opens an old token")
	fresh := during.SessionOn(t, "instance-b")
	assert.Equal(t, map[string]int{"instance-b": 10}, pinnedRequests(t, after, fresh, 10), "[new, old] seals with new")

	for _, tc := range []struct {
		e    *Fixture
		s    Session
		what string
	}{{after, old, "old token after the old key is dropped"}, {before, fresh, "new token before the new key is known"}} {
		n := tc.e.Envoy.FilterCounter(t, "tokens_rejected_unauthentic")
		r := tc.e.Get(t, "/", tc.s.CookieHeader())
		require.Equal(t, http.StatusOK, r.Status, tc.what)
		checkToken(t, tc.e, oneCookie(t, r, VCAPCookie).Value)
		assert.Equal(t, n+1, tc.e.Envoy.FilterCounter(t, "tokens_rejected_unauthentic"), tc.what)
	}
}

// TestSealedConfigWithoutKeys: sealed mode without the environment variable
// fails the plugin at start (Envoy refuses the bootstrap) with a message
// that names the variable.
func TestSealedConfigWithoutKeys(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, DefaultIDs[:1]...)
	b, err := NewBootstrap(ModeOverrideHost, wasmPath, PluginInstances(insts))
	require.NoError(t, err)
	b.Wasm.PluginJSON = sealedPluginJSON(t, b, SealedEnvoy{})
	yaml, err := b.Render()
	require.NoError(t, err)
	yaml, err = withVMEnv(yaml, map[string]string{"OTHER": "x"})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "envoy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 2*defaultReadyTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, envoyPath, "--mode", "validate", "-c", path,
		"--disable-hot-restart", "--log-level", "warn").CombinedOutput()
	require.Error(t, err, "envoy accepts sealed mode without keys:\n%s", out)
	assert.Contains(t, string(out), "vcap-sticky: config: sealed.keys_env: environment variable VCAP_STICKY_KEYS is not set")
}
