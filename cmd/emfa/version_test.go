package main

import (
	"runtime/debug"
	"testing"
)

// TestVersionFromLinker: a build without VCS stamps (the container image: .git is not in
// its context) reports the version and commit given with -ldflags -X, not
// "(devel)" and "(unknown)".
func TestVersionFromLinker(t *testing.T) {
	defer func(v, c string) { linkVersion, linkCommit = v, c }(linkVersion, linkCommit)
	linkVersion, linkCommit = "v1.4.0", "89abcdef"
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	want := "emfa v1.4.0\ncommit: 89abcdef\ngo: go1.26.8\n"
	if got := buildVersion(info, true); got != want {
		t.Errorf("buildVersion:\n%s\nwant:\n%s", got, want)
	}
	if got := moduleVersion(); got != "v1.4.0" {
		t.Errorf("moduleVersion (emfa_build_info): %q, want v1.4.0", got)
	}
}
