package envoygateway

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/internal/manifest"
)

// testdata/xds.yaml is Envoy Gateway's translation of these manifests
// (scripts/envoy-gateway-xds.sh); the e2e test runs it. It must be current:
// made from the manifests as they are, by the Envoy Gateway this module pins.
func TestTranslatedConfigIsCurrent(t *testing.T) {
	out, err := os.ReadFile("testdata/xds.yaml")
	require.NoError(t, err)
	g, ok := manifest.ReadGenerated(out, "Envoy Gateway")
	require.True(t, ok, "the generator's header")
	sum, err := manifest.InputsSum(g.Inputs)
	require.NoError(t, err)
	assert.Equal(t, g.Sum, sum, "the manifests changed since testdata/xds.yaml was made: run `make envoy-gateway-xds`")
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	pinned, ok := manifest.RequiredVersion(mod, "github.com/envoyproxy/gateway")
	require.True(t, ok, "go.mod requires github.com/envoyproxy/gateway")
	assert.Equal(t, pinned, g.Version, "made by the Envoy Gateway in go.mod: run `make envoy-gateway-xds`")
	assert.NotContains(t, g.Inputs, "extensionpolicy.yaml", "egctl cannot translate Wasm policies (no Wasm cache)")
}
