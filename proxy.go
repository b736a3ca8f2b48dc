package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// A Proxy forwards TCP connections from its listening address to a target,
// misbehaving as its installed behaviors say. With no behavior installed it
// is transparent: each peer sees exactly the bytes the other sent, half-closes
// and resets included.
//
// All methods are safe for concurrent use, including while traffic flows.
//
// A Proxy is made by [NewProxy]. The zero Proxy serves nothing and acts as
// a closed one: [Proxy.Set] and [Proxy.Reset] return [ErrClosed], and
// [Proxy.Close] returns nil.
type Proxy struct {
	cfg    *config
	target string
	name   string
	log    *slog.Logger
	addr   string // the listening address, fixed at NewProxy
	seed   int64

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the proxy started

	mu     sync.Mutex
	closed bool
	ln     net.Listener // nil while refusing
	held   io.Closer    // while refusing: the socket holding ln's port, if any
	// relistenWait is the last wait before retrying a failed listen; zero
	// once listening.
	relistenWait time.Duration
	rules        []*rule
	rng          *rand.Rand
	conns        map[uint64]*conn
	nextID       uint64
	relisten     *time.Timer // the next retry of a failed listen, if any

	stats   counters
	ledger  ledger
	capture *capture // nil without WithCapture
}

// NewProxy starts a proxy that forwards connections to target, a "host:port"
// address. It listens before returning (on "127.0.0.1:0" unless
// [WithListenAddr] says otherwise) and serves in the background until
// [Proxy.Close]. An invalid target or option is reported as an
// [*InvalidError]; a listen failure as the [*net.OpError].
func NewProxy(target string, opts ...Option) (*Proxy, error) {
	if err := checkTarget(target); err != nil {
		return nil, err
	}
	cfg := newConfig(opts)
	if len(cfg.errs) > 0 {
		return nil, cfg.errs[0]
	}
	if !cfg.seeded {
		cfg.seed = rand.Int64()
	}
	log := cfg.logger
	if cfg.name != "" {
		log = log.With("proxy", cfg.name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		cfg:    cfg,
		target: target,
		name:   cfg.name,
		log:    log,
		seed:   cfg.seed,
		ctx:    ctx,
		cancel: cancel,
		rng:    rand.New(rand.NewPCG(uint64(cfg.seed), 0x6661756c7473)),
		conns:  make(map[uint64]*conn),
		ledger: ledger{limit: cfg.eventLimit, hook: cfg.onFault},
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.listenLocked(cfg.listenAddr); err != nil {
		cancel()
		return nil, err
	}
	p.addr = p.ln.Addr().String()
	if cfg.capture != nil {
		p.capture = startCapture(cfg.capture, cfg.protocol, target, log, &p.stats)
	}
	return p, nil
}

func checkTarget(target string) error {
	if target == "" {
		return invalid("NewProxy", target, "empty target; want host:port")
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return invalid("NewProxy", target, err.Error())
	}
	if port == "" {
		return invalid("NewProxy", target, "missing port")
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n <= 0 || n > 65535 {
			return invalid("NewProxy", target, "port out of range")
		}
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		return invalid("NewProxy", target, "unknown port "+strconv.Quote(port))
	}
	_ = host // an empty host dials the local system, as net.Dial does
	return nil
}

// Addr returns the address clients dial to reach the target through the
// proxy, such as "127.0.0.1:43127". It does not change for the proxy's life,
// even while [Refuse] or [Restart] has the listener down.
func (p *Proxy) Addr() string { return p.addr }

// Name returns the name given with [WithName], or "" if none was.
func (p *Proxy) Name() string { return p.name }

// String describes the proxy for logs: its name if it has one, and where it
// forwards from and to, such as "mysql (127.0.0.1:43127 → 127.0.0.1:3306)".
func (p *Proxy) String() string {
	route := p.addr + " → " + p.target
	if p.name == "" {
		return route
	}
	return p.name + " (" + route + ")"
}

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Seed returns the seed of the proxy's random decisions: the one given with
// [WithSeed], or the one chosen at random. Log it to replay a failing run.
func (p *Proxy) Seed() int64 { return p.seed }

// Stats returns the proxy's live counters.
func (p *Proxy) Stats() Stats { return p.stats.snapshot() }

// Events returns the faults that fired, oldest first: the most recent ones,
// up to the limit set by [WithEventLimit].
func (p *Proxy) Events() []Event { return p.ledger.snapshot() }

// Set replaces the installed behaviors with bs; with none it restores pure
// pass-through. It returns once the change is in force: new connections
// follow bs, and connections already open take up bs's stream behaviors and
// timers (connection behaviors only act at accept). Each behavior starts
// its counters and windows afresh, and is decided anew on open connections;
// to change one behavior and keep the others' decisions and counters, name
// it with [Proxy.Add] and [Proxy.Remove].
//
// An invalid behavior makes Set return an [*InvalidError], and one the
// protocol cannot carry out an [*UnsupportedError]; either way nothing
// changes. After [Proxy.Close], Set returns [ErrClosed].
//
// While a [Refuse] or [Restart] has the listener down, the proxy keeps its
// port bound (on Linux), so [Proxy.Addr] stays true: no other listener can
// take the port, and dials are refused. Should listening again fail all
// the same, Set returns the error (with the rest of the change in force),
// and the proxy logs it and retries, backing off up to a second, until it
// listens, its behaviors change or it is closed.
func (p *Proxy) Set(bs ...Behavior) error {
	if p.cfg == nil {
		return ErrClosed // the zero Proxy
	}
	for _, b := range bs {
		if err := b.validate(p.cfg.protocol); err != nil {
			return err
		}
	}
	acks, err := p.install(bs)
	awaitAcks(acks)
	return err
}

// install replaces the rules with bs and applies them, returning the
// acknowledgements to wait for.
func (p *Proxy) install(bs []Behavior) ([]chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	now := time.Now()
	old := p.rules
	p.rules = nil
	for _, r := range old {
		r.stop()
	}
	p.forgetLocked(old...)
	var added []*rule
	for _, b := range bs {
		if b.act == nil {
			continue
		}
		r := p.newRuleLocked(b, "", now)
		p.rules = append(p.rules, r)
		added = append(added, r)
	}
	return p.applyLocked(added, now)
}

// newRuleLocked makes the rule for b and arms its For window. The caller
// holds p.mu.
func (p *Proxy) newRuleLocked(b Behavior, name string, now time.Time) *rule {
	r := &rule{b: b, name: name}
	if b.window > 0 {
		r.until = now.Add(b.window)
		r.timers = append(r.timers, time.AfterFunc(b.window, p.refresh))
	}
	return r
}

// applyLocked carries out what the newly installed rules do at once
// (Restart resets the open connections, Refuse fires), then brings the
// listener and the connections in line with the rules. The caller holds
// p.mu.
func (p *Proxy) applyLocked(added []*rule, now time.Time) ([]chan struct{}, error) {
	for _, r := range added {
		switch a := r.b.act.(type) {
		case restart:
			r.downUntil = now.Add(a.down)
			p.restartLocked(r, now)
			if a.down > 0 {
				r.timers = append(r.timers, time.AfterFunc(a.down, p.refresh))
			}
		case refuse:
			p.fire(r, 0, now)
		}
	}
	p.stopRelistenLocked()
	acks, err := p.refreshLocked(now)
	if err != nil {
		p.relistenLaterLocked(err)
	}
	return acks, err
}

// stop stops r's timers. The caller holds p.mu.
func (r *rule) stop() {
	for _, t := range r.timers {
		t.Stop()
	}
	r.timers = nil
}

// forgetLocked drops the open connections' decisions about rules that are
// no longer installed. The caller holds p.mu.
func (p *Proxy) forgetLocked(gone ...*rule) {
	if len(gone) == 0 {
		return
	}
	for _, c := range p.conns {
		for _, r := range gone {
			delete(c.decided, r)
			if name := r.b.with; name != "" && c.leaders[name] == r {
				delete(c.leaders, name)
			}
		}
	}
}

// Add installs b under name, next to the behaviors already installed,
// which keep their decisions on open connections, their counters and their
// For windows. If a behavior is installed under name already, b replaces
// it in its place, and b starts its counters and windows afresh, as with
// [Proxy.Set]. Like Set, Add returns once the change is in force.
//
// Names are the caller's: any non-empty string, compared exactly.
// [Proxy.Set] and [Proxy.Reset] replace named behaviors too, and their
// names are gone.
//
// The zero Behavior removes what is installed under name, if anything. An
// empty name or an invalid behavior makes Add return an [*InvalidError],
// and a behavior the protocol cannot carry out an [*UnsupportedError];
// either way nothing changes. After [Proxy.Close], Add returns [ErrClosed].
func (p *Proxy) Add(name string, b Behavior) error {
	if p.cfg == nil {
		return ErrClosed
	}
	if name == "" {
		return invalid("Add", name, "empty name")
	}
	if b.act == nil {
		err := p.Remove(name)
		if errors.Is(err, ErrNoBehavior) {
			return nil
		}
		return err
	}
	if err := b.validate(p.cfg.protocol); err != nil {
		return err
	}
	acks, err := p.put(name, b)
	awaitAcks(acks)
	return err
}

// put installs b under name and applies it, returning the acknowledgements
// to wait for.
func (p *Proxy) put(name string, b Behavior) ([]chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	now := time.Now()
	r := p.newRuleLocked(b, name, now)
	if i := p.namedLocked(name); i >= 0 {
		old := p.rules[i]
		old.stop()
		p.rules[i] = r
		p.forgetLocked(old)
	} else {
		p.rules = append(p.rules, r)
	}
	return p.applyLocked([]*rule{r}, now)
}

// Remove uninstalls the behavior installed under name by [Proxy.Add]; the
// others keep their decisions, counters and windows. It returns once the
// change is in force, an error wrapping [ErrNoBehavior] if no behavior has
// that name, and [ErrClosed] after [Proxy.Close].
func (p *Proxy) Remove(name string) error {
	if p.cfg == nil {
		return ErrClosed
	}
	acks, err := p.remove(name)
	awaitAcks(acks)
	return err
}

func (p *Proxy) remove(name string) ([]chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	i := p.namedLocked(name)
	if i < 0 {
		return nil, fmt.Errorf("remove %q: %w", name, ErrNoBehavior)
	}
	old := p.rules[i]
	old.stop()
	p.rules = slices.Delete(p.rules, i, i+1)
	p.forgetLocked(old)
	return p.applyLocked(nil, time.Now())
}

// namedLocked returns the index of the rule installed under name, or -1.
// The caller holds p.mu.
func (p *Proxy) namedLocked(name string) int {
	if name == "" {
		return -1 // the rules Set installed
	}
	return slices.IndexFunc(p.rules, func(r *rule) bool { return r.name == name })
}

// Behaviors returns the installed behaviors, including those whose For
// window has closed, in the order they were installed: those given to
// [Proxy.Set], then those added by [Proxy.Add] (a replacement takes the
// place of the behavior it replaced); nil if none is installed.
func (p *Proxy) Behaviors() []Behavior {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.rules) == 0 {
		return nil
	}
	bs := make([]Behavior, len(p.rules))
	for i, r := range p.rules {
		bs[i] = r.b
	}
	return bs
}

// Reset removes every behavior: the proxy is transparent again, and a
// listener taken down by [Refuse] or [Restart] listens again. It is
// Set with no behaviors.
func (p *Proxy) Reset() error { return p.Set() }

// refresh re-applies the installed rules when a window opens or closes.
func (p *Proxy) refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if _, err := p.refreshLocked(time.Now()); err != nil {
		p.relistenLaterLocked(err)
	}
}

// refreshLocked brings the listener and every open connection in line with
// the installed rules as of now, and returns the acknowledgements that
// tell when the connections have taken up their new plans. The caller
// holds p.mu.
func (p *Proxy) refreshLocked(now time.Time) ([]chan struct{}, error) {
	err := p.syncListenerLocked(now)
	if err == nil {
		p.relistenWait = 0
	}
	var acks []chan struct{}
	ids := make([]uint64, 0, len(p.conns))
	for id := range p.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids) // decide in accept order, so that a seed replays
	for _, id := range ids {
		c := p.conns[id]
		if c.isEnding() {
			continue // closing: no rule may spend a chance on it
		}
		acks = append(acks, c.replan(p.planFor(c, now, false))...)
	}
	return acks, err
}

// restartLocked resets every open connection for r. The caller holds p.mu.
func (p *Proxy) restartLocked(r *rule, now time.Time) {
	p.fire(r, 0, now)
	ids := make([]uint64, 0, len(p.conns))
	for id := range p.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := p.conns[id]
		if c.end(endReset) {
			p.fire(r, id, now)
		}
	}
}

// Close stops the proxy: it closes the listener and every connection,
// wakes every behavior that is waiting, and returns once every goroutine the
// proxy started has ended. The listening port is free when Close returns.
// With [WithCapture], Close writes the rest of the capture before it
// returns, and returns the first error writing it met. Close is
// idempotent; later calls wait the same way and return nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	first := !p.closed && p.cfg != nil
	if first {
		p.closed = true
		p.cancel()
		for _, r := range p.rules {
			r.stop()
		}
		p.stopRelistenLocked()
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		p.releasePortLocked()
		for _, c := range p.conns {
			c.end(endKill)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
	if p.capture != nil {
		if err := p.capture.close(); first {
			return err
		}
	}
	return nil
}
