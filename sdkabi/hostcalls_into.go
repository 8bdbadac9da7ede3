// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo

package internal

import (
	"encoding/binary"
	"unsafe"
)

// Reads into the caller's buffers, for the zero-allocation API in
// proxywasm/zerocopy.go: the host's one allocation of the call is served
// from *buf (memory.go, hostArena), which the caller reuses, so once it has
// grown to fit, the call allocates nothing. The result aliases *buf and is
// overwritten by the next call with the same buffer.

// ProxyGetHeaderMapPairsInto is ProxyGetHeaderMapPairs with the result in *buf.
func ProxyGetHeaderMapPairsInto(mapType MapType, buf *[]byte, returnValueData **byte, returnValueSize *int) Status {
	hostArena = buf
	st := proxyGetHeaderMapPairs(uint32(mapType), &retPtr, &retSize)
	*returnValueData, *returnValueSize = takeHostBuffer(st)
	return st
}

// ProxyGetPropertyInto is ProxyGetProperty with the result in *buf; path is
// the serialized path (its elements joined by NUL).
func ProxyGetPropertyInto(path string, buf *[]byte, returnValueData **byte, returnValueSize *int) Status {
	hostArena = buf
	// The string's bytes (unsafe.StringData needs go1.20; the SDK's go.mod says go1.19).
	st := proxyGetProperty(*(*unsafe.Pointer)(unsafe.Pointer(&path)), uint32(len(path)), &retPtr, &retSize)
	*returnValueData, *returnValueSize = takeHostBuffer(st)
	return st
}

// DeserializeMapInto appends the pairs of a serialized header map to dst,
// as strings that alias bs. A map that does not fit in bs yields the pairs
// read until then (DeserializeMap would panic).
func DeserializeMapInto(dst [][2]string, bs []byte) [][2]string {
	if len(bs) < 4 {
		return dst
	}
	n := int(binary.LittleEndian.Uint32(bs))
	sizes := 4
	data := 4 + 8*n
	if n > len(bs)/8 || data > len(bs) {
		return dst
	}
	for i := 0; i < n; i++ {
		k := int(binary.LittleEndian.Uint32(bs[sizes:]))
		v := int(binary.LittleEndian.Uint32(bs[sizes+4:]))
		sizes += 8
		if data+k+v+2 > len(bs) { // each NUL-terminated
			return dst
		}
		key := RawBytePtrToString(&bs[data], k)
		data += k + 1
		value := RawBytePtrToString(&bs[data], v)
		data += v + 1
		// Field by field: a [2]string is 32 bytes, and Go's Wasm backend
		// copies a value that large with memory.copy, a call out of the VM
		// into the host's runtime.
		dst = append(dst, [2]string{})
		pair := &dst[len(dst)-1]
		pair[0], pair[1] = key, value
	}
	return dst
}
