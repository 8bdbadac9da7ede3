;; W0: the floor of any proxy-wasm module in Envoy (cmd/bench, variant W0).
;;
;; A module with no language runtime whose callbacks return at once: Continue
;; from the header callbacks, success from the plugin's start. It exports no
;; callback that build/vcap-sticky.wasm does not (crossings_test.go checks it),
;; so Envoy makes the same calls into it per request as into the filter, and
;; nothing else: no host call, no allocation. Its ABI is the filter's (0.2.0).
(module
  (memory (export "memory") 1)

  (func (export "proxy_abi_version_0_2_0"))

  ;; Envoy copies data into the VM only through this; W0 never asks for any.
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (i32.const 1024))

  (func (export "proxy_on_context_create") (param $context i32) (param $parent i32))
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_request_headers") (param $context i32) (param $headers i32) (param $eos i32) (result i32)
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param $context i32) (param $headers i32) (param $eos i32) (result i32)
    (i32.const 0))
  (func (export "proxy_on_delete") (param $context i32)))
