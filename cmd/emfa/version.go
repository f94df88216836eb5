package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// buildDate is set by a release build (-ldflags "-X main.buildDate=2026-01-02T03:04:05Z");
// Go itself records only the commit's time.
var buildDate string

// linkVersion and linkCommit are set by a build that has no VCS stamps to give Go, such as
// the container image, whose context leaves .git out (Dockerfile:
// -ldflags "-X main.linkVersion=v1.2.3 -X main.linkCommit=0123abc"). Set, they win.
var linkVersion, linkCommit string

// buildVersion is what `emfa version` prints: the module version, the commit and its
// time as the Go toolchain recorded them, and the build date when the build gave one.
func buildVersion(info *debug.BuildInfo, ok bool) string {
	version, commit, date, dirty := "(unknown)", "(unknown)", "", false
	goVersion := ""
	if ok {
		version, goVersion = info.Main.Version, info.GoVersion
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				date = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if dirty {
		commit += " (modified)"
	}
	if linkVersion != "" {
		version = linkVersion
	}
	if linkCommit != "" {
		commit = linkCommit
	}
	out := fmt.Sprintf("emfa %s\ncommit: %s\n", version, commit)
	switch {
	case buildDate != "":
		out += "built: " + buildDate + "\n"
	case date != "":
		out += "commit date: " + date + "\n"
	}
	if goVersion != "" {
		out += "go: " + goVersion + "\n"
	}
	return out
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "print emfa's version, commit and build date",
		Example: "  emfa version",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(c.OutOrStdout(), buildVersion(debug.ReadBuildInfo()))
			return err
		},
	}
}
