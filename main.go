// Command vcap-sticky is the proxy-wasm module (a WASI reactor) that gives
// Envoy gorouter-style sticky sessions. Build it with `make build`.
package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/vcap-sticky/vcap-sticky/filter"
)

// init runs on the reactor's _initialize, where Envoy restricts host calls:
// it only registers the VM context.
func init() { proxywasm.SetVMContext(filter.NewVMContext()) }

// main never runs in a reactor; the c-shared build mode still needs one.
func main() {}
