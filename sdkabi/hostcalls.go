// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo

package internal

import "unsafe"

// The host functions of proxy-wasm ABI 0.2.x, with the SDK's signatures on top.
//
// Each Proxy* function below is the one the SDK's tinygo file declares; it
// converts at the boundary: Go's int is 64-bit on wasm, the ABI passes i32
// sizes and 32-bit addresses. Input buffers go to the host as unsafe.Pointer,
// which makes the compiler keep them off the (movable) Go stack. Results the
// host allocates come back through retPtr/retSize and takeHostBuffer.

func ptr(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, msgSize uint32) Status

func ProxyLog(logLevel LogLevel, messageData *byte, messageSize int) Status {
	return proxyLog(uint32(logLevel), ptr(messageData), uint32(messageSize))
}

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details unsafe.Pointer, detailsSize uint32,
	body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpcStatus int32) Status

func ProxySendLocalResponse(statusCode uint32, statusCodeDetailData *byte, statusCodeDetailsSize int,
	bodyData *byte, bodySize int, headersData *byte, headersSize int, grpcStatus int32) Status {
	return proxySendLocalResponse(statusCode, ptr(statusCodeDetailData), uint32(statusCodeDetailsSize),
		ptr(bodyData), uint32(bodySize), ptr(headersData), uint32(headersSize), grpcStatus)
}

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key unsafe.Pointer, keySize uint32, retData *uint32, retSize *uint32, cas *uint32) Status

func ProxyGetSharedData(keyData *byte, keySize int, returnValueData **byte, returnValueSize *int, returnCas *uint32) Status {
	st := proxyGetSharedData(ptr(keyData), uint32(keySize), &retPtr, &retSize, returnCas)
	*returnValueData, *returnValueSize = takeHostBuffer(st)
	return st
}

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32, cas uint32) Status

func ProxySetSharedData(keyData *byte, keySize int, valueData *byte, valueSize int, cas uint32) Status {
	return proxySetSharedData(ptr(keyData), uint32(keySize), ptr(valueData), uint32(valueSize), cas)
}

//go:wasmimport env proxy_register_shared_queue
func proxyRegisterSharedQueue(name unsafe.Pointer, nameSize uint32, returnID *uint32) Status

func ProxyRegisterSharedQueue(nameData *byte, nameSize int, returnID *uint32) Status {
	return proxyRegisterSharedQueue(ptr(nameData), uint32(nameSize), returnID)
}

//go:wasmimport env proxy_resolve_shared_queue
func proxyResolveSharedQueue(vmID unsafe.Pointer, vmIDSize uint32, name unsafe.Pointer, nameSize uint32, returnID *uint32) Status

func ProxyResolveSharedQueue(vmIDData *byte, vmIDSize int, nameData *byte, nameSize int, returnID *uint32) Status {
	return proxyResolveSharedQueue(ptr(vmIDData), uint32(vmIDSize), ptr(nameData), uint32(nameSize), returnID)
}

//go:wasmimport env proxy_dequeue_shared_queue
func proxyDequeueSharedQueue(queueID uint32, retData *uint32, retSize *uint32) Status

func ProxyDequeueSharedQueue(queueID uint32, returnValueData **byte, returnValueSize *int) Status {
	st := proxyDequeueSharedQueue(queueID, &retPtr, &retSize)
	*returnValueData, *returnValueSize = takeHostBuffer(st)
	return st
}

//go:wasmimport env proxy_enqueue_shared_queue
func proxyEnqueueSharedQueue(queueID uint32, value unsafe.Pointer, valueSize uint32) Status

func ProxyEnqueueSharedQueue(queueID uint32, valueData *byte, valueSize int) Status {
	return proxyEnqueueSharedQueue(queueID, ptr(valueData), uint32(valueSize))
}

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, retData *uint32, retSize *uint32) Status

func ProxyGetHeaderMapValue(mapType MapType, keyData *byte, keySize int, returnValueData **byte, returnValueSize *int) Status {
	st := proxyGetHeaderMapValue(uint32(mapType), ptr(keyData), uint32(keySize), &retPtr, &retSize)
	*returnValueData, *returnValueSize = takeHostBuffer(st)
	return st
}

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) Status

func ProxyAddHeaderMapValue(mapType MapType, keyData *byte, keySize int, valueData *byte, valueSize int) Status {
	return proxyAddHeaderMapValue(uint32(mapType), ptr(keyData), uint32(keySize), ptr(valueData), uint32(valueSize))
}

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32, value unsafe.Pointer, valueSize uint32) Status

func ProxyReplaceHeaderMapValue(mapType MapType, keyData *byte, keySize int, valueData *byte, valueSize int) Status {
	return proxyReplaceHeaderMapValue(uint32(mapType), ptr(keyData), uint32(keySize), ptr(valueData), uint32(valueSize))
}

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key unsafe.Pointer, keySize uint32) Status

func ProxyRemoveHeaderMapValue(mapType MapType, keyData *byte, keySize int) Status {
	return proxyRemoveHeaderMapValue(uint32(mapType), ptr(keyData), uint32(keySize))
}

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, retData *uint32, retSize *uint32) Status

func ProxyGetHeaderMapPairs(mapType MapType, returnValueData **byte, returnValueSize *int) Status {
	st := proxyGetHeaderMapPairs(uint32(mapType), &retPtr, &retSize)
	*returnValueData, *returnValueSize = takeHostBuffer(st)
	return st
}

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(mapType uint32, pairs unsafe.Pointer, pairsSize uint32) Status

func ProxySetHeaderMapPairs(mapType MapType, mapData *byte, mapSize int) Status {
	return proxySetHeaderMapPairs(uint32(mapType), ptr(mapData), uint32(mapSize))
}

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType uint32, start uint32, maxSize uint32, retData *uint32, retSize *uint32) Status

func ProxyGetBufferBytes(bufferType BufferType, start int, maxSize int, returnBufferData **byte, returnBufferSize *int) Status {
	st := proxyGetBufferBytes(uint32(bufferType), uint32(start), uint32(maxSize), &retPtr, &retSize)
	*returnBufferData, *returnBufferSize = takeHostBuffer(st)
	return st
}

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(bufferType uint32, start uint32, maxSize uint32, data unsafe.Pointer, dataSize uint32) Status

func ProxySetBufferBytes(bufferType BufferType, start int, maxSize int, bufferData *byte, bufferSize int) Status {
	return proxySetBufferBytes(uint32(bufferType), uint32(start), uint32(maxSize), ptr(bufferData), uint32(bufferSize))
}

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(streamType uint32) Status

func ProxyContinueStream(streamType StreamType) Status {
	return proxyContinueStream(uint32(streamType))
}

//go:wasmimport env proxy_close_stream
func proxyCloseStream(streamType uint32) Status

func ProxyCloseStream(streamType StreamType) Status { return proxyCloseStream(uint32(streamType)) }

//go:wasmimport env proxy_http_call
func proxyHttpCall(upstream unsafe.Pointer, upstreamSize uint32, headers unsafe.Pointer, headersSize uint32,
	body unsafe.Pointer, bodySize uint32, trailers unsafe.Pointer, trailersSize uint32, timeout uint32, calloutID *uint32) Status

func ProxyHttpCall(upstreamData *byte, upstreamSize int, headerData *byte, headerSize int,
	bodyData *byte, bodySize int, trailersData *byte, trailersSize int, timeout uint32, calloutIDPtr *uint32,
) Status {
	return proxyHttpCall(ptr(upstreamData), uint32(upstreamSize), ptr(headerData), uint32(headerSize),
		ptr(bodyData), uint32(bodySize), ptr(trailersData), uint32(trailersSize), timeout, calloutIDPtr)
}

//go:wasmimport env proxy_call_foreign_function
func proxyCallForeignFunction(name unsafe.Pointer, nameSize uint32, param unsafe.Pointer, paramSize uint32,
	retData *uint32, retSize *uint32) Status

func ProxyCallForeignFunction(funcNamePtr *byte, funcNameSize int, paramPtr *byte, paramSize int, returnData **byte, returnSize *int) Status {
	st := proxyCallForeignFunction(ptr(funcNamePtr), uint32(funcNameSize), ptr(paramPtr), uint32(paramSize), &retPtr, &retSize)
	*returnData, *returnSize = takeHostBuffer(st)
	return st
}

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriodMilliseconds(period uint32) Status

func ProxySetTickPeriodMilliseconds(period uint32) Status {
	return proxySetTickPeriodMilliseconds(period)
}

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(contextID uint32) Status

func ProxySetEffectiveContext(contextID uint32) Status { return proxySetEffectiveContext(contextID) }

//go:wasmimport env proxy_done
func proxyDone() Status

func ProxyDone() Status { return proxyDone() }

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name unsafe.Pointer, nameSize uint32, returnID *uint32) Status

func ProxyDefineMetric(metricType MetricType, metricNameData *byte, metricNameSize int, returnMetricIDPtr *uint32) Status {
	return proxyDefineMetric(uint32(metricType), ptr(metricNameData), uint32(metricNameSize), returnMetricIDPtr)
}

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(metricID uint32, offset int64) Status

func ProxyIncrementMetric(metricID uint32, offset int64) Status {
	return proxyIncrementMetric(metricID, offset)
}

//go:wasmimport env proxy_record_metric
func proxyRecordMetric(metricID uint32, value uint64) Status

func ProxyRecordMetric(metricID uint32, value uint64) Status {
	return proxyRecordMetric(metricID, value)
}

//go:wasmimport env proxy_get_metric
func proxyGetMetric(metricID uint32, returnValue *uint64) Status

func ProxyGetMetric(metricID uint32, returnMetricValue *uint64) Status {
	return proxyGetMetric(metricID, returnMetricValue)
}

//go:wasmimport env proxy_get_property
func proxyGetProperty(path unsafe.Pointer, pathSize uint32, retData *uint32, retSize *uint32) Status

func ProxyGetProperty(pathData *byte, pathSize int, returnValueData **byte, returnValueSize *int) Status {
	st := proxyGetProperty(ptr(pathData), uint32(pathSize), &retPtr, &retSize)
	*returnValueData, *returnValueSize = takeHostBuffer(st)
	return st
}

//go:wasmimport env proxy_set_property
func proxySetProperty(path unsafe.Pointer, pathSize uint32, value unsafe.Pointer, valueSize uint32) Status

func ProxySetProperty(pathData *byte, pathSize int, valueData *byte, valueSize int) Status {
	return proxySetProperty(ptr(pathData), uint32(pathSize), ptr(valueData), uint32(valueSize))
}
