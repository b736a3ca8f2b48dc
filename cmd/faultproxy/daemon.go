package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gofaults/faults"
)

// daemon holds the proxies by name. Its methods are safe for concurrent
// use; a proxy's own changes lock only that proxy, so that one proxy's
// control calls never wait for another's.
type daemon struct {
	log         *slog.Logger
	seed        *int64        // -seed: for proxies that give none
	dialTimeout time.Duration // -dial-timeout: for proxies that give none
	metrics     *metrics

	mu      sync.RWMutex
	proxies map[string]*managed

	// bindMu serializes binding, so that no two proxies of the daemon
	// take one address: the library's listeners use SO_REUSEPORT, with
	// which a second bind to a port succeeds and the kernel splits the
	// connections between the two. It is taken after any other lock.
	bindMu sync.Mutex
	bound  map[*faults.Proxy]boundAddr
}

// boundAddr is where a library proxy of the daemon listens, and the
// file it captures to, if any.
type boundAddr struct {
	name    string
	addr    *net.TCPAddr
	capture string   // the file's absolute path
	file    *os.File // nil without a capture
}

func newDaemon(log *slog.Logger, seed *int64, dialTimeout time.Duration, mt *metrics) *daemon {
	d := &daemon{
		log:         log,
		seed:        seed,
		dialTimeout: dialTimeout,
		metrics:     mt,
		proxies:     make(map[string]*managed),
		bound:       make(map[*faults.Proxy]boundAddr),
	}
	mt.watch(d)
	return d
}

// newLibraryProxy starts the library proxy s describes. A bad address or
// option is a 400; a listen failure a 500 with the listener's error, as
// Toxiproxy answers it ("listen tcp …: bind: address already in use"),
// which is also the answer when another proxy of the daemon has the
// address. With a capture, it opens s.capture, created or truncated, or
// appended to if appendCapture, and refuses a file another proxy of the
// daemon writes.
func (d *daemon) newLibraryProxy(s spec, appendCapture bool) (*faults.Proxy, error) {
	d.bindMu.Lock()
	defer d.bindMu.Unlock()
	want, err := net.ResolveTCPAddr("tcp", listenAddr(s.listen))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "listen %q: %v", s.listen, err)
	}
	for _, b := range d.bound {
		if overlaps(want, b.addr) {
			return nil, errorf(http.StatusInternalServerError, "listen tcp %s: bind: address already in use (by proxy %q)", listenAddr(s.listen), b.name)
		}
	}
	capture, f, err := d.openCapture(s, appendCapture)
	if err != nil {
		return nil, err
	}
	opts := []faults.Option{
		faults.WithName(s.name),
		faults.WithListenAddr(listenAddr(s.listen)),
		faults.WithLogger(d.log),
		faults.WithProtocol(s.protocol),
		faults.WithDialTimeout(cmp.Or(s.dialTimeout, d.dialTimeout)),
		faults.OnFault(d.metrics.onFault(s.name)),
	}
	if seed := cmp.Or(s.seed, d.seed); seed != nil {
		opts = append(opts, faults.WithSeed(*seed))
	}
	if f != nil {
		opts = append(opts, faults.WithCapture(f))
	}
	p, err := faults.NewProxy(s.upstream, opts...)
	if err != nil && f != nil {
		f.Close()
	}
	if errors.Is(err, faults.ErrInvalid) {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		return nil, err
	}
	addr, _ := net.ResolveTCPAddr("tcp", p.Addr())
	d.bound[p] = boundAddr{name: s.name, addr: addr, capture: capture, file: f}
	if f != nil {
		d.log.Info("capturing", "proxy", s.name, "file", capture, "append", appendCapture)
	}
	return p, nil
}

// openCapture opens the file s captures to, if any, and returns its
// absolute path. The caller holds d.bindMu.
func (d *daemon) openCapture(s spec, appendCapture bool) (string, *os.File, error) {
	if s.capture == "" {
		return "", nil, nil
	}
	path, err := filepath.Abs(s.capture)
	if err != nil {
		return "", nil, fmt.Errorf("capture %q: %w", s.capture, err)
	}
	for _, b := range d.bound {
		if b.capture == path {
			return "", nil, fmt.Errorf("capture %s: proxy %q writes it", path, b.name)
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendCapture {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("capture: %w", err)
	}
	return path, f, nil
}

// closeLibraryProxy closes p and frees its address for other proxies. A
// capture is written to its end, then its file closed; what went wrong is
// logged.
func (d *daemon) closeLibraryProxy(p *faults.Proxy) {
	err := p.Close()
	d.bindMu.Lock()
	b := d.bound[p]
	delete(d.bound, p)
	d.bindMu.Unlock()
	if b.file == nil {
		return
	}
	if cerr := b.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.log.Error("capture not written", "proxy", b.name, "file", b.capture, "err", err)
		return
	}
	d.log.Info("capture written", "proxy", b.name, "file", b.capture, "dropped_bytes", p.Stats().CaptureDropped)
}

// overlaps reports whether listening on a would take b's port: the same
// port, on the same or an unspecified address. Port 0 takes a free one.
func overlaps(a, b *net.TCPAddr) bool {
	if a.Port == 0 || a.Port != b.Port {
		return false
	}
	return a.IP.Equal(b.IP) || unspecifiedIP(a.IP) || unspecifiedIP(b.IP)
}

// get returns the proxy called name, or a 404.
func (d *daemon) get(name string) (*managed, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if m := d.proxies[name]; m != nil {
		return m, nil
	}
	return nil, errProxyNotFound
}

// list returns the proxies sorted by name.
func (d *daemon) list() []*managed {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ms := make([]*managed, 0, len(d.proxies))
	for _, m := range d.proxies {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *managed) int { return cmp.Compare(a.name, b.name) })
	return ms
}

// create starts a new proxy, or answers 409 if one has its name.
func (d *daemon) create(s spec) (*managed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.createLocked(s)
}

func (d *daemon) createLocked(s spec) (*managed, error) {
	if d.proxies[s.name] != nil {
		return nil, errProxyExists
	}
	m := &managed{d: d, name: s.name, enabled: s.enabled == nil || *s.enabled, natives: s.behaviors}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.start(s); err != nil {
		return nil, err
	}
	d.proxies[s.name] = m
	d.log.Info("proxy created", "proxy", s.name, "listen", m.spec.listen, "upstream", s.upstream, "protocol", s.protocol.Name(), "enabled", m.enabled)
	return m, nil
}

// remove deletes the proxy called name: its listener and connections
// close.
func (d *daemon) remove(name string) error {
	d.mu.Lock()
	m := d.proxies[name]
	delete(d.proxies, name)
	d.mu.Unlock()
	if m == nil {
		return errProxyNotFound
	}
	m.close()
	d.metrics.forget(name)
	d.log.Info("proxy deleted", "proxy", name)
	return nil
}

// populate creates or updates each proxy of specs, in order, as
// Toxiproxy's /populate does: a proxy of the same name that would listen,
// forward and speak the same stays untouched, connections and toxics
// included (its enabled flag and behaviors follow the spec where the spec
// gives them; a spec that gives no capture, as the API's never do, keeps
// the proxy's); one that differs, in its capture file too, is replaced by a
// new proxy, without its toxics. The first failure stops the rest; it returns the proxies done
// before it.
func (d *daemon) populate(specs []spec) ([]*managed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	done := make([]*managed, 0, len(specs))
	for _, s := range specs {
		m := d.proxies[s.name]
		if m == nil {
			nm, err := d.createLocked(s)
			if err != nil {
				return done, err
			}
			done = append(done, nm)
			continue
		}
		if err := m.populate(s); err != nil {
			return done, err
		}
		done = append(done, m)
	}
	return done, nil
}

// populate brings an existing proxy in line with s (see daemon.populate).
func (m *managed) populate(s spec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !s.hasCapture {
		s.capture = m.spec.capture
	}
	if m.differs(s) {
		m.toxics, m.natives = nil, s.behaviors
		m.enabled = s.enabled == nil || *s.enabled
		m.d.log.Info("proxy replaced", "proxy", m.name, "listen", s.listen, "upstream", s.upstream, "protocol", s.protocol.Name())
		return m.replace(s)
	}
	if s.hasBehaviors && !slices.EqualFunc(s.behaviors, m.natives, func(a, b faults.Behavior) bool { return a.String() == b.String() }) {
		if err := m.setBehaviors(s.behaviors); err != nil {
			return err
		}
	}
	if s.enabled != nil {
		return m.setEnabled(*s.enabled)
	}
	return nil
}

// reset removes every toxic and behavior and enables every proxy. The
// first failure stops the rest, as in Toxiproxy.
func (d *daemon) reset() error {
	for _, m := range d.list() {
		m.mu.Lock()
		err := m.reset()
		m.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// close closes every proxy, in parallel, and returns when all are closed.
func (d *daemon) close() {
	d.mu.Lock()
	ms := d.proxies
	d.proxies = make(map[string]*managed)
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(m.close)
	}
	wg.Wait()
}

// unspecifiedIP reports whether ip stands for every address.
func unspecifiedIP(ip net.IP) bool { return ip == nil || ip.IsUnspecified() }
