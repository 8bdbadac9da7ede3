package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// What a sticky hit costs inside the VM, without Envoy: the built filter and
// the runtime-less floor W4 (cmd/bench/floor/w4.wat, the same host calls)
// run the crossings test's sticky hit in wazero's compiler, against a lean
// emulated host (header maps serialized once, no bookkeeping), so that the
// difference between the two is the guest's own work: the Go runtime, the
// SDK, the binding and the filter. wazero is not V8, but the share is
// comparable.
//
//	go test -run '^$' -bench BenchmarkStickyHit -count 5 .
//
// VCAP_BENCH_MODULES="name=path,..." adds modules (other builds of the
// filter, say) to the runs, VCAP_BENCH_FLOORS modules configured as W4 is
// (the pin value as the plugin configuration); VCAP_BENCH_ENV="K=V,..." is the
// environment of every Go module (none by default, as in Envoy).
func BenchmarkStickyHit(b *testing.B) { benchExchanges(b, stickyHit) }

// BenchmarkNewSession is the same for a new session (D), against W4new.
func BenchmarkNewSession(b *testing.B) { benchExchanges(b, newSession) }

// benchKind is the traffic of a benchmark: its exchange and its floor.
type benchKind struct {
	floor     string // cmd/bench/floor/<floor>.wat
	req, resp [][2]string
}

var (
	stickyHit  = benchKind{"w4", crossingsRequest(stickyCookie), crossingsResponse}
	newSession = benchKind{"w4new", crossingsRequest(""), crossingsNewSession}
)

func benchExchanges(b *testing.B, kind benchKind) {
	mods := benchModules(b, kind)
	for _, m := range mods {
		// One VM per module for all of b.Run's rounds: compiling the Go
		// module takes seconds.
		h := newBenchHost(b, m, kind, nil)
		for range 100 { // warm: maps and buffers grown
			h.exchange()
		}
		b.Run(m.name, func(b *testing.B) {
			h.tb = b
			// The machine may be shared: CPU time of this thread as well as
			// wall time (wazero runs the guest on the calling thread).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := threadCPU(b)
			for range b.N {
				h.exchange()
			}
			b.ReportMetric(float64(threadCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkGuestCallsPerStickyHit reports, for each module, the guest
// functions called per sticky hit (by count, in the log) and their total
// (guest-calls/op): what the Go side does per crossing. A report; the counts
// that matter for Envoy are asserted by TestCrossingsPerRequest.
//
//	go test -run '^$' -bench GuestCalls .   (VCAP_BENCH_NEW_SESSION=1: D's exchange)
func BenchmarkGuestCallsPerStickyHit(b *testing.B) {
	kind := stickyHit
	if os.Getenv("VCAP_BENCH_NEW_SESSION") != "" {
		kind = newSession
	}
	for _, m := range benchModules(b, kind) {
		b.Run(m.name, func(b *testing.B) {
			counts := map[string]int{}
			h := newBenchHost(b, m, kind, counts)
			for range 100 {
				h.exchange()
			}
			clear(counts)
			n := 0
			for b.Loop() {
				h.exchange()
				n++
			}
			type fc struct {
				name string
				n    int
			}
			var all []fc
			total := 0
			for name, c := range counts {
				all = append(all, fc{name, c})
				total += c
			}
			slices.SortFunc(all, func(a, b fc) int { return cmp.Or(b.n-a.n, strings.Compare(a.name, b.name)) })
			var sb strings.Builder
			for i, f := range all {
				if i == 400 {
					break
				}
				fmt.Fprintf(&sb, "  %8.2f  %s\n", float64(f.n)/float64(n), f.name)
			}
			b.ReportMetric(float64(total)/float64(n), "guest-calls/op")
			b.Log("guest function calls per exchange:\n" + sb.String())
		})
	}
}

// BenchmarkGuestTimePerStickyHit times, per sticky hit, the guest functions
// whose names match $VCAP_BENCH_TIME (a regular expression; by default the
// core's two steps and the allocator): inclusive wall time and calls, in
// the log, through a function listener on those functions alone (a timed
// function's time includes the listener's cost, about 0.1 µs, for each timed
// function it calls). A report.
//
//	VCAP_BENCH_TIME='DeserializeMap|Decide$|mallocgc$' go test -run '^$' -bench GuestTime .
func BenchmarkGuestTimePerStickyHit(b *testing.B) {
	expr := cmp.Or(os.Getenv("VCAP_BENCH_TIME"), `\.Decide$|\.Respond$|\.mallocgc$`)
	re := regexp.MustCompile(expr)
	for _, m := range benchModules(b, stickyHit) {
		b.Run(m.name, func(b *testing.B) {
			timer := &funcTimer{re: re, total: map[string]time.Duration{}, calls: map[string]int{}}
			h := newBenchHostWith(b, m, stickyHit, timer)
			for range 100 {
				h.exchange()
			}
			clear(timer.total)
			clear(timer.calls)
			n := 0
			for b.Loop() {
				h.exchange()
				n++
			}
			names := slices.Collect(maps.Keys(timer.total))
			slices.SortFunc(names, func(a, b string) int { return cmp.Compare(timer.total[b], timer.total[a]) })
			var sb strings.Builder
			for _, name := range names {
				fmt.Fprintf(&sb, "  %9v  %6.2f calls  %s\n", timer.total[name]/time.Duration(n), float64(timer.calls[name])/float64(n), name)
			}
			b.Log("per sticky hit, with the listeners:\n" + sb.String())
		})
	}
}

// funcTimer is a function listener factory timing the functions whose debug
// names match re, inclusively (a recursive call counts once).
type funcTimer struct {
	re    *regexp.Regexp
	total map[string]time.Duration
	calls map[string]int
	stack []time.Time
}

func (f *funcTimer) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	name := def.DebugName()
	if !f.re.MatchString(name) {
		return nil
	}
	return &timedFunc{f, name}
}

type timedFunc struct {
	f    *funcTimer
	name string
}

func (l *timedFunc) Before(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
	l.f.calls[l.name]++
	l.f.stack = append(l.f.stack, time.Now())
}

func (l *timedFunc) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {
	n := len(l.f.stack) - 1
	l.f.total[l.name] += time.Since(l.f.stack[n])
	l.f.stack = l.f.stack[:n]
}

func (l *timedFunc) Abort(context.Context, api.Module, api.FunctionDefinition, error) {
	l.f.stack = l.f.stack[:len(l.f.stack)-1]
}

type benchModule struct {
	name   string
	bin    []byte
	config string // the plugin configuration
}

func benchModules(tb testing.TB, kind benchKind) []benchModule {
	tb.Helper()
	// W4's configuration is its pin value: b's address, where the filter pins.
	mods := []benchModule{{strings.ToUpper(kind.floor[:1]) + kind.floor[1:], benchFloorModule(tb, kind.floor), "10.0.0.2:8080"},
		{"filter", benchReadFile(tb, builtModulePath()), crossingsConfig}}
	if kind.floor == "w4" { // G4: W4's calls from Go, on the filter's binding
		mods = append(mods, benchModule{"G4", goFloorModule(tb), "10.0.0.2:8080"})
	}
	for env, config := range map[string]string{"VCAP_BENCH_MODULES": crossingsConfig, "VCAP_BENCH_FLOORS": "10.0.0.2:8080"} {
		extra := os.Getenv(env)
		if extra == "" {
			continue
		}
		for _, kv := range strings.Split(extra, ",") {
			name, path, ok := strings.Cut(kv, "=")
			if !ok {
				tb.Fatalf("%s: %q is not name=path", env, kv)
			}
			mods = append(mods, benchModule{name, benchReadFile(tb, path), config})
		}
	}
	return mods
}

// benchHost is the emulated Envoy of a benchmark: the sticky hit's headers
// serialized once, the pin value and upstream address as crossingsConfig
// has them, nothing recorded.
type benchHost struct {
	tb         testing.TB
	ctx        context.Context
	mod        api.Module
	alloc      api.Function
	reqPairs   []byte
	respPairs  []byte
	upstream   []byte
	config     string
	nReq       uint64
	nResp      uint64
	stack      []uint64
	onCreate   api.Function
	onReq      api.Function
	onResp     api.Function
	onDelete   api.Function
	nextStream uint64
}

func newBenchHost(tb testing.TB, m benchModule, kind benchKind, counts map[string]int) *benchHost {
	var listeners experimental.FunctionListenerFactory
	if counts != nil {
		listeners = callCounter(counts)
	}
	return newBenchHostWith(tb, m, kind, listeners)
}

func newBenchHostWith(tb testing.TB, m benchModule, kind benchKind, listeners experimental.FunctionListenerFactory) *benchHost {
	tb.Helper()
	bin, config := m.bin, m.config
	req, resp := kind.req, kind.resp
	h := &benchHost{tb: tb, reqPairs: serializePairs(req), respPairs: serializePairs(resp),
		upstream: []byte("10.0.0.2:8080"), nReq: uint64(len(req)), nResp: uint64(len(resp)),
		stack: make([]uint64, 8), nextStream: 2}
	ctx := context.Background()
	if listeners != nil {
		ctx = experimental.WithFunctionListenerFactory(ctx, listeners)
	}
	h.ctx = ctx
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	tb.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		tb.Fatal(err)
	}
	env := rt.NewHostModuleBuilder("env")
	for _, imp := range compiled.ImportedFunctions() {
		if mod, name, _ := imp.Import(); mod == "env" {
			env.NewFunctionBuilder().
				WithGoModuleFunction(h.hostFunction(name, len(imp.ResultTypes()) > 0), imp.ParamTypes(), imp.ResultTypes()).
				Export(name)
		}
	}
	if _, err := env.Instantiate(ctx); err != nil {
		tb.Fatal(err)
	}
	cfg := wazero.NewModuleConfig().WithStartFunctions("_initialize")
	if e := os.Getenv("VCAP_BENCH_ENV"); e != "" {
		for _, kv := range strings.Split(e, ",") {
			k, v, _ := strings.Cut(kv, "=")
			cfg = cfg.WithEnv(k, v)
		}
	}
	h.mod, err = rt.InstantiateModule(ctx, compiled, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	h.alloc = h.mod.ExportedFunction("proxy_on_memory_allocate")
	h.onCreate = h.mod.ExportedFunction("proxy_on_context_create")
	h.onReq = h.mod.ExportedFunction("proxy_on_request_headers")
	h.onResp = h.mod.ExportedFunction("proxy_on_response_headers")
	h.onDelete = h.mod.ExportedFunction("proxy_on_delete")
	h.config = config
	h.call(h.onCreate, 1, 0)
	h.call(h.mod.ExportedFunction("proxy_on_vm_start"), 1, 0)
	if h.call(h.mod.ExportedFunction("proxy_on_configure"), 1, uint64(len(config))) != 1 {
		tb.Fatal("plugin start failed")
	}
	return h
}

func (h *benchHost) call(f api.Function, args ...uint64) uint64 {
	copy(h.stack, args)
	if err := f.CallWithStack(h.ctx, h.stack); err != nil {
		h.tb.Fatal(err)
	}
	return h.stack[0]
}

// exchange is one sticky hit, the calls Envoy makes into a module that
// exports what the filter does.
func (h *benchHost) exchange() {
	id := h.nextStream
	h.nextStream++
	h.call(h.onCreate, id, 1)
	h.call(h.onReq, id, h.nReq, 1)
	h.call(h.onResp, id, h.nResp, 0)
	h.call(h.onDelete, id)
}

func (h *benchHost) give(m api.Module, data []byte, retPtr, retSize uint32) uint64 {
	var st [1]uint64
	st[0] = uint64(len(data))
	if err := h.alloc.CallWithStack(h.ctx, st[:]); err != nil {
		return 2
	}
	p := uint32(st[0])
	mem := m.Memory()
	if !mem.Write(p, data) {
		return 2
	}
	mem.WriteUint32Le(retPtr, p)
	mem.WriteUint32Le(retSize, uint32(len(data)))
	return 0
}

func (h *benchHost) hostFunction(name string, hasResult bool) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, st []uint64) {
		var status uint64
		switch name {
		case "proxy_get_buffer_bytes":
			status = h.give(m, []byte(h.config), uint32(st[3]), uint32(st[4]))
		case "proxy_get_header_map_pairs":
			if st[0] == 2 {
				status = h.give(m, h.respPairs, uint32(st[1]), uint32(st[2]))
			} else {
				status = h.give(m, h.reqPairs, uint32(st[1]), uint32(st[2]))
			}
		case "proxy_get_header_map_value":
			status = 1
		case "proxy_get_property":
			b, _ := m.Memory().Read(uint32(st[0]), uint32(st[1]))
			if string(b) == "upstream\x00address" {
				status = h.give(m, h.upstream, uint32(st[2]), uint32(st[3]))
			} else {
				status = 1
			}
		case "proxy_replace_header_map_value":
			if v, _ := m.Memory().Read(uint32(st[3]), uint32(st[4])); string(v) != string(h.upstream) {
				h.tb.Fatalf("pinned to %q, want %q", v, h.upstream)
			}
		}
		if hasResult {
			st[0] = status
		}
	}
}

// callCounter counts every call of a function of the guest module by name,
// and of host functions as "env.<name>" / "wasi.<name>".
func callCounter(counts map[string]int) experimental.FunctionListenerFactory {
	return experimental.FunctionListenerFactoryFunc(func(def api.FunctionDefinition) experimental.FunctionListener {
		name := def.DebugName()
		return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
			counts[name]++
		})
	})
}

func benchReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	bin, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (the module is built by `make build`, or set VCAP_STICKY_WASM)", err)
	}
	return bin
}

// benchFloorModule assembles cmd/bench/floor/<name>.wat, as floorModule does.
func benchFloorModule(tb testing.TB, name string) []byte {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), name+".wasm")
	if msg, err := exec.Command("wat2wasm", "-o", out, filepath.Join("cmd", "bench", "floor", name+".wat")).CombinedOutput(); err != nil {
		tb.Fatalf("wat2wasm %s.wat: %v: %s", name, err, msg)
	}
	return benchReadFile(tb, out)
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A sticky hit, and a new session, allocate nothing on the Go heap, in the
// module itself: each allocation in the VM costs far more than natively, and
// a collection started there runs only in the allocations' assists and
// sweeps. Counted as calls of the runtime's allocator, runtime.mallocgc,
// over exchanges after a warm-up (the first requests grow the reused
// buffers).
func TestStickyHitAllocatesNothingInTheModule(t *testing.T) {
	var seen bool
	mallocs := 0
	// Every function gets a listener, though only mallocgc's counts: with
	// listeners on some functions alone, wazero misses some of their calls
	// (a mutant that allocates 7 times per new session counted 0).
	factory := experimental.FunctionListenerFactoryFunc(func(def api.FunctionDefinition) experimental.FunctionListener {
		if !strings.HasSuffix(def.DebugName(), ".runtime.mallocgc") {
			return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {})
		}
		seen = true
		return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
			mallocs++
		})
	})
	// G4, the bench's Go floor for C, must not allocate either: a floor that
	// allocated would flatter C/G4.
	filter := benchModule{"filter", benchReadFile(t, builtModulePath()), crossingsConfig}
	for _, kind := range []struct {
		name string
		mod  benchModule
		kind benchKind
	}{{"sticky hits", filter, stickyHit}, {"new sessions", filter, newSession},
		{"G4's sticky hits", benchModule{"G4", goFloorModule(t), "10.0.0.2:8080"}, stickyHit}} {
		seen = false
		h := newBenchHostWith(t, kind.mod, kind.kind, factory)
		if !seen {
			t.Fatal("the module has no runtime.mallocgc to count")
		}
		for range 10 {
			h.exchange()
		}
		mallocs = 0
		const n = 100
		for range n {
			h.exchange()
		}
		if mallocs != 0 {
			t.Errorf("%d heap allocations in %d %s, want none", mallocs, n, kind.name)
		}
	}
}

// A plugin start that allocates a lot (100,000 instances) leaves no
// collection open: in the VM the runtime advances a collection only while
// the module allocates, and requests allocate nothing, so an open one would
// keep its write barriers and marking on every request. Counted as calls of
// the runtime's write barrier and marking functions over sticky hits.
func TestBigConfigLeavesNoCollectionOpen(t *testing.T) {
	gcWork := regexp.MustCompile(`\.(gcWriteBarrier\d*|runtime\.(greyobject|scanobject|scanObject|tryDeferToSpanScan|gcDrain\w*|wbBufFlush\w*))$`)
	seen, calls := 0, map[string]int{}
	factory := experimental.FunctionListenerFactoryFunc(func(def api.FunctionDefinition) experimental.FunctionListener {
		name := def.DebugName()
		if !gcWork.MatchString(name) {
			return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {})
		}
		seen++
		return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
			calls[name]++
		})
	})
	h := newBenchHostWith(t, benchModule{"filter", benchReadFile(t, builtModulePath()), crossingsConfig}, stickyHit, factory)
	if seen < 3 {
		t.Fatalf("the module has %d of the runtime's write barrier and marking functions to count", seen)
	}
	h.config = bigConfig(100_000)
	if h.call(h.mod.ExportedFunction("proxy_on_configure"), 1, uint64(len(h.config))) != 1 {
		t.Fatal("plugin start failed")
	}
	for range 10 {
		h.exchange()
	}
	clear(calls)
	const n = 100
	for range n {
		h.exchange()
	}
	if len(calls) > 0 {
		t.Errorf("in %d sticky hits after the plugin start, the collector ran: %v", n, calls)
	}
}

// Streams interleave in Envoy: each keeps its own views of its request until
// its response, though the module reads headers into reused buffers and
// reuses deleted contexts (filter/host_wasip1.go). Two sticky requests to
// different instances, answered in the other order, one by another instance
// than its cookie names; then a stream on a reused context. With context ids
// one after another, as Envoy numbers them, and with ids that all fall in
// one slot of the binding's stream table (sdkabi/streams.go: id modulo a
// power of two up to 4096), so that streams live at once share a slot.
func TestInterleavedStreamsKeepTheirOwnViews(t *testing.T) {
	for _, tc := range []struct {
		name string
		ids  [4]uint64
	}{
		{"consecutive ids", [4]uint64{200, 201, 202, 203}},
		{"ids of one slot", [4]uint64{300, 300 + 4096, 300 + 2*4096, 300 + 3*4096}},
	} {
		t.Run(tc.name, func(t *testing.T) { interleavedStreams(t, tc.ids) })
	}
}

func interleavedStreams(t *testing.T, ids [4]uint64) {
	e, ctx := startEmulatedEnvoy(t)
	e.warmUp(t, ctx) // contexts deleted and kept for reuse
	const a, b = "10.0.0.1:8080", "10.0.0.2:8080"
	request := func(id uint64, cookie string) string {
		e.reqHeaders, e.replaced = crossingsRequest(cookie), map[string]string{}
		require.Equal(t, uint64(0), e.call(t, ctx, "proxy_on_request_headers", id, uint64(len(e.reqHeaders)), 1))
		return e.replaced["x-vcap-sticky-upstream"]
	}
	response := func(id uint64, resp [][2]string, upstream string) []string {
		e.respHeaders, e.upstream, e.added = resp, upstream, nil
		require.Equal(t, uint64(0), e.call(t, ctx, "proxy_on_response_headers", id, uint64(len(resp)), 0))
		return e.added
	}
	s1, s2, s3, s4 := ids[0], ids[1], ids[2], ids[3]
	e.call(t, ctx, "proxy_on_context_create", s1, 1)
	e.call(t, ctx, "proxy_on_context_create", s2, 1)
	assert.Equal(t, b, request(s1, "JSESSIONID=s; __VCAP_ID__=b"))
	assert.Equal(t, a, request(s2, "JSESSIONID=t; __VCAP_ID__=a; other="+strings.Repeat("x", 2000)))
	assert.Empty(t, response(s2, crossingsResponse, a), "served by its own instance")
	added := response(s1, crossingsResponse, a) // b's session, served by a
	if assert.Len(t, added, 1) {
		assert.True(t, strings.HasPrefix(added[0], "set-cookie: __VCAP_ID__=a;"), "re-issued for a: %q", added[0])
	}
	// A third stream while the first lives, then the first deleted before
	// the others: each still finds its own context.
	e.call(t, ctx, "proxy_on_context_create", s3, 1)
	assert.Equal(t, b, request(s3, "JSESSIONID=u; __VCAP_ID__=b"))
	e.call(t, ctx, "proxy_on_delete", s1)
	assert.Empty(t, response(s3, crossingsResponse, b), "served by its own instance")
	e.call(t, ctx, "proxy_on_delete", s3)
	e.call(t, ctx, "proxy_on_delete", s2)

	e.call(t, ctx, "proxy_on_context_create", s4, 1) // a reused context
	assert.Empty(t, request(s4, ""), "a new session is not pinned")
	assert.Equal(t, []string{"set-cookie: __VCAP_ID__=b; Path=/; HttpOnly", "set-cookie: __VCAP_ID_META__=; Path=/; HttpOnly"},
		response(s4, crossingsNewSession, b))
	e.call(t, ctx, "proxy_on_delete", s4)
}

// BenchmarkPluginStart100k starts the plugin of a route with 100,000
// instances in the built module (variant E's configuration, in wazero):
// ms per start, and the VM's linear memory once started, which never
// shrinks (target: 32 MiB). Each start is a new VM.
//
//	go test -run '^$' -bench PluginStart100k .
func BenchmarkPluginStart100k(b *testing.B) {
	config := bigConfig(100_000)
	bin := benchReadFile(b, builtModulePath())
	var mib float64
	var ms time.Duration
	for b.Loop() {
		// Started with crossingsConfig, then configured again with the
		// large one, as Envoy does on a configuration update.
		h := newBenchHostWith(b, benchModule{"filter", bin, crossingsConfig}, stickyHit, nil)
		h.config = config
		t0 := time.Now()
		if h.call(h.mod.ExportedFunction("proxy_on_configure"), 1, uint64(len(config))) != 1 {
			b.Fatal("plugin start failed")
		}
		ms += time.Since(t0)
		mib = float64(h.mod.Memory().Size()) / (1 << 20)
		h.exchange() // still serving
	}
	b.ReportMetric(float64(ms.Milliseconds())/float64(b.N), "configure-ms/op")
	b.ReportMetric(mib, "memory-MiB")
}

// bigConfig is crossingsConfig's route with n instances: a and b, then
// fake ones with UUID ids.
func bigConfig(n int) string {
	var s strings.Builder
	s.WriteString(`{"routes":[{"host":"app.example","instances":[{"id":"a","address":"10.0.0.1:8080"},{"id":"b","address":"10.0.0.2:8080"}`)
	for i := 2; i < n; i++ {
		fmt.Fprintf(&s, `,{"id":"%08x-%04x-4%03x-8%03x-%012x","address":"10.%d.%d.%d:8080"}`,
			uint32(i)*2654435761, i&0xffff, i&0xfff, (i>>12)&0xfff, i, 1+(i>>16)&0xff, (i>>8)&0xff, i&0xff)
	}
	s.WriteString(`]}]}`)
	return s.String()
}

// BenchmarkExchangeInV8 runs BenchmarkStickyHit's and BenchmarkNewSession's
// exchanges in V8 instead of wazero: Node's V8 with Liftoff off, as Envoy
// runs its V8 (cmd/bench/v8/guest.mjs), against a host as lean as benchHost,
// the modules interleaved over $VCAP_BENCH_ROUNDS rounds (15). It reports
// each module's median ns per exchange and, for the filter and the
// VCAP_BENCH_MODULES ones, the median per-round difference to the floor (W4,
// W4new): what the Go runtime, the SDK, the binding and the filter cost in
// V8, without Envoy's host calls. Needs node (Debian package nodejs).
//
//	go test -run '^$' -bench ExchangeInV8 .
func BenchmarkExchangeInV8(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node (Debian package nodejs) is not installed")
	}
	rounds := 15
	if n, err := strconv.Atoi(os.Getenv("VCAP_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	for _, kind := range []struct {
		name string
		kind benchKind
	}{{"StickyHit", stickyHit}, {"NewSession", newSession}} {
		b.Run(kind.name, func(b *testing.B) {
			mods := benchModules(b, kind.kind)
			type specModule struct{ Name, Path, Config string }
			spec := struct {
				Modules                     []specModule
				Request, Response, Upstream string
				RequestCount, ResponseCount int
				Warmup, Exchanges, Rounds   int
			}{Request: base64.StdEncoding.EncodeToString(serializePairs(kind.kind.req)),
				Response: base64.StdEncoding.EncodeToString(serializePairs(kind.kind.resp)),
				Upstream: "10.0.0.2:8080", RequestCount: len(kind.kind.req), ResponseCount: len(kind.kind.resp),
				Warmup: 20000, Exchanges: 20000, Rounds: rounds}
			dir := b.TempDir()
			for _, m := range mods {
				path := filepath.Join(dir, m.name+".wasm")
				require.NoError(b, os.WriteFile(path, m.bin, 0o644))
				spec.Modules = append(spec.Modules, specModule{m.name, path, m.config})
			}
			js, err := json.Marshal(spec)
			require.NoError(b, err)
			specPath := filepath.Join(dir, "spec.json")
			require.NoError(b, os.WriteFile(specPath, js, 0o644))
			out, err := exec.Command(node, "--no-liftoff", "--no-warnings", filepath.Join("cmd", "bench", "v8", "guest.mjs"), specPath).Output()
			require.NoError(b, err, "node guest.mjs: %s", out)
			perRound := map[string][]float64{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var r struct {
					Module string
					NS     float64
				}
				require.NoError(b, json.Unmarshal([]byte(line), &r), line)
				perRound[r.Module] = append(perRound[r.Module], r.NS)
			}
			floor := perRound[mods[0].name]
			for _, m := range mods {
				ns := perRound[m.name]
				require.Len(b, ns, rounds, m.name)
				b.Run(m.name, func(b *testing.B) {
					b.ReportMetric(0, "ns/op")
					b.ReportMetric(medianOf(ns), "v8-ns/exchange")
					if m.name != mods[0].name {
						over := make([]float64, len(ns))
						for i := range ns {
							over[i] = ns[i] - floor[i]
						}
						b.ReportMetric(medianOf(over), "v8-ns-over-floor")
					}
				})
			}
		})
	}
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
