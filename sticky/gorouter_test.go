package sticky

// gorouter's own test cases, ported as table tests of the core. Each row
// names the gorouter tests (file:line and It text) it comes from, in
// cloudfoundry/routing-release at 0447a617, under
// src/code.cloudfoundry.org/gorouter/: RT is
// proxy/round_tripper/proxy_round_tripper_test.go, LK handlers/lookup_test.go,
// PX proxy/proxy_test.go, IT integration/main_test.go. The setups and the
// expected values are gorouter's; gorouter's tests use an empty context path,
// this filter always writes the route's Path (here "/"), so every line has
// "Path=/". Where the filter deliberately differs, the row says so and
// asserts the documented behaviour (README, "Compatibility with gorouter").

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/config"
)

// gorouter's fixtures: endpoints id-1 and id-2 (RT "when using sticky
// sessions"), id-new-backend that a stale session falls back to, and the
// app of LK's requests (fakeAppGUID, index 1 absent).
const (
	grHost    = "example.com"
	grAppGUID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	grRoutes  = `"routes":[{"host":"example.com","instances":[
		{"id":"id-1","address":"1.1.1.1:9091","app_guid":"` + grAppGUID + `","index":0},
		{"id":"id-2","address":"1.1.1.1:9092","app_guid":"` + grAppGUID + `","index":2},
		{"id":"id-new-backend","address":"1.1.1.1:9093"}]}]`
	// RT's responseContainsJSESSIONIDWithExtraProperties.
	grExtra   = "JSESSIONID=u1; Expires=Wed, 01 Jan 2020 01:00:00 GMT; HttpOnly; Secure; SameSite=Strict"
	grExpires = "Expires=Wed, 01 Jan 2020 01:00:00 GMT"
)

var grAddr = map[string]string{"id-1": "1.1.1.1:9091", "id-2": "1.1.1.1:9092", "id-new-backend": "1.1.1.1:9093"}

type grCase struct {
	from    string // the gorouter tests the row ports
	config  string // plugin config beside the routes
	host    string // default grHost
	cookies []string
	auth    string
	// appInstance is X-CF-App-Instance ("" none).
	appInstance string
	// servedBy is the instance that answers; "" for none (a local reply).
	servedBy        string
	setCookies      []string
	wwwAuthenticate string

	wantPin     string   // instance pinned, "" none
	wantStatus  uint32   // a local reply
	wantError   string   // its X-Cf-RouterError
	wantBody    string   // its body
	wantCookies []string // the Set-Cookie lines the filter adds
	wantNote    string   // a substring of the response note (gorouter logs it)
	untouched   bool     // the filter leaves the request alone (no route)
}

// at is a unix time relative to the fixed clock, as a string.
func at(seconds int64) string { return strconv.FormatInt(fixedNow.Unix()+seconds, 10) }

var grCases = []grCase{
	// RT Context("Early Return: when the backend already sets VCAP_ID on the response").
	{from: `RT:1296 "does not overwrite it"; RT:2112 "leaves VCAP_ID alone and does not overwrite it"`,
		servedBy: "id-1", setCookies: []string{"__VCAP_ID__=vcap-id-property-already-on-the-response"}},
	{from: `RT:1312 "does not add a second VCAP_ID or META cookie"; RT:2095 "leaves VCAP_ID alone and does not overwrite it"`,
		servedBy: "id-1", setCookies: []string{"JSESSIONID=u1", "__VCAP_ID__=vcap-id-property-already-on-the-response"}},

	// RT Context("Auth Negotiation Scenario"); the suite turns negotiate on.
	{from: `RT:1340 "routes the request to the sticky endpoint and does not set VCAP_ID (endpoint unchanged)"`,
		config: `"negotiate":true`, cookies: []string{"__VCAP_ID__=id-2"}, auth: "Negotiate SOME-TOKEN",
		wantPin: "id-2", servedBy: "id-2"},
	{from: `RT:1369 "does not set VCAP_ID on the response (endpoint unchanged, no cookie update needed)"`,
		config: `"negotiate":true`, cookies: []string{"__VCAP_ID__=id-2"}, auth: "Negotiate SOME-TOKEN",
		wantPin: "id-2", servedBy: "id-2", wwwAuthenticate: "Negotiate SOME-TOKEN"},
	{from: `RT:1403 "sets VCAP_ID with Negotiate defaults (MaxAge=60, SameSite=Strict) on the new backend"`,
		config: `"negotiate":true`, cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-1; __VCAP_ID_META__="},
		wantPin: "id-1", servedBy: "id-new-backend", wwwAuthenticate: "Negotiate SOME-TOKEN",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"}},
	{from: `RT:1426 "will select an endpoint and set VCAP_ID to the privateInstanceId"`,
		config: `"negotiate":true`, servedBy: "id-1", wwwAuthenticate: "Negotiate SOME-TOKEN",
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"}},
	{from: `RT:1452 "sets the auth negotiate default properties on VCAP_ID"`,
		config: `"negotiate":true`, servedBy: "id-1", wwwAuthenticate: "Negotiate SOME-TOKEN", setCookies: []string{grExtra},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"}},
	{from: `RT:1473 "sets the auth negotiate default properties with Secure on VCAP_ID"`,
		config: `"negotiate":true,"secure_cookies":true`, servedBy: "id-1", wwwAuthenticate: "Negotiate SOME-TOKEN", setCookies: []string{grExtra},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:1494 "does not set VCAP_ID cookie" (Negotiate stickiness off)`,
		servedBy: "id-1", wwwAuthenticate: "Negotiate SOME-TOKEN"},
	{from: `RT:1512 "sets VCAP_ID via the JSESSIONID path (Negotiate path is skipped)"`,
		servedBy: "id-1", wwwAuthenticate: "Negotiate SOME-TOKEN", setCookies: []string{grExtra},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict",
			"__VCAP_ID_META__=secure&expires=1577840400&samesite=strict; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict"}},
	// gorouter has no It for it (proxy_round_tripper.go, FindStickyEndpoint
	// and the error handler): a Negotiate request whose instance is gone.
	{from: `proxy_round_tripper.go selectEndpoint / error_handler.go: must-be-sticky endpoint missing`,
		config: `"negotiate":true`, cookies: []string{"__VCAP_ID__=id-gone"}, auth: "Negotiate SOME-TOKEN",
		wantStatus: 502, wantError: "endpoint_failure (No endpoints available)",
		wantBody: "502 Bad Gateway: Registered endpoint failed to handle the request.\n"},

	// RT Context("New Session Scenario").
	{from: `RT:1538 "selects an endpoint and sets VCAP_ID and VCAP_ID_META"`,
		servedBy: "id-1", setCookies: []string{"JSESSIONID=u1"},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly"}},
	{from: `RT:1555 "creates non-partitioned VCAP_ID cookies with matching attributes"; RT:1572 "encodes secure, samesite=strict, and expires= in VCAP_ID_META"`,
		servedBy: "id-1", setCookies: []string{grExtra},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict",
			"__VCAP_ID_META__=secure&expires=1577840400&samesite=strict; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:1598 "creates partitioned VCAP_ID and VCAP_ID_META cookies with partitioned in meta"`,
		servedBy: "id-1", setCookies: []string{grExtra + "; Partitioned"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict; Partitioned",
			"__VCAP_ID_META__=secure&partitioned&expires=1577840400&samesite=strict; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict; Partitioned"}},
	{from: `RT:1640 "copies MaxAge=-1 to VCAP_ID and stores maxage=-1 in VCAP_ID_META"`,
		servedBy: "id-1", setCookies: []string{"JSESSIONID=session-to-delete; Max-Age=0; HttpOnly; Secure; SameSite=Strict"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
			"__VCAP_ID_META__=secure&maxage=-1&samesite=strict; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:1678 "copies MaxAge to VCAP_ID and stores absolute epoch in VCAP_ID_META maxage="`,
		servedBy: "id-1", setCookies: []string{"JSESSIONID=session-value; Max-Age=3600"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; Max-Age=3600; HttpOnly",
			"__VCAP_ID_META__=maxage=" + at(3600) + "; Path=/; Max-Age=3600; HttpOnly"}},
	{from: `RT:1726 "sets VCAP_ID as a session cookie and VCAP_ID_META with no expiry flags"`,
		servedBy: "id-1", setCookies: []string{"JSESSIONID=session-value; HttpOnly; Secure; SameSite=Strict"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure; SameSite=Strict",
			"__VCAP_ID_META__=secure&samesite=strict; Path=/; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:1764 "sets Secure on VCAP_ID and VCAP_ID_META, and encodes secure in VCAP_ID_META"`,
		config: `"secure_cookies":true`, servedBy: "id-1", setCookies: []string{"JSESSIONID=u1; Secure"},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure", "__VCAP_ID_META__=secure; Path=/; HttpOnly; Secure"}},
	{from: `RT:1786 "enforces Secure on VCAP_ID and VCAP_ID_META, and encodes secure in VCAP_ID_META"`,
		config: `"secure_cookies":true`, servedBy: "id-1", setCookies: []string{"JSESSIONID=u1"},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure", "__VCAP_ID_META__=secure; Path=/; HttpOnly; Secure"}},
	{from: `RT:1833 "creates a VCAP_ID + META pair for each JSESSIONID"`,
		servedBy: "id-1", setCookies: []string{
			"JSESSIONID=new-session-value; HttpOnly; Secure; SameSite=None; Partitioned",
			"JSESSIONID=old-session-value; Max-Age=0; HttpOnly; Secure"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure; SameSite=None; Partitioned",
			"__VCAP_ID_META__=secure&partitioned&samesite=none; Path=/; HttpOnly; Secure; SameSite=None; Partitioned",
			"__VCAP_ID__=id-1; Path=/; Max-Age=0; HttpOnly; Secure",
			"__VCAP_ID_META__=secure&maxage=-1; Path=/; Max-Age=0; HttpOnly; Secure"}},
	{from: `RT:1898 "each VCAP_ID inherits the correct SameSite from its corresponding JSESSIONID"`,
		servedBy: "id-1", setCookies: []string{"JSESSIONID=session-strict; HttpOnly; SameSite=Strict", "JSESSIONID=session-lax; HttpOnly; SameSite=Lax"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; HttpOnly; SameSite=Strict", "__VCAP_ID_META__=samesite=strict; Path=/; HttpOnly; SameSite=Strict",
			"__VCAP_ID__=id-1; Path=/; HttpOnly; SameSite=Lax", "__VCAP_ID_META__=samesite=lax; Path=/; HttpOnly; SameSite=Lax"}},
	{from: `RT:1942 "sets Secure on all VCAP_ID and VCAP_ID_META cookies"`,
		config: `"secure_cookies":true`, servedBy: "id-1",
		setCookies: []string{"JSESSIONID=new-session; HttpOnly; Partitioned", "JSESSIONID=old-session; Max-Age=0; HttpOnly"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure; Partitioned", "__VCAP_ID_META__=secure&partitioned; Path=/; HttpOnly; Secure; Partitioned",
			"__VCAP_ID__=id-1; Path=/; Max-Age=0; HttpOnly; Secure", "__VCAP_ID_META__=secure&maxage=-1; Path=/; Max-Age=0; HttpOnly; Secure"}},
	{from: `RT:1983 "recognizes the cookie and adds VCAP_ID and VCAP_ID_META" (__Host-JSESSIONID)`,
		servedBy: "id-1", setCookies: []string{"__Host-JSESSIONID=host-session-value; HttpOnly; Secure; SameSite=Strict"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure; SameSite=Strict",
			"__VCAP_ID_META__=secure&samesite=strict; Path=/; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:2028 "creates a VCAP_ID + META pair for each session cookie"`,
		servedBy: "id-1", setCookies: []string{"JSESSIONID=plain-session; HttpOnly", "__Host-JSESSIONID=host-session; HttpOnly; Secure; SameSite=None"},
		wantCookies: []string{
			"__VCAP_ID__=id-1; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly",
			"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure; SameSite=None", "__VCAP_ID_META__=secure&samesite=none; Path=/; HttpOnly; Secure; SameSite=None"}},
	{from: `RT:2075 "sets Secure on VCAP_ID and VCAP_ID_META" (__Host-JSESSIONID, secure cookies)`,
		config: `"secure_cookies":true`, servedBy: "id-1", setCookies: []string{"__Host-JSESSIONID=host-session; HttpOnly"},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure", "__VCAP_ID_META__=secure; Path=/; HttpOnly; Secure"}},

	// RT Context("Existing Session Scenario").
	{from: `RT:2150 "recognizes the __Host- prefixed cookie for sticky routing and refreshes VCAP_ID"`,
		cookies: []string{"__Host-JSESSIONID=host-session-value; __VCAP_ID__=id-1; __VCAP_ID_META__=secure"},
		wantPin: "id-1", servedBy: "id-1", setCookies: []string{"__Host-JSESSIONID=host-session-value-refreshed; HttpOnly; Secure"},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; HttpOnly; Secure", "__VCAP_ID_META__=secure; Path=/; HttpOnly; Secure"}},
	{from: `RT:2194 "selects the previous backend and refreshes VCAP_ID and VCAP_ID_META"`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-2; __VCAP_ID_META__="}, wantPin: "id-2", servedBy: "id-2",
		setCookies:  []string{"JSESSIONID=u1"},
		wantCookies: []string{"__VCAP_ID__=id-2; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly"}},
	{from: `RT:2216 "sets VCAP_ID and VCAP_ID_META on the response with the same new cookie attributes"`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-2; __VCAP_ID_META__="}, wantPin: "id-2", servedBy: "id-2",
		setCookies: []string{grExtra},
		wantCookies: []string{
			"__VCAP_ID__=id-2; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict",
			"__VCAP_ID_META__=secure&expires=1577840400&samesite=strict; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:2242 "sets VCAP_ID and VCAP_ID_META with the same new cookie attributes" (partitioned)`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-2; __VCAP_ID_META__="}, wantPin: "id-2", servedBy: "id-2",
		setCookies: []string{grExtra + "; Partitioned"},
		wantCookies: []string{
			"__VCAP_ID__=id-2; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict; Partitioned",
			"__VCAP_ID_META__=secure&partitioned&expires=1577840400&samesite=strict; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict; Partitioned"}},
	{from: `RT:2273 "does not set cookies on the response"`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-2; __VCAP_ID_META__="}, wantPin: "id-2", servedBy: "id-2"},

	// RT Context("when the sticky endpoint no longer exists (stale session)"):
	// pinned to id-1, which Envoy no longer has; id-new-backend answers.
	{from: `RT:2315 "selects the new backend, updates VCAP_ID with JSESSIONID attributes, and updates VCAP_ID_META"`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-1; __VCAP_ID_META__="}, wantPin: "id-1", servedBy: "id-new-backend",
		setCookies: []string{grExtra},
		wantCookies: []string{
			"__VCAP_ID__=id-new-backend; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict",
			"__VCAP_ID_META__=secure&expires=1577840400&samesite=strict; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:2364 "updates VCAP_ID as partitioned and re-sets VCAP_ID_META, without JSESSIONID in the response"`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-1; __VCAP_ID_META__=partitioned"}, wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; HttpOnly; Partitioned"}},
	{from: `RT:2382 "restores Expires verbatim and preserved attributes on refreshed VCAP_ID"`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-1; __VCAP_ID_META__=secure&expires=1577840400&samesite=strict"},
		wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict"}},
	{from: `RT:2402 "refreshes VCAP_ID as a session cookie (no MaxAge, no Expires)"`,
		cookies: []string{"JSESSIONID=u1; __VCAP_ID__=id-1; __VCAP_ID_META__="}, wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; HttpOnly"}},
	{from: `RT:2426 "restores VCAP_ID with remaining MaxAge (no Expires)"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=maxage=" + at(3600)}, wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; Max-Age=3600; HttpOnly"}},
	{from: `RT:2459 "sets MaxAge=-1 on refreshed VCAP_ID (session has expired)"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=maxage=" + at(-10)}, wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; Max-Age=0; HttpOnly"}},
	{from: `RT:2486 "restores both remaining MaxAge and Expires verbatim on refreshed VCAP_ID"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=expires=1577840400&maxage=" + at(3600)},
		wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; " + grExpires + "; Max-Age=3600; HttpOnly"}},
	{from: `RT:2512 "updates VCAP_ID with defaults (no attribute preservation possible)"; RT:2524 "logs an info message that VCAP_ID_META was not found"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1"}, wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; HttpOnly"}, wantNote: "no __VCAP_ID_META__"},
	{from: `RT:2545 "logs an error that VCAP_ID_META could not be parsed"; RT:2551 "falls back to default cookie attributes on the refreshed VCAP_ID"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=partitioned=%ZZ"}, wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; HttpOnly"}, wantNote: "unreadable __VCAP_ID_META__"},
	{from: `RT:2582 "logs an error that VCAP_ID_META could not be parsed"; RT:2588 "preserves parseable attributes but falls back to default MaxAge"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=secure&samesite=strict&partitioned&maxage=notanumber&expires=1577840400"},
		wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; " + grExpires + "; HttpOnly; Secure; SameSite=Strict; Partitioned"},
		wantNote:    "unreadable attributes"},
	{from: `RT:2619 "logs an error that VCAP_ID_META could not be parsed"; RT:2625 "preserves parseable attributes but falls back to default Expires"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=secure&samesite=lax&expires=notanumber"},
		wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; HttpOnly; Secure; SameSite=Lax"}, wantNote: "unreadable attributes"},
	{from: `RT:2656 "logs an error that VCAP_ID_META could not be parsed"; RT:2662 "preserves parseable attributes but falls back to default SameSite"`,
		cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=secure&samesite=bogus"},
		wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; HttpOnly; Secure"}, wantNote: "unreadable attributes"},
	{from: `RT:2682 "enforces Secure on the refreshed VCAP_ID even though JSESSIONID was not Secure"`,
		config: `"secure_cookies":true`, cookies: []string{"JSESSIONID=s; __VCAP_ID__=id-1; __VCAP_ID_META__=secure"},
		wantPin: "id-1", servedBy: "id-new-backend",
		wantCookies: []string{"__VCAP_ID__=id-new-backend; Path=/; HttpOnly; Secure"}},
	{from: `RT:2881 "will always route to the instance specified with the __VCAP_ID__ cookie" (hash-based balancing)`,
		cookies: []string{"__VCAP_ID__=id-1; JSESSIONID=abc; __VCAP_ID__=id-1; JSESSIONID=abc"}, wantPin: "id-1", servedBy: "id-1",
		setCookies:  []string{"JSESSIONID=abc"},
		wantCookies: []string{"__VCAP_ID__=id-1; Path=/; HttpOnly", "__VCAP_ID_META__=; Path=/; HttpOnly"}},

	// X-CF-App-Instance: LK Describe("Lookup"), PX and IT.
	{from: `LK:164 "sends a bad request metric", LK:168 "sets X-Cf-RouterError to unknown_route", LK:172 "sets Cache-Control to contain no-cache, no-store", LK:176 "returns a 400 BadRequest and does not call next", LK:181 "has a meaningful response"`,
		appInstance: grAppGUID + ":1", wantStatus: 400, wantError: "unknown_route",
		wantBody: "400 Bad Request: Requested instance ('1') with guid ('" + grAppGUID + "') does not exist for route ('example.com')\n"},
	{from: `LK:164-181 for a host no route names: deliberately untouched (a shared gateway)`,
		host: "nowhere.example", appInstance: grAppGUID + ":1", untouched: true},
	{from: `LK:455 "lookups with instance"; PX:2348 "lookups the route to that specific app index and id"; IT:1416 "returns a "`,
		appInstance: grAppGUID + ":2", wantPin: "id-2", servedBy: "id-2"},
	{from: `LK:535 "does not lookup the instance", LK:539 "responds with 400", LK:544 "responds with an error in the body", LK:550 "reports the bad request", LK:554 "responds with a X-CF-RouterError header", LK:558 "adds a no-cache header to the response"`,
		appInstance: grAppGUID + ":1:invalid-part", wantStatus: 400, wantError: "invalid_cf_app_instance_header",
		wantBody: "400 Bad Request: Invalid X-CF-App-Instance Header\n"},
	{from: `LK:635 "does not lookup the instance", LK:639 "responds with 400" (incomplete header)`,
		appInstance: grAppGUID + ":", wantStatus: 400, wantError: "invalid_cf_app_instance_header",
		wantBody: "400 Bad Request: Invalid X-CF-App-Instance Header\n"},
	{from: `LK:699 "does not lookup the instance", LK:703 "responds with 400" (only the app id)`,
		appInstance: grAppGUID, wantStatus: 400, wantError: "invalid_cf_app_instance_header",
		wantBody: "400 Bad Request: Invalid X-CF-App-Instance Header\n"},
	{from: `PX:2362 "returns a 400 if it cannot find the specified instance"; IT:1332 "does not cache a 400"; IT:1403 "returns a 400 Bad Request"`,
		appInstance: grAppGUID + ":1", wantStatus: 400, wantError: "unknown_route",
		wantBody: "400 Bad Request: Requested instance ('1') with guid ('" + grAppGUID + "') does not exist for route ('example.com')\n"},
	{from: `IT:1310 "does not cache a 400"; IT:1390 "returns a 400 Bad Request" (syntactically invalid)`,
		appInstance: "$^%*&%:!@#(*&$", wantStatus: 400, wantError: "invalid_cf_app_instance_header",
		wantBody: "400 Bad Request: Invalid X-CF-App-Instance Header\n"},
	{from: `PX:2017 "logs no backend_time on invalid X-CF-App-Instance header" (unregistered host): deliberately untouched`,
		host: "invalid-app-instance-header", appInstance: "invalid-instance", untouched: true},
	{from: `LK aReg: the index is any run of digits, compared as text`,
		appInstance: grAppGUID + ":002", wantStatus: 400, wantError: "unknown_route",
		wantBody: "400 Bad Request: Requested instance ('002') with guid ('" + grAppGUID + "') does not exist for route ('example.com')\n"},
}

// grEngines caches an engine per configuration.
var grEngines = map[string]*Engine{}

func grEngine(t *testing.T, options string) *Engine {
	t.Helper()
	if e := grEngines[options]; e != nil {
		return e
	}
	js := "{" + grRoutes
	if options != "" {
		js += "," + options
	}
	cfg, err := config.Parse([]byte(js + "}"))
	require.NoError(t, err)
	grEngines[options] = New(cfg)
	return grEngines[options]
}

func TestGorouterCases(t *testing.T) {
	its := 0
	for _, tc := range grCases {
		its += strings.Count(tc.from, `"`) / 2
		t.Run(tc.from, func(t *testing.T) {
			e := grEngine(t, tc.config)
			host := tc.host
			if host == "" {
				host = grHost
			}
			pairs := [][2]string{{":authority", host}, {":path", "/"}, {":method", "GET"}}
			for _, c := range tc.cookies {
				pairs = append(pairs, [2]string{"cookie", c})
			}
			if tc.auth != "" {
				pairs = append(pairs, [2]string{"authorization", tc.auth})
			}
			if tc.appInstance != "" {
				pairs = append(pairs, [2]string{AppInstanceHeader, tc.appInstance})
			}
			var req Request
			req.Read(pairs, e.cfg.PinHeader)
			clk := fixedClock(fixedNow)
			d := e.Decide(&req, clk)

			if tc.untouched {
				assert.Nil(t, d.Route)
				assert.False(t, d.RemoveAppInstance, "X-CF-App-Instance passes on")
				assert.Empty(t, d.SetHeaders())
				assert.Nil(t, d.Reply)
				assert.Zero(t, d.Events)
				return
			}
			if tc.wantStatus != 0 {
				require.NotNil(t, d.Reply, "want a local %d", tc.wantStatus)
				assert.Equal(t, tc.wantStatus, d.Reply.Status)
				assert.Equal(t, tc.wantBody, d.Reply.Body)
				h := d.Reply.Headers()
				assert.Contains(t, h, [2]string{"x-cf-routererror", tc.wantError})
				assert.Contains(t, h, [2]string{"cache-control", "no-cache, no-store"})
				assert.Contains(t, h, [2]string{"content-type", "text/plain; charset=utf-8"})
				assert.Contains(t, h, [2]string{"x-content-type-options", "nosniff"})
				assert.Empty(t, d.SetHeaders(), "a local reply pins nothing")
				return
			}
			require.Nil(t, d.Reply)
			if tc.appInstance != "" {
				assert.True(t, d.RemoveAppInstance, "X-CF-App-Instance never goes upstream")
			}
			if tc.wantPin == "" {
				assert.Empty(t, d.SetHeaders())
			} else {
				require.NotEmpty(t, d.SetHeaders())
				assert.Equal(t, Header{config.DefaultPinHeader, grAddr[tc.wantPin]}, d.SetHeaders()[0])
			}

			pairs = [][2]string{{":status", "200"}}
			for _, c := range tc.setCookies {
				pairs = append(pairs, [2]string{"set-cookie", c})
			}
			if tc.wwwAuthenticate != "" {
				pairs = append(pairs, [2]string{"www-authenticate", tc.wwwAuthenticate})
			}
			var resp Response
			resp.Read(pairs, e.cfg.PinHeader)
			res := e.Respond(&d, &resp, &upstream{addr: grAddr[tc.servedBy]}, clk)
			assert.Equal(t, tc.wantCookies, res.SetCookies)
			if tc.wantNote != "" {
				assert.Contains(t, res.Note, tc.wantNote)
			}
		})
	}
	t.Logf("%d rows cover %d gorouter It()s", len(grCases), its)
}

// RT Describe("isSessionCookie"): the configured names and their __Host-
// variant, the prefix case-sensitive.
func TestGorouterSessionCookieNames(t *testing.T) {
	cfg := grEngine(t, "").cfg
	for name, want := range map[string]bool{
		"JSESSIONID":        true,  // RT:1259 "matches an exact cookie name"
		"__Host-JSESSIONID": true,  // RT:1263 "matches a __Host- prefixed cookie name"
		"UNKNOWN":           false, // RT:1267 "does not match an unknown cookie name"
		"__Host-UNKNOWN":    false, // RT:1271 "does not match a __Host- prefixed unknown cookie name"
		"__HostJSESSIONID":  false, // RT:1275 "does not match partial prefix like __Host without dash"
		"__HOST-JSESSIONID": false, // RT:1279 "does not match other casings of the __Host- prefix"
		"__host-JSESSIONID": false,
		"__HoSt-JSESSIONID": false,
	} {
		assert.Equal(t, want, cfg.SessionCookie(name), name)
	}
}

// X-CF-InstanceID, X-CF-ApplicationID and X-CF-InstanceIndex (instance_headers):
// gorouter's values for the instance a request goes to, and client-sent
// copies never reach the app. The filter knows the instance only for the
// requests it pins (README: what still differs).
func TestGorouterInstanceHeaders(t *testing.T) {
	e := grEngine(t, `"instance_headers":true`)
	read := func(pairs ...[2]string) Decision {
		var req Request
		req.Read(append([][2]string{{":authority", grHost}, {":path", "/"}}, pairs...), e.cfg.PinHeader)
		return e.Decide(&req, fixedClock(fixedNow))
	}
	// RT:216 "sends X-cf headers"; PX:526 "sets the X-CF-InstanceID header".
	d := read([2]string{"cookie", "JSESSIONID=s; __VCAP_ID__=id-2"})
	assert.Equal(t, []Header{{config.DefaultPinHeader, grAddr["id-2"]}, {InstanceIDHeader, "id-2"},
		{ApplicationIDHeader, grAppGUID}, {InstanceIndexHeader, "2"}}, d.SetHeaders())
	d = read([2]string{AppInstanceHeader, grAppGUID + ":0"})
	assert.Equal(t, []Header{{config.DefaultPinHeader, grAddr["id-1"]}, {InstanceIDHeader, "id-1"},
		{ApplicationIDHeader, grAppGUID}, {InstanceIndexHeader, "0"}}, d.SetHeaders())
	// An instance without app_guid and index: only its id.
	d = read([2]string{"cookie", "JSESSIONID=s; __VCAP_ID__=id-new-backend"})
	assert.Equal(t, []Header{{config.DefaultPinHeader, grAddr["id-new-backend"]}, {InstanceIDHeader, "id-new-backend"}}, d.SetHeaders())
	// httpstartstop_test.go:158, :170, :182 "does not use the value from the
	// header": a client's copies are removed, pinned or not.
	for _, h := range []string{InstanceIDHeader, ApplicationIDHeader, InstanceIndexHeader} {
		d = read([2]string{h, "forged"})
		assert.True(t, d.RemoveInstanceHeaders, h)
		assert.Empty(t, d.SetHeaders())
	}
	// Without instance_headers the filter leaves these headers alone.
	e = grEngine(t, "")
	var req Request
	req.Read([][2]string{{":authority", grHost}, {InstanceIDHeader, "x"}}, e.cfg.PinHeader)
	assert.False(t, e.Decide(&req, fixedClock(fixedNow)).RemoveInstanceHeaders)
}
