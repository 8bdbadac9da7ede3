//go:build !wasip1

package main

// Natively there is no module to build: the command is a Wasm module (main.go).
func main() {}
