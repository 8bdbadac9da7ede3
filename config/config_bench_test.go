//go:build unix

package config_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vcap-sticky/vcap-sticky/config"
)

// benchInstanceID is a Cloud Foundry-like instance id (a UUID) for instance i.
func benchInstanceID(i int) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", i*2654435761%(1<<32), i%0xffff, i%0xfff, (i/7)%0xfff, i)
}

// benchAddress is a distinct ip:port for instance i (10.0.0.0/8, port 8080).
func benchAddress(i int) string {
	return fmt.Sprintf("10.%d.%d.%d:8080", (i>>16)&0xff, (i>>8)&0xff, i&0xff)
}

// benchConfig is a one-route configuration with n instances, as an operator
// of a large foundation would push it.
func benchConfig(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"session_cookie_names":["JSESSIONID"],"pinning":{"mode":"override_host"},"routes":[{"host":"shop.example.com","path":"/","instances":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%q,"address":%q}`, benchInstanceID(i), benchAddress(i))
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}

// BenchmarkParse100k is the plugin start of a route with 100,000 instances:
// JSON validation, parsing and the lookup tables (target < 100 ms), from
// the configuration as a string, as the filter hands it over.
func BenchmarkParse100k(b *testing.B) {
	data := string(benchConfig(100_000))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := config.ParseString(data); err != nil {
			b.Fatal(err)
		}
	}
	// Wall time (ns/op) counts what other processes take from us on a busy
	// machine; the process's CPU time per parse (GC workers included) does not.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkParse100kFloor is a reference for BenchmarkParse100k, below what
// any parse of that configuration can do with Go maps: find each id and
// address (strings.Index: no JSON walk, no validation) and index both in
// presized maps. The parse validates the JSON and every instance, and
// builds its own tables, which are cheaper than maps.
func BenchmarkParse100kFloor(b *testing.B) {
	const n = 100_000
	data := string(benchConfig(n))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		byID, byAddress := make(map[string]int, n), make(map[string]int, n)
		rest := data
		for i := 0; ; i++ {
			id, after, ok := quotedAfter(rest, `"id":`)
			if !ok {
				break
			}
			address, after, _ := quotedAfter(after, `"address":`)
			byID[id], byAddress[address] = i, i
			rest = after
		}
		if len(byID) != n || len(byAddress) != n {
			b.Fatalf("indexed %d ids and %d addresses", len(byID), len(byAddress))
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// quotedAfter finds the string value after the member name key in s, and
// what follows it.
func quotedAfter(s, key string) (value, rest string, ok bool) {
	i := strings.Index(s, key)
	if i < 0 {
		return "", "", false
	}
	s = s[i+len(key)+1:]
	j := strings.IndexByte(s, '"')
	if j < 0 {
		return "", "", false
	}
	return s[:j], s[j+1:], true
}

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkParse3(b *testing.B) {
	data := benchConfig(3)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchLookup is the request path's table work on a sticky hit: the route
// for :authority and :path, then the instance for the __VCAP_ID__ value.
func benchLookup(b *testing.B, n int) {
	cfg, err := config.Parse(benchConfig(n))
	if err != nil {
		b.Fatal(err)
	}
	id := benchInstanceID(n / 2)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := cfg.Routes.Match("shop.example.com:443", "/cart/items?page=2")
		if r == nil || r.ByID(id) == nil {
			b.Fatal("no match")
		}
	}
}

func BenchmarkLookup3(b *testing.B)    { benchLookup(b, 3) }
func BenchmarkLookup100k(b *testing.B) { benchLookup(b, 100_000) }

// BenchmarkByAddress100k is the response path's lookup of the instance that
// served a request, by upstream.address.
func BenchmarkByAddress100k(b *testing.B) {
	cfg, err := config.Parse(benchConfig(100_000))
	if err != nil {
		b.Fatal(err)
	}
	r := cfg.Routes.Match("shop.example.com", "/")
	addr := benchAddress(54_321)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r.ByAddress(addr) == nil {
			b.Fatal("no instance")
		}
	}
}

// TestLookupDoesNotAllocate: route matching and the id lookup of a sticky
// hit allocate nothing, for a lower-case host (the usual :authority).
func TestLookupDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	cfg, err := config.Parse(benchConfig(3))
	if err != nil {
		t.Fatal(err)
	}
	id := benchInstanceID(1)
	n := testing.AllocsPerRun(100, func() {
		if r := cfg.Routes.Match("shop.example.com:443", "/cart?x=1"); r == nil || r.ByID(id) == nil {
			t.Fatal("no match")
		}
	})
	if n != 0 {
		t.Errorf("Match + ByID: %v allocations, want 0", n)
	}
}
