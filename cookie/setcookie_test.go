package cookie_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vcap-sticky/vcap-sticky/cookie"
)

var (
	oct2015  = time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	year1600 = time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
)

// TestParseSetCookie checks real-world and broken lines against fields
// written out by hand and against net/http.
func TestParseSetCookie(t *testing.T) {
	tomcat := cookie.SetCookie{Name: "JSESSIONID", Value: "ABC123", Path: "/app",
		HttpOnly: true, Secure: true, SameSite: cookie.SameSiteNone, Partitioned: true}
	tests := []struct {
		line string
		want cookie.SetCookie
		ok   bool
	}{
		{"JSESSIONID=ABC123; Path=/app; HttpOnly; Secure; SameSite=None; Partitioned", tomcat, true},
		{"  JSESSIONID=ABC123 ;path=/app;HTTPONLY;secure ; samesite=none;PARTITIONED;", tomcat, true},
		{"JSESSIONID=ABC123; Max-Age=0", cookie.SetCookie{Name: "JSESSIONID", Value: "ABC123", MaxAge: -1}, true},
		{"JSESSIONID=ABC123; Max-Age=-1", cookie.SetCookie{Name: "JSESSIONID", Value: "ABC123", MaxAge: -1}, true},
		{"JSESSIONID=ABC123; Max-Age=-3600", cookie.SetCookie{Name: "JSESSIONID", Value: "ABC123", MaxAge: -1}, true},
		{"JSESSIONID=ABC123; Max-Age=3600", cookie.SetCookie{Name: "JSESSIONID", Value: "ABC123", MaxAge: 3600}, true},
		{"a=b; Max-Age=+60", cookie.SetCookie{Name: "a", Value: "b", MaxAge: 60}, true},
		{"a=b; Max-Age=-0", cookie.SetCookie{Name: "a", Value: "b", MaxAge: -1}, true},
		{"a=b; Max-Age=00", cookie.SetCookie{Name: "a", Value: "b", MaxAge: -1}, true},
		{"a=b; Max-Age=060", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Max-Age=60; Max-Age=junk", cookie.SetCookie{Name: "a", Value: "b", MaxAge: 60}, true},
		{"a=b; Max-Age=60; Max-Age=", cookie.SetCookie{Name: "a", Value: "b", MaxAge: 60}, true},
		{"a=b; Max-Age=60; Max-Age=0", cookie.SetCookie{Name: "a", Value: "b", MaxAge: -1}, true},
		{"a=b; Max-Age=1e3", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Max-Age=1_000", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Max-Age= 60", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Max-Age=" + strconv.Itoa(math.MaxInt), cookie.SetCookie{Name: "a", Value: "b", MaxAge: math.MaxInt}, true},
		{"a=b; Max-Age=" + strconv.FormatUint(math.MaxInt+1, 10), cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Max-Age=" + strconv.Itoa(math.MinInt), cookie.SetCookie{Name: "a", Value: "b", MaxAge: -1}, true},
		{"a=b; Max-Age=-" + strconv.FormatUint(math.MaxInt+2, 10), cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
			cookie.SetCookie{Name: "a", Value: "b", Expires: oct2015, RawExpires: "Wed, 21 Oct 2015 07:28:00 GMT"}, true},
		{"a=b; expires=Wed, 21-Oct-2015 07:28:00 GMT",
			cookie.SetCookie{Name: "a", Value: "b", Expires: oct2015, RawExpires: "Wed, 21-Oct-2015 07:28:00 GMT"}, true},
		{"a=b; Expires=Thu, 21 Oct 2015 07:28:00 UTC", // the weekday is not checked
			cookie.SetCookie{Name: "a", Value: "b", Expires: oct2015, RawExpires: "Thu, 21 Oct 2015 07:28:00 UTC"}, true},
		{"a=b; Expires=Wed,  21 Oct 2015 07:28:00.999   GMT",
			cookie.SetCookie{Name: "a", Value: "b", Expires: oct2015.Add(999 * time.Millisecond), RawExpires: "Wed,  21 Oct 2015 07:28:00.999   GMT"}, true},
		{"a=b; Expires=Sat, 01 Jan 1600 00:00:00 GMT",
			cookie.SetCookie{Name: "a", Value: "b", Expires: year1600, RawExpires: "Sat, 01 Jan 1600 00:00:00 GMT"}, true},
		{"a=b; Expires=Wed, 21 Oct 2015 07:28:00 gmt",
			cookie.SetCookie{Name: "a", Value: "b", RawExpires: "Wed, 21 Oct 2015 07:28:00 gmt"}, true},
		{"a=b; Expires=Wed, 31 Feb 2015 07:28:00 GMT",
			cookie.SetCookie{Name: "a", Value: "b", RawExpires: "Wed, 31 Feb 2015 07:28:00 GMT"}, true},
		{"a=b; Expires=Wed, 21 Oct 15 07:28:00 GMT",
			cookie.SetCookie{Name: "a", Value: "b", RawExpires: "Wed, 21 Oct 15 07:28:00 GMT"}, true},
		{"a=b; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Expires=never",
			cookie.SetCookie{Name: "a", Value: "b", RawExpires: "never"}, true},
		{"a=b; Expires=Wed, 21 Oct 2015 07:28:00 \"GMT\"", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Foo=bar; ; ;; =x; Secure=yes; sAmEsItE=lAx; Path=/a=b",
			cookie.SetCookie{Name: "a", Value: "b", Secure: true, SameSite: cookie.SameSiteLax, Path: "/a=b"}, true},
		{"a=b; SameSite=Strict; SameSite=Bogus", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; SameSite", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; SameSite=\"Lax\"", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{"a=b; Path =/x; Path= /y", cookie.SetCookie{Name: "a", Value: "b", Path: " /y"}, true},
		{"a=b; Path=/x; Path=/a\"b; Path=/a\\b", cookie.SetCookie{Name: "a", Value: "b", Path: "/x"}, true},
		{"a=b; Domain=.Example.COM", cookie.SetCookie{Name: "a", Value: "b", Domain: ".Example.COM"}, true},
		{"a=b; Domain=é.com; Secure\x00; HttpOnly\t", cookie.SetCookie{Name: "a", Value: "b", HttpOnly: true}, true},
		{"a=b; ＳECURE; ſecure", cookie.SetCookie{Name: "a", Value: "b"}, true},
		{`a="b c"`, cookie.SetCookie{Name: "a", Value: "b c"}, true},
		{`a=""`, cookie.SetCookie{Name: "a"}, true},
		{"a=", cookie.SetCookie{Name: "a"}, true},
		{" a = b ", cookie.SetCookie{Name: "a", Value: " b"}, true},
		{"a=b,c", cookie.SetCookie{Name: "a", Value: "b,c"}, true},
		{"", cookie.SetCookie{}, false},
		{" ; ", cookie.SetCookie{}, false},
		{"a", cookie.SetCookie{}, false},
		{"=b", cookie.SetCookie{}, false},
		{"a b=c", cookie.SetCookie{}, false},
		{"a=b\\c", cookie.SetCookie{}, false},
		{`a="b`, cookie.SetCookie{}, false},
		{"a=\x00", cookie.SetCookie{}, false},
		{"é=1", cookie.SetCookie{}, false},
		{"Path=/; a=b", cookie.SetCookie{Name: "Path", Value: "/"}, true},
	}
	for _, tt := range tests {
		got, ok := cookie.ParseSetCookie(tt.line)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSetCookie(%q) =\n %+v, %v\nwant\n %+v, %v", tt.line, got, ok, tt.want, tt.ok)
		}
		if hc, hok := httpParse(tt.line); hc != got || hok != ok {
			t.Errorf("ParseSetCookie(%q) =\n %+v, %v\nnet/http:\n %+v, %v", tt.line, got, ok, hc, hok)
		}
	}

	// The same lines through http.Response.Cookies (readSetCookies).
	var lines []string
	var want []cookie.SetCookie
	for _, tt := range tests {
		lines = append(lines, tt.line)
		if tt.ok {
			want = append(want, tt.want)
		}
	}
	resp := &http.Response{Header: http.Header{"Set-Cookie": lines}}
	got := resp.Cookies()
	if len(got) != len(want) {
		t.Fatalf("Response.Cookies read %d cookies, want %d", len(got), len(want))
	}
	for i := range got {
		if c := fromHTTP(got[i]); c != want[i] {
			t.Errorf("Response.Cookies [%d] = %+v, want %+v", i, c, want[i])
		}
	}
}

// TestParseExpiresTimeZones checks zone names in Expires, which net/http
// resolves against time.Local.
func TestParseExpiresTimeZones(t *testing.T) {
	zones := []string{"GMT", "UTC", "PST", "PDT", "CET", "EST", "BST", "IST", "XYZ", "GMT+2", "GMT-10", "UT", "Z"}
	locals := []string{"UTC", "America/Los_Angeles", "Europe/London", "Europe/Dublin", "Asia/Kolkata", "Africa/Abidjan"}
	defer func(l *time.Location) { time.Local = l }(time.Local)
	for _, name := range locals {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Logf("skipping time.Local %s: %v", name, err)
			continue
		}
		time.Local = loc
		for _, z := range zones {
			for _, date := range []string{"Wed, 21 Oct 2015 07:28:00 ", "Sun, 15-Jan-2023 12:00:00 "} {
				line := "a=b; Expires=" + date + z
				got, ok := cookie.ParseSetCookie(line)
				if hc, hok := httpParse(line); hc != got || hok != ok {
					t.Errorf("Local %s: ParseSetCookie(%q) =\n %+v\nnet/http:\n %+v", name, line, got, hc)
				}
			}
		}
	}
}

func FuzzParseSetCookie(f *testing.F) {
	f.Add("JSESSIONID=ABC123; Path=/app; HttpOnly; Secure; SameSite=None; Partitioned")
	f.Add("a=b; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=3600; Domain=.example.com")
	f.Add("a=\"b\"; expires=Wed, 21-Oct-2015 07:28:00 GMT; max-age=-0; samesite=lax")
	f.Add(" a = b ;;Max-Age=0600; Expires=Sat, 01 Jan 1600 00:00:00 PST; =; x")
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := cookie.ParseSetCookie(line)
		if hc, hok := httpParse(line); hc != got || hok != ok {
			t.Fatalf("ParseSetCookie(%q) =\n %+v, %v\nnet/http:\n %+v, %v", line, got, ok, hc, hok)
		}
		// What the filter does with a session cookie: copy it and build.
		if ok && got.Valid() == nil {
			checkBuilt(t, got)
		}
	})
}

// TestString compares every attribute combination with net/http.
func TestString(t *testing.T) {
	plus1 := time.FixedZone("", 3600)
	expires := []time.Time{
		{},
		year1600,
		time.Date(1600, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1601, 1, 1, 0, 30, 0, 0, plus1), // 1600 in UTC: net/http still writes it
		time.Date(2015, 10, 21, 9, 28, 0, 123456789, time.FixedZone("CEST", 2*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	n := 0
	for _, name := range []string{"JSESSIONID", "__VCAP_ID__", "__Host-x"} {
		for _, value := range []string{"", "ABC123", "!#$%&'()*+-./:<=>?@[]^_`{|}~"} {
			for _, path := range []string{"", "/", "/app/x-y"} {
				for _, domain := range []string{"", "example.com", ".example.com", "192.0.2.1"} {
					for _, exp := range expires {
						for _, maxAge := range []int{math.MinInt, -5, -1, 0, 1, 3600, math.MaxInt} {
							for flags := range 8 {
								for ss := range cookie.SameSite(5) {
									c := cookie.SetCookie{
										Name: name, Value: value, Path: path, Domain: domain,
										Expires: exp, MaxAge: maxAge, SameSite: ss,
										HttpOnly: flags&1 != 0, Secure: flags&2 != 0, Partitioned: flags&4 != 0,
									}
									if err := c.Valid(); err != nil {
										t.Fatalf("%+v: Valid() = %v", c, err)
									}
									checkBuilt(t, c)
									n++
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d cookies", n)

	c := cookie.SetCookie{Name: "JSESSIONID", Value: "ABC123", Path: "/app", Domain: ".example.com",
		Expires: oct2015, MaxAge: 3600, HttpOnly: true, Secure: true, SameSite: cookie.SameSiteNone, Partitioned: true}
	want := "JSESSIONID=ABC123; Path=/app; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 GMT; " +
		"Max-Age=3600; HttpOnly; Secure; SameSite=None; Partitioned"
	if got := c.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestValid(t *testing.T) {
	ok := cookie.SetCookie{Name: "a", Value: "b"}
	with := func(f func(*cookie.SetCookie)) cookie.SetCookie {
		c := ok
		f(&c)
		return c
	}
	type test struct {
		c   cookie.SetCookie
		err error
	}
	tests := []test{
		{ok, nil},
		{with(func(c *cookie.SetCookie) { c.Value = "" }), nil},
		{with(func(c *cookie.SetCookie) { c.Name = "" }), cookie.ErrName},
		{with(func(c *cookie.SetCookie) { c.Name = "a b" }), cookie.ErrName},
		{with(func(c *cookie.SetCookie) { c.Name = "a\r\nX-Evil: 1" }), cookie.ErrName},
		{with(func(c *cookie.SetCookie) { c.Name = "a=b" }), cookie.ErrName},
		{with(func(c *cookie.SetCookie) { c.Name = "é" }), cookie.ErrName},
		{with(func(c *cookie.SetCookie) { c.Value = "a b" }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = "a,b" }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = `"ab"` }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = "a;b" }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = `a\b` }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = "a\x00" }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = "a\r\nSet-Cookie: x=y" }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = "\x7f" }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Value = "ü" }), cookie.ErrValue},
		{with(func(c *cookie.SetCookie) { c.Path = "/a b,c=d" }), nil},
		{with(func(c *cookie.SetCookie) { c.Path = "/a;b" }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Path = "/a\nb" }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Path = "/a\tb" }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Path = `/a"b` }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Path = `/a\b` }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Path = "/a " }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Path = " /a" }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Path = "/é" }), cookie.ErrPath},
		{with(func(c *cookie.SetCookie) { c.Domain = "example.com." }), nil},
		{with(func(c *cookie.SetCookie) { c.Domain = "ex;ample.com" }), cookie.ErrDomain},
		{with(func(c *cookie.SetCookie) { c.Domain = "example.com\r\n" }), cookie.ErrDomain},
		{with(func(c *cookie.SetCookie) { c.Domain = "a_b.com" }), cookie.ErrDomain},
		{with(func(c *cookie.SetCookie) { c.Domain = "::1" }), cookie.ErrDomain},
		{with(func(c *cookie.SetCookie) { c.Expires = year1600 }), nil},
		{with(func(c *cookie.SetCookie) { c.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), cookie.ErrExpires},
		{with(func(c *cookie.SetCookie) {
			c.Expires = time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("", -3600))
		}), cookie.ErrExpires},
		{with(func(c *cookie.SetCookie) { c.SameSite = 200; c.MaxAge = math.MinInt }), nil},
	}
	if offset := int64(1602 * 366 * 86400); int64(int(offset)) == offset {
		// A zone over 1602 years ahead: local year 1601 is negative in UTC.
		zone := time.FixedZone("", int(offset))
		c := ok
		c.Expires = time.Date(1601, 1, 1, 0, 0, 0, 0, zone)
		tests = append(tests, test{c, cookie.ErrExpires})
	}
	for _, tt := range tests {
		if err := tt.c.Valid(); !errors.Is(err, tt.err) {
			t.Errorf("%+v: Valid() = %v, want %v", tt.c, err, tt.err)
			continue
		}
		if tt.err == nil {
			checkBuilt(t, tt.c)
			continue
		}
		if s := tt.c.String(); s != "" {
			t.Errorf("%+v: String() = %q for an invalid cookie", tt.c, s)
		}
		if b := tt.c.AppendTo([]byte("x")); string(b) != "x" {
			t.Errorf("%+v: AppendTo appended %q to an invalid cookie", tt.c, b[1:])
		}
	}
	var nilCookie *cookie.SetCookie
	if nilCookie.Valid() == nil || nilCookie.String() != "" || len(nilCookie.AppendTo(nil)) != 0 {
		t.Error("a nil *SetCookie is valid")
	}
}

func TestValidNameValue(t *testing.T) {
	for b := range 256 {
		s := string([]byte{byte(b)})
		token := strings.IndexByte("!#$%&'*+-.^_`|~", byte(b)) >= 0 ||
			'0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
		// RFC 6265 cookie-octet.
		octet := b == 0x21 || 0x23 <= b && b <= 0x2b || 0x2d <= b && b <= 0x3a ||
			0x3c <= b && b <= 0x5b || 0x5d <= b && b <= 0x7e
		if cookie.ValidName(s) != token {
			t.Errorf("ValidName(%q) = %v", s, !token)
		}
		if cookie.ValidValue(s) != octet {
			t.Errorf("ValidValue(%q) = %v", s, !octet)
		}
		// Where ValidValue says yes, net/http writes the value as it is.
		if octet {
			if got := (&http.Cookie{Name: "a", Value: "x" + s}).String(); got != "a=x"+s {
				t.Errorf("net/http writes value %q as %q", "x"+s, got)
			}
		}
	}
	if cookie.ValidName("") {
		t.Error(`ValidName("") = true`)
	}
	if !cookie.ValidValue("") {
		t.Error(`ValidValue("") = false`)
	}
}

// TestValidDomainMatchesNetHTTP: a Domain is accepted exactly when net/http
// writes it rather than dropping it.
func TestValidDomainMatchesNetHTTP(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	domains := []string{
		"example.com", ".example.com", "example.com.", "..example.com", "example..com", ".", "..",
		"localhost", "a", "1", "123", "1a", "a-b.c-d", "-a.com", "a-.com", "a.-b", "a--b.com", "a.b-",
		"xn--bcher-kva.example", "EXAMPLE.COM", "a_b.com", "é.com", "exa mple.com", "example.com:80",
		"1.2.3.4", ".1.2.3.4", "1.2.3.4.", "1.2.3", "1.2.3.256", "01.2.3.4", "0.0.0.0", "255.255.255.255",
		"::1", "[::1]", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.4%eth0",
		label63 + ".com", label63 + "a.com", "com." + label63, "com." + label63 + "a",
		strings.Repeat("a.", 127) + "a", strings.Repeat("a.", 127) + "ab", "." + strings.Repeat("a.", 127),
		"." + strings.Repeat("a.", 127) + "a",
	}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "a1.-_:é "
	for range 20000 {
		b := make([]byte, r.IntN(10))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		domains = append(domains, string(b))
	}
	for _, d := range domains {
		if d == "" {
			continue
		}
		c := cookie.SetCookie{Name: "a", Domain: d}
		if got, want := c.Valid() == nil, httpWritesDomain(d); got != want {
			t.Errorf("Domain %q: valid %v, net/http writes it: %v", d, got, want)
		}
	}
}

// TestRoundTrip builds random valid cookies and reads them back.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const tokenBytes = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const octets = "!#$%&'()*+-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	const pathBytes = octets + " ,"
	str := func(alphabet string, minLen, maxLen int) string {
		b := make([]byte, minLen+r.IntN(maxLen-minLen+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	domains := []string{"", "example.com", ".example.com", "a-b.example.", "192.0.2.1", "localhost"}
	minSec := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxSec := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	for range 20000 {
		c := cookie.SetCookie{
			Name:   str(tokenBytes, 1, 12),
			Value:  str(octets, 0, 40),
			Domain: domains[r.IntN(len(domains))],
			MaxAge: r.IntN(7200) - 3600,
			Secure: r.IntN(2) == 0, HttpOnly: r.IntN(2) == 0, Partitioned: r.IntN(2) == 0,
			SameSite: cookie.SameSite(r.IntN(5)),
		}
		if r.IntN(3) > 0 {
			c.Path = "/" + strings.TrimSpace(str(pathBytes, 0, 20))
		}
		if r.IntN(2) == 0 {
			sec := minSec + r.Int64N(maxSec-minSec)
			c.Expires = time.Unix(sec, r.Int64N(1e9)).In(time.FixedZone("", r.IntN(86400)-43200))
		}
		if err := c.Valid(); err != nil {
			// Only a time zone that moves the year out of 1601-9999.
			if !errors.Is(err, cookie.ErrExpires) {
				t.Fatalf("%+v: Valid() = %v", c, err)
			}
			continue
		}
		checkBuilt(t, c)
	}
}

func FuzzSetCookieRoundTrip(f *testing.F) {
	f.Add("__VCAP_ID__", "d5a4e6f1-7a2b-4c3d", "/app", "", int64(0), int64(0), 0, 0, uint8(0))
	f.Add("JSESSIONID", "ABC123", "/", ".example.com", int64(1445412480), int64(5), 7200, 3600, uint8(0x3f))
	f.Add("a", "b c", "/a;b", "::1", int64(-11676096000), int64(0), -3600, -1, uint8(0x12))
	f.Add("a\r\n", "\x00", " /", "1.2.3.4", int64(253402300800), int64(-1), 1, math.MinInt, uint8(0xff))
	f.Fuzz(func(t *testing.T, name, value, path, domain string, sec, nsec int64, offset, maxAge int, flags uint8) {
		c := cookie.SetCookie{
			Name: name, Value: value, Path: path, Domain: domain, MaxAge: maxAge,
			HttpOnly: flags&1 != 0, Secure: flags&2 != 0, Partitioned: flags&4 != 0,
			SameSite: cookie.SameSite(flags >> 3),
		}
		if sec != 0 || nsec != 0 {
			c.Expires = time.Unix(sec, nsec).In(time.FixedZone("", offset))
		}
		err := c.Valid()
		if err != nil {
			if s := c.String(); s != "" {
				t.Fatalf("%+v: Valid() = %v but String() = %q", c, err, s)
			}
			if b := c.AppendTo(nil); len(b) != 0 {
				t.Fatalf("%+v: Valid() = %v but AppendTo wrote %q", c, err, b)
			}
		} else {
			checkBuilt(t, c)
		}
		// Valid refuses a Domain exactly where net/http would drop it.
		if domain != "" && (err == nil || err == cookie.ErrDomain) && (err == nil) != httpWritesDomain(domain) {
			t.Fatalf("Domain %q: Valid() = %v, net/http writes it: %v", domain, err, httpWritesDomain(domain))
		}
	})
}
