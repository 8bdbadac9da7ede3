package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanDefaultIDs(t *testing.T) {
	addrs, names, err := plan("127.0.0.1:8081, 127.0.0.1:8082,127.0.0.1:8083", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"}, addrs)
	assert.Equal(t, []string{"instance-a", "instance-b", "instance-c"}, names)
	assert.Equal(t, "instance-z", DefaultID(25))
	assert.Equal(t, "instance-26", DefaultID(26))
}

func TestPlanExplicitIDsAndErrors(t *testing.T) {
	_, names, err := plan("127.0.0.1:1,127.0.0.1:2", "shop-0,shop-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"shop-0", "shop-1"}, names)

	for _, tc := range [][2]string{
		{"", ""},
		{"127.0.0.1:1,127.0.0.1:2", "only-one"},
		{"127.0.0.1:1,127.0.0.1:2", "dup,dup"},
	} {
		_, _, err := plan(tc[0], tc[1])
		assert.Error(t, err, "%q %q", tc[0], tc[1])
	}
}
