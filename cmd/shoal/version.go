package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version says which build of shoal this is: the module version (a tag when
// installed with go install ...@vX.Y.Z, "(devel)" when built in a clone),
// the VCS revision and time it was built from, and the Go toolchain.
func version() string {
	v, rev := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		var revision, at string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if revision != "" {
			rev = "revision " + revision[:min(12, len(revision))]
			if at != "" {
				rev += " (" + at + ")"
			}
			if modified {
				rev += ", with uncommitted changes"
			}
		}
	}
	if rev == "" {
		rev = "revision unknown (built with -buildvcs=false, or outside a git clone)"
	}
	return fmt.Sprintf("shoal %s, %s %s/%s\n%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH, rev)
}
