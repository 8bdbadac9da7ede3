package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

type machineInfo struct {
	Nproc, CPU, Memory, Kernel string
	Envoy, Wrk, Go             string
	LoadStart, LoadEnd         string
	OwnCPUs                    string // the CPUs the benchmark process may run on
	Date                       string
}

func command(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 { // wrk --version prints its version and exits 1
		return "(" + name + ": " + err.Error() + ")"
	}
	return strings.TrimSpace(string(out))
}

func describeMachine(o options) machineInfo {
	m := machineInfo{
		Nproc:     command("nproc"),
		Kernel:    command("uname", "-srm"),
		Go:        runtime.Version(),
		LoadStart: loadAvg(),
		OwnCPUs:   allowedCPUs(),
		Date:      time.Now().UTC().Format("2006-01-02 15:04 MST"),
	}
	var cpu []string
	for _, line := range strings.Split(command("lscpu"), "\n") {
		k, _, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(k) {
		case "Architecture", "CPU(s)", "Model name", "Thread(s) per core", "Core(s) per socket",
			"Socket(s)", "CPU max MHz", "BogoMIPS", "Hypervisor vendor", "L2 cache", "L3 cache":
			cpu = append(cpu, strings.Join(strings.Fields(line), " "))
		}
	}
	m.CPU = strings.Join(cpu, "\n")
	m.Memory = command("free", "-m")
	if v := command(o.envoy, "--version"); v != "" {
		m.Envoy = strings.TrimSpace(strings.TrimPrefix(v, strings.Split(v, ":")[0]+":"))
	}
	m.Wrk = strings.SplitN(command(o.wrk, "--version"), "\n", 2)[0]
	return m
}

// allowedCPUs is the benchmark process's CPU list (/proc/self/status).
func allowedCPUs() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ratio is a throughput ratio between two variants, taken round by round.
type ratio struct {
	Name, Num, Den, Target string
	atLeast                float64 // NaN: informative only
}

var ratios = []ratio{
	{"C/A", "C", "A", ">= 0.95", 0.95},
	{"C/B", "C", "B", ">= 1.00", 1.0},
	{"D/A", "D", "Anew", ">= 0.95", 0.95},
	{"E/C", "E", "C", ">= 0.98", 0.98},
	{"C/W4", "C", "W4", ">= 0.90", 0.90},
	{"D/W4new", "D", "W4new", ">= 0.85", 0.85},
	{"F/W0", "F", "W0", ">= 0.97", 0.97},
	{"C/L", "C", "L", ">= 0.90", 0.90},
	{"W0/A", "W0", "A", "(floor of any proxy-wasm module)", math.NaN()},
	{"W4/A", "W4", "A", "(the most C/A any proxy-wasm filter making a sticky hit's host calls can reach)", math.NaN()},
	{"W4new/A", "W4new", "Anew", "(the same for D/A)", math.NaN()},
	{"G4/W4", "G4", "W4", "(the Go runtime's share of a sticky hit's crossings)", math.NaN()},
	{"C/G4", "C", "G4", "(the filter's own work over a Go module making its host calls)", math.NaN()},
	{"L/A", "L", "A", "(a Lua script doing gorouter's core rule)", math.NaN()},
	{"B/A", "B", "A", "(Envoy's own sticky sessions)", math.NaN()},
	{"F/A", "F", "A", "(floor of a Go Wasm filter)", math.NaN()},
	{"C/F", "C", "F", "(the filter's logic over the floor)", math.NaN()},
	{"Aoh/A", "Aoh", "A", "(Envoy's side of pinning: override_host + header_mutation)", math.NaN()},
	{"Fmiss/F", "Fmiss", "F", "(the filter's first host calls)", math.NaN()},
	{"S/C", "S", "C", "(sealed mode's cost on a sticky hit)", math.NaN()},
	{"Snew/D", "Snew", "D", "(sealed mode's cost on a new session)", math.NaN()},
	{"C/Cbase", "C", "Cbase", "(this build against -baseline-wasm)", math.NaN()},
	{"Sforged/S", "Sforged", "S", "(a forged token against a genuine one: one failed open and a new seal)", math.NaN()},
}

// perRound pairs two variants' figures round by round.
func (b *bench) perRound(num, den string, f func(run1) float64, op func(a, b float64) float64) []float64 {
	n, d := b.results[num], b.results[den]
	var out []float64
	for i := 0; i < len(n) && i < len(d); i++ {
		out = append(out, op(f(n[i]), f(d[i])))
	}
	return out
}

func rps(r run1) float64   { return r.Load.rps() }
func p50c1(r run1) float64 { return r.Latency.P50 }
func p99c1(r run1) float64 { return r.Latency.P99 }
func div(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
func sub(a, b float64) float64 { return a - b }

func mmm(xs []float64, format string) string {
	if len(xs) == 0 {
		return "–"
	}
	lo, hi := minMax(xs)
	return fmt.Sprintf(format+" | "+format+" | "+format, lo, median(xs), hi)
}

func medRange(xs []float64, format string) string {
	if len(xs) == 0 {
		return "–"
	}
	lo, hi := minMax(xs)
	return fmt.Sprintf(format+" ("+format+"–"+format+")", median(xs), lo, hi)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func mib(bytes int64) string { return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20)) }

func wasmMem(m []int64) string {
	if len(m) == 0 {
		return "–"
	}
	s := slices.Clone(m)
	slices.Sort(s)
	var parts []string
	for _, x := range s {
		parts = append(parts, fmt.Sprintf("%.1f", float64(x)/(1<<20)))
	}
	return strings.Join(parts, ", ") + " MiB"
}

// goBenchLine finds a benchmark's figure ("ns/op", "allocs/op", ...).
func goBenchFigure(out, name, unit string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:-\d+)?\s+\d+\s+(.*)$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	f := strings.Fields(m[1])
	for i := 1; i < len(f); i++ {
		if f[i] == unit {
			v, err := strconv.ParseFloat(f[i-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// baseline is the variant of Envoy alone that k is compared with: the one
// with the same traffic.
func baseline(k string) string {
	if k == "D" || k == "Snew" || k == "W4new" {
		return "Anew"
	}
	return "A"
}

func report(b *bench) string {
	o := b.o
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	have := func(k string) bool { return len(b.results[k]) > 0 }

	p("# Benchmarks\n\n")
	p("Generated by `make bench` ([cmd/bench](cmd/bench/main.go)) on %s; do not edit, run it again.\n", b.machine.Date)
	p("vcap-sticky side by side with Envoy alone, Envoy's native sticky sessions, runtime-less Wasm modules ")
	p("(the floor of any proxy-wasm filter) and a Lua script, in the same Envoy, ")
	p("on loopback, with the variants interleaved round by round so that drift of the machine spreads over all of them")
	if o.freshEnvoys {
		p(", and every Envoy started anew for each round (after a warm-up), so that each round draws its own process layout: " +
			"two Envoys running the same module differ by a few percent for the life of the processes")
	}
	p(".\n\n")
	if rel, err := filepath.Rel(filepath.Dir(o.out), o.chart); err == nil {
		p("![throughput and Envoy CPU per request, per variant](%s)\n\n", filepath.ToSlash(rel))
	}
	if l := b.machine.LoadStart; l != "" {
		p("Load average at start: %s; at the end: %s (on %s CPUs). ", l, b.machine.LoadEnd, b.machine.Nproc)
		p("Throughput and latency are only as quiet as the machine was.\n\n")
	}

	p("## Variants\n\n")
	p("| variant | Envoy setup | traffic |\n| --- | --- | --- |\n")
	traffic := map[string]string{
		"A":       "`GET /` with `Cookie: JSESSIONID=…; __VCAP_ID__=…` (the bytes of C; Envoy ignores them)",
		"Anew":    "`GET /?session=new`, no cookie: the app sets `JSESSIONID` (D's traffic without the filter)",
		"B":       "`GET /` with `JSESSIONID` and the `" + envoyCookie + "` cookie Envoy set on a first response",
		"C":       "`GET /` with `JSESSIONID` and a valid `__VCAP_ID__`: pinned through `override_host`",
		"Cbase":   "as C, through the -baseline-wasm build of the filter",
		"D":       "`GET /?session=new`, no cookie: the app sets `JSESSIONID`, the filter adds `__VCAP_ID__` and `__VCAP_ID_META__`",
		"E":       fmt.Sprintf("as C; the route has %d instances (%d real, the rest fake addresses)", o.big, o.instances),
		"F":       "as A, through a Go Wasm filter whose callbacks do nothing",
		"Fmiss":   "as C but `Host: no-route.example`: the filter runs, reads the request headers (one host call), finds no route and does nothing",
		"Aoh":     "as A, through C's cluster: `override_host` load balancing and the upstream `header_mutation` filter, no Wasm",
		"S":       "as C, but `__VCAP_ID__` is a sealed token the Envoy issued at start (`/?session=new`), opened on every request",
		"Snew":    "as D; the filter seals a new token into `__VCAP_ID__`",
		"Sforged": "as S, but `__VCAP_ID__` is forged: the key id of S's key and a body of zero bytes (one AES-GCM open that fails, then a new token sealed for the response)",
		"W0":      "as F, through a hand-written Wasm module without a language runtime (`cmd/bench/floor/w0.wat`) whose callbacks return at once",
		"W4":      "as C, through a hand-written module (`w4.wat`) making exactly a sticky hit's host calls and allocation callbacks, pinning to instance 0",
		"G4":      "as C, through a standard-Go module (`cmd/bench/gofloor`) making W4's host calls through the filter's binding, and nothing else",
		"W4new":   "as D, through a hand-written module (`w4new.wat`) making exactly a new session's host calls and allocation callbacks (adds `__VCAP_ID__` and `__VCAP_ID_META__`)",
		"L":       "as C, through an Envoy Lua script (`cmd/bench/sticky.lua`) that pins on `JSESSIONID` + a known `__VCAP_ID__` with the same header and cluster",
	}
	for _, v := range b.order {
		p("| **%s** %s | %s | %s |\n", v.Key, v.Title, b.setups[v.setup].Title, traffic[v.Key])
	}
	p("\nEvery variant was checked before measuring: B and C/E pin every request to one instance ")
	p("(C/E/S to the one `__VCAP_ID__` names, with `sticky_hits` counting them), D's and Snew's responses carry `__VCAP_ID__`; ")
	p("W4, G4 and L pin to the instance C's cookie names, L's new sessions get the serving instance's id, W4new's responses carry `__VCAP_ID__`. ")
	p("Every measured request got a 2xx answer (wrk counts anything else as an error, and the run would have failed).\n\n")

	p("## Targets\n\n")
	p("Ratios of requests/s, taken per round (variant and baseline from the same round), over %d rounds.\n\n", o.rounds)
	p("| ratio | min | median | max | target | |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range ratios {
		if !have(r.Num) || !have(r.Den) {
			continue
		}
		xs := b.perRound(r.Num, r.Den, rps, div)
		den := r.Den
		if den == "Anew" {
			den = "Anew (A with D's traffic)"
		}
		mark := ""
		if !math.IsNaN(r.atLeast) {
			mark = verdict(median(xs) >= r.atLeast)
		}
		p("| %s (%s / %s) | %s | %s | %s |\n", r.Name, r.Num, den, mmm(xs, "%.3f"), r.Target, mark)
	}
	p("\nLatency added over A (microseconds, 1 connection, per round):\n\n")
	p("| variant | added p50 min / median / max | added p99 min / median / max | target |\n| --- | --- | --- | --- |\n")
	for _, k := range []string{"B", "C", "D", "E", "F", "Fmiss", "Aoh", "S", "Sforged", "Snew", "W0", "W4", "G4", "W4new", "L"} {
		base := baseline(k)
		if !have(k) || !have(base) || o.latDuration == 0 {
			continue
		}
		d50 := b.perRound(k, base, p50c1, sub)
		d99 := b.perRound(k, base, p99c1, sub)
		target := ""
		if k == "C" || k == "D" {
			target = "p99 < 50 µs: " + verdict(median(d99) < 50)
		}
		p("| %s − %s | %s | %s | %s |\n", k, base, strings.ReplaceAll(mmm(d50, "%+.0f"), " | ", " / "),
			strings.ReplaceAll(mmm(d99, "%+.0f"), " | ", " / "), target)
	}
	p("\nEnvoy CPU time per request added over A (microseconds, from `/proc/<pid>/stat` during the throughput runs; ")
	p("independent of what else the machine ran):\n\n")
	p("| variant | min | median | max |\n| --- | --- | --- | --- |\n")
	for _, k := range []string{"B", "Aoh", "W0", "F", "Fmiss", "W4", "G4", "L", "Cbase", "C", "W4new", "D", "E", "S", "Sforged", "Snew"} {
		base := baseline(k)
		if have(k) && have(base) {
			p("| %s − %s | %s |\n", k, base, mmm(b.perRound(k, base, run1.cpuPerReq, sub), "%+.1f"))
		}
	}
	p("\n")
	b.floorSection(p)
	b.profileSection(p)
	b.perRoundRatios(p)
	b.nativeTargets(p)
	b.memoryTarget(p)

	p("## Throughput and latency\n\n")
	p("wrk %s, `-t%d -c%d -d%s` keep-alive for throughput, then `-c1 -d%s` for latency, per variant and round; ",
		b.machine.Wrk, o.threads, o.connections, o.duration, o.latDuration)
	p("%d rounds, warm-up %s per variant. Envoy `--concurrency %d`, %d app instances (Go, package upstream) ",
		o.rounds, o.warmup, o.concurrency, o.instances)
	p("in the benchmark's process. ")
	if o.envoyCPUs != "" {
		p("Envoy pinned to CPU %s (`taskset`), the benchmark, its app instances and wrk to CPU %s, ", o.envoyCPUs, b.machine.OwnCPUs)
		p("so that Envoy's work is measured apart from the load's. ")
	}
	p("Median (min–max) over the rounds.\n\n")
	p("| variant | requests/s | p50 µs | p99 µs | p50 µs, 1 conn | p99 µs, 1 conn | Envoy CPU µs/request |\n")
	p("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, v := range b.order {
		k := v.Key
		p("| **%s** %s | %s | %s | %s | %s | %s | %s |\n", k, v.Title,
			medRange(b.values(k, rps), "%.0f"),
			medRange(b.values(k, func(r run1) float64 { return r.Load.P50 }), "%.0f"),
			medRange(b.values(k, func(r run1) float64 { return r.Load.P99 }), "%.0f"),
			medRange(b.values(k, p50c1), "%.0f"),
			medRange(b.values(k, p99c1), "%.0f"),
			medRange(b.values(k, run1.cpuPerReq), "%.1f"))
	}

	p("\n## Memory\n\n")
	p("Per Envoy (one per setup), after start-up and at the end. RSS from `/proc/<pid>/status`; ")
	p("`server.memory_allocated` is Envoy's heap in use (tcmalloc). Wasm linear memory per VM from `/proc/<pid>/maps`: ")
	p("V8 reserves 8 GiB of address space for each 32-bit Wasm memory and makes its first `memory.size` bytes read-write, ")
	p("so each such reservation is one VM and its read-write part is that VM's linear memory. ")
	p("Envoy runs one VM per worker thread and one on the main thread, and keeps the base VM it compiled the module in, ")
	p("which is never configured and stays at its initial size; `wasm.wasm_vm_count` is Envoy's own count.\n\n")
	p("| Envoy | start-up | requests served | RSS start → end | peak RSS | memory_allocated end | Wasm VMs | linear memory per VM, start → end |\n")
	p("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, name := range setupOrder {
		s := b.setups[name]
		if s == nil {
			continue
		}
		vms := "–"
		if s.End.WasmVMs >= 0 {
			vms = itoa(s.End.WasmVMs)
		}
		p("| %s (%s) | %s | %d | %s → %s | %s | %s | %s | %s → %s |\n", name, s.Title,
			s.StartUp.Round(10*time.Millisecond), s.End.Requests,
			mib(s.Start.RSSKB<<10), mib(s.End.RSSKB<<10), mib(s.End.HWMKB<<10), mib(s.End.Allocated), vms,
			wasmMem(s.Start.WasmMem), wasmMem(s.End.WasmMem))
	}
	if len(b.counters) > 0 {
		p("\nThe filter's counters at the end:\n\n| Envoy | counters |\n| --- | --- |\n")
		for _, name := range []string{"filter", "filter-new", "filter-big", "filter-sealed"} {
			m := b.counters[name]
			if m == nil {
				continue
			}
			var parts []string
			for _, c := range []string{"sticky_hits", "unknown_ids", "fallbacks", "cookies_set", "cookies_refreshed", "panics"} {
				parts = append(parts, fmt.Sprintf("%s %d", c, m["wasmcustom.vcap_sticky."+c]))
			}
			p("| %s | %s |\n", name, strings.Join(parts, ", "))
		}
	}

	if b.goBench != "" {
		p("\n## Native benchmarks\n\n")
		p("`go test -run '^$' -bench . -benchmem -benchtime %s ./cookie/ ./config/ ./sticky/ ./filter/` (part of `make bench`). ", o.benchTime)
		p("The per-request logic without Envoy: cookie parsing and building (cookie), route and instance lookups ")
		p("and the configuration with %d instances (config), and the filter's callbacks (filter; the `OnHttp…` and ", 100_000)
		p("`Exchange…` ones run through the SDK's proxytest host emulator, whose own work and allocations are included). ")
		p("`cpu-ms/op` is the process's CPU time per operation, which a busy machine does not inflate as it does ns/op.\n\n")
		p("```text\n%s\n```\n", b.goBench)
	}

	p("\n## Machine\n\n```text\n")
	p("nproc: %s\n%s\nkernel: %s\n\n%s\n\nenvoy: %s\nwrk: %s\ngo: %s\nload average: %s at start, %s at the end\n",
		b.machine.Nproc, b.machine.CPU, b.machine.Kernel, b.machine.Memory, b.machine.Envoy, b.machine.Wrk,
		b.machine.Go, b.machine.LoadStart, b.machine.LoadEnd)
	p("```\n\n## Command\n\n")
	flags := os.Getenv("BENCH_FLAGS")
	if flags != "" {
		p("`make bench BENCH_FLAGS='%s'`, which ran:\n\n", flags)
	} else {
		p("`make bench`, which ran:\n\n")
	}
	pin := ""
	if o.envoyCPUs != "" {
		pin = "taskset -c " + b.machine.OwnCPUs + " "
	}
	p("```sh\n%sgo run ./cmd/bench %s\n```\n\n", pin, shellJoin(os.Args[1:]))
	p("It took %s. See `go run ./cmd/bench -help` for longer runs (`-rounds`, `-duration`, `-connections`, …).\n",
		b.wall.Round(time.Second))
	return w.String()
}

// floorPairs are the comparisons with the floors: the variant, what it is
// measured against, and what the difference is.
var floorPairs = []struct{ Num, Den, What string }{
	{"C", "W4", "Go runtime and filter code on a sticky hit"},
	{"G4", "W4", "Go runtime alone, for a sticky hit's crossings"},
	{"C", "G4", "the filter's code alone on a sticky hit"},
	{"D", "W4new", "Go runtime and filter code on a new session"},
	{"F", "W0", "Go runtime alone (empty filters)"},
	{"C", "L", "vcap-sticky over the Lua script"},
	{"Cbase", "W4", "the -baseline-wasm build on a sticky hit"},
}

// floorSection explains W0, W4, W4new and L and gives the Envoy CPU time per
// request the filter spends over them.
func (b *bench) floorSection(p func(string, ...any)) {
	have := func(k string) bool { return len(b.results[k]) > 0 }
	var rows []string
	for _, f := range floorPairs {
		if have(f.Num) && have(f.Den) {
			rows = append(rows, fmt.Sprintf("| %s − %s | %s | %s |\n", f.Num, f.Den, f.What,
				mmm(b.perRound(f.Num, f.Den, run1.cpuPerReq, sub), "%+.1f")))
		}
	}
	if len(rows) == 0 {
		return
	}
	p("### The floor\n\n")
	p("%s\n\n%s\n\n", floorExplanation, luaExplanation)
	p("Envoy CPU time per request over the floor (microseconds, per round):\n\n")
	p("| variant − floor | what the difference is | min | median | max |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		p("%s", r)
	}
	p("\n")
}

// floorExplanation is the floor in two sentences (README.md says the same).
const floorExplanation = "W0, W4 and W4new are proxy-wasm modules written by hand in the WebAssembly text format " +
	"([cmd/bench/floor](cmd/bench/floor)), with no language runtime: W0 returns at once from every callback, " +
	"W4 and W4new make exactly the host calls and allocation callbacks of a sticky hit and of a new session " +
	"(`crossings_test.go` asserts they are the filter's), in C's and D's Envoy setup. " +
	"What they cost is what any proxy-wasm filter doing this work pays Envoy and V8, so C/W4, D/W4new and F/W0 " +
	"measure the share of the Go runtime and our code alone. " +
	"G4 ([cmd/bench/gofloor](cmd/bench/gofloor)) makes W4's calls from standard Go, through the filter's binding " +
	"and its allocation-free reads, and does nothing else: G4 − W4 is what the Go runtime costs per sticky hit, " +
	"C − G4 what the filter's own code costs."

// luaExplanation says what variant L is and what it lacks.
const luaExplanation = "L is what a user could write in an afternoon instead: Envoy's Lua filter " +
	"([cmd/bench/sticky.lua](cmd/bench/sticky.lua)) pinning on `JSESSIONID` plus a known `__VCAP_ID__` through " +
	"the same header and cluster as C, and adding `__VCAP_ID__` when the app sets `JSESSIONID`. It lacks " + luaLacks +
	". Envoy 1.40's Lua API does not name the host that served a response, so the script takes the instance's id " +
	"from the `X-Instance-Id` header the benchmark's app sets; a real app has none."

// luaLacks is what the Lua script of variant L does not do that the filter
// does (README.md, Performance).
const luaLacks = "`__VCAP_ID_META__`, sealed tokens, routes (hosts and paths) and their cookie `Path`, `__Host-` and other " +
	"session cookie names, multiple `Cookie` headers, `Secure`/`SameSite`/`Max-Age` copied from the session cookie, " +
	"re-issuing the cookie after a fallback, strict mode, Negotiate, `X-CF-*` headers, counters, " +
	"and any care with hostile input (a malformed cookie is read as Lua's patterns happen to read it)"

// perRoundRatios lists every ratio round by round, with min, median, max and
// the target.
func (b *bench) perRoundRatios(p func(string, ...any)) {
	rounds := 0
	for _, r := range b.results {
		rounds = max(rounds, len(r))
	}
	if rounds == 0 {
		return
	}
	p("Every ratio of requests/s, round by round (each round runs every variant once, in turn):\n\n| ratio |")
	for i := 1; i <= rounds; i++ {
		p(" round %d |", i)
	}
	p(" min | median | max | target | |\n|%s\n", strings.Repeat(" --- |", rounds+6))
	for _, r := range ratios {
		xs := b.perRound(r.Num, r.Den, rps, div)
		if len(xs) == 0 {
			continue
		}
		p("| %s |", r.Name)
		for i := 0; i < rounds; i++ {
			if i < len(xs) {
				p(" %.3f |", xs[i])
			} else {
				p(" – |")
			}
		}
		mark := ""
		if !math.IsNaN(r.atLeast) {
			mark = verdict(median(xs) >= r.atLeast)
		}
		p(" %s | %s | %s |\n", mmm(xs, "%.3f"), r.Target, mark)
	}
	p("\n")
}

func (b *bench) nativeTargets(p func(string, ...any)) {
	if b.goBench == "" {
		return
	}
	p("Native (`go test -bench`, below):\n\n| figure | value | target | |\n| --- | --- | --- | --- |\n")
	// sticky's BenchmarkStickyHit: the core's request and response.
	if allocs, ok := goBenchFigure(b.goBench, "BenchmarkStickyHit", "allocs/op"); ok {
		ns, _ := goBenchFigure(b.goBench, "BenchmarkStickyHit", "ns/op")
		p("| sticky hit, the core's request and response (header views, decision, served-instance lookup) | %.0f allocs/op, %.0f ns/op | 0 allocations | %s |\n",
			allocs, ns, verdict(allocs == 0))
	}
	if ns, ok := goBenchFigure(b.goBench, "BenchmarkParse100k", "ns/op"); ok {
		cpu, _ := goBenchFigure(b.goBench, "BenchmarkParse100k", "cpu-ms/op")
		p("| config.Parse, %d instances | %.0f ms wall, %.0f ms CPU per parse | < 100 ms | %s |\n",
			100_000, ns/1e6, cpu, verdict(ns/1e6 < 100))
	}
	if ns, ok := goBenchFigure(b.goBench, "BenchmarkParse100kFloor", "ns/op"); ok {
		cpu, _ := goBenchFigure(b.goBench, "BenchmarkParse100kFloor", "cpu-ms/op")
		p("| for reference: find each id and address without a JSON walk or checks, and index both in two presized Go maps | %.0f ms wall, %.0f ms CPU | | |\n",
			ns/1e6, cpu)
	}
	p("\n")
}

func (b *bench) memoryTarget(p func(string, ...any)) {
	s := b.setups["filter"]
	if s == nil || len(s.End.WasmMem) == 0 {
		return
	}
	var hi int64
	for _, m := range s.End.WasmMem {
		hi = max(hi, m)
	}
	p("Wasm linear memory: the largest VM of C's Envoy after %d requests holds %s ", s.End.Requests, mib(hi))
	switch {
	case s.End.Requests < 1_000_000:
		p("(target: under 16 MiB per worker after 1,000,000 requests: not measured, too few requests; see -soak).")
	default:
		p("(target: under 16 MiB per worker after 1,000,000 requests: %s).", verdict(hi < 16<<20))
	}
	if e := b.setups["filter-big"]; e != nil && len(e.End.WasmMem) > 0 {
		var ehi int64
		for _, m := range e.End.WasmMem {
			ehi = max(ehi, m)
		}
		p(" With %d instances (E), a VM holds %s.", b.o.big, mib(ehi))
	}
	p("\n\n")
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	var out []string
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$`\\|&;<>()*?[]#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}
