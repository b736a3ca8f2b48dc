//go:build !linux

package bench

import "os/exec"

// dieWithParent does nothing outside Linux; child proxies still end when
// their stdin closes.
func dieWithParent(*exec.Cmd) {}
