// Package istio holds the Istio manifests for vcap-sticky (the YAML files
// beside this one, see README.md) and the test that decodes them strictly with
// Istio's own API types and runs every WasmPlugin's pluginConfig through the
// filter's config parser.
package istio
