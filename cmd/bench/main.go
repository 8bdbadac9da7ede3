// Command bench is `make bench`: vcap-sticky side by side with Envoy alone and
// with Envoy's native sticky sessions, on loopback, and the native Go
// benchmarks of the per-request logic. It writes BENCHMARKS.md and a chart.
//
// It starts -instances fake app instances (package upstream) and one Envoy
// per setup, then runs wrk against the variants interleaved (each round runs
// every variant once, -rounds times), so that drift of a shared machine
// spreads over all of them:
//
//	A     Envoy, no filter, round robin (the limit)
//	Anew  A with D's traffic (the app starts a session): D's baseline
//	B     Envoy's stateful_session filter with the cookie extension
//	C     vcap-sticky, sticky hit: JSESSIONID + a valid __VCAP_ID__
//	D     vcap-sticky, first request of a session: the filter adds __VCAP_ID__
//	E     C with 100,000 instances in the route
//	F     an empty standard-Go Wasm filter: the floor of any Go filter
//	Fmiss vcap-sticky on traffic no route matches: the floor plus the
//	      filter's first host calls (C's Envoy, another Host header)
//	Aoh   A through C's cluster: the override_host policy and the upstream
//	      header_mutation filter, no Wasm (what pinning costs in Envoy)
//	S     C in sealed mode: __VCAP_ID__ is a sealed token (docs/sealed.md)
//	Snew  D in sealed mode: the filter seals a new token
//	Sforged  S with a forged token (the Envoy key's id, a forged body): one
//	      open that fails, normal balancing, a new token sealed per request
//	W0    a hand-written Wasm module, no language runtime, whose callbacks
//	      return at once (cmd/bench/floor/w0.wat): F's floor, in F's setup
//	W4    a hand-written module making exactly a sticky hit's host calls
//	      (w4.wat), in C's setup: the floor of any proxy-wasm filter for C
//	W4new the same for a new session's host calls (w4new.wat), in D's setup
//	G4    a standard-Go module making exactly W4's host calls through the
//	      filter's binding and nothing else (cmd/bench/gofloor), in C's
//	      setup: G4/W4 is the Go runtime's share, C/G4 the filter's own work
//	L     Envoy's Lua filter doing gorouter's core rule (sticky.lua), with
//	      C's cluster and traffic
//
// Each round runs wrk twice per variant: with -connections for throughput and
// Envoy's CPU time per request, and with one connection for latency.
// Everything stops by itself: wrk runs are timed, the whole run is bounded
// by -timeout.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vcap-sticky/vcap-sticky/upstream"
)

type options struct {
	envoy, wasm, emptyWasm, wrk   string
	goFloorWasm                   string
	perf                          string
	baselineWasm                  string
	freshEnvoys                   bool
	floor                         string // the directory of the assembled W0, W4, W4new modules
	instances, big                int
	rounds, threads, connections  int
	concurrency                   int
	envoyCPUs                     string
	duration, latDuration, warmup time.Duration
	soak                          int64
	soakMax, timeout              time.Duration
	goBench                       bool
	benchTime                     string
	out, chart, variants, keepDir string
	readyTimeout                  time.Duration
	wasmEnv                       string
}

func main() {
	var o options
	flag.StringVar(&o.envoy, "envoy", os.Getenv("ENVOY_PATH"), "Envoy binary (default $ENVOY_PATH)")
	flag.StringVar(&o.wasm, "wasm", "build/vcap-sticky.wasm", "the filter module")
	flag.StringVar(&o.emptyWasm, "empty-wasm", "build/emptyfilter.wasm", "the empty filter module for variant F")
	flag.StringVar(&o.goFloorWasm, "go-floor-wasm", "build/gofloor.wasm", "the standard-Go module making a sticky hit's host calls for variant G4 (cmd/bench/gofloor)")
	flag.StringVar(&o.baselineWasm, "baseline-wasm", "", "another build of the filter (an earlier commit's, say) for variant Cbase: C's setup and traffic with that module, C/Cbase in the same interleaved run")
	flag.StringVar(&o.floor, "floor", "build/floor", "the directory with w0.wasm, w4.wasm and w4new.wasm (cmd/bench/floor/*.wat, assembled by make) for variants W0, W4, W4new")
	flag.StringVar(&o.wrk, "wrk", "wrk", "the wrk binary")
	flag.IntVar(&o.instances, "instances", 3, "app instances (upstream servers)")
	flag.IntVar(&o.big, "big", 100_000, "instances in the route of variant E")
	flag.IntVar(&o.rounds, "rounds", 4, "rounds: each runs every variant once")
	flag.BoolVar(&o.freshEnvoys, "fresh-envoys", true, "start every Envoy anew for each round (with a warm-up), so that each round draws its own process layout: two Envoys running the same module differ by a few percent for the life of the processes")
	flag.IntVar(&o.threads, "threads", 1, "wrk threads")
	flag.IntVar(&o.connections, "connections", 16, "wrk connections for the throughput runs (keep-alive)")
	flag.IntVar(&o.concurrency, "concurrency", 2, "Envoy worker threads (--concurrency)")
	flag.StringVar(&o.envoyCPUs, "envoy-cpus", "", "run every Envoy on these CPUs (taskset -c list; the benchmark, its app instances and wrk keep the CPUs they were started on)")
	flag.DurationVar(&o.duration, "duration", 7*time.Second, "length of each throughput run")
	flag.DurationVar(&o.latDuration, "latency-duration", 3*time.Second, "length of each 1-connection latency run (0: none)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up run per variant before the first round")
	flag.Int64Var(&o.soak, "soak", 1_000_000, "after the rounds, drive C's Envoy to this many requests before the final memory reading (0: no soak)")
	flag.DurationVar(&o.soakMax, "soak-max", 3*time.Minute, "upper bound of the soak run")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "upper bound of the whole benchmark")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", 2*time.Minute, "upper bound of one Envoy's start-up")
	flag.BoolVar(&o.goBench, "gobench", true, "run the native go test -bench benchmarks first")
	flag.StringVar(&o.benchTime, "benchtime", "1s", "go test -benchtime")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.chart, "chart", "docs/benchmarks.png", "chart to write (PNG)")
	flag.StringVar(&o.variants, "variants", "A,Anew,Aoh,B,C,W4,G4,L,D,W4new,E,F,W0,Fmiss,S,Sforged,Snew", "variants to run, in this order")
	flag.StringVar(&o.perf, "perf", "perf", "perf, to sample each Envoy during its throughput runs: the report splits Envoy's CPU time into the module's code, Envoy's own code, kernel and libraries ('': no profiles; skipped with a note when perf is missing or not allowed)")
	flag.StringVar(&o.keepDir, "keep", "", "keep Envoy configs and logs in this directory (default: a temporary one, removed)")
	flag.StringVar(&o.wasmEnv, "wasm-env", "", "environment of the Wasm VMs of every filter, e.g. GOGC=400 (comma-separated NAME=value)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// Cookie values of the traffic: a Tomcat-like session id.
const (
	sessionID = "8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E"
	pinHeader = "x-vcap-sticky-upstream"
	// envoyCookie is the stateful_session cookie of variant B.
	envoyCookie = "envoy-session"
	// sealedKeysEnv is the VM environment variable with the key of the
	// sealed-mode Envoy (S, Snew); sealedKey is that key: 32 random bytes,
	// fixed so that runs are alike, base64 as token.ParseKeys reads it.
	sealedKeysEnv = "VCAP_STICKY_KEYS"
	sealedKey     = "jkrxci9F2AnEgP+7e48oJfidknspYsOHb4nmxF/QVz8="
	vcapCookie    = "__VCAP_ID__"
)

// variant is one kind of traffic against one Envoy setup.
type variant struct {
	Key, Title string
	setup      string
	path       string
	host       string // Host header ("": the listener's address)
	cookie     string // Cookie header ("" for none); B's is learnt at start
	// check verifies, before measuring, that the variant does what it claims.
	check func(b *bench, v *variant) error
}

// setup is one Envoy process and its configuration.
type setup struct {
	Name, Title string
	cfg         func(b *bench) (envoyConfig, error)
	proc        *envoyProc
	Start, End  memSnap
	StartUp     time.Duration
}

type memSnap struct {
	Requests            int64 // downstream requests served so far
	RSSKB, HWMKB        int64
	Allocated, HeapSize int64   // server.memory_allocated, server.memory_heap_size
	WasmVMs             int64   // wasm.wasm_vm_count (-1: not reported)
	WasmMem             []int64 // linear memory of each V8 Wasm VM, bytes
}

type run1 struct {
	Load, Latency wrkResult
	EnvoyCPU      time.Duration // Envoy's CPU time during Load
	Split         cpuSplit      // where that time went, from perf's samples
}

func (r run1) cpuPerReq() float64 { // microseconds
	if r.Load.Requests == 0 {
		return 0
	}
	return float64(r.EnvoyCPU.Microseconds()) / float64(r.Load.Requests)
}

type bench struct {
	o         options
	dir       string
	script    string
	upstreams []*upstream.Instance
	ids       []string
	client    *http.Client
	setups    map[string]*setup
	order     []*variant
	results   map[string][]run1
	counters  map[string]map[string]int64 // setup -> filter counters at the end
	goBench   string
	machine   machineInfo
	started   time.Time
	soaked    int64
	wall      time.Duration
	starts    int // times startEnvoys ran
	profiler  *profiler
	noProfile string // why there are no profiles, if there are none
}

func run(ctx context.Context, o options) error {
	b := &bench{o: o, client: loopbackClient(5 * time.Second), results: map[string][]run1{},
		counters: map[string]map[string]int64{}, started: time.Now()}
	if err := b.prepare(); err != nil {
		return err
	}
	defer b.cleanup()
	b.machine = describeMachine(o)
	log.Printf("%d variants x %d rounds x (%s + %s), warm-up %s, soak to %d requests: about %s of load",
		len(b.order), o.rounds, o.duration, o.latDuration, o.warmup, o.soak,
		time.Duration(len(b.order))*(time.Duration(o.rounds)*(o.duration+o.latDuration)+o.warmup))

	if o.goBench {
		log.Print("native benchmarks: go test -bench (cookie, config, sticky, filter)")
		out, err := runGoBench(ctx, o.benchTime)
		if err != nil {
			return err
		}
		b.goBench = out
	}
	if err := b.startAll(ctx); err != nil {
		return err
	}
	if err := b.measure(ctx); err != nil {
		return err
	}
	b.finish()
	b.wall = time.Since(b.started)
	b.machine.LoadEnd = loadAvg()
	if err := writeChart(b, o.chart); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := os.WriteFile(o.out, []byte(report(b)), 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s and %s in %s", o.out, o.chart, b.wall.Round(time.Second))
	return nil
}

func (b *bench) prepare() error {
	o := b.o
	if o.envoy == "" {
		return errors.New("no Envoy: set -envoy or $ENVOY_PATH (make bench does: scripts/envoy.sh)")
	}
	wrk, err := exec.LookPath(o.wrk)
	if err != nil {
		return fmt.Errorf("wrk not found (apt-get install wrk): %w", err)
	}
	b.o.wrk = wrk
	if o.instances < 1 || o.rounds < 1 || o.connections < 1 || o.threads < 1 || o.threads > o.connections {
		return errors.New("-instances, -rounds, -connections and -threads must be >= 1, threads <= connections")
	}
	if o.keepDir != "" {
		b.dir, err = filepath.Abs(o.keepDir)
		if err == nil {
			err = os.MkdirAll(b.dir, 0o755)
		}
	} else {
		b.dir, err = os.MkdirTemp("", "vcap-sticky-bench-")
	}
	if err != nil {
		return err
	}
	b.profiler, b.noProfile = newProfiler(context.Background(), o.perf, b.dir)
	if b.noProfile != "" {
		log.Printf("no CPU profiles: %s", b.noProfile)
	}
	b.script = filepath.Join(b.dir, "wrk.lua")
	if err := os.WriteFile(b.script, []byte(wrkScript), 0o644); err != nil {
		return err
	}
	all := b.definitions()
	byKey := map[string]*variant{}
	for _, v := range all {
		byKey[v.Key] = v
	}
	b.setups = map[string]*setup{}
	for _, k := range strings.Split(o.variants, ",") {
		v, ok := byKey[strings.TrimSpace(k)]
		if !ok {
			return fmt.Errorf("-variants: unknown variant %q", k)
		}
		if slices.Contains(b.order, v) {
			return fmt.Errorf("-variants: %q twice", k)
		}
		b.order = append(b.order, v)
		b.setups[v.setup] = allSetups[v.setup]
	}
	need := []string{o.wasm}
	if b.setups["empty"] != nil {
		need = append(need, o.emptyWasm)
	}
	if b.setups["floor-g4"] != nil {
		need = append(need, o.goFloorWasm)
	}
	if b.setups["filter-baseline"] != nil {
		if o.baselineWasm == "" {
			return fmt.Errorf("-variants: Cbase needs -baseline-wasm")
		}
		need = append(need, o.baselineWasm)
	}
	for name, s := range floorSetups {
		if b.setups[name] != nil {
			need = append(need, filepath.Join(o.floor, s))
		}
	}
	for _, path := range need {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w (make bench builds it)", err)
		}
	}
	return nil
}

func (b *bench) cleanup() {
	for _, s := range b.setups {
		if s.proc != nil {
			s.proc.stop()
		}
	}
	for _, in := range b.upstreams {
		_ = in.Stop()
	}
	if b.o.keepDir == "" && b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// instanceID is a Cloud Foundry-like instance id (a UUID) for instance i.
func instanceID(i int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(i)*2654435761, i&0xffff, i&0xfff, (i>>12)&0xfff, i)
}

// fakeAddress is an address no upstream listens on, for the extra instances
// of variant E: the filter never sends traffic to them.
func fakeAddress(i int) string {
	return fmt.Sprintf("10.%d.%d.%d:8080", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
}

// pluginConfig is the filter's configuration: one route for the benchmark's
// host with the real instances, plus extra-n fake ones (after them).
func (b *bench) pluginConfig(extra int) string {
	var s strings.Builder
	s.WriteString(`{"session_cookie_names":["JSESSIONID"],"pinning":{"mode":"override_host","header":"` + pinHeader +
		`"},"routes":[{"host":"127.0.0.1","path":"/","instances":[`)
	for i, in := range b.upstreams {
		if i > 0 {
			s.WriteByte(',')
		}
		fmt.Fprintf(&s, `{"id":%q,"address":%q}`, b.ids[i], in.Addr())
	}
	for i := len(b.upstreams); i < extra; i++ {
		if i > 0 {
			s.WriteByte(',')
		}
		fmt.Fprintf(&s, `{"id":%q,"address":%q}`, instanceID(i), fakeAddress(i))
	}
	s.WriteString(`]}]}`)
	return s.String()
}

func (b *bench) endpoints() []endpoint {
	var eps []endpoint
	for _, in := range b.upstreams {
		eps = append(eps, endpoint{IP: "127.0.0.1", Port: in.Port()})
	}
	return eps
}

// setupOrder is the order Envoys start in (and the memory table's).
var setupOrder = []string{"plain", "plain-oh", "native", "filter", "filter-baseline", "filter-new", "filter-big", "empty", "filter-sealed",
	"floor-w0", "floor-w4", "floor-g4", "floor-w4new", "lua"}

// floorSetups are the setups of the runtime-less modules, and each one's file
// in -floor.
var floorSetups = map[string]string{"floor-w0": "w0.wasm", "floor-w4": "w4.wasm", "floor-w4new": "w4new.wasm"}

var allSetups = map[string]*setup{
	"plain": {Name: "plain", Title: "no filter, round robin", cfg: func(b *bench) (envoyConfig, error) {
		return envoyConfig{Endpoints: b.endpoints()}, nil
	}},
	"plain-oh": {Name: "plain-oh", Title: "no filter, override_host cluster + header_mutation", cfg: func(b *bench) (envoyConfig, error) {
		return envoyConfig{PinHeader: pinHeader, Endpoints: b.endpoints()}, nil
	}},
	"native": {Name: "native", Title: "stateful_session, cookie extension", cfg: func(b *bench) (envoyConfig, error) {
		return envoyConfig{SessionCookie: envoyCookie, Endpoints: b.endpoints()}, nil
	}},
	"filter": {Name: "filter", Title: "vcap-sticky, override_host (C)", cfg: filterSetup(0)},
	"filter-baseline": {Name: "filter-baseline", Title: "the -baseline-wasm build, override_host (as C)", cfg: func(b *bench) (envoyConfig, error) {
		cfg, err := filterSetup(0)(b)
		if err == nil {
			cfg.Wasm.Path, err = filepath.Abs(b.o.baselineWasm)
		}
		return cfg, err
	}},
	"filter-new": {Name: "filter-new", Title: "vcap-sticky, override_host (D)", cfg: filterSetup(0)},
	"filter-big": {Name: "filter-big", Title: "vcap-sticky, 100,000 instances (E)", cfg: func(b *bench) (envoyConfig, error) {
		return filterSetup(b.o.big)(b)
	}},
	"filter-sealed": {Name: "filter-sealed", Title: "vcap-sticky, sealed mode (S, Snew)", cfg: sealedSetup},
	"empty": {Name: "empty", Title: "empty Go Wasm filter", cfg: func(b *bench) (envoyConfig, error) {
		p, err := filepath.Abs(b.o.emptyWasm)
		return envoyConfig{Wasm: &wasmFilter{Name: "empty", Path: p, Env: b.wasmEnv()}, Endpoints: b.endpoints()}, err
	}},
	// W0 runs in F's setup (round robin), W4 and W4new in C's and D's (the
	// override_host cluster), so that each pair differs only in the module.
	"floor-w0": {Name: "floor-w0", Title: "W0: runtime-less Wasm module, no host calls", cfg: func(b *bench) (envoyConfig, error) {
		p, err := filepath.Abs(filepath.Join(b.o.floor, floorSetups["floor-w0"]))
		return envoyConfig{Wasm: &wasmFilter{Name: "w0", Path: p}, Endpoints: b.endpoints()}, err
	}},
	"floor-w4": {Name: "floor-w4", Title: "W4: runtime-less Wasm module, a sticky hit's host calls, override_host", cfg: func(b *bench) (envoyConfig, error) {
		p, err := filepath.Abs(filepath.Join(b.o.floor, floorSetups["floor-w4"]))
		return envoyConfig{Wasm: &wasmFilter{Name: "w4", Path: p, Config: w4Pin(b)}, PinHeader: pinHeader, Endpoints: b.endpoints()}, err
	}},
	"floor-g4": {Name: "floor-g4", Title: "G4: standard-Go Wasm module, a sticky hit's host calls, override_host", cfg: func(b *bench) (envoyConfig, error) {
		p, err := filepath.Abs(b.o.goFloorWasm)
		return envoyConfig{Wasm: &wasmFilter{Name: "g4", Path: p, Config: w4Pin(b), Env: b.wasmEnv()}, PinHeader: pinHeader, Endpoints: b.endpoints()}, err
	}},
	"floor-w4new": {Name: "floor-w4new", Title: "W4new: runtime-less Wasm module, a new session's host calls, override_host", cfg: func(b *bench) (envoyConfig, error) {
		p, err := filepath.Abs(filepath.Join(b.o.floor, floorSetups["floor-w4new"]))
		return envoyConfig{Wasm: &wasmFilter{Name: "w4new", Path: p}, PinHeader: pinHeader, Endpoints: b.endpoints()}, err
	}},
	"lua": {Name: "lua", Title: "Lua script, gorouter's core rule, override_host", cfg: func(b *bench) (envoyConfig, error) {
		return envoyConfig{Lua: b.luaScript(), PinHeader: pinHeader, Endpoints: b.endpoints()}, nil
	}},
}

// w4Pin is the plugin configuration of W4's and G4's modules: their pin
// value, instance 0, as C's cookie names.
func w4Pin(b *bench) string {
	if len(b.upstreams) == 0 {
		return ""
	}
	return b.upstreams[0].Addr()
}

// luaRule is variant L's script, without its instance table.
//
//go:embed sticky.lua
var luaRule string

// luaScript is variant L's script: the instance table (id -> address of the
// real instances, as the filter's route has them), then the rule.
func (b *bench) luaScript() string {
	var s strings.Builder
	s.WriteString("local INSTANCES = {\n")
	for i, in := range b.upstreams {
		fmt.Fprintf(&s, "  [%q] = %q,\n", b.ids[i], in.Addr())
	}
	s.WriteString("}\n")
	s.WriteString(luaRule)
	return s.String()
}

func (b *bench) wasmEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range strings.Split(b.o.wasmEnv, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			env[k] = v
		}
	}
	return env
}

func filterSetup(extra int) func(b *bench) (envoyConfig, error) {
	return func(b *bench) (envoyConfig, error) {
		p, err := filepath.Abs(b.o.wasm)
		return envoyConfig{
			Wasm:      &wasmFilter{Name: "vcap-sticky", Path: p, Config: b.pluginConfig(extra), Env: b.wasmEnv()},
			PinHeader: pinHeader, Endpoints: b.endpoints(),
		}, err
	}
}

// sealedSetup is C's setup with sealed mode on: the plugin config names the
// variable, the VM's environment holds the key.
func sealedSetup(b *bench) (envoyConfig, error) {
	cfg, err := filterSetup(0)(b)
	if err != nil {
		return cfg, err
	}
	plugin := cfg.Wasm.Config
	cfg.Wasm.Config = plugin[:len(plugin)-1] + `,"sealed":{"keys_env":"` + sealedKeysEnv + `"}}`
	cfg.Wasm.Env[sealedKeysEnv] = sealedKey
	return cfg, nil
}

func (b *bench) definitions() []*variant {
	sticky := func() string { return "JSESSIONID=" + sessionID + "; __VCAP_ID__=" + b.ids[0] }
	return []*variant{
		{Key: "A", Title: "Envoy, no filter", setup: "plain", path: "/", check: checkServed},
		{Key: "Anew", Title: "Envoy, no filter, D's traffic", setup: "plain", path: "/?session=new", check: checkServed},
		{Key: "B", Title: "Envoy stateful_session (cookie)", setup: "native", path: "/", check: checkNative},
		{Key: "C", Title: "vcap-sticky, sticky hit", setup: "filter", path: "/", check: checkPinned(sticky)},
		{Key: "Cbase", Title: "the -baseline-wasm build, sticky hit", setup: "filter-baseline", path: "/", check: checkPinned(sticky)},
		{Key: "D", Title: "vcap-sticky, new session", setup: "filter-new", path: "/?session=new", check: checkNewSession},
		{Key: "E", Title: "vcap-sticky, 100k instances, sticky hit", setup: "filter-big", path: "/", check: checkPinned(sticky)},
		{Key: "F", Title: "empty Go Wasm filter", setup: "empty", path: "/", check: checkServed},
		{Key: "Fmiss", Title: "vcap-sticky, no route matches", setup: "filter", path: "/", host: "no-route.example", check: checkNoRoute},
		{Key: "Aoh", Title: "Envoy, no filter, C's cluster", setup: "plain-oh", path: "/", check: checkServed},
		{Key: "S", Title: "vcap-sticky sealed, sticky hit", setup: "filter-sealed", path: "/", check: checkSealedPinned},
		{Key: "Snew", Title: "vcap-sticky sealed, new session", setup: "filter-sealed", path: "/?session=new", check: checkNewSession},
		{Key: "Sforged", Title: "vcap-sticky sealed, forged token", setup: "filter-sealed", path: "/", check: checkSealedForged},
		{Key: "W0", Title: "runtime-less Wasm, returns at once", setup: "floor-w0", path: "/", check: checkServed},
		{Key: "W4", Title: "runtime-less Wasm, a sticky hit's host calls", setup: "floor-w4", path: "/", check: checkSameAs(0, sticky)},
		{Key: "G4", Title: "standard-Go Wasm, a sticky hit's host calls", setup: "floor-g4", path: "/", check: checkSameAs(0, sticky)},
		{Key: "W4new", Title: "runtime-less Wasm, a new session's host calls", setup: "floor-w4new", path: "/?session=new", check: checkNewSession},
		{Key: "L", Title: "Lua script, sticky hit", setup: "lua", path: "/", check: checkLua(sticky)},
	}
}

func (b *bench) startAll(ctx context.Context) error {
	for i := 0; i < b.o.instances; i++ {
		id := instanceID(i)
		in, err := upstream.Start(id, "127.0.0.1:0")
		if err != nil {
			return err
		}
		b.upstreams = append(b.upstreams, in)
		b.ids = append(b.ids, id)
	}
	// Traffic that carries cookies carries the same bytes in every variant
	// that does not need others (A, C, E, F), so only the filters differ.
	for _, v := range b.order {
		if v.Key != "B" && v.Key != "D" && v.Key != "Anew" && v.Key != "Snew" && v.Key != "W4new" {
			v.cookie = "JSESSIONID=" + sessionID + "; __VCAP_ID__=" + b.ids[0]
		}
	}
	return b.startEnvoys(ctx)
}

// startEnvoys starts an Envoy per setup and checks every variant on it.
func (b *bench) startEnvoys(ctx context.Context) error {
	for _, name := range setupOrder {
		s := b.setups[name]
		if s == nil {
			continue
		}
		cfg, err := s.cfg(b)
		if err != nil {
			return err
		}
		t0 := time.Now()
		dir := filepath.Join(b.dir, name)
		if b.starts > 0 { // a directory per start: an Envoy writes its admin address there
			dir = filepath.Join(b.dir, fmt.Sprintf("%s-%d", name, b.starts+1))
		}
		s.proc, err = startEnvoy(ctx, b.o.envoy, name, dir, cfg, b.o.concurrency, b.o.envoyCPUs, b.o.readyTimeout)
		if err != nil {
			return err
		}
		s.StartUp = time.Since(t0)
		log.Printf("envoy %-10s ready in %5s on %s (pid %d)", name, s.StartUp.Round(10*time.Millisecond), s.proc.listener, s.proc.pid())
	}
	for _, v := range b.order {
		if err := v.check(b, v); err != nil {
			return fmt.Errorf("variant %s (%s) does not behave as it should: %w", v.Key, v.Title, err)
		}
	}
	for _, s := range b.setups {
		s.Start = b.snapshot(s)
	}
	b.starts++
	return nil
}

// get sends one request to a variant's Envoy.
func (b *bench) get(v *variant, cookie string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+b.setups[v.setup].proc.listener+v.path, nil)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	if v.host != "" {
		req.Host = v.host
	}
	res, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res, fmt.Errorf("GET %s: %s", v.path, res.Status)
	}
	return res, nil
}

func checkServed(b *bench, v *variant) error {
	_, err := b.get(v, v.cookie)
	return err
}

// checkNative learns B's session cookie from a first response, then checks
// that it pins.
func checkNative(b *bench, v *variant) error {
	res, err := b.get(v, "JSESSIONID="+sessionID)
	if err != nil {
		return err
	}
	for _, line := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, envoyCookie+"=") {
			pair, _, _ := strings.Cut(line, ";")
			v.cookie = "JSESSIONID=" + sessionID + "; " + pair
		}
	}
	if v.cookie == "" {
		return fmt.Errorf("no %s cookie in %q", envoyCookie, res.Header.Values("Set-Cookie"))
	}
	return checkSameInstance(b, v, "")
}

func checkSameInstance(b *bench, v *variant, want string) error {
	for i := 0; i < 2*len(b.upstreams)+1; i++ {
		res, err := b.get(v, v.cookie)
		if err != nil {
			return err
		}
		got := res.Header.Get(upstream.InstanceHeader)
		if want == "" {
			want = got
		}
		if got != want {
			return fmt.Errorf("request %d served by %q, want %q", i, got, want)
		}
	}
	return nil
}

func checkPinned(cookie func() string) func(b *bench, v *variant) error {
	return func(b *bench, v *variant) error { return checkPinnedTo(b.ids[0], cookie)(b, v) }
}

// checkPinnedTo: every request with the cookie goes to instance id, and
// sticky_hits counts each.
func checkPinnedTo(id string, cookie func() string) func(b *bench, v *variant) error {
	return func(b *bench, v *variant) error {
		v.cookie = cookie()
		p := b.setups[v.setup].proc
		before := p.flushedStat("wasmcustom.vcap_sticky.sticky_hits")
		if err := checkSameInstance(b, v, id); err != nil {
			return err
		}
		if after := p.flushedStat("wasmcustom.vcap_sticky.sticky_hits"); after-before != int64(2*len(b.upstreams)+1) {
			return fmt.Errorf("sticky_hits went from %d to %d", before, after)
		}
		return nil
	}
}

// checkSameAs: every request with the cookie goes to instance i (a module
// without counters: W4).
func checkSameAs(i int, cookie func() string) func(b *bench, v *variant) error {
	return func(b *bench, v *variant) error {
		v.cookie = cookie()
		return checkSameInstance(b, v, b.ids[i])
	}
}

// checkLua: the script pins as C does (every request with C's cookie to
// instance 0, and with another instance's id to that one), and a response
// that starts a session gets __VCAP_ID__ with the id of the instance that
// served it.
func checkLua(cookie func() string) func(b *bench, v *variant) error {
	return func(b *bench, v *variant) error {
		other := *v
		other.cookie = "JSESSIONID=" + sessionID + "; " + vcapCookie + "=" + b.ids[len(b.ids)-1]
		if err := checkSameInstance(b, &other, b.ids[len(b.ids)-1]); err != nil {
			return fmt.Errorf("pinned by the last instance's id: %w", err)
		}
		first := *v
		first.path = "/?session=new"
		for range len(b.ids) {
			res, err := b.get(&first, "")
			if err != nil {
				return err
			}
			got, ok := setCookieValue(res.Header.Values("Set-Cookie"), vcapCookie)
			if served := res.Header.Get(upstream.InstanceHeader); !ok || got != served {
				return fmt.Errorf("new session served by %q got %s=%q (%v)", served, vcapCookie, got, res.Header.Values("Set-Cookie"))
			}
		}
		return checkSameAs(0, cookie)(b, v)
	}
}

// checkNoRoute: the filter sees the request but no route, so pins nothing.
func checkNoRoute(b *bench, v *variant) error {
	p := b.setups[v.setup].proc
	before := p.flushedStat("wasmcustom.vcap_sticky.sticky_hits")
	if _, err := b.get(v, v.cookie); err != nil {
		return err
	}
	if after := p.flushedStat("wasmcustom.vcap_sticky.sticky_hits"); after != before {
		return fmt.Errorf("sticky_hits went from %d to %d: a route matched", before, after)
	}
	return nil
}

// checkSealedPinned gets a sealed token from a first request that starts a
// session, then checks as C does that it pins to the instance that served.
func checkSealedPinned(b *bench, v *variant) error {
	tok, served, err := newSealedToken(b, v)
	if err != nil {
		return err
	}
	return checkPinnedTo(served, func() string { return "JSESSIONID=" + sessionID + "; " + vcapCookie + "=" + tok })(b, v)
}

// newSealedToken starts a session through v's Envoy and returns the sealed
// __VCAP_ID__ it got and the instance that served it.
func newSealedToken(b *bench, v *variant) (tok, served string, err error) {
	first := *v
	first.path = "/?session=new"
	res, err := b.get(&first, "")
	if err != nil {
		return "", "", err
	}
	tok, ok := setCookieValue(res.Header.Values("Set-Cookie"), vcapCookie)
	if !ok || len(tok) < 4 {
		return "", "", fmt.Errorf("no sealed %s in %q", vcapCookie, res.Header.Values("Set-Cookie"))
	}
	if slices.Contains(b.ids, tok) {
		return "", "", fmt.Errorf("%s is a bare instance id, not a sealed token", vcapCookie)
	}
	served = res.Header.Get(upstream.InstanceHeader)
	if !slices.Contains(b.ids, served) {
		return "", "", fmt.Errorf("served by unknown instance %q", served)
	}
	return tok, served, nil
}

// checkSealedForged forges a token an attacker could send: a genuine
// token's version and key id (its first 4 characters, 3 bytes) and a body
// of zero bytes. It costs the filter one AES-GCM open that fails, and the
// response re-issues a new token; tokens_rejected_unauthentic counts it.
func checkSealedForged(b *bench, v *variant) error {
	tok, _, err := newSealedToken(b, v)
	if err != nil {
		return err
	}
	v.cookie = "JSESSIONID=" + sessionID + "; " + vcapCookie + "=" + tok[:4] + strings.Repeat("A", len(tok)-4)
	p := b.setups[v.setup].proc
	before := p.flushedStat("wasmcustom.vcap_sticky.tokens_rejected_unauthentic")
	res, err := b.get(v, v.cookie)
	if err != nil {
		return err
	}
	if again, ok := setCookieValue(res.Header.Values("Set-Cookie"), vcapCookie); !ok || again == tok {
		return fmt.Errorf("the forged token was not replaced by a new one: %q", res.Header.Values("Set-Cookie"))
	}
	if after := p.flushedStat("wasmcustom.vcap_sticky.tokens_rejected_unauthentic"); after != before+1 {
		return fmt.Errorf("tokens_rejected_unauthentic went from %d to %d, want one more", before, after)
	}
	return nil
}

// setCookieValue finds a cookie's value in Set-Cookie header lines.
func setCookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		pair, _, _ := strings.Cut(line, ";")
		if k, val, ok := strings.Cut(strings.TrimSpace(pair), "="); ok && k == name {
			return val, true
		}
	}
	return "", false
}

func checkNewSession(b *bench, v *variant) error {
	res, err := b.get(v, "")
	if err != nil {
		return err
	}
	for _, line := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, "__VCAP_ID__=") {
			return nil
		}
	}
	return fmt.Errorf("no __VCAP_ID__ in %q", res.Header.Values("Set-Cookie"))
}

func (b *bench) spec(v *variant, connections int, d time.Duration) loadSpec {
	s := loadSpec{
		url:     "http://" + b.setups[v.setup].proc.listener + v.path,
		threads: min(b.o.threads, connections), connections: connections, duration: d,
	}
	if v.cookie != "" {
		s.headers = append(s.headers, "Cookie: "+v.cookie)
	}
	if v.host != "" {
		s.headers = append(s.headers, "Host: "+v.host)
	}
	return s
}

func (b *bench) measure(ctx context.Context) error {
	o := b.o
	if o.warmup > 0 {
		for _, v := range b.order {
			if _, err := runWrk(ctx, o.wrk, b.script, b.spec(v, o.connections, o.warmup)); err != nil {
				return err
			}
		}
	}
	for r := 1; r <= o.rounds; r++ {
		if r > 1 && o.freshEnvoys {
			if err := b.restartEnvoys(ctx); err != nil {
				return err
			}
		}
		for _, v := range b.order {
			p := b.setups[v.setup].proc
			cpu0, err := procCPU(p.pid())
			if err != nil {
				return err
			}
			// The profile leaves out the run's first and last half second.
			profile := b.profiler.start(ctx, p.pid(), max(o.duration-time.Second, 500*time.Millisecond))
			load, err := runWrk(ctx, o.wrk, b.script, b.spec(v, o.connections, o.duration))
			if err != nil {
				return err
			}
			cpu1, _ := procCPU(p.pid())
			res := run1{Load: load, EnvoyCPU: cpu1 - cpu0, Split: profile()}
			if o.latDuration > 0 {
				if res.Latency, err = runWrk(ctx, o.wrk, b.script, b.spec(v, 1, o.latDuration)); err != nil {
					return err
				}
			}
			if n := load.errors() + res.Latency.errors(); n > 0 {
				return fmt.Errorf("round %d, %s: %d failed or non-2xx requests: %+v %+v", r, v.Key, n, load.Errors, res.Latency.Errors)
			}
			b.results[v.Key] = append(b.results[v.Key], res)
			log.Printf("round %d/%d %-4s %8.0f req/s  p50 %4.0fus p99 %5.0fus (1 conn: p50 %4.0fus p99 %4.0fus)  envoy %5.1f us CPU/req",
				r, o.rounds, v.Key, load.rps(), load.P50, load.P99, res.Latency.P50, res.Latency.P99, res.cpuPerReq())
		}
	}
	if s := b.setups["filter"]; s != nil && o.soak > 0 {
		// Drive C's Envoy to -soak requests, in runs sized from the measured
		// rate, until it gets there or -soak-max has passed.
		c := b.variant("C")
		deadline := time.Now().Add(o.soakMax)
		rate := median(b.values("C", func(r run1) float64 { return r.Load.rps() }))
		for {
			left := o.soak - s.proc.stat("http.ingress_http.downstream_rq_total")
			remaining := time.Until(deadline)
			if left <= 0 || remaining < time.Second {
				break
			}
			d := time.Duration(float64(left)/math.Max(rate, 1)*1.05*float64(time.Second)) + time.Second
			d = min(d, remaining)
			log.Printf("soak: %d more requests to C's Envoy (%s)", left, d.Round(time.Second))
			res, err := runWrk(ctx, o.wrk, b.script, b.spec(c, o.connections, d))
			if err != nil {
				return err
			}
			if res.errors() > 0 {
				return fmt.Errorf("soak: %d failed or non-2xx requests", res.errors())
			}
			rate = res.rps()
		}
		b.soaked = s.proc.stat("http.ingress_http.downstream_rq_total")
	}
	return nil
}

// restartEnvoys replaces every Envoy by a new one, checked and warmed up
// as the first were.
func (b *bench) restartEnvoys(ctx context.Context) error {
	for _, s := range b.setups {
		s.proc.stop()
		s.proc = nil
	}
	if err := b.startEnvoys(ctx); err != nil {
		return err
	}
	for _, v := range b.order {
		if _, err := runWrk(ctx, b.o.wrk, b.script, b.spec(v, b.o.connections, b.o.warmup)); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) finish() {
	for name, s := range b.setups {
		s.End = b.snapshot(s)
		if m, err := s.proc.stats(`^wasmcustom\.vcap_sticky\.`); err == nil && len(m) > 0 {
			b.counters[name] = m
		}
	}
}

func (b *bench) snapshot(s *setup) memSnap {
	p := s.proc
	m := memSnap{WasmVMs: -1}
	m.RSSKB, m.HWMKB, _ = procStatus(p.pid())
	m.WasmMem, _ = wasmMemories(p.pid())
	if st, err := p.stats(`^(server\.memory_(allocated|heap_size)|wasm\.wasm_vm_count|http\.ingress_http\.downstream_rq_total)$`); err == nil {
		m.Allocated = st["server.memory_allocated"]
		m.HeapSize = st["server.memory_heap_size"]
		m.Requests = st["http.ingress_http.downstream_rq_total"]
		if n, ok := st["wasm.wasm_vm_count"]; ok {
			m.WasmVMs = n
		}
	}
	return m
}

func (b *bench) variant(key string) *variant {
	for _, v := range b.order {
		if v.Key == key {
			return v
		}
	}
	return nil
}

// values extracts one figure from each round of a variant.
func (b *bench) values(key string, f func(run1) float64) []float64 {
	var out []float64
	for _, r := range b.results[key] {
		out = append(out, f(r))
	}
	return out
}

// runGoBench runs the native benchmarks of the per-request logic and of the
// configuration, and returns their output.
func runGoBench(ctx context.Context, benchTime string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem",
		"-benchtime", benchTime, "-count", "1", "./cookie/", "./config/", "./sticky/", "./filter/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		// Benchmark lines, and the package/CPU headers; not the filter's logs.
		for _, p := range []string{"Benchmark", "pkg:", "goos:", "goarch:", "cpu:", "ok ", "PASS"} {
			if strings.HasPrefix(line, p) {
				keep = append(keep, line)
				break
			}
		}
	}
	return strings.Join(keep, "\n"), nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func minMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(xs), slices.Max(xs)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
