package config

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The instances array parses the same whatever its layout, whether the
// one-pass scanner reads it or (at an escape, a nested value, an element
// that is not an object) gjson does: the expected instances and errors come
// from the documents as written.
func TestInstancesInAnyLayout(t *testing.T) {
	type inst struct{ id, address, guid, index string }
	three := []inst{{"a", "10.0.0.1:8080", "", ""}, {"b", "10.0.0.2:8080", guidA, "2"}, {"c", "[::1]:9000", "", ""}}
	for name, instances := range map[string]string{
		"compact": `[{"id":"a","address":"10.0.0.1:8080"},{"id":"b","address":"10.0.0.2:8080","app_guid":"` + guidA + `","index":2},{"id":"c","address":"[::1]:9000"}]`,
		"pretty": "[\n\t{\n\t\t\"id\": \"a\",\r\n\t\t\"address\" : \"10.0.0.1:8080\"\n\t} ,\n\t{ \"id\" : \"b\" , \"address\":\"10.0.0.2:8080\", \"app_guid\": \"" + guidA +
			"\", \"index\" : 2 },{\"id\":\"c\",\"address\":\"[::1]:9000\"}\n]",
		"escape in a value":        `[{"id":"a","address":"10.0.0.1:8080"},{"id":"\u0062","address":"10.0.0.2:8080","app_guid":"` + guidA + `","index":2},{"id":"c","address":"[::1]:9000"}]`,
		"escape in the last key":   `[{"id":"a","address":"10.0.0.1:8080"},{"id":"b","address":"10.0.0.2:8080","app_guid":"` + guidA + `","index":2},{"id":"c","addr\u0065ss":"[::1]:9000"}]`,
		"address not in canonical": `[{"id":"a","address":"10.0.0.1:08080"},{"id":"b","address":"10.0.0.2:8080","app_guid":"` + guidA + `","index":2},{"id":"c","address":"[0:0::1]:9000"}]`,
	} {
		cfg, err := Parse([]byte(`{"routes":[{"host":"h","instances":` + instances + `}]}`))
		require.NoError(t, err, name)
		r := cfg.Routes.Match("h", "/")
		require.Len(t, r.Instances, len(three), name)
		for i, want := range three {
			in := r.Instances[i]
			assert.Equal(t, want, inst{in.ID, in.Address, in.AppGUID, in.IndexText}, "%s: instance %d", name, i)
			assert.Same(t, in, r.ByID(want.id), name)
			assert.Same(t, in, r.ByAddress(want.address), name)
		}
	}
}

// The first error in document order, with the scanner or with gjson.
func TestInstancesFirstErrorInAnyLayout(t *testing.T) {
	const a, b = `{"id":"a","address":"10.0.0.1:8080"}`, `{"id":"b","address":"10.0.0.2:8080"}`
	for _, tc := range []struct{ name, instances, field, reason string }{
		{"a bad address", a + `,{"id":"b","address":"10.0.0.2"}`, "routes[0].instances[1].address", "not ip:port"},
		{"port 0", a + `,{"id":"b","address":"10.0.0.2:0"}`, "routes[0].instances[1].address", "not ip:port"},
		{"a repeated member", a + `,{"id":"b","address":"10.0.0.2:8080","id":"c"}`, "routes[0].instances[1].id", "repeated in routes[0].instances[1]"},
		{"a repeated member, escaped", a + `,{"id":"b","address":"10.0.0.2:8080","\u0069d":"c"}`, "routes[0].instances[1].id", "repeated in routes[0].instances[1]"},
		{"null", a + `,{"id":"b","address":null}`, "routes[0].instances[1].address", "must be a string, got null"},
		{"true", a + `,{"id":"b","address":"10.0.0.2:8080","index":true}`, "routes[0].instances[1].index", "whole number >= 0, got true"},
		{"a fraction", a + `,{"id":"b","address":"10.0.0.2:8080","index":1.5e1}`, "routes[0].instances[1].index", "got 1.5e1"},
		{"a nested value", a + `,` + b + `,{"id":"c","address":{"ip":"10.0.0.3"}}`, "routes[0].instances[2].address", `must be a string, got {"ip":"10.0.0.3"}`},
		{"not an object", a + `,` + b + `,"c"`, "routes[0].instances[2]", "must be a JSON object"},
		{"a required member", a + `, {} ,` + b, "routes[0].instances[1].id", "required"},
		{"a repeat before a nested value", a + `,{"id":"a","address":"10.0.0.3:8080"},{"id":"c","address":["x"]}`, "routes[0].instances[1].id", "used twice"},
		{"a bad id before an escape", a + `,{"id":"b c","address":"10.0.0.2:8080"},{"id":"\u0063","address":"10.0.0.3:8080"}`, "routes[0].instances[1].id", "cookie-safe"},
	} {
		_, err := Parse([]byte(`{"routes":[{"host":"h","instances":[` + tc.instances + `]}]}`))
		var cerr *Error
		require.ErrorAs(t, err, &cerr, tc.name)
		assert.Equal(t, tc.field, cerr.Field, tc.name)
		assert.Contains(t, cerr.Reason, tc.reason, tc.name)
	}
}

func TestCanonicalIPv4Port(t *testing.T) {
	for s, want := range map[string]bool{
		"10.0.0.1:8080": true, "0.0.0.0:1": true, "255.255.255.255:65535": true, "1.2.3.4:80": true,
		"10.0.0.1:0": false, "10.0.0.1:65536": false, "10.0.0.1:08080": false, "010.0.0.1:80": false,
		"10.0.0.256:80": false, "10.0.0:80": false, "10.0.0.1.2:80": false, "10.0.0.1": false, "10.0.0.1:": false,
		":80": false, "": false, "10.0.0.1:80 ": false, "[::1]:80": false, "1.2.3.4:123456": false, "1.2.3.4:-1": false,
		"1.2.3.1000:80": false, "1..3.4:80": false,
	} {
		assert.Equal(t, want, canonicalIPv4Port(s), s)
		assert.Equal(t, want, netipCanonicalIPv4Port(s), "the test's oracle disagrees on %q", s)
	}
}

// FuzzCanonicalIPv4Port: the shortcut accepts exactly what netip parses as
// an IPv4 address with a port other than 0 and writes back unchanged.
func FuzzCanonicalIPv4Port(f *testing.F) {
	for _, s := range []string{"10.0.0.1:8080", "10.0.0.1:08080", "1.2.3.4:0", "[::1]:80", "1.2.3.4:65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := canonicalIPv4Port(s), netipCanonicalIPv4Port(s); got != want {
			t.Fatalf("canonicalIPv4Port(%q) = %v, netip says %v", s, got, want)
		}
	})
}

func netipCanonicalIPv4Port(s string) bool {
	ap, err := netip.ParseAddrPort(s)
	return err == nil && ap.Addr().Is4() && ap.Port() != 0 && ap.String() == s
}
