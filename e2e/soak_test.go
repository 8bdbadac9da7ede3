package e2e

// A bounded soak: mixed new-session, sticky, plain and hostile requests from
// several keep-alive workers through Envoy on 127.0.0.1, with zero unexpected
// statuses or misrouted sessions, and Envoy's memory flat after warm-up.
//
// SOAK_REQUESTS sets the request count (default 20,000: the short form that
// runs in `make test`; `make soak` runs 1,000,000). The run stops by itself at
// the count or at its deadline (SOAK_TIMEOUT, default 60 s + 1 ms per
// request), whichever comes first; missing the count fails the test.
//
// Memory: Envoy's resident set (VmRSS of the envoy process) and its heap as
// the admin /memory endpoint reports it (tcmalloc's allocated and heap_size)
// are sampled at start, after warm-up (a tenth of the requests) and at the
// end. Envoy exposes no figure for a wasm VM's own memory (its linear memory
// is not in /stats or /memory), so the VM's growth shows only inside RSS.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	defaultSoakRequests = 20000
	soakWorkers         = 4
	// Envoy's RSS may grow from warm-up to the end by soakRSSFloor (page
	// and allocator granularity, V8's code space) plus soakRSSPerRequest
	// per request after warm-up: a leak of 32 bytes per request or more
	// fails the 1,000,000-request soak (27.5 MiB over the 900,000 requests
	// after warm-up, against 25.7 MiB).
	soakRSSFloor      = 12 << 20
	soakRSSPerRequest = 16
)

// soakMaxRSSGrowth is the RSS growth allowed over requests after warm-up.
func soakMaxRSSGrowth(requests int64) int64 { return soakRSSFloor + soakRSSPerRequest*requests }

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	require.NoError(t, err, "%s=%q", name, v)
	require.Positive(t, n, "%s", name)
	return n
}

// envoyPID finds the envoy process running the config at configPath (its
// command line names the test's own temp file).
func envoyPID(t *testing.T, configPath string) int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	require.NoError(t, err)
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || !strings.Contains(filepath.Base(args[0]), "envoy") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-c" && args[i+1] == configPath {
				pid, _ := strconv.Atoi(filepath.Base(d))
				return pid
			}
		}
	}
	t.Fatalf("no envoy process with -c %s", configPath)
	return 0
}

// rssKiB is VmRSS of pid in KiB.
func rssKiB(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err, "VmRSS %q", v)
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// memSample is Envoy's memory at one point of the soak.
type memSample struct {
	label      string
	requests   int64
	rssKiB     int64
	allocated  int64 // tcmalloc bytes in use (/memory)
	heapSize   int64
	wasmActive int64
}

func sampleMemory(t *testing.T, e *Envoy, pid int, label string, requests int64) memSample {
	t.Helper()
	var m struct {
		Allocated string `json:"allocated"`
		HeapSize  string `json:"heap_size"`
	}
	require.NoError(t, json.Unmarshal([]byte(e.Admin(t, "/memory")), &m))
	s := memSample{label: label, requests: requests, rssKiB: rssKiB(t, pid)}
	s.allocated, _ = strconv.ParseInt(m.Allocated, 10, 64)
	s.heapSize, _ = strconv.ParseInt(m.HeapSize, 10, 64)
	s.wasmActive, _ = e.Stat(t, "wasm.envoy.wasm.runtime.v8.active")
	return s
}

func (s memSample) String() string {
	return fmt.Sprintf("%-9s after %8d requests: RSS %7.1f MiB, tcmalloc allocated %6.1f MiB (heap %6.1f MiB), wasm VMs %d",
		s.label, s.requests, float64(s.rssKiB)/1024, float64(s.allocated)/(1<<20), float64(s.heapSize)/(1<<20), s.wasmActive)
}

// soakKind is one kind of soak request, with the statuses it may get.
type soakKind struct {
	name string
	// do sends the request and returns the status and serving instance.
	build func(i int) (*http.Request, error)
	// check returns "" if the answer is what the rules say, else why not.
	check func(status int, served string, res *http.Response) string
	// counts are the filter counters one such request raises, from the
	// rules (the hostile table's outcomes, net/http as the cookie reader).
	counts map[string]int64
}

func TestSoak(t *testing.T) {
	n := envInt(t, "SOAK_REQUESTS", defaultSoakRequests)
	timeout := time.Duration(envInt(t, "SOAK_TIMEOUT", int((60*time.Second+time.Duration(n)*time.Millisecond)/time.Second))) * time.Second
	// The shipped counter batching: no counter host call per request.
	f := StartFixture(t, ModeOverrideHost, func(b *Bootstrap) {
		b.AccessLog = false
		b.Wasm.Plugin.MetricsFlushIntervalMS = nil
	})
	host, _, err := net.SplitHostPort(f.Envoy.ListenerAddr)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host, "the soak targets only 127.0.0.1")
	pid := envoyPID(t, f.Envoy.ConfigPath)

	sessions := map[string]Session{}
	for _, id := range DefaultIDs {
		sessions[id] = f.SessionOn(t, id)
	}
	get := func(path string, h http.Header) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, f.Envoy.URL(path), http.NoBody)
		if err == nil {
			for k, vs := range h {
				req.Header[k] = vs
			}
		}
		return req, err
	}
	isInstance := func(s string) bool { return s == "instance-a" || s == "instance-b" || s == "instance-c" }
	okFrom := func(want string) func(int, string, *http.Response) string {
		return func(status int, served string, _ *http.Response) string {
			switch {
			case status != http.StatusOK:
				return "status " + strconv.Itoa(status)
			case !isInstance(served), want != "" && served != want:
				return "served by " + strconv.Quote(served)
			}
			return ""
		}
	}
	many := strings.Repeat("a=1; ", 3001) + "JSESSIONID=s; " + VCAPCookie + "=instance-a"
	pinForged := http.Header{PinHeader: {f.Instance(t, "instance-b").Addr()}}
	kinds := []soakKind{
		{"new session", func(int) (*http.Request, error) { return get("/?session=new", nil) },
			func(status int, served string, res *http.Response) string {
				if msg := okFrom("")(status, served, res); msg != "" {
					return msg
				}
				for _, l := range res.Header.Values("Set-Cookie") {
					if l == VCAPCookie+"="+served+"; Path=/; HttpOnly" {
						return ""
					}
				}
				return fmt.Sprintf("no __VCAP_ID__ for %s: %q", served, res.Header.Values("Set-Cookie"))
			}, map[string]int64{"cookies_set": 1}},
		{"plain", func(int) (*http.Request, error) { return get("/", nil) }, okFrom(""), nil},
	}
	decided := func(cookies string) map[string]int64 { return netHTTPDecision(cookies, "").deltas }
	for _, id := range DefaultIDs {
		h := sessions[id].CookieHeader()
		c := decided(h.Get("Cookie"))
		kinds = append(kinds, soakKind{"sticky " + id, func(int) (*http.Request, error) { return get("/cart", h) }, okFrom(id), c},
			soakKind{"sticky " + id, func(int) (*http.Request, error) { return get("/cart", h) }, okFrom(id), c})
	}
	hostile := []soakKind{
		{"unknown id", func(int) (*http.Request, error) {
			return get("/", http.Header{"Cookie": {"JSESSIONID=s; " + VCAPCookie + "=zzz"}})
		}, okFrom(""), decided("JSESSIONID=s; " + VCAPCookie + "=zzz")},
		{"forged pin header", func(int) (*http.Request, error) { return get("/", pinForged) }, okFrom(""), nil},
		{"forged pin header with a session", func(int) (*http.Request, error) {
			h := sessions["instance-c"].CookieHeader()
			h.Set(PinHeader, f.Instance(t, "instance-a").Addr())
			return get("/", h)
		}, okFrom("instance-c"), decided(sessions["instance-c"].CookieHeader().Get("Cookie"))},
		{"3001 cookies", func(int) (*http.Request, error) { return get("/", http.Header{"Cookie": {many}}) }, okFrom(""), decided(many)},
		{"malformed X-CF-App-Instance", func(int) (*http.Request, error) {
			return get("/", http.Header{"X-Cf-App-Instance": {"not-a-guid:0"}})
		}, func(status int, served string, _ *http.Response) string {
			if status != http.StatusBadRequest || served != "" {
				return fmt.Sprintf("status %d from %q, want the filter's 400", status, served)
			}
			return ""
		}, filterReject("").deltas},
		{"unicode id", func(int) (*http.Request, error) {
			return get("/", http.Header{"Cookie": {"JSESSIONID=s; " + VCAPCookie + "=instance-\u00e9"}})
		}, okFrom(""), decided("JSESSIONID=s; " + VCAPCookie + "=instance-\u00e9")},
		{"hostile Set-Cookie", func(i int) (*http.Request, error) {
			q := neturlValues("set_cookie", "JSESSIONID=x; Max-Age=abc; SameSite=bogus", "JSESSIONID="+strconv.Itoa(i)+"; Partitioned")
			return get("/?"+q, nil)
		}, okFrom(""), map[string]int64{"cookies_set": 1}}, // the app sets JSESSIONID (twice): one new session
		{"too large (431)", func(int) (*http.Request, error) {
			return get("/", http.Header{"Cookie": {"x=" + strings.Repeat("y", envoyMaxHeaderBytes)}})
		}, func(status int, served string, _ *http.Response) string {
			if status != http.StatusRequestHeaderFieldsTooLarge {
				return fmt.Sprintf("status %d, want Envoy's 431", status)
			}
			return ""
		}, nil}, // Envoy answers before the filter runs
	}
	// The mix, per 10 requests: 1 new session, 1 plain, 6 sticky, 2 hostile.
	pick := func(i int) soakKind {
		switch j := i % 10; {
		case j == 0:
			return kinds[0]
		case j == 1:
			return kinds[1]
		case j < 8:
			return kinds[2+(i/10+j)%6]
		default:
			return hostile[(i/10*2+j)%len(hostile)]
		}
	}

	countersBefore := settledFilterCounters(t, f.Envoy)
	start := time.Now()
	deadline := start.Add(timeout)
	warmup := int64(max(n/10, 1000))
	samples := []memSample{sampleMemory(t, f.Envoy, pid, "start", 0)}
	var (
		next, done  atomic.Int64
		mu          sync.Mutex
		failures    []string
		failCount   int64
		transportEr int64
		statuses    = map[int]int64{}
		byKind      = map[string]int64{}
		wantCounts  = map[string]int64{}
	)
	record := func(k soakKind, status int, msg string) {
		mu.Lock()
		defer mu.Unlock()
		statuses[status]++
		byKind[k.name]++
		if status != 0 { // answered: the filter counted what it did
			for name, d := range k.counts {
				wantCounts[name] += d
			}
		}
		if msg != "" {
			failCount++
			if len(failures) < 20 {
				failures = append(failures, k.name+": "+msg)
			}
		}
	}
	sampler := make(chan struct{})
	var wg sync.WaitGroup
	for range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newHTTPClient(10 * time.Second)
			defer c.CloseIdleConnections()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || time.Now().After(deadline) {
					return
				}
				k := pick(int(i))
				req, err := k.build(int(i))
				if err != nil {
					record(k, 0, err.Error())
					continue
				}
				res, err := c.Do(req)
				if err != nil {
					mu.Lock()
					transportEr++
					mu.Unlock()
					record(k, 0, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				record(k, res.StatusCode, k.check(res.StatusCode, res.Header.Get("X-Instance-Id"), res))
				if d := done.Add(1); d == warmup || d%max(int64(n)/10, 1) == 0 {
					select {
					case sampler <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	var warm *memSample
	var peak int64
loop:
	for {
		select {
		case <-finished:
			break loop
		case <-sampler:
			d := done.Load()
			s := sampleMemory(t, f.Envoy, pid, "progress", d)
			if warm == nil && d >= warmup {
				s.label = "warm-up"
				warm = &s
			}
			peak = max(peak, s.rssKiB)
			samples = append(samples, s)
			t.Logf("%s (%.0f req/s)", s, float64(d)/time.Since(start).Seconds())
		}
	}
	elapsed := time.Since(start)
	end := sampleMemory(t, f.Envoy, pid, "end", done.Load())
	samples = append(samples, end)
	peak = max(peak, end.rssKiB)

	// Summary.
	var st []string
	for s, c := range statuses {
		st = append(st, fmt.Sprintf("%d: %d", s, c))
	}
	t.Logf("soak: %d of %d requests in %s (%.0f req/s), %d workers, keep-alive, 127.0.0.1", done.Load(), n,
		elapsed.Round(time.Millisecond), float64(done.Load())/elapsed.Seconds(), soakWorkers)
	t.Logf("statuses: %s; unexpected answers: %d; transport errors: %d", strings.Join(sortedStrings(st), ", "), failCount, transportEr)
	t.Logf("requests by kind: %v", byKind)
	countersAfter := settledFilterCounters(t, f.Envoy)
	t.Logf("filter counters: %v", countersAfter)
	t.Logf("counter rises the rules give for the requests sent: %v", wantCounts)
	for _, s := range samples {
		if s.label != "progress" {
			t.Log(s)
		}
	}
	if warm == nil {
		warm = &samples[0]
	}
	growth := end.rssKiB - warm.rssKiB
	t.Logf("Envoy RSS: start %.1f MiB, after warm-up %.1f MiB, end %.1f MiB, peak %.1f MiB; growth after warm-up %+.1f MiB (%+.1f%%); "+
		"tcmalloc allocated growth after warm-up %+.1f MiB. The wasm VM's memory is not exposed by Envoy: it is part of RSS.",
		float64(samples[0].rssKiB)/1024, float64(warm.rssKiB)/1024, float64(end.rssKiB)/1024, float64(peak)/1024,
		float64(growth)/1024, 100*float64(growth)/float64(warm.rssKiB), float64(end.allocated-warm.allocated)/(1<<20))

	assert.Equal(t, int64(n), done.Load(), "the soak did not finish its %d requests within %s", n, timeout)
	assert.Zero(t, failCount, "unexpected answers (first %d): %s", len(failures), strings.Join(failures, "\n"))
	after := end.requests - warm.requests
	t.Logf("RSS growth after warm-up: %+.1f MiB over %d requests (%.1f bytes/request); allowed %.1f MiB (%d MiB + %d bytes/request)",
		float64(growth)/1024, after, float64(growth*1024)/float64(max(after, 1)),
		float64(soakMaxRSSGrowth(after))/(1<<20), soakRSSFloor>>20, soakRSSPerRequest)
	assert.LessOrEqual(t, growth*1024, soakMaxRSSGrowth(after), "Envoy's RSS grew after warm-up beyond the per-request bound")
	assert.Equal(t, samples[0].wasmActive, end.wasmActive, "wasm VMs active")
	if transportEr == 0 {
		assert.Empty(t, counterDeltaMismatches(countersBefore, countersAfter, wantCounts),
			"every counted request reached Envoy's stats once, batched by the shipped flush interval: no increment lost or doubled")
	}
	assert.Empty(t, f.Envoy.LogLines(wasmFailureLines), "Envoy log lines about a wasm failure")
	// And the VM still works.
	for i := range 10 {
		r := f.Get(t, "/", sessions["instance-b"].CookieHeader())
		require.Equal(t, "instance-b", r.Instance(), "request %d after the soak", i)
	}
}

func neturlValues(key string, values ...string) string { return url.Values{key: values}.Encode() }

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
