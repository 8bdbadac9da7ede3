package config_test

// Fuzz targets for the plugin configuration parser. Besides "no panic" they
// check: an invalid configuration always yields a *config.Error whose message
// is one printable line "config: <field>: <reason>" naming a field that is in
// the document (or the required field it lacks); a valid one always yields
// lookup tables whose cookies build and read back, here and in net/http.

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/vcap-sticky/vcap-sticky/config"
	"github.com/vcap-sticky/vcap-sticky/cookie"
)

const fuzzGUID = "2f7d6c1a-0b3e-4c5d-8e9f-0a1b2c3d4e5f"

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"routes":[{"host":"app.example","instances":[{"id":"a","address":"10.0.0.1:8080"}]}]}`))
	f.Add([]byte(`{"session_cookie_names":["JSESSIONID","SESSION"],"secure_cookies":true,
		"pinning":{"mode":"stateful_session","header":"x-session"},"strict":true,"negotiate":true,
		"instance_headers":true,"log_decisions":true,"routes":[{"host":"*","path":"/app","instances":[
		{"id":"i-1","address":"[::1]:9000","app_guid":"` + fuzzGUID + `","index":3,"cluster":"app-1"}]}]}`))
	f.Add([]byte(`{"pinning":{"mode":"cluster"},"routes":[{"host":"a.example","path":"/x","instances":[
		{"id":"a","address":"127.0.0.1:1","cluster":"c_a"},{"id":"b","address":"127.0.0.1:2","cluster":"c_b"}]},
		{"host":"a.example","instances":[{"id":"a","address":"127.0.0.1:1","cluster":"c_r"}]}]}`))
	f.Add([]byte(`{"routes":[{"host":"h","path":"/a\"b","instances":[{"id":"a","address":"127.0.0.1:1"}]}]}`))
	f.Add([]byte(`{"strict":{` + "\n" + `},"routes":[]}`))
	f.Add([]byte(`{"rou\ntes":[]}`))
	f.Add([]byte(`{"routes":[{"host":"h","instances":[{"id":"a","address":"127.0.0.1:1","index":1e3}]}]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data)
		checkResult(t, data, cfg, err)
	})
}

// FuzzParseFields puts fuzzed strings into every field of a one-route
// configuration, so that the field validators (rather than the JSON syntax)
// are what the fuzzer works on.
func FuzzParseFields(f *testing.F) {
	f.Add("JSESSIONID", "override_host", "x-vcap-sticky-upstream", "app.example", "/", "a", "10.0.0.1:8080", fuzzGUID, "0", "c_a")
	f.Add("SESSION", "stateful_session", "x-pin", "*", "/app", "i-1", "[::1]:9000", fuzzGUID, "3", "app-1")
	f.Add("JSESSIONID", "cluster", "x-pin", "A.Example", "/a\"b", "a\\b", "[fe80::1%eth0]:80", strings.ToUpper(fuzzGUID), "-1", "a b")
	f.Add("__VCAP_ID__", "magic", "Cookie", "h:80", "/app/", strings.Repeat("i", 257), "1.2.3.4:0", "", "1.5", "")
	f.Add("a b", "override_host", ":authority", "", "app", "", "::1:80", fuzzGUID, "", "c\r\nx")
	f.Fuzz(func(t *testing.T, sessionName, mode, header, host, path, id, address, guid, index, cluster string) {
		q := func(s string) string {
			b, _ := json.Marshal(s)
			return string(b)
		}
		inst := `"id":` + q(id) + `,"address":` + q(address)
		if guid != "" {
			inst += `,"app_guid":` + q(guid)
		}
		if index != "" {
			inst += `,"index":` + index // raw: numbers, and whatever else the fuzzer makes of it
		}
		if cluster != "" {
			inst += `,"cluster":` + q(cluster)
		}
		data := []byte(`{"session_cookie_names":[` + q(sessionName) + `],"pinning":{"mode":` + q(mode) +
			`,"header":` + q(header) + `},"routes":[{"host":` + q(host) + `,"path":` + q(path) +
			`,"instances":[{` + inst + `}]}]}`)
		cfg, err := config.Parse(data)
		checkResult(t, data, cfg, err)
		if !gjson.ValidBytes(data) {
			return // a raw index that broke the JSON
		}
		const idField = "routes[0].instances[0].id"
		var cerr *config.Error
		errors.As(err, &cerr)
		switch {
		case !idOK(id) && err == nil:
			t.Fatalf("id %q accepted", id)
		case idOK(id) && cerr != nil && cerr.Field == idField:
			t.Fatalf("id %q refused: %v", id, err)
		}
		if err != nil {
			fields := []string{"session_cookie_names[0]", "pinning.mode", "pinning.header", "routes[0].host",
				"routes[0].path", idField, "routes[0].instances[0].address", "routes[0].instances[0].app_guid",
				"routes[0].instances[0].index", "routes[0].instances[0].cluster"}
			found := false
			for _, f := range fields {
				found = found || cerr.Field == f
			}
			if !found {
				t.Fatalf("%s: error names no fuzzed field: %v", data, err)
			}
		}
	})
}

// FuzzInstanceID is the __VCAP_ID__ value check: an id is accepted exactly
// when it is 1 to 256 bytes that net/http writes into a cookie unchanged, and
// an accepted id reads back from the Cookie header a browser sends.
func FuzzInstanceID(f *testing.F) {
	for _, id := range []string{"a", "d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f", "a b", "a,b", "a;b", `"a"`, "a\\b",
		"\x00", "é", "!#$%&'()*+-./:<=>?@[]^_`{|}~", strings.Repeat("x", 256), strings.Repeat("x", 257), ""} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		b, _ := json.Marshal(id)
		data := []byte(`{"routes":[{"host":"h","path":"/app","instances":[{"id":` + string(b) + `,"address":"127.0.0.1:1"}]}]}`)
		cfg, err := config.Parse(data)
		checkResult(t, data, cfg, err)
		if want := idOK(id); (err == nil) != want {
			t.Fatalf("id %q: Parse error %v, want accepted=%v", id, err, want)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: routes[0].instances[0].id: ") {
				t.Fatalf("id %q: error %q does not name the id", id, err)
			}
			return
		}
		r := cfg.Routes.Match("h", "/app")
		if r == nil || r.ByID(id) == nil {
			t.Fatalf("id %q: not found after Parse", id)
		}
		req := &http.Request{Header: http.Header{"Cookie": {"JSESSIONID=s; __VCAP_ID__=" + id}}}
		if c, err := req.Cookie(config.VCAPCookie); err != nil || c.Value != id {
			t.Fatalf("id %q: a browser's Cookie header reads back as %v, %v", id, c, err)
		}
		if v, ok := cookie.Get("JSESSIONID=s; __VCAP_ID__="+id, config.VCAPCookie); !ok || v != id {
			t.Fatalf("id %q: cookie.Get reads %q, %v", id, v, ok)
		}
	})
}

// idOK is the documented rule, checked against net/http rather than the
// cookie package: 1 to 256 bytes that net/http writes exactly as given and
// reads back as given.
func idOK(id string) bool {
	if len(id) < 1 || len(id) > config.MaxIDLength {
		return false
	}
	s := (&http.Cookie{Name: config.VCAPCookie, Value: id}).String()
	back, err := http.ParseSetCookie(s)
	return s == config.VCAPCookie+"="+id && err == nil && back.Value == id
}

// checkResult checks what Parse returned for data.
func checkResult(t *testing.T, data []byte, cfg *config.Config, err error) {
	t.Helper()
	if (cfg == nil) == (err == nil) {
		t.Fatalf("Parse(%q) = %v, %v: want exactly one of config and error", data, cfg, err)
	}
	if err != nil {
		checkError(t, data, err)
		return
	}
	checkConfig(t, data, cfg)
}

// checkError: a *config.Error, one printable line, naming a field of the
// document (or one it must have).
func checkError(t *testing.T, data []byte, err error) {
	t.Helper()
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse(%q): error %T %v is not a *config.Error", data, err, err)
	}
	msg := err.Error()
	if cerr.Field == "" {
		if msg != "config: "+cerr.Reason {
			t.Fatalf("Parse(%q): error %q", data, msg)
		}
	} else if !strings.HasPrefix(msg, "config: "+cerr.Field+": ") {
		t.Fatalf("Parse(%q): error %q does not start with the field %q", data, msg, cerr.Field)
	}
	if cerr.Reason == "" {
		t.Fatalf("Parse(%q): error %q gives no reason", data, msg)
	}
	for i := 0; i < len(msg); i++ {
		if msg[i] < 0x20 || msg[i] == 0x7f {
			t.Fatalf("Parse(%q): error %q is not one printable line (byte %#x)", data, msg, msg[i])
		}
	}
	root := gjson.ParseBytes(data)
	if cerr.Field == "" {
		// Only the document as a whole: empty, not JSON, not an object.
		if gjson.ValidBytes(data) && root.IsObject() {
			t.Fatalf("Parse(%q): error %q names no field of a JSON object", data, msg)
		}
		return
	}
	if !gjson.ValidBytes(data) || !root.IsObject() {
		t.Fatalf("Parse(%q): error %q names a field of a document that has none", data, msg)
	}
	// The field's first name is a member of the document, or the required
	// "routes" it lacks.
	if cerr.Field == "routes" {
		return
	}
	named := false
	root.ForEach(func(k, _ gjson.Result) bool {
		key := fieldName(k.Str)
		named = cerr.Field == key || strings.HasPrefix(cerr.Field, key+".") || strings.HasPrefix(cerr.Field, key+"[")
		return !named
	})
	if !named {
		t.Fatalf("Parse(%q): error %q names no member of the document", data, msg)
	}
}

// checkConfig: the tables agree with themselves, and every cookie and header
// the filter will build from them is well-formed.
func checkConfig(t *testing.T, data []byte, cfg *config.Config) {
	t.Helper()
	if len(cfg.SessionCookieNames) == 0 {
		t.Fatalf("Parse(%q): no session cookie names", data)
	}
	for _, n := range cfg.SessionCookieNames {
		if !cookie.ValidName(n) || n == config.VCAPCookie || n == config.MetaCookie {
			t.Fatalf("Parse(%q): session cookie name %q", data, n)
		}
	}
	if cfg.PinHeader == "" || strings.ToLower(cfg.PinHeader) != cfg.PinHeader || !cookie.ValidName(cfg.PinHeader) {
		t.Fatalf("Parse(%q): pin header %q", data, cfg.PinHeader)
	}
	routes := cfg.Routes.All()
	if len(routes) == 0 {
		t.Fatalf("Parse(%q): no routes", data)
	}
	for _, r := range routes {
		if got := cfg.Routes.Match(r.Host, r.Path); got != r {
			t.Fatalf("Parse(%q): Match(%q, %q) is not its own route", data, r.Host, r.Path)
		}
		if len(r.Instances) == 0 {
			t.Fatalf("Parse(%q): route %s%s without instances", data, r.Host, r.Path)
		}
		for _, in := range r.Instances {
			if r.ByID(in.ID) != in || r.ByAddress(in.Address) != in {
				t.Fatalf("Parse(%q): instance %q not found by its id or address", data, in.ID)
			}
			if ap, err := netip.ParseAddrPort(in.Address); err != nil || ap.String() != in.Address || ap.Port() == 0 {
				t.Fatalf("Parse(%q): address %q is not canonical ip:port", data, in.Address)
			}
			if in.AppGUID != "" && (in.IndexText != strconv.Itoa(in.Index) || r.ByAppInstance(in.AppGUID+":"+in.IndexText) != in) {
				t.Fatalf("Parse(%q): instance %q not found by app instance", data, in.ID)
			}
			if !headerSafe(in.PinValue) {
				t.Fatalf("Parse(%q): pin value %q", data, in.PinValue)
			}
			// The __VCAP_ID__ (and META) cookie the filter builds for it.
			c := cookie.SetCookie{Name: config.VCAPCookie, Value: in.ID, Path: r.Path, HttpOnly: true}
			if err := c.Valid(); err != nil {
				t.Fatalf("Parse(%q): route %q instance %q: cookie does not build: %v", data, r.Path, in.ID, err)
			}
			s := c.String()
			hc := &http.Cookie{Name: config.VCAPCookie, Value: in.ID, Path: r.Path, HttpOnly: true}
			if hs := hc.String(); hs != s {
				t.Fatalf("Parse(%q): cookie %q, net/http writes %q", data, s, hs)
			}
			if back, err := http.ParseSetCookie(s); err != nil || back.Value != in.ID || back.Path != r.Path {
				t.Fatalf("Parse(%q): net/http reads %q back as %v, %v", data, s, back, err)
			}
		}
	}
}

// headerSafe: non-empty printable ASCII, without leading or trailing space.
func headerSafe(s string) bool {
	if s == "" || strings.TrimSpace(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// fieldName is how an error names member k: quoted if it is empty or holds
// a control byte.
func fieldName(k string) string {
	if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return strconv.Quote(k)
	}
	return k
}

func TestMain(m *testing.M) {
	// net/http logs every cookie value it sanitizes: idOK asks it on purpose.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
