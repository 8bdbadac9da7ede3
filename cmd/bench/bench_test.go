package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/upstream"
)

func TestParseWasmMemories(t *testing.T) {
	// From a real Envoy 1.40 with two Wasm VMs: each 8 GiB reservation is a
	// read-write head (the linear memory) and a PROT_NONE tail.
	maps := strings.Join([]string{
		"61d73fe00000-61d740000000 rw-p 00000000 00:00 0",
		"7f6da16f0000-7f6da1a80000 rw-p 00000000 00:00 0",
		"7f6da1a80000-7f6fa16f0000 ---p 00000000 00:00 0",
		"7f7203f00000-7f7204700000 rw-p 00000000 00:00 0",
		"7f7204700000-7f7204c90000 rw-p 00000000 00:00 0",
		"7f7204c90000-7f7404700000 ---p 00000000 00:00 0",
		"7f7404700000-7f7404710000 r--p 00000000 fd:01 123 /usr/lib/libc.so.6",
		// Not a Wasm memory: a guard of another size.
		"7f7414700000-7f7434700000 rw-p 00000000 00:00 0",
		"7f7434700000-7f7444700000 ---p 00000000 00:00 0",
	}, "\n")
	got := parseWasmMemories(maps)
	want := []int64{3648 << 10, 5696 << 10}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	stat := "1234 (envoy worker) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 1000 100"
	got, err := parseProcStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Fatalf("got %v, %v; want 3s", got, err)
	}
}

func TestParseWrk(t *testing.T) {
	out := "Running 1s test @ http://127.0.0.1:1/\n" +
		`WRKJSON {"requests":1000,"duration_us":1000000,"bytes":5,"errors":{"connect":0,"read":0,"write":0,"status":2,"timeout":0},"p50_us":100,"p90_us":150,"p99_us":300,"p999_us":400,"mean_us":110.5,"max_us":900}` + "\n"
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.rps() != 1000 || r.P99 != 300 || r.errors() != 2 {
		t.Fatalf("got %+v", r)
	}
	if _, err := parseWrk("no report"); err == nil {
		t.Fatal("no error for output without a report")
	}
}

func TestGoBenchFigure(t *testing.T) {
	out := "BenchmarkParse100k-2   	      5	  81234567 ns/op	  22.2 MB/s	  70.5 cpu-ms/op	 3694 B/op	  676 allocs/op\n" +
		"BenchmarkStickyHit-2 	 1000000	 1149 ns/op	 0 B/op	 0 allocs/op"
	if v, ok := goBenchFigure(out, "BenchmarkParse100k", "cpu-ms/op"); !ok || v != 70.5 {
		t.Fatalf("cpu-ms/op: %v %v", v, ok)
	}
	if v, ok := goBenchFigure(out, "BenchmarkStickyHit", "allocs/op"); !ok || v != 0 {
		t.Fatalf("allocs/op: %v %v", v, ok)
	}
}

func TestEnvoyConfigRenders(t *testing.T) {
	for name, s := range allSetups {
		b := &bench{o: options{wasm: "x.wasm", emptyWasm: "e.wasm", big: 10}, ids: []string{instanceID(0)}}
		cfg, err := s.cfg(b)
		if err != nil {
			t.Fatal(name, err)
		}
		cfg.Endpoints = []endpoint{{IP: "127.0.0.1", Port: 8080}}
		y, err := cfg.render()
		if err != nil || !strings.Contains(string(y), "port_value: 8080") {
			t.Fatalf("%s: %v\n%s", name, err, y)
		}
	}
}

func TestSetCookieValue(t *testing.T) {
	lines := []string{
		"JSESSIONID=abc; Path=/; HttpOnly",
		"__VCAP_ID_META__=x; Path=/",
		"__VCAP_ID__=tok-en_1; Path=/; HttpOnly; SameSite=Lax",
	}
	if v, ok := setCookieValue(lines, "__VCAP_ID__"); !ok || v != "tok-en_1" {
		t.Fatalf("got %q %v", v, ok)
	}
	if v, ok := setCookieValue(lines[:2], "__VCAP_ID__"); ok {
		t.Fatalf("found %q in lines without it", v)
	}
}

// The sealed setup's plugin config and key are what the filter accepts.
func TestSealedSetupParses(t *testing.T) {
	in, err := upstream.Start(instanceID(0), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	b := &bench{o: options{wasm: "x.wasm"}, ids: []string{in.ID}, upstreams: []*upstream.Instance{in}}
	cfg, err := sealedSetup(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(sealedKeysEnv, cfg.Wasm.Env[sealedKeysEnv])
	c, err := config.Parse([]byte(cfg.Wasm.Config))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sealed == nil || c.Sealed.Ring == nil {
		t.Fatalf("sealed mode off: %s", cfg.Wasm.Config)
	}
}

// rounds makes one run per round with these requests/s (over 1 s) and Envoy
// CPU microseconds per request.
func rounds(rps []int64, cpuUS float64) []run1 {
	var out []run1
	for _, n := range rps {
		out = append(out, run1{Load: wrkResult{Requests: n, DurationUS: 1_000_000},
			EnvoyCPU: time.Duration(cpuUS*float64(n)) * time.Microsecond})
	}
	return out
}

// The floor ratios are taken round by round, and a target is met when their
// median is at least the target.
func TestFloorReport(t *testing.T) {
	b := &bench{o: options{rounds: 3}, results: map[string][]run1{
		"C":     rounds([]int64{900, 850, 800}, 60),
		"W4":    rounds([]int64{1000, 1000, 1000}, 46),
		"D":     rounds([]int64{860, 850, 700}, 70),
		"W4new": rounds([]int64{1000, 1000, 1000}, 50),
		"F":     rounds([]int64{990, 960, 975}, 42),
		"W0":    rounds([]int64{1000, 1000, 1000}, 38),
		"L":     rounds([]int64{950, 1000, 1000}, 44),
	}}
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	b.floorSection(p)
	b.perRoundRatios(p)
	out := w.String()
	for _, want := range []string{
		// C/W4: 0.9, 0.85, 0.8: median 0.85 < 0.90.
		"| C/W4 | 0.900 | 0.850 | 0.800 | 0.800 | 0.850 | 0.900 | >= 0.90 | **not met** |",
		// D/W4new: 0.86, 0.85, 0.70: median 0.85 >= 0.85.
		"| D/W4new | 0.860 | 0.850 | 0.700 | 0.700 | 0.850 | 0.860 | >= 0.85 | met |",
		// F/W0: 0.99, 0.96, 0.975: median 0.975 >= 0.97.
		"| F/W0 | 0.990 | 0.960 | 0.975 | 0.960 | 0.975 | 0.990 | >= 0.97 | met |",
		// C/L: 900/950, 850/1000, 800/1000.
		"| C/L | 0.947 | 0.850 | 0.800 | 0.800 | 0.850 | 0.947 | >= 0.90 | **not met** |",
		// An informative ratio has no verdict: C/F = 900/990, 850/960, 800/975.
		"| C/F | 0.909 | 0.885 | 0.821 | 0.821 | 0.885 | 0.909 | (the filter's logic over the floor) |  |",
		// CPU over the floor: C 60 - W4 46 every round.
		"| C − W4 | Go runtime and filter code on a sticky hit | +14.0 | +14.0 | +14.0 |",
		"| D − W4new | Go runtime and filter code on a new session | +20.0 | +20.0 | +20.0 |",
		"| F − W0 | Go runtime alone (empty filters) | +4.0 | +4.0 | +4.0 |",
		"| C − L | vcap-sticky over the Lua script | +16.0 | +16.0 | +16.0 |",
		floorExplanation,
		luaExplanation,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// A ratio without its baseline's results (A was not run) has no row.
	if strings.Contains(out, "| W0/A |") || strings.Contains(out, "| W4/A |") {
		t.Errorf("a ratio over A, which was not run:\n%s", out)
	}
}

// The chart renders with every variant (and its colour).
func TestWriteChart(t *testing.T) {
	b := &bench{results: map[string][]run1{}}
	for i, v := range (&bench{}).definitions() {
		b.order = append(b.order, v)
		b.results[v.Key] = rounds([]int64{int64(1000 + 100*i), int64(900 + 100*i)}, float64(40+i))
	}
	path := filepath.Join(t.TempDir(), "chart.png")
	if dir := os.Getenv("BENCH_CHART_DIR"); dir != "" { // to look at it
		path = filepath.Join(dir, "chart.png")
	}
	if err := writeChart(b, path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() < 10_000 {
		t.Fatalf("chart: %v %v", st, err)
	}
}

// Variant L's script gets the table of the real instances, id -> address.
func TestLuaScript(t *testing.T) {
	var ins []*upstream.Instance
	for i := range 2 {
		in, err := upstream.Start(instanceID(i), "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer in.Stop()
		ins = append(ins, in)
	}
	b := &bench{ids: []string{ins[0].ID, ins[1].ID}, upstreams: ins}
	s := b.luaScript()
	for _, in := range ins {
		if want := `["` + in.ID + `"] = "` + in.Addr() + `",`; !strings.Contains(s, want) {
			t.Errorf("no %s in\n%s", want, s)
		}
	}
	if !strings.HasPrefix(s, "local INSTANCES = {\n") || !strings.Contains(s, "function envoy_on_request(") ||
		!strings.Contains(s, "function envoy_on_response(") || !strings.Contains(s, `local PIN = "`+pinHeader+`"`) {
		t.Errorf("script:\n%s", s)
	}
}

// perf report's lines by shared object, as perf 6.1 prints them with -n -q.
func TestParseSplit(t *testing.T) {
	report := "    60.00%           600  envoy            \n" +
		"    20.00%           200  [kernel.kallsyms]\n" +
		"    15.00%           150  [JIT] tid 16055  \n" +
		"     4.00%            40  libc.so.6        \n" +
		"     1.00%            10  [vdso]           \n" +
		"\n# a comment\nnot a line of the table\n"
	got := parseSplit([]byte(report))
	want := cpuSplit{Module: 0.15, Envoy: 0.60, Kernel: 0.20, Libs: 0.05, Samples: 1000}
	const eps = 1e-9
	if got.Samples != want.Samples || math.Abs(got.Module-want.Module) > eps || math.Abs(got.Envoy-want.Envoy) > eps ||
		math.Abs(got.Kernel-want.Kernel) > eps || math.Abs(got.Libs-want.Libs) > eps {
		t.Errorf("parseSplit = %+v, want %+v", got, want)
	}
	if got := parseSplit(nil); got != (cpuSplit{}) {
		t.Errorf("parseSplit(nothing) = %+v, want the zero split", got)
	}
}
