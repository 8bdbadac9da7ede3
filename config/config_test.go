package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const guidA = "2f7d6c1a-0b3e-4c5d-8e9f-0a1b2c3d4e5f"

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`{"routes":[{"host":"App.Example.com","instances":[{"id":"a","address":"10.0.0.1:8080"}]}]}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"JSESSIONID"}, cfg.SessionCookieNames)
	assert.Equal(t, PinOverrideHost, cfg.PinMode)
	assert.Equal(t, DefaultPinHeader, cfg.PinHeader)
	assert.False(t, cfg.SecureCookies || cfg.Strict || cfg.Negotiate || cfg.InstanceHeaders || cfg.LogDecisions)
	assert.Equal(t, time.Second, cfg.MetricsFlushInterval)

	r := cfg.Routes.Match("app.example.com:443", "/anything?x=1")
	require.NotNil(t, r, "host is matched case-insensitively, port stripped")
	assert.Equal(t, "app.example.com", r.Host)
	assert.Equal(t, "/", r.Path)
	in := r.ByID("a")
	require.NotNil(t, in)
	assert.Equal(t, "10.0.0.1:8080", in.Address)
	assert.Equal(t, "10.0.0.1:8080", in.PinValue)
	assert.Same(t, in, r.ByAddress("10.0.0.1:8080"))
	assert.Nil(t, cfg.Routes.Match("other.example.com", "/"))
}

func TestParseFullConfig(t *testing.T) {
	cfg, err := Parse([]byte(`{
		"session_cookie_names": ["JSESSIONID", "SESSION"],
		"secure_cookies": true,
		"pinning": {"mode": "stateful_session", "header": "x-session"},
		"strict": true, "negotiate": true, "instance_headers": true, "log_decisions": true,
		"metrics_flush_interval_ms": 250,
		"routes": [{"host": "*", "path": "/app", "instances": [
			{"id": "i-1", "address": "[::1]:9000", "app_guid": "` + guidA + `", "index": 3, "cluster": "app-1"}
		]}]}`))
	require.NoError(t, err)
	assert.True(t, cfg.SecureCookies && cfg.Strict && cfg.Negotiate && cfg.InstanceHeaders && cfg.LogDecisions)
	assert.Equal(t, PinStatefulSession, cfg.PinMode)
	assert.Equal(t, "x-session", cfg.PinHeader)
	assert.Equal(t, 250*time.Millisecond, cfg.MetricsFlushInterval)
	assert.True(t, cfg.SessionCookie("SESSION"))
	assert.True(t, cfg.SessionCookie("__Host-JSESSIONID"), "the __Host- variant matches")
	assert.False(t, cfg.SessionCookie("__host-JSESSIONID"), "the prefix is case-sensitive")
	assert.False(t, cfg.SessionCookie("JSESSIONIDX"))

	r := cfg.Routes.Match("anything", "/app/page")
	require.NotNil(t, r)
	in := r.ByID("i-1")
	require.NotNil(t, in)
	assert.Equal(t, "[::1]:9000", in.Address)
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte("[::1]:9000")), in.PinValue)
	assert.Equal(t, 3, in.Index)
	assert.Same(t, in, r.ByAppInstance(guidA+":3"))
	assert.Nil(t, r.ByAppInstance(guidA+":4"))
}

func TestAddressesAreCanonical(t *testing.T) {
	cfg, err := Parse([]byte(`{"routes":[{"host":"*","instances":[{"id":"a","address":"[0:0:0:0:0:0:0:1]:80"}]}]}`))
	require.NoError(t, err)
	r := cfg.Routes.Match("h", "/")
	assert.NotNil(t, r.ByAddress("[::1]:80"), "Envoy reports IPv6 in its short form")
}

func TestClusterModeUsesClusterName(t *testing.T) {
	cfg, err := Parse([]byte(`{"pinning":{"mode":"cluster"},"routes":[{"host":"*","instances":[
		{"id":"a","address":"127.0.0.1:1","cluster":"app_a"},{"id":"b","address":"127.0.0.1:2","cluster":"app_b"}]}]}`))
	require.NoError(t, err)
	assert.Equal(t, "app_b", cfg.Routes.Match("h", "/").ByID("b").PinValue)
}

func TestRouteMatching(t *testing.T) {
	inst := func(id, port string) string {
		return `{"id":"` + id + `","address":"127.0.0.1:` + port + `"}`
	}
	cfg, err := Parse([]byte(`{"routes":[
		{"host":"a.example","instances":[` + inst("root", "1") + `]},
		{"host":"a.example","path":"/app","instances":[` + inst("app", "2") + `]},
		{"host":"a.example","path":"/app/admin","instances":[` + inst("admin", "3") + `]},
		{"host":"*","path":"/","instances":[` + inst("any", "4") + `]}]}`))
	require.NoError(t, err)
	for _, tc := range []struct{ authority, path, want string }{
		{"a.example", "/", "root"},
		{"a.example", "/apple", "root"},
		{"a.example", "/app", "app"},
		{"a.example", "/app?q=/app/admin", "app"},
		{"a.example", "/app/x", "app"},
		{"a.example", "/app/admin/y", "admin"},
		{"A.EXAMPLE:8080", "/app/admin", "admin"},
		{"b.example", "/app", "any"},
		{"[::1]:8080", "/", "any"},
		{"", "/", "any"},
		{"a.example:", "/app", "app"},
		// net/url's reading: a port is digits, else it is part of the host.
		{"a.example:abc", "/app", "any"},
		// Hosts compare in ASCII case only: U+212A KELVIN SIGN is no "k".
		{"A.EXAMPL\u212a", "/app", "any"},
		{"a.exampl\u212a", "/app", "any"},
	} {
		r := cfg.Routes.Match(tc.authority, tc.path)
		if assert.NotNil(t, r, "%s%s", tc.authority, tc.path) {
			assert.Equal(t, tc.want, r.Instances[0].ID, "%s%s", tc.authority, tc.path)
		}
	}
	assert.Len(t, cfg.Routes.All(), 4)
}

func TestIDsAreScopedToTheirRoute(t *testing.T) {
	cfg, err := Parse([]byte(`{"routes":[
		{"host":"a.example","instances":[{"id":"a1","address":"127.0.0.1:1"}]},
		{"host":"b.example","instances":[{"id":"b1","address":"127.0.0.1:2"}]}]}`))
	require.NoError(t, err)
	a := cfg.Routes.Match("a.example", "/")
	assert.NotNil(t, a.ByID("a1"))
	assert.Nil(t, a.ByID("b1"), "an id of another app is unknown here")
	assert.Nil(t, a.ByAddress("127.0.0.1:2"))
}

// Each invalid config must fail with an error naming the offending field.
func TestParseRejects(t *testing.T) {
	const ok = `{"id":"a","address":"127.0.0.1:1"}`
	routes := func(instances string) string {
		return `"routes":[{"host":"h","instances":[` + instances + `]}]`
	}
	for _, tc := range []struct{ name, json, field, reason string }{
		{"empty", ``, "", "empty"},
		{"not JSON", `{"routes":`, "", "not valid JSON"},
		{"not an object", `[]`, "", "JSON object"},
		{"unknown top field", `{"rutes":[]}`, "rutes", "unknown field"},
		{"repeated field", `{"strict":true,"strict":false,` + routes(ok) + `}`, "strict", "repeated"},
		{"no routes", `{}`, "routes", "required"},
		{"empty routes", `{"routes":[]}`, "routes", "non-empty"},
		{"bool as string", `{"strict":"yes",` + routes(ok) + `}`, "strict", "true or false"},
		{"flush interval negative", `{"metrics_flush_interval_ms":-1,` + routes(ok) + `}`, "metrics_flush_interval_ms", "whole number of milliseconds from 0 to 60000"},
		{"flush interval too long", `{"metrics_flush_interval_ms":60001,` + routes(ok) + `}`, "metrics_flush_interval_ms", "from 0 to 60000"},
		{"flush interval fraction", `{"metrics_flush_interval_ms":0.5,` + routes(ok) + `}`, "metrics_flush_interval_ms", "whole number"},
		{"flush interval string", `{"metrics_flush_interval_ms":"1s",` + routes(ok) + `}`, "metrics_flush_interval_ms", "whole number"},
		{"cookie names empty", `{"session_cookie_names":[],` + routes(ok) + `}`, "session_cookie_names", "non-empty"},
		{"cookie name invalid", `{"session_cookie_names":["a b"],` + routes(ok) + `}`, "session_cookie_names[0]", "not a valid cookie name"},
		{"cookie name ours", `{"session_cookie_names":["__VCAP_ID__"],` + routes(ok) + `}`, "session_cookie_names[0]", "own cookie"},
		{"cookie name host prefix", `{"session_cookie_names":["__Host-S"],` + routes(ok) + `}`, "session_cookie_names[0]", "__Host-"},
		{"cookie name twice", `{"session_cookie_names":["S","S"],` + routes(ok) + `}`, "session_cookie_names[1]", "twice"},
		{"pin mode unknown", `{"pinning":{"mode":"magic"},` + routes(ok) + `}`, "pinning.mode", "not one of"},
		{"pin header upper", `{"pinning":{"header":"X-Pin"},` + routes(ok) + `}`, "pinning.header", "lower-case"},
		{"pin header reserved", `{"pinning":{"header":"cookie"},` + routes(ok) + `}`, "pinning.header", "used by Envoy"},
		{"pin header pseudo", `{"pinning":{"header":":authority"},` + routes(ok) + `}`, "pinning.header", "lower-case HTTP header"},
		{"pinning unknown field", `{"pinning":{"mod":"cluster"},` + routes(ok) + `}`, "pinning.mod", "unknown field"},
		{"route unknown field", `{"routes":[{"host":"h","paths":"/","instances":[` + ok + `]}]}`, "routes[0].paths", "unknown field"},
		{"route no host", `{"routes":[{"instances":[` + ok + `]}]}`, "routes[0].host", "required"},
		{"route host with port", `{"routes":[{"host":"h:80","instances":[` + ok + `]}]}`, "routes[0].host", "without port"},
		{"route path relative", `{"routes":[{"host":"h","path":"app","instances":[` + ok + `]}]}`, "routes[0].path", "must start with /"},
		{"route path trailing slash", `{"routes":[{"host":"h","path":"/app/","instances":[` + ok + `]}]}`, "routes[0].path", "not end with /"},
		{"route path semicolon", `{"routes":[{"host":"h","path":"/a;b","instances":[` + ok + `]}]}`, "routes[0].path", ";"},
		{"route path quote", `{"routes":[{"host":"h","path":"/a\"b","instances":[` + ok + `]}]}`, "routes[0].path", "must start with /"},
		{"route path backslash", `{"routes":[{"host":"h","path":"/a\\b","instances":[` + ok + `]}]}`, "routes[0].path", "must start with /"},
		{"unknown field with a newline", `{"a\nb":1}`, `"a\nb"`, "unknown field"},
		{"empty field name", `{"":[]}`, `""`, "unknown field"},
		{"raw value with a newline", `{"strict":{` + "\n" + `},` + routes(ok) + `}`, "strict", `got "{\n}"`},
		{"route no instances", `{"routes":[{"host":"h"}]}`, "routes[0].instances", "non-empty"},
		{"route empty instances", `{"routes":[{"host":"h","instances":[]}]}`, "routes[0].instances", "non-empty"},
		{"route instances an object", `{"routes":[{"host":"h","instances":{"id":"a","address":"127.0.0.1:1"}}]}`, "routes[0].instances", "must be a non-empty array of instances, got {"},
		{"route instances a string", `{"routes":[{"host":"h","instances":"abc"}]}`, "routes[0].instances", `must be a non-empty array of instances, got "abc"`},
		{"pin header gorouter's", `{"pinning":{"header":"x-cf-instanceid"},` + routes(ok) + `}`, "pinning.header", "x-cf-* headers are gorouter's"},
		{"route twice", `{"routes":[{"host":"h","instances":[` + ok + `]},{"host":"H","instances":[` + ok + `]}]}`, "routes[1]", "already defined by routes[0]"},
		{"instance no id", `{` + routes(`{"address":"127.0.0.1:1"}`) + `}`, "routes[0].instances[0].id", "required"},
		{"instance no address", `{` + routes(`{"id":"a"}`) + `}`, "routes[0].instances[0].address", "required"},
		{"instance id with space", `{` + routes(`{"id":"a b","address":"127.0.0.1:1"}`) + `}`, "routes[0].instances[0].id", "cookie-safe"},
		{"instance id with semicolon", `{` + routes(`{"id":"a;b","address":"127.0.0.1:1"}`) + `}`, "routes[0].instances[0].id", "cookie-safe"},
		{"instance id too long", `{` + routes(`{"id":"`+strings.Repeat("a", MaxIDLength+1)+`","address":"127.0.0.1:1"}`) + `}`, "routes[0].instances[0].id", "cookie-safe"},
		{"instance id number", `{` + routes(`{"id":7,"address":"127.0.0.1:1"}`) + `}`, "routes[0].instances[0].id", "must be a string"},
		{"address no port", `{` + routes(`{"id":"a","address":"127.0.0.1"}`) + `}`, "routes[0].instances[0].address", "not ip:port"},
		{"address port 0", `{` + routes(`{"id":"a","address":"127.0.0.1:0"}`) + `}`, "routes[0].instances[0].address", "not ip:port"},
		{"address hostname", `{` + routes(`{"id":"a","address":"app.internal:80"}`) + `}`, "routes[0].instances[0].address", "not ip:port"},
		{"address v6 unbracketed", `{` + routes(`{"id":"a","address":"::1:80"}`) + `}`, "routes[0].instances[0].address", "not ip:port"},
		{"instance unknown field", `{` + routes(`{"id":"a","address":"127.0.0.1:1","weight":2}`) + `}`, "routes[0].instances[0].weight", "unknown field"},
		{"duplicate id", `{` + routes(ok+`,{"id":"a","address":"127.0.0.1:2"}`) + `}`, "routes[0].instances[1].id", "twice"},
		{"duplicate address", `{` + routes(ok+`,{"id":"b","address":"127.0.0.1:1"}`) + `}`, "routes[0].instances[1].address", "twice"},
		{"app guid upper", `{` + routes(`{"id":"a","address":"127.0.0.1:1","app_guid":"`+strings.ToUpper(guidA)+`","index":0}`) + `}`, "routes[0].instances[0].app_guid", "hex UUID"},
		{"app guid without index", `{` + routes(`{"id":"a","address":"127.0.0.1:1","app_guid":"`+guidA+`"}`) + `}`, "routes[0].instances[0].index", "required with app_guid"},
		{"index negative", `{` + routes(`{"id":"a","address":"127.0.0.1:1","index":-1}`) + `}`, "routes[0].instances[0].index", ">= 0"},
		{"index fraction", `{` + routes(`{"id":"a","address":"127.0.0.1:1","index":1.5}`) + `}`, "routes[0].instances[0].index", ">= 0"},
		{"duplicate app index", `{` + routes(`{"id":"a","address":"127.0.0.1:1","app_guid":"`+guidA+`","index":0},{"id":"b","address":"127.0.0.1:2","app_guid":"`+guidA+`","index":0}`) + `}`, "routes[0].instances[1].index", "twice"},
		{"cluster mode without cluster", `{"pinning":{"mode":"cluster"},` + routes(ok) + `}`, "routes[0].instances[0].cluster", "required"},
		{"cluster bad name", `{` + routes(`{"id":"a","address":"127.0.0.1:1","cluster":"a b"}`) + `}`, "routes[0].instances[0].cluster", "not a cluster name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.json))
			require.Error(t, err)
			assert.Nil(t, cfg)
			var cerr *Error
			require.True(t, errors.As(err, &cerr), "%T", err)
			assert.Equal(t, tc.field, cerr.Field)
			assert.Contains(t, cerr.Reason, tc.reason)
			assert.True(t, strings.HasPrefix(err.Error(), "config: "))
		})
	}
}

func TestIsAppGUID(t *testing.T) {
	assert.True(t, IsAppGUID(guidA))
	for _, bad := range []string{"", guidA[:35], guidA + "0", strings.ToUpper(guidA),
		strings.Replace(guidA, "-", "x", 1), "2f7d6c1a_0b3e-4c5d-8e9f-0a1b2c3d4e5f", "g" + guidA[1:]} {
		assert.False(t, IsAppGUID(bad), bad)
	}
}

// Lookups find what the configuration lists, and nothing else, whatever the
// table's size: small tables are searched one by one, larger ones hashed
// (smallTable), and both must agree with the configuration.
func TestLookupsAtEverySize(t *testing.T) {
	for _, n := range []int{1, 2, smallTable, smallTable + 1, 3 * smallTable} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			var routes []string
			for h := range n {
				var instances []string
				for i := range n {
					instances = append(instances, fmt.Sprintf(`{"id":"id-%d-%d","address":"10.%d.0.%d:8080","app_guid":%q,"index":%d}`,
						h, i, h, i+1, guidA, i))
				}
				routes = append(routes,
					fmt.Sprintf(`{"host":"h%d.example.com","path":"/app","instances":[%s]}`, h, strings.Join(instances, ",")),
					fmt.Sprintf(`{"host":"h%d.example.com","path":"/app/admin","instances":[{"id":"admin-%d","address":"10.%d.1.1:8080"}]}`, h, h, h))
			}
			cfg, err := Parse([]byte(`{"routes":[` + strings.Join(routes, ",") + `,{"host":"*","instances":[{"id":"any","address":"10.255.0.1:8080"}]}]}`))
			require.NoError(t, err)
			for h := range n {
				host := fmt.Sprintf("h%d.example.com", h)
				r := cfg.Routes.Match(strings.ToUpper(host)+":8443", "/app/cart?x=1")
				require.NotNil(t, r, host)
				assert.Equal(t, host, r.Host)
				assert.Equal(t, "/app", r.Path)
				admin := cfg.Routes.Match(host, "/app/admin/users")
				require.NotNil(t, admin)
				assert.Equal(t, "/app/admin", admin.Path, "the longest path wins")
				assert.Nil(t, cfg.Routes.Match(host, "/other"), "a host with routes never falls back to the wildcard")
				for i := range n {
					id, addr := fmt.Sprintf("id-%d-%d", h, i), fmt.Sprintf("10.%d.0.%d:8080", h, i+1)
					in := r.ByID(id)
					require.NotNil(t, in, id)
					assert.Equal(t, addr, in.Address)
					assert.Same(t, in, r.ByAddress(addr))
					assert.Same(t, in, r.ByAddress("envoy://connect_originate/"+addr), "an internal address names its endpoint")
					assert.Same(t, in, r.ByAppInstance(fmt.Sprintf("%s:%d", guidA, i)))
					assert.Nil(t, admin.ByID(id), "an id of another route")
				}
				assert.Nil(t, r.ByID(fmt.Sprintf("id-%d-%d", h, n)))
				assert.Nil(t, r.ByID(""))
				assert.Nil(t, r.ByAddress(fmt.Sprintf("10.%d.0.%d:8081", h, 1)))
				assert.Nil(t, r.ByAppInstance(fmt.Sprintf("%s:%d", guidA, n)))
				assert.Nil(t, r.ByAppInstance(guidA+":0 "))
				assert.Nil(t, r.ByAppInstance(guidA+"0"))
				assert.Nil(t, r.ByAppInstance(":0"))
				assert.Nil(t, admin.ByAppInstance(guidA+":0"), "an instance without app_guid has no app instance")
			}
			assert.Equal(t, "*", cfg.Routes.Match(fmt.Sprintf("h%d.example.com", n), "/app").Host)
			assert.Equal(t, "*", cfg.Routes.Match("", "/").Host)
			// Index is the position in the configuration: route 2h+1 is
			// host h's admin route, the wildcard is last.
			all := cfg.Routes.All()
			require.Len(t, all, 2*n+1)
			for _, r := range all {
				want := len(all) - 1
				if r.Host != "*" {
					h, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.Host, "h"), ".example.com"))
					require.NoError(t, err)
					want = 2 * h
					if r.Path == "/app/admin" {
						want++
					}
				}
				assert.Equal(t, want, r.Index, "%s%s", r.Host, r.Path)
			}
		})
	}
}

// A large route's index finds every instance by each key, and nothing else.
func TestLargeRouteIndex(t *testing.T) {
	const n = 5000
	var instances []string
	for i := range n {
		instances = append(instances, fmt.Sprintf(`{"id":"i%d","address":"10.0.%d.%d:%d","app_guid":%q,"index":%d}`, i, i/250, i%250, 8000+i%7, guidA, i))
	}
	cfg, err := Parse([]byte(`{"routes":[{"host":"big.example","instances":[` + strings.Join(instances, ",") + `]}]}`))
	require.NoError(t, err)
	r := cfg.Routes.Match("big.example", "/")
	require.Len(t, r.Instances, n)
	for i := range n {
		in := r.ByID(fmt.Sprintf("i%d", i))
		require.NotNil(t, in, i)
		require.Equal(t, fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250, 8000+i%7), in.Address)
		require.Same(t, in, r.ByAddress(in.Address))
		require.Same(t, in, r.ByAppInstance(fmt.Sprintf("%s:%d", guidA, i)))
		require.Nil(t, r.ByID(fmt.Sprintf("i%d ", i)))
		require.Nil(t, r.ByAddress(fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250, 7000+i%7)))
	}
	require.Nil(t, r.ByAppInstance(fmt.Sprintf("%s:%d", guidA, n)))
	_, err = Parse([]byte(`{"routes":[{"host":"big.example","instances":[` + strings.Join(instances, ",") + `,{"id":"i17","address":"10.9.9.9:1"}]}]}`))
	require.ErrorContains(t, err, `routes[0].instances[5000].id: "i17" is used twice in this route`)
}

// A route large enough to be indexed in one pass (index.go, build) names
// the first repeat in document order, as one indexed instance by instance
// does, whichever key repeats and wherever the first holder is.
func TestLargeRouteNamesTheFirstRepeat(t *testing.T) {
	const n = 6000
	instance := func(i int) (id, address string) {
		return fmt.Sprintf("i%d", i), fmt.Sprintf("10.1.%d.%d:8080", i/250, i%250)
	}
	for _, tc := range []struct {
		name    string
		repeats map[int]int // position -> the earlier position whose key it takes
		idAt    map[int]bool
		want    string
	}{
		{"an address, then an id", map[int]int{3000: 10, 4000: 20}, map[int]bool{4000: true},
			`routes[0].instances[3000].address: "10.1.0.10:8080" is used twice in this route`},
		{"an id, then an address", map[int]int{3000: 10, 4000: 20}, map[int]bool{3000: true},
			`routes[0].instances[3000].id: "i10" is used twice in this route`},
		{"the first instance's id, last", map[int]int{n - 1: 0}, map[int]bool{n - 1: true},
			`routes[0].instances[5999].id: "i0" is used twice in this route`},
		{"neighbours' addresses", map[int]int{5001: 5000}, nil,
			`routes[0].instances[5001].address: "10.1.20.0:8080" is used twice in this route`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var instances []string
			for i := range n {
				id, address := instance(i)
				if from, ok := tc.repeats[i]; ok {
					if fromID, fromAddress := instance(from); tc.idAt[i] {
						id = fromID
					} else {
						address = fromAddress
					}
				}
				instances = append(instances, fmt.Sprintf(`{"id":%q,"address":%q}`, id, address))
			}
			_, err := Parse([]byte(`{"routes":[{"host":"big.example","instances":[` + strings.Join(instances, ",") + `]}]}`))
			require.EqualError(t, err, "config: "+tc.want)
		})
	}
}

// The one-pass build at a size whose table has more regions than its
// counting sort keeps (over 2^20 slots): every key is found, none invented.
func TestBulkIndexOfAMillionSlots(t *testing.T) {
	const n = 600_000
	instances := make([]*Instance, n)
	for i := range instances {
		instances[i] = &Instance{ID: fmt.Sprintf("i%d", i)}
	}
	x := newInstanceIndex(n)
	require.Greater(t, len(x.slots), 1<<20)
	require.True(t, x.build(instances, keyID, make([]uint64, n/3+1)), "in three chunks")
	for i := 0; i < n; i += 997 {
		require.Same(t, instances[i], x.find(instances, keyID, instances[i].ID))
	}
	require.Nil(t, x.find(instances, keyID, "i600000"))
	instances[n-1].ID = "i0"
	x = newInstanceIndex(n)
	require.False(t, x.build(instances, keyID, make([]uint64, 4096)), "a repeated id, across chunks")
	require.False(t, slices.ContainsFunc(x.slots, func(s uint64) bool { return s != 0 }), "the table is left empty")
}
