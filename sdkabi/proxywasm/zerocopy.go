// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo

package proxywasm

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Reads that allocate nothing once the caller's buffers have grown to fit:
// added to the SDK's build-time copy by sdkabi/prepare.sh, for standard Go
// only (a native build, proxytest, has the SDK's allocating calls alone).
//
// Each result aliases *buf: it stays valid until the next call with the
// same buf. GetHttpRequestHeaders and friends allocate the host's buffer and
// the [][2]string on every call.

// GetHttpRequestHeadersInto is GetHttpRequestHeaders, appending the pairs to
// dst (of len 0 to reuse it), their bytes in *buf.
func GetHttpRequestHeadersInto(buf *[]byte, dst [][2]string) ([][2]string, error) {
	return getMapInto(internal.MapTypeHttpRequestHeaders, buf, dst)
}

// GetHttpResponseHeadersInto is GetHttpResponseHeaders, appending the pairs
// to dst (of len 0 to reuse it), their bytes in *buf.
func GetHttpResponseHeadersInto(buf *[]byte, dst [][2]string) ([][2]string, error) {
	return getMapInto(internal.MapTypeHttpResponseHeaders, buf, dst)
}

// GetPropertyInto is GetProperty with the value in *buf. path is the
// serialized path: its elements joined by "\x00" ("upstream\x00address").
func GetPropertyInto(buf *[]byte, path string) ([]byte, error) {
	if path == "" {
		return nil, types.ErrorStatusBadArgument
	}
	var raw *byte
	var size int
	if err := internal.StatusToError(internal.ProxyGetPropertyInto(path, buf, &raw, &size)); err != nil {
		return nil, err
	}
	return internal.RawBytePtrToByteSlice(raw, size), nil
}

func getMapInto(mapType internal.MapType, buf *[]byte, dst [][2]string) ([][2]string, error) {
	var raw *byte
	var size int
	if st := internal.ProxyGetHeaderMapPairsInto(mapType, buf, &raw, &size); st != internal.StatusOK {
		return dst, internal.StatusToError(st)
	} else if raw == nil {
		return dst, types.ErrorStatusNotFound
	}
	return internal.DeserializeMapInto(dst, internal.RawBytePtrToByteSlice(raw, size)), nil
}
