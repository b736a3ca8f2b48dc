package main

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofaults/faults"
)

// A part is one behavior that carries out a toxic, installed under the
// toxic's name and the part's key (see ruleName).
type part struct {
	key string
	b   faults.Behavior
}

// ruleName names the proxy behavior that carries out part key of the
// toxic named toxic. The key follows the last '#', so names never collide
// whatever a toxic is called; no other behavior the daemon names starts
// with "toxic:".
func ruleName(toxic, key string) string { return "toxic:" + toxic + "#" + key }

// parts maps t onto the library's behaviors, with Toxiproxy's units, or
// reports why its attributes are invalid (a 400). Each part acts in the
// toxic's direction where it has one, and fires on a connection with
// probability t.toxicity, decided once for the connection, and for all the
// parts of the toxic together (Toxiproxy rolls a toxic's toxicity per
// connection too, but again each time a neighbouring toxic changes; these
// decisions are never re-rolled).
//
//	latency     Latency(latency ms).Jitter(jitter ms)
//	bandwidth   Bandwidth(rate × 1000 B/s); rate 0: Stall(), as Toxiproxy's rate 0 stops the flow
//	slow_close  SlowClose(delay ms)
//	timeout     Stall(), and Timeout(timeout ms) unless timeout is 0 (held until removed)
//	reset_peer  ResetAfterBytes(0) at timeout 0; else Stall() and ResetAfter(timeout ms)
//	slicer      Slice(average_size, delay µs).Vary(size_variation)
//	limit_data  CloseAfterBytes(bytes)
//	noop        nothing
func (t *toxic) parts() ([]part, error) {
	for i, name := range t.kind.attrs {
		if t.attrs[i] < 0 {
			return nil, invalidAttr(t, name, "must not be negative")
		}
	}
	ms := func(name string) time.Duration { return time.Duration(t.attr(name)) * time.Millisecond }
	var ps []part
	switch t.kind.name {
	case "latency":
		ps = []part{{"latency", t.directed(faults.Latency(ms("latency")).Jitter(ms("jitter")))}}
	case "bandwidth":
		if rate := t.attr("rate"); rate == 0 {
			ps = []part{{"stall", t.directed(faults.Stall())}}
		} else if rate > math.MaxInt64/1000 {
			return nil, invalidAttr(t, "rate", "too large")
		} else {
			ps = []part{{"bandwidth", t.directed(faults.Bandwidth(rate * 1000))}}
		}
	case "slow_close":
		ps = []part{{"slow_close", t.directed(faults.SlowClose(ms("delay")))}}
	case "timeout":
		ps = []part{{"stall", t.directed(faults.Stall())}}
		if d := ms("timeout"); d > 0 {
			ps = append(ps, part{"close", faults.Timeout(d)})
		}
	case "reset_peer":
		if d := ms("timeout"); d > 0 {
			ps = []part{{"stall", t.directed(faults.Stall())}, {"reset", faults.ResetAfter(d)}}
		} else {
			ps = []part{{"reset", t.directed(faults.ResetAfterBytes(0))}}
		}
	case "slicer":
		size, variation := t.attr("average_size"), t.attr("size_variation")
		switch {
		case size == 0:
			return nil, invalidAttr(t, "average_size", "must be positive")
		case size > math.MaxInt32:
			return nil, invalidAttr(t, "average_size", "too large")
		case variation >= size:
			return nil, invalidAttr(t, "size_variation", "must be less than average_size")
		}
		b := faults.Slice(int(size), time.Duration(t.attr("delay"))*time.Microsecond)
		if variation > 0 {
			b = b.Vary(int(variation))
		}
		ps = []part{{"slicer", t.directed(b)}}
	case "limit_data":
		ps = []part{{"limit_data", t.directed(faults.CloseAfterBytes(t.attr("bytes")))}}
	}
	for i := range ps {
		ps[i].b = t.chance(ps[i].b)
		if len(ps) > 1 && t.toxicity != 1 {
			// The parts of one toxic fire on the same connections.
			ps[i].b = ps[i].b.Together("toxic:" + t.name)
		}
	}
	return ps, nil
}

// directed makes a stream behavior act in the toxic's direction.
func (t *toxic) directed(b faults.Behavior) faults.Behavior {
	if t.upstream() {
		return b.Upstream()
	}
	return b.Downstream()
}

// chance gives b the toxic's toxicity as its probability; a toxicity of 1
// needs none.
func (t *toxic) chance(b faults.Behavior) faults.Behavior {
	if t.toxicity == 1 {
		return b
	}
	// The float32 as written (0.1, not 0.10000000149011612).
	p, _ := strconv.ParseFloat(strconv.FormatFloat(float64(t.toxicity), 'g', -1, 32), 64)
	return b.Probability(p)
}

func invalidAttr(t *toxic, name, reason string) error {
	return errorf(http.StatusBadRequest, "invalid attribute %s of %s toxic %q: %d: %s", name, t.kind.name, t.name, t.attr(name), reason)
}
