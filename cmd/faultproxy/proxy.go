package main

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gofaults/faults"
)

// spec is what a proxy is asked to be, by the API's create, a populate
// element, the config file or the one-proxy flags.
type spec struct {
	name        string
	listen      string // "" listens on every interface, on a free port, as Toxiproxy does
	upstream    string
	protocol    faults.Protocol
	seed        *int64        // nil: the daemon's -seed, else random
	dialTimeout time.Duration // zero: the library's default
	enabled     *bool         // nil: unchanged, or true for a new proxy

	// capture is the file the proxy records its traffic to ("" for
	// none), when hasCapture is set: the native config and -capture give
	// it; the API cannot, so that no API client makes the daemon write
	// files. Without hasCapture a proxy keeps the capture it has.
	capture    string
	hasCapture bool

	// behaviors are installed with Proxy.Set when hasBehaviors is set
	// (the config file's "behaviors", empty included).
	behaviors    []faults.Behavior
	hasBehaviors bool
}

// managed is one proxy of the daemon: a library proxy and what the API
// knows of it. Its methods are safe for concurrent use.
//
// Toxics are named behaviors of the library proxy (Proxy.Add, one per
// part, see ruleName), so adding, changing or removing one leaves the
// others' decisions and counters alone. Behaviors set over the native API
// or the config file replace every behavior (Proxy.Set), toxics included. A
// disabled proxy refuses connections: two more named behaviors, Refuse()
// and Timeout(1ns), take its listener down and close the connections it
// had, as Toxiproxy's disable closes its listener and its connections.
type managed struct {
	d    *daemon
	name string

	mu       sync.Mutex
	spec     spec          // listen as bound
	p        *faults.Proxy // nil once deleted, or while down after a failed listen
	enabled  bool
	natives  []faults.Behavior
	toxics   []*toxic // in the order added
	base     faults.Stats
	past     []faults.Event // events of the library proxies this one replaced
	gone     bool           // deleted
	startErr error          // why p is nil while not gone
	captured string         // the capture file m's library proxies have written, if any
}

// Names of the behaviors that disable a proxy. They cannot collide with a
// toxic's (see ruleName).
const (
	ruleDisabled      = "faultproxy:disabled#refuse"
	ruleDisabledClose = "faultproxy:disabled#close"
)

var (
	disabledRefuse = faults.Refuse()
	disabledClose  = faults.Timeout(time.Nanosecond)
)

// errDown answers what needs the library proxy while it is down.
func (m *managed) errDown() error {
	if m.gone {
		return errProxyNotFound
	}
	return errorf(http.StatusConflict, "proxy %s is down (%v): enable it first", m.name, m.startErr)
}

// start makes m's library proxy from s. The caller holds m.mu.
func (m *managed) start(s spec) error {
	p, err := m.open(s)
	if err != nil {
		return err
	}
	s.listen = p.Addr()
	m.spec, m.p, m.startErr = s, p, nil
	return nil
}

// open starts a library proxy from s, with m's behaviors, toxics and
// enabled state installed. A capture file m's last library proxy wrote is
// appended to (a section of its own), any other created or truncated.
func (m *managed) open(s spec) (*faults.Proxy, error) {
	p, err := m.d.newLibraryProxy(s, s.capture == m.captured)
	if err != nil {
		return nil, err
	}
	m.captured = s.capture
	if err := m.install(p); err != nil {
		m.d.closeLibraryProxy(p)
		return nil, err
	}
	return p, nil
}

// install puts m's native behaviors, toxics and enabled state on p.
func (m *managed) install(p *faults.Proxy) error {
	if err := p.Set(m.natives...); err != nil {
		return err
	}
	for _, t := range m.toxics {
		ps, err := t.parts()
		if err != nil {
			return err
		}
		for _, pt := range ps {
			if err := p.Add(ruleName(t.name, pt.key), pt.b); err != nil {
				return err
			}
		}
	}
	if !m.enabled {
		return disable(p)
	}
	return nil
}

// disable takes p's listener down, then closes its connections.
func disable(p *faults.Proxy) error {
	if err := p.Add(ruleDisabled, disabledRefuse); err != nil {
		return err
	}
	return p.Add(ruleDisabledClose, disabledClose)
}

// enable brings p's listener back, once nothing would close what it
// accepts.
func enable(p *faults.Proxy) error {
	if err := p.Remove(ruleDisabledClose); err != nil && !errors.Is(err, faults.ErrNoBehavior) {
		return err
	}
	if err := p.Remove(ruleDisabled); err != nil && !errors.Is(err, faults.ErrNoBehavior) {
		return err
	}
	return nil
}

// stop closes m's library proxy, keeping its counters and events for the
// one that replaces it. The caller holds m.mu.
func (m *managed) stop() {
	if m.p == nil {
		return
	}
	m.d.closeLibraryProxy(m.p)
	m.base = addStats(m.base, m.p.Stats())
	m.past = append(m.past, m.p.Events()...)
	if extra := len(m.past) - maxPastEvents; extra > 0 {
		m.past = slices.Delete(m.past, 0, extra)
	}
	m.p = nil
}

// maxPastEvents bounds the events kept from replaced library proxies.
const maxPastEvents = 10000

// close stops m for good: it has been deleted.
func (m *managed) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stop()
	m.gone = true
}

// setEnabled enables or disables m.
func (m *managed) setEnabled(on bool) error {
	if on == m.enabled {
		return nil
	}
	if m.p == nil {
		if !on {
			m.enabled = false
			return nil
		}
		m.enabled = true
		if err := m.start(m.spec); err != nil {
			m.enabled, m.startErr = false, err
			return err
		}
		return nil
	}
	m.enabled = on
	if on {
		return enable(m.p)
	}
	return disable(m.p)
}

// differs reports whether s asks for another library proxy than m's: a
// different listen address, upstream, protocol, capture file or options. A listen port
// of 0 asks for any port, so the bound one does (Toxiproxy replaces such
// a proxy on every populate).
func (m *managed) differs(s spec) bool {
	cur := m.spec
	return !sameListen(s.listen, cur.listen) || s.upstream != cur.upstream ||
		s.protocol.Name() != cur.protocol.Name() ||
		s.seed != nil && (cur.seed == nil || *s.seed != *cur.seed) ||
		s.dialTimeout != cur.dialTimeout || s.capture != cur.capture
}

// sameListen reports whether a proxy bound to bound listens where want
// asks. An unresolvable want never matches.
func sameListen(want, bound string) bool {
	w, err := net.ResolveTCPAddr("tcp", listenAddr(want))
	if err != nil {
		return false
	}
	b, err := net.ResolveTCPAddr("tcp", bound)
	if err != nil {
		return false
	}
	if w.Port != 0 && w.Port != b.Port {
		return false
	}
	return w.IP.Equal(b.IP) || unspecifiedIP(w.IP) && unspecifiedIP(b.IP)
}

// listenAddr is where a proxy asked to listen on addr listens: "" is every
// interface, on a free port.
func listenAddr(addr string) string {
	if addr == "" {
		return ":0"
	}
	return addr
}

// replace makes m the proxy s describes, with a new library proxy, keeping
// its toxics and behaviors. A new address is bound before the old proxy is
// closed, so that a failure changes nothing; the same address, or the same
// capture file (which the old proxy must finish first), can only be taken
// after. The caller holds m.mu.
func (m *managed) replace(s spec) error {
	if m.p != nil && !sameListen(s.listen, m.spec.listen) && (s.capture == "" || s.capture != m.spec.capture) {
		p, err := m.open(s)
		if err != nil {
			return err
		}
		m.stop()
		s.listen = p.Addr()
		m.spec, m.p = s, p
		return nil
	}
	m.stop()
	if err := m.start(s); err != nil {
		m.spec, m.startErr, m.enabled = s, err, false
		return err
	}
	return nil
}

// setBehaviors replaces every behavior of m, toxics included, with bs: the
// native API's PUT, the config's behaviors. On an invalid behavior nothing
// changes.
func (m *managed) setBehaviors(bs []faults.Behavior) error {
	if m.p == nil {
		return m.errDown()
	}
	if err := m.p.Set(bs...); err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	m.natives, m.toxics = bs, nil
	if !m.enabled {
		return disable(m.p)
	}
	return nil
}

// reset removes every toxic and behavior of m and enables it: Toxiproxy's
// /reset.
func (m *managed) reset() error {
	m.natives, m.toxics, m.enabled = nil, nil, true
	if m.p == nil {
		return m.start(m.spec)
	}
	return m.p.Reset()
}

// toxicNamed returns m's toxic called name and its index, or nil and -1.
func (m *managed) toxicNamed(name string) (*toxic, int) {
	i := slices.IndexFunc(m.toxics, func(t *toxic) bool { return t.name == name })
	if i < 0 {
		return nil, -1
	}
	return m.toxics[i], i
}

// addToxic installs a new toxic.
func (m *managed) addToxic(req *toxicRequest) (*toxic, error) {
	t, ps, err := newToxic(req, func(name string) bool { tx, _ := m.toxicNamed(name); return tx != nil })
	if err != nil {
		return nil, err
	}
	if m.p != nil {
		for i, pt := range ps {
			if err := m.p.Add(ruleName(t.name, pt.key), pt.b); err != nil {
				m.removeParts(t.name, ps[:i])
				return nil, errorf(http.StatusBadRequest, "%v", err)
			}
		}
	}
	m.toxics = append(m.toxics, t)
	return t, nil
}

// updateToxic merges req into the toxic called name. On any error nothing
// changes (Toxiproxy keeps the attributes decoded before a bad one).
func (m *managed) updateToxic(name string, req *toxicRequest) (*toxic, error) {
	old, i := m.toxicNamed(name)
	if old == nil {
		return nil, errToxicNotFound
	}
	t, ps, err := old.updated(req)
	if err != nil {
		return nil, err
	}
	if m.p != nil {
		oldParts, _ := old.parts()
		for _, pt := range ps {
			if err := m.p.Add(ruleName(t.name, pt.key), pt.b); err != nil {
				return nil, errorf(http.StatusBadRequest, "%v", err)
			}
		}
		m.removeParts(t.name, slices.DeleteFunc(oldParts, func(o part) bool {
			return slices.ContainsFunc(ps, func(n part) bool { return n.key == o.key })
		}))
	}
	m.toxics[i] = t
	return t, nil
}

// removeToxic removes the toxic called name.
func (m *managed) removeToxic(name string) error {
	t, i := m.toxicNamed(name)
	if t == nil {
		return errToxicNotFound
	}
	if m.p != nil {
		ps, _ := t.parts()
		m.removeParts(name, ps)
	}
	m.toxics = slices.Delete(m.toxics, i, i+1)
	return nil
}

// removeParts removes the behaviors of the toxic called name's parts ps.
func (m *managed) removeParts(name string, ps []part) {
	for _, pt := range ps {
		if err := m.p.Remove(ruleName(name, pt.key)); err != nil && !errors.Is(err, faults.ErrNoBehavior) {
			m.d.log.Warn("removing a toxic's behavior", "proxy", m.name, "toxic", name, "err", err)
		}
	}
}

// stats returns m's counters, over every library proxy it has had.
func (m *managed) stats() faults.Stats {
	s := m.base
	if m.p != nil {
		cur := m.p.Stats()
		s = addStats(s, cur)
		s.ConnsOpen = cur.ConnsOpen
	}
	return s
}

// events returns the faults fired on m, oldest first.
func (m *managed) events() []faults.Event {
	ev := slices.Clone(m.past)
	if m.p != nil {
		ev = append(ev, m.p.Events()...)
	}
	return ev
}

// behaviors returns what m's library proxy does, in the syntax of
// faults.Behavior.String.
func (m *managed) behaviors() []string {
	var bs []faults.Behavior
	if m.p != nil {
		bs = m.p.Behaviors()
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.String()
	}
	return out
}

// addStats adds the cumulative counters of b to a; ConnsOpen is a's.
func addStats(a, b faults.Stats) faults.Stats {
	a.ConnsTotal += b.ConnsTotal
	a.BytesUpstream += b.BytesUpstream
	a.BytesDownstream += b.BytesDownstream
	a.Requests += b.Requests
	a.Injected += b.Injected
	a.DialFailures += b.DialFailures
	return a
}
