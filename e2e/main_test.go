package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Set by TestMain from the environment; the tests never run without them.
var (
	// envoyPath is $ENVOY_PATH, the Envoy binary func-e runs.
	envoyPath string
	// wasmPath is $VCAP_STICKY_WASM (default ../build/vcap-sticky.wasm), absolute.
	wasmPath string
	// envoyVersion is the output of `envoy --version`, trimmed.
	envoyVersion string
)

const defaultWasm = "../build/vcap-sticky.wasm"

func TestMain(m *testing.M) {
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("e2e: envoy %s\ne2e: %s\ne2e: module %s\n", envoyPath, envoyVersion, wasmPath)
	os.Exit(m.Run())
}

func setup() error {
	envoyPath = os.Getenv("ENVOY_PATH")
	if envoyPath == "" {
		return errors.New("ENVOY_PATH is not set: the e2e tests run a real Envoy (1.36 to 1.40). " +
			"Run them with `make test` (or `make e2e`), or set ENVOY_PATH to the path `make envoy` prints")
	}
	if fi, err := os.Stat(envoyPath); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("ENVOY_PATH=%s is not an executable file (%v): run `make envoy` and use the path it prints, or run `make test`",
			envoyPath, err)
	}

	wasmPath = os.Getenv("VCAP_STICKY_WASM")
	if wasmPath == "" {
		wasmPath = defaultWasm
	}
	abs, err := filepath.Abs(wasmPath)
	if err != nil {
		return err
	}
	wasmPath = abs
	if fi, err := os.Stat(wasmPath); err != nil || fi.IsDir() || fi.Size() == 0 {
		return fmt.Errorf("the filter module %s is missing (%v): run `make build` (or `make test`), or set VCAP_STICKY_WASM",
			wasmPath, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, envoyPath, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %v: %s", envoyPath, err, out)
	}
	envoyVersion = strings.TrimSpace(string(out))
	if envoyMinor, err = parseEnvoyMinor(envoyVersion); err != nil {
		return err
	}
	return nil
}
