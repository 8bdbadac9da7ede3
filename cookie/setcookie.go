package cookie

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// SameSite is a cookie's SameSite attribute.
type SameSite uint8

// SameSiteDefault stands for both net/http's zero SameSite (no attribute)
// and its SameSiteDefaultMode (an attribute with an unknown value): neither
// is written.
const (
	SameSiteDefault SameSite = iota
	SameSiteLax
	SameSiteStrict
	SameSiteNone
)

// SetCookie is one Set-Cookie header value: http.Cookie without the fields
// the filter has no use for (Quoted, Raw, Unparsed). Only Name and Value are
// required.
type SetCookie struct {
	Name, Value string
	Path        string
	Domain      string
	Expires     time.Time // written only from year 1601 on, as by net/http
	RawExpires  string    // the Expires attribute as read; never written
	// MaxAge 0 means no Max-Age attribute, a negative MaxAge is written
	// as Max-Age=0 (delete now), a positive one as it is.
	MaxAge      int
	Secure      bool
	HttpOnly    bool
	Partitioned bool
	SameSite    SameSite
}

// ParseSetCookie parses one Set-Cookie header value as http.ParseSetCookie
// does; ok is false where that returns an error. Unknown or malformed
// attributes are ignored, as net/http ignores them (it keeps them only in
// Cookie.Unparsed). Strings in c are substrings of line.
func ParseSetCookie(line string) (c SetCookie, ok bool) {
	first, attrs, _ := strings.Cut(trim(line), ";")
	name, raw, found := strings.Cut(trim(first), "=")
	if name = trim(name); !found || !ValidName(name) {
		return SetCookie{}, false
	}
	if c.Value, ok = parseValue(raw, true); !ok {
		return SetCookie{}, false
	}
	c.Name = name
	for attrs != "" {
		var part string
		part, attrs, _ = strings.Cut(attrs, ";")
		if part = trim(part); part != "" {
			c.setAttr(part)
		}
	}
	return c, true
}

// setAttr applies one trimmed, non-empty attribute. Neither the name nor the
// value is trimmed around '=', as in net/http.
func (c *SetCookie) setAttr(part string) {
	attr, raw, _ := strings.Cut(part, "=")
	val, ok := parseValue(raw, false)
	if !ok {
		return
	}
	switch {
	case equalFold(attr, "samesite"):
		switch {
		case equalFold(val, "lax"):
			c.SameSite = SameSiteLax
		case equalFold(val, "strict"):
			c.SameSite = SameSiteStrict
		case equalFold(val, "none"):
			c.SameSite = SameSiteNone
		default:
			c.SameSite = SameSiteDefault
		}
	case equalFold(attr, "secure"):
		c.Secure = true
	case equalFold(attr, "httponly"):
		c.HttpOnly = true
	case equalFold(attr, "partitioned"):
		c.Partitioned = true
	case equalFold(attr, "domain"):
		c.Domain = val
	case equalFold(attr, "path"):
		c.Path = val
	case equalFold(attr, "max-age"):
		if secs, ok := parseMaxAge(val); ok {
			c.MaxAge = secs
		} // else net/http keeps the MaxAge it had
	case equalFold(attr, "expires"):
		c.RawExpires = val
		c.Expires = parseExpires(val) // zero if unreadable, as net/http
	}
}

// parseMaxAge reads a Max-Age value as net/http does: strconv.Atoi syntax and
// range, no leading zero except in "0", and any value <= 0 becomes -1.
// Written out rather than calling Atoi, which allocates an error for the
// garbage a hostile value can hold.
func parseMaxAge(s string) (int, bool) {
	digits, neg := s, false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		digits, neg = s[1:], s[0] == '-'
	}
	limit := uint64(math.MaxInt)
	if neg {
		limit++ // math.MinInt
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		d := uint64(digits[i] - '0')
		if d > 9 || n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	switch {
	case digits == "", n != 0 && s[0] == '0':
		return 0, false
	case neg || n == 0:
		return -1, true
	}
	return int(n), true
}

// Layouts for parseExpires: net/http's two, and the same with the zone GMT
// as a literal.
const (
	layoutNetscape    = "Mon, 02-Jan-2006 15:04:05 MST"
	layoutRFC1123GMT  = "Mon, 02 Jan 2006 15:04:05 GMT" // http.TimeFormat
	layoutNetscapeGMT = "Mon, 02-Jan-2006 15:04:05 GMT"
)

// parseExpires reads an Expires date as net/http does: time.RFC1123, else
// layoutNetscape, in UTC; the zero Time if neither parses.
func parseExpires(v string) time.Time {
	// Fast path for the usual GMT dates. time.Parse allocates a Location
	// for a zone name like "GMT" (other than "UTC"); with GMT as a literal
	// in the layout it does not. The result is the same instant: GMT is
	// offset 0 in every tz database zone time.Local could name it in. A
	// date the literal layout rejects goes the full way below.
	if strings.HasSuffix(v, "GMT") {
		layout := layoutRFC1123GMT
		if strings.IndexByte(v, '-') >= 0 { // only valid in the Netscape form
			layout = layoutNetscapeGMT
		}
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	t, err := time.Parse(time.RFC1123, v)
	if err != nil {
		if t, err = time.Parse(layoutNetscape, v); err != nil {
			return time.Time{}
		}
	}
	return t.UTC()
}

// equalFold compares s to the lower-case ASCII word lower, ignoring ASCII
// case only, as net/http's ascii.ToLower comparison does (no Unicode folding:
// "ſecure" is not "secure").
func equalFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lower[i] {
			return false
		}
	}
	return true
}

// Errors from Valid.
var (
	ErrName    = errors.New("cookie: name is not a token")
	ErrValue   = errors.New("cookie: value holds a byte outside RFC 6265 cookie-octet")
	ErrPath    = errors.New("cookie: path would not read back unchanged")
	ErrDomain  = errors.New("cookie: domain is neither a host name nor an IPv4 address")
	ErrExpires = errors.New("cookie: expires not in years 0000-9999 UTC")
	errNil     = errors.New("cookie: nil SetCookie")
)

// Valid returns nil if the cookie can be written exactly as it is, else the
// error for the first field refused. Where net/http would quote the value,
// drop bytes or drop the Domain, this package refuses instead: a built header
// never holds CR, LF, NUL or any byte that could split or smuggle a header,
// and it reads back, here and in net/http, as it was meant. The rules:
//
//   - Name: a token (ValidName).
//   - Value: RFC 6265 cookie-octets only (ValidValue).
//   - Path: printable ASCII or space, without ';', '"' or '\', not starting
//     or ending with a space. net/http writes '"' and '\' but reads
//     neither back, and trims the spaces.
//   - Domain: empty, or one net/http writes: a host name or an IPv4
//     address, optionally after one dot (which is not written).
//   - Expires: when written (from year 1601 on, in its own zone, as by
//     net/http), a four-digit year in UTC.
//
// Unlike (*http.Cookie).Valid it does not require Secure with Partitioned:
// (*http.Cookie).String writes that cookie all the same.
func (c *SetCookie) Valid() error {
	switch {
	case c == nil:
		return errNil
	case !ValidName(c.Name):
		return ErrName
	case !ValidValue(c.Value):
		return ErrValue
	case !validPath(c.Path):
		return ErrPath
	case c.Domain != "" && !validDomain(c.Domain):
		return ErrDomain
	case !validExpires(c.Expires):
		return ErrExpires
	}
	return nil
}

// AppendTo appends the Set-Cookie header value to dst: exactly what
// (*http.Cookie).String writes for the same cookie. A cookie Valid refuses
// appends nothing.
func (c *SetCookie) AppendTo(dst []byte) []byte {
	if c.Valid() != nil {
		return dst
	}
	dst = append(dst, c.Name...)
	dst = append(dst, '=')
	dst = append(dst, c.Value...)
	if c.Path != "" {
		dst = append(dst, "; Path="...)
		dst = append(dst, c.Path...)
	}
	if c.Domain != "" {
		dst = append(dst, "; Domain="...)
		dst = append(dst, strings.TrimPrefix(c.Domain, ".")...)
	}
	if writesExpires(c.Expires) {
		dst = append(dst, "; Expires="...)
		dst = c.Expires.UTC().AppendFormat(dst, layoutRFC1123GMT)
	}
	if c.MaxAge > 0 {
		dst = append(dst, "; Max-Age="...)
		dst = strconv.AppendInt(dst, int64(c.MaxAge), 10)
	} else if c.MaxAge < 0 {
		dst = append(dst, "; Max-Age=0"...)
	}
	if c.HttpOnly {
		dst = append(dst, "; HttpOnly"...)
	}
	if c.Secure {
		dst = append(dst, "; Secure"...)
	}
	switch c.SameSite {
	case SameSiteNone:
		dst = append(dst, "; SameSite=None"...)
	case SameSiteLax:
		dst = append(dst, "; SameSite=Lax"...)
	case SameSiteStrict:
		dst = append(dst, "; SameSite=Strict"...)
	}
	if c.Partitioned {
		dst = append(dst, "; Partitioned"...)
	}
	return dst
}

// String returns the Set-Cookie header value AppendTo writes; "" for a
// cookie Valid refuses.
func (c *SetCookie) String() string {
	var buf [256]byte
	return string(c.AppendTo(buf[:0]))
}

// writesExpires reports whether net/http writes t: RFC 6265 wants no year
// before 1601. The year is t's own, not UTC's, as in net/http.
func writesExpires(t time.Time) bool { return t.Year() >= 1601 }

// validExpires reports whether t is either not written or written with a
// four-digit year, the only kind a cookie date can hold.
func validExpires(t time.Time) bool {
	if !writesExpires(t) {
		return true
	}
	y := t.UTC().Year()
	return 0 <= y && y <= 9999
}

// validPath reports whether p reads back from a Path attribute unchanged.
func validPath(p string) bool {
	_, ok := parseValue(p, false)
	return ok && trim(p) == p
}

// validDomain reports whether net/http writes d as a Domain attribute (less
// one leading dot) rather than dropping it: a host name of letters, digits
// and '-' with at least one letter, or an IPv4 address.
func validDomain(d string) bool {
	return isHostName(d) || isIPv4(d)
}

func isHostName(d string) bool {
	if len(d) > 255 {
		return false
	}
	// One leading dot is allowed and ignored, as is one trailing (the root).
	d = strings.TrimSuffix(strings.TrimPrefix(d, "."), ".")
	letter := false
	for {
		label, rest, more := strings.Cut(d, ".")
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			switch b := label[i]; {
			case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z':
				letter = true
			case '0' <= b && b <= '9', b == '-':
			default:
				return false
			}
		}
		if !more {
			return letter
		}
		d = rest
	}
}

func isIPv4(d string) bool {
	ip, err := netip.ParseAddr(d)
	return err == nil && ip.Is4()
}
