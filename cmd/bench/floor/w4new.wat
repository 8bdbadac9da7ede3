;; W4new: a new session's crossings and nothing else (cmd/bench, variant W4new).
;;
;; W4 for D's traffic: per request, exactly the host calls vcap-sticky makes
;; for the first request of a session (crossings_test.go asserts the counts
;; are equal): on the request, all request header pairs; on the response, all
;; response header pairs, the property upstream.address, and two Set-Cookie
;; headers added, __VCAP_ID__ and __VCAP_ID_META__ as the filter adds them.
;; Each of the three results comes back through proxy_on_memory_allocate. It
;; does not look for the session cookie nor map the address to an instance id:
;; __VCAP_ID__ carries the address it read. Same ABI (0.2.0) and no callback
;; the filter does not export.
(module
  (import "env" "proxy_get_header_map_pairs"
    (func $get_header_map_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property"
    (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value"
    (func $add_header_map_value (param i32 i32 i32 i32 i32) (result i32)))

  ;; 0 and 4: the address and size slots a host call returns data in.
  ;; 16..1023: constants. 1024 on: the arena proxy_on_memory_allocate hands out.
  (memory (export "memory") 1)
  (data (i32.const 16) "upstream\00address")                    ;; 16 bytes
  (data (i32.const 48) "set-cookie")                            ;; 10
  (data (i32.const 64) "__VCAP_ID__=")                          ;; 12
  (data (i32.const 80) "; Path=/; HttpOnly")                    ;; 18
  (data (i32.const 112) "__VCAP_ID_META__=; Path=/; HttpOnly")  ;; 35

  ;; The arena: every callback starts again at its beginning.
  (global $next (mut i32) (i32.const 1024))

  (func (export "proxy_abi_version_0_2_0"))

  ;; A bump allocator, 8-byte aligned, growing the memory when it must.
  (func $alloc (export "proxy_on_memory_allocate") (param $size i32) (result i32)
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

  ;; copy moves n bytes from src to dst and returns dst + n.
  (func $copy (param $dst i32) (param $src i32) (param $n i32) (result i32)
    (block $done
      (loop $byte
        (br_if $done (i32.eqz (local.get $n)))
        (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $byte)))
    (local.get $dst))

  (func (export "proxy_on_context_create") (param $context i32) (param $parent i32))
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32)
    (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (i32.const 1))

  ;; Request: all header pairs (map type 0).
  (func (export "proxy_on_request_headers") (param $context i32) (param $headers i32) (param $eos i32) (result i32)
    (global.set $next (i32.const 1024))
    (drop (call $get_header_map_pairs (i32.const 0) (i32.const 0) (i32.const 4)))
    (i32.const 0)) ;; Continue

  ;; Response: all header pairs (map type 2), upstream.address, then
  ;; Set-Cookie: __VCAP_ID__=<address>; Path=/; HttpOnly and the META cookie.
  (func (export "proxy_on_response_headers") (param $context i32) (param $headers i32) (param $eos i32) (result i32)
    (local $addr i32) (local $addr_size i32) (local $cookie i32) (local $end i32)
    (global.set $next (i32.const 1024))
    (drop (call $get_header_map_pairs (i32.const 2) (i32.const 0) (i32.const 4)))
    (if (call $get_property (i32.const 16) (i32.const 16) (i32.const 0) (i32.const 4))
      (then (return (i32.const 0))))
    (local.set $addr (i32.load (i32.const 0)))
    (local.set $addr_size (i32.load (i32.const 4)))
    (local.set $cookie (call $alloc (i32.add (local.get $addr_size) (i32.const 30))))
    (local.set $end (call $copy (local.get $cookie) (i32.const 64) (i32.const 12)))
    (local.set $end (call $copy (local.get $end) (local.get $addr) (local.get $addr_size)))
    (local.set $end (call $copy (local.get $end) (i32.const 80) (i32.const 18)))
    (drop (call $add_header_map_value (i32.const 2) (i32.const 48) (i32.const 10)
                                      (local.get $cookie) (i32.sub (local.get $end) (local.get $cookie))))
    (drop (call $add_header_map_value (i32.const 2) (i32.const 48) (i32.const 10)
                                      (i32.const 112) (i32.const 35)))
    (i32.const 0))

  (func (export "proxy_on_delete") (param $context i32)))
