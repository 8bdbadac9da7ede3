package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/vcap-sticky/vcap-sticky/internal/envoyadmin"
)

//go:embed envoy.yaml.tmpl
var envoyTemplateText string

var envoyTemplate = template.Must(template.New("envoy").Funcs(template.FuncMap{
	// q quotes a string for YAML: a JSON string is a YAML double-quoted scalar.
	"q": func(s string) (string, error) {
		b, err := json.Marshal(s)
		return string(b), err
	},
}).Option("missingkey=error").Parse(envoyTemplateText))

// envoyConfig is one variant's Envoy setup (envoy.yaml.tmpl).
type envoyConfig struct {
	Wasm          *wasmFilter // nil: no Wasm filter
	SessionCookie string      // non-empty: envoy.filters.http.stateful_session with this cookie
	PinHeader     string      // non-empty: the override_host cluster of the filter's default mode
	Lua           string      // non-empty: envoy.filters.http.lua with this script (variant L)
	Endpoints     []endpoint
}

type wasmFilter struct {
	Name, Path string
	Config     string // the plugin configuration (JSON); may be empty
	// Env is the Wasm VM's environment (WASI environ), e.g. GOGC for the
	// Go runtime inside it.
	Env map[string]string
}

type endpoint struct {
	IP   string
	Port int
}

func (c envoyConfig) render() ([]byte, error) {
	var buf bytes.Buffer
	err := envoyTemplate.Execute(&buf, c)
	return buf.Bytes(), err
}

// envoyProc is one running Envoy, started directly (not through func-e): the
// benchmark reads its /proc entry.
type envoyProc struct {
	name     string
	dir      string
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	admin    string // "127.0.0.1:port"
	listener string // "127.0.0.1:port"
	client   *http.Client
}

// startEnvoy writes the config into dir and starts Envoy; it returns once
// the admin endpoint says LIVE and the listener is bound.
func startEnvoy(ctx context.Context, envoyPath, name, dir string, cfg envoyConfig, concurrency int, cpus string, ready time.Duration) (*envoyProc, error) {
	yaml, err := cfg.render()
	if err != nil {
		return nil, fmt.Errorf("%s: render config: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "envoy.yaml")
	if err := os.WriteFile(cfgPath, yaml, 0o644); err != nil {
		return nil, err
	}
	adminPath := filepath.Join(dir, "admin-address.txt")
	logf, err := os.Create(filepath.Join(dir, "envoy.log"))
	if err != nil {
		return nil, err
	}
	args := []string{envoyPath, "-c", cfgPath,
		"--admin-address-path", adminPath,
		"--disable-hot-restart", // several Envoys at once, no shared memory
		"--concurrency", strconv.Itoa(concurrency),
		"--log-level", "warn"}
	if cpus != "" {
		// taskset execs Envoy in place: the pid (and its /proc CPU time)
		// is Envoy's.
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the benchmark dies, its Envoys die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: start envoy: %w", name, err)
	}
	e := &envoyProc{name: name, dir: dir, cmd: cmd, done: make(chan struct{}), client: loopbackClient(5 * time.Second)}
	go func() {
		e.waitErr = cmd.Wait()
		logf.Close()
		close(e.done)
	}()
	if err := e.awaitReady(ctx, adminPath, ready); err != nil {
		e.stop()
		return nil, fmt.Errorf("%s: %w\n%s", name, err, e.logTail())
	}
	return e, nil
}

func (e *envoyProc) pid() int { return e.cmd.Process.Pid }

func (e *envoyProc) awaitReady(ctx context.Context, adminPath string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for step := 0; step < 3; {
		switch step {
		case 0:
			b, err := os.ReadFile(adminPath)
			if e.admin = strings.TrimSpace(string(b)); err == nil && e.admin != "" {
				step++
				continue
			}
			last = fmt.Errorf("no admin address yet (%v)", err)
		case 1:
			body, status, err := e.adminGet("/ready")
			if err == nil && status == http.StatusOK && strings.TrimSpace(body) == "LIVE" {
				step++
				continue
			}
			last = fmt.Errorf("/ready: %d %q %v", status, strings.TrimSpace(body), err)
		case 2:
			addr, err := e.listenerAddr()
			if err == nil {
				e.listener = addr
				step++
				continue
			}
			last = err
		}
		select {
		case <-e.done:
			return fmt.Errorf("envoy exited during start-up: %v (last: %v)", e.waitErr, last)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", timeout, last)
		}
	}
	return nil
}

func (e *envoyProc) adminGet(path string) (string, int, error) {
	res, err := e.client.Get("http://" + e.admin + path)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), res.StatusCode, err
}

func (e *envoyProc) listenerAddr() (string, error) {
	body, status, err := e.adminGet("/listeners?format=json")
	if err != nil || status != http.StatusOK {
		return "", fmt.Errorf("/listeners: %d %v", status, err)
	}
	return envoyadmin.ListenerAddr([]byte(body), "ingress")
}

// stats returns Envoy's counters and gauges whose names match filter (a regex).
func (e *envoyProc) stats(filter string) (map[string]int64, error) {
	body, status, err := e.adminGet("/stats?format=json&filter=" + url.QueryEscape(filter))
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("%s: /stats: %d %v", e.name, status, err)
	}
	var doc struct {
		Stats []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"stats"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil, fmt.Errorf("%s: /stats: %w", e.name, err)
	}
	out := map[string]int64{}
	for _, s := range doc.Stats {
		if v, err := strconv.ParseInt(string(s.Value), 10, 64); err == nil && s.Name != "" {
			out[s.Name] = v
		}
	}
	return out, nil
}

func (e *envoyProc) stat(name string) int64 {
	m, err := e.stats("^" + strings.ReplaceAll(name, ".", `\.`) + "$")
	if err != nil {
		return -1
	}
	if v, ok := m[name]; ok {
		return v
	}
	return -1
}

// counterFlush is longer than the filter's default metrics_flush_interval_ms:
// after it, every request counted before has reached Envoy's stats.
const counterFlush = 1500 * time.Millisecond

// flushedStat is stat once the filter's batched counters have been flushed.
func (e *envoyProc) flushedStat(name string) int64 {
	time.Sleep(counterFlush)
	return e.stat(name)
}

// stop asks Envoy to exit, and kills it if it does not within a few seconds.
func (e *envoyProc) stop() {
	select {
	case <-e.done:
		return
	default:
	}
	if e.admin != "" {
		if res, err := e.client.Post("http://"+e.admin+"/quitquitquit", "text/plain", nil); err == nil {
			res.Body.Close()
		}
	}
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}

func (e *envoyProc) logTail() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "envoy.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// loopbackClient: no proxy from the environment, no redirects, no cookie jar.
func loopbackClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
			MaxIdleConnsPerHost: 2,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// procCPU is the CPU time (user + system) a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

// clockTick is USER_HZ, 100 on every Linux architecture Envoy runs on.
const clockTick = 100

func parseProcStatCPU(stat string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc/pid/stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// After the name: state(3) ppid(4) ... utime(14) stime(15).
	if len(f) < 13 {
		return 0, errors.New("/proc/pid/stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("/proc/pid/stat: bad utime/stime")
	}
	return time.Duration(utime+stime) * time.Second / clockTick, nil
}

// procStatus returns the kB values of VmRSS and VmHWM from /proc/<pid>/status.
func procStatus(pid int) (rssKB, hwmKB int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rssKB = n
		case "VmHWM":
			hwmKB = n
		}
	}
	return rssKB, hwmKB, sc.Err()
}

// v8WasmReservation is what V8 reserves (on x86-64 and arm64) for each 32-bit
// Wasm memory: 8 GiB of address space, of which the first memory.size bytes
// are read-write and the rest PROT_NONE guard.
const v8WasmReservation = 8 << 30

// wasmMemories finds the Wasm linear memories of a V8 process in its
// /proc/<pid>/maps: an anonymous read-write mapping immediately followed by
// an anonymous PROT_NONE one, the two making exactly one 8 GiB reservation.
// The read-write part is the linear memory (memory.size). It returns one
// size per Wasm VM, in bytes.
func wasmMemories(pid int) ([]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	return parseWasmMemories(string(b)), nil
}

func parseWasmMemories(maps string) []int64 {
	type mapping struct {
		start, end uint64
		perms      string
		anon       bool
	}
	var ms []mapping
	for _, line := range strings.Split(maps, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		ms = append(ms, mapping{start, end, f[1], len(f) == 5})
	}
	var out []int64
	for i := 1; i < len(ms); i++ {
		rw, guard := ms[i-1], ms[i]
		if !rw.anon || !guard.anon || rw.end != guard.start ||
			!strings.HasPrefix(rw.perms, "rw-") || !strings.HasPrefix(guard.perms, "---") {
			continue
		}
		if (rw.end-rw.start)+(guard.end-guard.start) == v8WasmReservation {
			out = append(out, int64(rw.end-rw.start))
		}
	}
	return out
}
