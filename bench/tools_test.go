package bench

import (
	"fmt"
	"os"
	"os/exec"
)

// findTool returns the path of the command name, on $PATH or else in
// /usr/bin (a $PATH without it), or an error naming the Debian package that
// provides it.
func findTool(name, debianPackage string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	fallback := "/usr/bin/" + name
	if fi, err := os.Stat(fallback); err == nil && !fi.IsDir() {
		return fallback, nil
	}
	return "", fmt.Errorf("%s not found on $PATH or at %s; install it with `apt-get install -y %s`", name, fallback, debianPackage)
}
