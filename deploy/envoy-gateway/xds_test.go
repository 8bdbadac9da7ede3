package envoygateway

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testdata/xds.yaml is Envoy Gateway's translation of these manifests
// (scripts/envoy-gateway-xds.sh); the e2e test runs it. It must be current:
// made from the manifests as they are, by the Envoy Gateway this module pins.
func TestTranslatedConfigIsCurrent(t *testing.T) {
	out, err := os.ReadFile("testdata/xds.yaml")
	require.NoError(t, err)
	header := string(out[:min(len(out), 1024)])
	m := regexp.MustCompile(`(?m)^# Envoy Gateway (\S+); inputs (.+)\n# inputs sha256 ([0-9a-f]{64})$`).FindStringSubmatch(header)
	require.NotNil(t, m, "the generator's header")
	h := sha256.New()
	for _, f := range strings.Fields(m[2]) {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		h.Write(b)
	}
	assert.Equal(t, m[3], hex.EncodeToString(h.Sum(nil)),
		"the manifests changed since testdata/xds.yaml was made: run `make envoy-gateway-xds`")
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	pinned := regexp.MustCompile(`(?m)^\s*github\.com/envoyproxy/gateway (\S+)$`).FindSubmatch(mod)
	require.NotNil(t, pinned, "go.mod requires github.com/envoyproxy/gateway")
	assert.Equal(t, string(pinned[1]), m[1], "made by the Envoy Gateway in go.mod: run `make envoy-gateway-xds`")
	assert.NotContains(t, m[2], "extensionpolicy.yaml", "egctl cannot translate Wasm policies (no Wasm cache)")
}
