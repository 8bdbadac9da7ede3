package token

import (
	"encoding/base64"
	"net/netip"
	"testing"
)

// FuzzOpen: Open never panics on any input, and what it accepts re-seals to
// a token that opens to the same payload. Nothing of the fixed key's
// tokens is known to the fuzzer beyond the seeds, so an accepted input is a
// seed (or a forgery, which fails the round trip check below only if it
// differs; see FuzzModifiedToken for the tamper property).
func FuzzOpen(f *testing.F) {
	r := ring(f, key1, key2)
	tok, _ := r.Seal(payload())
	f.Add(tok)
	f.Add("shop-0")
	f.Add("")
	f.Add(tok[:Size-1] + "_")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := r.Open(s, shop, t0)
		if err != nil {
			if p != (Payload{}) {
				t.Fatalf("Open(%q) failed (%v) but returned %+v", s, err, p)
			}
			return
		}
		again, err := r.Seal(p)
		if err != nil {
			t.Fatalf("payload %+v of an accepted token does not re-seal: %v", p, err)
		}
		if q, err := r.Open(again, shop, t0); err != nil || q != p {
			t.Fatalf("re-sealed %+v opens to %+v, %v", p, q, err)
		}
	})
}

// FuzzModifiedToken: a genuine token with any modification (bits flipped
// anywhere, truncated, extended, or a mix) never opens, and Open never panics.
func FuzzModifiedToken(f *testing.F) {
	r := ring(f, key1, key2)
	f.Add("shop-0", "10.1.0.11:8080", uint16(0), byte(1), uint8(0), []byte(nil))
	f.Add("i", "[::1]:1", uint16(171), byte(0x80), uint8(1), []byte("A"))
	f.Add("x", "1.2.3.4:5", uint16(3), byte(0), uint8(2), []byte(""))
	f.Add("y", "1.2.3.4:5", uint16(50), byte(0), uint8(3), []byte("xyz"))
	f.Fuzz(func(t *testing.T, id, addr string, at uint16, mask byte, op uint8, extra []byte) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || len(id) == 0 || len(id) > MaxIDLength {
			return
		}
		p := Payload{ID: id, Address: ap, Route: shop, Expires: t0.Unix() + 60}
		tok, err := r.Seal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := r.Open(tok, shop, t0); err != nil || got.ID != p.ID || got.Address != netip.AddrPortFrom(ap.Addr().WithZone(""), ap.Port()) {
			t.Fatalf("genuine token for %+v: %+v, %v", p, got, err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		i := int(at) % len(raw)
		var mod []byte
		switch op % 4 {
		case 0: // flip bits of one byte
			if mask == 0 {
				mask = 1
			}
			mod = append([]byte(nil), raw...)
			mod[i] ^= mask
		case 1: // truncate
			mod = raw[:i]
		case 2: // extend
			mod = append(append([]byte(nil), raw...), extra...)
			if len(extra) == 0 {
				mod = append(mod, mask)
			}
		case 3: // flip, then extend or truncate
			mod = append([]byte(nil), raw...)
			mod[i] ^= mask | 1
			mod = append(mod[:len(mod)-len(extra)%len(mod)], extra...)
		}
		for _, s := range []string{base64.RawURLEncoding.EncodeToString(mod), tok[:int(at)%(Size+1)], tok + string(extra)} {
			if s == tok {
				continue
			}
			if got, err := r.Open(s, shop, t0); err == nil {
				t.Fatalf("a modified token %q (op %d) opened to %+v", s, op%4, got)
			}
		}
	})
}
