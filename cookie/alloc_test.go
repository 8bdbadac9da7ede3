package cookie_test

import (
	"testing"
	"time"

	"github.com/vcap-sticky/vcap-sticky/cookie"
)

// A browser's Cookie header for an app behind the filter.
const benchHeader = `_ga=GA1.2.1234567890.1600000000; _gid=GA1.2.987654321.1600000000; ` +
	`lang=en-US; theme="dark"; JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; __VCAP_ID__=d5a4e6f1-7a2b-4c3d-9e8f`

// A Tomcat session cookie with the attributes the filter copies.
const benchSetCookie = "JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; Path=/app; " +
	"Expires=Wed, 21 Oct 2015 07:28:00 GMT; Max-Age=3600; Secure; HttpOnly; SameSite=None; Partitioned"

var benchCookie = cookie.SetCookie{
	Name: "__VCAP_ID__", Value: "d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f", Path: "/app",
	Expires: time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC), MaxAge: 3600,
	HttpOnly: true, Secure: true, SameSite: cookie.SameSiteNone, Partitioned: true,
}

func TestNoAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	headers := []string{"a=1", benchHeader}
	buf := make([]byte, 0, 512)
	tests := []struct {
		name string
		fn   func()
	}{
		{"Get", func() { cookie.Get(benchHeader, "__VCAP_ID__") }},
		{"Get missing", func() { cookie.Get(benchHeader, "missing") }},
		{"GetAny", func() { cookie.GetAny(headers, "JSESSIONID") }},
		{"Each", func() {
			n := 0
			cookie.Each(benchHeader, func(string, string) bool { n++; return true })
		}},
		{"ParseSetCookie", func() { cookie.ParseSetCookie(benchSetCookie) }},
		{"ParseSetCookie Netscape date", func() {
			cookie.ParseSetCookie("a=b; expires=Wed, 21-Oct-2015 07:28:00 GMT; Max-Age=junk")
		}},
		{"Valid", func() { _ = benchCookie.Valid() }},
		{"AppendTo", func() { buf = benchCookie.AppendTo(buf[:0]) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := cookie.Get(benchHeader, "__VCAP_ID__"); !ok {
			b.Fatal("not found")
		}
	}
}

func BenchmarkEach(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		cookie.Each(benchHeader, func(string, string) bool { return true })
	}
}

func BenchmarkParseSetCookie(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := cookie.ParseSetCookie(benchSetCookie); !ok {
			b.Fatal("not parsed")
		}
	}
}

func BenchmarkAppendTo(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = benchCookie.AppendTo(buf[:0])
	}
}

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = benchCookie.String()
	}
}
