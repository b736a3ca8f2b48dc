package reportpage

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Scales and ticks of the report's axes.

// linScale maps the domain [d0, d1] linearly onto the range [r0, r1].
type linScale struct{ d0, d1, r0, r1 float64 }

// at maps v; a degenerate domain maps everything to r0.
func (s linScale) at(v float64) float64 {
	if s.d1 == s.d0 {
		return s.r0
	}
	return s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0)
}

// logScale maps [lo, hi] (both positive) onto [r0, r1] logarithmically;
// values at or below lo map to r0.
type logScale struct{ lo, hi, r0, r1 float64 }

func (s logScale) at(v float64) float64 {
	if v <= s.lo || s.hi <= s.lo {
		return s.r0
	}
	return s.r0 + (math.Log10(v)-math.Log10(s.lo))/(math.Log10(s.hi)-math.Log10(s.lo))*(s.r1-s.r0)
}

// niceStep returns the smallest of 1, 2, 2.5, 5 × 10^k that is at least raw
// (raw > 0).
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// niceLinear returns the top of a linear axis from 0 that holds v, with
// about n ticks of a nice step. v ≤ 0 (or NaN) gives the axis [0, 1].
func niceLinear(v float64, n int) (top, step float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1, 0.2
	}
	step = niceStep(v / float64(n))
	top = math.Ceil(v/step*(1-1e-9)) * step
	if top < v {
		top += step
	}
	return top, step
}

// linearTicks returns the ticks 0, step, …, top.
func linearTicks(top, step float64) []float64 {
	var ts []float64
	for i := 0; i <= 50; i++ {
		v := float64(i) * step
		if v > top*(1+1e-9) {
			break
		}
		ts = append(ts, v)
	}
	return ts
}

// logRange returns the decades [lo, hi] that hold the positive values from
// minPos to maxV.
func logRange(minPos, maxV float64) (lo, hi float64) {
	lo = math.Pow(10, math.Floor(math.Log10(minPos)))
	hi = math.Pow(10, math.Ceil(math.Log10(maxV)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi
}

// logTicks returns the ticks of the log axis [lo, hi]: each decade, and 2
// and 5 times it when the axis spans at most two decades.
func logTicks(lo, hi float64) []float64 {
	decades := int(math.Round(math.Log10(hi / lo)))
	var ts []float64
	for i := 0; i <= decades && i <= 20; i++ {
		d := lo * math.Pow(10, float64(i))
		ts = append(ts, d)
		if decades <= 2 && i < decades {
			ts = append(ts, 2*d, 5*d)
		}
	}
	return ts
}

// formatNumber formats a tick value without float noise.
func formatNumber(v float64) string {
	for dec := 0; dec <= 6; dec++ {
		s := strconv.FormatFloat(v, 'f', dec, 64)
		if f, _ := strconv.ParseFloat(s, 64); math.Abs(f-v) <= 1e-9*math.Max(1, math.Abs(v)) {
			return s
		}
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// timeSteps are the candidate distances between time ticks.
var timeSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second,
	15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute,
	5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// timeTicks returns ticks from 0 to end at the smallest step that gives at
// most 12 of them.
func timeTicks(end time.Duration) []time.Duration {
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if end/s <= 12 {
			step = s
			break
		}
	}
	if end/step > 12 { // runs of weeks: keep the count bounded anyway
		step = (end + 11) / 12
	}
	var ts []time.Duration
	for t := time.Duration(0); t <= end; t += step {
		ts = append(ts, t)
	}
	return ts
}

// formatOffset formats an offset from the start of the run for a tick or a
// legend: "0s", "500ms", "1.5s", "2m30s".
func formatOffset(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + formatOffset(-d)
	case d >= time.Minute:
		s := d.Round(time.Second).String() // "2m0s", "1h0m0s": drop the zeros
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.String()
}
