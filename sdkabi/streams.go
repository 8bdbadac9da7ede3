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
// A stream's plugin is kept in its slot, not in the SDK's contextIDToRootID
// map (a hashed insert and delete per request): the two places the SDK reads
// that map for a stream, DispatchHttpCall from an HTTP context and the check
// that the caller is still alive when the response comes, ask rootIDOf and
// contextLive instead (prepare.sh points them here).
var streams streamTable

const streamSlots = 256 // a power of two

type streamTable struct {
	slots    [streamSlots]stream
	overflow map[uint32]*stream
	// plugin caches the last plugin context a stream was created under:
	// a VM has one plugin per filter config, so the map lookup is rare.
	pluginID uint32
	plugin   *pluginContextState
	recycler httpContextRecycler // plugin's, if it is one
}

type stream struct {
	id, rootID uint32
	ctx        types.HttpContext   // nil: the slot is free
	recycler   httpContextRecycler // the plugin's, or nil
}

// httpContextRecycler is a plugin context that wants its HTTP contexts back
// once Envoy has deleted them, to reuse them for later streams (Envoy never
// names a deleted context again). It is asked once per plugin, not per
// stream: an interface assertion in Wasm is a hashed itab lookup each time
// (Go's assertion cache exists only on some native targets).
type httpContextRecycler interface {
	HttpContextDeleted(types.HttpContext)
}

// find returns the live stream with this id, or nil.
func (t *streamTable) find(id uint32) *stream {
	if s := &t.slots[id%streamSlots]; s.ctx != nil && s.id == id {
		return s
	}
	if len(t.overflow) == 0 {
		return nil
	}
	return t.overflow[id]
}

// get returns the HTTP context with this id, or nil.
func (t *streamTable) get(id uint32) types.HttpContext {
	if s := t.find(id); s != nil {
		return s.ctx
	}
	return nil
}

// put adds a new stream; false if one with this id is live already.
func (t *streamTable) put(s stream) bool {
	if t.find(s.id) != nil {
		return false
	}
	if slot := &t.slots[s.id%streamSlots]; slot.ctx == nil {
		*slot = s
		return true
	}
	if t.overflow == nil {
		t.overflow = map[uint32]*stream{}
	}
	p := new(stream) // not &s: that would move every s to the heap
	*p = s
	t.overflow[s.id] = p
	return true
}

// remove drops the stream with this id and returns it; ok is false if
// there was none.
func (t *streamTable) remove(id uint32) (s stream, ok bool) {
	if slot := &t.slots[id%streamSlots]; slot.ctx != nil && slot.id == id {
		s = *slot
		*slot = stream{}
		return s, true
	}
	if p, ok := t.overflow[id]; ok {
		delete(t.overflow, id)
		return *p, true
	}
	return stream{}, false
}

// pluginState returns the plugin context with this id and its recycle
// hook, or nil.
func (t *streamTable) pluginState(id uint32) (*pluginContextState, httpContextRecycler) {
	if t.plugin != nil && t.pluginID == id {
		return t.plugin, t.recycler
	}
	root := currentState.pluginContexts[id]
	if root != nil {
		t.pluginID, t.plugin = id, root
		t.recycler, _ = root.context.(httpContextRecycler)
		return root, t.recycler
	}
	return nil, nil
}

// forgetPlugin drops the cached plugin context when Envoy deletes it.
func (t *streamTable) forgetPlugin(id uint32) {
	if t.pluginID == id {
		t.pluginID, t.plugin, t.recycler = 0, nil, nil
	}
}

// rootIDOf is the plugin context id of a context: the SDK's
// contextIDToRootID, with streams kept in the table.
func rootIDOf(contextID uint32) uint32 {
	if s := streams.find(contextID); s != nil {
		return s.rootID
	}
	return currentState.contextIDToRootID[contextID]
}

// contextLive reports whether Envoy has not yet deleted this context.
func contextLive(contextID uint32) bool {
	if streams.find(contextID) != nil {
		return true
	}
	_, ok := currentState.contextIDToRootID[contextID]
	return ok
}

// createStream is the SDK's createHttpContext and then createTcpContext,
// with the HTTP context kept in streams.
func createStream(contextID, pluginContextID uint32) {
	root, recycler := streams.pluginState(pluginContextID)
	if root == nil {
		panic("invalid plugin context id")
	}
	if ctx := root.context.NewHttpContext(contextID); ctx != nil {
		if !streams.put(stream{contextID, pluginContextID, ctx, recycler}) {
			panic("context id duplicated")
		}
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
