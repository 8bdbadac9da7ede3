;; W4: a sticky hit's crossings and nothing else (cmd/bench, variant W4).
;;
;; A module with no language runtime that makes, per request, exactly the host
;; calls vcap-sticky makes for a sticky hit (crossings_test.go asserts the
;; counts are equal): on the request, all request header pairs, then the pin
;; header replaced; on the response, all response header pairs and the property
;; upstream.address. Each of the three results comes back through
;; proxy_on_memory_allocate, as in the filter. It reads nothing it gets: what it
;; costs is Envoy's and V8's share of such a filter, the floor under C.
;;
;; The pin header's value is the plugin configuration, read once at start: the
;; benchmark gives it instance 0's address, so W4 pins as C does. Same ABI
;; (0.2.0) and no callback the filter does not export.
(module
  (import "env" "proxy_get_buffer_bytes"
    (func $get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs"
    (func $get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_replace_header_map_value"
    (func $replace_header_map_value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property"
    (func $get_property (param i32 i32 i32 i32) (result i32)))

  ;; 0 and 4: the address and size slots a host call returns data in.
  ;; 16..1023: constants. 1024 on: the arena proxy_on_memory_allocate hands out.
  (memory (export "memory") 1)
  (data (i32.const 16) "x-vcap-sticky-upstream")
  (data (i32.const 48) "upstream\00address")

  ;; The arena: $next is the next free byte; each callback starts again at
  ;; $base, which is past the plugin configuration (kept for the VM's life).
  (global $base (mut i32) (i32.const 1024))
  (global $next (mut i32) (i32.const 1024))
  ;; The pin value: the plugin configuration, in the arena below $base.
  (global $pin (mut i32) (i32.const 0))
  (global $pin_size (mut i32) (i32.const 0))

  (func (export "proxy_abi_version_0_2_0"))

  ;; A bump allocator, 8-byte aligned, growing the memory when it must.
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32) (local $end i32) (local $have i32)
    (local.set $p (global.get $next))
    (local.set $end (i32.and (i32.add (i32.add (local.get $p) (local.get $size)) (i32.const 7))
                             (i32.const -8)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have))
                                                     (i32.const 0xffff))
                                            (i32.const 16)))
                    (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $next (local.get $end))
    (local.get $p))

  (func (export "proxy_on_context_create") (param $context i32) (param $parent i32))

  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32)
    (i32.const 1))

  ;; Keeps the plugin configuration (buffer type 7) as the pin value; fails
  ;; the plugin without one.
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (global.set $next (global.get $base))
    (if (i32.eqz (local.get $size)) (then (return (i32.const 0))))
    (if (call $get_buffer_bytes (i32.const 7) (i32.const 0) (local.get $size) (i32.const 0) (i32.const 4))
      (then (return (i32.const 0))))
    (global.set $pin (i32.load (i32.const 0)))
    (global.set $pin_size (i32.load (i32.const 4)))
    (global.set $base (global.get $next))
    (i32.ne (global.get $pin_size) (i32.const 0)))

  ;; Request: all header pairs (map type 0), then the pin header replaced.
  (func (export "proxy_on_request_headers") (param $context i32) (param $headers i32) (param $eos i32) (result i32)
    (global.set $next (global.get $base))
    (drop (call $get_header_map_pairs (i32.const 0) (i32.const 0) (i32.const 4)))
    (drop (call $replace_header_map_value (i32.const 0) (i32.const 16) (i32.const 22)
                                          (global.get $pin) (global.get $pin_size)))
    (i32.const 0)) ;; Continue

  ;; Response: all header pairs (map type 2), then upstream.address.
  (func (export "proxy_on_response_headers") (param $context i32) (param $headers i32) (param $eos i32) (result i32)
    (global.set $next (global.get $base))
    (drop (call $get_header_map_pairs (i32.const 2) (i32.const 0) (i32.const 4)))
    (drop (call $get_property (i32.const 48) (i32.const 16) (i32.const 0) (i32.const 4)))
    (i32.const 0))

  (func (export "proxy_on_delete") (param $context i32)))
