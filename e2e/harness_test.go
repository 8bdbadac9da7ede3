package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/upstream"
)

// DefaultIDs are the instance ids of the standard fixture.
var DefaultIDs = []string{"instance-a", "instance-b", "instance-c"}

// StartInstances starts one fake app instance per id on free 127.0.0.1 ports,
// stopped on t.Cleanup.
func StartInstances(t testing.TB, ids ...string) []*upstream.Instance {
	t.Helper()
	insts := make([]*upstream.Instance, 0, len(ids))
	for _, id := range ids {
		in, err := upstream.Start(id, "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = in.Stop() })
		insts = append(insts, in)
	}
	return insts
}

// Fixture is Envoy with the filter in front of running app instances.
type Fixture struct {
	Envoy     *Envoy
	Instances []*upstream.Instance
	Bootstrap Bootstrap
	Client    *http.Client // keep-alive client without a cookie jar
	// Host, if set, is every request's Host (a configuration whose virtual
	// host names the app); otherwise the listener's address.
	Host string
}

// StartFixture starts DefaultIDs instances and Envoy configured by
// NewBootstrap(mode); adjust, if given, may change the bootstrap first. On
// cleanup it requires the filter's panics counter to be 0, then stops Envoy.
func StartFixture(t testing.TB, mode PinningMode, adjust ...func(*Bootstrap)) *Fixture {
	t.Helper()
	insts := StartInstances(t, DefaultIDs...)
	b, err := NewBootstrap(mode, wasmPath, PluginInstances(insts))
	require.NoError(t, err)
	for _, f := range adjust {
		f(&b)
	}
	yaml, err := b.Render()
	require.NoError(t, err)
	return StartFixtureYAML(t, insts, b, yaml, EnvoyOptions{})
}

// StartFixtureYAML starts Envoy with yaml (b rendered, perhaps changed
// after) in front of insts. On cleanup it requires the filter's panics
// counter to be 0, then stops Envoy.
func StartFixtureYAML(t testing.TB, insts []*upstream.Instance, b Bootstrap, yaml string, o EnvoyOptions) *Fixture {
	t.Helper()
	f := &Fixture{Instances: insts, Bootstrap: b, Client: NewClient()}
	f.Envoy = StartEnvoyYAML(t, yaml, o)
	t.Cleanup(f.Client.CloseIdleConnections)
	t.Cleanup(func() { // runs before Envoy's Stop (cleanups run last-in first-out)
		if exited, _ := f.Envoy.Exited(); exited {
			return
		}
		if v, ok := f.Envoy.Stat(t, FilterStat("panics")); ok && v != 0 {
			t.Errorf("the filter recovered from %d panics; envoy log:\n%s", v,
				strings.Join(f.Envoy.LogLines(`(?i)panic|wasm`), "\n"))
		}
	})
	return f
}

// Instance returns the fixture's instance with this id.
func (f *Fixture) Instance(t testing.TB, id string) *upstream.Instance {
	t.Helper()
	for _, in := range f.Instances {
		if in.ID == id {
			return in
		}
	}
	t.Fatalf("no instance %q", id)
	return nil
}

// Get sends GET pathAndQuery through Envoy with the fixture's client.
func (f *Fixture) Get(t testing.TB, pathAndQuery string, header http.Header) *Reply {
	t.Helper()
	if f.Host != "" {
		return f.GetHost(t, f.Host, pathAndQuery, header)
	}
	return Do(t, f.Client, http.MethodGet, f.Envoy.URL(pathAndQuery), header)
}

// NewClient is an HTTP client for requests through Envoy: keep-alive, no proxy,
// no cookie jar (tests set Cookie headers themselves), redirects not followed,
// 5 s timeout.
func NewClient() *http.Client { return newHTTPClient(5 * time.Second) }

// Reply is a response as the client saw it.
type Reply struct {
	Status int
	Header http.Header
	Raw    []byte
	// Body is the app's JSON (empty if the app did not answer, e.g. a 503 from Envoy).
	Body upstream.Response
}

// Instance is the X-Instance-Id header: the instance that served the request.
func (r *Reply) Instance() string { return r.Header.Get(upstream.InstanceHeader) }

// SetCookieLines are the raw Set-Cookie header lines, in order.
func (r *Reply) SetCookieLines() []string { return r.Header.Values("Set-Cookie") }

// SetCookies returns the Set-Cookie lines for cookie name, parsed. A line that
// does not parse fails t.
func (r *Reply) SetCookies(t testing.TB, name string) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, line := range r.SetCookieLines() {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			if n, _, _ := strings.Cut(line, "="); strings.TrimSpace(n) == name {
				t.Fatalf("unparsable Set-Cookie for %s: %q: %v", name, line, err)
			}
			continue
		}
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// AppSaw returns the values of request header name as the app received it.
func (r *Reply) AppSaw(name string) []string { return r.Body.Header(name) }

// Do sends a request and reads the whole response.
func Do(t testing.TB, c *http.Client, method, url string, header http.Header) *Reply {
	t.Helper()
	req, err := http.NewRequest(method, url, http.NoBody)
	require.NoError(t, err)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return DoRequest(t, c, req)
}

// GetHost is Get with the request's Host (Envoy's :authority) set to host;
// net/http ignores a Host entry in the header map.
func (f *Fixture) GetHost(t testing.TB, host, pathAndQuery string, header http.Header) *Reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.Envoy.URL(pathAndQuery), http.NoBody)
	require.NoError(t, err)
	req.Host = host
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return DoRequest(t, f.Client, req)
}

// DoRequest sends req and reads the whole response.
func DoRequest(t testing.TB, c *http.Client, req *http.Request) *Reply {
	t.Helper()
	method, url := req.Method, req.URL.String()
	res, err := c.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err, "%s %s: reading the body", method, url)
	r := &Reply{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &r.Body), "%s %s: app body %q", method, url, raw)
	}
	return r
}

// Session is a browser's cookies for a sticky session.
type Session struct {
	JSessionID string // JSESSIONID value
	VCAPID     string // __VCAP_ID__ value
	Instance   string // the instance that created the session (X-Instance-Id)
}

// CookieHeader is the Cookie header a browser sends back for the session.
func (s Session) CookieHeader() http.Header {
	return http.Header{"Cookie": {SessionCookie + "=" + s.JSessionID + "; " + VCAPCookie + "=" + s.VCAPID}}
}

// NewSession asks the app for a new session (GET /?session=new) through Envoy
// and returns the cookies, requiring exactly one JSESSIONID and one __VCAP_ID__.
func (f *Fixture) NewSession(t testing.TB) Session {
	t.Helper()
	r := f.Get(t, "/?session=new", nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
	js := r.SetCookies(t, SessionCookie)
	require.Len(t, js, 1, "JSESSIONID Set-Cookie lines: %q", r.SetCookieLines())
	vc := r.SetCookies(t, VCAPCookie)
	require.Len(t, vc, 1, "__VCAP_ID__ Set-Cookie lines: %q", r.SetCookieLines())
	return Session{JSessionID: js[0].Value, VCAPID: vc[0].Value, Instance: r.Instance()}
}

// SessionOn creates sessions until one is created on instance id (bounded).
func (f *Fixture) SessionOn(t testing.TB, id string) Session {
	t.Helper()
	var seen []string
	for range 10 * len(f.Instances) {
		s := f.NewSession(t)
		if s.Instance == id {
			return s
		}
		seen = append(seen, s.Instance)
	}
	t.Fatalf("no session created on %s after %d tries (served by %v)", id, len(seen), seen)
	return Session{}
}

// Spread sends n requests (GET path with header) and counts them by the
// instance that served them; every answer must be a 200 from an app instance.
func (f *Fixture) Spread(t testing.TB, n int, path string, header http.Header) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for i := range n {
		r := f.Get(t, path, header)
		require.Equal(t, http.StatusOK, r.Status, "request %d: %s", i, r.Raw)
		require.NotEmpty(t, r.Instance(), "request %d: no X-Instance-Id", i)
		counts[r.Instance()]++
	}
	return counts
}

// Keys returns the sorted keys of a count map.
func Keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
