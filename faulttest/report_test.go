package faulttest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/faulttest"
)

func TestLoadWritesReportToDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reports")
	t.Setenv(faulttest.ReportDirEnv, dir)
	ft := &loadFakeT{}
	faulttest.Load(ft, faulttest.LoadOptions{Rate: 100, Duration: 200 * time.Millisecond},
		func(context.Context) error { return errors.New("a <b>bold</b> failure") })
	path := filepath.Join(dir, "TestFake_sub_test.html")
	if len(ft.fatals) != 0 || len(ft.logs) != 1 || !strings.Contains(ft.logs[0], path) {
		t.Fatalf("fatals %q, logs %q; want the report's path %s logged", ft.fatals, ft.logs, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("TestFake/sub test")) || bytes.Contains(b, []byte("<b>bold</b>")) {
		t.Errorf("the report lacks the title or does not escape error texts:\n%.2000s", b)
	}
}

func TestLoadFailsWhenReportCannotBeWritten(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(faulttest.ReportDirEnv, file) // a file, not a directory
	ft := &loadFakeT{}
	rep := faulttest.Load(ft, faulttest.LoadOptions{Rate: 100, Duration: 50 * time.Millisecond},
		func(context.Context) error { return nil })
	if rep == nil || len(ft.fatals) != 1 || !strings.Contains(ft.fatals[0], "writing the report") {
		t.Errorf("fatals %q, want one about writing the report, and the report returned", ft.fatals)
	}
}

func TestLoadWritesNoReportWithoutDir(t *testing.T) {
	t.Setenv(faulttest.ReportDirEnv, "")
	ft := &loadFakeT{}
	rep := faulttest.Load(ft, faulttest.LoadOptions{Rate: 100, Duration: 50 * time.Millisecond},
		func(context.Context) error { return nil })
	if len(ft.logs) != 0 {
		t.Errorf("logs %q, want none", ft.logs)
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil || !strings.Contains(buf.String(), "<html") && !strings.Contains(buf.String(), "<!DOCTYPE") {
		t.Errorf("WriteHTML: %v, %.200q", err, buf.String())
	}
}

// TestLoadReportFilePerName: two runs in one test write two files, each
// named after its Name; two runs of the same name do not overwrite each
// other.
func TestLoadReportFilePerName(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(faulttest.ReportDirEnv, dir)
	ft := &loadFakeT{}
	nop := func(context.Context) error { return nil }
	for _, name := range []string{"before restart", "after restart", "after restart"} {
		faulttest.Load(ft, faulttest.LoadOptions{Rate: 100, Duration: 50 * time.Millisecond, Name: name}, nop)
	}
	for _, f := range []string{"before_restart.html", "after_restart.html", "after_restart-2.html"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s: %v (logs %q)", f, err, ft.logs)
			continue
		}
		if !bytes.Contains(b, []byte("restart")) {
			t.Errorf("%s lacks its title", f)
		}
	}
}
