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

// hostArena, when set for a host call (the *Into host calls in
// hostcalls_into.go), is a buffer of the caller's that serves the call's
// first allocation instead of a new one: the caller reuses it from call to
// call, so a read that returns data allocates nothing once the buffer has
// grown to fit. The caller holds it, so the GC keeps it; arenaBuf is what it
// handed out, for takeHostBuffer.
var (
	hostArena *[]byte
	arenaBuf  []byte
)

//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocateABI(size uint32) uint32 {
	if size == 0 {
		size = 1 // &buf[0] must exist; the host ignores the extra byte
	}
	if a := hostArena; a != nil {
		hostArena = nil // one allocation per call: a second gets a buffer of its own
		if uint32(cap(*a)) < size {
			c := uint64(512) // room to grow into: powers of two
			for c < uint64(size) {
				c *= 2
			}
			*a = make([]byte, c)
		}
		arenaBuf = (*a)[:size]
		return uint32(uintptr(unsafe.Pointer(&arenaBuf[0])))
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
		if len(arenaBuf) > 0 && uint32(uintptr(unsafe.Pointer(&arenaBuf[0]))) == retPtr && size <= len(arenaBuf) {
			data = &arenaBuf[0]
		}
		for _, buf := range hostBuffers {
			if data == nil && uint32(uintptr(unsafe.Pointer(&buf[0]))) == retPtr && size <= len(buf) {
				data = &buf[0]
			}
		}
	}
	for i := range hostBuffers {
		hostBuffers[i] = nil // the SDK's go.mod says go1.19: no clear()
	}
	hostBuffers = hostBuffers[:0]
	hostArena, arenaBuf = nil, nil
	retPtr, retSize = 0, 0
	if data == nil {
		return nil, 0
	}
	return data, size
}
