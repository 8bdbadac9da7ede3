package e2e

// Faults under load: while mixed sessions run on loopback, instances stop
// (like a crash: open connections closed) and come back on their address,
// and the plugin configuration is replaced through ECDS. The test keeps its
// own timeline of every fault and checks each answer against it:
//
//   - misroute: a request whose cookie names an instance that was running
//     for the whole request, served by another one. There must be none.
//   - 5xx: each must overlap a fault that explains it (its pinned instance
//     down, or a configuration switch); none may be unexplained.
//   - counters: with the shipped batching, each counter rises by what the
//     rules give for the answers received (sticky_hits per pinned request,
//     fallbacks and cookies_refreshed per pinned request served elsewhere,
//     cookies_set per new session); a shortfall is an increment lost.

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	faultWorkers     = 3
	faultMaxRequests = 40000 // in all
	faultMaxDuration = 60 * time.Second
	// faultSettle: after an instance is listening again, a request that
	// started this much later must reach it (Envoy learns of the new
	// listener on its next connect; nothing health-checks here).
	faultSettle = 100 * time.Millisecond
)

// window is a span of the timeline in which a fault was in flight.
type window struct {
	what       string
	instance   string // the stopped instance; "" for a config switch
	start, end time.Time
}

func (w window) overlaps(a, b time.Time) bool { return !b.Before(w.start) && !a.After(w.end) }

// faultResult is one request of the load.
type faultResult struct {
	pinned     string // the instance the cookie names; "" for a new session
	start, end time.Time
	status     int // 0: no answer (transport error)
	served     string
	vcap       []string // __VCAP_ID__ values set
	err        error
}

func TestFaultsUnderLoad(t *testing.T) {
	t.Parallel()
	// The shipped setup: counters batched, retries to another host on
	// connect failure and reset (what lets a stopped instance's sessions
	// fall back instead of failing).
	f := StartECDSFixture(t, ECDSFilter{}, func(b *Bootstrap) {
		b.AccessLog = false
		b.Wasm.Plugin.MetricsFlushIntervalMS = nil
		b.Routes[0].RetryOn, b.Routes[0].NumRetries, b.Routes[0].RetryOtherHosts = "connect-failure,reset", 2, true
	})
	sessions := map[string]Session{}
	for _, id := range DefaultIDs {
		sessions[id] = f.SessionOn(t, id)
	}
	before := settledFilterCounters(t, f.Envoy)

	// The load: per 4 requests one new session and three pinned ones, a
	// session on each instance in turn.
	var (
		next    atomic.Int64
		stop    = make(chan struct{})
		mu      sync.Mutex
		results []faultResult
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(faultMaxDuration)
	for range faultWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewClient()
			defer c.CloseIdleConnections()
			for {
				i := next.Add(1) - 1
				select {
				case <-stop:
					return
				default:
				}
				if i >= faultMaxRequests || time.Now().After(deadline) {
					return
				}
				r := faultResult{}
				path, header := "/?session=new", http.Header(nil)
				if i%4 != 0 {
					r.pinned = DefaultIDs[int(i/4)%len(DefaultIDs)]
					path, header = "/", sessions[r.pinned].CookieHeader()
				}
				req, err := http.NewRequest(http.MethodGet, f.Envoy.URL(path), http.NoBody)
				require.NoError(t, err)
				for k, vs := range header {
					req.Header[k] = vs
				}
				r.start = time.Now()
				res, err := c.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					r.status, r.served = res.StatusCode, res.Header.Get("X-Instance-Id")
					for _, sc := range res.Cookies() {
						if sc.Name == VCAPCookie {
							r.vcap = append(r.vcap, sc.Value)
						}
					}
				}
				r.end, r.err = time.Now(), err
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(results) }
	awaitMore := func(n int) {
		want := count() + n
		for count() < want {
			if time.Now().After(deadline) {
				t.Fatalf("the load stalled at %d requests", count())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// The faults, one after another, each with load before and after it.
	var faults []window
	crash := func(id string) {
		inst := f.Instance(t, id)
		w := window{what: "stop " + id, instance: id, start: time.Now()}
		require.NoError(t, inst.Stop())
		awaitMore(300)
		require.NoError(t, inst.Restart())
		w.end = time.Now().Add(faultSettle)
		faults = append(faults, w)
	}
	version := 1
	replaceConfig := func(flushMS int) {
		version++
		plugin := *f.Bootstrap.Wasm.Plugin
		plugin.MetricsFlushIntervalMS = &flushMS
		js, err := (&WasmFilter{Plugin: &plugin}).ConfigJSON()
		require.NoError(t, err)
		w := window{what: fmt.Sprintf("ECDS config version %d", version), start: time.Now()}
		WriteECDS(t, f.ECDSPath, ECDSFilter{Version: fmt.Sprint(version), ModulePath: wasmPath, PluginJSON: js})
		f.awaitStat(t, "update_success", int64(version))
		w.end = time.Now()
		faults = append(faults, w)
	}
	awaitMore(500)
	crash("instance-b")
	awaitMore(500)
	replaceConfig(500)
	awaitMore(500)
	crash("instance-c")
	awaitMore(300)
	crash("instance-b")
	awaitMore(500)
	replaceConfig(1000)
	awaitMore(500)
	close(stop)
	wg.Wait()

	// Judge every answer against the timeline.
	var (
		misroutes, unexplained, transport []string
		fiveXX                            = map[string]int{}
		fellBack, byFault                 = 0, map[string]int{}
		want                              = map[string]int64{}
		statuses                          = map[int]int{}
	)
	explain := func(r faultResult) string {
		for _, w := range faults {
			if w.overlaps(r.start, r.end) && (w.instance == "" || w.instance == r.pinned || r.pinned == "") {
				return w.what
			}
		}
		return ""
	}
	for _, r := range results {
		statuses[r.status]++
		if r.err != nil {
			transport = append(transport, r.err.Error())
			continue
		}
		if r.pinned != "" {
			want["sticky_hits"]++
		}
		switch {
		case r.status >= 500:
			cause := explain(r)
			if cause == "" {
				unexplained = append(unexplained, fmt.Sprintf("%d for %q at %s", r.status, r.pinned, r.start.Format("15:04:05.000")))
			}
			fiveXX[fmt.Sprintf("%d during %s", r.status, cause)]++
		case r.status != http.StatusOK:
			unexplained = append(unexplained, fmt.Sprintf("status %d for %q", r.status, r.pinned))
		case r.pinned == "":
			want["cookies_set"]++
			assert.Equal(t, []string{r.served}, r.vcap, "a new session gets __VCAP_ID__ for the instance that served it")
		case r.served != r.pinned:
			cause := explain(r)
			if cause == "" {
				misroutes = append(misroutes, fmt.Sprintf("pinned to %s, served by %s, %s to %s", r.pinned, r.served,
					r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000")))
			}
			fellBack++
			byFault[cause]++
			want["fallbacks"]++
			want["cookies_refreshed"]++
			assert.Equal(t, []string{r.served}, r.vcap, "a fallback re-issues __VCAP_ID__ for the instance that served")
		default:
			assert.Empty(t, r.vcap, "a sticky hit sets no cookie")
		}
	}
	after := settledFilterCounters(t, f.Envoy)
	lost := counterDeltaMismatches(before, after, want)

	var fx []string
	for k, n := range fiveXX {
		fx = append(fx, fmt.Sprintf("%s: %d", k, n))
	}
	sort.Strings(fx)
	for _, w := range faults {
		t.Logf("fault %-22s %s to %s (%s)", w.what, w.start.Format("15:04:05.000"), w.end.Format("15:04:05.000"), w.end.Sub(w.start).Round(time.Millisecond))
	}
	t.Logf("%d requests, %d workers, 127.0.0.1; statuses %v", len(results), faultWorkers, statuses)
	t.Logf("fallbacks: %d (by fault: %v); misroutes: %d; 5xx: %v; unexplained: %d; transport errors: %d",
		fellBack, byFault, len(misroutes), fx, len(unexplained), len(transport))
	t.Logf("counter rises: want %v, Envoy's stats: %v", want, counterDeltas(before, after))

	assert.Empty(t, misroutes, "requests pinned to a live instance served elsewhere")
	assert.Empty(t, unexplained, "answers no fault explains")
	assert.Empty(t, transport, "transport errors (Envoy answers every request)")
	if len(transport) == 0 {
		assert.Empty(t, lost, "counter increments lost or doubled across the faults")
	}
	assert.Greater(t, fellBack, 0, "the stopped instances' sessions fell back (the faults happened under load)")
	assert.Empty(t, f.Envoy.LogLines(wasmFailureLines), "Envoy log lines about a wasm failure")
	// Every session is back on its own instance.
	for _, id := range DefaultIDs {
		r := f.Get(t, "/", sessions[id].CookieHeader())
		assert.Equal(t, id, r.Instance(), "after the faults, %s's session is pinned to it", id)
	}
}

// counterDeltas is after minus before, for the counters that rose.
func counterDeltas(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}
