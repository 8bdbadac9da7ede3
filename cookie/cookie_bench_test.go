package cookie_test

import (
	"strings"
	"testing"

	"github.com/vcap-sticky/vcap-sticky/cookie"
)

// A heavy but real Cookie header: 30 cookies, the two the filter wants last.
var benchLongHeader = func() string {
	var b strings.Builder
	for i := 0; i < 28; i++ {
		b.WriteString("tracker_")
		b.WriteByte(byte('a' + i%26))
		b.WriteString("=GA1.2.1234567890.1600000000; ")
	}
	b.WriteString("JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; __VCAP_ID__=d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f")
	return b.String()
}()

// BenchmarkEachLongHeader: the filter reads a Cookie header with Each; the
// cost grows with the number of cookies before the ones it wants.
func BenchmarkEachLongHeader(b *testing.B) {
	b.SetBytes(int64(len(benchLongHeader)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		cookie.Each(benchLongHeader, func(string, string) bool { n++; return true })
		if n != 30 {
			b.Fatal(n)
		}
	}
}

// BenchmarkParseSetCookieTomcat parses what Tomcat sends for a new session.
func BenchmarkParseSetCookieTomcat(b *testing.B) {
	const line = "JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; Path=/; HttpOnly"
	b.ReportAllocs()
	for b.Loop() {
		if c, ok := cookie.ParseSetCookie(line); !ok || !c.HttpOnly {
			b.Fatal("not parsed")
		}
	}
}

// BenchmarkVCAPCookieString builds the __VCAP_ID__ value the filter adds for
// that session (one allocation: the string handed to the host).
func BenchmarkVCAPCookieString(b *testing.B) {
	c := cookie.SetCookie{Name: "__VCAP_ID__", Value: "d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f", Path: "/", HttpOnly: true}
	b.ReportAllocs()
	for b.Loop() {
		if c.String() == "" {
			b.Fatal("empty")
		}
	}
}
