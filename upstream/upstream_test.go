package upstream

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func serve(t *testing.T, h http.Handler, method, target string, header http.Header) (*http.Response, Response) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	var body Response
	if b := rec.Body.Bytes(); len(b) > 0 && res.StatusCode != http.StatusBadRequest {
		require.NoError(t, json.Unmarshal(b, &body))
	}
	return res, body
}

func TestHandlerEchoesRequest(t *testing.T) {
	h := Handler("instance-a")
	res, body := serve(t, h, http.MethodPost, "http://app.example/some/path?x=1", http.Header{
		"X-Custom": {"one", "two"},
		"Cookie":   {"JSESSIONID=abc; __VCAP_ID__=instance-a"},
	})
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "instance-a", res.Header.Get(InstanceHeader))
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	assert.Empty(t, res.Header.Values("Set-Cookie"))

	assert.Equal(t, "instance-a", body.Instance)
	assert.Equal(t, http.MethodPost, body.Method)
	assert.Equal(t, "/some/path", body.Path)
	assert.Equal(t, "x=1", body.Query)
	assert.Equal(t, []string{"one", "two"}, body.Headers["x-custom"], "names are lower-cased, values kept in order")
	assert.Equal(t, []string{"one", "two"}, body.Header("X-Custom"))
	assert.Equal(t, []string{"JSESSIONID=abc; __VCAP_ID__=instance-a"}, body.Headers["cookie"])
	assert.Equal(t, []string{"app.example"}, body.Headers["host"])
	for name := range body.Headers {
		assert.Equal(t, strings.ToLower(name), name, "header names are lower-case")
	}
}

func TestHandlerSessionNewCounts(t *testing.T) {
	h := Handler("instance-b")
	for n, want := range []string{"JSESSIONID=instance-b-1; Path=/", "JSESSIONID=instance-b-2; Path=/"} {
		res, body := serve(t, h, http.MethodGet, "/?session=new", nil)
		assert.Equal(t, []string{want}, res.Header.Values("Set-Cookie"), "request %d", n)
		assert.Equal(t, "instance-b", body.Instance)
	}
	// A second handler has its own counter.
	res, _ := serve(t, Handler("instance-c"), http.MethodGet, "/?session=new", nil)
	assert.Equal(t, []string{"JSESSIONID=instance-c-1; Path=/"}, res.Header.Values("Set-Cookie"))
}

func TestHandlerSessionDelete(t *testing.T) {
	res, _ := serve(t, Handler("a"), http.MethodGet, "/?session=delete", nil)
	assert.Equal(t, []string{"JSESSIONID=; Path=/; Max-Age=0"}, res.Header.Values("Set-Cookie"))
	c, err := http.ParseSetCookie(res.Header.Get("Set-Cookie"))
	require.NoError(t, err)
	assert.Equal(t, "JSESSIONID", c.Name)
	assert.Equal(t, -1, c.MaxAge, "net/http reports Max-Age=0 as MaxAge -1 (delete now)")
}

func TestHandlerRawSetCookieLinesVerbatim(t *testing.T) {
	lines := []string{
		"JSESSIONID=x1; Path=/app; Secure; SameSite=None",
		"__VCAP_ID__=forged; Path=/",
		"weird = spaced ;;; HttpOnly",
		"",
	}
	q := url.Values{"set_cookie": lines}
	q.Add("session", "new")
	res, _ := serve(t, Handler("inst"), http.MethodGet, "/?"+q.Encode(), nil)
	want := append([]string{"JSESSIONID=inst-1; Path=/"}, lines...)
	assert.Equal(t, want, res.Header.Values("Set-Cookie"), "session cookie first, then every raw line in order")
}

func TestHandlerStatusAndBadInput(t *testing.T) {
	res, body := serve(t, Handler("a"), http.MethodGet, "/?status=503", nil)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Equal(t, "a", body.Instance)
	assert.Equal(t, "a", res.Header.Get(InstanceHeader))

	res, _ = serve(t, Handler("a"), http.MethodGet, "/?status=204", nil)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Empty(t, res.Header.Get("Content-Length"))

	for _, q := range []string{"status=abc", "status=99", "session=bogus"} {
		res, _ = serve(t, Handler("a"), http.MethodGet, "/?"+q, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, q)
		assert.Equal(t, "a", res.Header.Get(InstanceHeader), q)
	}
}

func TestHandlerHead(t *testing.T) {
	res, _ := serve(t, Handler("a"), http.MethodHead, "/?session=new", nil)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Len(t, res.Header.Values("Set-Cookie"), 1)
	b, _ := io.ReadAll(res.Body)
	assert.Empty(t, b)
}

// client never reuses connections across Stop/Restart and never uses a proxy.
func client() *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
}

func getInstance(t *testing.T, c *http.Client, u string) (Response, error) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		return Response{}, err
	}
	defer res.Body.Close()
	var body Response
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return body, nil
}

func TestInstanceStopRestartSamePort(t *testing.T) {
	inst, err := Start("instance-x", "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = inst.Stop() })

	host, _, err := net.SplitHostPort(inst.Addr())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host)
	assert.NotZero(t, inst.Port())
	assert.True(t, inst.Running())

	c := client()
	body, err := getInstance(t, c, inst.URL()+"/hello")
	require.NoError(t, err)
	assert.Equal(t, "instance-x", body.Instance)
	assert.Equal(t, "/hello", body.Path)
	assert.EqualValues(t, 1, inst.Requests())

	require.NoError(t, inst.Stop())
	assert.False(t, inst.Running())
	require.NoError(t, inst.Stop(), "stopping twice is fine")
	_, err = getInstance(t, c, inst.URL())
	require.Error(t, err, "a stopped instance refuses connections")

	addr := inst.Addr()
	require.NoError(t, inst.Restart())
	require.NoError(t, inst.Restart(), "restarting a running instance is a no-op")
	assert.Equal(t, addr, inst.Addr())
	body, err = getInstance(t, c, inst.URL())
	require.NoError(t, err)
	assert.Equal(t, "instance-x", body.Instance)
	assert.EqualValues(t, 2, inst.Requests(), "the counter survives restarts")
}

func TestInstanceStopClosesKeepAliveConnections(t *testing.T) {
	inst, err := Start("ka", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = inst.Stop() })

	conn, err := net.DialTimeout("tcp", inst.Addr(), 2*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, inst.Stop())
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err = conn.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "Stop drops idle connections, like a crashed instance")
}

func TestInstanceFixedPortAndConflict(t *testing.T) {
	first, err := Start("one", "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = first.Stop() })

	_, err = Start("two", first.Addr())
	require.Error(t, err, "the port is taken")

	// While stopped, someone else may take the port: Restart reports it (after retrying).
	require.NoError(t, first.Stop())
	other, err := Start("other", first.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = other.Stop() })
	old := restartTimeout
	restartTimeout = 300 * time.Millisecond
	t.Cleanup(func() { restartTimeout = old })
	start := time.Now()
	err = first.Restart()
	require.Error(t, err)
	assert.Contains(t, err.Error(), first.Addr())
	assert.Less(t, time.Since(start), restartTimeout+2*time.Second)
}
