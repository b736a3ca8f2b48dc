package faults

import (
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/gofaults/faults/internal/tcpcap"
)

// WithCapture makes the proxy record every connection it carries, both
// ways, to w, as a pcapng capture that Wireshark and tshark read.
//
// Each connection appears as a TCP stream from the client's address to the
// target's address and port, so that tshark's dissectors recognise
// MySQL on 3306, PostgreSQL on 5432 or Redis on 6379 by themselves (for a
// service on another port, tell tshark: -d tcp.port==8080,http). The
// stream holds what the client saw: the bytes it sent, whether or not they
// reached the server, and those it received, whether the server or the
// proxy wrote them; its handshake at accept, and a FIN or reset from
// either side as they happened, with the times they happened. On a
// protocol-aware proxy each segment is one message (a request, a reply, a
// packet), up to 65,495 bytes. Every fault that fires is a comment on the
// next packet to the client, written as its [Event] prints, after
// "faults: "; the listener's own faults ([Refuse], and the dials
// [Restart] refuses) have no connection to mark.
//
// Capturing costs CPU: it copies every byte once, into a buffer for a
// goroutine that writes the capture. A connection that would be spliced
// still is, on Linux: tee(2) duplicates its bytes for the capture to read.
// Elsewhere it is copied through a buffer instead. It never holds the traffic
// back: the bytes wait in a buffer (see [CaptureBuffer]) while the writer
// catches up, and when it is full, what comes is left out of the capture,
// counted in [Stats.CaptureDropped], logged once, and marked where it
// should have been: a comment, and a gap in the stream's sequence numbers
// that tshark reports as "previous segment not captured".
//
// The proxy writes to w from a goroutine of its own and never closes it.
// [Proxy.Close] writes what is left and the capture's statistics, then
// returns the first error w returned; after such an error the proxy stops
// writing, and logs it once. Close waits for w to take what is left: a w
// that blocks for ever blocks Close. w must not be used by anything else
// until Close returns; then it is the caller's again, to close.
//
// A capture holds whatever passed, secrets included: passwords sent in
// clear (Redis AUTH, PostgreSQL's password and md5 messages), session
// tokens, cookies, the data itself. MySQL's and PostgreSQL's SCRAM logins
// carry no password, yet a capture of them lets an attacker try passwords
// offline. [RedactSecrets] leaves some of them out; treat a capture as
// you would the data it holds.
func WithCapture(w io.Writer, opts ...CaptureOption) Option {
	return optionFunc(func(c *config) {
		if w == nil {
			c.fail(invalid("WithCapture", w, "nil writer"))
			return
		}
		cc := &captureConfig{w: w, buffer: DefaultCaptureBuffer}
		for _, o := range opts {
			if o != nil {
				o.applyCapture(cc, c)
			}
		}
		c.capture = cc
	})
}

// DefaultCaptureBuffer is how many bytes of traffic a capture holds for
// its writer when [CaptureBuffer] does not say.
const DefaultCaptureBuffer = 16 << 20

// A CaptureOption tunes [WithCapture].
type CaptureOption interface {
	applyCapture(*captureConfig, *config)
}

type captureOptionFunc func(*captureConfig, *config)

func (f captureOptionFunc) applyCapture(cc *captureConfig, c *config) { f(cc, c) }

type captureConfig struct {
	w      io.Writer
	redact bool
	buffer int
}

// RedactSecrets makes the capture write REDACTED in place of the values of
// HTTP's Authorization, Proxy-Authorization, Cookie and Set-Cookie headers
// and of the password of Redis's AUTH and HELLO … AUTH. Only what the
// proxy frames is redacted: on a TCP proxy, and in what follows a
// framing's end (an HTTP upgrade, bytes that are not the protocol),
// nothing is. A replay of a redacted capture sends REDACTED, unless told
// the password (see faulttest's ReplayOptions).
func RedactSecrets() CaptureOption {
	return captureOptionFunc(func(cc *captureConfig, _ *config) { cc.redact = true })
}

// CaptureBuffer sets how many bytes of traffic the capture holds while its
// writer catches up; past that, traffic is left out of the capture (see
// [WithCapture]). n must be positive; the default is
// [DefaultCaptureBuffer].
func CaptureBuffer(n int) CaptureOption {
	return captureOptionFunc(func(cc *captureConfig, c *config) {
		if n <= 0 {
			c.fail(invalid("CaptureBuffer", n, "must be positive"))
			return
		}
		cc.buffer = n
	})
}

// What the capture records, in the order it happened.
type captureKind uint8

const (
	capOpen    captureKind = iota // accepted: the handshake
	capData                       // bytes one side sent
	capFin                        // a side closed its direction
	capReset                      // a side reset the connection
	capClose                      // the proxy closed the client's socket
	capComment                    // a fault fired on the connection
)

// captureItem is one record of the queue.
type captureItem struct {
	kind   captureKind
	side   tcpcap.Side
	conn   uint64
	at     int64          // unix nanoseconds
	off    int64          // the offset in the side's bytes where the item falls, dropped bytes counted
	data   []byte         // capData: the bytes, in a block of the batch
	text   string         // capComment
	client netip.AddrPort // capOpen
}

// captureBatch is the queue's records since the writer last took them.
// Their bytes are copied into blocks of captureBlock bytes, taken from the
// capture's free ones and given back with the batch, so that recording
// never grows (and so copies) a buffer.
type captureBatch struct {
	items  []captureItem
	blocks [][]byte // the blocks the items' bytes are in
	free   []byte   // what is left of the last block
	bytes  int      // what the items count against the buffer
}

// captureBlock is the size of the blocks of a batch's bytes; a record
// longer than that has one of its own.
const captureBlock = 256 << 10

// itemCost is what a record without bytes counts against the buffer.
const itemCost = 64

// capture records the connections of a proxy for the goroutine that
// writes them (see captureWriter). Records are appended to a batch, which
// the writer takes whole: the connections' goroutines only copy bytes
// under a mutex.
type capture struct {
	cfg   *captureConfig
	log   *slog.Logger
	stats *counters

	mu      sync.Mutex
	fill    *captureBatch // records not yet taken by the writer
	spare   *captureBatch // a batch written, for reuse
	blocks  [][]byte      // free blocks, for batches to take
	queued  int           // bytes held by fill and the batch being written
	closing bool
	warned  bool
	// droppedComments counts the fault comments left out, which
	// Stats.CaptureDropped does not.
	droppedComments int64
	ready           chan struct{} // signalled when fill gets its first record, and at close
	done            chan struct{} // closed when the writer has ended
	err             error         // the writer's, read once done is closed
}

// captureSide is what the capture keeps of one connection on the
// recording side: how far each side's bytes have gone. Guarded by the
// capture's mutex.
type captureSide struct {
	id   uint64
	sent [2]int64
}

// startCapture starts the writer of a proxy to target; it ends at close.
func startCapture(cfg *captureConfig, proto Protocol, target string, log *slog.Logger, stats *counters) *capture {
	c := &capture{
		cfg:   cfg,
		log:   log,
		stats: stats,
		fill:  new(captureBatch),
		ready: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	w := newCaptureWriter(c, proto, target)
	go w.run()
	return c
}

// record appends an item about connection cs (nil: none), with the bytes
// of parts if it carries any, and reports false if the buffer is full: an
// item with bytes is then left out, one without is kept regardless if
// must. The item falls at the offset its side's bytes have reached, and
// its bytes, kept or not, move that on.
func (c *capture) record(cs *captureSide, it captureItem, must bool, parts ...[]byte) bool {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	kept, _ := c.recordFill(cs, it, must, n, func(b []byte) error {
		k := 0
		for _, p := range parts {
			k += copy(b[k:], p)
		}
		return nil
	})
	return kept
}

// recordFill is record for n bytes that fill writes, whole, into the
// space it is given: the capture's own, so that they are copied once, or
// scratch space if they are left out, so that fill still consumes them.
// fill runs under the capture's lock. An error of fill is returned, and
// its bytes are counted as left out.
func (c *capture) recordFill(cs *captureSide, it captureItem, must bool, n int, fill func([]byte) error) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs != nil {
		it.conn = cs.id
		it.off = cs.sent[it.side]
		cs.sent[it.side] += int64(n)
	}
	if c.closing || c.queued+n+itemCost > c.cfg.buffer && !must {
		if !c.closing {
			c.dropLocked(n)
		}
		return false, fillScratch(n, fill)
	}
	var data []byte
	if n > 0 {
		data = c.spaceLocked(c.fill, n)
		if err := fill(data); err != nil {
			c.dropLocked(n)
			return false, err
		}
	}
	c.queued += n + itemCost
	b := c.fill
	b.bytes += n + itemCost
	it.at = time.Now().UnixNano() // under the lock: the records' times are in order
	it.data = data
	if len(b.items) == 0 {
		select {
		case c.ready <- struct{}{}:
		default:
		}
	}
	b.items = append(b.items, it)
	return true, nil
}

// fillScratch gives fill n bytes of scratch space to consume what it
// would have recorded.
func fillScratch(n int, fill func([]byte) error) error {
	if n == 0 {
		return nil
	}
	buf := getBuffer(n > smallBuffer)
	defer putBuffer(buf)
	if n <= len(*buf) {
		return fill((*buf)[:n])
	}
	return fill(make([]byte, n))
}

// spaceLocked returns n bytes of b's blocks to copy a record into. The
// caller holds c.mu.
func (c *capture) spaceLocked(b *captureBatch, n int) []byte {
	if n > captureBlock {
		return make([]byte, n) // not kept: a block is of one size
	}
	if len(b.free) < n {
		var blk []byte
		if k := len(c.blocks); k > 0 {
			blk, c.blocks = c.blocks[k-1], c.blocks[:k-1]
		} else {
			blk = make([]byte, captureBlock)
		}
		b.blocks = append(b.blocks, blk)
		b.free = blk
	}
	out := b.free[:n:n]
	b.free = b.free[n:]
	return out
}

// dropLocked counts n bytes (or, if 0, a comment) left out of the
// capture, and logs the first time. The caller holds c.mu.
func (c *capture) dropLocked(n int) {
	if n == 0 {
		c.droppedComments++
	}
	c.stats.captureDropped.Add(int64(n))
	if !c.warned {
		c.warned = true
		c.log.Warn("faults: the capture's writer falls behind; traffic is left out of the capture, not held back", "buffer", c.cfg.buffer)
	}
}

// open records an accepted connection from client.
func (c *capture) open(id uint64, client netip.AddrPort) *captureSide {
	c.record(nil, captureItem{kind: capOpen, conn: id, client: client}, true)
	return &captureSide{id: id}
}

// data records bytes that side sent on the connection.
func (c *capture) data(cs *captureSide, side tcpcap.Side, parts ...[]byte) {
	c.record(cs, captureItem{kind: capData, side: side}, false, parts...)
}

// end records a FIN or a reset from side, or the proxy's close of the
// client's socket.
func (c *capture) end(cs *captureSide, kind captureKind, side tcpcap.Side) {
	c.record(cs, captureItem{kind: kind, side: side}, true)
}

// comment records a fault that fired on connection id.
func (c *capture) comment(id uint64, e Event) {
	c.record(nil, captureItem{kind: capComment, conn: id, text: "faults: " + e.String()}, false)
}

// take waits for records and returns the batch that holds them, a spare
// one taking its place; nil once the capture is closing and every record
// is taken.
func (c *capture) take() *captureBatch {
	for {
		c.mu.Lock()
		if b := c.fill; len(b.items) > 0 {
			next := c.spare
			if next == nil {
				next = new(captureBatch)
			}
			c.spare = nil
			c.fill = next
			c.mu.Unlock()
			return b
		}
		closing := c.closing
		c.mu.Unlock()
		if closing {
			return nil
		}
		<-c.ready
	}
}

// taken gives back a batch the writer is done with, and its blocks. Free
// blocks are kept up to what the buffer holds.
func (c *capture) taken(b *captureBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queued -= b.bytes
	for _, blk := range b.blocks {
		if len(c.blocks)*captureBlock < c.cfg.buffer {
			c.blocks = append(c.blocks, blk)
		}
	}
	clear(b.items) // the items' bytes and texts
	b.items, b.blocks, b.free, b.bytes = b.items[:0], b.blocks[:0], nil, 0
	c.spare = b
}

// pending reports whether records wait to be taken.
func (c *capture) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.fill.items) > 0
}

// close stops recording, waits for the writer to write what is left, and
// returns the first write error.
func (c *capture) close() error {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	select {
	case c.ready <- struct{}{}:
	default:
	}
	<-c.done
	return c.err
}
