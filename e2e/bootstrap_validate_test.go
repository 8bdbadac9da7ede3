package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every pinning mode's bootstrap renders to a configuration Envoy accepts with
// the module and the mode's plugin config (validate mode instantiates the VM
// and configures the plugin), so the template's branches stay valid before
// tests use them.
func TestBootstrapValidates(t *testing.T) {
	t.Parallel()
	insts := []PluginInstance{
		{ID: "instance-a", Address: "127.0.0.1:18081"},
		{ID: "instance-b", Address: "127.0.0.1:18082"},
		{ID: "instance-c", Address: "127.0.0.1:18083"},
	}
	for _, mode := range []PinningMode{ModeOverrideHost, ModeStatefulSession, ModeCluster} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			b, err := NewBootstrap(mode, wasmPath, insts)
			require.NoError(t, err)
			yaml, err := b.Render()
			require.NoError(t, err)
			switch mode {
			case ModeOverrideHost:
				assert.Contains(t, yaml, "envoy.load_balancing_policies.override_host")
				assert.Contains(t, yaml, "- remove: \""+PinHeader+"\"")
			case ModeStatefulSession:
				assert.Contains(t, yaml, "envoy.http.stateful_session.header")
			case ModeCluster:
				assert.Contains(t, yaml, "cluster_header: \""+PinHeader+"\"")
				assert.Contains(t, yaml, `\"cluster\":\"app-instance-b\"`, "plugin config names the clusters")
			}
			out := ValidateBootstrap(t, b)
			assert.True(t, strings.Contains(out, "OK"), "validate output: %s", out)
		})
	}
}

// The example users start from (envoy.yaml at the top, run by `make run`)
// is a configuration this Envoy accepts, module and plugin config included.
func TestShippedEnvoyYAMLValidates(t *testing.T) {
	t.Parallel()
	out, err := validateConfig("..", "envoy.yaml") // its module path is relative to the repository root
	require.NoError(t, err, "envoy --mode validate -c envoy.yaml:\n%s", out)
	assert.Contains(t, out, "OK")
}
