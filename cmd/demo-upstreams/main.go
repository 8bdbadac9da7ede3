// Command demo-upstreams runs fake app instances (package upstream) for the
// demo (`make run`): one HTTP server per address, each naming itself in
// X-Instance-Id and its JSON body. SIGINT or SIGTERM stops them all.
//
//	demo-upstreams -listen 127.0.0.1:8081,127.0.0.1:8082,127.0.0.1:8083
//	demo-upstreams -listen 127.0.0.1:9001,127.0.0.1:9002 -ids shop-0,shop-1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vcap-sticky/vcap-sticky/upstream"
)

const shutdownTimeout = 5 * time.Second

func main() {
	listen := flag.String("listen", "127.0.0.1:8081,127.0.0.1:8082,127.0.0.1:8083",
		"comma-separated addresses, one instance each")
	ids := flag.String("ids", "",
		"comma-separated instance ids, one per address (default instance-a, instance-b, ...)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("demo-upstreams: ")

	addrs, names, err := plan(*listen, *ids)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo-upstreams:", err)
		flag.Usage()
		os.Exit(2)
	}
	if err := run(addrs, names); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// plan pairs the addresses with instance ids.
func plan(listen, ids string) (addrs, names []string, err error) {
	addrs = split(listen)
	if len(addrs) == 0 {
		return nil, nil, errors.New("-listen: no addresses")
	}
	names = split(ids)
	switch {
	case len(names) == 0:
		for i := range addrs {
			names = append(names, DefaultID(i))
		}
	case len(names) != len(addrs):
		return nil, nil, fmt.Errorf("-ids has %d ids for %d -listen addresses", len(names), len(addrs))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, nil, fmt.Errorf("-ids: %q twice", n)
		}
		seen[n] = true
	}
	return addrs, names, nil
}

// DefaultID is the id of the i-th instance: instance-a … instance-z, then instance-26, ….
func DefaultID(i int) string {
	if i >= 0 && i < 26 {
		return "instance-" + string(rune('a'+i))
	}
	return fmt.Sprintf("instance-%d", i)
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(addrs, names []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var running []*upstream.Instance
	stopAll := func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		for _, in := range running {
			if err := in.Shutdown(sctx); err != nil {
				log.Printf("%s: shutdown: %v", in.ID, err)
			}
		}
	}
	for i, addr := range addrs {
		in, err := upstream.Start(names[i], addr)
		if err != nil {
			stopAll()
			return err
		}
		running = append(running, in)
		log.Printf("%s listening on %s", in.ID, in.URL())
	}

	<-ctx.Done()
	stop() // a second signal kills the process the default way
	log.Printf("stopping %d instances", len(running))
	stopAll()
	return nil
}
