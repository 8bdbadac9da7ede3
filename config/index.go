package config

import (
	"hash/maphash"
	"math/bits"
)

// instanceIndex finds a route's instance by one key (its id, its address,
// or its app instance) in a route too large to search one by one: an open
// addressing table of positions in Route.Instances, at most half full. For
// 100,000 instances it is 2 MiB, about half of a Go map of strings to
// pointers, and faster to build: a Go map's inserts were a third of the
// plugin start of such a route.
type instanceIndex struct {
	seed maphash.Seed
	// slots hold 1 + a position in Route.Instances in the low 32 bits (0:
	// empty) and the key's hash's high 32 in the others, so that a probe
	// compares keys only when the hashes agree: each comparison reads an
	// instance at a random place in memory.
	slots []uint64
}

func slot(pos int, h uint64) uint64 { return uint64(pos+1) | h&^(1<<32-1) }

// indexKey is what an index is keyed by.
type indexKey uint8

const (
	keyID indexKey = iota
	keyAddress
	keyAppInstance // "<app guid>:<index>"
)

func newInstanceIndex(n int) instanceIndex {
	size := 8
	if n > 2 {
		size = max(size, 1<<bits.Len(uint(2*n-1))) // a power of two >= 2n
	}
	return instanceIndex{seed: maphash.MakeSeed(), slots: make([]uint64, size)}
}

// hash is the hash of in's key: for an app instance, that of the string
// "<app guid>:<index>", without building it.
func (x *instanceIndex) hash(in *Instance, key indexKey) uint64 {
	switch key {
	case keyID:
		return maphash.String(x.seed, in.ID)
	case keyAddress:
		return maphash.String(x.seed, in.Address)
	}
	var h maphash.Hash
	h.SetSeed(x.seed)
	h.WriteString(in.AppGUID)
	h.WriteByte(':')
	h.WriteString(in.IndexText)
	return h.Sum64()
}

// has reports whether in's key is k.
func has(in *Instance, key indexKey, k string) bool {
	switch key {
	case keyID:
		return in.ID == k
	case keyAddress:
		return in.Address == k
	}
	return in.AppGUID != "" && len(k) == len(in.AppGUID)+1+len(in.IndexText) &&
		k[:len(in.AppGUID)] == in.AppGUID && k[len(in.AppGUID)] == ':' && k[len(in.AppGUID)+1:] == in.IndexText
}

// add indexes instances[pos]; if an instance with the same key is indexed
// already, it returns that one instead.
func (x *instanceIndex) add(instances []*Instance, pos int, key indexKey) *Instance {
	in := instances[pos]
	h := x.hash(in, key)
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			x.slots[i] = slot(pos, h)
			return nil
		}
		if s>>32 == h>>32 {
			if other := instances[uint32(s)-1]; sameKey(other, in, key) {
				return other
			}
		}
	}
}

// find returns the instance whose key is k, or nil: up to smallTable
// instances by comparing each, more through the table (an empty table, as
// byAppInstance without app guids, holds none).
func (x *instanceIndex) find(instances []*Instance, key indexKey, k string) *Instance {
	if len(instances) <= smallTable {
		for _, in := range instances {
			if has(in, key, k) {
				return in
			}
		}
		return nil
	}
	if len(x.slots) == 0 {
		return nil
	}
	h := maphash.String(x.seed, k)
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return nil
		}
		if s>>32 == h>>32 {
			if in := instances[uint32(s)-1]; has(in, key, k) {
				return in
			}
		}
	}
}

// sameKey reports whether a and b have the same key.
func sameKey(a, b *Instance, key indexKey) bool {
	switch key {
	case keyID:
		return a.ID == b.ID
	case keyAddress:
		return a.Address == b.Address
	}
	return a.AppGUID == b.AppGUID && a.IndexText == b.IndexText
}
