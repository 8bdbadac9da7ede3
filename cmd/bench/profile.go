package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSplit is where an Envoy's CPU time went during a throughput run, as
// shares of perf's samples (they add up to 1): the Wasm module's code as V8
// compiled it, Envoy's own code (which holds V8's runtime and builtins too),
// the kernel, and shared libraries. Zero: not profiled.
type cpuSplit struct {
	Module, Envoy, Kernel, Libs float64
	Samples                     int
}

// profiler samples an Envoy with `perf record` while wrk drives it, so the
// report can say whether a variant's extra CPU time is its module's code or
// Envoy's own code running slower beside it. A profile costs the profiled
// Envoy about 0.5% (one sample per millisecond); every variant pays it.
type profiler struct {
	perf string // "" when perf is missing or not allowed: no profiles
	dir  string
	n    int
}

// newProfiler finds perf and checks that it may profile this user's
// processes; otherwise it returns a profiler that does nothing, and why.
func newProfiler(ctx context.Context, perf, dir string) (*profiler, string) {
	if perf == "" {
		return &profiler{}, "off (-perf '')"
	}
	path, err := exec.LookPath(perf)
	if err != nil {
		return &profiler{}, fmt.Sprintf("%s not found (Debian package linux-perf)", perf)
	}
	out := filepath.Join(dir, "perf-check.data")
	if msg, err := exec.CommandContext(ctx, path, "record", "-q", "-o", out, "--", "true").CombinedOutput(); err != nil {
		return &profiler{}, fmt.Sprintf("%s record failed (kernel.perf_event_paranoid?): %v %s", path, err, bytes.TrimSpace(msg))
	}
	return &profiler{perf: path, dir: dir}, ""
}

// start samples pid for d, from half a second on (while wrk connects, the
// run is not yet steady), in the background; the function it returns waits
// for the profile and returns the split.
func (p *profiler) start(ctx context.Context, pid int, d time.Duration) (wait func() cpuSplit) {
	if p.perf == "" {
		return func() cpuSplit { return cpuSplit{} }
	}
	p.n++
	out := filepath.Join(p.dir, fmt.Sprintf("perf-%d.data", p.n))
	done := make(chan cpuSplit, 1)
	go func() {
		defer os.Remove(out)
		select {
		case <-ctx.Done():
			done <- cpuSplit{}
			return
		case <-time.After(500 * time.Millisecond):
		}
		if err := exec.CommandContext(ctx, p.perf, "record", "-q", "-F", "1000", "-p", strconv.Itoa(pid), "-o", out,
			"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 1, 64)).Run(); err != nil {
			done <- cpuSplit{}
			return
		}
		rep, err := exec.CommandContext(ctx, p.perf, "report", "-i", out, "--sort", "dso", "-n", "--stdio", "-q").Output()
		if err != nil {
			done <- cpuSplit{}
			return
		}
		done <- parseSplit(rep)
	}()
	return func() cpuSplit { return <-done }
}

// parseSplit reads `perf report --sort dso -n --stdio -q`: one line per
// shared object, "  76.88%  12345  envoy". V8's compiled Wasm shows as
// "[JIT] tid N" (perf has no symbols for it), the kernel as
// "[kernel.kallsyms]".
func parseSplit(report []byte) cpuSplit {
	var s cpuSplit
	var module, envoy, kernel, libs int
	sc := bufio.NewScanner(bytes.NewReader(report))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || !strings.HasSuffix(f[0], "%") {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		switch dso := strings.Join(f[2:], " "); {
		case strings.HasPrefix(dso, "[JIT]"):
			module += n
		case dso == "envoy":
			envoy += n
		case strings.HasPrefix(dso, "[kernel"):
			kernel += n
		default:
			libs += n
		}
	}
	s.Samples = module + envoy + kernel + libs
	if s.Samples == 0 {
		return cpuSplit{}
	}
	t := float64(s.Samples)
	s.Module, s.Envoy, s.Kernel, s.Libs = float64(module)/t, float64(envoy)/t, float64(kernel)/t, float64(libs)/t
	return s
}

// Parts of a run's Envoy CPU time per request, in microseconds.
func moduleUS(r run1) float64 { return r.cpuPerReq() * r.Split.Module }
func envoyUS(r run1) float64  { return r.cpuPerReq() * r.Split.Envoy }
func kernelUS(r run1) float64 { return r.cpuPerReq() * r.Split.Kernel }
func libsUS(r run1) float64   { return r.cpuPerReq() * r.Split.Libs }

// profileSection splits each variant's Envoy CPU time per request by where
// perf found it, and the floor comparisons likewise.
func (b *bench) profileSection(p func(string, ...any)) {
	p("### Where Envoy's CPU time goes\n\n")
	if b.noProfile != "" {
		p("No CPU profiles in this run: %s.\n\n", b.noProfile)
		return
	}
	profiled := func(k string) bool {
		rs := b.results[k]
		return len(rs) > 0 && rs[0].Split.Samples > 0
	}
	p("perf sampled each Envoy at 1 kHz during its throughput runs. *Module* is the code V8 compiled from the " +
		"variant's Wasm module (perf sees it as JIT code); *Envoy* is Envoy's own code, V8's runtime and the " +
		"calls between Envoy and the module included; then the kernel (loopback TCP) and shared libraries. " +
		"Microseconds of Envoy CPU per request, medians over the rounds:\n\n")
	p("| variant | total | module | Envoy | kernel | libraries |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, v := range b.order {
		if !profiled(v.Key) {
			continue
		}
		med := func(f func(run1) float64) string { return fmt.Sprintf("%.1f", median(b.values(v.Key, f))) }
		p("| %s | %s | %s | %s | %s | %s |\n", v.Key, med(run1.cpuPerReq), med(moduleUS), med(envoyUS), med(kernelUS), med(libsUS))
	}
	var rows []string
	for _, f := range floorPairs {
		if !profiled(f.Num) || !profiled(f.Den) {
			continue
		}
		d := func(g func(run1) float64) string {
			return fmt.Sprintf("%+.1f", median(b.perRound(f.Num, f.Den, g, sub)))
		}
		rows = append(rows, fmt.Sprintf("| %s − %s | %s | %s | %s | %s |\n", f.Num, f.Den, d(run1.cpuPerReq), d(moduleUS), d(envoyUS),
			d(func(r run1) float64 { return kernelUS(r) + libsUS(r) })))
	}
	if len(rows) > 0 {
		p("\nThe same against the floors (medians of the per-round differences):\n\n")
		p("| variant − floor | total | module | Envoy | kernel and libraries |\n| --- | --- | --- | --- | --- |\n")
		for _, r := range rows {
			p("%s", r)
		}
	}
	p("\n")
}
