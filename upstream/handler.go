// Package upstream is the fake app instance used by the demo (cmd/demo-upstreams)
// and the end-to-end tests (e2e/): an HTTP handler that says which instance
// served a request, echoes the request headers it received, and sets cookies on
// demand.
package upstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// InstanceHeader is the response header naming the instance that served the request.
const InstanceHeader = "X-Instance-Id"

// SessionCookie is the session cookie the app sets for ?session=new.
const SessionCookie = "JSESSIONID"

// Response is the JSON body of every response.
type Response struct {
	// Instance is the id of the instance that served the request.
	Instance string `json:"instance"`
	Method   string `json:"method"`
	// Path is the request's path, without the query.
	Path string `json:"path"`
	// Query is the raw query string.
	Query string `json:"query,omitempty"`
	// Headers are the request headers as the app received them, keyed by lower-case
	// name. The Host header, which net/http moves out of the header map, is
	// included as "host".
	Headers map[string][]string `json:"headers"`
}

// Header returns the values the app received for the request header name
// (case-insensitive).
func (r *Response) Header(name string) []string {
	return r.Headers[strings.ToLower(name)]
}

// Handler returns the fake app instance id. Every response has the header
// X-Instance-Id: <id> and a JSON body (Response). Query parameters shape the
// response:
//
//   - session=new: Set-Cookie: JSESSIONID=<id>-<n>; Path=/ (n counts per handler)
//   - session=delete: Set-Cookie: JSESSIONID=; Path=/; Max-Age=0
//   - set_cookie=<raw line> (repeatable): each value is sent verbatim as a
//     Set-Cookie header, in order, after the session cookie
//   - status=<code>: the response status (default 200)
func Handler(id string) http.Handler {
	var sessions atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		h := w.Header()
		h.Set(InstanceHeader, id)
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")

		for _, s := range q["session"] {
			switch s {
			case "new":
				n := sessions.Add(1)
				h.Add("Set-Cookie", fmt.Sprintf("%s=%s-%d; Path=/", SessionCookie, id, n))
			case "delete":
				h.Add("Set-Cookie", SessionCookie+"=; Path=/; Max-Age=0")
			default:
				http.Error(w, fmt.Sprintf("unknown session=%q (want new or delete)", s), http.StatusBadRequest)
				return
			}
		}
		for _, line := range q["set_cookie"] {
			h.Add("Set-Cookie", line)
		}

		status := http.StatusOK
		if s := q.Get("status"); s != "" {
			code, err := strconv.Atoi(s)
			if err != nil || code < 200 || code > 599 {
				http.Error(w, fmt.Sprintf("bad status=%q", s), http.StatusBadRequest)
				return
			}
			status = code
		}

		headers := make(map[string][]string, len(r.Header)+1)
		for name, values := range r.Header {
			k := strings.ToLower(name)
			headers[k] = append(headers[k], values...)
		}
		if r.Host != "" {
			headers["host"] = append(headers["host"], r.Host)
		}
		body, err := json.Marshal(Response{
			Instance: id,
			Method:   r.Method,
			Path:     r.URL.Path,
			Query:    r.URL.RawQuery,
			Headers:  headers,
		})
		if err != nil { // cannot happen with these types
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		body = append(body, '\n')
		if status == http.StatusNoContent || status == http.StatusNotModified {
			w.WriteHeader(status) // no body allowed
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
