package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minShare is the least number of requests each of the 3 instances must get
// out of 60 unpinned ones (round robin gives 20 each; a pin gives 60/0/0).
const (
	spreadRequests = 60
	minShare       = 10
)

func requireSpread(t *testing.T, counts map[string]int, msg string) {
	t.Helper()
	for _, id := range DefaultIDs {
		assert.GreaterOrEqual(t, counts[id], minShare, "%s: %s got too few of %d requests: %v", msg, id, spreadRequests, counts)
	}
	require.ElementsMatch(t, DefaultIDs, Keys(counts), "%s: served by %v", msg, counts)
}

// (a) A response that sets JSESSIONID gets exactly one __VCAP_ID__ naming the
// instance that served it, with Path=/ and HttpOnly.
func TestSessionCookieGetsVCAPID(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost)
	before := f.Envoy.FilterCounter(t, "cookies_set")

	served := map[string]int{}
	const n = 6 // round robin: every instance serves some
	for i := range n {
		r := f.Get(t, "/?session=new", nil)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		id := r.Instance()
		require.NotEmpty(t, id)
		require.Equal(t, id, r.Body.Instance, "X-Instance-Id and body agree")
		served[id]++

		js := r.SetCookies(t, SessionCookie)
		require.Len(t, js, 1, "the app's JSESSIONID passes through: %q", r.SetCookieLines())
		assert.True(t, strings.HasPrefix(js[0].Value, id+"-"), "JSESSIONID %q from %s", js[0].Value, id)

		vc := r.SetCookies(t, VCAPCookie)
		require.Len(t, vc, 1, "request %d: exactly one __VCAP_ID__: %q", i, r.SetCookieLines())
		c := vc[0]
		assert.Equal(t, id, c.Value, "__VCAP_ID__ names the instance that served the request")
		assert.Equal(t, "/", c.Path, "Path=/: %q", c.Raw)
		assert.True(t, c.HttpOnly, "HttpOnly: %q", c.Raw)
		assert.False(t, c.Secure, "no Secure: the app's JSESSIONID is not Secure: %q", c.Raw)
		assert.Zero(t, c.MaxAge, "a session cookie: %q", c.Raw)
		meta := r.SetCookies(t, MetaCookie)
		require.Len(t, meta, 1, "request %d: exactly one %s: %q", i, MetaCookie, r.SetCookieLines())
		assert.Equal(t, "", meta[0].Value, "a session cookie without attributes: empty META: %q", meta[0].Raw)
		assert.Equal(t, "/", meta[0].Path, "META carries __VCAP_ID__'s attributes: %q", meta[0].Raw)
		assert.True(t, meta[0].HttpOnly, "META carries __VCAP_ID__'s attributes: %q", meta[0].Raw)
		assert.Len(t, r.SetCookieLines(), 3, "JSESSIONID, __VCAP_ID__ and META only: %q", r.SetCookieLines())
	}
	assert.ElementsMatch(t, DefaultIDs, Keys(served), "each instance issued cookies: %v", served)
	assert.Equal(t, before+n, f.Envoy.FilterCounter(t, "cookies_set"), "cookies_set counts each new session")
}

// With the default metrics_flush_interval_ms the request counters collect in
// each worker's VM and reach Envoy's stats on the plugin's tick (a second):
// every request counted exactly once, within the interval.
func TestCountersFlushOnTheTick(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost, func(b *Bootstrap) { b.Wasm.Plugin.MetricsFlushIntervalMS = nil })
	s := f.NewSession(t)

	const n = 40
	for range n {
		r := f.Get(t, "/", s.CookieHeader())
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		require.Equal(t, s.Instance, r.Instance(), "pinned")
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Envoy.FilterCounter(t, "sticky_hits") < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, int64(n), f.Envoy.FilterCounter(t, "sticky_hits"), "every sticky hit, after a tick")
	assert.Equal(t, int64(1), f.Envoy.FilterCounter(t, "cookies_set"))
	time.Sleep(1500 * time.Millisecond) // more ticks: nothing counted twice
	assert.Equal(t, int64(n), f.Envoy.FilterCounter(t, "sticky_hits"))
}

// (b) A response without JSESSIONID gets no __VCAP_ID__ (and its own
// Set-Cookie lines pass through untouched).
func TestNoSessionCookieNoVCAPID(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost)
	before := f.Envoy.FilterCounter(t, "cookies_set")

	cases := map[string][]string{
		"no cookies":        nil,
		"another cookie":    {"other=1; Path=/"},
		"near name":         {"JSESSIONIDX=1; Path=/"},
		"lower case name":   {"jsessionid=1; Path=/"},
		"value looks like":  {"theme=JSESSIONID=1; Path=/"},
		"several unrelated": {"a=1", "b=2; HttpOnly", "c=3; Path=/x; Secure"},
	}
	for name, lines := range cases {
		for range 3 { // each instance in turn
			q := url.Values{"set_cookie": lines}
			r := f.Get(t, "/?"+q.Encode(), nil)
			require.Equal(t, http.StatusOK, r.Status, "%s: %s", name, r.Raw)
			assert.Empty(t, r.SetCookies(t, VCAPCookie), "%s: no __VCAP_ID__ (instance %s): %q", name, r.Instance(), r.SetCookieLines())
			want := lines
			if want == nil {
				want = []string{}
			}
			got := r.SetCookieLines()
			if got == nil {
				got = []string{}
			}
			assert.Equal(t, want, got, "%s: the app's Set-Cookie lines pass through verbatim", name)
		}
	}
	assert.Equal(t, before, f.Envoy.FilterCounter(t, "cookies_set"))
}

// (c) A client that sends both cookies back stays on its instance for 100
// requests in a row; a client without them is spread over all instances.
func TestStickyClientPinnedOthersSpread(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost)

	sessions := map[string]Session{}
	for _, id := range DefaultIDs {
		s := f.SessionOn(t, id)
		require.Equal(t, id, s.VCAPID)
		sessions[id] = s
	}
	hits := f.Envoy.FilterCounter(t, "sticky_hits")

	// Interleave the three sessions (and unpinned requests), so that round
	// robin keeps moving while the pinned requests must not.
	const rounds = 100
	unpinned := map[string]int{}
	for i := range rounds {
		for _, id := range DefaultIDs {
			s := sessions[id]
			r := f.Get(t, "/cart", s.CookieHeader())
			require.Equal(t, http.StatusOK, r.Status, "round %d, session on %s: %s", i, id, r.Raw)
			require.Equal(t, id, r.Instance(), "round %d: session %s/%s landed elsewhere", i, s.JSessionID, s.VCAPID)
			assert.Empty(t, r.SetCookies(t, VCAPCookie), "round %d: no new __VCAP_ID__ while pinned: %q", i, r.SetCookieLines())
			assert.Empty(t, r.AppSaw(PinHeader), "round %d: the app never sees %s", i, PinHeader)
			assert.Contains(t, strings.Join(r.AppSaw("cookie"), "; "), SessionCookie+"="+s.JSessionID,
				"round %d: the app gets the session cookie", i)
		}
		if i < spreadRequests {
			r := f.Get(t, "/cart", nil)
			require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
			unpinned[r.Instance()]++
		}
	}
	requireSpread(t, unpinned, "a client without cookies (interleaved)")
	requireSpread(t, f.Spread(t, spreadRequests, "/", nil), "a client without cookies")
	// Only a JSESSIONID (no __VCAP_ID__) or only __VCAP_ID__ does not pin either.
	requireSpread(t, f.Spread(t, spreadRequests, "/", http.Header{"Cookie": {SessionCookie + "=" + sessions["instance-b"].JSessionID}}),
		"JSESSIONID alone")
	requireSpread(t, f.Spread(t, spreadRequests, "/", http.Header{"Cookie": {VCAPCookie + "=instance-b"}}),
		"__VCAP_ID__ alone")

	assert.Equal(t, hits+rounds*int64(len(DefaultIDs)), f.Envoy.FilterCounter(t, "sticky_hits"),
		"sticky_hits counts each pinned request")
	assert.Zero(t, f.Envoy.FilterCounter(t, "fallbacks"))
	assert.Zero(t, f.Envoy.FilterCounter(t, "unknown_ids"))
}

// (d) A client cannot pick the upstream by sending x-vcap-sticky-upstream
// itself: without cookies the requests still spread, with cookies the cookie
// wins, and the app never sees the header.
func TestClientPinHeaderIgnored(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost)
	b := f.Instance(t, "instance-b")
	forged := http.Header{PinHeader: {b.Addr()}}

	counts := map[string]int{}
	for i := range spreadRequests {
		r := f.Get(t, "/", forged)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		assert.Empty(t, r.AppSaw(PinHeader), "request %d: the app never sees %s", i, PinHeader)
		counts[r.Instance()]++
	}
	requireSpread(t, counts, "client-sent "+PinHeader+" naming instance-b")

	// Several copies, and a list, do not pin either.
	requireSpread(t, f.Spread(t, spreadRequests, "/", http.Header{PinHeader: {b.Addr(), b.Addr()}}), "two copies")
	requireSpread(t, f.Spread(t, spreadRequests, "/", http.Header{PinHeader: {b.Addr() + "," + b.Addr()}}), "a list")

	// A session on instance-a plus a forged header naming instance-b: the cookie wins.
	s := f.SessionOn(t, "instance-a")
	h := s.CookieHeader()
	h.Set(PinHeader, b.Addr())
	for i := range 30 {
		r := f.Get(t, "/", h)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		require.Equal(t, "instance-a", r.Instance(), "request %d: the forged header must not override the session", i)
		assert.Empty(t, r.AppSaw(PinHeader))
	}
}

// Without the upstream header_mutation filter Envoy forwards the pin header to
// the app. That shows what the filter wrote: exactly the pinned instance's
// ip:port on pinned requests, and nothing (the client's copy removed) on others.
func TestFilterWritesPinHeader(t *testing.T) {
	t.Parallel()
	f := StartFixture(t, ModeOverrideHost, func(b *Bootstrap) {
		b.Clusters[0].StripRequestHeaders = nil
	})
	a, b := f.Instance(t, "instance-a"), f.Instance(t, "instance-b")
	s := f.SessionOn(t, "instance-a")

	for i := range 10 {
		h := s.CookieHeader()
		if i%2 == 1 {
			h.Set(PinHeader, b.Addr()) // forged: must be replaced, not appended to
		}
		r := f.Get(t, "/", h)
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		require.Equal(t, "instance-a", r.Instance())
		assert.Equal(t, []string{a.Addr()}, r.AppSaw(PinHeader), "request %d: the filter's header, once", i)
	}

	counts := map[string]int{}
	for i := range spreadRequests {
		r := f.Get(t, "/", http.Header{PinHeader: {b.Addr()}})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Raw)
		assert.Empty(t, r.AppSaw(PinHeader), "request %d: the client's copy is removed", i)
		counts[r.Instance()]++
	}
	requireSpread(t, counts, "forged header, no strip filter")
}
