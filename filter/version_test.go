package filter

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"no build info", nil, false, "unknown"},
		{"a tag", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, true, "v0.3.0"},
		{"a pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261201213733-798bc00e1f2a+dirty"}}, true, "v0.0.0-20261201213733-798bc00e1f2a+dirty"},
		{"devel, clean tree", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("798bc00e1f2a3b4c5d6e", "false")}, true, "798bc00e1f2a"},
		{"devel, changed tree", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("798bc00e1f2a3b4c5d6e", "true")}, true, "798bc00e1f2a+dirty"},
		{"devel, no VCS", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "unknown"},
	} {
		assert.Equal(t, tc.want, buildVersion(tc.info, tc.ok), tc.name)
	}
}
