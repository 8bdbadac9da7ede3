package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Instance is one running fake app instance: Handler(ID) served on a fixed
// address that survives Stop and Restart, so a test can take the instance down
// and bring it back where Envoy expects it.
type Instance struct {
	// ID is the instance id (X-Instance-Id, the body's "instance").
	ID string

	handler  http.Handler
	requests atomic.Int64

	mu   sync.Mutex
	addr string // "ip:port", fixed after Start
	srv  *http.Server
	done chan struct{} // closed when the current server's Serve returns
}

// restartTimeout bounds how long Restart retries to bind the old address.
var restartTimeout = 5 * time.Second

// Start serves Handler(id) on addr ("127.0.0.1:8081"). An empty addr or port 0
// ("127.0.0.1:0") picks a free port on 127.0.0.1; Addr reports it.
func Start(id, addr string) (*Instance, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	i := &Instance{ID: id}
	inner := Handler(id)
	i.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.requests.Add(1)
		inner.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: listen %s: %w", id, addr, err)
	}
	i.addr = ln.Addr().String()
	i.serve(ln)
	return i, nil
}

func (i *Instance) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           i.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	done := make(chan struct{})
	i.srv, i.done = srv, done
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Close/Shutdown
	}()
}

// Addr is the instance's "ip:port", e.g. "127.0.0.1:34567".
func (i *Instance) Addr() string { return i.addr }

// Port is the instance's TCP port.
func (i *Instance) Port() int {
	_, p, _ := net.SplitHostPort(i.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// URL is "http://<Addr>".
func (i *Instance) URL() string { return "http://" + i.addr }

// Requests counts the requests this instance has served (across restarts).
func (i *Instance) Requests() int64 { return i.requests.Load() }

// Running reports whether the instance is serving.
func (i *Instance) Running() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.srv != nil
}

// Stop closes the listener and every open connection at once (like a crashed
// instance: in-flight requests fail) and waits for the server to finish.
// Stopping a stopped instance is a no-op.
func (i *Instance) Stop() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.srv == nil {
		return nil
	}
	err := i.srv.Close()
	<-i.done
	i.srv, i.done = nil, nil
	return err
}

// Shutdown stops the instance gracefully: no new connections, in-flight
// requests finish (until ctx is done, then the rest are closed).
func (i *Instance) Shutdown(ctx context.Context) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.srv == nil {
		return nil
	}
	err := i.srv.Shutdown(ctx)
	if err != nil {
		_ = i.srv.Close()
	}
	<-i.done
	i.srv, i.done = nil, nil
	return err
}

// Restart serves again on the same address after Stop. It retries binding for a
// few seconds in case the port is briefly unavailable. Restarting a running
// instance is a no-op.
func (i *Instance) Restart() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.srv != nil {
		return nil
	}
	deadline := time.Now().Add(restartTimeout)
	for {
		ln, err := net.Listen("tcp", i.addr)
		if err == nil {
			i.serve(ln)
			return nil
		}
		if time.Now().After(deadline) || !errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("upstream %s: restart on %s: %w", i.ID, i.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
