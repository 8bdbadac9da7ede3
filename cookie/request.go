// Package cookie reads the cookies the sticky-session filter cares about and
// writes the __VCAP_ID__ cookie it adds.
//
// On the request side it finds a cookie in Cookie header values; on the
// response side it parses the app's Set-Cookie values (to copy the session
// cookie's attributes) and builds new Set-Cookie values. Reading follows Go's
// net/http exactly (Request.Cookie, http.ParseSetCookie), so the filter sees
// what a Go app behind it would see. Building produces byte for byte what
// (*http.Cookie).String produces, except that it refuses, instead of quoting
// or silently repairing, anything that would not be written as given.
//
// The filter runs on every request in a shared proxy and reads untrusted
// headers: nothing here panics on any input, and the per-request paths (Get,
// Each, AppendTo, and ParseSetCookie in the usual cases) do not allocate.
package cookie

import "strings"

// maxCookies is net/http's default cap on the cookies of one request
// (GODEBUG httpcookiemaxnum is not consulted): with more, it reads none.
const maxCookies = 3000

// Get returns the value of the first cookie called name in one Cookie header
// value, as net/http's Request.Cookie does for a request with that header
// (which reads nothing from a header with more than 3000 cookies). Names
// match exactly, case included. Surrounding double quotes are stripped; the
// value is a substring of header.
func Get(header, name string) (value string, ok bool) {
	if tooMany(header) {
		return "", false
	}
	return find(header, name)
}

// GetAny is Get over several Cookie header values: the first occurrence, in
// header order, wins. net/http's cap of 3000 cookies counts all of them.
func GetAny(headers []string, name string) (value string, ok bool) {
	if tooMany(headers...) {
		return "", false
	}
	for _, h := range headers {
		if value, ok = find(h, name); ok {
			return value, true
		}
	}
	return "", false
}

// Each calls fn with every cookie of a Cookie header value, in order, until fn
// returns false. It skips what net/http skips: empty parts, names that are not
// tokens, values with a byte outside those net/http reads, and, like Get,
// every cookie of a header with more than 3000. Surrounding double quotes are
// stripped from values.
func Each(header string, fn func(name, value string) bool) {
	if tooMany(header) {
		return
	}
	for s := (Scanner{line: trim(header)}); s.Next(); {
		if value, ok := s.Value(); ok && !fn(s.Name(), value) {
			return
		}
	}
}

// EachAll is Each over several Cookie header values, in header order, as
// net/http's Request.Cookies reads a request with those headers: its cap of
// 3000 cookies counts all of them.
func EachAll(headers []string, fn func(name, value string) bool) {
	for s := NewScanner(headers); s.Next(); {
		if value, ok := s.Value(); ok && !fn(s.Name(), value) {
			return
		}
	}
}

// A Scanner reads the cookies of a request's Cookie header values one at a
// time, in order, as net/http's Request.Cookies does, without a callback
// and without allocating. Next stops at each part whose name is a token;
// Value then reads that cookie's value, which net/http may refuse (it then
// skips the cookie, and so must the caller). A caller looking for a few
// names compares Name first and reads only their values: most cookies of a
// browser's request are someone else's.
type Scanner struct {
	headers   []string
	line      string // what is left of headers[0]
	name, raw string
}

// NewScanner scans headers; it yields nothing for more cookies than
// net/http reads (3000, counting every header).
func NewScanner(headers []string) Scanner {
	if tooMany(headers...) {
		return Scanner{}
	}
	return Scanner{headers: headers}
}

// Next moves to the next cookie with a valid name; false at the end.
func (s *Scanner) Next() bool {
	for {
		for s.line != "" {
			s.name, s.raw, s.line = nextPair(s.line)
			if ValidName(s.name) {
				return true
			}
		}
		if len(s.headers) == 0 {
			return false
		}
		s.line, s.headers = trim(s.headers[0]), s.headers[1:]
	}
}

// Name is the current cookie's name, a token.
func (s *Scanner) Name() string { return s.name }

// Value is the current cookie's value without surrounding double quotes;
// false if net/http refuses it.
func (s *Scanner) Value() (string, bool) { return parseValue(s.raw, true) }

// find is Get without the cookie-count cap.
func find(header, name string) (string, bool) {
	if !ValidName(name) {
		return "", false // nothing net/http reads can match
	}
	for line := trim(header); line != ""; {
		var n, raw string
		n, raw, line = nextPair(line)
		if n != name {
			continue
		}
		if value, ok := parseValue(raw, true); ok {
			return value, true
		}
		// net/http skips an invalid value and keeps looking.
	}
	return "", false
}

// nextPair cuts the first ';'-separated part off line and splits it, as
// net/http's readCookies does: the part and the name are trimmed, the raw
// value is not.
func nextPair(line string) (name, raw, rest string) {
	part := line
	if end := strings.IndexByte(line, ';'); end >= 0 {
		part, rest = line[:end], line[end+1:]
	}
	part = trim(part)
	name = part
	if eq := strings.IndexByte(part, '='); eq >= 0 {
		name, raw = part[:eq], part[eq+1:]
	}
	return trim(name), raw, rest
}

// tooMany reports whether the headers hold more cookies than net/http reads,
// counting, as it does, every ';'-separated part of each header.
func tooMany(headers ...string) bool {
	parts, size := 0, 0
	for _, h := range headers {
		parts++
		size += len(h)
	}
	if parts+size <= maxCookies { // each further part takes a byte: skip counting
		return false
	}
	for _, h := range headers {
		parts += strings.Count(h, ";")
	}
	return parts > maxCookies
}

// parseValue is net/http's parseCookieValue: it strips one pair of
// surrounding double quotes (in cookie values, not attribute values) and
// accepts only bytes net/http reads.
func parseValue(raw string, allowQuotes bool) (string, bool) {
	if allowQuotes && len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if !readableByte(raw[i]) {
			return "", false
		}
	}
	return raw, true
}

// readableByte reports whether net/http reads b in a cookie or attribute
// value: printable ASCII and space, but no '"', ';' or '\'.
func readableByte(b byte) bool { return byteClass[b]&readable != 0 }

// byteClass holds, per byte, the classes above: one load per byte where a
// run of comparisons would be several, on the path every request takes.
var byteClass = func() (t [256]uint8) {
	for b := 0x20; b < 0x7f; b++ {
		if b != '"' && b != ';' && b != '\\' {
			t[b] |= readable
		}
	}
	for _, b := range []byte("!#$%&'*+-.^_`|~") {
		t[b] |= token
	}
	for b := '0'; b <= 'z'; b++ {
		if b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b {
			t[b] |= token
		}
	}
	return t
}()

const (
	readable = 1 << iota // readableByte
	token                // isTokenByte
)

// ValidName reports whether n is a valid cookie name: an HTTP token, the only
// names net/http reads or writes.
func ValidName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if !isTokenByte(n[i]) {
			return false
		}
	}
	return true
}

// ValidValue reports whether v can be written as a cookie value as it is:
// RFC 6265 cookie-octets only (printable ASCII without space, '"', ',', ';'
// and '\'). net/http would quote a value with a space or comma, or drop bytes;
// this package refuses to build such a cookie instead.
func ValidValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; !readableByte(b) || b == ' ' || b == ',' {
			return false
		}
	}
	return true
}

func isTokenByte(b byte) bool { return byteClass[b]&token != 0 }

// trim removes leading and trailing ASCII space, as textproto.TrimString.
func trim(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
