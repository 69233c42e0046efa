package main

import "runtime/debug"

// version is stamped at build time: the Makefile passes
// -ldflags "-X main.version=$(git describe --tags --always --dirty)".
var version string

// buildVersion is the stamped version, else what the Go toolchain recorded
// about the build.
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo() // nil when the binary carries none
	return versionOf(version, bi)
}

// versionOf prefers the stamped version; then a module version (go install
// module@version); then the VCS revision that go build records in a git
// checkout (not with -buildvcs=false), marked -dirty for uncommitted
// changes; else "devel".
func versionOf(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if bi == nil {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}
