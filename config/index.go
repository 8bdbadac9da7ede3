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
	// instance at a random place in memory. A key's first slot is its
	// hash's top bits (h >> shift), so a slot tells where its probe began.
	slots []uint64
	shift uint8
}

func slot(pos int, h uint64) uint64 { return uint64(pos+1) | h&^(1<<32-1) }

// first is the slot a probe for hash h starts at; the same from a slot's
// value, whose top 32 bits are its hash's.
func (x *instanceIndex) first(h uint64) uint64 { return h >> x.shift }

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
	return instanceIndex{seed: maphash.MakeSeed(), slots: make([]uint64, size), shift: uint8(64 - bits.Len(uint(size-1)))}
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
	for i := x.first(h); ; i = (i + 1) & mask {
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
	for i := x.first(h); ; i = (i + 1) & mask {
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

// bulkIndexMin is the size from which a route's id and address indexes are
// built in one pass each (build) rather than instance by instance: a table
// of 100,000 instances is 2 MiB, and inserting in document order makes
// nearly every insert a cache miss at a random place in it.
const bulkIndexMin = 4096

// build indexes every instance, inserting them grouped by the region of
// the table their probe starts in, so that consecutive inserts touch
// neighbouring memory; it reads no instance to insert it unless two hashes
// agree. If two instances share a key it reports false with the table
// empty, for add, which names the first repeat in document order. It
// groups as many instances at a time as scratch holds, and leaves scratch
// zeroed: a table not filled yet will do.
func (x *instanceIndex) build(instances []*Instance, key indexKey, scratch []uint64) bool {
	for from := 0; from < len(instances) && len(scratch) > 0; from += len(scratch) {
		to := min(len(instances), from+len(scratch))
		if !x.insertGrouped(instances, from, to, key, scratch[:to-from]) {
			clear(x.slots)
			return false
		}
	}
	return true
}

// insertGrouped inserts instances[from:to], grouped in grouped (to-from slots).
func (x *instanceIndex) insertGrouped(instances []*Instance, from, to int, key indexKey, grouped []uint64) bool {
	// Regions of 256 slots (2 KiB), at most 1024 of them: a counting sort on
	// the hash's top bits. Hashing twice costs less than a second scratch.
	regionShift := max(x.shift+8, 64-10)
	var starts [1<<10 + 1]int
	for _, in := range instances[from:to] {
		starts[x.hash(in, key)>>regionShift+1]++
	}
	for r := 1; r < len(starts); r++ {
		starts[r] += starts[r-1]
	}
	for pos := from; pos < to; pos++ {
		v := slot(pos, x.hash(instances[pos], key))
		r := v >> regionShift
		grouped[starts[r]] = v
		starts[r]++
	}
	defer clear(grouped)
	mask := uint64(len(x.slots) - 1)
	for _, v := range grouped {
		for i := x.first(v); ; i = (i + 1) & mask {
			s := x.slots[i]
			if s == 0 {
				x.slots[i] = v
				break
			}
			if s>>32 == v>>32 && sameKey(instances[uint32(s)-1], instances[uint32(v)-1], key) {
				return false
			}
		}
	}
	return true
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
