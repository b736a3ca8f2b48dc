package faults

import (
	"cmp"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofaults/faults/internal/pooledbuf"
	"github.com/gofaults/faults/internal/wire/httpwire"
)

// httpRelay forwards one HTTP connection, framing requests and responses so
// that request behaviors can act on single exchanges.
//
// Each request the client sends is owed an answer: an entry in the shared
// queue of framed relays (owedQueue). A request passed to the server is owed
// the server's next final response; one the proxy answers itself carries its
// reply. The responses side frames the server's responses, takes the entries
// in order, and alone writes to the client: a reply of the proxy's goes out
// as soon as every answer before it has, so that the client reads answers in
// the order of its requests, and a client that pipelines without reading
// stalls only the responses side (and, once maxHeld replies of the
// proxy's are owed, the reading of its requests, as a server's would).
//
// Unlike the Redis relay, whose framer keeps its whole state in its reader,
// this relay copies bodies with state on the stack (chunked framing) or by
// splice(2), so a read of the server is woken for a reply of the proxy's
// only while it waits between two responses (see sides.park).
type httpRelay struct {
	sides

	// One framer per direction, in no-copy mode: a head's raw bytes are
	// valid until the next read from its reader, so each head is written
	// on before its body is read.
	requestFramer  httpwire.Framer
	responseFramer httpwire.Framer

	queue    owedQueue
	answered atomic.Bool // the proxy queued a reply of its own: falling back is unsafe
	raw      atomic.Bool // framing stopped: bytes pass through raw

	respDone chan struct{} // closed when responses ends
}

// framingNote is what the responses side must know of a request with
// method to frame its response: HEAD's has no body, a 2xx to CONNECT
// starts a tunnel.
func framingNote(method string) string {
	if method == "HEAD" || method == "CONNECT" {
		return method
	}
	return ""
}

func newHTTPRelay(c *conn) *httpRelay {
	r := &httpRelay{
		requestFramer:  httpwire.Framer{NoCopy: true},
		responseFramer: httpwire.Framer{NoCopy: true},
	}
	r.init(c, httpwire.MaxHead)
	return r
}

func (r *httpRelay) run() {
	r.c.p.wg.Add(1)
	done := make(chan struct{})
	r.respDone = done
	go r.responses(done)
	r.requests()
	<-done
}

// requests frames the client's requests and passes them on, or answers
// them, as the request behaviors decide.
func (r *httpRelay) requests() {
	for {
		if r.raw.Load() {
			r.passRaw(r.fromClient, r.toServer, r.server)
			return
		}
		head, err := r.requestFramer.ReadRequestHead(r.fromClient)
		switch {
		case err == io.EOF:
			closeWrite(r.server)
			return
		case errors.Is(err, httpwire.ErrMalformed) && r.answered.Load():
			// The proxy answered a request itself: the peers' views of
			// the connection differ, and it closes once the answers
			// owed are out.
			r.c.p.log.Warn("faults: HTTP framing stopped after an answer of the proxy's; closing", "conn", r.c.id, "err", err)
			if _, ok := r.queue.push(0, owed{reply: []byte{}, closes: true}, r.respDone, r.c.done); ok {
				r.wakeParked()
			}
			return
		case errors.Is(err, httpwire.ErrMalformed):
			r.fallBack("request", err)
			continue
		case err != nil:
			if r.raw.Load() {
				continue // woken by the other side falling back
			}
			r.fail(err)
			return
		}
		raw, fx := r.decideRequest(head)
		if fx.delayRequest > 0 && r.c.sleep(fx.delayRequest, nil) == ended {
			return
		}
		note := framingNote(head.Method)
		if fx.reply != nil {
			reply := fx.reply.(HTTPReply)
			// The request never reaches the server. A client waiting for
			// 100 Continue will not send its body: close after answering.
			last := reply.endsConnection() || head.ExpectContinue || head.Close
			if last {
				reply.close = true // say so (RFC 9112 9.6)
			}
			// The answers owed to earlier requests, then this one, go out
			// (before the connection closes, if last).
			r.answered.Store(true)
			o := owed{reply: reply.encode(head.Method), closes: last}
			if _, ok := r.queue.push(0, o, r.respDone, r.c.done); !ok {
				return
			}
			r.wakeParked()
			if last {
				return
			}
			if _, err := httpwire.CopyBody(io.Discard, r.fromClient, head.Body); err != nil {
				r.endRequests(err)
				return
			}
			continue
		}
		var serial uint64
		if fx.any() {
			var ok bool
			if serial, ok = r.queue.push(0, owed{fx: &fx, note: note}, r.respDone, r.c.done); !ok {
				return
			}
		} else {
			serial = r.queue.pushRun(1, note)
		}
		if err := r.forward(r.toServer, r.fromClient, raw, head.Body); err != nil {
			if r.interrupted(err) {
				continue // the rest of the body, and all after it, raw
			}
			r.endRequests(err)
			return
		}
		if fx.abort {
			// The answers owed to earlier requests go out first, through
			// the stream layer too: the replies side writes no more.
			r.queue.awaitTurn(serial, r.respDone, r.c.done)
			r.closeAfterReplies()
			return
		}
		if head.Upgrade {
			// What follows is another protocol, or nothing until the
			// server answers: no more framing on this side.
			r.passRaw(r.fromClient, r.toServer, r.server)
			return
		}
	}
}

// endRequests ends the requests side after err from copying a request: a
// request cut short by the client's FIN passes on as it came, with the FIN
// after it, as through a TCP proxy; any other error ends the connection.
func (r *httpRelay) endRequests(err error) {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		closeWrite(r.server)
		return
	}
	r.fail(err)
}

// decideRequest decides what becomes of a request, and returns its head
// as it must go upstream (without the fault header).
func (r *httpRelay) decideRequest(head *httpwire.RequestHead) ([]byte, effects) {
	plan := r.c.plan.Load()
	name := r.c.p.cfg.faultHeader
	if len(plan.requests) == 0 && name == "" {
		// Nothing to match: skip building the request.
		r.c.p.stats.requests.Add(1)
		return head.Raw, noEffects()
	}
	req := &httpRequest{method: head.Method, target: head.Target, path: head.Path, header: head.Get}
	fx := r.c.decide(plan, req, nil)
	raw := head.Raw
	if name != "" {
		var values []string
		raw, values = httpwire.WithoutHeader(raw, name)
		if len(values) > 0 {
			r.inBand(strings.Join(values, ","), req, &fx)
		}
	}
	return raw, fx
}

// inBand adds the faults named by the fault header to fx, or answers 400
// if the header cannot be read.
func (r *httpRelay) inBand(value string, req request, fx *effects) {
	bs, err := parseFaultHeader(value)
	if err != nil {
		fx.reply = HTTPStatus(400).Body("faults: " + r.c.p.cfg.faultHeader + ": " + err.Error() + "\n")
		return
	}
	r.c.addInBand(fx, bs, req)
}

// forward writes a message's head and body to w, in one write when the
// whole message is already buffered.
func (r *httpRelay) forward(w meter, from *pooledbuf.Reader, head []byte, body httpwire.Body) error {
	if body.Kind == httpwire.BodyNone {
		return w.writev(head)
	}
	if body.Kind == httpwire.BodyLength && body.Length <= int64(from.Buffered()) {
		b, _ := from.Peek(int(body.Length))
		err := w.writev(head, b)
		from.Discard(len(b))
		return err
	}
	if body.Kind == httpwire.BodyLength || body.Kind == httpwire.BodyUntilClose {
		// Pass on the buffered start with the head; splice the rest.
		b, _ := from.Peek(from.Buffered())
		rest := int64(-1)
		if body.Kind == httpwire.BodyLength {
			b = b[:min(int64(len(b)), body.Length)]
			rest = body.Length - int64(len(b))
		}
		err := w.writev(head, b)
		from.Discard(len(b))
		if err != nil || rest == 0 {
			return err
		}
		return r.spliceBody(w, from, rest)
	}
	if err := w.writev(head); err != nil {
		return err
	}
	_, err := httpwire.CopyBody(w, from, body)
	return err
}

// spliceBody moves n more body bytes (n < 0: until EOF) to w, by splice(2)
// from the socket under from, whose buffer is empty. It counts the bytes as
// it goes and reports a body cut short as io.ErrUnexpectedEOF.
func (r *httpRelay) spliceBody(w meter, from *pooledbuf.Reader, n int64) error {
	src := r.client
	if from == r.fromServer {
		src = r.server
	}
	dir := Downstream
	if src == r.client {
		dir = Upstream
	}
	dst, dstTap, dstTCP := spliceable(w.conn, dir)
	srcSock, srcTap, srcTCP := spliceable(src, dir)
	if !dstTCP || !srcTCP {
		if n < 0 {
			_, err := io.Copy(w, from)
			return err
		}
		_, err := io.CopyN(w, from, n)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	// Chunks sized as the TCP path sizes them (see nextSpliceChunk): the
	// counters move while a long body flows, at few calls per MiB.
	chunk := int64(minSpliceChunk)
	tap := cmp.Or(srcTap, dstTap) // the client's, if captured
	for n != 0 {
		want := chunk
		if n > 0 {
			want = min(want, n)
		}
		start := time.Now()
		m, err := spliceN(dst, srcSock, want, tap, srcTap != nil)
		w.bytes.Add(m)
		w.c.touch()
		if n > 0 {
			n -= m
		}
		switch {
		case err != nil:
			return err
		case m < want && n < 0:
			return nil // EOF ends a body delimited by the close
		case m < want:
			return io.ErrUnexpectedEOF
		}
		if want == chunk {
			chunk = nextSpliceChunk(chunk, time.Since(start))
		}
	}
	return nil
}

// responses frames the server's responses and passes each to the client as
// its request's entry says, and writes the proxy's own replies in their
// turn; it closes done when it ends.
func (r *httpRelay) responses(done chan<- struct{}) {
	defer r.c.p.wg.Done()
	defer close(done)
	for {
		if r.raw.Load() {
			r.passRaw(r.fromServer, r.toClient, r.client)
			return
		}
		if !r.awaitReply(&r.queue, &r.raw) {
			return
		}
		if r.raw.Load() {
			continue // woken by the other side falling back
		}
		o, _, ok := r.queue.at(0)
		if !ok {
			r.fallBack("unrequested response", nil)
			continue
		}
		head, err := r.responseFramer.ReadResponseHead(r.fromServer, o.note)
		switch {
		case errors.Is(err, httpwire.ErrMalformed):
			r.fallBack("response", err)
			continue
		case err != nil:
			if r.raw.Load() {
				continue
			}
			r.fail(err)
			return
		}
		if !r.respond(o.fx, head) {
			return
		}
		if head.Status >= 100 && head.Status < 200 && head.Status != 101 {
			continue // interim: the final response is still owed
		}
		r.queue.pop(1, 1)
		if head.Status == 101 || o.note == "CONNECT" && head.Status/100 == 2 {
			r.passRaw(r.fromServer, r.toClient, r.client)
			return
		}
		if head.Body.Kind == httpwire.BodyUntilClose {
			closeWrite(r.client)
			return
		}
	}
}

// respond passes one response to the client as the effects of its request
// say (nil: none). It reports whether the relay goes on.
func (r *httpRelay) respond(fxp *effects, head *httpwire.ResponseHead) bool {
	fx := noEffects()
	if fxp != nil {
		fx = *fxp
	}
	interim := head.Status >= 100 && head.Status < 200 && head.Status != 101
	if fx.abort && !interim {
		// No byte of the answer reaches the client: the request side
		// closes the connection once the whole request is passed on,
		// which may be after the server has started answering. (A 100
		// Continue goes through: the client sends the rest of the
		// request on it.)
		return false
	}
	// The final response is held, once; interim ones (100 Continue, 103
	// Early Hints) go through at once.
	if fx.delayResponse > 0 && !interim && r.c.sleep(fx.delayResponse, nil) == ended {
		return false
	}
	if fx.drop {
		// The client never gets this answer, nor any after it.
		io.Copy(io.Discard, r.fromServer)
		return false
	}
	if fx.truncate < 0 && fx.slow == 0 {
		if err := r.forward(r.toClient, r.fromServer, head.Raw, head.Body); err != nil {
			switch {
			case r.interrupted(err):
				r.passRaw(r.fromServer, r.toClient, r.client)
			case errors.Is(err, io.ErrUnexpectedEOF):
				// The server's FIN cut the response short: what came
				// went on, and so does the FIN, as through a TCP proxy.
				closeWrite(r.client)
			default:
				r.fail(err)
			}
			return false
		}
		return true
	}
	w := &shapedWriter{w: r.toClient, c: r.c, left: fx.truncate, rate: fx.slow}
	_, err := w.Write(head.Raw)
	if err == nil {
		_, err = httpwire.CopyBody(w, r.fromServer, head.Body)
	}
	if w.cut {
		// What TruncateResponse let through reaches the client first.
		r.closeAfterReplies()
		return false
	}
	if err != nil && r.interrupted(err) {
		r.passRaw(r.fromServer, r.toClient, r.client)
		return false
	}
	return !r.c.isEnding()
}

// shapedWriter passes on at most left bytes (if left >= 0), paced to rate
// bytes per second (if rate > 0). Once left runs out it sets cut and fails.
type shapedWriter struct {
	w     meter
	c     *conn
	left  int64
	rate  int64
	start time.Time
	sent  int64
	cut   bool
}

var errTruncated = errors.New("faults: response truncated")

func (s *shapedWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if s.left == 0 {
			s.cut = true
			return n, errTruncated
		}
		chunk := b
		if s.left > 0 && int64(len(chunk)) > s.left {
			chunk = chunk[:s.left]
		}
		if s.rate > 0 {
			if s.start.IsZero() {
				s.start = time.Now()
			}
			chunk = chunk[:min(int64(len(chunk)), max(s.rate/50, 1))]
			due := s.start.Add(time.Duration(float64(s.sent) / float64(s.rate) * float64(time.Second)))
			if d := time.Until(due); d > 0 && s.c.sleep(d, nil) == ended {
				return n, errEnded
			}
		}
		m, err := s.w.Write(chunk)
		n += m
		s.sent += int64(m)
		if s.left > 0 {
			s.left -= int64(m)
		}
		if err != nil {
			return n, err
		}
		b = b[m:]
	}
	return n, nil
}

// fallBack stops framing because a message could not be read: the rest of
// the connection passes through raw, starting with the bytes that could not
// be framed. If the proxy had answered a request itself, the peers'
// views of the connection differ, and it is closed instead.
func (r *httpRelay) fallBack(what string, err error) {
	r.c.p.log.Warn("faults: HTTP framing stopped; passing bytes through", "conn", r.c.id, "what", what, "err", err)
	if r.answered.Load() {
		r.c.end(endClose)
	}
	if r.raw.CompareAndSwap(false, true) {
		// Wake the other side, blocked reading a message; it sees raw
		// set and passes the rest through (passRaw clears the deadline).
		r.client.SetReadDeadline(time.Unix(1, 0))
		r.server.SetReadDeadline(time.Unix(1, 0))
	}
}

// interrupted reports whether err is the wake-up of a read by the other
// side falling back, in the middle of a message: httpwire.CopyBody has
// passed on every byte it consumed, and the rest goes through raw.
func (r *httpRelay) interrupted(err error) bool {
	return r.raw.Load() && r.woken(err)
}

// passRaw copies from, with its buffered bytes, to w until EOF, then
// half-closes w's socket.
func (r *httpRelay) passRaw(from *pooledbuf.Reader, w meter, dst net.Conn) {
	if r.c.isEnding() {
		return
	}
	src := r.client
	if dst == r.client {
		src = r.server
	}
	r.copyRaw(w, from, src, dst)
}
