package faulttest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recT records the fatal messages of the helpers under test.
type recT struct{ fatals []string }

func (f *recT) Helper()             {}
func (f *recT) Cleanup(func())      {}
func (f *recT) Logf(string, ...any) {}
func (f *recT) Failed() bool        { return len(f.fatals) > 0 }
func (f *recT) Fatalf(format string, a ...any) {
	f.fatals = append(f.fatals, fmt.Sprintf(format, a...))
}

// phasedReport records a 2s run by hand, without timing: a call every 5ms
// (400 in all) taking 2ms, those started in [0, 500ms) and [1s, 1.2s)
// failing.
func phasedReport() *Report {
	ms := time.Millisecond
	rec := newRecorder(2*time.Second, 100*ms)
	for off := time.Duration(0); off < 2*time.Second; off += 5 * ms {
		var err error
		if off < 500*ms || off >= 1000*ms && off < 1200*ms {
			err = errors.New("backend down")
		}
		rec.Record(off, 0, 2*ms, err)
	}
	r := &run{plan: loadPlan{LoadOptions: LoadOptions{Name: "phased", Rate: 200, Duration: 2 * time.Second, Bucket: 100 * ms}}, rec: rec}
	r.t0 = time.Now()
	return r.report(0, nil)
}

func TestRecoveryTimeAndRequireHelpers(t *testing.T) {
	ms := time.Millisecond
	rep := phasedReport()
	at := func(off time.Duration) time.Time { return rep.Start().Add(off) }

	if d, ok := rep.RecoveryTime(at(100 * ms)); !ok || d != 1095*ms {
		t.Errorf("RecoveryTime(100ms) = %v, %v; want 1.095s, true: the last failure started at 1.195s", d, ok)
	}
	if d, ok := rep.RecoveryTime(at(1500 * ms)); !ok || d != 0 {
		t.Errorf("RecoveryTime(1.5s) = %v, %v; want 0, true", d, ok)
	}

	passes := []struct {
		name string
		fn   func(t TB)
	}{
		{"recovered in time", func(t TB) { RequireRecovery(t, rep, at(1000*ms), 200*ms) }},
		{"recovered, no error after", func(t TB) { RequireRecovery(t, rep, at(1500*ms), 0) }},
		{"all errors", func(t TB) { RequireErrorRate(t, rep, Window{0, 500 * ms}, 1, 0) }},
		{"no errors", func(t TB) { RequireErrorRate(t, rep, Window{1200 * ms, 2000 * ms}, 0, 0) }},
		{"35% ± 1%", func(t TB) { RequireErrorRate(t, rep, Window{0, 2 * time.Second}, 0.34, 0.01) }},
		{"window in whole buckets", func(t TB) { RequireErrorRate(t, rep, Window{950 * ms, 1250 * ms}, 1, 0) }},
		{"latency", func(t TB) { RequireLatency(t, rep, 0.99, 3*ms) }},
		{"latency in", func(t TB) { RequireLatencyIn(t, rep, Window{1500 * ms, 2000 * ms}, 0.99, 3*ms) }},
	}
	for _, tc := range passes {
		ft := &recT{}
		tc.fn(ft)
		if len(ft.fatals) != 0 {
			t.Errorf("%s: failed with %q, want a pass", tc.name, ft.fatals)
		}
	}

	fails := []struct {
		name string
		fn   func(t TB)
		want []string
	}{
		{"recovered late", func(t TB) { RequireRecovery(t, rep, at(100*ms), 500*ms) }, []string{
			"phased: errors stopped 1.095s after 100ms into the run, want within 500ms",
			"(the buckets from 600ms on have 40 errors in 280 calls); errors: other 120; e.g. other: backend down",
		}},
		{"error rate", func(t TB) { RequireErrorRate(t, rep, Window{0, 2 * time.Second}, 0.05, 0.02) }, []string{
			"phased: error rate in [0s, 2s) is 35.00% (140 errors in 400 calls), want 5.00% ± 2.00%; errors: other 140",
		}},
		{"empty window", func(t TB) { RequireErrorRate(t, rep, Window{2 * time.Second, 3 * time.Second}, 0, 0) }, []string{
			"phased: no calls in [2s, 3s) to measure the error rate of (buckets of 100ms)",
		}},
		{"window shorter than a bucket", func(t TB) { RequireErrorRate(t, rep, Window{150 * ms, 250 * ms}, 1, 0) }, []string{
			"no calls in [150ms, 250ms)",
		}},
		{"latency", func(t TB) { RequireLatency(t, rep, 0.5, ms) }, []string{
			"phased: p50 latency is 2ms over 400 calls, want at most 1ms (p50 2ms, max 2ms)",
		}},
		{"latency in", func(t TB) { RequireLatencyIn(t, rep, Window{1500 * ms, 2000 * ms}, 0.99, ms) }, []string{
			"phased: p99 latency in [1.5s, 2s) is 2.01ms over 100 calls, want at most 1ms",
		}},
		{"latency in, empty window", func(t TB) { RequireLatencyIn(t, rep, Window{-time.Second, 0}, 0.99, ms) }, []string{
			"no calls in [-1s, 0s)",
		}},
	}
	for _, tc := range fails {
		ft := &recT{}
		tc.fn(ft)
		if len(ft.fatals) != 1 {
			t.Errorf("%s: fatals %q, want one", tc.name, ft.fatals)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(ft.fatals[0], w) {
				t.Errorf("%s: message %q does not contain %q", tc.name, ft.fatals[0], w)
			}
		}
	}
}

func TestRequireRecoveryWhenErrorsNeverStop(t *testing.T) {
	ms := time.Millisecond
	rec := newRecorder(time.Second, 100*ms)
	for off := time.Duration(0); off < time.Second; off += 10 * ms {
		var err error
		if off >= 500*ms {
			err = errors.New("down")
		}
		rec.Record(off, 0, ms, err)
	}
	r := &run{plan: loadPlan{LoadOptions: LoadOptions{Name: "down", Rate: 100, Duration: time.Second, Bucket: 100 * ms}}, rec: rec}
	r.t0 = time.Now()
	rep := r.report(0, nil)
	if d, ok := rep.RecoveryTime(rep.Start()); ok || d != 990*ms {
		t.Errorf("RecoveryTime = %v, %v; want 990ms, false", d, ok)
	}
	ft := &recT{}
	RequireRecovery(ft, rep, rep.Start().Add(200*ms), time.Second)
	want := "faulttest: down: errors never stopped after 200ms into the run: the last failed call started 790ms after it, and none succeeded later (50 errors in 80 calls from 200ms to the end); errors: other 50; e.g. other: down"
	if len(ft.fatals) != 1 || ft.fatals[0] != want {
		t.Errorf("fatals %q,\nwant %q", ft.fatals, want)
	}
}
