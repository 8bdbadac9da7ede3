package main

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The built module must speak proxy-wasm ABI 0.2.x as Envoy links it: these
// are the ABI's signatures (i32 sizes and addresses, i64 metric values).
const i32, i64 = api.ValueTypeI32, api.ValueTypeI64

type sig struct{ params, results []api.ValueType }

func vals(v ...api.ValueType) []api.ValueType { return v }

var wantExports = map[string]sig{
	"proxy_abi_version_0_2_0":              {},
	"proxy_on_memory_allocate":             {vals(i32), vals(i32)},
	"proxy_on_context_create":              {vals(i32, i32), nil},
	"proxy_on_vm_start":                    {vals(i32, i32), vals(i32)},
	"proxy_on_configure":                   {vals(i32, i32), vals(i32)},
	"proxy_on_tick":                        {vals(i32), nil},
	"proxy_on_queue_ready":                 {vals(i32, i32), nil},
	"proxy_on_new_connection":              {vals(i32), vals(i32)},
	"proxy_on_downstream_data":             {vals(i32, i32, i32), vals(i32)},
	"proxy_on_downstream_connection_close": {vals(i32, i32), nil},
	"proxy_on_upstream_data":               {vals(i32, i32, i32), vals(i32)},
	"proxy_on_upstream_connection_close":   {vals(i32, i32), nil},
	"proxy_on_request_headers":             {vals(i32, i32, i32), vals(i32)},
	"proxy_on_response_headers":            {vals(i32, i32, i32), vals(i32)},
	"proxy_on_http_call_response":          {vals(i32, i32, i32, i32, i32), nil},
	"proxy_on_delete":                      {vals(i32), nil},
	"_initialize":                          {},
}

// streamExports are the per-stream callbacks the filter does without (build
// tag sdkabi_headers_only): Envoy would call each on every request or body
// chunk. The binding without the tag exports them too.
var streamExports = map[string]sig{
	"proxy_on_request_body":      {vals(i32, i32, i32), vals(i32)},
	"proxy_on_request_trailers":  {vals(i32, i32), vals(i32)},
	"proxy_on_response_body":     {vals(i32, i32, i32), vals(i32)},
	"proxy_on_response_trailers": {vals(i32, i32), vals(i32)},
	"proxy_on_done":              {vals(i32), vals(i32)},
	"proxy_on_log":               {vals(i32), nil},
}

// Host functions of ABI 0.2.x that the filter may import, by signature. An
// import missing here (a typo, a wrong width) would fail to link in Envoy.
var abiHostFunctions = map[string]sig{
	"proxy_log":                          {vals(i32, i32, i32), vals(i32)},
	"proxy_send_local_response":          {vals(i32, i32, i32, i32, i32, i32, i32, i32), vals(i32)},
	"proxy_get_shared_data":              {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_set_shared_data":              {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_register_shared_queue":        {vals(i32, i32, i32), vals(i32)},
	"proxy_resolve_shared_queue":         {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_dequeue_shared_queue":         {vals(i32, i32, i32), vals(i32)},
	"proxy_enqueue_shared_queue":         {vals(i32, i32, i32), vals(i32)},
	"proxy_get_header_map_value":         {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_add_header_map_value":         {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_replace_header_map_value":     {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_remove_header_map_value":      {vals(i32, i32, i32), vals(i32)},
	"proxy_get_header_map_pairs":         {vals(i32, i32, i32), vals(i32)},
	"proxy_set_header_map_pairs":         {vals(i32, i32, i32), vals(i32)},
	"proxy_get_buffer_bytes":             {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_set_buffer_bytes":             {vals(i32, i32, i32, i32, i32), vals(i32)},
	"proxy_continue_stream":              {vals(i32), vals(i32)},
	"proxy_close_stream":                 {vals(i32), vals(i32)},
	"proxy_http_call":                    {vals(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32), vals(i32)},
	"proxy_call_foreign_function":        {vals(i32, i32, i32, i32, i32, i32), vals(i32)},
	"proxy_set_tick_period_milliseconds": {vals(i32), vals(i32)},
	"proxy_set_effective_context":        {vals(i32), vals(i32)},
	"proxy_done":                         {nil, vals(i32)},
	"proxy_define_metric":                {vals(i32, i32, i32, i32), vals(i32)},
	"proxy_increment_metric":             {vals(i32, i64), vals(i32)},
	"proxy_record_metric":                {vals(i32, i64), vals(i32)},
	"proxy_get_metric":                   {vals(i32, i32), vals(i32)},
	"proxy_get_property":                 {vals(i32, i32, i32, i32), vals(i32)},
	"proxy_set_property":                 {vals(i32, i32, i32, i32), vals(i32)},
}

func builtModule(t *testing.T) wazero.CompiledModule {
	t.Helper()
	return compileModule(t, builtModulePath())
}

// builtModulePath is the module `make build` writes, or $VCAP_STICKY_WASM.
func builtModulePath() string {
	if path := os.Getenv("VCAP_STICKY_WASM"); path != "" {
		return path
	}
	return "build/vcap-sticky.wasm"
}

// readModule reads the module at path, failing t with how to build it.
func readModule(t *testing.T, path string) []byte {
	t.Helper()
	bin, err := os.ReadFile(path)
	require.NoError(t, err, "the wasm module is built by `make build` (or set VCAP_STICKY_WASM)")
	return bin
}

func compileModule(t *testing.T, path string) wazero.CompiledModule {
	t.Helper()
	bin := readModule(t, path)
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.CompileModule(ctx, bin)
	require.NoError(t, err)
	return mod
}

func TestModuleIsAProxyWasmReactor(t *testing.T) {
	mod := builtModule(t)
	assertExports(t, mod, wantExports)
	for name := range streamExports {
		assert.NotContainsf(t, mod.ExportedFunctions(), name,
			"%s: Envoy would call into the VM for it on every request (build with -tags sdkabi_headers_only)", name)
	}
	assert.NotContains(t, mod.ExportedFunctions(), "_start", "a reactor has no _start")
	assert.Contains(t, mod.ExportedMemories(), "memory")
	assert.Empty(t, mod.ImportedMemories(), "the module must own its memory")
}

// The binding without sdkabi_headers_only exports every callback the SDK
// defines. Built from the small empty filter of the benchmark, with the
// build-time SDK copy `make build` prepares.
func TestBindingWithoutTagExportsEveryCallback(t *testing.T) {
	if _, err := os.Stat("build/go.mod"); err != nil {
		t.Fatalf("build/go.mod: %v (run `make build` first)", err)
	}
	out := filepath.Join(t.TempDir(), "full.wasm")
	cmd := exec.Command("go", "build", "-modfile=build/go.mod", "-buildmode=c-shared", "-trimpath",
		"-o", out, "./cmd/bench/emptyfilter")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	all := maps.Clone(wantExports)
	maps.Copy(all, streamExports)
	assertExports(t, compileModule(t, out), all)
}

// assertExports checks that mod exports exactly the proxy-wasm functions of
// want, with the ABI's signatures.
func assertExports(t *testing.T, mod wazero.CompiledModule, want map[string]sig) {
	t.Helper()
	exports := mod.ExportedFunctions()
	for name, w := range want {
		def, ok := exports[name]
		if !assert.Truef(t, ok, "export %s missing", name) {
			continue
		}
		assert.Equalf(t, w.params, nilIfEmpty(def.ParamTypes()), "%s params", name)
		assert.Equalf(t, w.results, nilIfEmpty(def.ResultTypes()), "%s results", name)
	}
	for name := range exports {
		if strings.HasPrefix(name, "proxy_") {
			assert.Containsf(t, want, name, "unexpected proxy-wasm export %s", name)
		}
	}
}

func TestModuleImportsOnlyProxyWasmAndWASI(t *testing.T) {
	mod := builtModule(t)
	var proxyImports int
	for _, def := range mod.ImportedFunctions() {
		module, name, _ := def.Import()
		switch module {
		case "env":
			want, ok := abiHostFunctions[name]
			if !assert.Truef(t, ok, "env.%s is not a proxy-wasm 0.2 host function", name) {
				continue
			}
			proxyImports++
			assert.Equalf(t, want.params, nilIfEmpty(def.ParamTypes()), "%s params", name)
			assert.Equalf(t, want.results, nilIfEmpty(def.ResultTypes()), "%s results", name)
		case "wasi_snapshot_preview1":
		default:
			t.Errorf("import %s.%s: only env.proxy_* and wasi_snapshot_preview1.* are allowed", module, name)
		}
	}
	assert.Positive(t, proxyImports, "the module imports no proxy-wasm host function")
}

func nilIfEmpty(v []api.ValueType) []api.ValueType {
	if len(v) == 0 {
		return nil
	}
	return v
}
