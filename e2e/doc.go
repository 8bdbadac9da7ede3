// Package e2e holds the end-to-end tests of vcap-sticky: the built wasm module
// in a real Envoy (started through func-e's Go API), with fake app instances
// (package upstream), exercised with real HTTP over 127.0.0.1.
//
// Run them with `make test` (or `make e2e`). They need ENVOY_PATH (the Envoy
// binary) and the module, VCAP_STICKY_WASM (default ../build/vcap-sticky.wasm);
// without either they fail. E2E_ENVOY_LOGS=1 prints Envoy's logs for passing
// tests too.
//
// The harness (in the _test.go files): StartFixture / StartInstances /
// NewBootstrap / StartEnvoy to set things up, Fixture.Get / Do / Reply to
// send requests and look at answers, Envoy.Stats / Counter / FilterCounter to
// read the admin endpoint.
package e2e
