// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo

package internal

import "unsafe"

// hostBuffers holds every buffer proxy_on_memory_allocate handed to the host
// during the current host call. The host keeps only a 32-bit address, which the
// Go GC cannot see, so without this list a second allocation in the same call
// (or any GC before the caller reads the result) could free the first buffer.
// takeHostBuffer empties the list once the caller has a real Go pointer.
var hostBuffers [][]byte

// Return slots for host calls that hand back a buffer. They are globals, not
// locals: a Go stack can move while the host calls back into
// proxy_on_memory_allocate, and the host would then write to the old stack.
// Calls are never nested (the only callback during a host call is
// proxy_on_memory_allocate), so one pair of slots is enough.
var retPtr, retSize uint32

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocateABI(size uint32) uint32 {
	if size == 0 {
		size = 1 // &buf[0] must exist; the host ignores the extra byte
	}
	buf := make([]byte, size)
	hostBuffers = append(hostBuffers, buf)
	return uint32(uintptr(unsafe.Pointer(&buf[0])))
}

// takeHostBuffer turns the address the host wrote into retPtr back into a Go
// pointer, by finding the buffer we allocated for it, then unpins all buffers
// and clears the slots. A status other than OK, a zero size, or an address we
// did not hand out yields (nil, 0): the host never makes us read foreign memory.
func takeHostBuffer(st Status) (*byte, int) {
	var data *byte
	size := int(retSize)
	if st == StatusOK && size > 0 {
		for _, buf := range hostBuffers {
			if uint32(uintptr(unsafe.Pointer(&buf[0]))) == retPtr && size <= len(buf) {
				data = &buf[0]
				break
			}
		}
	}
	for i := range hostBuffers {
		hostBuffers[i] = nil // the SDK's go.mod says go1.19: no clear()
	}
	hostBuffers = hostBuffers[:0]
	retPtr, retSize = 0, 0
	if data == nil {
		return nil, 0
	}
	return data, size
}
