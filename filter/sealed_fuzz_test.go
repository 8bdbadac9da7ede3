package filter

import (
	"encoding/base64"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
	"github.com/vcap-sticky/vcap-sticky/token"
)

// FuzzSealedExchange runs one request and response through the filter in
// sealed mode with a __VCAP_ID__ that is a genuine token, one of another key,
// another route, expired or not yet, optionally with bits flipped, or any
// string. Model: the request is pinned exactly when the token is genuine,
// unmodified, of this route, unexpired and names an instance of the route's
// map; a local reply happens only for such a token naming an unknown id in
// strict mode; and every __VCAP_ID__ the filter adds opens with the key to
// the instance that served, for this route.
func FuzzSealedExchange(f *testing.F) {
	f.Add(uint8(1), int16(60), false, uint8(0), byte(0), "", uint8(1), true, false)
	f.Add(uint8(0), int16(-1), false, uint8(0), byte(0), "", uint8(0), true, true)
	f.Add(uint8(2), int16(600), true, uint8(3), byte(0), "", uint8(2), true, false)
	f.Add(uint8(9), int16(60), false, uint8(0), byte(0), "", uint8(2), true, true)
	f.Add(uint8(1), int16(60), false, uint8(90), byte(4), "", uint8(1), true, false)
	f.Add(uint8(0), int16(0), false, uint8(0), byte(0), "plain-id", uint8(3), true, true)
	f.Add(uint8(0), int16(1000), false, uint8(1), byte(0), "", uint8(0), false, false)
	ids := []string{"a", "b", "c"}
	addrs := []string{addrA, addrB, addrC, addrX}
	saved, hadEnv := os.LookupEnv(keysEnv)
	if err := os.Setenv(keysEnv, base64.StdEncoding.EncodeToString(sealKey)); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if hadEnv {
			os.Setenv(keysEnv, saved)
		} else {
			os.Unsetenv(keysEnv)
		}
	})
	savedNow := now
	now = func() time.Time { return fixedNow }
	f.Cleanup(func() { now = savedNow })
	good, _ := token.NewRing(sealKey)
	other, _ := token.NewRing(otherKey)
	const ttl = 3600

	f.Fuzz(func(t *testing.T, inst uint8, expiresIn int16, otherRoute bool, flipAt uint8, flip byte,
		plain string, upstream uint8, hasSession, strict bool) {
		opts := `"sealed":{"keys_env":"` + keysEnv + `","ttl_seconds":3600},"route_metrics":true`
		if strict {
			opts += `,"strict":true`
		}
		cfgJSON := "{" + routesJSON + "," + opts + "}"
		cfg, err := config.Parse([]byte(cfgJSON))
		if err != nil {
			t.Fatal(err)
		}
		// The cookie: a token (by inst: a, b, c, an unknown id; or of
		// another key), or the plain string when it is not empty.
		id := "zz"
		if int(inst%5) < len(ids) {
			id = ids[inst%5]
		}
		ring := good
		if inst%5 == 4 {
			ring = other
		}
		route := appTag
		if otherRoute {
			route = token.RouteTagOf("other.example", "/other")
		}
		exp := fixedNow.Unix() + int64(expiresIn)
		tok, err := ring.Seal(token.Payload{ID: id, Address: netip.MustParseAddrPort(addrA), Route: route, Expires: exp})
		if err != nil {
			t.Fatal(err)
		}
		if flip != 0 {
			raw, _ := base64.RawURLEncoding.DecodeString(tok)
			raw[int(flipAt)%len(raw)] ^= flip
			tok = base64.RawURLEncoding.EncodeToString(raw)
		}
		value := tok
		genuine := ring == good && flip == 0 && !otherRoute && exp >= fixedNow.Unix()
		if plain != "" {
			value, genuine = plain, false
		}
		cookies := config.VCAPCookie + "=" + value
		if hasSession {
			cookies = "JSESSIONID=s; " + cookies
		}
		if !cookie.ValidValue(value) || strings.TrimSpace(value) != value {
			return // a value the Cookie header could not carry as such
		}

		r := cfg.Routes.Match(appHost, "/")
		var want *config.Instance
		status := uint32(0)
		sticky := hasSession
		if sticky && genuine {
			if want = r.ByID(id); want == nil && strict {
				status = 502
			}
		}

		opt := proxytest.NewEmulatorOption().WithVMContext(NewVMContext()).WithPluginConfiguration([]byte(cfgJSON))
		host, reset := proxytest.NewHostEmulator(opt)
		defer reset()
		if host.StartPlugin() != types.OnPluginStartStatusOK {
			t.Fatalf("plugin start: %v", host.GetCriticalLogs())
		}
		ctx := host.InitializeHttpContext()
		host.CallOnRequestHeaders(ctx, [][2]string{{":authority", appHost}, {":path", "/"}, {":method", "GET"},
			{"cookie", cookies}, {"x-vcap-sticky-upstream", spoofedPin}}, true)
		if n, _ := host.GetCounterMetric(metricPrefix + "panics"); n != 0 {
			t.Fatalf("panicked: %v", host.GetErrorLogs())
		}
		local := host.GetSentLocalResponse(ctx)
		switch {
		case status != 0 && (local == nil || local.StatusCode != status):
			t.Fatalf("cookie %q: want a local %d, got %+v", cookies, status, local)
		case status == 0 && local != nil:
			t.Fatalf("cookie %q: unexpected local %d", cookies, local.StatusCode)
		}
		var pin string
		pinned := false
		for _, kv := range host.GetCurrentRequestHeaders(ctx) {
			if kv[0] == "x-vcap-sticky-upstream" {
				pin, pinned = kv[1], true
			}
		}
		if want == nil && pinned || want != nil && pin != want.PinValue {
			t.Fatalf("cookie %q (genuine %v, id %q): pin %q, want %v", cookies, genuine, id, pin, want)
		}
		if status != 0 {
			return
		}

		servedAddr := addrs[int(upstream)%len(addrs)]
		_ = host.SetProperty([]string{"upstream", "address"}, []byte(servedAddr))
		host.CallOnResponseHeaders(ctx, [][2]string{{":status", "200"}}, true)
		var added []string
		for _, kv := range host.GetCurrentResponseHeaders(ctx) {
			if kv[0] == "set-cookie" {
				added = splitAddedCookies(kv[1])
			}
		}
		served := r.ByAddress(servedAddr)
		wantCookie := served != nil && sticky &&
			(!genuine || id != served.ID || netip.MustParseAddrPort(addrA).String() != served.Address ||
				exp-fixedNow.Unix() < ttl/2)
		if wantCookie != (len(added) == 1) || len(added) > 1 {
			t.Fatalf("cookie %q served by %s: added %q, want a cookie: %v", cookies, servedAddr, added, wantCookie)
		}
		if len(added) == 1 {
			v, _, _ := strings.Cut(strings.TrimPrefix(added[0], config.VCAPCookie+"="), ";")
			p, err := good.Open(v, appTag, fixedNow)
			if err != nil || p.ID != served.ID || p.Address.String() != served.Address || p.Expires != fixedNow.Unix()+ttl {
				t.Fatalf("added %q opens to %+v, %v; served by %s", added[0], p, err, served.ID)
			}
		}
	})
}
