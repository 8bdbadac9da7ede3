package filter

import "runtime/debug"

// buildVersion names the module's build for the start log line, so that an
// operator can tell which build runs: the version Go stamped into the build
// (a tag, or a pseudo-version from the VCS), else the VCS revision (with
// "+dirty" for uncommitted changes), else "unknown".
func buildVersion(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "unknown"
	}
	return rev[:min(len(rev), 12)] + dirty
}
