package main

import (
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the build info ("(devel)" for a checkout).
var version = ""

// versionLine is what -version prints.
func versionLine() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("faultproxy %s (Toxiproxy API %s)", v, toxiproxyVersion)
}
