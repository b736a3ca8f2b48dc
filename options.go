package faults

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"
)

// DefaultDialTimeout bounds each upstream dial when [WithDialTimeout] is not
// given.
const DefaultDialTimeout = 5 * time.Second

// An Option configures a [Proxy] at [NewProxy].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// A Dialer opens upstream connections. [*net.Dialer] is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

type config struct {
	listenAddr  string
	name        string
	seed        int64
	seeded      bool
	logger      *slog.Logger
	dialTimeout time.Duration
	dialer      Dialer
	protocol    Protocol
	onFault     func(Event)
	eventLimit  int
	faultHeader string
	capture     *captureConfig // nil: no capture
	errs        []error
}

// defaultEventLimit is how many events [Proxy.Events] keeps by default.
const defaultEventLimit = 10000

func newConfig(opts []Option) *config {
	c := &config{
		listenAddr:  "127.0.0.1:0",
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		dialTimeout: DefaultDialTimeout,
		dialer:      &net.Dialer{},
		protocol:    TCP(),
		eventLimit:  defaultEventLimit,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

func (c *config) fail(err error) { c.errs = append(c.errs, err) }

// WithListenAddr sets the address the proxy listens on, "host:port". The
// default is "127.0.0.1:0": a free loopback port, reported by [Proxy.Addr].
func WithListenAddr(addr string) Option {
	return optionFunc(func(c *config) {
		if addr == "" {
			c.fail(invalid("WithListenAddr", addr, "empty address"))
			return
		}
		if _, err := net.ResolveTCPAddr("tcp", addr); err != nil {
			c.fail(invalid("WithListenAddr", addr, err.Error()))
			return
		}
		c.listenAddr = addr
	})
}

// WithName names the proxy, such as "mysql" or "payments-api", for the
// logs of the proxy and of faulttest, and for load reports, which
// otherwise name a proxy by its addresses. [Proxy.Name] returns it.
func WithName(name string) Option {
	return optionFunc(func(c *config) { c.name = name })
}

// WithSeed makes every random decision of the proxy (probabilities, jitter,
// corruption) come from a source seeded with seed, so that the same seed and
// the same order of traffic give the same faults. Without it the seed is
// random; [Proxy.Seed] reports it either way.
func WithSeed(seed int64) Option {
	return optionFunc(func(c *config) {
		c.seed = seed
		c.seeded = true
	})
}

// WithLogger sets where the proxy logs what it does: dial failures,
// connections falling back to pass-through, listener restarts. A nil logger
// is refused. The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			c.fail(invalid("WithLogger", l, "nil logger"))
			return
		}
		c.logger = l
	})
}

// WithDialTimeout bounds each upstream dial. Zero means [DefaultDialTimeout];
// negative durations are refused. A client whose upstream dial fails or
// times out has its connection reset.
func WithDialTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		switch {
		case d < 0:
			c.fail(invalid("WithDialTimeout", d, "must not be negative"))
		case d == 0:
			c.dialTimeout = DefaultDialTimeout
		default:
			c.dialTimeout = d
		}
	})
}

// WithDialer sets how the proxy opens upstream connections; the default is a
// zero [net.Dialer]. The proxy can only splice (zero-copy) connections whose
// dialer returns [*net.TCPConn]; others are copied through a buffer.
func WithDialer(d Dialer) Option {
	return optionFunc(func(c *config) {
		if nd, ok := d.(*net.Dialer); d == nil || ok && nd == nil {
			c.fail(invalid("WithDialer", d, "nil dialer"))
			return
		}
		c.dialer = d
	})
}

// WithProtocol sets the protocol the proxy speaks; the default is [TCP].
func WithProtocol(p Protocol) Option {
	return optionFunc(func(c *config) {
		if p == nil {
			c.fail(invalid("WithProtocol", p, "nil protocol"))
			return
		}
		c.protocol = p
	})
}

// OnFault registers fn to be called for every fault that fires, in the
// order they fire. fn runs on the proxy's goroutines, synchronously: it must
// be safe for concurrent use and must not block or call the proxy's Set,
// Reset or Close.
func OnFault(fn func(Event)) Option {
	return optionFunc(func(c *config) {
		if fn == nil {
			c.fail(invalid("OnFault", "nil", "nil hook"))
			return
		}
		c.onFault = fn
	})
}

// WithEventLimit sets how many of the most recent events [Proxy.Events]
// keeps (default 10000); older ones are dropped, while [Stats.Injected]
// still counts them. Zero keeps none; negative limits are refused.
func WithEventLimit(n int) Option {
	return optionFunc(func(c *config) {
		if n < 0 {
			c.fail(invalid("WithEventLimit", n, "must not be negative"))
			return
		}
		c.eventLimit = n
	})
}
