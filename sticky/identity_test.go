package sticky

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vcap-sticky/vcap-sticky/token"
)

// The cache of opened tokens never holds more than tokenCacheSize, and a
// token that does not open never gets in.
func TestTokenCacheBound(t *testing.T) {
	c := &tokenCache{}
	r, err := token.NewRing([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	tag := token.RouteTagOf("app.example", "/")
	for i := range tokenCacheSize + 10 {
		tok, err := r.Seal(token.Payload{ID: "a", Address: netip.MustParseAddrPort("127.0.0.1:8081"), Route: tag,
			Expires: fixedNow.Unix() + int64(i)})
		require.NoError(t, err)
		_, err = c.open(r, tok, tag, fixedNow)
		require.NoError(t, err)
		require.LessOrEqual(t, len(c.m), tokenCacheSize)
	}
	before := len(c.m)
	_, err = c.open(r, "nope", tag, fixedNow)
	assert.ErrorIs(t, err, token.ErrMalformed)
	assert.Equal(t, before, len(c.m), "a rejected token is not cached")
}
