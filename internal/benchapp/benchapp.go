// Package benchapp is the app the native benchmarks run against (the core's
// in package sticky, the callbacks' through proxytest in package filter):
// one route, three instances, override_host pinning, and a browser's
// requests to it.
package benchapp

const (
	// ID0 and Addr0 are the instance a sticky request names.
	ID0   = "d5a4e6f1-7a2b-4c3d-9e8f-0a1b2c3d4e5f"
	Addr0 = "10.1.0.11:8080"
	Host  = "shop.example.com"
	// Config is the plugin configuration.
	Config = `{"routes":[{"host":"shop.example.com","instances":[
		{"id":"` + ID0 + `","address":"` + Addr0 + `"},
		{"id":"6b0f2c55-1d2e-4f3a-8b4c-5d6e7f8a9b0c","address":"10.1.0.12:8080"},
		{"id":"0c9e8d7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f","address":"10.1.0.13:8080"}]}]}`
	// Cookies is a browser's Cookie header on a sticky request: analytics
	// cookies around the session cookie and __VCAP_ID__.
	Cookies = `_ga=GA1.2.1234567890.1600000000; _gid=GA1.2.987654321.1600000000; lang=en-US; ` +
		`JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; __VCAP_ID__=` + ID0 + `; theme=dark`
	// SessionSetCookie is the app starting a session.
	SessionSetCookie = "JSESSIONID=8F2A4C1E9B7D3F6A0C5E2B8D4F1A7C3E; Path=/; HttpOnly"
)
