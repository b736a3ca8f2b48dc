package faulttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest/internal/faultwatch"
	"github.com/gofaults/faults/faulttest/internal/replay"
	"github.com/gofaults/faults/internal/tcpcap"
)

// Bounds of a replay's options.
const (
	MaxReplaySpeed       = 1000   // the highest Speed
	MaxReplayCopies      = 10_000 // the most Loop × Copies plays of each connection
	DefaultReplayTimeout = 5 * time.Second
)

// ReplayOptions describe a replay of a capture. Zero values mean the
// documented defaults.
type ReplayOptions struct {
	// Speed divides the recorded gaps, between connections and between
	// the messages of each: 1 is real time, 4 four times as fast. Zero
	// means 1; it must be at most MaxReplaySpeed.
	Speed float64

	// Protocol frames the capture: the protocol of the proxy that wrote
	// it (faults.HTTP() and so on). A protocol-aware replay sends the
	// client's messages one by one, each at its recorded offset and once
	// the answers its client had read before sending it have come, and
	// reads the answers: each request is a call of the report, its
	// latency counted from when it was due. Nil means faults.TCP(): the
	// client's bytes are sent in the chunks captured, and each connection
	// is one call.
	Protocol faults.Protocol

	// Proxies are watched during the replay, as by Load: their behaviors
	// become fault windows of the report, and the faults they fire are
	// counted.
	Proxies []*faults.Proxy

	// User and Password log the replay in where the recorded login cannot
	// be replayed byte for byte: MySQL (mysql_native_password, performed
	// with the live server's scramble), PostgreSQL (password, md5 or
	// SCRAM-SHA-256, whichever the server asks for). A login without a
	// password (MySQL) or under trust (PostgreSQL) replays as recorded, as
	// does one in clear. On Redis, Password (and User) replace those of
	// AUTH and HELLO … AUTH: a capture made with faults.RedactSecrets
	// holds none. Empty User means the recorded one.
	User, Password string

	// Loop plays the whole capture this many times, one after the other;
	// zero means once.
	Loop int

	// Copies plays this many copies of each recorded connection side by
	// side, each on its own connection; zero means one. Loop × Copies
	// must be at most MaxReplayCopies.
	Copies int

	// Timeout bounds each dial, each step of a login, each answer (from
	// when its request was sent), and, after a client that closed its
	// side as recorded, the wait for the server to close; zero means
	// DefaultReplayTimeout. A connection whose answer times out is closed,
	// and its requests still to come fail with it.
	Timeout time.Duration

	// Bucket is the width of the report's buckets; zero picks one as
	// Load does.
	Bucket time.Duration

	// Name titles the report and names its file; empty means the test's
	// name (Replay) or "replay" (ReplayCapture).
	Name string

	// Dialer opens the replay's connections; nil means a zero net.Dialer.
	Dialer faults.Dialer
}

// A Mismatch is a request of a replay whose outcome differs from the one
// recorded: another HTTP status, another MySQL ERR number (or none),
// another PostgreSQL SQLSTATE, another Redis error code; or an answer
// where the capture has none, and the other way round.
type Mismatch struct {
	Conn     int           // the recorded connection, numbered from 1 in order of start
	Copy     int           // which play of it, from 0: loop × Copies + copy
	Request  string        // a short form: "GET /orders/7", the SQL, "SET key"
	Recorded string        // the outcome in the capture: "200", "ERR 1213", "40001", "LOADING", "OK", or "no answer"
	Replayed string        // the outcome of the replay, or "error (class): text" if no answer came
	Due      time.Duration // when the request was due, from the start of the replay
}

// String describes the mismatch on one line.
func (m Mismatch) String() string {
	return fmt.Sprintf("conn %d (play %d) at %v: %q: recorded %s, replayed %s", m.Conn, m.Copy, m.Due.Round(time.Microsecond), m.Request, m.Recorded, m.Replayed)
}

// Mismatches returns the requests of a replay whose outcome differs from
// the recorded one, in the order they were due; nil for a load run. A
// request the proxy answered itself during the capture (an injected
// fault) is replayed to the server like any other, so that it shows here
// if the healthy server answers otherwise.
func (r *Report) Mismatches() []Mismatch { return slices.Clone(r.mismatches) }

// Replay plays the connections of capture, a pcapng capture such as
// faults.WithCapture writes, against target ("host:port"), and returns
// the same report as Load, with its Mismatches. Each recorded connection
// is played on a connection of its own, started at its recorded offset
// (divided by Speed); see ReplayOptions for how its messages are sent.
//
// A capture that cannot be read or replayed (not pcapng, truncated,
// another link type, a connection with a gap, a protocol's messages that
// do not frame) fails the test at once, as do invalid options. The
// requests of a replay that get no answer (a timeout, a reset, a refused
// dial) are its errors, classified as by Classify. Replay blocks until
// every play has ended; with go test -v it logs a line at the end, and
// with FAULTS_REPORT_DIR set it writes the HTML report there, as Load
// does.
func Replay(t LoadTB, capture io.Reader, target string, opts ReplayOptions) *Report {
	t.Helper()
	if opts.Name == "" {
		opts.Name = t.Name()
	}
	Use(t, opts.Proxies...)
	rep, err := ReplayCapture(context.Background(), capture, target, opts)
	if err != nil {
		t.Fatalf("faulttest: Replay: %v", err)
		return nil
	}
	t.Logf("faulttest: %v; %d mismatches", rep, len(rep.mismatches))
	for i, m := range rep.mismatches {
		if i == 10 {
			t.Logf("faulttest: … and %d more mismatches", len(rep.mismatches)-i)
			break
		}
		t.Logf("faulttest: mismatch: %v", m)
	}
	writeReportIfAsked(t, "Replay", opts.Name, rep)
	return rep
}

// ReplayCapture is Replay for programs: it returns what would fail the
// test as an error, and stops early when ctx ends (the requests not
// answered then fail with ctx's error). The capture's errors are
// tcpcap's, through their text; an invalid option is a plain error.
func ReplayCapture(ctx context.Context, capture io.Reader, target string, opts ReplayOptions) (*Report, error) {
	plan, err := planReplay(opts, target)
	if err != nil {
		return nil, err
	}
	conns, err := tcpcap.Read(capture)
	if err != nil {
		return nil, fmt.Errorf("reading the capture: %w", err)
	}
	scripts, err := replay.Prepare(conns, plan.protocol, replay.Credentials{User: opts.User, Password: opts.Password})
	if err != nil {
		return nil, err
	}
	return plan.run(ctx, scripts), nil
}

// replayPlan is validated ReplayOptions with their defaults.
type replayPlan struct {
	ReplayOptions
	target   string
	protocol string
}

func planReplay(opts ReplayOptions, target string) (replayPlan, error) {
	p := replayPlan{ReplayOptions: opts, target: target, protocol: "tcp"}
	if _, _, err := net.SplitHostPort(target); err != nil {
		return p, fmt.Errorf("target %q: %v", target, err)
	}
	switch {
	case math.IsNaN(opts.Speed) || opts.Speed < 0 || opts.Speed > MaxReplaySpeed:
		return p, fmt.Errorf("Speed must be between 0 and %d; got %v", MaxReplaySpeed, opts.Speed)
	case opts.Loop < 0 || opts.Copies < 0:
		return p, fmt.Errorf("Loop and Copies must not be negative; got %d and %d", opts.Loop, opts.Copies)
	case opts.Timeout < 0 || opts.Timeout > MaxLoadTimeout:
		return p, fmt.Errorf("Timeout must be between 0 and %v; got %v", MaxLoadTimeout, opts.Timeout)
	case opts.Bucket < 0:
		return p, fmt.Errorf("Bucket must not be negative; got %v", opts.Bucket)
	}
	for i, px := range opts.Proxies {
		if px == nil {
			return p, fmt.Errorf("Proxies[%d] is nil", i)
		}
	}
	if opts.Protocol != nil {
		p.protocol = opts.Protocol.Name()
	}
	if p.Speed == 0 {
		p.Speed = 1
	}
	p.Loop, p.Copies = max(p.Loop, 1), max(p.Copies, 1)
	if p.Loop*p.Copies > MaxReplayCopies {
		return p, fmt.Errorf("Loop × Copies must be at most %d; got %d", MaxReplayCopies, p.Loop*p.Copies)
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultReplayTimeout
	}
	if p.Name == "" {
		p.Name = "replay"
	}
	if p.Dialer == nil {
		p.Dialer = &net.Dialer{}
	}
	return p, nil
}

// replayPlay is one play of a script: which, which copy, and when.
type replayPlay struct {
	s    *replay.Script
	copy int
	at   time.Duration // from the start of the replay
}

// run plays the scripts and reports.
func (p replayPlan) run(ctx context.Context, scripts []*replay.Script) *Report {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	span := time.Duration(float64(replay.Span(scripts)) / p.Speed)
	// A millisecond more, so that a request due at the very end of the
	// capture (the last packet, unanswered) falls in the last bucket.
	duration := span*time.Duration(p.Loop) + time.Millisecond
	width := p.Bucket
	if width == 0 || width > duration {
		width = autoBucket(duration)
	}
	for (duration-1)/width+1 > maxBuckets {
		width *= 2
	}
	rec := newRecorder(duration, width)
	var plays []replayPlay
	for loop := range p.Loop {
		for _, s := range scripts {
			for c := range p.Copies {
				at := time.Duration(float64(s.Start)/p.Speed) + time.Duration(loop)*span
				plays = append(plays, replayPlay{s: s, copy: loop*p.Copies + c, at: at})
			}
		}
	}
	sort.SliceStable(plays, func(i, j int) bool { return plays[i].at < plays[j].at })

	var watch *faultwatch.Watch
	if len(p.Proxies) > 0 {
		watch = faultwatch.New(p.Proxies)
	}
	t0 := time.Now()
	var mu sync.Mutex
	var mismatches []Mismatch
	var wg sync.WaitGroup
	popts := replay.PlayOptions{Target: p.target, Speed: p.Speed, Timeout: p.Timeout, Creds: replay.Credentials{User: p.User, Password: p.Password}, Dialer: p.Dialer}
	all := make(chan struct{})
	go func() {
		defer close(all)
		for _, pl := range plays {
			start := t0.Add(pl.at)
			replay.WaitUntil(ctx, start) // once ctx ends, the plays start at once, and fail with it
			wg.Add(1)
			go func() {
				defer wg.Done()
				replay.Play(ctx, pl.s, start, popts, func(r replay.Result) {
					due := r.Due.Sub(t0)
					lat := r.Answered.Sub(r.Due)
					var err error
					if r.Answered.IsZero() {
						err = r.Err
						if err == nil {
							err = errors.New("no answer")
						}
						lat = max(time.Since(r.Due), 0)
					}
					lag := time.Duration(-1)
					if !r.Sent.IsZero() {
						lag = max(r.Sent.Sub(r.Due), 0)
					}
					rec.Record(due, lag, lat, err)
					if r.Request.Recorded == "" {
						return // raw bytes: nothing recorded to compare
					}
					replayed := r.Outcome
					if err != nil {
						replayed = fmt.Sprintf("error (%v): %v", Classify(err), err)
					}
					if replayed != r.Request.Recorded {
						mu.Lock()
						mismatches = append(mismatches, Mismatch{Conn: pl.s.Conn, Copy: pl.copy, Request: r.Request.Summary, Recorded: r.Request.Recorded, Replayed: replayed, Due: due})
						mu.Unlock()
					}
				})
			}()
		}
		wg.Wait()
	}()
	if watch != nil {
		tk := time.NewTicker(faultwatch.PollInterval)
	poll:
		for {
			select {
			case <-all:
				tk.Stop()
				break poll
			case <-tk.C:
				watch.Poll(min(time.Since(t0), duration), rec)
			}
		}
	}
	<-all
	drained := time.Since(t0)
	var windows []FaultWindow
	if watch != nil {
		watch.Poll(min(drained, duration), rec)
		windows = faultWindows(watch.Finish(min(drained, duration)))
		watch.PollInjected(duration, rec)
	}
	rec.Close()
	r := &run{plan: loadPlan{LoadOptions: LoadOptions{Name: p.Name, Duration: duration, Bucket: width, Timeout: p.Timeout}}, rec: rec, t0: t0}
	rep := r.report(0, windows)
	rep.replay = p.describe(scripts)
	sort.SliceStable(mismatches, func(i, j int) bool { return mismatches[i].Due < mismatches[j].Due })
	rep.mismatches = mismatches
	if watch != nil {
		rep.marks = faultMarks(watch.Marks(rep.start, drained, rep.duration, rep.width))
		rep.fired, rep.firedTotal = watch.Fired(rep.start, drained, maxReportFired)
	}
	return rep
}

// describe says what the replay played, for the report.
func (p replayPlan) describe(scripts []*replay.Script) string {
	n := 0
	for _, s := range scripts {
		n += s.Requests()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "replay of %d %s connections (%d requests) at %g×", len(scripts), p.protocol, n, p.Speed)
	if p.Copies > 1 {
		fmt.Fprintf(&b, ", %d copies side by side", p.Copies)
	}
	if p.Loop > 1 {
		fmt.Fprintf(&b, ", %d times over", p.Loop)
	}
	return b.String()
}
