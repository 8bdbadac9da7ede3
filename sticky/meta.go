package sticky

import (
	"math"
	"net/url"
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

// metaFromSessionCookie records a session cookie's attributes; Secure also
// when secure_cookies forces it, as the __VCAP_ID__ cookie has it then.
func metaFromSessionCookie(sc *cookie.SetCookie, secureCookies bool, clk Clock) metaAttrs {
	m := metaAttrs{secure: sc.Secure || secureCookies, partitioned: sc.Partitioned, sameSite: sc.SameSite}
	if !sc.Expires.IsZero() {
		m.expires = sc.Expires
	}
	switch {
	case sc.MaxAge < 0:
		m.maxAgeAt = -1
	case sc.MaxAge > 0:
		// Saturate: Max-Age can be as large as math.MaxInt64 itself.
		if t := clk.Now().Unix(); t > 0 && int64(sc.MaxAge) > math.MaxInt64-t {
			m.maxAgeAt = math.MaxInt64
		} else {
			m.maxAgeAt = t + int64(sc.MaxAge)
		}
	}
	return m
}

// cookie is a __VCAP_ID__ (or META) cookie with these attributes and
// maxAge, HttpOnly always.
func (m metaAttrs) cookie(name, value, path string, maxAge int) cookie.SetCookie {
	return cookie.SetCookie{Name: name, Value: value, Path: path, HttpOnly: true,
		Secure: m.secure, Partitioned: m.partitioned, SameSite: m.sameSite,
		Expires: m.expires, MaxAge: maxAge}
}

func (m metaAttrs) encode() string { return string(m.appendEncode(nil)) }

// appendEncode appends the META value to dst: its attributes as a query
// string, in a fixed order.
func (m metaAttrs) appendEncode(dst []byte) []byte {
	start := len(dst)
	sep := func(dst []byte) []byte { // between attributes
		if len(dst) > start {
			return append(dst, '&')
		}
		return dst
	}
	if m.secure {
		dst = append(dst, "secure"...)
	}
	if m.partitioned {
		dst = append(sep(dst), "partitioned"...)
	}
	if !m.expires.IsZero() {
		dst = strconv.AppendInt(append(sep(dst), "expires="...), m.expires.Unix(), 10)
	}
	if m.maxAgeAt != 0 {
		dst = strconv.AppendInt(append(sep(dst), "maxage="...), m.maxAgeAt, 10)
	}
	if s := sameSiteName(m.sameSite); s != "" {
		dst = append(append(sep(dst), "samesite="...), s...)
	}
	return dst
}

// The Expires dates a META value can carry: those of a cookie date, years
// 0000 to 9999 in UTC. A session cookie's Expires is always in this range
// (before 1970 too, as for the usual "delete" date of 1 Jan 1970); a later
// one from a client would make the refreshed cookie unbuildable.
const (
	minExpires = -62167219200 // 0000-01-01T00:00:00Z
	maxExpires = 253402300799 // 9999-12-31T23:59:59Z
)

// decodeMeta reads a META value as gorouter reads it, a query string
// (net/url's syntax): keys and values are unescaped, and a malformed escape
// (or a ';') makes the whole value unreadable, so the refresh uses the
// defaults (ok false). Otherwise every readable attribute is kept: an
// unknown key is ignored, an unreadable value drops only its attribute, and
// the first of a repeated key counts. Flags are bare keys ("secure"); gorouter
// also takes "secure=<anything>" as a flag, which it never writes.
func decodeMeta(v string) (m metaAttrs, ok bool) {
	m, ok, _ = decodeMetaFields(v)
	return m, ok
}

// decodeMetaFields is decodeMeta that also says whether every attribute
// was readable (gorouter logs the ones that were not).
func decodeMetaFields(v string) (m metaAttrs, ok, complete bool) {
	complete = true
	var seenSameSite, seenMaxAge, seenExpires bool
	for part := range strings.SplitSeq(v, "&") {
		if part == "" {
			continue
		}
		if strings.Contains(part, ";") {
			return metaAttrs{}, false, false // net/url refuses ';' as a separator
		}
		rawKey, rawVal, hasVal := strings.Cut(part, "=")
		key, err1 := url.QueryUnescape(rawKey)
		val, err2 := url.QueryUnescape(rawVal)
		if err1 != nil || err2 != nil {
			return metaAttrs{}, false, false
		}
		switch key {
		case "secure":
			m.secure = m.secure || !hasVal
		case "partitioned":
			m.partitioned = m.partitioned || !hasVal
		case "samesite":
			if !seenSameSite {
				seenSameSite = true
				var known bool
				m.sameSite, known = parseSameSite(val) // unknown: no SameSite
				complete = complete && (known || val == "")
			}
		case "maxage":
			if !seenMaxAge {
				seenMaxAge = true
				n, err := strconv.ParseInt(val, 10, 64)
				switch {
				case err != nil:
					complete = false
				case n == 0:
				case n < 0:
					m.maxAgeAt = -1 // any negative: delete
				default:
					m.maxAgeAt = n
				}
			}
		case "expires":
			if !seenExpires {
				seenExpires = true
				// Only dates a cookie can carry (years 0000 to 9999): a
				// later one would make the refreshed cookie unbuildable.
				n, err := strconv.ParseInt(val, 10, 64)
				switch {
				case err != nil || n < minExpires || n > maxExpires:
					complete = false
				case n != 0:
					m.expires = time.Unix(n, 0).UTC()
				}
			}
		}
	}
	return m, true, complete
}

// maxAge turns the recorded expiry into a Max-Age for a cookie issued now:
// the remaining lifetime, or -1 (delete) once it has run out.
func (m metaAttrs) maxAge(clk Clock) int {
	switch {
	case m.maxAgeAt == 0:
		return 0
	case m.maxAgeAt < 0:
		return -1
	}
	left := m.maxAgeAt - clk.Now().Unix()
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
