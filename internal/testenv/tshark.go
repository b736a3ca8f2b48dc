package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tshark runs tshark on the capture file path with args (such as "-Y",
// "http.request", "-T", "fields", "-e", "http.request.uri") and returns
// its output's lines, empty ones left out. Without tshark the test is
// skipped, or fails under FAULTS_REQUIRE_SERVICES=1; a tshark that fails,
// or that warns on its standard error, fails the test. It runs for at most
// a minute.
func Tshark(t testing.TB, path string, args ...string) []string {
	t.Helper()
	bin := RequireCommand(t, "tshark")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-n", "-r", path}, args...)...)
	// tshark writes its profile under HOME; keep it out of the user's.
	home := filepath.Join(t.TempDir(), "tshark-home")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	for _, l := range strings.Split(stderr.String(), "\n") {
		// Run as root, tshark says so; that is no warning about the file.
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Running as user") {
			t.Fatalf("tshark %s warns: %s", strings.Join(args, " "), stderr.String())
		}
	}
	var lines []string
	for _, l := range strings.Split(stdout.String(), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
