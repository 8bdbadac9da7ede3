package config

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/vcap-sticky/vcap-sticky/cookie"
	"github.com/vcap-sticky/vcap-sticky/token"
)

// Error names the offending field, e.g. routes[0].instances[2].address.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "config: " + e.Reason
	}
	return "config: " + e.Field + ": " + e.Reason
}

func fail(field, format string, args ...any) error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// oneLine keeps raw input (a member name, raw JSON) that goes into an error
// message from breaking the one log line the message must be, or from naming
// nothing: text with a control byte, and the empty name, are quoted, Go-style.
func oneLine(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}

// Pin headers the filter must not take over: Envoy or the app rely on them.
var reservedHeaders = map[string]bool{
	"host": true, "cookie": true, "set-cookie": true, "authorization": true,
	"connection": true, "content-length": true, "content-type": true, "te": true,
	"transfer-encoding": true, "upgrade": true, "x-cf-app-instance": true,
}

// Parse validates a plugin configuration and builds its lookup tables.
func Parse(data []byte) (*Config, error) { return ParseString(string(data)) }

// ParseString is Parse for a configuration as a string, which the result
// keeps: its ids and addresses are substrings of it. The filter hands over
// the host's buffer this way (unsafe.String; it is read once and never
// written), so that 100,000 instances are not copied twice.
func ParseString(data string) (*Config, error) {
	if len(strings.TrimSpace(data)) == 0 {
		return nil, fail("", "empty configuration: at least \"routes\" is required")
	}
	doc, ok := parseDocument(data)
	if !ok {
		return nil, fail("", "not valid JSON")
	}
	root := doc.root()
	cfg := &Config{
		SessionCookieNames:   []string{DefaultSessionCookie},
		PinHeader:            DefaultPinHeader,
		MetricsFlushInterval: DefaultMetricsFlushInterval,
	}
	var routes gjson.Result
	err := doc.fields(root, "", func(key, field string, v gjson.Result) error {
		switch key {
		case "session_cookie_names":
			return parseCookieNames(cfg, field, v)
		case "secure_cookies":
			return boolean(field, v, &cfg.SecureCookies)
		case "pinning":
			return parsePinning(cfg, field, v)
		case "strict":
			return boolean(field, v, &cfg.Strict)
		case "negotiate":
			return boolean(field, v, &cfg.Negotiate)
		case "instance_headers":
			return boolean(field, v, &cfg.InstanceHeaders)
		case "log_decisions":
			return boolean(field, v, &cfg.LogDecisions)
		case "routes":
			routes = v // after pinning: instances depend on the mode
			return nil
		case "sealed":
			return parseSealed(cfg, field, v)
		case "endpoint_metadata":
			return parseEndpointMetadata(cfg, field, v)
		case "route_metrics":
			return boolean(field, v, &cfg.RouteMetrics)
		case "metrics_flush_interval_ms":
			return duration(field, v, 0, maxMetricsFlushMS, time.Millisecond, "milliseconds", &cfg.MetricsFlushInterval)
		}
		return fail(field, "unknown field")
	})
	if err != nil {
		return nil, err
	}
	if cfg.EndpointMetadata != nil {
		switch {
		case cfg.Sealed == nil:
			return nil, fail("endpoint_metadata", "needs \"sealed\": the token carries the address of an instance that no map lists")
		case cfg.PinMode == PinCluster:
			return nil, fail("endpoint_metadata", "does not work with pinning mode cluster (no cluster per instance); use override_host or stateful_session")
		}
	}
	if err := parseRoutes(cfg, doc, routes); err != nil {
		return nil, err
	}
	return cfg, nil
}

// fields walks an object's members, rejecting non-objects and repeated keys.
func fields(obj gjson.Result, prefix string, each func(key, field string, v gjson.Result) error) error {
	return walkFields(obj, prefix, func(member func(key string, v gjson.Result) bool) {
		obj.ForEach(func(k, v gjson.Result) bool { return member(k.Str, v) })
	}, each)
}

// fields is fields for an object of the document's outer levels.
func (d *document) fields(obj gjson.Result, prefix string, each func(key, field string, v gjson.Result) error) error {
	return walkFields(obj, prefix, func(member func(key string, v gjson.Result) bool) {
		d.members(obj, member)
	}, each)
}

func walkFields(obj gjson.Result, prefix string, walk func(member func(key string, v gjson.Result) bool),
	each func(key, field string, v gjson.Result) error) error {
	name := prefix
	if name == "" {
		name = "the configuration"
	}
	if !obj.IsObject() {
		return fail(prefix, "must be a JSON object")
	}
	// An object has a handful of members (an unknown or repeated one ends the
	// walk): a linear scan beats a map, and the slice stays on the stack.
	seen := make([]string, 0, 16)
	var err error
	walk(func(key string, v gjson.Result) bool {
		field := oneLine(key)
		if prefix != "" {
			field = prefix + "." + field
		}
		if slices.Contains(seen, key) {
			err = fail(field, "repeated in %s", name)
			return false
		}
		seen = append(seen, key)
		err = each(key, field, v)
		return err == nil
	})
	return err
}

// arrayOf returns the elements of a JSON array, and nil for anything else.
func arrayOf(v gjson.Result) []gjson.Result {
	if !v.IsArray() {
		return nil
	}
	return v.Array()
}

func boolean(field string, v gjson.Result, dst *bool) error {
	if !v.IsBool() {
		return fail(field, "must be true or false, got %s", oneLine(v.Raw))
	}
	*dst = v.Bool()
	return nil
}

// duration reads a whole number, from lo to hi, of unit (called units).
func duration(field string, v gjson.Result, lo, hi int, unit time.Duration, units string, dst *time.Duration) error {
	n, err := strconv.Atoi(v.Raw)
	if v.Type != gjson.Number || err != nil || n < lo || n > hi {
		return fail(field, "must be a whole number of %s from %d to %d, got %s", units, lo, hi, oneLine(v.Raw))
	}
	*dst = time.Duration(n) * unit
	return nil
}

func str(field string, v gjson.Result) (string, error) {
	if v.Type != gjson.String {
		return "", fail(field, "must be a string, got %s", oneLine(v.Raw))
	}
	return v.Str, nil
}

func parseCookieNames(cfg *Config, field string, v gjson.Result) error {
	// Array() builds a slice of every element: call it once.
	list := arrayOf(v)
	if len(list) == 0 {
		return fail(field, "must be a non-empty array of cookie names")
	}
	cfg.SessionCookieNames = nil
	for i, n := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		name, err := str(f, n)
		if err != nil {
			return err
		}
		switch {
		case !cookie.ValidName(name):
			return fail(f, "%q is not a valid cookie name", name)
		case name == VCAPCookie || name == MetaCookie:
			return fail(f, "%q is the filter's own cookie", name)
		case strings.HasPrefix(name, HostPrefix):
			return fail(f, "%q: list the name without %s; that variant matches automatically", name, HostPrefix)
		case cfg.SessionCookie(name):
			return fail(f, "%q is listed twice", name)
		}
		cfg.SessionCookieNames = append(cfg.SessionCookieNames, name)
	}
	return nil
}

func parsePinning(cfg *Config, field string, v gjson.Result) error {
	return fields(v, field, func(key, f string, v gjson.Result) error {
		switch key {
		case "mode":
			s, err := str(f, v)
			if err != nil {
				return err
			}
			mode, ok := pinModeNames[s]
			if !ok {
				return fail(f, "%q is not one of override_host, stateful_session, cluster", s)
			}
			cfg.PinMode = mode
			return nil
		case "header":
			s, err := str(f, v)
			if err != nil {
				return err
			}
			if !headerName(s) {
				return fail(f, "%q is not a lower-case HTTP header name", s)
			}
			if reservedHeaders[s] {
				return fail(f, "%q is used by Envoy or the app; choose a header of your own", s)
			}
			if strings.HasPrefix(s, "x-cf-") {
				return fail(f, "%q: x-cf-* headers are gorouter's, which the filter reads or writes itself; choose a header of your own", s)
			}
			cfg.PinHeader = s
			return nil
		}
		return fail(f, "unknown field")
	})
}

func parseRoutes(cfg *Config, doc *document, v gjson.Result) error {
	const field = "routes"
	if !v.Exists() {
		return fail(field, "required")
	}
	list := doc.elements(v)
	if len(list) == 0 {
		return fail(field, "must be a non-empty array of routes")
	}
	cfg.Routes.byHost = map[string][]*Route{}
	seen := map[string]string{}  // host+path -> field that defined it
	names := map[string]string{} // stats name -> field that defined it
	for i, rv := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		r, err := parseRoute(cfg, doc, f, rv)
		if err != nil {
			return err
		}
		r.Index = i
		key := r.Host + " " + r.Path
		if prev, dup := seen[key]; dup {
			return fail(f, "host %q path %q is already defined by %s", r.Host, r.Path, prev)
		}
		seen[key] = f
		if cfg.RouteMetrics {
			if prev, dup := names[r.Name]; dup {
				return fail(f+".name", "%q is also the name of %s: give the routes distinct names", r.Name, prev)
			}
			names[r.Name] = f
		}
		if r.Host == "*" {
			cfg.Routes.wildcard = append(cfg.Routes.wildcard, r)
		} else {
			cfg.Routes.byHost[r.Host] = append(cfg.Routes.byHost[r.Host], r)
		}
	}
	longestPathFirst := func(rs []*Route) {
		sort.SliceStable(rs, func(a, b int) bool { return len(rs[a].Path) > len(rs[b].Path) })
	}
	for _, rs := range cfg.Routes.byHost {
		longestPathFirst(rs)
	}
	longestPathFirst(cfg.Routes.wildcard)
	cfg.Routes.index()
	return nil
}

func parseRoute(cfg *Config, doc *document, field string, v gjson.Result) (*Route, error) {
	r := &Route{Path: "/"}
	var instances gjson.Result
	err := doc.fields(v, field, func(key, f string, v gjson.Result) error {
		var err error
		switch key {
		case "host":
			if r.Host, err = str(f, v); err != nil {
				return err
			}
			r.Host = strings.ToLower(r.Host)
			if !validHost(r.Host) {
				return fail(f, "%q is not a host name without port, or \"*\"", v.Str)
			}
			return nil
		case "path":
			if r.Path, err = str(f, v); err != nil {
				return err
			}
			if !validPath(r.Path) {
				return fail(f, "%q must start with /, not end with / (unless it is /), and hold no ; ? # \" \\ space or control byte", r.Path)
			}
			return nil
		case "instances":
			instances = v
			return nil
		case "name":
			return r.setName(f, v)
		case "internal_listener":
			if r.InternalListener, err = str(f, v); err != nil {
				return err
			}
			if !routeName(r.InternalListener) {
				return fail(f, "%q must be 1 to 64 letters, digits, _ or - (an Envoy internal listener name, e.g. connect_originate)", r.InternalListener)
			}
			if cfg.PinMode == PinCluster {
				return fail(f, "has no use in pinning mode cluster, which pins by cluster name (internal upstream addresses are mapped to instances without it)")
			}
			return nil
		}
		return fail(f, "unknown field")
	})
	if err != nil {
		return nil, err
	}
	if r.Host == "" {
		return nil, fail(field+".host", "required")
	}
	if instances.Exists() && !instances.IsArray() {
		return nil, fail(field+".instances", "must be a non-empty array of instances, got %s", oneLine(instances.Raw))
	}
	if r.identify(cfg, instances) {
		if cfg.PinMode == PinCluster {
			return nil, fail(field+".instances", "required with pinning mode cluster (a pinned request names its instance's cluster); "+
				"a route without instances needs override_host or stateful_session")
		}
		return r, nil // a dynamic route: no instances to parse
	}
	// Parse every instance first, then index them in tables of the right
	// size: growing a table of 100,000 entries rehashes it several times.
	err = r.parseInstances(cfg, field, instances)
	// The first error in document order wins, as if each instance were
	// indexed right after it is parsed: a repeated id before an instance
	// that does not parse is reported first.
	parseErr := err
	r.byID = newInstanceIndex(len(r.Instances))
	r.byAddress = newInstanceIndex(len(r.Instances))
	// A large route's ids and addresses in one pass each; if one repeats,
	// instance by instance after all, for the error of the first repeat.
	// The id index groups its inserts in the address index's table, still
	// empty; the address index a chunk at a time in a small buffer, so
	// that the parse's peak memory stays what it was.
	indexed := len(r.Instances) >= bulkIndexMin &&
		r.byID.build(r.Instances, keyID, r.byAddress.slots) &&
		r.byAddress.build(r.Instances, keyAddress, make([]uint64, bulkIndexMin))
	if !indexed {
		clear(r.byID.slots)
	}
	clusters := map[string]bool{}
	for i := range r.Instances {
		if err := r.add(cfg, i, instanceAt{route: field, index: i}, clusters, indexed); err != nil {
			return nil, err
		}
	}
	if parseErr != nil {
		return nil, parseErr
	}
	if len(r.Instances) == 0 {
		if !instances.Exists() {
			return nil, fail(field+".instances", "must be a non-empty array of instances; only a sealed route may leave them out "+
				"(a plain __VCAP_ID__ naming an address would show clients the instances' addresses and let them pick hosts)")
		}
		return nil, fail(field+".instances", "must be a non-empty array of instances")
	}
	return r, nil
}

// instanceAt names an instance in error messages (routes[0].instances[2]).
// The name is built only for an error: a route can have 100,000 instances.
type instanceAt struct {
	route string
	index int
}

func (a instanceAt) String() string { return a.route + ".instances[" + strconv.Itoa(a.index) + "]" }

func (a instanceAt) member(key string) string { return a.String() + "." + oneLine(key) }

// insert adds k to m and reports whether it was new: one map operation
// instead of a lookup and an insert.
func insert[V any](m map[string]V, k string, v V) bool {
	before := len(m)
	m[k] = v
	return len(m) > before
}

// add indexes the parsed instance at pos, refusing ids, addresses, clusters
// and app indexes used twice in the route; idsIndexed: its id and address
// are indexed already, and no other instance has them.
func (r *Route) add(cfg *Config, pos int, at instanceAt, clusters map[string]bool, idsIndexed bool) error {
	in := r.Instances[pos]
	switch {
	case !idsIndexed && r.byID.add(r.Instances, pos, keyID) != nil:
		return fail(at.member("id"), "%q is used twice in this route", in.ID)
	case !idsIndexed && r.byAddress.add(r.Instances, pos, keyAddress) != nil:
		return fail(at.member("address"), "%q is used twice in this route", in.Address)
	case cfg.PinMode == PinCluster && !insert(clusters, in.Cluster, true):
		return fail(at.member("cluster"), "%q is used twice in this route", in.Cluster)
	}
	if in.AppGUID == "" {
		return nil
	}
	if r.byAppInstance.slots == nil {
		r.byAppInstance = newInstanceIndex(len(r.Instances))
	}
	if r.byAppInstance.add(r.Instances, pos, keyAppInstance) != nil {
		return fail(at.member("index"), "app %s index %s is used twice in this route", in.AppGUID, in.IndexText)
	}
	return nil
}

// parseInstances parses a route's instances into r.Instances, in one pass
// of the plain scanner if it can read them, else with gjson. At the first
// instance that does not parse it returns the error, with r.Instances
// holding the ones before it.
func (r *Route) parseInstances(cfg *Config, field string, instances gjson.Result) error {
	var slab instanceSlab
	p := plainScanner{s: instances.Raw}
	seen := make([]string, 0, 8)
	for p.nextObject() {
		at := instanceAt{route: field, index: len(r.Instances)}
		in := slab.next(len(r.Instances))
		seen = seen[:0]
		for key, v, ok := p.nextMember(); ok; key, v, ok = p.nextMember() {
			if err := in.member(at, &seen, key, v); err != nil {
				return err
			}
		}
		if p.notPlain {
			break
		}
		if err := in.finish(cfg, at, r.InternalListener); err != nil {
			return err
		}
		r.Instances = append(r.Instances, in)
	}
	if !p.notPlain {
		return nil
	}
	// Again from the start: gjson reads what the scanner does not.
	r.Instances, slab = nil, nil
	var err error
	instances.ForEach(func(_, iv gjson.Result) bool {
		at := instanceAt{route: field, index: len(r.Instances)}
		in := slab.next(len(r.Instances))
		if err = parseInstance(cfg, in, at, iv, r.InternalListener); err != nil {
			return false
		}
		r.Instances = append(r.Instances, in)
		return true
	})
	return err
}

// instanceSlab allocates instances in chunks, not one by one.
type instanceSlab []Instance

// next is a new instance, the one after parsed others.
func (s *instanceSlab) next(parsed int) *Instance {
	if len(*s) == cap(*s) {
		*s = make([]Instance, 0, min(max(parsed, 8), 1024))
	}
	*s = append(*s, Instance{Index: -1})
	return &(*s)[len(*s)-1]
}

func parseInstance(cfg *Config, in *Instance, at instanceAt, v gjson.Result, internalListener string) error {
	if !v.IsObject() {
		return fail(at.String(), "must be a JSON object")
	}
	seen := make([]string, 0, 8)
	var err error
	v.ForEach(func(k, v gjson.Result) bool {
		err = in.member(at, &seen, k.Str, v)
		return err == nil
	})
	if err != nil {
		return err
	}
	return in.finish(cfg, at, internalListener)
}

// member parses the instance's member key, refusing a key in seen, the
// members before it.
func (in *Instance) member(at instanceAt, seen *[]string, key string, v gjson.Result) error {
	if slices.Contains(*seen, key) {
		return fail(at.member(key), "repeated in %s", at)
	}
	*seen = append(*seen, key)
	return in.set(at, key, v)
}

// finish checks a parsed instance as a whole and sets its pin value.
func (in *Instance) finish(cfg *Config, at instanceAt, internalListener string) error {
	switch {
	case in.ID == "":
		return fail(at.member("id"), "required")
	case in.Address == "":
		return fail(at.member("address"), "required")
	case in.AppGUID != "" && in.Index < 0:
		return fail(at.member("index"), "required with app_guid")
	case cfg.PinMode == PinCluster && in.Cluster == "":
		return fail(at.member("cluster"), "required with pinning mode cluster")
	case cfg.Sealed != nil && len(in.ID) > token.MaxIDLength:
		return fail(at.member("id"), "%q is longer than %d bytes, the most a sealed token carries", in.ID, token.MaxIDLength)
	}
	in.SetPinValue(cfg.PinMode, internalListener)
	return nil
}

// set parses one member of an instance.
func (in *Instance) set(at instanceAt, key string, v gjson.Result) error {
	isString := v.Type == gjson.String
	switch key {
	case "id":
		if !isString {
			return notString(at.member(key), v)
		}
		if in.ID = v.Str; len(in.ID) == 0 || len(in.ID) > MaxIDLength || !cookie.ValidValue(in.ID) {
			return fail(at.member(key), "%q must be 1 to %d cookie-safe characters (no space, quote, comma, semicolon, backslash or control byte)", in.ID, MaxIDLength)
		}
	case "address":
		if !isString {
			return notString(at.member(key), v)
		}
		if canonicalIPv4Port(v.Str) {
			in.Address = v.Str
			break
		}
		ap, err := netip.ParseAddrPort(v.Str)
		if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
			return fail(at.member(key), "%q is not ip:port (IPv6 in brackets, e.g. [::1]:8080)", v.Str)
		}
		// The canonical form; usually the input itself, then not copied.
		var buf [64]byte
		if canon := ap.AppendTo(buf[:0]); string(canon) == v.Str {
			in.Address = v.Str
		} else {
			in.Address = string(canon)
		}
	case "app_guid":
		if !isString {
			return notString(at.member(key), v)
		}
		if in.AppGUID = v.Str; !IsAppGUID(in.AppGUID) {
			return fail(at.member(key), "%q is not a lower-case hex UUID", in.AppGUID)
		}
	case "index":
		n, err := strconv.Atoi(v.Raw)
		if v.Type != gjson.Number || err != nil || n < 0 {
			return fail(at.member(key), "must be a whole number >= 0, got %s", oneLine(v.Raw))
		}
		in.Index, in.IndexText = n, strconv.Itoa(n)
	case "cluster":
		if !isString {
			return notString(at.member(key), v)
		}
		if in.Cluster = v.Str; !headerValueToken(in.Cluster) {
			return fail(at.member(key), "%q is not a cluster name (letters, digits and -_.:)", in.Cluster)
		}
	default:
		return fail(at.member(key), "unknown field")
	}
	return nil
}

func notString(field string, v gjson.Result) error {
	return fail(field, "must be a string, got %s", oneLine(v.Raw))
}
