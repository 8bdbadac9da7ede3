package cookie_test

// net/http is the reference: the helpers here ask it what it makes of the
// same input.

import (
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/vcap-sticky/vcap-sticky/cookie"
)

func TestMain(m *testing.M) {
	// net/http logs every value it sanitizes and domain it drops.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// httpGet is Request.Cookie for a request with these Cookie headers.
func httpGet(headers []string, name string) (string, bool) {
	r := &http.Request{Header: http.Header{"Cookie": headers}}
	c, err := r.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// httpPairs is every name=value pair net/http reads from one Cookie header.
func httpPairs(header string) []string {
	r := &http.Request{Header: http.Header{"Cookie": {header}}}
	var pairs []string
	for _, c := range r.Cookies() {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	return pairs
}

func eachPairs(header string) []string {
	var pairs []string
	cookie.Each(header, func(name, value string) bool {
		pairs = append(pairs, name+"="+value)
		return true
	})
	return pairs
}

// httpParse is http.ParseSetCookie in this package's terms.
func httpParse(line string) (cookie.SetCookie, bool) {
	c, err := http.ParseSetCookie(line)
	if err != nil {
		return cookie.SetCookie{}, false
	}
	return fromHTTP(c), true
}

func fromHTTP(c *http.Cookie) cookie.SetCookie {
	s := cookie.SetCookie{
		Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain,
		Expires: c.Expires, RawExpires: c.RawExpires, MaxAge: c.MaxAge,
		Secure: c.Secure, HttpOnly: c.HttpOnly, Partitioned: c.Partitioned,
	}
	switch c.SameSite {
	case http.SameSiteLaxMode:
		s.SameSite = cookie.SameSiteLax
	case http.SameSiteStrictMode:
		s.SameSite = cookie.SameSiteStrict
	case http.SameSiteNoneMode:
		s.SameSite = cookie.SameSiteNone
	}
	return s
}

func toHTTP(c *cookie.SetCookie) *http.Cookie {
	h := &http.Cookie{
		Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain,
		Expires: c.Expires, MaxAge: c.MaxAge,
		Secure: c.Secure, HttpOnly: c.HttpOnly, Partitioned: c.Partitioned,
	}
	switch c.SameSite {
	case cookie.SameSiteDefault:
	case cookie.SameSiteLax:
		h.SameSite = http.SameSiteLaxMode
	case cookie.SameSiteStrict:
		h.SameSite = http.SameSiteStrictMode
	case cookie.SameSiteNone:
		h.SameSite = http.SameSiteNoneMode
	default:
		h.SameSite = http.SameSite(100) // unknown: net/http writes nothing either
	}
	return h
}

// httpWritesDomain reports whether net/http keeps Domain d when writing.
func httpWritesDomain(d string) bool {
	return strings.Contains((&http.Cookie{Name: "a", Domain: d}).String(), "; Domain=")
}

// readBack is what a valid cookie should parse back to from its String:
// a leading dot of Domain is not written, Expires is written to the second
// in UTC and only from year 1601, a negative MaxAge is read as -1, and an
// unknown SameSite is not written.
func readBack(c cookie.SetCookie) cookie.SetCookie {
	want := cookie.SetCookie{
		Name: c.Name, Value: c.Value, Path: c.Path,
		Domain:   strings.TrimPrefix(c.Domain, "."),
		MaxAge:   max(c.MaxAge, -1),
		Secure:   c.Secure,
		HttpOnly: c.HttpOnly, Partitioned: c.Partitioned,
	}
	if c.SameSite <= cookie.SameSiteNone {
		want.SameSite = c.SameSite
	}
	if c.Expires.Year() >= 1601 {
		want.Expires = c.Expires.UTC().Truncate(1e9)
		want.RawExpires = want.Expires.Format(http.TimeFormat)
	}
	return want
}

// checkBuilt checks a cookie Valid accepts: its header value is safe, is what
// net/http writes, and reads back (with this package and net/http) to the
// same cookie.
func checkBuilt(t *testing.T, c cookie.SetCookie) {
	t.Helper()
	s := c.String()
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			t.Fatalf("%#v: String() = %q holds byte %#x", c, s, s[i])
		}
	}
	if want := toHTTP(&c).String(); s != want {
		t.Fatalf("%#v:\n String() = %q\nnet/http = %q", c, s, want)
	}
	if got := string(c.AppendTo([]byte("x"))); got != "x"+s {
		t.Fatalf("%#v: AppendTo = %q, want %q", c, got, "x"+s)
	}
	want := readBack(c)
	if got, ok := cookie.ParseSetCookie(s); !ok || got != want {
		t.Fatalf("ParseSetCookie(%q) =\n %#v, %v\nwant\n %#v", s, got, ok, want)
	}
	if got, ok := httpParse(s); !ok || got != want {
		t.Fatalf("http.ParseSetCookie(%q) =\n %#v, %v\nwant\n %#v", s, got, ok, want)
	}
}
