package faulttest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/faulttest"
)

// phasedBackend fails the calls that arrive in one of the spans (offsets
// from begin) and answers the others in 2 ms.
func phasedBackend(begin time.Time, failing ...faulttest.Window) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		since := time.Since(begin)
		for _, w := range failing {
			if since >= w.From && since < w.To {
				return errors.New("backend down")
			}
		}
		return sleepCtx(ctx, 2*time.Millisecond)
	}
}

func TestRequireRecoveryFailsWhenErrorsNeverStop(t *testing.T) {
	begin := time.Now()
	rep := faulttest.Load(t, faulttest.LoadOptions{Rate: 100, Duration: time.Second},
		phasedBackend(begin, faulttest.Window{From: 500 * time.Millisecond, To: time.Hour}))
	if d, ok := rep.RecoveryTime(rep.Start()); ok {
		t.Errorf("RecoveryTime = %v, true; want not recovered", d)
	}
	ft := &fakeT{}
	faulttest.RequireRecovery(ft, rep, rep.Start(), 2*time.Second)
	msg := strings.Join(ft.fatals, "\n")
	if len(ft.fatals) != 1 || !strings.Contains(msg, "errors never stopped after 0s into the run") ||
		!strings.Contains(msg, "none succeeded later (") || !strings.Contains(msg, "errors in 100 calls from 0s to the end)") {
		t.Errorf("RequireRecovery: %q, want a failure saying the errors never stopped", msg)
	}
	t.Log(msg)
}
