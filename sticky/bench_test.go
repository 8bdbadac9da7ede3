package sticky

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/internal/benchapp"
)

// Envoy's header pairs of a sticky request and of its response.
var (
	benchRequest = [][2]string{
		{":authority", benchapp.Host}, {":path", "/cart/items?page=2"}, {":method", "GET"}, {":scheme", "https"},
		{"user-agent", "Mozilla/5.0"}, {"accept", "*/*"}, {"cookie", benchapp.Cookies},
	}
	benchResponse = [][2]string{{":status", "200"}, {"content-type", "application/json"}}
)

// upstream is a served host for the response step.
type upstream struct {
	addr string
	md   []byte
}

func (u *upstream) Address() (string, bool)  { return u.addr, u.addr != "" }
func (u *upstream) Metadata() ([]byte, bool) { return u.md, u.md != nil }

func benchEngine(tb testing.TB) *Engine {
	tb.Helper()
	cfg, err := config.Parse([]byte(benchapp.Config))
	if err != nil {
		tb.Fatal(err)
	}
	return New(cfg)
}

// exchange is what the filter does for one request and its response, less
// the host calls: read the views, decide, respond. The views are reused, as
// the filter's HTTP context holds them.
type exchange struct {
	req  Request
	resp Response
	d    Decision
	up   upstream
}

func (x *exchange) run(e *Engine, req, resp [][2]string, clk Clock) Result {
	x.req.Read(req, e.cfg.PinHeader)
	x.d = e.Decide(&x.req, clk)
	x.resp.Read(resp, e.cfg.PinHeader)
	return e.Respond(&x.d, &x.resp, &x.up, clk)
}

// A sticky hit, request and response, allocates nothing: this is the real
// path the filter runs, its host calls aside (crossings_test.go counts those).
func TestStickyHitDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	e := benchEngine(t)
	x := &exchange{req: Request{Cookies: make([]string, 0, 2)}, up: upstream{addr: benchapp.Addr0}}
	clk := &countingClock{t: fixedNow}
	var res Result
	if n := testing.AllocsPerRun(100, func() { res = x.run(e, benchRequest, benchResponse, clk) }); n != 0 {
		t.Errorf("sticky hit: %v allocations, want 0", n)
	}
	if x.d.Pin == nil || x.d.Pin.ID != benchapp.ID0 || !x.d.Events.Has(StickyHit) || len(res.SetCookies) != 0 {
		t.Fatalf("not a sticky hit: pin %+v, events %b, cookies %q", x.d.Pin, x.d.Events, res.SetCookies)
	}
	if clk.reads != 0 {
		t.Errorf("a sticky hit read the clock %d times", clk.reads)
	}
}

// A new session allocates nothing either once the Response is reused: its
// two Set-Cookie lines are built in the Response's buffer. The lines are
// those net/http writes for the cookies the rules give (a session cookie
// with Path=/ and HttpOnly: __VCAP_ID__ with the same, META empty), and
// stay so when the app sets the session cookie with attributes that make
// the lines long, and for several session cookies at once.
func TestNewSessionDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	e := benchEngine(t)
	x := &exchange{up: upstream{addr: benchapp.Addr0}}
	req := [][2]string{{":authority", benchapp.Host}, {":path", "/"}}
	clk := &countingClock{t: fixedNow}
	want := func(name, value string, mod func(*http.Cookie)) string {
		c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true}
		if mod != nil {
			mod(c)
		}
		return c.String()
	}
	long := func(c *http.Cookie) { c.MaxAge, c.Secure, c.SameSite = 3600, true, http.SameSiteLaxMode }
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"one session cookie", []string{benchapp.SessionSetCookie},
			[]string{want("__VCAP_ID__", benchapp.ID0, nil), want("__VCAP_ID_META__", "", nil)}},
		{"attributes", []string{"JSESSIONID=x; Path=/; Max-Age=3600; Secure; SameSite=Lax; HttpOnly"},
			[]string{want("__VCAP_ID__", benchapp.ID0, long),
				want("__VCAP_ID_META__", "secure&maxage="+strconv.FormatInt(fixedNow.Unix()+3600, 10)+"&samesite=lax", long)}},
		{"three session cookies", []string{benchapp.SessionSetCookie, "JSESSIONID=y; Path=/", benchapp.SessionSetCookie},
			[]string{want("__VCAP_ID__", benchapp.ID0, nil), want("__VCAP_ID_META__", "", nil),
				want("__VCAP_ID__", benchapp.ID0, nil), want("__VCAP_ID_META__", "", nil),
				want("__VCAP_ID__", benchapp.ID0, nil), want("__VCAP_ID_META__", "", nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := [][2]string{{":status", "200"}}
			for _, l := range tc.lines {
				resp = append(resp, [2]string{"set-cookie", l})
			}
			var res Result
			if n := testing.AllocsPerRun(100, func() { res = x.run(e, req, resp, clk) }); n != 0 {
				t.Errorf("new session: %v allocations, want 0", n)
			}
			if !slices.Equal(res.SetCookies, tc.want) {
				t.Errorf("Set-Cookie lines\n got %q\nwant %q", res.SetCookies, tc.want)
			}
		})
	}
}

// BenchmarkStickyHit: the core's whole work on a sticky hit (variant C of
// the Envoy benchmark without Envoy).
func BenchmarkStickyHit(b *testing.B) {
	e := benchEngine(b)
	x := &exchange{up: upstream{addr: benchapp.Addr0}}
	clk := &countingClock{t: fixedNow}
	b.ReportAllocs()
	for b.Loop() {
		if x.run(e, benchRequest, benchResponse, clk); x.d.Pin == nil {
			b.Fatal("no pin")
		}
	}
}

// BenchmarkNewSession: the app starts a session (variant D): __VCAP_ID__
// and __VCAP_ID_META__ are built.
func BenchmarkNewSession(b *testing.B) {
	e := benchEngine(b)
	x := &exchange{up: upstream{addr: benchapp.Addr0}}
	req := [][2]string{{":authority", benchapp.Host}, {":path", "/"}, {":method", "GET"}}
	resp := [][2]string{{":status", "200"}, {"set-cookie", benchapp.SessionSetCookie}}
	clk := &countingClock{t: fixedNow}
	b.ReportAllocs()
	for b.Loop() {
		if res := x.run(e, req, resp, clk); len(res.SetCookies) != 2 {
			b.Fatal("no cookies")
		}
	}
}
