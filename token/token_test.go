package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	key1 = []byte("0123456789abcdef0123456789abcdef")
	key2 = []byte("fedcba9876543210fedcba9876543210")
	t0   = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	shop = RouteTagOf("shop.example", "/")
)

func ring(t testing.TB, keys ...[]byte) *Ring {
	t.Helper()
	r, err := NewRing(keys...)
	require.NoError(t, err)
	return r
}

func payload() Payload {
	return Payload{ID: "shop-0", Address: netip.MustParseAddrPort("10.1.0.11:8080"), Route: shop, Expires: t0.Unix() + 3600}
}

func TestRoundTrip(t *testing.T) {
	r := ring(t, key1)
	for _, p := range []Payload{
		payload(),
		{ID: "x", Address: netip.MustParseAddrPort("[::1]:1"), Route: shop, Expires: t0.Unix()},
		{ID: strings.Repeat("i", MaxIDLength), Address: netip.MustParseAddrPort("[2001:db8::ffff:1.2.3.4]:65535"), Route: shop, Expires: t0.Unix()},
		{ID: "v4mapped", Address: netip.MustParseAddrPort("[::ffff:10.0.0.1]:80"), Route: shop, Expires: t0.Unix()},
	} {
		tok, err := r.Seal(p)
		require.NoError(t, err)
		assert.Len(t, tok, Size, "every token has the documented size")
		_, err = base64.RawURLEncoding.DecodeString(tok)
		require.NoError(t, err)
		got, err := r.Open(tok, shop, t0)
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	assert.Equal(t, 175, Size, "docs/sealed.md states the cookie size")
	assert.Equal(t, 172, V1Size, "docs/sealed.md states the size of version 1 tokens")
}

// keyIDOf is the key id rule of docs/sealed.md, written out here.
func keyIDOf(key []byte) [2]byte {
	sum := sha256.Sum256([]byte("vcap-sticky token key id\x00" + string(key)))
	return [2]byte{sum[0], sum[1]}
}

func TestTokenNamesItsKey(t *testing.T) {
	for _, keys := range [][][]byte{{key1}, {key2, key1}} {
		tok, err := ring(t, keys...).Seal(payload())
		require.NoError(t, err)
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		require.NoError(t, err)
		assert.Equal(t, byte(2), raw[0], "version 2")
		assert.Equal(t, keyIDOf(keys[0]), [2]byte(raw[1:3]), "the sealing key's id follows the version")
		// The key id is authenticated: the same token under another id does
		// not open, even if the ring had a key of that id.
		other := append([]byte(nil), raw...)
		other[2] ^= 1
		_, err = ring(t, keys...).Open(base64.RawURLEncoding.EncodeToString(other), shop, t0)
		assert.ErrorIs(t, err, ErrUnauthentic)
	}
}

// countingAEAD counts the opens a ring makes.
type countingAEAD struct {
	cipher.AEAD
	opens *int
}

func (c countingAEAD) Open(dst, nonce, ct, ad []byte) ([]byte, error) {
	*c.opens++
	return c.AEAD.Open(dst, nonce, ct, ad)
}

func countOpens(r *Ring) *int {
	n := new(int)
	for i := range r.keys {
		r.keys[i].aead = countingAEAD{r.keys[i].aead, n}
	}
	return n
}

// fullRing is a ring of MaxKeys keys, keys[0] sealing.
func fullRing(t *testing.T) (*Ring, [][]byte) {
	var keys [][]byte
	for i := range MaxKeys {
		k := sha256.Sum256([]byte{byte(i)})
		keys = append(keys, k[:])
	}
	return ring(t, keys...), keys
}

func TestAnyTokenCostsAtMostOneOpen(t *testing.T) {
	r, keys := fullRing(t)
	opens := countOpens(r)
	lastKey, err := ring(t, keys[MaxKeys-1]).Seal(payload())
	require.NoError(t, err)
	forged := func(id [2]byte, seed byte) string {
		raw := make([]byte, 1+2+12+Plaintext+16)
		for i := range raw {
			raw[i] = seed + byte(i*7)
		}
		raw[0], raw[1], raw[2] = 2, id[0], id[1]
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	for _, tc := range []struct {
		name      string
		tok       string
		opens     int
		wantError error
	}{
		{"genuine, sealed by the last key", lastKey, 1, nil},
		{"forged, the id of a ring key", forged(keyIDOf(keys[3]), 1), 1, ErrUnauthentic},
		{"forged, the id of the sealing key", forged(keyIDOf(keys[0]), 2), 1, ErrUnauthentic},
		{"forged, an id no key has", forged([2]byte{0xde, 0xad}, 3), 0, ErrUnauthentic},
		{"a plain gorouter id", "shop-0", 0, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*opens = 0
			_, err := r.Open(tc.tok, shop, t0)
			if tc.wantError == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.wantError)
			}
			assert.Equal(t, tc.opens, *opens, "AES-GCM opens")
		})
	}
}

// sealV1 seals p as builds before key ids did (docs/sealed.md, version 1):
// version 1 | nonce | AES-GCM(plaintext, additional data: the version byte).
func sealV1(t *testing.T, key []byte, p Payload) string {
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	var plain [Plaintext]byte
	binary.BigEndian.PutUint64(plain[0:8], uint64(p.Expires))
	copy(plain[8:16], p.Route[:])
	plain[16] = 4
	ip := p.Address.Addr().As16()
	copy(plain[17:33], ip[:])
	binary.BigEndian.PutUint16(plain[33:35], p.Address.Port())
	plain[35] = byte(len(p.ID))
	copy(plain[36:], p.ID)
	head := []byte{1}
	nonce := make([]byte, 12)
	nonce[0] = 7
	return base64.RawURLEncoding.EncodeToString(aead.Seal(append(head, nonce...), nonce, plain[:], head))
}

func TestVersion1Tokens(t *testing.T) {
	old := sealV1(t, key1, payload())
	require.Len(t, old, V1Size)
	r := ring(t, key2, key1)
	got, err := r.Open(old, shop, t0)
	require.NoError(t, err, "a version 1 token of any key of the ring opens")
	assert.Equal(t, payload(), got)
	_, err = ring(t, key2).Open(old, shop, t0)
	assert.ErrorIs(t, err, ErrUnauthentic)

	full, _ := fullRing(t)
	opens := countOpens(full)
	_, err = full.Open(old, shop, t0)
	assert.ErrorIs(t, err, ErrUnauthentic)
	assert.Equal(t, MaxKeys, *opens, "a version 1 token costs one open per key")

	r.RefuseV1()
	_, err = r.Open(old, shop, t0)
	assert.ErrorIs(t, err, ErrMalformed, "refused without trying a key")
	tok, err := r.Seal(payload())
	require.NoError(t, err)
	_, err = r.Open(tok, shop, t0)
	assert.NoError(t, err, "version 2 tokens still open")
}

// clashingKeys finds two distinct keys with the same key id (the birthday
// bound of 16 bits: a few hundred tries).
func clashingKeys(t *testing.T) ([]byte, []byte) {
	seen := map[[2]byte][]byte{}
	for i := 0; i < 1<<16; i++ {
		k := sha256.Sum256(binary.BigEndian.AppendUint32(nil, uint32(i)))
		id := keyIDOf(k[:])
		if prev, ok := seen[id]; ok {
			return prev, k[:]
		}
		seen[id] = k[:]
	}
	t.Fatal("no two keys with one id")
	return nil, nil
}

func TestRingRefusesKeysWithOneID(t *testing.T) {
	a, b := clashingKeys(t)
	_, err := NewRing(a, b)
	assert.ErrorContains(t, err, "key 2 has the key id of key 1")
	_, err = ParseKeys(base64.StdEncoding.EncodeToString(key1) + "," + base64.StdEncoding.EncodeToString(a) + "," + base64.StdEncoding.EncodeToString(b))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "key 3 of 3 has the key id of key 2")
	assert.Contains(t, err.Error(), "generate another key")
}

func TestSealIsRandomized(t *testing.T) {
	r := ring(t, key1)
	a, err := r.Seal(payload())
	require.NoError(t, err)
	b, err := r.Seal(payload())
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "a fresh nonce per token")
}

func TestOpenRejects(t *testing.T) {
	r := ring(t, key1)
	tok, err := r.Seal(payload())
	require.NoError(t, err)
	other, err := ring(t, key2).Seal(payload())
	require.NoError(t, err)
	flip := []byte(tok)
	flip[40] ^= 1 // still base64url: 'a'^1 = '`' is not, so pick a safe change
	flip[40] = map[bool]byte{true: 'A', false: 'B'}[tok[40] != 'A']
	for _, tc := range []struct {
		name  string
		tok   string
		route RouteTag
		at    time.Time
		want  error
	}{
		{"plain gorouter id", "shop-0", shop, t0, ErrMalformed},
		{"empty", "", shop, t0, ErrMalformed},
		{"truncated", tok[:Size-1], shop, t0, ErrMalformed},
		{"extended", tok + "A", shop, t0, ErrMalformed},
		{"padded", tok[:Size-2] + "==", shop, t0, ErrMalformed},
		{"not base64url", tok[:Size-1] + "+", shop, t0, ErrMalformed},
		{"other version", "B" + tok[1:], shop, t0, ErrMalformed},
		{"one character changed", string(flip), shop, t0, ErrUnauthentic},
		{"another key", other, shop, t0, ErrUnauthentic},
		{"another route", tok, RouteTagOf("shop.example", "/admin"), t0, ErrOtherRoute},
		{"expired", tok, shop, t0.Add(time.Hour + time.Second), ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := r.Open(tc.tok, tc.route, tc.at)
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, Payload{}, p)
		})
	}
	_, err = r.Open(tok, shop, t0.Add(time.Hour))
	assert.NoError(t, err, "valid through its expiry second")
}

func TestRotation(t *testing.T) {
	old := ring(t, key1)
	rotated := ring(t, key2, key1)
	newOnly := ring(t, key2)
	oldTok, err := old.Seal(payload())
	require.NoError(t, err)
	_, err = rotated.Open(oldTok, shop, t0)
	assert.NoError(t, err, "[new, old] opens tokens of the old key")
	newTok, err := rotated.Seal(payload())
	require.NoError(t, err)
	_, err = newOnly.Open(newTok, shop, t0)
	assert.NoError(t, err, "[new, old] seals with the new key")
	_, err = old.Open(newTok, shop, t0)
	assert.ErrorIs(t, err, ErrUnauthentic)
	_, err = newOnly.Open(oldTok, shop, t0)
	assert.ErrorIs(t, err, ErrUnauthentic, "once the old key is dropped its tokens no longer open")
}

func TestSealRefuses(t *testing.T) {
	r := ring(t, key1)
	for _, p := range []Payload{
		{ID: "", Address: netip.MustParseAddrPort("10.0.0.1:80")},
		{ID: strings.Repeat("i", MaxIDLength+1), Address: netip.MustParseAddrPort("10.0.0.1:80")},
		{ID: "a"},
	} {
		_, err := r.Seal(p)
		assert.Error(t, err)
	}
}

func TestParseKeys(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	url := base64.RawURLEncoding.EncodeToString
	secret := b64(key1)
	r, err := ParseKeys(" " + b64(key2) + " , " + url(key1))
	require.NoError(t, err)
	tok, err := r.Seal(payload())
	require.NoError(t, err)
	_, err = ring(t, key2).Open(tok, shop, t0)
	assert.NoError(t, err, "the first key seals")
	_, err = ParseKeys(b64(key1[:16]) + "," + b64(key1[:24]))
	assert.NoError(t, err, "AES-128 and AES-192 keys")

	for _, tc := range []struct{ in, want string }{
		{"", "no key"},
		{"  ", "no key"},
		{secret + ",", "key 2 of 2 is 0 bytes"},
		{"!!!!" + secret, "key 1 of 1 is not base64"},
		{b64(key1[:20]), "key 1 of 1 is 20 bytes"},
		{secret + "," + secret, "key 2 of 2 repeats"},
		{strings.Repeat(secret+",", MaxKeys) + secret, "9 keys, at most 8"},
	} {
		_, err := ParseKeys(tc.in)
		require.Error(t, err, "%q", tc.in)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), secret[:8], "an error never shows key material")
	}
}

func TestOpenDoesNotAllocateMuch(t *testing.T) {
	r := ring(t, key1, key2)
	tok, err := r.Seal(payload())
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := r.Open(tok, shop, t0); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 3.0, "the id string, the decoded token, the plaintext")
	bad := tok[:100] + strings.Repeat("A", Size-100)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := r.Open(bad, shop, t0); !errors.Is(err, ErrUnauthentic) {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 2.0)
}

// BenchmarkOpenForged: forged tokens against a full ring. A version 2 token
// with a ring key's id costs one open; a version 1 token one per key.
func BenchmarkOpenForged(b *testing.B) {
	var keys [][]byte
	for i := range MaxKeys {
		k := sha256.Sum256([]byte{byte(i)})
		keys = append(keys, k[:])
	}
	r := ring(b, keys...)
	tok, _ := ring(b, keys[MaxKeys-1]).Seal(payload())
	for _, forged := range []struct{ name, tok string }{
		{"v2", tok[:4] + strings.Repeat("A", Size-4)}, // the last key's id, a forged body
		{"v1", "AQ" + strings.Repeat("A", V1Size-2)},
	} {
		b.Run(forged.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Open(forged.tok, shop, t0); err == nil {
					b.Fatal("opened")
				}
			}
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	r := ring(b, key1)
	p := payload()
	for b.Loop() {
		if _, err := r.Seal(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	r := ring(b, key1)
	tok, _ := r.Seal(payload())
	for b.Loop() {
		if _, err := r.Open(tok, shop, t0); err != nil {
			b.Fatal(err)
		}
	}
}
