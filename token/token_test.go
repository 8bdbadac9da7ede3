package token

import (
	"encoding/base64"
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
	assert.Equal(t, 172, Size, "docs/sealed.md states the cookie size")
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
