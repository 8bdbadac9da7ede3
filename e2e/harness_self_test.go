package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	funce "github.com/tetratelabs/func-e"
	"github.com/tetratelabs/func-e/api"
)

// The transport given to func-e turns a download attempt into an immediate
// error: here func-e gets no EnvoyPath, so it would look up and download the
// latest Envoy.
func TestHarnessFuncEDownloadBlocked(t *testing.T) {
	t.Parallel()
	tr := newNoDownloadTransport()
	var out syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := funce.Run(ctx, []string{"--version"},
		api.HomeDir(filepath.Join(t.TempDir(), "func-e")),
		api.Out(&out), api.EnvoyOut(&out), api.EnvoyErr(&out),
		api.HTTPTransport(tr))
	require.Error(t, err, "func-e output: %s", out.String())
	assert.Contains(t, err.Error(), "must not reach the network")
	assert.Less(t, time.Since(start), 5*time.Second, "fails at once instead of hanging")
	assert.NotEmpty(t, tr.Blocked())
	t.Logf("func-e without EnvoyPath: %v", err)
}

// Loopback requests (func-e's admin readiness polling) pass.
func TestHarnessTransportAllowsLoopbackOnly(t *testing.T) {
	t.Parallel()
	insts := StartInstances(t, "loop")
	tr := newNoDownloadTransport()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	r := Do(t, c, http.MethodGet, insts[0].URL()+"/x", nil)
	assert.Equal(t, "loop", r.Instance())

	_, err := c.Get("http://192.0.2.1/never") // TEST-NET-1: refused without dialing
	require.Error(t, err)
	assert.Equal(t, []string{"GET http://192.0.2.1/never"}, tr.Blocked())
}
