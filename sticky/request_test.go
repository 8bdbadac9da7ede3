package sticky

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Every Cookie header counts, the first occurrence of a name winning across
// them, as net/http's Request.Cookie reads a request (gorouter's reader).
func TestCookieHeadersAllCount(t *testing.T) {
	e := grEngine(t, "")
	for _, tc := range []struct {
		name    string
		cookies []string
		want    string // the pinned instance, "" for none
	}{
		{"session and id apart", []string{"JSESSIONID=s", "__VCAP_ID__=id-2"}, "id-2"},
		{"id first, session second", []string{"__VCAP_ID__=id-2", "JSESSIONID=s"}, "id-2"},
		{"first id wins across headers", []string{"JSESSIONID=s; __VCAP_ID__=id-1", "__VCAP_ID__=id-2"}, "id-1"},
		{"an empty first id is no id", []string{"__VCAP_ID__=; JSESSIONID=s", "__VCAP_ID__=id-2"}, ""},
		{"an empty header", []string{"", "JSESSIONID=s; __VCAP_ID__=id-2"}, "id-2"},
		{"no session in any", []string{"__VCAP_ID__=id-2", "theme=dark"}, ""},
	} {
		var req Request
		pairs := [][2]string{{":authority", grHost}, {":path", "/"}}
		for _, c := range tc.cookies {
			pairs = append(pairs, [2]string{"cookie", c})
		}
		req.Read(pairs, e.cfg.PinHeader)
		d := e.Decide(&req, fixedClock(fixedNow))
		got := ""
		if d.Pin != nil {
			got = d.Pin.ID
		}
		assert.Equal(t, tc.want, got, tc.name)
	}
}

// The Negotiate scheme: its name in any case, then a space or the end.
func TestIsNegotiate(t *testing.T) {
	for v, want := range map[string]bool{
		"Negotiate abc": true, "negotiate": true, "NEGOTIATE YII=": true,
		"Negotiated abc": false, "Negotiate\tabc": false, "Basic Zm9v": false, "": false, "Nego": false, " Negotiate x": false,
	} {
		assert.Equal(t, want, IsNegotiate(v), "%q", v)
	}
}

// The request step reads the clock only for a sealed token; a plain sticky
// hit, a new session and a local reply never do.
func TestRequestReadsNoClock(t *testing.T) {
	e := grEngine(t, `"negotiate":true`)
	clk := &countingClock{t: fixedNow}
	for _, pairs := range [][][2]string{
		{{"cookie", "JSESSIONID=s; __VCAP_ID__=id-1"}},
		{{"cookie", "__VCAP_ID__=gone"}, {"authorization", "Negotiate x"}},
		{{AppInstanceHeader, grAppGUID + ":2"}, {"cookie", "JSESSIONID=s; __VCAP_ID__=id-1"}},
		{},
	} {
		var req Request
		req.Read(append([][2]string{{":authority", grHost}, {":path", "/"}}, pairs...), e.cfg.PinHeader)
		e.Decide(&req, clk)
	}
	assert.Zero(t, clk.reads)
}
