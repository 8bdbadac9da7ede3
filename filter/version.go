package filter

// version names the module's build in the start log line, so that an
// operator can tell which build runs. The Makefile sets it at link time
// (-ldflags -X) from `git describe --tags --always --dirty`; a build without
// it says "unknown". A link-time string costs nothing at plugin start, where
// parsing debug.ReadBuildInfo would allocate the whole module list.
var version = "unknown"
