package e2e

import (
	"bytes"
	"context"
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
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	funce "github.com/tetratelabs/func-e"
	"github.com/tetratelabs/func-e/api"

	"github.com/vcap-sticky/vcap-sticky/internal/envoyadmin"
)

// EnvoyOptions tune how StartEnvoyWith runs Envoy. Zero values mean defaults.
type EnvoyOptions struct {
	Concurrency       int           // --concurrency; default 2 worker threads
	LogLevel          string        // --log-level; default "info"
	ComponentLogLevel string        // --component-log-level; default "main:warn,wasm:debug" (no start-up inventory)
	ExtraArgs         []string      // appended to Envoy's arguments
	ReadyTimeout      time.Duration // bound for start-up and readiness; default 30s
	// ProbePath is requested through the listener once the admin endpoint says
	// LIVE; any HTTP answer counts. Default "/__e2e_probe"; "-" skips the probe.
	ProbePath string
	// ListenerName is the listener the tests send requests to; default
	// "ingress" (the harness's bootstraps).
	ListenerName string
}

const (
	defaultReadyTimeout = 30 * time.Second
	stopTimeout         = 10 * time.Second
	adminTimeout        = 5 * time.Second
	maxLogDump          = 256 << 10
)

// Envoy is one Envoy process started through func-e, stopped on t.Cleanup.
type Envoy struct {
	Dir          string // the test's temp dir: envoy.yaml, func-e home, admin-address.txt
	ConfigPath   string
	AdminAddr    string // "127.0.0.1:port"
	ListenerAddr string // "127.0.0.1:port" of the "ingress" listener

	t         testing.TB
	cancel    context.CancelFunc
	done      chan struct{} // closed when func-e's Run returned
	runErr    error         // Run's result, valid after done
	stdout    syncBuffer
	stderr    syncBuffer
	funceOut  syncBuffer
	transport *noDownloadTransport
	admin     *http.Client

	stopOnce sync.Once
}

// StartEnvoy renders b and starts Envoy with default options. It returns once
// Envoy is ready (admin /ready says LIVE and the listener answers), or fails t.
func StartEnvoy(t testing.TB, b Bootstrap) *Envoy {
	t.Helper()
	return StartEnvoyWith(t, b, EnvoyOptions{})
}

// StartEnvoyWith is StartEnvoy with options.
func StartEnvoyWith(t testing.TB, b Bootstrap, o EnvoyOptions) *Envoy {
	t.Helper()
	yaml, err := b.Render()
	require.NoError(t, err)
	return StartEnvoyYAML(t, yaml, o)
}

// StartEnvoyYAML is StartEnvoyWith for a bootstrap the caller rendered.
func StartEnvoyYAML(t testing.TB, yaml string, o EnvoyOptions) *Envoy {
	t.Helper()
	if o.Concurrency == 0 {
		o.Concurrency = 2
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.ComponentLogLevel == "" {
		o.ComponentLogLevel = "main:warn,wasm:debug"
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = defaultReadyTimeout
	}
	if o.ProbePath == "" {
		o.ProbePath = "/__e2e_probe"
	}

	dir := t.TempDir()
	configPath := filepath.Join(dir, "envoy.yaml")
	require.NoError(t, os.WriteFile(configPath, []byte(yaml), 0o600))
	e := &Envoy{
		Dir:        dir,
		ConfigPath: configPath,
		t:          t,
		done:       make(chan struct{}),
		transport:  newNoDownloadTransport(),
		admin:      newHTTPClient(adminTimeout),
	}
	adminAddressPath := filepath.Join(dir, "admin-address.txt")
	args := []string{
		"-c", e.ConfigPath,
		"--admin-address-path", adminAddressPath,
		// No shared memory or domain socket: several Envoys can run at once.
		"--disable-hot-restart",
		"--concurrency", strconv.Itoa(o.Concurrency),
		"--log-level", o.LogLevel,
		"--component-log-level", o.ComponentLogLevel,
	}
	args = append(args, o.ExtraArgs...)

	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() {
		defer close(e.done)
		e.runErr = funce.Run(ctx, args,
			// The binary under test: func-e neither looks up versions nor downloads.
			api.EnvoyPath(envoyPath),
			// func-e's config, data, state (run logs, config_dump.json) and runtime dirs.
			api.HomeDir(filepath.Join(dir, "func-e")),
			api.RunID("e2e"),
			api.Out(&e.funceOut),
			api.EnvoyOut(&e.stdout),
			api.EnvoyErr(&e.stderr),
			// Any request func-e makes beyond loopback (a download, a version
			// lookup) fails at once instead of hanging, and fails the test.
			api.HTTPTransport(e.transport),
		)
	}()
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() || os.Getenv("E2E_ENVOY_LOGS") != "" {
			e.LogOutput()
		}
	})

	if err := e.awaitReady(adminAddressPath, o); err != nil {
		t.Fatalf("envoy (%s) did not become ready: %v", e.ConfigPath, err)
	}
	return e
}

// awaitReady waits, bounded by o.ReadyTimeout, for the admin address, admin
// /ready == LIVE, the ingress listener's port and one answer from it.
func (e *Envoy) awaitReady(adminAddressPath string, o EnvoyOptions) error {
	deadline := time.Now().Add(o.ReadyTimeout)
	var last error
	wait := func(what string, try func() error) error {
		for {
			if last = try(); last == nil {
				return nil
			}
			select {
			case <-e.done:
				return fmt.Errorf("envoy exited while waiting for %s: run error: %v (last: %v)", what, e.runErr, last)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("timeout after %s waiting for %s: %w", o.ReadyTimeout, what, last)
			}
		}
	}

	if err := wait("the admin address file", func() error {
		b, err := os.ReadFile(adminAddressPath)
		if err != nil {
			return err
		}
		if e.AdminAddr = strings.TrimSpace(string(b)); e.AdminAddr == "" {
			return errors.New("admin address file is empty")
		}
		return nil
	}); err != nil {
		return err
	}

	if err := wait("admin /ready == LIVE", func() error {
		// The admin endpoint does not answer while V8 compiles the module.
		body, status, err := e.adminDo(http.MethodGet, "/ready")
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(body); status != http.StatusOK || s != "LIVE" {
			return fmt.Errorf("/ready: %d %q", status, s)
		}
		return nil
	}); err != nil {
		return err
	}

	if o.ListenerName == "" {
		o.ListenerName = "ingress"
	}
	if err := wait("the "+o.ListenerName+" listener's port", func() error {
		addr, err := e.listenerAddr(o.ListenerName)
		e.ListenerAddr = addr
		return err
	}); err != nil {
		return err
	}

	if o.ProbePath == "-" {
		return nil
	}
	probe := newHTTPClient(2 * time.Second)
	defer probe.CloseIdleConnections()
	return wait("an answer from the listener", func() error {
		res, err := probe.Get(e.URL(o.ProbePath))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode >= 500 { // ready, but say so: the tests will likely fail
			e.t.Logf("envoy is ready, but the probe GET %s got %s", o.ProbePath, res.Status)
		}
		return res.Body.Close()
	})
}

// listenerAddr asks the admin endpoint where the named listener listens.
func (e *Envoy) listenerAddr(name string) (string, error) {
	body, status, err := e.adminDo(http.MethodGet, "/listeners?format=json")
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("/listeners: status %d: %s", status, body)
	}
	addr, err := envoyadmin.ListenerAddr([]byte(body), name)
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, body)
	}
	return addr, nil
}

// URL is the listener's URL for pathAndQuery ("/x?y=1").
func (e *Envoy) URL(pathAndQuery string) string {
	return "http://" + e.ListenerAddr + pathAndQuery
}

// funcEReadyPollRace: func-e polls Envoy's admin /ready while it runs; when
// that poll meets Envoy closing its admin port after /quitquitquit, func-e
// reports the reset as its error. Envoy itself exited as asked.
func funcEReadyPollRace(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "/ready") &&
		(strings.Contains(msg, "connection reset by peer") || strings.Contains(msg, "connection refused") || strings.Contains(msg, "EOF"))
}

// Stop stops Envoy and waits for it to exit: POST /quitquitquit (a clean
// exit), then, if Envoy is still running after a few seconds, cancelling
// func-e's context (SIGKILL). It fails the test if Envoy had already exited on
// its own, exited with an error, or func-e tried to download something. It is
// idempotent, and called by t.Cleanup.
func (e *Envoy) Stop() {
	e.stopOnce.Do(func() {
		t := e.t
		select {
		case <-e.done:
			t.Errorf("envoy exited before the test stopped it: func-e run: %v", e.runErr)
		default:
			if _, _, err := e.adminDo(http.MethodPost, "/quitquitquit"); err != nil {
				t.Logf("envoy: POST /quitquitquit: %v (killing it)", err)
				e.cancel()
			}
			select {
			case <-e.done:
				if e.runErr != nil && !funcEReadyPollRace(e.runErr) {
					t.Errorf("envoy did not exit cleanly after /quitquitquit: %v", e.runErr)
				}
			case <-time.After(stopTimeout):
				t.Errorf("envoy still running %s after /quitquitquit: killing it", stopTimeout)
				e.cancel()
				select {
				case <-e.done:
				case <-time.After(stopTimeout):
					t.Errorf("envoy still running %s after SIGKILL", stopTimeout)
				}
			}
		}
		e.cancel()
		e.admin.CloseIdleConnections()
		if blocked := e.transport.Blocked(); len(blocked) > 0 {
			t.Errorf("func-e tried to reach the network (blocked): %v", blocked)
		}
	})
}

// Exited reports whether Envoy has exited, and func-e's result if so.
func (e *Envoy) Exited() (bool, error) {
	select {
	case <-e.done:
		return true, e.runErr
	default:
		return false, nil
	}
}

// Stdout is what Envoy wrote to stdout so far (the access log: "ACCESS ..." lines).
func (e *Envoy) Stdout() string { return e.stdout.String() }

// Stderr is Envoy's log so far.
func (e *Envoy) Stderr() string { return e.stderr.String() }

// LogOutput writes func-e's messages and Envoy's stdout and stderr to the test log.
func (e *Envoy) LogOutput() {
	e.t.Helper()
	e.t.Logf("envoy %s: func-e output:\n%s", e.ConfigPath, tail(e.funceOut.String()))
	e.t.Logf("envoy stdout (access log):\n%s", tail(e.Stdout()))
	e.t.Logf("envoy stderr:\n%s", tail(e.Stderr()))
}

func tail(s string) string {
	if len(s) > maxLogDump {
		return "[... " + strconv.Itoa(len(s)-maxLogDump) + " bytes cut ...]\n" + s[len(s)-maxLogDump:]
	}
	return s
}

// LogLines returns Envoy's log lines (stderr) that match re.
func (e *Envoy) LogLines(re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	for _, l := range strings.Split(e.Stderr(), "\n") {
		if rx.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func (e *Envoy) adminDo(method, pathAndQuery string) (string, int, error) {
	req, err := http.NewRequest(method, "http://"+e.AdminAddr+pathAndQuery, http.NoBody)
	if err != nil {
		return "", 0, err
	}
	res, err := e.admin.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), res.StatusCode, err
}

// Admin GETs pathAndQuery from the admin endpoint and requires a 200.
func (e *Envoy) Admin(t testing.TB, pathAndQuery string) string {
	t.Helper()
	body, status, err := e.adminDo(http.MethodGet, pathAndQuery)
	require.NoError(t, err, "admin GET %s", pathAndQuery)
	require.Equal(t, http.StatusOK, status, "admin GET %s: %s", pathAndQuery, body)
	return body
}

// Stats returns the counters and gauges whose names match the RE2 regex filter
// (Envoy's /stats?filter=, a partial match).
func (e *Envoy) Stats(t testing.TB, filter string) map[string]int64 {
	t.Helper()
	body := e.Admin(t, "/stats?format=json&filter="+url.QueryEscape(filter))
	var doc struct {
		Stats []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"stats"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &doc), "/stats json: %s", body)
	out := map[string]int64{}
	for _, s := range doc.Stats {
		if s.Name == "" || len(s.Value) == 0 {
			continue // histograms come in another shape
		}
		if v, err := strconv.ParseInt(string(s.Value), 10, 64); err == nil {
			out[s.Name] = v // text readouts (strings) are skipped
		}
	}
	return out
}

// Stat returns the counter or gauge with exactly this name, and whether it exists.
func (e *Envoy) Stat(t testing.TB, name string) (int64, bool) {
	t.Helper()
	v, ok := e.Stats(t, "^"+regexp.QuoteMeta(name)+"$")[name]
	return v, ok
}

// Counter returns the counter or gauge with exactly this name; it must exist.
func (e *Envoy) Counter(t testing.TB, name string) int64 {
	t.Helper()
	v, ok := e.Stat(t, name)
	require.True(t, ok, "envoy has no stat %q", name)
	return v
}

// FilterCounter returns the filter's counter wasmcustom.vcap_sticky.<name>.
func (e *Envoy) FilterCounter(t testing.TB, name string) int64 {
	t.Helper()
	return e.Counter(t, FilterStat(name))
}

// FilterStat is the stat name of the filter's counter name (README "Metrics").
func FilterStat(name string) string { return "wasmcustom.vcap_sticky." + name }

// ValidateBootstrap runs `envoy --mode validate` on b (which loads the wasm
// module and configures the plugin) and returns Envoy's output; it fails t if
// Envoy rejects the configuration.
func ValidateBootstrap(t testing.TB, b Bootstrap) string {
	t.Helper()
	path := WriteBootstrap(t, t.TempDir(), b)
	out, err := validateConfig("", path)
	require.NoError(t, err, "envoy --mode validate -c %s:\n%s", path, out)
	return out
}

// validateConfig runs `envoy --mode validate -c path` in dir ("" for the
// current one) and returns Envoy's output and whether it refused.
func validateConfig(dir, path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*defaultReadyTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, envoyPath, "--mode", "validate", "-c", path, "--disable-hot-restart", "--log-level", "warn")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Prefer
// port 0 in Bootstrap (Envoy picks, StartEnvoy finds out) where possible.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newHTTPClient is a client for loopback: no proxy from the environment, no
// redirects followed, no cookie jar, bounded by timeout.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// noDownloadTransport is func-e's HTTP transport in the tests. func-e uses
// its transport for two things: downloads (the versions list and Envoy
// tarballs) and polling Envoy's admin endpoint for readiness (before it writes
// config_dump.json into its run dir). Requests to loopback (the admin
// endpoint) go through; anything else fails at once and is recorded, and Stop
// fails the test for it.
type noDownloadTransport struct {
	loopback http.RoundTripper
	mu       sync.Mutex
	blocked  []string
}

func newNoDownloadTransport() *noDownloadTransport {
	return &noDownloadTransport{loopback: newHTTPClient(adminTimeout).Transport}
}

func (n *noDownloadTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if ip := net.ParseIP(req.URL.Hostname()); ip != nil && ip.IsLoopback() {
		return n.loopback.RoundTrip(req)
	}
	n.mu.Lock()
	n.blocked = append(n.blocked, req.Method+" "+req.URL.String())
	n.mu.Unlock()
	return nil, fmt.Errorf("e2e: func-e must not reach the network (it should run ENVOY_PATH, not download): %s %s",
		req.Method, req.URL)
}

// Blocked lists the requests the transport refused.
func (n *noDownloadTransport) Blocked() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.blocked...)
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
