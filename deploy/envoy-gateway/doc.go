// Package envoygateway holds the Envoy Gateway manifests for vcap-sticky (the
// YAML files beside this one, see README.md) and the tests that decode them
// strictly with Envoy Gateway's and Gateway API's own Go types, run the
// plugin config through the filter's parser, and run Envoy Gateway's
// translator on them. It is a Go module of its own: the filter's module never
// depends on Envoy Gateway.
package envoygateway
