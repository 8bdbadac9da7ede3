package config

import (
	"os"
	"time"

	"github.com/tidwall/gjson"

	"github.com/vcap-sticky/vcap-sticky/token"
)

// Sealed mode: __VCAP_ID__ carries a token (package token) instead of the
// bare instance id. The keys come from an environment variable of the VM
// (Envoy's vm_config.environment_variables), never from the plugin config.
type Sealed struct {
	// KeysEnv names the environment variable holding the key ring.
	KeysEnv string
	// TTL is a token's lifetime; a pinned request whose token has less than
	// half of it left gets a renewed one.
	TTL time.Duration
	// V1Tokens: tokens of the format before key ids still open, each tried
	// with every key (on by default, for the upgrade window).
	V1Tokens bool
	// Ring seals and opens tokens.
	Ring *token.Ring
}

// EndpointMetadata says where an instance's id is found in the upstream
// host's metadata: filter_metadata[Namespace].fields[Key], a string.
type EndpointMetadata struct {
	Namespace, Key string
}

// Defaults of the sealed and endpoint_metadata objects.
const (
	DefaultTokenTTL          = 12 * time.Hour
	maxTokenTTLSeconds       = 366 * 24 * 3600
	DefaultMetadataNamespace = "vcap_sticky"
	DefaultMetadataKey       = "instance_id"
)

// lookupEnv is os.LookupEnv; the VM's environment is what Envoy passes in
// vm_config.environment_variables (read by the Go runtime in _initialize).
var lookupEnv = os.LookupEnv

func parseSealed(cfg *Config, field string, v gjson.Result) error {
	s := &Sealed{TTL: DefaultTokenTTL, V1Tokens: true}
	err := fields(v, field, func(key, f string, v gjson.Result) error {
		switch key {
		case "keys_env":
			name, err := str(f, v)
			if err != nil {
				return err
			}
			if !envName(name) {
				return fail(f, "%q is not an environment variable name (letters, digits, _; not starting with a digit)", name)
			}
			s.KeysEnv = name
			return nil
		case "ttl_seconds":
			return duration(f, v, 1, maxTokenTTLSeconds, time.Second, "seconds", &s.TTL)
		case "v1_tokens":
			return boolean(f, v, &s.V1Tokens)
		}
		return fail(f, "unknown field")
	})
	if err != nil {
		return err
	}
	if s.KeysEnv == "" {
		return fail(field+".keys_env", "required: the environment variable that holds the keys")
	}
	// The value is a secret: no error below may quote it.
	val, ok := lookupEnv(s.KeysEnv)
	if !ok {
		return fail(field+".keys_env", "environment variable %s is not set in the Wasm VM (Envoy vm_config.environment_variables, Istio vmConfig.env)", s.KeysEnv)
	}
	ring, kerr := token.ParseKeys(val)
	if kerr != nil {
		return fail(field+".keys_env", "environment variable %s: %v (want comma-separated base64 keys of 16, 24 or 32 bytes)", s.KeysEnv, kerr)
	}
	if !s.V1Tokens {
		ring.RefuseV1()
	}
	s.Ring = ring
	cfg.Sealed = s
	return nil
}

func parseEndpointMetadata(cfg *Config, field string, v gjson.Result) error {
	m := &EndpointMetadata{Namespace: DefaultMetadataNamespace, Key: DefaultMetadataKey}
	err := fields(v, field, func(key, f string, v gjson.Result) error {
		s, err := str(f, v)
		if err != nil {
			return err
		}
		if s == "" || len(s) > 256 {
			return fail(f, "must be 1 to 256 bytes")
		}
		switch key {
		case "namespace":
			m.Namespace = s
		case "key":
			m.Key = s
		default:
			return fail(f, "unknown field")
		}
		return nil
	})
	if err != nil {
		return err
	}
	cfg.EndpointMetadata = m
	return nil
}

// envName: a POSIX-style environment variable name.
func envName(s string) bool {
	if s == "" || len(s) > 256 || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// routeName: a route's name in stats, [A-Za-z0-9_-], 1 to 64 bytes. Envoy
// splits stat names at dots, so a name has none.
func routeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// defaultRouteName derives a route's stats name from its host and path:
// every byte outside [A-Za-z0-9_-] becomes '_', "*" becomes "any", and the
// path is appended unless it is "/" ("shop.example" "/cart": shop_example_cart).
func defaultRouteName(host, path string) string {
	if host == "*" {
		host = "any"
	}
	s := host
	if path != "/" {
		s += path
	}
	b := []byte(s)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// setName sets the route's "name".
func (r *Route) setName(field string, v gjson.Result) error {
	name, err := str(field, v)
	if err != nil {
		return err
	}
	if !routeName(name) {
		return fail(field, "%q must be 1 to 64 letters, digits, _ or -", name)
	}
	r.Name = name
	return nil
}

// identify completes a route's identity (stats name, token tag) once host
// and path are known, and reports whether the route is dynamic: a sealed
// route that lists no instances, whose served instance is named by its
// endpoint metadata if configured, else by its address.
func (r *Route) identify(cfg *Config, instances gjson.Result) bool {
	if r.Name == "" {
		r.Name = defaultRouteName(r.Host, r.Path)
	}
	r.Tag = token.RouteTagOf(r.Host, r.Path)
	r.Dynamic = !instances.Exists() && cfg.Sealed != nil
	return r.Dynamic
}
