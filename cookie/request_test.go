package cookie_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vcap-sticky/vcap-sticky/cookie"
)

func TestGet(t *testing.T) {
	tests := []struct {
		header, name string
		value        string
		ok           bool
	}{
		{"JSESSIONID=abc", "JSESSIONID", "abc", true},
		{"a=1; JSESSIONID=abc; b=2", "JSESSIONID", "abc", true},
		{"JSESSIONID=first; JSESSIONID=second", "JSESSIONID", "first", true},
		{`JSESSIONID="quoted"`, "JSESSIONID", "quoted", true},
		{`JSESSIONID=""`, "JSESSIONID", "", true},
		{`JSESSIONID="`, "JSESSIONID", "", false},
		{`JSESSIONID="half`, "JSESSIONID", "", false},
		{`JSESSIONID=in"side`, "JSESSIONID", "", false},
		{"JSESSIONID=", "JSESSIONID", "", true},
		{"JSESSIONID", "JSESSIONID", "", true}, // no '=': net/http reads an empty value
		{"  JSESSIONID = abc  ", "JSESSIONID", " abc", true},
		{"\tJSESSIONID=abc\t;\tb=2", "JSESSIONID", "abc", true},
		{"JSESSIONID=a b,c", "JSESSIONID", "a b,c", true}, // space and comma are read
		{"", "JSESSIONID", "", false},
		{";;; ;", "JSESSIONID", "", false},
		{"JSESSIONIDX=1", "JSESSIONID", "", false},
		{"XJSESSIONID=1", "JSESSIONID", "", false},
		{"JSESSIONIDX=1; JSESSIONID=2", "JSESSIONID", "2", true},
		{"__Host-JSESSIONID=h; JSESSIONID=p", "JSESSIONID", "p", true},
		{"__Host-JSESSIONID=h; JSESSIONID=p", "__Host-JSESSIONID", "h", true},
		{"jsessionid=lower", "JSESSIONID", "", false},
		{"JSESSIONID=a\\b; JSESSIONID=ok", "JSESSIONID", "ok", true}, // bad value skipped
		{"JSESSIONID=a\x00b; JSESSIONID=ok", "JSESSIONID", "ok", true},
		{"JSESSIONID=\x7f; JSESSIONID=ok", "JSESSIONID", "ok", true},
		{"JSESSIONID=é; JSESSIONID=ok", "JSESSIONID", "ok", true},
		{"J\x00SESSIONID=x; JSESSIONID=ok", "JSESSIONID", "ok", true},
		{"é=1; a=ü; a=2", "a", "2", true},
		{"a=1;b=2", "b", "2", true},
		{"a=1; b=x=y", "b", "x=y", true},
		{"=1; a=2", "", "", false},
		{"a=1", "", "", false},
		{"a b=1", "a b", "", false},
		{"__VCAP_ID__=d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f", "__VCAP_ID__", "d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f", true},
	}
	for _, tt := range tests {
		value, ok := cookie.Get(tt.header, tt.name)
		if value != tt.value || ok != tt.ok {
			t.Errorf("Get(%q, %q) = %q, %v; want %q, %v", tt.header, tt.name, value, ok, tt.value, tt.ok)
		}
		if hv, hok := httpGet([]string{tt.header}, tt.name); hv != value || hok != ok {
			t.Errorf("Get(%q, %q) = %q, %v; net/http: %q, %v", tt.header, tt.name, value, ok, hv, hok)
		}
	}
}

func TestGetAny(t *testing.T) {
	tests := []struct {
		headers []string
		name    string
		value   string
		ok      bool
	}{
		{nil, "a", "", false},
		{[]string{}, "a", "", false},
		{[]string{"", ""}, "a", "", false},
		{[]string{"a=1", "a=2"}, "a", "1", true},
		{[]string{"b=1", "a=2; a=3"}, "a", "2", true},
		{[]string{"a=\\", "a=2"}, "a", "2", true},
		{[]string{"x=1; a", "a=2"}, "a", "", true},
		// The cookie cap counts across all headers, as net/http does.
		{[]string{strings.Repeat("x=1;", 2000) + "a=1", strings.Repeat("y=1;", 998) + "z"}, "a", "1", true},
		{[]string{strings.Repeat("x=1;", 2000) + "a=1", strings.Repeat("y=1;", 999) + "z"}, "a", "", false},
	}
	for _, tt := range tests {
		value, ok := cookie.GetAny(tt.headers, tt.name)
		if value != tt.value || ok != tt.ok {
			t.Errorf("GetAny(%.60q, %q) = %q, %v; want %q, %v", tt.headers, tt.name, value, ok, tt.value, tt.ok)
		}
		if hv, hok := httpGet(tt.headers, tt.name); hv != value || hok != ok {
			t.Errorf("GetAny(%.60q, %q) = %q, %v; net/http: %q, %v", tt.headers, tt.name, value, ok, hv, hok)
		}
	}
}

func TestEach(t *testing.T) {
	header := ` a=1; ; b="2"; c=\; bad name=3; d; e=x=y;f=é; a=dup `
	want := []string{"a=1", "b=2", "d=", "e=x=y", "a=dup"}
	if got := eachPairs(header); !slices.Equal(got, want) {
		t.Errorf("Each(%q) read %q, want %q", header, got, want)
	}
	if got := httpPairs(header); !slices.Equal(got, want) {
		t.Errorf("net/http read %q, want %q", got, want)
	}

	var seen []string
	cookie.Each("a=1; b=2; c=3", func(name, _ string) bool {
		seen = append(seen, name)
		return name != "b"
	})
	if !slices.Equal(seen, []string{"a", "b"}) {
		t.Errorf("Each went on after fn returned false: saw %q", seen)
	}
}

// TestGetHostile feeds headers an attacker could send.
func TestGetHostile(t *testing.T) {
	many := func(n int) string { return strings.Repeat("x=1; ", n-1) + "JSESSIONID=last" }
	tests := []struct {
		name   string
		header string
		value  string
		ok     bool
	}{
		{"3000 cookies", many(3000), "last", true},
		{"3001 cookies", many(3001), "", false},
		{"10k cookies", many(10000), "", false},
		{"10k separators", strings.Repeat(";", 10000) + "JSESSIONID=x", "", false},
		{"2999 separators", strings.Repeat(";", 2999) + "JSESSIONID=x", "x", true},
		{"huge value", "JSESSIONID=" + strings.Repeat("v", 1<<20), strings.Repeat("v", 1<<20), true},
		{"huge name", strings.Repeat("J", 1<<20) + "=1; JSESSIONID=2", "2", true},
		{"every control byte", ctlBytes() + "; JSESSIONID=ok", "ok", true},
		{"control bytes in value", "JSESSIONID=" + ctlBytes(), "", false},
		{"CRLF injection", "JSESSIONID=a\r\nSet-Cookie: x=y", "", false},
		{"unicode name", "JSESSIONİD=1; ＪSESSIONID=2", "", false},
		{"invalid UTF-8", "JSESSIONID=\xff\xfe; \xc3=1", "", false},
		{"only quotes", `"""""`, "", false},
		{"only equals", "=====", "", false},
	}
	for _, tt := range tests {
		value, ok := cookie.Get(tt.header, "JSESSIONID")
		if value != tt.value || ok != tt.ok {
			t.Errorf("%s: Get = %.40q, %v; want %.40q, %v", tt.name, value, ok, tt.value, tt.ok)
		}
		if hv, hok := httpGet([]string{tt.header}, "JSESSIONID"); hv != value || hok != ok {
			t.Errorf("%s: Get = %.40q, %v; net/http: %.40q, %v", tt.name, value, ok, hv, hok)
		}
		if got, want := eachPairs(tt.header), httpPairs(tt.header); !slices.Equal(got, want) {
			t.Errorf("%s: Each read %d pairs, net/http %d", tt.name, len(got), len(want))
		}
	}
}

func ctlBytes() string {
	var b []byte
	for c := 0; c < 0x20; c++ {
		b = append(b, byte(c))
	}
	return string(append(b, 0x7f))
}

// randomHeader builds a Cookie header from pieces that exercise every rule:
// near-miss names, quotes, spaces, separators and bytes net/http rejects.
func randomHeader(r *rand.Rand) string {
	pieces := []string{
		"JSESSIONID", "JSESSIONIDX", "__Host-JSESSIONID", "__VCAP_ID__", "a", "b", "",
		"=", "=", "=", ";", ";", "; ", " ", "\t", `"`, `""`, "\\", ",", "\x00", "\r\n",
		"\x7f", "é", "\xff", "v", "123", "x y", "-._~", "%2F", "{}", "/",
	}
	var sb strings.Builder
	for range r.IntN(12) {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

func TestGetMatchesNetHTTPRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"JSESSIONID", "__Host-JSESSIONID", "__VCAP_ID__", "a", "b", "x y", ""}
	for range 50000 {
		headers := make([]string, 1+r.IntN(3))
		for i := range headers {
			headers[i] = randomHeader(r)
		}
		name := names[r.IntN(len(names))]
		value, ok := cookie.Get(headers[0], name)
		if hv, hok := httpGet(headers[:1], name); hv != value || hok != ok {
			t.Fatalf("Get(%q, %q) = %q, %v; net/http: %q, %v", headers[0], name, value, ok, hv, hok)
		}
		value, ok = cookie.GetAny(headers, name)
		if hv, hok := httpGet(headers, name); hv != value || hok != ok {
			t.Fatalf("GetAny(%q, %q) = %q, %v; net/http: %q, %v", headers, name, value, ok, hv, hok)
		}
		if got, want := eachPairs(headers[0]), httpPairs(headers[0]); !slices.Equal(got, want) {
			t.Fatalf("Each(%q) read %q; net/http %q", headers[0], got, want)
		}
	}
}

func FuzzGet(f *testing.F) {
	f.Add("a=1; JSESSIONID=abc; b=2", "x=1", "JSESSIONID")
	f.Add(`JSESSIONIDX=1; JSESSIONID="q"`, "JSESSIONID=2", "JSESSIONID")
	f.Add("__Host-JSESSIONID=h;JSESSIONID=\\", "", "__Host-JSESSIONID")
	f.Add(" \t;;=;a b=c; é=1", "\r\n", "a")
	f.Fuzz(func(t *testing.T, h1, h2, name string) {
		value, ok := cookie.Get(h1, name)
		if hv, hok := httpGet([]string{h1}, name); hv != value || hok != ok {
			t.Fatalf("Get(%q, %q) = %q, %v; net/http: %q, %v", h1, name, value, ok, hv, hok)
		}
		headers := []string{h1, h2}
		value, ok = cookie.GetAny(headers, name)
		if hv, hok := httpGet(headers, name); hv != value || hok != ok {
			t.Fatalf("GetAny(%q, %q) = %q, %v; net/http: %q, %v", headers, name, value, ok, hv, hok)
		}
		if got, want := eachPairs(h1), httpPairs(h1); !slices.Equal(got, want) {
			t.Fatalf("Each(%q) read %q; net/http %q", h1, got, want)
		}
	})
}
