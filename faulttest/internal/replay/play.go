package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gofaults/faults/internal/split"
)

// PlayOptions say how to play a script.
type PlayOptions struct {
	Target  string
	Speed   float64       // 1: real time
	Timeout time.Duration // for a dial, a login step, and each answer, from when its request is sent
	Creds   Credentials
	Dialer  interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
}

// A Result is what became of one request of a play.
type Result struct {
	Request  *Request
	Due      time.Time // when it was to be sent
	Sent     time.Time // when it was; zero if it never was
	Answered time.Time // when its answer was complete; zero if none came
	Outcome  string    // the answer's outcome, or NoAnswer
	Err      error     // why no answer came
}

// connRequest is what Play reports for a script without requests (raw
// TCP): the connection itself, which succeeds if it is played whole.
var connRequest = &Request{Summary: "connection"}

// liveConn is the connection of a play.
type liveConn struct {
	conn    net.Conn
	br      *bufio.Reader
	timeout time.Duration

	mu  sync.Mutex // guards asm, whose splitter both sides feed; after play.mu if both are taken
	asm *assembler
}

// send writes a message of the client's, with a deadline, and shows it
// to the splitter.
func (lc *liveConn) send(b []byte) error {
	lc.mu.Lock()
	lc.asm.feed(split.Client, time.Time{}, b, func(split.Side, time.Time, []byte, int) {})
	lc.mu.Unlock()
	lc.conn.SetWriteDeadline(time.Now().Add(lc.timeout))
	_, err := lc.conn.Write(b)
	return err
}

// readDeadline bounds the login's next read.
func (lc *liveConn) readDeadline() { lc.conn.SetReadDeadline(time.Now().Add(lc.timeout)) }

// play is one script being played.
type play struct {
	s      *Script
	opts   PlayOptions
	start  time.Time
	report func(Result)
	lc     *liveConn
	sess   session

	mu       sync.Mutex
	cond     *sync.Cond // signalled at each answer and at failure
	pending  []Result   // sent, awaiting their answer, oldest first
	answered int
	failed   error
	closing  bool  // the play closes the connection: a read error then is no failure
	badReply error // the answers could not be read, found under mu by answer

	readerDone <-chan struct{} // closed when readAnswers returns: the server closed, or the play failed
}

// Play plays script s, starting at start (it waits until then), and calls
// report with what became of each request, from the goroutines of the
// play; report must be safe for concurrent use. It returns once the
// connection is closed and every request reported; the error is the one
// that ended the connection early, if any.
func Play(ctx context.Context, s *Script, start time.Time, opts PlayOptions, report func(Result)) error {
	p := &play{s: s, opts: opts, start: start, report: report}
	p.cond = sync.NewCond(&p.mu)
	reqs := s.requests()
	if len(reqs) == 0 {
		// Raw bytes: the connection is the request.
		reqs = []*Request{connRequest}
	}
	err := p.run(ctx)
	if len(s.requests()) == 0 {
		r := Result{Request: connRequest, Due: start, Sent: start, Err: err}
		if err == nil {
			r.Answered = time.Now()
		}
		report(r)
	}
	return err
}

func (p *play) run(ctx context.Context) error {
	if err := WaitUntil(ctx, p.start); err != nil {
		return p.abandon(0, err)
	}
	dctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	conn, err := p.opts.Dialer.DialContext(dctx, "tcp", p.opts.Target)
	cancel()
	if err != nil {
		return p.abandon(0, err)
	}
	p.lc = &liveConn{conn: conn, br: bufio.NewReaderSize(conn, 64<<10), timeout: p.opts.Timeout, asm: newAssembler(p.s.proto.splitter(), 0)}
	p.sess = p.s.proto.newSession(p.opts.Creds)
	if err := p.sess.login(p.lc, p.s); err != nil {
		conn.Close()
		return p.abandon(0, fmt.Errorf("login: %w", err))
	}
	conn.SetReadDeadline(time.Time{})
	done := make(chan struct{})
	p.readerDone = done
	go p.readAnswers(done)
	err = p.sendSteps(ctx)
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	conn.Close()
	<-done
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		err = p.failed
	}
	return err
}

// abandon reports the requests from the i-th on as failed with err,
// never sent.
func (p *play) abandon(i int, err error) error {
	for _, r := range p.s.requests()[i:] {
		p.report(Result{Request: r, Due: p.due(r), Outcome: NoAnswer, Err: err})
	}
	return err
}

// due returns when a request's step was to be sent.
func (p *play) due(r *Request) time.Time {
	for i := range p.s.Steps {
		if p.s.Steps[i].Request == r {
			return p.at(p.s.Steps[i].At)
		}
	}
	return p.start
}

// at returns when an offset of the recorded connection falls in the play.
func (p *play) at(off time.Duration) time.Time {
	return p.start.Add(time.Duration(float64(off) / p.opts.Speed))
}

// sendSteps sends the steps on time, each once the answers its recorded
// client had read before it have come, then ends the connection as the
// recorded client did, and waits for the answers still owed.
func (p *play) sendSteps(ctx context.Context) error {
	sentReqs := 0
	for i := range p.s.Steps {
		st := &p.s.Steps[i]
		due := p.at(st.At)
		if err := p.wait(ctx, due, st.After); err != nil {
			return p.abandon(sentReqs, err)
		}
		p.mu.Lock()
		data := p.sess.rewrite(st.Data)
		p.sess.sent(st)
		if st.Request != nil {
			p.pending = append(p.pending, Result{Request: st.Request, Due: due, Sent: time.Now(), Outcome: NoAnswer})
			if len(p.pending) == 1 {
				p.lc.conn.SetReadDeadline(time.Now().Add(p.opts.Timeout))
			}
			sentReqs++
		}
		p.mu.Unlock()
		if err := p.lc.send(data); err != nil {
			p.fail(err)
			return p.abandon(sentReqs, err)
		}
	}
	switch p.s.End {
	case EndFin, EndReset:
		if err := p.wait(ctx, p.at(p.s.EndAt), p.s.EndDep); err != nil {
			return err
		}
		if p.s.End == EndReset {
			if tc, ok := p.lc.conn.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			return nil
		}
		if cw, ok := p.lc.conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}
	// The answers still owed.
	if err := p.wait(ctx, time.Time{}, sentReqs); err != nil || p.s.End != EndFin {
		return err
	}
	// The client closed its side, as recorded: the server's close ends
	// the connection, within the timeout.
	t := time.NewTimer(p.opts.Timeout)
	defer t.Stop()
	select {
	case <-p.readerDone:
	case <-t.C:
	case <-ctx.Done():
	}
	return nil
}

// wait waits until t, and until n answers have come; it returns the
// play's failure, or the context's.
func (p *play) wait(ctx context.Context, t time.Time, n int) error {
	if err := WaitUntil(ctx, t); err != nil {
		p.fail(err)
		return err
	}
	stop := context.AfterFunc(ctx, func() { p.fail(ctx.Err()) })
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.answered < n && p.failed == nil {
		p.cond.Wait()
	}
	return p.failed
}

// fail ends the play with err: the requests awaiting an answer get it.
// A failure after the first, or a read error while the play closes the
// connection with no answer owed, changes nothing.
func (p *play) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != nil || p.closing && len(p.pending) == 0 {
		return
	}
	p.failed = err
	for _, r := range p.pending {
		r.Err = err
		p.report(r)
	}
	p.pending = nil
	p.cond.Broadcast()
	p.lc.conn.Close()
}

// readAnswers reads the server's messages until the connection ends, and
// reports each request whose answer they complete.
func (p *play) readAnswers(done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 32<<10)
	for {
		n, err := p.lc.br.Read(buf)
		if n > 0 {
			now := time.Now()
			p.mu.Lock()
			// The splitter is one for both sides: send feeds it the
			// client's messages under lc.mu (taken after p.mu, never
			// before).
			p.lc.mu.Lock()
			p.lc.asm.feed(split.Server, now, buf[:n], p.answer)
			p.lc.mu.Unlock()
			bad := p.badReply
			p.mu.Unlock()
			if bad != nil {
				p.fail(fmt.Errorf("reading the answers: %w", bad))
				return
			}
		}
		if err != nil {
			switch {
			case err == io.EOF:
				// The server closed: an answer owed is cut short; if none
				// is, a step still to send finds the connection closed.
				err = io.ErrUnexpectedEOF
				p.mu.Lock()
				owed := len(p.pending) > 0
				p.mu.Unlock()
				if !owed {
					return
				}
			case errors.Is(err, net.ErrClosed):
				err = errors.New("the connection was closed with answers owed")
			}
			p.fail(err)
			return
		}
	}
}

// answer takes one message of the server's. The caller holds p.mu.
func (p *play) answer(_ split.Side, at time.Time, msg []byte, length int) {
	if p.failed != nil || p.badReply != nil {
		return
	}
	done, outcome, err := p.sess.server(msg, length)
	if err != nil {
		p.badReply = err
		return
	}
	if !done || len(p.pending) == 0 {
		return
	}
	r := p.pending[0]
	p.pending = p.pending[1:]
	r.Answered, r.Outcome = at, outcome
	p.answered++
	p.report(r)
	if len(p.pending) > 0 {
		p.lc.conn.SetReadDeadline(p.pending[0].Sent.Add(p.opts.Timeout))
	} else {
		p.lc.conn.SetReadDeadline(time.Time{})
	}
	p.cond.Broadcast()
}

// WaitUntil sleeps until t (not at all if t is past or zero), or until
// ctx ends, whose error it then returns.
func WaitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if t.IsZero() || d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
