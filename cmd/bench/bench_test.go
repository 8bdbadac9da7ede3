package main

import (
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
		"BenchmarkStickyHitNative-2 	 1000000	 1149 ns/op	 0 B/op	 0 allocs/op"
	if v, ok := goBenchFigure(out, "BenchmarkParse100k", "cpu-ms/op"); !ok || v != 70.5 {
		t.Fatalf("cpu-ms/op: %v %v", v, ok)
	}
	if v, ok := goBenchFigure(out, "BenchmarkStickyHitNative", "allocs/op"); !ok || v != 0 {
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
