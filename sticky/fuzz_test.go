package sticky

// Fuzz targets for the core's own parsers: X-CF-App-Instance against
// gorouter's pattern, and __VCAP_ID_META__ round trips.

import (
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
)

var appInstanceRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9]+$`)

func FuzzParseAppInstance(f *testing.F) {
	for _, v := range []string{guid + ":0", guid + ":4294967296", guid + ":12345678901", guid + ":", guid,
		strings.ToUpper(guid) + ":1", guid + ":-1", guid + ":1:2", guid + ":１", ":" + guid, "../../etc\r\n"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		g, index, ok := ParseAppInstance(v)
		if want := appInstanceRE.MatchString(v); ok != want {
			t.Fatalf("ParseAppInstance(%q) ok = %v, want %v", v, ok, want)
		}
		if ok && g+":"+index != v {
			t.Fatalf("ParseAppInstance(%q) = %q, %q", v, g, index)
		}
		if !ok && (g != "" || index != "") {
			t.Fatalf("ParseAppInstance(%q) = %q, %q, false", v, g, index)
		}
	})
}

// FuzzMetaDecode feeds __VCAP_ID_META__ values a client can send: what
// decodes re-encodes to a cookie-safe value that decodes the same, and the
// refreshed __VCAP_ID__ built from it always builds.
func FuzzMetaDecode(f *testing.F) {
	for _, v := range []string{"", "secure", "secure&partitioned&expires=1795867200&maxage=1795867300&samesite=strict",
		"maxage=-1", "maxage=0", "expires=0", "expires=-11676096000", "expires=253402300799", "expires=253402300800",
		"expires=9223372036854775807", "maxage=9223372036854775807", "samesite=Lax", "secure&&", "secure=1", "&"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, ok := decodeMeta(v)
		if !ok {
			if m != (metaAttrs{}) {
				t.Fatalf("decodeMeta(%q) = %+v, false", v, m)
			}
			return
		}
		checkMeta(t, m, v)
	})
}

// FuzzMetaDecodeMatchesParseQuery holds decodeMeta against net/url, the
// reader gorouter uses: a value ParseQuery refuses restores nothing, and the
// attributes with values are the first ParseQuery gives for their keys.
func FuzzMetaDecodeMatchesParseQuery(f *testing.F) {
	for _, v := range []string{"", "secure&samesite=strict", "partitioned=%ZZ", "samesite=lax&samesite=strict",
		"maxage=notanumber&expires=1577840400", "sam%65site=none", "maxage=-5", "a;b", "samesite=strict+", "expires=0",
		"secure=x&partitioned=", "%73ecure", "secure%3D"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		m, ok := decodeMeta(v)
		q, err := url.ParseQuery(v)
		if ok != (err == nil) {
			t.Fatalf("decodeMeta(%q) ok = %v; url.ParseQuery: %v", v, ok, err)
		}
		if !ok {
			return
		}
		want := map[string]cookie.SameSite{"lax": cookie.SameSiteLax, "strict": cookie.SameSiteStrict, "none": cookie.SameSiteNone}[q.Get("samesite")]
		if m.sameSite != want {
			t.Fatalf("decodeMeta(%q) SameSite %v, want %v", v, m.sameSite, want)
		}
		n, err := strconv.ParseInt(q.Get("maxage"), 10, 64)
		switch {
		case err != nil || n == 0:
			n = 0
		case n < 0:
			n = -1
		}
		if m.maxAgeAt != n {
			t.Fatalf("decodeMeta(%q) maxage %d, want %d", v, m.maxAgeAt, n)
		}
		e, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		if err != nil || e < minExpires || e > maxExpires {
			e = 0
		}
		if got := m.expires; (e == 0) != got.IsZero() || (e != 0 && got.Unix() != e) {
			t.Fatalf("decodeMeta(%q) expires %v, want unix %d", v, got, e)
		}
		// Flags: the keys ParseQuery sees, written bare (no "=").
		bare := func(flag string) bool {
			for _, part := range strings.Split(v, "&") {
				if k, err := url.QueryUnescape(part); err == nil && k == flag && !strings.Contains(part, "=") {
					return true
				}
			}
			return false
		}
		if m.secure != (q.Has("secure") && bare("secure")) || m.partitioned != (q.Has("partitioned") && bare("partitioned")) {
			t.Fatalf("decodeMeta(%q) flags secure=%v partitioned=%v; ParseQuery keys %v", v, m.secure, m.partitioned, q)
		}
	})
}

// FuzzMetaFromSetCookie takes the app's session Set-Cookie line: the META
// written for it decodes to the same attributes, and both cookies build.
func FuzzMetaFromSetCookie(f *testing.F) {
	for _, line := range []string{
		"JSESSIONID=s; Secure; SameSite=None; Partitioned; Max-Age=600; Expires=Wed, 02 Dec 2026 12:00:00 GMT",
		"JSESSIONID=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
		"JSESSIONID=x; Expires=Sat, 01 Jan 1600 00:00:00 GMT",
		"JSESSIONID=x; Expires=Fri, 31 Dec 9999 23:59:59 GMT; Max-Age=9223372036854775807",
		"JSESSIONID=x; SameSite=lax; max-age=+60",
	} {
		f.Add(line, fixedNow.Unix())
	}
	f.Fuzz(func(t *testing.T, line string, atUnix int64) {
		sc, ok := cookie.ParseSetCookie(line)
		if !ok {
			return
		}
		// A clock from 1970 to 9999, as Envoy's can be.
		at := time.Unix(int64(uint64(atUnix)%253402300800), 0)
		clk := fixedClock(at)
		m := metaFromSessionCookie(&sc, false, clk)
		enc := m.encode()
		got, ok := decodeMeta(enc)
		switch {
		case m.expires.IsZero():
		case m.expires.Unix() == 0:
			// gorouter reads expires=0 as none: 1 Jan 1970, the usual
			// "delete" date, is not restored (Max-Age=0 still deletes).
			m.expires = time.Time{}
		default: // META keeps whole seconds, as the cookie date does
			m.expires = time.Unix(m.expires.Unix(), 0).UTC()
		}
		if !ok || got != m {
			t.Fatalf("session %q at %d: META %q decodes to %+v, %v; want %+v", line, at.Unix(), enc, got, ok, m)
		}
		checkMeta(t, m, enc)
		// The refresh restores the lifetime the session cookie had left.
		if sc.MaxAge > 0 && m.maxAge(clk) != sc.MaxAge && int64(sc.MaxAge) <= math.MaxInt64-at.Unix() {
			t.Fatalf("session %q: Max-Age %d restored as %d", line, sc.MaxAge, m.maxAge(clk))
		}
	})
}

// checkMeta: m (decoded from v) re-encodes to a cookie-safe value that decodes
// to m again, and the cookies the response path builds from it are valid.
func checkMeta(t *testing.T, m metaAttrs, v string) {
	t.Helper()
	enc := m.encode()
	if !cookie.ValidValue(enc) {
		t.Fatalf("META %q re-encodes to %q, not a cookie value", v, enc)
	}
	if m2, ok := decodeMeta(enc); !ok || m2 != m {
		t.Fatalf("META %q: %+v re-encodes to %q, which decodes to %+v, %v", v, m, enc, m2, ok)
	}
	for _, at := range []time.Time{fixedNow, time.Unix(0, 0), time.Unix(253402300799, 0)} {
		c := cookie.SetCookie{Name: config.VCAPCookie, Value: "a", Path: "/", HttpOnly: true,
			Secure: m.secure, Partitioned: m.partitioned, SameSite: m.sameSite, Expires: m.expires, MaxAge: m.maxAge(fixedClock(at))}
		if err := c.Valid(); err != nil {
			t.Fatalf("META %q at %v: refreshed cookie %+v does not build: %v", v, at, c, err)
		}
		meta := c
		meta.Name, meta.Value = config.MetaCookie, enc
		if err := meta.Valid(); err != nil {
			t.Fatalf("META %q: META cookie does not build: %v", v, err)
		}
	}
}
