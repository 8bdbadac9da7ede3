// Package token seals a session's instance into an opaque __VCAP_ID__ value:
// AES-GCM (Go's standard library) over the instance id, its ip:port, the
// route it belongs to and a wall-clock expiry. Any holder of the same key can
// open it; nobody without it can read the address, or forge, alter, extend or
// move a token to another route.
//
// A token is the unpadded base64url encoding (a valid cookie value) of
//
//	version (1, = 2) | key id (2) | nonce (12) | AES-GCM(plaintext) (Plaintext bytes) | tag (16)
//
// with the version and the key id as additional authenticated data, and the
// plaintext
//
//	expiry (8, unix seconds, big endian) | route tag (8) | family (1, 4 or 6) |
//	ip (16) | port (2) | id length (1) | id (MaxIDLength, zero padded)
//
// Every token has the same length (Size characters), whatever the instance:
// the length tells nothing about the id.
//
// The key id names the key that sealed the token (KeyID), so that Open tries
// one key whatever the token: a forged token costs at most one AES-GCM open,
// however many keys the ring holds. Version 1 tokens, from builds before key
// ids, have no key id (version | nonce | ciphertext | tag, V1Size characters);
// a ring opens them by trying each key, unless told not to (RefuseV1).
package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

const (
	// MaxIDLength is the longest instance id a token carries (a Kubernetes
	// pod name, a DNS label, is at most 63 bytes; a CF instance GUID 36).
	MaxIDLength = 64
	// MaxKeys bounds the key ring: a version 1 token is tried with each key.
	MaxKeys = 8

	version   = 2
	idSize    = 2
	headSize  = 1 + idSize // authenticated, not encrypted
	nonceSize = 12
	tagSize   = 16
	// Plaintext is the plaintext's fixed length.
	Plaintext = 8 + 8 + 1 + 16 + 2 + 1 + MaxIDLength
	rawSize   = headSize + nonceSize + Plaintext + tagSize
	// Size is the length of every token, in characters.
	Size = (rawSize*8 + 5) / 6

	v1Version = 1
	v1RawSize = 1 + nonceSize + Plaintext + tagSize
	// V1Size is the length of a version 1 token (no key id).
	V1Size = (v1RawSize*8 + 5) / 6
)

// Reasons a token is rejected; Open returns one of these errors.
var (
	// ErrMalformed: not a token of this format (wrong length, not base64url,
	// unknown version), such as a plain gorouter instance id.
	ErrMalformed = errors.New("malformed token")
	// ErrUnauthentic: no key of the ring opens it (another key, or altered).
	ErrUnauthentic = errors.New("token does not open with any key")
	// ErrExpired: it opened, but its expiry has passed.
	ErrExpired = errors.New("token expired")
	// ErrOtherRoute: it opened, but was sealed for another route.
	ErrOtherRoute = errors.New("token belongs to another route")
)

// Payload is what a token carries.
type Payload struct {
	ID      string         // instance id, 1 to MaxIDLength bytes
	Address netip.AddrPort // the instance's ip:port
	Route   RouteTag       // the route it was issued for
	Expires int64          // unix seconds; the token is valid up to and including this second
}

// RouteTag identifies a route inside a token: the first 8 bytes of
// SHA-256(host NUL path).
type RouteTag [8]byte

// RouteTagOf returns the tag of the route with this host and path.
func RouteTagOf(host, path string) RouteTag {
	sum := sha256.Sum256([]byte(host + "\x00" + path))
	var t RouteTag
	copy(t[:], sum[:])
	return t
}

// Ring is a list of keys: the first seals, every one opens.
type Ring struct {
	keys []ringKey
	// refuseV1: version 1 tokens are malformed (no key is tried).
	refuseV1 bool
}

type ringKey struct {
	id   uint16
	aead cipher.AEAD
}

// KeyID is the id a token sealed with key carries: the first two bytes of
// SHA-256("vcap-sticky token key id" NUL key). It tells which key to try,
// and nothing of the key that a token's ciphertext does not already tell.
func KeyID(key []byte) uint16 {
	sum := sha256.Sum256(append([]byte("vcap-sticky token key id\x00"), key...))
	return binary.BigEndian.Uint16(sum[:2])
}

// RefuseV1 makes the ring treat version 1 tokens (sealed before key ids) as
// malformed: no token then costs more than one open. For once every live
// token is version 2, one token lifetime after the last replica upgraded.
func (r *Ring) RefuseV1() { r.refuseV1 = true }

// add appends key, unless another key of the ring has its id (two such keys
// could not be told apart; one in 65,536 pairs): then it returns that key's
// position, from 1.
func (r *Ring) add(key []byte) (clash int) {
	id := KeyID(key)
	for i, k := range r.keys {
		if k.id == id {
			return i + 1
		}
	}
	r.keys = append(r.keys, ringKey{id, newAEAD(key)})
	return 0
}

// ParseKeys reads a key ring from its environment form: keys separated by
// commas (spaces around them are ignored), each the standard or URL base64
// encoding (padding optional) of 16, 24 or 32 random bytes (AES-128, -192,
// -256). Errors name a key by its position, never by its value.
func ParseKeys(s string) (*Ring, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no key")
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxKeys {
		return nil, fmt.Errorf("%d keys, at most %d", len(parts), MaxKeys)
	}
	r := &Ring{}
	seen := map[string]bool{}
	for i, p := range parts {
		key, ok := decodeKey(strings.TrimSpace(p))
		switch {
		case !ok:
			return nil, fmt.Errorf("key %d of %d is not base64", i+1, len(parts))
		case len(key) != 16 && len(key) != 24 && len(key) != 32:
			return nil, fmt.Errorf("key %d of %d is %d bytes, want 16, 24 or 32", i+1, len(parts), len(key))
		case seen[string(key)]:
			return nil, fmt.Errorf("key %d of %d repeats an earlier key", i+1, len(parts))
		}
		seen[string(key)] = true
		if c := r.add(key); c != 0 {
			return nil, fmt.Errorf("key %d of %d has the key id of key %d (one pair in 65,536): generate another key", i+1, len(parts), c)
		}
	}
	return r, nil
}

// NewRing builds a ring from raw keys (16, 24 or 32 bytes each), the first
// sealing. For tests and tools; configuration goes through ParseKeys.
func NewRing(keys ...[]byte) (*Ring, error) {
	if len(keys) == 0 || len(keys) > MaxKeys {
		return nil, fmt.Errorf("%d keys, want 1 to %d", len(keys), MaxKeys)
	}
	r := &Ring{}
	for i, k := range keys {
		if len(k) != 16 && len(k) != 24 && len(k) != 32 {
			return nil, fmt.Errorf("key %d is %d bytes, want 16, 24 or 32", i+1, len(k))
		}
		if c := r.add(k); c != 0 {
			return nil, fmt.Errorf("key %d has the key id of key %d", i+1, c)
		}
	}
	return r, nil
}

func newAEAD(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil { // the length was checked
		panic("token: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("token: " + err.Error())
	}
	return aead
}

func decodeKey(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// Seal returns the token for p, with a fresh random nonce.
func (r *Ring) Seal(p Payload) (string, error) {
	if len(p.ID) == 0 || len(p.ID) > MaxIDLength {
		return "", fmt.Errorf("instance id of %d bytes, want 1 to %d", len(p.ID), MaxIDLength)
	}
	if !p.Address.IsValid() {
		return "", errors.New("invalid instance address")
	}
	var raw [rawSize]byte
	sealer := r.keys[0]
	raw[0] = version
	binary.BigEndian.PutUint16(raw[1:headSize], sealer.id)
	nonce := raw[headSize : headSize+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	var plain [Plaintext]byte
	encodePlain(&plain, p)
	sealer.aead.Seal(raw[headSize+nonceSize:headSize+nonceSize], nonce, plain[:], raw[:headSize])
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

func encodePlain(b *[Plaintext]byte, p Payload) {
	binary.BigEndian.PutUint64(b[0:8], uint64(p.Expires))
	copy(b[8:16], p.Route[:])
	addr := p.Address.Addr()
	if addr.Is4() {
		b[16] = 4
	} else {
		b[16] = 6
	}
	ip := addr.As16()
	copy(b[17:33], ip[:])
	binary.BigEndian.PutUint16(b[33:35], p.Address.Port())
	b[35] = byte(len(p.ID))
	copy(b[36:], p.ID)
}

// Open returns the payload of a token sealed by any key of the ring, for the
// route tagged route, valid at now. The error is one of ErrMalformed,
// ErrUnauthentic, ErrExpired and ErrOtherRoute; on error the payload is empty.
//
// A version 2 token is tried with the one key its key id names, if the ring
// has it; a version 1 token with each key in turn (unless RefuseV1).
func (r *Ring) Open(tok string, route RouteTag, now time.Time) (Payload, error) {
	var plain [Plaintext]byte
	var err error
	switch {
	case len(tok) == Size:
		err = r.openV2(tok, &plain)
	case len(tok) == V1Size && !r.refuseV1:
		err = r.openV1(tok, &plain)
	default:
		err = ErrMalformed
	}
	if err != nil {
		return Payload{}, err
	}
	p, ok := decodePlain(&plain)
	if !ok { // authentic, so sealed by a buggy or foreign writer: refuse it all the same
		return Payload{}, ErrMalformed
	}
	if p.Route != route {
		return Payload{}, ErrOtherRoute
	}
	if now.Unix() > p.Expires {
		return Payload{}, ErrExpired
	}
	return p, nil
}

// decode reads a token's bytes into raw. Strict: the unused low bits of the
// last character must be zero, so that one token has exactly one spelling.
func decode(raw []byte, tok string, ver byte) bool {
	n, err := base64.RawURLEncoding.Strict().Decode(raw, []byte(tok))
	return err == nil && n == len(raw) && raw[0] == ver
}

func (r *Ring) openV2(tok string, plain *[Plaintext]byte) error {
	var raw [rawSize]byte
	if !decode(raw[:], tok, version) {
		return ErrMalformed
	}
	id := binary.BigEndian.Uint16(raw[1:headSize])
	for _, k := range r.keys {
		if k.id != id {
			continue
		}
		if _, err := k.aead.Open(plain[:0], raw[headSize:headSize+nonceSize], raw[headSize+nonceSize:], raw[:headSize]); err != nil {
			return ErrUnauthentic
		}
		return nil
	}
	return ErrUnauthentic // no key of the ring has this id
}

func (r *Ring) openV1(tok string, plain *[Plaintext]byte) error {
	var raw [v1RawSize]byte
	if !decode(raw[:], tok, v1Version) {
		return ErrMalformed
	}
	for _, k := range r.keys {
		if _, err := k.aead.Open(plain[:0], raw[1:1+nonceSize], raw[1+nonceSize:], raw[:1]); err == nil {
			return nil
		}
	}
	return ErrUnauthentic
}

func decodePlain(b *[Plaintext]byte) (Payload, bool) {
	var p Payload
	p.Expires = int64(binary.BigEndian.Uint64(b[0:8]))
	copy(p.Route[:], b[8:16])
	var ip [16]byte
	copy(ip[:], b[17:33])
	addr := netip.AddrFrom16(ip)
	switch b[16] {
	case 4:
		if !addr.Is4In6() {
			return Payload{}, false
		}
		addr = addr.Unmap()
	case 6:
	default:
		return Payload{}, false
	}
	p.Address = netip.AddrPortFrom(addr, binary.BigEndian.Uint16(b[33:35]))
	n := int(b[35])
	if n == 0 || n > MaxIDLength {
		return Payload{}, false
	}
	for _, c := range b[36+n:] {
		if c != 0 {
			return Payload{}, false
		}
	}
	p.ID = string(b[36 : 36+n])
	return p, true
}
