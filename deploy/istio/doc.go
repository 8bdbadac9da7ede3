// Package istio holds the Istio manifests for vcap-sticky (the YAML files
// beside this one, see README.md) and the tests that decode them strictly
// with Istio's own API types, run every WasmPlugin's pluginConfig through the
// filter's config parser, and check istiod's own output for the gateway setup
// (testdata/xds.yaml, made by xdsgen/ with `make istio-xds`). It is a Go
// module of its own: the filter's module never depends on Istio.
package istio
