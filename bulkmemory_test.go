package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Go's Wasm backend copies a value of more than 16 bytes with memory.copy
// and zeroes one of more than 32 with memory.fill (a [2]string header pair
// is 32). V8 compiles each into a call out of the module into its runtime,
// which Envoy's profile counts as Envoy's own time. A filter that did that
// per header pair would cost more with every header the client sends; these
// tests hold the number per exchange to one that does not grow with the
// headers.

// countingBulkMemory rewrites the module so that each memory.copy and
// memory.fill first adds one to a global of its own, exported as
// "bulk<N>"; sites[N] names the site's function and instruction.
func countingBulkMemory(t *testing.T, bin []byte) (counting []byte, sites []string) {
	t.Helper()
	wasm2wat, err := exec.LookPath("wasm2wat")
	require.NoError(t, err, "wasm2wat (Debian package wabt, `make wabt`) rewrites the module")
	dir := t.TempDir()
	in, text, out := filepath.Join(dir, "in.wasm"), filepath.Join(dir, "counting.wat"), filepath.Join(dir, "counting.wasm")
	require.NoError(t, os.WriteFile(in, bin, 0o644))
	msg, err := exec.Command(wasm2wat, in, "-o", text).CombinedOutput()
	require.NoError(t, err, "wasm2wat: %s", msg)

	src, err := os.Open(text)
	require.NoError(t, err)
	defer src.Close()
	var b strings.Builder
	fn := ""
	shorten := strings.NewReplacer("github.com_vcap_sticky_vcap_sticky_", "", "github.com_tetratelabs_proxy_wasm_go_sdk_", "")
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 1<<20), 1<<26) // the data segments are long lines
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "  (func $"); ok {
			fn, _, _ = strings.Cut(name, " ")
		}
		if op := strings.TrimSpace(line); strings.HasPrefix(op, "memory.copy") || strings.HasPrefix(op, "memory.fill") {
			// Balanced on the operand stack: the instruction's own operands stay.
			fmt.Fprintf(&b, "global.get $bulk%[1]d\ni64.const 1\ni64.add\nglobal.set $bulk%[1]d\n", len(sites))
			short := shorten.Replace(fn)
			sites = append(sites, short+" "+strings.Fields(op)[0])
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, sites, "the module has no memory.copy or memory.fill: the rewrite found nothing to count")
	// The counters go last, after the module's own globals, whose indices
	// the code uses: before the module's closing parenthesis.
	wat, ok := strings.CutSuffix(strings.TrimRight(b.String(), "\n "), ")")
	require.True(t, ok, "wasm2wat's module does not end in ')'")
	b.Reset()
	b.WriteString(wat)
	for i := range sites {
		fmt.Fprintf(&b, "\n(global $bulk%[1]d (mut i64) (i64.const 0)) (export \"bulk%[1]d\" (global $bulk%[1]d))", i)
	}
	b.WriteString(")\n")
	require.NoError(t, os.WriteFile(text, []byte(b.String()), 0o644))
	msg, err = exec.Command("wat2wasm", "--enable-all", text, "-o", out).CombinedOutput()
	require.NoError(t, err, "wat2wasm: %s", msg)
	counting, err = os.ReadFile(out)
	require.NoError(t, err)
	return counting, sites
}

// withExtraHeaders is pairs and then n more headers that the filter reads
// past and leaves alone.
func withExtraHeaders(pairs [][2]string, n int) [][2]string {
	out := append([][2]string(nil), pairs...)
	for i := range n {
		out = append(out, [2]string{fmt.Sprintf("x-extra-%d", i), "some value of a header"})
	}
	return out
}

func TestBulkMemoryPerExchangeDoesNotGrowWithHeaders(t *testing.T) {
	bin, sites := countingBulkMemory(t, benchReadFile(t, builtModulePath()))
	h := newBenchHost(t, benchModule{"filter", bin, crossingsConfig}, stickyHit, nil)
	counters := func() []uint64 {
		v := make([]uint64, len(sites))
		for i := range sites {
			g := h.mod.ExportedGlobal(fmt.Sprintf("bulk%d", i))
			require.NotNil(t, g)
			v[i] = g.Get()
		}
		return v
	}
	// perSite is the count per exchange of each site that ran, for
	// exchanges of req and resp after a warm-up (buffers grown).
	perSite := func(req, resp [][2]string) map[string]int {
		h.reqPairs, h.nReq = serializePairs(req), uint64(len(req))
		h.respPairs, h.nResp = serializePairs(resp), uint64(len(resp))
		for range 20 {
			h.exchange()
		}
		const n = 50
		before := counters()
		for range n {
			h.exchange()
		}
		after := counters()
		got := map[string]int{}
		for i := range sites {
			if d := after[i] - before[i]; d > 0 {
				got[fmt.Sprintf("%s #%d", sites[i], i)] = int(d / n)
				assert.Zero(t, d%n, "site %d (%s) ran %d times in %d exchanges", i, sites[i], d, n)
			}
		}
		return got
	}
	for _, kind := range []struct {
		name string
		benchKind
	}{{"sticky hit", stickyHit}, {"new session", newSession}} {
		few := perSite(kind.req, kind.resp)
		require.NotEmpty(t, few, "%s: no bulk memory operation ran; the counters do not count", kind.name)
		many := perSite(withExtraHeaders(kind.req, 24), withExtraHeaders(kind.resp, 24))
		assert.Equal(t, few, many, "%s: bulk memory operations per exchange, %d headers more each way", kind.name, 24)
		t.Logf("%s: %d sites, %d operations per exchange", kind.name, len(few), sum(few))
	}
}
