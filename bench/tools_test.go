package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
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

// runTool runs bin with args, bounded by limit, and returns what it wrote
// on standard output and how long it ran. Anything it writes on standard
// error is an error too: the load tools report failed clients there and
// may still exit 0.
func runTool(bin string, args []string, limit time.Duration) (stdout string, wall time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	dieWithParent(cmd)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	t0 := time.Now()
	err = cmd.Run()
	wall = time.Since(t0)
	if ctx.Err() != nil {
		err = fmt.Errorf("no end within %v: %v", limit, err)
	}
	if err != nil || errOut.Len() > 0 {
		return "", wall, fmt.Errorf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(bin), strings.Join(args, " "), err, out.Bytes(), errOut.Bytes())
	}
	return out.String(), wall, nil
}
