package e2e

import (
	"fmt"
	"maps"
	"sort"
	"testing"
	"time"

	"github.com/vcap-sticky/vcap-sticky/config"
)

// The shipped default batches the request counters in each worker's VM and
// flushes them on the plugin's tick (config.DefaultMetricsFlushInterval).
// Tests that run that default read the counters once they have settled.

// settledFilterCounters reads the filter's counters once every VM has
// flushed what it counted: two reads a flush interval apart that agree.
// Each VM's tick fires once per interval, so counts still held in a VM at the
// first read would have reached Envoy by the second. No traffic may run.
func settledFilterCounters(t *testing.T, e *Envoy) map[string]int64 {
	t.Helper()
	wait := config.DefaultMetricsFlushInterval + 300*time.Millisecond
	prev := filterCounters(t, e)
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(wait)
		cur := filterCounters(t, e)
		if maps.Equal(prev, cur) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("the filter's counters did not settle within 10 s: %v", cur)
		}
		prev = cur
	}
}

// counterDeltaMismatches lists the counters whose rise from before to after
// differs from want (every counter not in want must stay), as
// "name: rose by N, want M".
func counterDeltaMismatches(before, after, want map[string]int64) []string {
	names := map[string]bool{}
	for _, m := range []map[string]int64{before, after, want} {
		for k := range m {
			names[k] = true
		}
	}
	var out []string
	for k := range names {
		if got := after[k] - before[k]; got != want[k] {
			out = append(out, fmt.Sprintf("%s: rose by %d, want %d", k, got, want[k]))
		}
	}
	sort.Strings(out)
	return out
}
