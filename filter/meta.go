package filter

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/vcap-sticky/vcap-sticky/cookie"
)

// The __VCAP_ID_META__ cookie records the attributes __VCAP_ID__ was issued
// with, so that a later refresh (after a fallback to another instance, when
// the response sets no session cookie to copy from) restores them. Format, as
// gorouter writes it: "&"-joined parts in this order, each optional:
//
//	secure & partitioned & expires=<unix> & maxage=<unix> & samesite=<lax|strict|none>
//
// maxage is the absolute expiry (issue time + Max-Age), or -1 for a cookie
// that was being deleted. An empty value means no attribute at all.
type metaAttrs struct {
	secure, partitioned bool
	expires             time.Time // zero: none
	maxAgeAt            int64     // 0: none; -1: delete; else unix seconds
	sameSite            cookie.SameSite
}

func metaFromSessionCookie(sc *cookie.SetCookie, clk *clock) metaAttrs {
	m := metaAttrs{secure: sc.Secure, partitioned: sc.Partitioned, sameSite: sc.SameSite}
	if !sc.Expires.IsZero() {
		m.expires = sc.Expires
	}
	switch {
	case sc.MaxAge < 0:
		m.maxAgeAt = -1
	case sc.MaxAge > 0:
		// Saturate: Max-Age can be as large as math.MaxInt64 itself.
		if t := clk.now().Unix(); t > 0 && int64(sc.MaxAge) > math.MaxInt64-t {
			m.maxAgeAt = math.MaxInt64
		} else {
			m.maxAgeAt = t + int64(sc.MaxAge)
		}
	}
	return m
}

func (m metaAttrs) encode() string {
	var parts []string
	if m.secure {
		parts = append(parts, "secure")
	}
	if m.partitioned {
		parts = append(parts, "partitioned")
	}
	if !m.expires.IsZero() {
		parts = append(parts, "expires="+strconv.FormatInt(m.expires.Unix(), 10))
	}
	if m.maxAgeAt != 0 {
		parts = append(parts, "maxage="+strconv.FormatInt(m.maxAgeAt, 10))
	}
	if s := sameSiteName(m.sameSite); s != "" {
		parts = append(parts, "samesite="+s)
	}
	return strings.Join(parts, "&")
}

// The Expires dates a META value can carry: those of a cookie date, years
// 0000 to 9999 in UTC. A session cookie's Expires is always in this range
// (before 1970 too, as for the usual "delete" date of 1 Jan 1970); a later
// one from a client would make the refreshed cookie unbuildable.
const (
	minExpires = -62167219200 // 0000-01-01T00:00:00Z
	maxExpires = 253402300799 // 9999-12-31T23:59:59Z
)

// decodeMeta parses a META value; any part it does not know makes the whole
// value invalid, so the refresh falls back to defaults instead of guessing.
func decodeMeta(v string) (metaAttrs, bool) {
	var m metaAttrs
	if v == "" {
		return m, true
	}
	for _, part := range strings.Split(v, "&") {
		key, val, _ := strings.Cut(part, "=")
		switch key {
		case "secure":
			m.secure = true
		case "partitioned":
			m.partitioned = true
		case "expires":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < minExpires || n > maxExpires {
				return metaAttrs{}, false
			}
			m.expires = time.Unix(n, 0).UTC()
		case "maxage":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n == 0 || n < -1 {
				return metaAttrs{}, false
			}
			m.maxAgeAt = n
		case "samesite":
			s, ok := parseSameSite(val)
			if !ok {
				return metaAttrs{}, false
			}
			m.sameSite = s
		default:
			return metaAttrs{}, false
		}
	}
	return m, true
}

// maxAge turns the recorded expiry into a Max-Age for a cookie issued now:
// the remaining lifetime, or -1 (delete) once it has run out.
func (m metaAttrs) maxAge(clk *clock) int {
	switch {
	case m.maxAgeAt == 0:
		return 0
	case m.maxAgeAt < 0:
		return -1
	}
	left := m.maxAgeAt - clk.now().Unix()
	if left <= 0 {
		return -1
	}
	return int(left)
}

func sameSiteName(s cookie.SameSite) string {
	switch s {
	case cookie.SameSiteLax:
		return "lax"
	case cookie.SameSiteStrict:
		return "strict"
	case cookie.SameSiteNone:
		return "none"
	}
	return ""
}

func parseSameSite(s string) (cookie.SameSite, bool) {
	switch s {
	case "lax":
		return cookie.SameSiteLax, true
	case "strict":
		return cookie.SameSiteStrict, true
	case "none":
		return cookie.SameSiteNone, true
	}
	return cookie.SameSiteDefault, false
}
