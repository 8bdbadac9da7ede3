// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo

package internal

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

// streams holds the VM's HTTP contexts by context id, in place of the SDK's
// httpContexts map: every stream is looked up by id on each callback, and a
// Go map hashes the id, which in Wasm is Go's portable hash, whose 128-bit
// products Wasm has no instruction for (in wazero the SDK's maps cost more
// than the rest of an empty filter's callbacks). Envoy numbers the
// contexts of a VM one after another, so the ids in flight at once fall in
// distinct slots of a table indexed by id modulo its size; an id whose slot
// is taken (a stream that outlived 255 later ones) goes to an overflow map.
//
// The SDK's contextIDToRootID keeps an entry per stream, as the SDK makes
// it: DispatchHttpCall from an HTTP context, and the check that the caller
// is still alive when the response comes, read it.
var streams streamTable

const streamSlots = 256 // a power of two

type streamTable struct {
	slots    [streamSlots]stream
	overflow map[uint32]types.HttpContext
	// plugin caches the last plugin context a stream was created under:
	// a VM has one plugin per filter config, so the map lookup is rare.
	pluginID uint32
	plugin   *pluginContextState
}

type stream struct {
	id  uint32
	ctx types.HttpContext // nil: the slot is free
}

// get returns the HTTP context with this id, or nil.
func (t *streamTable) get(id uint32) types.HttpContext {
	if s := &t.slots[id%streamSlots]; s.ctx != nil && s.id == id {
		return s.ctx
	}
	if len(t.overflow) == 0 {
		return nil
	}
	return t.overflow[id]
}

// put adds a new HTTP context; false if one with this id is live already.
func (t *streamTable) put(id uint32, ctx types.HttpContext) bool {
	if t.get(id) != nil {
		return false
	}
	if s := &t.slots[id%streamSlots]; s.ctx == nil {
		*s = stream{id, ctx}
		return true
	}
	if t.overflow == nil {
		t.overflow = map[uint32]types.HttpContext{}
	}
	t.overflow[id] = ctx
	return true
}

// remove drops the HTTP context with this id and returns it, or nil.
func (t *streamTable) remove(id uint32) types.HttpContext {
	if s := &t.slots[id%streamSlots]; s.ctx != nil && s.id == id {
		ctx := s.ctx
		*s = stream{}
		return ctx
	}
	ctx, ok := t.overflow[id]
	if ok {
		delete(t.overflow, id)
	}
	return ctx
}

// pluginState returns the plugin context with this id, or nil.
func (t *streamTable) pluginState(id uint32) *pluginContextState {
	if t.plugin != nil && t.pluginID == id {
		return t.plugin
	}
	root := currentState.pluginContexts[id]
	if root != nil {
		t.pluginID, t.plugin = id, root
	}
	return root
}

// forgetPlugin drops the cached plugin context when Envoy deletes it.
func (t *streamTable) forgetPlugin(id uint32) {
	if t.pluginID == id {
		t.pluginID, t.plugin = 0, nil
	}
}

// createStream is the SDK's createHttpContext and then createTcpContext,
// with the HTTP context kept in streams.
func createStream(contextID, pluginContextID uint32) {
	root := streams.pluginState(pluginContextID)
	if root == nil {
		panic("invalid plugin context id")
	}
	if ctx := root.context.NewHttpContext(contextID); ctx != nil {
		if !streams.put(contextID, ctx) {
			panic("context id duplicated")
		}
		currentState.contextIDToRootID[contextID] = pluginContextID
		return
	}
	if !currentState.createTcpContext(contextID, pluginContextID) {
		panic("invalid context id on proxy_on_context_create")
	}
}

// httpStream returns the live HTTP context with this id and makes it the
// active one, as the SDK's callbacks do; it panics, as they do, for an id
// that is none.
func httpStream(contextID uint32, callback string) types.HttpContext {
	ctx := streams.get(contextID)
	if ctx == nil {
		panic("invalid context id on " + callback)
	}
	currentState.setActiveContextID(contextID)
	return ctx
}
