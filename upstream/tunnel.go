package upstream

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Tunnel stands in for the HBONE port of an ambient pod (ztunnel's 15008):
// an HTTP/2 (cleartext) server that answers CONNECT <target> by piping the
// stream to target, which must be the one address it fronts. Istio's HBONE
// adds mutual TLS, which Envoy's tcp_proxy tunneling does the same way; the
// tests leave it out.
type Tunnel struct {
	addr, target string
	srv          *http.Server
	done         chan struct{}
	// Streams counts the CONNECT streams opened through this tunnel.
	streams atomic.Int64
	// Refused counts CONNECTs for another target (answered 403).
	refused atomic.Int64
}

// StartTunnel serves CONNECT for target on a free port of 127.0.0.1.
func StartTunnel(target string) (*Tunnel, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("tunnel to %s: %w", target, err)
	}
	t := &Tunnel{addr: ln.Addr().String(), target: target, done: make(chan struct{})}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge, as Envoy sends it
	t.srv = &http.Server{Handler: http.HandlerFunc(t.connect), Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(t.done)
		_ = t.srv.Serve(ln)
	}()
	return t, nil
}

// Addr is the tunnel's "ip:port".
func (t *Tunnel) Addr() string { return t.addr }

// Streams is how many CONNECT streams reached the target.
func (t *Tunnel) Streams() int64 { return t.streams.Load() }

// Refused is how many CONNECTs named another target.
func (t *Tunnel) Refused() int64 { return t.refused.Load() }

// Close stops the tunnel and its open streams.
func (t *Tunnel) Close() error {
	err := t.srv.Close()
	<-t.done
	return err
}

func (t *Tunnel) connect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if r.Host != t.target {
		t.refused.Add(1)
		http.Error(w, "this tunnel fronts "+t.target, http.StatusForbidden)
		return
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	conn, err := d.DialContext(ctx, "tcp", t.target)
	cancel()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer conn.Close()
	t.streams.Add(1)
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // client -> target
		defer wg.Done()
		_, _ = io.Copy(conn, r.Body)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	// target -> client, flushed as it comes (a response must not wait for
	// the buffer to fill).
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				break
			}
			if rc.Flush() != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = conn.Close()
	wg.Wait()
}
