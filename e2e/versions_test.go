package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// The e2e tests run against every Envoy minor from 1.36 to 1.40 (`make
// test-matrix`; `make test` runs all of them on 1.40 and a subset on 1.36).
// A feature that an older Envoy lacks is not skipped there: the test checks
// that Envoy refuses the configuration for that reason, which is the limit
// the README's "Supported versions" table states.

// envoyMinor is the minor of the Envoy under test (1.<minor>.x), read by
// TestMain from `envoy --version`.
var envoyMinor int

// parseEnvoyMinor reads the minor from a version line such as
// "envoy  version: 0ebf.../1.38.2/Clean/RELEASE/BoringSSL".
func parseEnvoyMinor(line string) (int, error) {
	m := regexp.MustCompile(`/1\.(\d+)\.\d+/`).FindStringSubmatch(line)
	if m == nil {
		return 0, fmt.Errorf("no Envoy version 1.x.y in %q", line)
	}
	return strconv.Atoi(m[1])
}

// feature is a piece of Envoy configuration that needs Envoy 1.<Since>+.
type feature struct {
	Name  string
	Since int
	// Refusal is in Envoy's error when an older one is given the feature.
	Refusal string
}

// compositeCluster: cluster mode's fallback over an instance cluster and the
// app cluster (README "Envoy setup", cluster mode).
var compositeCluster = feature{
	Name:    "envoy.clusters.composite",
	Since:   37,
	Refusal: "type.googleapis.com/envoy.extensions.clusters.composite.v3.ClusterConfig",
}

// refusedByOlderEnvoy reports whether the Envoy under test predates f. If it
// does, it checks that Envoy refuses the bootstrap b (mode's defaults plus
// adjust) for f, so the caller's test ends with that limit shown, not
// skipped.
func refusedByOlderEnvoy(t *testing.T, f feature, mode PinningMode, adjust ...func(*Bootstrap)) bool {
	t.Helper()
	if envoyMinor >= f.Since {
		return false
	}
	insts := []PluginInstance{{ID: "instance-a", Address: "127.0.0.1:18081"}, {ID: "instance-b", Address: "127.0.0.1:18082"}}
	b, err := NewBootstrap(mode, wasmPath, insts)
	require.NoError(t, err)
	for _, a := range adjust {
		a(&b)
	}
	out, err := validateConfig("", WriteBootstrap(t, t.TempDir(), b))
	require.Error(t, err, "Envoy 1.%d accepted %s, which the README says needs 1.%d+: update the table", envoyMinor, f.Name, f.Since)
	require.Contains(t, out, f.Refusal, "Envoy 1.%d refuses the configuration, for %s", envoyMinor, f.Name)
	t.Logf("Envoy 1.%d refuses %s (needs 1.%d+), as documented", envoyMinor, f.Name, f.Since)
	return true
}

func TestParseEnvoyMinor(t *testing.T) {
	for line, want := range map[string]int{
		"envoy  version: 0ebfcfe5b0484b89ca85b761da9e05ce75dbda8d/1.38.3/Modified/RELEASE/BoringSSL": 38,
		"version: a/1.40.0/Clean/RELEASE/BoringSSL":                                                  40,
		"version: a/1.36.10/Clean/RELEASE/BoringSSL":                                                 36,
	} {
		got, err := parseEnvoyMinor(line)
		require.NoError(t, err)
		require.Equal(t, want, got, line)
	}
	_, err := parseEnvoyMinor("envoy version: dev")
	require.Error(t, err)
}
