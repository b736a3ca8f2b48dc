package faulttest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/faulttest/internal/reportpage"
)

// fixedReport records a run by hand: 10 buckets of 100ms, one call per
// 10ms, failing in [300ms, 500ms), with a fault window over it.
func fixedReport() *Report {
	rec := newRecorder(time.Second, 100*time.Millisecond)
	for off := time.Duration(0); off < time.Second; off += 10 * time.Millisecond {
		var err error
		if off >= 300*time.Millisecond && off < 500*time.Millisecond {
			err = errors.New("boom")
		}
		rec.Record(off, 0, time.Duration(off/(10*time.Millisecond)+1)*time.Microsecond, err)
	}
	rec.AddFaults(350*time.Millisecond, 20)
	r := &run{plan: loadPlan{LoadOptions: LoadOptions{Name: "fixed", Rate: 100, Duration: time.Second, Bucket: 100 * time.Millisecond, Timeout: time.Second}}, rec: rec}
	r.t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := r.report(0, []FaultWindow{
		{Window{300 * time.Millisecond, 500 * time.Millisecond}, "127.0.0.1:1", "Blackout()"},
		{Window{600 * time.Millisecond, 700 * time.Millisecond}, "127.0.0.1:2", "Refuse()"},
	})
	rep.marks = []FaultMark{{At: 300 * time.Millisecond, Count: 20, Label: "Blackout()"}}
	return rep
}

func TestReportQueriesOnAFixedRun(t *testing.T) {
	rep := fixedReport()
	if rep.Requests() != 100 || rep.Errors() != 20 || rep.ErrorRate() != 0.2 || rep.FaultsFired() != 20 {
		t.Fatalf("requests %d, errors %d, rate %v, faults %d", rep.Requests(), rep.Errors(), rep.ErrorRate(), rep.FaultsFired())
	}
	// Latencies are 1µs..100µs, one each: quantiles to 0.1%.
	for q, want := range map[float64]time.Duration{0.5: 50 * time.Microsecond, 0.99: 99 * time.Microsecond, 1: 100 * time.Microsecond} {
		if got := rep.Latency(q); got < want || got > want+want/1000 {
			t.Errorf("Latency(%v) = %v, want %v", q, got, want)
		}
	}
	tl := rep.Timeline()
	if len(tl) != 10 || tl[3].Start != 300*time.Millisecond || tl[3].Errors != 10 || tl[3].Faults != 20 || tl[2].Errors != 0 {
		t.Fatalf("timeline %+v", tl)
	}
	if rate, n := rep.ErrorRateIn(Window{250 * time.Millisecond, 550 * time.Millisecond}); n != 20 || rate != 1 {
		t.Errorf("ErrorRateIn([250ms, 550ms)) = %v over %d, want 1 over 20 (whole buckets only)", rate, n)
	}
	if d, ok := rep.RecoveryTime(rep.Start().Add(100 * time.Millisecond)); !ok || d != 390*time.Millisecond {
		t.Errorf("RecoveryTime(100ms) = %v, %v; want 390ms, true", d, ok)
	}
	if d, ok := rep.RecoveryTime(rep.Start().Add(-time.Second)); !ok || d != 1490*time.Millisecond {
		t.Errorf("RecoveryTime(-1s) = %v, %v; want 1.49s, true", d, ok)
	}
	if d, ok := rep.RecoveryTime(rep.Start().Add(2 * time.Second)); !ok || d != 0 {
		t.Errorf("RecoveryTime(after the run) = %v, %v; want 0, true", d, ok)
	}
}

func TestReportPage(t *testing.T) {
	p := fixedReport().page()
	if p.Title != "fixed" || p.Duration != time.Second || p.Bucket != 100*time.Millisecond || len(p.Buckets) != 10 {
		t.Fatalf("page %+v", p)
	}
	if b := p.Buckets[4]; b.Start != 400*time.Millisecond || b.Requests != 10 || b.Errors != 10 || b.P50 == 0 {
		t.Errorf("bucket 4: %+v", b)
	}
	// With two proxies, the windows' labels name them.
	want := []reportpage.Window{
		{From: 300 * time.Millisecond, To: 500 * time.Millisecond, Label: "127.0.0.1:1 Blackout()"},
		{From: 600 * time.Millisecond, To: 700 * time.Millisecond, Label: "127.0.0.1:2 Refuse()"},
	}
	if !slices.Equal(p.Windows, want) {
		t.Errorf("windows %+v, want %+v", p.Windows, want)
	}
	if len(p.Marks) != 1 || p.Marks[0] != (reportpage.Mark{At: 300 * time.Millisecond, Count: 20, Label: "Blackout()"}) {
		t.Errorf("marks %+v", p.Marks)
	}
	var names []string
	for _, row := range p.Summary {
		names = append(names, row[0])
	}
	if len(names) < 6 || names[0] != "model" || names[3] != "requests" || names[4] != "errors" {
		t.Errorf("summary rows %q", names)
	}
	if len(p.Samples) != 1 || p.Samples[0] != "other: boom" {
		t.Errorf("samples %q", p.Samples)
	}
}

func TestReportFileName(t *testing.T) {
	for in, want := range map[string]string{
		"TestLoad":                  "TestLoad.html",
		"TestLoad/sub_test#01":      "TestLoad_sub_test_01.html",
		"TestX/a b/ü":               "TestX_a_b__.html",
		"../../etc/passwd":          "_.._etc_passwd.html",
		"":                          "load.html",
		"TestLoad/v1.2-rc":          "TestLoad_v1.2-rc.html",
		"Test\\windows\\path:colon": "Test_windows_path_colon.html",
	} {
		if got := reportFileName(in); got != want {
			t.Errorf("reportFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSig3(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		0:                        0,
		999:                      999,
		2000895:                  2 * time.Millisecond,
		331350015:                331 * time.Millisecond,
		12345 * time.Millisecond: 12300 * time.Millisecond,
		1234:                     1230,
	} {
		if got := sig3(d); got != want {
			t.Errorf("sig3(%v) = %v, want %v", d, got, want)
		}
	}
}

func TestAutoBucket(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		time.Second:      100 * time.Millisecond,
		12 * time.Second: 100 * time.Millisecond,
		13 * time.Second: 200 * time.Millisecond,
		time.Minute:      500 * time.Millisecond,
		10 * time.Minute: 5 * time.Second,
	} {
		if got := autoBucket(d); got != want {
			t.Errorf("autoBucket(%v) = %v, want %v", d, got, want)
		}
	}
}

// TestReportWarnsOfBacklog: when the generator starts calls late, the
// report says loudly that the latencies include its backlog, next to the
// schedule lag and above the charts; when it keeps up, it says nothing.
func TestReportWarnsOfBacklog(t *testing.T) {
	if p := fixedReport().page(); len(p.Warnings) != 0 {
		t.Errorf("a run that kept up warns: %q", p.Warnings)
	}
	rec := newRecorder(time.Second, 100*time.Millisecond)
	for off := time.Duration(0); off < time.Second; off += 10 * time.Millisecond {
		rec.Record(off, 40*time.Millisecond, 41*time.Millisecond, nil) // 40ms late, 1ms of work
	}
	r := &run{plan: loadPlan{LoadOptions: LoadOptions{Name: "behind", Rate: 100, Duration: time.Second, Bucket: 100 * time.Millisecond, Timeout: time.Second}}, rec: rec}
	p := r.report(0, nil).page()
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "fell behind") || !strings.Contains(p.Warnings[0], "up to 40") {
		t.Fatalf("warnings %q, want one about the backlog", p.Warnings)
	}
	for _, row := range p.Summary {
		if row[0] == "schedule lag" && !strings.Contains(row[1], "⚠ The load generator fell behind") {
			t.Errorf("schedule lag row %q does not warn", row[1])
		}
	}
}
