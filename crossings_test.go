package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Most of what this filter costs Envoy is crossings between Envoy and the Go
// VM, not the filter's logic (BENCHMARKS.md): calls into the VM, host calls
// (proxy-wasm and WASI), and the allocation callback each host call that
// returns data makes. Their number per request is exact where throughput is
// noisy, so it is checked here: the built module runs in wazero against a
// small emulated Envoy that counts them, for the requests the benchmark
// measures. A change that adds a crossing to the hot path fails here.

const crossingsConfig = `{"routes":[{"host":"app.example","instances":[` +
	`{"id":"a","address":"10.0.0.1:8080"},{"id":"b","address":"10.0.0.2:8080"}]}]}`

// crossings are one exchange's crossings, as Envoy would make them.
type crossings struct {
	entries   int            // exports Envoy called (it skips those not exported)
	hostCalls map[string]int // env.* and wasi_snapshot_preview1.* functions, by name
	allocs    int            // proxy_on_memory_allocate, from inside host calls
}

// emulatedEnvoy is the host side: just enough of Envoy for the filter's
// request and response headers callbacks.
type emulatedEnvoy struct {
	mod         api.Module
	config      string // the plugin configuration
	reqHeaders  [][2]string
	respHeaders [][2]string
	upstream    string            // upstream.address
	replaced    map[string]string // request headers the filter replaced
	added       []string          // response headers the filter added, "name: value"
	increments  int64             // the sum of every proxy_increment_metric offset
	callouts    uint32            // proxy_http_call: the last callout id handed out
	effective   uint64            // the last proxy_set_effective_context
	counts      crossings
}

// serializePairs is the proxy-wasm header map encoding: the number of pairs,
// each pair's key and value sizes, then each key and value NUL-terminated.
func serializePairs(pairs [][2]string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(pairs)))
	for _, kv := range pairs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range pairs {
		b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
	}
	return b
}

// give copies data into the VM as Envoy does: through the module's
// allocator, then the address and size into the caller's return slots.
func (e *emulatedEnvoy) give(ctx context.Context, m api.Module, data []byte, retPtr, retSize uint32) uint64 {
	e.counts.allocs++
	res, err := m.ExportedFunction("proxy_on_memory_allocate").Call(ctx, uint64(len(data)))
	if err != nil || !m.Memory().Write(uint32(res[0]), data) {
		return 2 // BadArgument
	}
	m.Memory().WriteUint32Le(retPtr, uint32(res[0]))
	m.Memory().WriteUint32Le(retSize, uint32(len(data)))
	return 0
}

func (e *emulatedEnvoy) read(m api.Module, ptr, size uint64) string {
	b, _ := m.Memory().Read(uint32(ptr), uint32(size))
	return string(b)
}

// hostFunction answers env.<name>; every host function it does not know
// succeeds and does nothing.
func (e *emulatedEnvoy) hostFunction(name string, hasResult bool) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, st []uint64) {
		e.counts.hostCalls[name]++
		var status uint64
		switch name {
		case "proxy_get_buffer_bytes": // the plugin configuration
			status = e.give(ctx, m, []byte(e.config), uint32(st[3]), uint32(st[4]))
		case "proxy_get_header_map_pairs":
			pairs := e.reqHeaders
			if st[0] == 2 { // response headers
				pairs = e.respHeaders
			}
			status = e.give(ctx, m, serializePairs(pairs), uint32(st[1]), uint32(st[2]))
		case "proxy_get_header_map_value":
			status = 1 // NotFound: the filter reads headers as pairs
		case "proxy_get_property":
			if e.read(m, st[0], st[1]) == "upstream\x00address" {
				status = e.give(ctx, m, []byte(e.upstream), uint32(st[2]), uint32(st[3]))
			} else {
				status = 1
			}
		case "proxy_replace_header_map_value":
			e.replaced[e.read(m, st[1], st[2])] = e.read(m, st[3], st[4])
		case "proxy_add_header_map_value":
			e.added = append(e.added, e.read(m, st[1], st[2])+": "+e.read(m, st[3], st[4]))
		case "proxy_increment_metric":
			e.increments += int64(st[1])
		case "proxy_http_call":
			e.callouts++
			m.Memory().WriteUint32Le(uint32(st[9]), e.callouts)
		case "proxy_set_effective_context":
			e.effective = st[0]
		}
		if hasResult {
			st[0] = status
		}
	}
}

// wasiCounter counts the module's calls to WASI functions (clock reads, for
// one) through wazero's function listener.
type wasiCounter struct{ e *emulatedEnvoy }

func (w wasiCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.ModuleName() != wasi_snapshot_preview1.ModuleName {
		return nil // the guest's own functions and env (counted by the host functions)
	}
	name := def.ModuleName() + "." + def.Name()
	return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
		w.e.counts.hostCalls[name]++
	})
}

// startEmulatedEnvoy instantiates the built module and starts the plugin
// (root context 1) with crossingsConfig.
func startEmulatedEnvoy(t *testing.T) (*emulatedEnvoy, context.Context) {
	t.Helper()
	return startModule(t, readModule(t, builtModulePath()), crossingsConfig)
}

// startModule instantiates a proxy-wasm module and starts its plugin (root
// context 1) with config.
func startModule(t *testing.T, bin []byte, config string) (*emulatedEnvoy, context.Context) {
	t.Helper()
	e := &emulatedEnvoy{config: config, replaced: map[string]string{}}
	e.counts.hostCalls = map[string]int{}
	// The interpreter: function listeners see calls to imported functions.
	ctx := experimental.WithFunctionListenerFactory(context.Background(), wasiCounter{e})
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, bin)
	require.NoError(t, err)
	env := rt.NewHostModuleBuilder("env")
	for _, imp := range compiled.ImportedFunctions() {
		if mod, name, _ := imp.Import(); mod == "env" {
			env.NewFunctionBuilder().
				WithGoModuleFunction(e.hostFunction(name, len(imp.ResultTypes()) > 0), imp.ParamTypes(), imp.ResultTypes()).
				Export(name)
		}
	}
	_, err = env.Instantiate(ctx)
	require.NoError(t, err)
	// No GC during the test: a collection reads the clock, which would be
	// counted against whichever request it happened in.
	e.mod, err = rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().
		WithStartFunctions("_initialize").WithEnv("GOGC", "off"))
	require.NoError(t, err)
	e.call(t, ctx, "proxy_on_context_create", 1, 0)
	require.Equal(t, uint64(1), e.call(t, ctx, "proxy_on_vm_start", 1, 0))
	require.Equal(t, uint64(1), e.call(t, ctx, "proxy_on_configure", 1, uint64(len(config))), "plugin start")
	return e, ctx
}

// call calls an export if the module has it, as Envoy does, and counts it.
func (e *emulatedEnvoy) call(t *testing.T, ctx context.Context, name string, args ...uint64) uint64 {
	t.Helper()
	f := e.mod.ExportedFunction(name)
	if f == nil {
		return 0
	}
	e.counts.entries++
	res, err := f.Call(ctx, args...)
	require.NoError(t, err, name)
	if len(res) == 0 {
		return 0
	}
	return res[0]
}

// exchange runs one request and its response through the filter as Envoy
// calls a filter's callbacks, and returns its crossings.
func (e *emulatedEnvoy) exchange(t *testing.T, ctx context.Context, id uint64, req, resp [][2]string, upstream string) crossings {
	t.Helper()
	e.reqHeaders, e.respHeaders, e.upstream = req, resp, upstream
	e.replaced, e.added = map[string]string{}, nil
	e.counts = crossings{hostCalls: map[string]int{}}
	e.call(t, ctx, "proxy_on_context_create", id, 1)
	require.Equal(t, uint64(0), e.call(t, ctx, "proxy_on_request_headers", id, uint64(len(req)), 1), "Continue")
	require.Equal(t, uint64(0), e.call(t, ctx, "proxy_on_response_headers", id, uint64(len(resp)), 0), "Continue")
	e.call(t, ctx, "proxy_on_response_body", id, 100, 1)
	e.call(t, ctx, "proxy_on_done", id)
	e.call(t, ctx, "proxy_on_log", id)
	e.call(t, ctx, "proxy_on_delete", id)
	return e.counts
}

// The exchanges the benchmark measures, as the emulated Envoy sends them.
func crossingsRequest(cookie string) [][2]string {
	h := [][2]string{{":authority", "app.example"}, {":path", "/"}, {":method", "GET"},
		{":scheme", "http"}, {"x-forwarded-proto", "http"}, {"x-request-id", "5b8e8f5e-2f0a-4bd5-a3a7-0b0e2f1c9d11"}}
	if cookie != "" {
		h = append(h, [2]string{"cookie", cookie})
	}
	return h
}

const stickyCookie = "JSESSIONID=s; __VCAP_ID__=b" // b is 10.0.0.2:8080 in crossingsConfig

var (
	crossingsResponse   = [][2]string{{":status", "200"}, {"content-type", "text/plain"}, {"content-length", "100"}}
	crossingsNewSession = append(crossingsResponse[:len(crossingsResponse):len(crossingsResponse)],
		[2]string{"set-cookie", "JSESSIONID=s1; Path=/"})
)

// warmUp runs a few exchanges that are not measured: the first requests of
// a VM may differ (maps growing).
func (e *emulatedEnvoy) warmUp(t *testing.T, ctx context.Context) {
	t.Helper()
	for i := range 3 {
		e.exchange(t, ctx, uint64(10+i), crossingsRequest(stickyCookie), crossingsResponse, "10.0.0.2:8080")
	}
}

func TestCrossingsPerRequest(t *testing.T) {
	e, ctx := startEmulatedEnvoy(t)
	request, response, newSession := crossingsRequest, crossingsResponse, crossingsNewSession
	e.warmUp(t, ctx)

	for _, tc := range []struct {
		name      string
		req, resp [][2]string
		want      crossings
		check     func(t *testing.T)
	}{
		{"sticky hit (C)", request(stickyCookie), response,
			crossings{entries: 4, allocs: 3, hostCalls: map[string]int{
				"proxy_get_header_map_pairs": 2, "proxy_replace_header_map_value": 1, "proxy_get_property": 1}},
			func(t *testing.T) {
				assert.Equal(t, map[string]string{"x-vcap-sticky-upstream": "10.0.0.2:8080"}, e.replaced, "pinned to b")
				assert.Empty(t, e.added)
			}},
		{"new session (D)", request(""), newSession,
			crossings{entries: 4, allocs: 3, hostCalls: map[string]int{
				"proxy_get_header_map_pairs": 2, "proxy_get_property": 1, "proxy_add_header_map_value": 2}},
			func(t *testing.T) {
				assert.Empty(t, e.replaced, "not pinned")
				assert.Equal(t, []string{"set-cookie: __VCAP_ID__=b; Path=/; HttpOnly", "set-cookie: __VCAP_ID_META__=; Path=/; HttpOnly"}, e.added)
			}},
		{"no route (Fmiss)", append(request("JSESSIONID=s; __VCAP_ID__=b")[1:], [2]string{":authority", "other.example"}), response,
			crossings{entries: 4, allocs: 1, hostCalls: map[string]int{"proxy_get_header_map_pairs": 1}},
			func(t *testing.T) { assert.Empty(t, e.replaced) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.exchange(t, ctx, 100, tc.req, tc.resp, "10.0.0.2:8080")
			tc.check(t)
			assert.Equal(t, tc.want.entries, got.entries, "calls into the VM")
			assert.Equal(t, tc.want.hostCalls, got.hostCalls, "host calls (none to WASI: no clock, no log)")
			assert.Equal(t, tc.want.allocs, got.allocs, "allocation callbacks")
			t.Logf("%d calls into the VM, %d host calls %v, %d allocation callbacks",
				got.entries, sum(got.hostCalls), got.hostCalls, got.allocs)
		})
	}
}

// The benchmark's floors are hand-written modules with no language runtime
// (cmd/bench/floor/*.wat, variants W0, W4 and W4new): each must cost Envoy
// exactly the crossings the filter makes for the traffic it stands for, so
// that C/W4 and D/W4new compare the filter with the least any proxy-wasm
// filter doing its host calls can cost, and F/W0 the empty Go filter with
// one without Go. G4 (cmd/bench/gofloor) is W4 written in Go on the filter's
// binding: C/G4 leaves the filter's own code. Each exchange runs through the
// built filter and through the module, and their crossings must be equal:
// calls into the VM, host calls by name (WASI's too: none), allocation
// callbacks.
func TestFloorModulesMakeTheFiltersCrossings(t *testing.T) {
	const upstream = "10.0.0.2:8080" // b in crossingsConfig
	filter, fctx := startEmulatedEnvoy(t)
	filter.warmUp(t, fctx)
	for _, tc := range []struct {
		name, module string
		config       string // the module's plugin configuration
		req, resp    [][2]string
		// want is what the module must make, from the filter's crossings.
		want  func(filter crossings) crossings
		check func(t *testing.T, filter, module *emulatedEnvoy)
	}{
		{"W4 = sticky hit (C)", "w4", upstream, crossingsRequest(stickyCookie), crossingsResponse,
			func(f crossings) crossings { return f }, pinsAsTheFilter},
		{"W4new = new session (D)", "w4new", "", crossingsRequest(""), crossingsNewSession,
			func(f crossings) crossings { return f },
			func(t *testing.T, f, m *emulatedEnvoy) {
				assert.Empty(t, m.replaced)
				// The filter's cookies, with the address where it has the id.
				require.Len(t, f.added, 2)
				assert.Equal(t, []string{"set-cookie: __VCAP_ID__=" + upstream + "; Path=/; HttpOnly", f.added[1]}, m.added)
			}},
		{"G4 = sticky hit (C), from Go", "gofloor", upstream, crossingsRequest(stickyCookie), crossingsResponse,
			func(f crossings) crossings { return f }, pinsAsTheFilter},
		{"W0 = the calls into the VM alone (F)", "w0", "", crossingsRequest(stickyCookie), crossingsResponse,
			func(f crossings) crossings { return crossings{entries: f.entries, hostCalls: map[string]int{}} },
			func(t *testing.T, f, m *emulatedEnvoy) {
				assert.Empty(t, m.replaced)
				assert.Empty(t, m.added)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := filter.exchange(t, fctx, 100, tc.req, tc.resp, upstream)
			m, mctx := startModule(t, floorModule(t, tc.module), tc.config)
			m.warmUp(t, mctx)
			got := m.exchange(t, mctx, 100, tc.req, tc.resp, upstream)
			want := tc.want(fc)
			tc.check(t, filter, m)
			assert.Equal(t, want.entries, got.entries, "calls into the VM")
			assert.Equal(t, want.hostCalls, got.hostCalls, "host calls")
			assert.Equal(t, want.allocs, got.allocs, "allocation callbacks")
			t.Logf("%s: %d calls into the VM, %d host calls %v, %d allocation callbacks (the filter: %d, %d %v, %d)",
				tc.module, got.entries, sum(got.hostCalls), got.hostCalls, got.allocs,
				fc.entries, sum(fc.hostCalls), fc.hostCalls, fc.allocs)
		})
	}
}

// pinsAsTheFilter checks a sticky hit's floor module: it writes the pin
// header as the filter does, and adds no response header.
func pinsAsTheFilter(t *testing.T, f, m *emulatedEnvoy) {
	assert.Equal(t, f.replaced, m.replaced, "the pin header, as the filter writes it")
	assert.Empty(t, m.added)
}

// The floor modules export nothing the filter does not (with its
// signatures), so Envoy makes no call into them that it does not make into
// the filter, and import only ABI 0.2 host functions (and G4, a Go module,
// the WASI functions of the Go runtime).
func TestFloorModulesExportNoMoreThanTheFilter(t *testing.T) {
	exports := builtModule(t).ExportedFunctions()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { rt.Close(ctx) })
	for _, name := range []string{"w0", "w4", "w4new", "gofloor"} {
		mod, err := rt.CompileModule(ctx, floorModule(t, name))
		require.NoError(t, err, name)
		assert.Contains(t, mod.ExportedMemories(), "memory", name)
		for export, def := range mod.ExportedFunctions() {
			want, ok := exports[export]
			if assert.True(t, ok, "%s exports %s, which the filter does not", name, export) {
				assert.Equal(t, want.ParamTypes(), def.ParamTypes(), "%s: %s", name, export)
				assert.Equal(t, want.ResultTypes(), def.ResultTypes(), "%s: %s", name, export)
			}
		}
		for _, imp := range mod.ImportedFunctions() {
			module, fn, _ := imp.Import()
			if name == "gofloor" && module == "wasi_snapshot_preview1" {
				continue // the Go runtime's, as the filter's are
			}
			want, ok := abiHostFunctions[fn]
			if assert.True(t, ok && module == "env", "%s imports %s.%s", name, module, fn) {
				assert.Equal(t, sig{want.params, want.results}, sig{imp.ParamTypes(), imp.ResultTypes()}, "%s: %s", name, fn)
			}
		}
	}
}

// floorModule assembles cmd/bench/floor/<name>.wat with wat2wasm (Debian
// package wabt; `make e2e` installs it first, as `make bench` does); the
// name gofloor is G4's Go module instead.
func floorModule(t *testing.T, name string) []byte {
	t.Helper()
	if name == "gofloor" {
		return goFloorModule(t)
	}
	wat2wasm, err := exec.LookPath("wat2wasm")
	require.NoError(t, err, "wat2wasm assembles the benchmark's floor modules: `make wabt` installs it (Debian package wabt)")
	out := filepath.Join(t.TempDir(), name+".wasm")
	msg, err := exec.Command(wat2wasm, "-o", out, filepath.Join("cmd", "bench", "floor", name+".wat")).CombinedOutput()
	require.NoError(t, err, "wat2wasm %s.wat: %s", name, msg)
	bin, err := os.ReadFile(out)
	require.NoError(t, err)
	return bin
}

// goFloorModule is variant G4's module, cmd/bench/gofloor, built by the
// Makefile like the filter (`make e2e` builds it), or $VCAP_STICKY_GOFLOOR_WASM.
func goFloorModule(t testing.TB) []byte {
	t.Helper()
	path := cmp.Or(os.Getenv("VCAP_STICKY_GOFLOOR_WASM"), filepath.Join("build", "gofloor.wasm"))
	bin, err := os.ReadFile(path)
	require.NoError(t, err, "variant G4's module is built by `make build/gofloor.wasm` (or set VCAP_STICKY_GOFLOOR_WASM)")
	return bin
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// A retired plugin hands over its batched counters. The module does not
// export proxy_on_done, so Envoy deletes the root context at once
// (proxy_on_delete): the counters batched since the last tick must reach
// Envoy then, or a configuration update loses them (TestFaultsUnderLoad).
func TestRetiredPluginFlushesItsCounters(t *testing.T) {
	e, ctx := startEmulatedEnvoy(t) // crossingsConfig: the default, batched counters
	require.Nil(t, e.mod.ExportedFunction("proxy_on_done"), "the headers-only build")
	const n = 5
	for i := range n {
		e.exchange(t, ctx, uint64(20+i), crossingsRequest(stickyCookie), crossingsResponse, "10.0.0.2:8080")
	}
	e.increments = 0
	e.counts = crossings{hostCalls: map[string]int{}}
	e.call(t, ctx, "proxy_on_delete", 1)
	assert.Equal(t, int64(n), e.increments, "every sticky hit batched since the (never fired) tick, as the plugin goes")
	assert.Equal(t, 1, e.counts.hostCalls["proxy_increment_metric"], "one counter changed: one host call")
}
