package faults

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"

	"github.com/gofaults/faults/internal/pooledbuf"
	"github.com/gofaults/faults/internal/wire/memcache"
)

// memcachedRelay forwards one memcached text-protocol connection, framing
// the client's commands and the server's replies so that request behaviors
// act on single commands.
//
// Every command that memcached answers is owed one reply, in order: an
// entry in the shared queue (owedQueue), whose note says the reply's shape
// (see the mc* notes); a command with noreply is owed none and has no
// entry. A quiet meta command's entry is owed a reply only if the reply
// that comes is one memcached sends it (memcache.Command.Answers):
// otherwise the entry is done, owed nothing, and the reply is the next
// entry's. An entry the proxy answers carries its reply, written as soon
// as every reply before it has been.
//
// Both sides read through a heldReader: what they frame stays in the
// buffer until they must read more, and leaves in one write.
type memcachedRelay struct {
	sides
	cmds    heldReader // the client's commands
	replies heldReader // the server's replies
	queue   owedQueue

	raw         atomic.Bool   // framing stopped: bytes pass through unframed
	repliesDone chan struct{} // closed when the replies side ends

	// The commands side's: the command ahead; the entries of the plain
	// commands framed since the last push to the queue (all with note
	// unsentNote); whether the last command passed on that is owed a
	// reply is quiet (whether the server answers it is known only from
	// the replies after it); a scratch line.
	cmd        memcache.Command
	unsent     int
	unsentNote string
	quietOpen  bool
	line       []byte

	// The replies side's: entries at the queue's front whose replies are
	// framed (held) or that were owed none, and how many light entries
	// with note aheadNote are known to start at the first unclaimed one.
	claimed   int
	ahead     int
	aheadNote string
}

// The notes of the entries: the shape of the reply owed. A quiet meta
// command's is mcQuiet followed by its name.
const (
	mcLine   = ""  // one line
	mcValues = "v" // VALUE lines and their blocks, then END
	mcMeta   = "m" // a meta reply
	mcStats  = "s" // lines up to END
	mcQuiet  = "q" // a quiet meta command's reply, if any: "qmg", "qms", ...
)

// noteOf returns the note of the entry of c, which is owed a reply.
func noteOf(c *memcache.Command) string {
	switch c.Reply {
	case memcache.ShapeValues:
		return mcValues
	case memcache.ShapeStats:
		return mcStats
	case memcache.ShapeMeta:
		if c.Quiet {
			return mcQuiet + string(c.Name)
		}
		return mcMeta
	}
	return mcLine
}

// shapeOf returns the shape of the reply an entry with note is owed, and,
// for a quiet meta command's, the command, for memcache.Command.Answers.
func shapeOf(note string) (memcache.Shape, *memcache.Command) {
	switch note {
	case mcLine:
		return memcache.ShapeLine, nil
	case mcValues:
		return memcache.ShapeValues, nil
	case mcMeta:
		return memcache.ShapeMeta, nil
	case mcStats:
		return memcache.ShapeStats, nil
	}
	return memcache.ShapeMeta, &memcache.Command{Name: []byte(note[len(mcQuiet):]), Quiet: true}
}

// The most each side buffers. A command line must be buffered whole to be
// framed: memcached reads get lines of any length, and clients send a
// multi-key get as one line (gomemcache's GetMulti, libmemcached's mget),
// so the client's side may buffer a get of some 20,000 keys; a longer
// line passes the connection through unframed. A reply's lines are short,
// and its data blocks pass through a buffer at a time.
const (
	memcachedCommandBuffer = 1 << 20
	memcachedReplyBuffer   = 128 << 10
)

func newMemcachedRelay(c *conn) *memcachedRelay {
	r := new(memcachedRelay)
	r.init(c, memcachedReplyBuffer)
	r.fromClient = pooledbuf.NewReader(r.client, memcachedCommandBuffer)
	r.cmds = heldReader{r: r.fromClient, send: r.sendCommands}
	r.replies = heldReader{r: r.fromServer, send: r.sendReplies}
	return r
}

func (r *memcachedRelay) run() {
	if r.refuseConnection() {
		return
	}
	r.c.p.wg.Add(1)
	done := make(chan struct{})
	r.repliesDone = done
	go r.answers(done)
	r.commands()
	<-done
}

// memcachedConnect is what a rule answering a connection sees of it.
type memcachedConnect struct{}

func (memcachedConnect) summary() string { return "connect" }

// refuseConnection answers the connection with a reply of the greeting
// moment (MemcachedTooManyConnections) if a rule decides so, and closes
// it; it reports whether it did.
func (r *memcachedRelay) refuseConnection() bool {
	plan := r.c.plan.Load()
	if len(plan.requests) == 0 {
		return false
	}
	fx := r.c.decideUncounted(plan, memcachedConnect{}, isHandshakeError)
	reply, ok := fx.reply.(MemcachedReply)
	if !ok {
		return false
	}
	if _, err := r.toClient.Write(reply.encode()); err != nil {
		r.fail(err)
		return true
	}
	r.closeAfterReplies()
	return true
}

// commands frames the client's commands and passes them on, or answers
// them, as the request behaviors decide.
func (r *memcachedRelay) commands() {
	binary, err := memcache.PeekBinary(r.fromClient)
	switch {
	case err == io.EOF:
		closeWrite(r.server)
		return
	case r.woken(err) && r.raw.Load():
		// The server spoke first, unasked: everything passes through.
		r.passRaw(&r.cmds, r.toServer, r.client, r.server)
		return
	case err != nil:
		r.fail(err)
		return
	case binary:
		// The binary protocol passes through unframed, both ways.
		r.unframe()
		return
	}
	for {
		if r.raw.Load() {
			r.passRaw(&r.cmds, r.toServer, r.client, r.server)
			return
		}
		err := memcache.PeekCommand(&r.cmds, &r.cmd)
		switch {
		case err == nil:
			if !r.command() {
				return
			}
		case err == io.EOF:
			if err := r.cmds.release(); err != nil {
				r.fail(err)
				return
			}
			closeWrite(r.server)
			return
		case errors.Is(err, io.ErrUnexpectedEOF):
			r.endCommands(err)
			return
		case errors.Is(err, memcache.ErrMalformed):
			r.commandsFallBack(err)
			return
		case r.woken(err) && r.raw.Load():
			continue
		default:
			r.fail(err)
			return
		}
	}
}

// command handles the command ahead, whose line is peeked, and reports
// whether the commands side goes on.
func (r *memcachedRelay) command() bool {
	c := &r.cmd
	if c.Reply == memcache.ShapeUnknown {
		// Its replies cannot be framed (watch, lru_crawler metadump):
		// everything from here passes through unframed.
		r.unframe()
		return false
	}
	fx := r.decideCommand(c)
	if fx.delayRequest > 0 {
		// The commands before it go now.
		if err := r.cmds.release(); err != nil {
			r.fail(err)
			return false
		}
		if r.c.sleep(fx.delayRequest, nil) == ended {
			return false
		}
	}
	switch {
	case fx.reply != nil:
		return r.answerError(fx.reply.(MemcachedReply))
	case fx.miss:
		return r.answerMiss()
	case fx.missed != nil:
		missed := fx.missed
		fx.missed = nil
		return r.passWithout(missed, fx)
	}
	var serial uint64
	switch {
	case c.Reply == memcache.ShapeNone:
		// noreply, quit: owed nothing. Abort waits for the replies
		// owed before it.
		if fx.abort {
			r.commit()
			serial = r.queue.next()
		}
	case fx.any():
		var ok bool
		if serial, ok = r.enqueue(owed{fx: &fx, note: noteOf(c)}); !ok {
			return false
		}
		r.quietOpen = c.Quiet
	default:
		r.count(noteOf(c))
		r.quietOpen = c.Quiet
	}
	quit := string(c.Name) == "quit" // c's slices do not outlive CopyCommand
	if _, err := memcache.CopyCommand(nil, &r.cmds, c); err != nil && err != memcache.ErrBadDataChunk {
		// A data block that is not ended by CRLF is framed as memcached
		// frames it, which answers an error line in its place.
		r.endCommands(err)
		return false
	}
	r.cmds.mark()
	if quit && !fx.abort {
		// memcached closes the connection at quit and reads nothing
		// after it: neither does the proxy, which would otherwise
		// answer what follows (a Miss) where memcached answers nothing.
		if err := r.cmds.release(); err != nil {
			r.fail(err)
			return false
		}
		closeWrite(r.server)
		return false
	}
	if fx.abort {
		if err := r.cmds.release(); err != nil {
			r.fail(err)
			return false
		}
		r.awaitAbort(serial)
		return false
	}
	return true
}

// awaitAbort closes the connection for Abort once the command with serial
// number serial is passed on: after the replies owed to the commands
// before it, which must reach the client first, have been written, and
// have left the stream layer (see closeAfterReplies). Once they are
// written the replies side writes no more (the aborted command's reply is
// not passed on), so the commands side may drain the stream layer.
func (r *memcachedRelay) awaitAbort(serial uint64) {
	r.queue.awaitTurn(serial, r.repliesDone, r.c.done)
	r.closeAfterReplies()
}

// decideCommand decides what becomes of the command c.
func (r *memcachedRelay) decideCommand(c *memcache.Command) effects {
	plan := r.c.plan.Load()
	if len(plan.requests) == 0 {
		r.c.p.stats.requests.Add(1)
		return noEffects()
	}
	req := &memcachedRequest{command: string(c.Name), keys: make([]string, len(c.Keys))}
	for i, k := range c.Keys {
		req.keys[i] = string(k)
	}
	switch {
	case req.command == "quit":
		// memcached answers quit by closing the connection, never with
		// an error: an Error there would keep the connection open.
		return r.c.decide(plan, req, isQuitRule)
	case c.Reply == memcache.ShapeNone:
		return r.c.decide(plan, req, isNoReplyRule)
	case c.Invalid || !(memcachedProtocol{}).isRead(req.command) || len(req.keys) == 0:
		return r.c.decide(plan, req, isCommandRule)
	}
	return r.c.decideRead(plan, req, len(req.keys), func(i int) request {
		return &memcachedRequest{command: req.command, keys: req.keys[i : i+1]}
	})
}

// isQuitRule reports whether r acts on memcached's quit: as on a command
// with noreply, Error aside.
func isQuitRule(r *rule) bool {
	_, isError := r.b.act.(errorReply)
	return isNoReplyRule(r) && !isError
}

// count adds the entry of a plain command with note, to be pushed to the
// queue before the command's bytes are written.
func (r *memcachedRelay) count(note string) {
	if r.unsent > 0 && note != r.unsentNote {
		r.commit()
	}
	r.unsentNote = note
	r.unsent++
}

// commit pushes the entries of the plain commands framed so far.
func (r *memcachedRelay) commit() {
	if r.unsent > 0 {
		r.queue.pushRun(r.unsent, r.unsentNote)
		r.unsent = 0
	}
}

// enqueue pushes the entries of the commands framed so far, then o, and
// returns o's serial number. If o must wait for room (maxHeld), the
// commands framed so far are written on first, so that their replies
// come. false means the connection ends.
func (r *memcachedRelay) enqueue(o owed) (uint64, bool) {
	r.commit()
	if r.queue.full() {
		if err := r.cmds.release(); err != nil {
			r.fail(err)
			return 0, false
		}
	}
	s, ok := r.queue.push(0, o, r.repliesDone, r.c.done)
	if !ok {
		// The replies pass through unframed, and a reply of the proxy's
		// could not be placed among them; or the connection ended.
		r.c.end(endClose)
	}
	return s, ok
}

// sendCommands writes commands framed to the server, after pushing the
// entries of those counted so far.
func (r *memcachedRelay) sendCommands(b []byte) error {
	r.commit()
	_, err := r.toServer.Write(b)
	return err
}

// drop drops the command ahead, which the server does not see, after
// writing on the commands before it. It reports whether the commands side
// goes on.
func (r *memcachedRelay) drop() bool {
	if err := r.cmds.release(); err != nil {
		r.fail(err)
		return false
	}
	if _, err := memcache.CopyCommand(nil, r.fromClient, &r.cmd); err != nil && err != memcache.ErrBadDataChunk {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// Cut short by the client's FIN: nothing of it passes on.
			closeWrite(r.server)
		} else {
			r.fail(err)
		}
		return false
	}
	return true
}

// answerError answers the command ahead with reply, in the server's place.
// A set or an ms refused for lack of room removes the key's old value, as
// memcached's own refusal does: the proxy sends a delete (md) in its place,
// whose reply it replaces with the error. A command with noreply gets
// nothing, as from memcached.
func (r *memcachedRelay) answerError(reply MemcachedReply) bool {
	c := &r.cmd
	name := string(c.Name)
	if reply.unlinks() && !c.Invalid && (name == "set" || name == "ms") {
		r.line = append(r.line[:0], "delete "...)
		note := mcLine
		if name == "ms" {
			r.line, note = append(r.line[:0], "md "...), mcMeta
		}
		r.line = append(r.line, c.Key()...)
		switch {
		case c.Base64:
			r.line = append(r.line, " b"...)
		case c.NoReply:
			r.line = append(r.line, " noreply"...)
		}
		r.line = append(r.line, '\r', '\n')
		if !r.drop() {
			return false
		}
		if r.quietOpen && note == mcMeta {
			// The md's HD could be taken for a quiet mg's hit: an mn goes
			// first, and its MN, which the client did not ask for, is
			// dropped.
			if _, ok := r.enqueue(owed{reply: []byte{}, replace: true, note: mcMeta}); !ok {
				return false
			}
			if _, err := r.toServer.Write(memcachedNoop); err != nil {
				r.fail(err)
				return false
			}
			r.quietOpen = false
		}
		if !c.NoReply {
			if _, ok := r.enqueue(owed{reply: reply.encode(), replace: true, note: note}); !ok {
				return false
			}
			r.quietOpen = false
		}
		if _, err := r.toServer.Write(r.line); err != nil {
			r.fail(err)
			return false
		}
		return true
	}
	if c.Reply == memcache.ShapeNone {
		return r.drop()
	}
	return r.answer(reply.encode()) && r.drop()
}

// answerMiss answers the read ahead as a miss of every key: END for a get,
// gets, gat or gats; EN for an mg (nothing for a quiet one, as memcached
// sends nothing for a quiet miss).
func (r *memcachedRelay) answerMiss() bool {
	c := &r.cmd
	switch {
	case c.Reply == memcache.ShapeValues:
		r.line = memcache.AppendEnd(r.line[:0])
	case c.Quiet:
		return r.drop()
	default:
		r.line = memcache.AppendMetaMiss(r.line[:0], c)
	}
	return r.answer(bytes.Clone(r.line)) && r.drop()
}

// passWithout passes the get ahead on without the keys missed says, and
// the entry of its reply with fx: the server's reply, with the values of
// the other keys only, is the whole answer.
func (r *memcachedRelay) passWithout(missed []bool, fx effects) bool {
	c := &r.cmd
	r.line = append(r.line[:0], c.Name...)
	if name := string(c.Name); name == "gat" || name == "gats" {
		line, _ := r.cmds.Peek(c.LineLen)
		fields := bytes.Fields(line)
		r.line = append(append(r.line, ' '), fields[1]...) // the exptime
	}
	for i, k := range c.Keys {
		if !missed[i] {
			r.line = append(append(r.line, ' '), k...)
		}
	}
	r.line = append(r.line, '\r', '\n')
	if !r.drop() {
		return false
	}
	if fx.any() {
		serial, ok := r.enqueue(owed{fx: &fx, note: mcValues})
		if !ok {
			return false
		}
		if _, err := r.toServer.Write(r.line); err != nil {
			r.fail(err)
			return false
		}
		if fx.abort {
			r.awaitAbort(serial)
			return false
		}
	} else {
		r.count(mcValues)
		r.commit()
		if _, err := r.toServer.Write(r.line); err != nil {
			r.fail(err)
			return false
		}
	}
	r.quietOpen = false
	return true
}

// memcachedNoop is mn, the meta no-op, as a client sends it.
var memcachedNoop = []byte("mn\r\n")

// answer queues the proxy's reply to the command ahead, for the replies
// side to write once every reply owed before it has been written. If a
// quiet command passed on before may still get a reply, the server is
// asked to tell: an mn goes upstream in the command's place, and the
// reply is written in place of its MN.
func (r *memcachedRelay) answer(reply []byte) bool {
	if r.quietOpen {
		if _, ok := r.enqueue(owed{reply: reply, replace: true, note: mcMeta}); !ok {
			return false
		}
		r.quietOpen = false
		if err := r.cmds.release(); err != nil {
			r.fail(err)
			return false
		}
		if _, err := r.toServer.Write(memcachedNoop); err != nil {
			r.fail(err)
			return false
		}
		return true
	}
	if _, ok := r.enqueue(owed{reply: reply}); !ok {
		return false
	}
	r.wakeParked()
	return true
}

// unframe ends the framing at the command ahead: its replies, and
// everything after, pass through unframed both ways.
func (r *memcachedRelay) unframe() {
	if _, ok := r.enqueue(owed{unframed: true}); !ok {
		return
	}
	r.passRaw(&r.cmds, r.toServer, r.client, r.server)
}

// endCommands ends the commands side after err while framing: a command
// cut short by the client's FIN passes on as it came, then the FIN; after a
// wake-up by the replies side falling back, the rest passes through
// unframed; any other error ends the connection.
func (r *memcachedRelay) endCommands(err error) {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		if err := r.cmds.release(); err != nil {
			r.fail(err)
			return
		}
		if tail, _ := r.fromClient.Peek(r.fromClient.Buffered()); len(tail) > 0 {
			if _, err := r.toServer.Write(tail); err != nil {
				r.fail(err)
				return
			}
			r.fromClient.Discard(len(tail))
		}
		closeWrite(r.server)
	case r.woken(err) && r.raw.Load():
		r.passRaw(&r.cmds, r.toServer, r.client, r.server)
	default:
		r.fail(err)
	}
}

// commandsFallBack stops framing the client's bytes, which are not the
// text protocol as memcached reads it: they pass through unframed from the
// first byte that could not be framed, and so do the replies from the
// first one owed to them.
func (r *memcachedRelay) commandsFallBack(err error) {
	r.c.p.log.Warn("faults: memcached framing stopped; passing bytes through", "conn", r.c.id, "side", "client", "err", err)
	r.unframe()
}

// answers frames the server's replies and passes each to the client as its
// command's entry says, and writes the proxy's own replies in their turn;
// it closes done when it ends.
func (r *memcachedRelay) answers(done chan<- struct{}) {
	defer r.c.p.wg.Done()
	defer close(done)
	for {
		if r.raw.Load() {
			r.passRaw(&r.replies, r.toClient, r.server, r.client)
			return
		}
		if r.replies.Buffered() == 0 {
			// Between two replies, with nothing read: what is framed
			// goes out, and the proxy's replies due after it.
			if err := r.releaseReplies(); err != nil {
				r.fail(err)
				return
			}
			if !r.awaitReply(&r.queue, &r.raw) {
				return
			}
			continue
		}
		if !r.reply() {
			return
		}
	}
}

// reply passes on the reply ahead, whose first byte is buffered, as its
// entry says. It reports whether the replies side goes on.
func (r *memcachedRelay) reply() bool {
	o, ok := r.front()
	switch {
	case !ok:
		r.repliesFallBack(errors.New("a reply to no command"))
		return false
	case o.proxyAnswer():
		// Its turn has come: the replies before it go out, then it.
		if err := r.releaseReplies(); err != nil {
			r.fail(err)
			return false
		}
		return true
	case o.unframed:
		r.passRaw(&r.replies, r.toClient, r.server, r.client)
		return false
	}
	shape, quiet := shapeOf(o.note)
	if quiet != nil {
		l, err := memcache.PeekReply(&r.replies)
		if err != nil {
			return r.endReplies(err)
		}
		if !quiet.Answers(l.Code) {
			// The quiet command got nothing: the reply is the next
			// command's.
			r.claim()
			return true
		}
	}
	if !o.light() {
		if err := r.releaseReplies(); err != nil {
			r.fail(err)
			return false
		}
		return r.special(o, shape)
	}
	if _, err := memcache.CopyReply(nil, &r.replies, shape); err != nil {
		return r.endReplies(err)
	}
	r.claim()
	return true
}

// front returns the first unclaimed entry, false if none is owed.
func (r *memcachedRelay) front() (owed, bool) {
	if r.ahead > 0 {
		return owed{note: r.aheadNote}, true
	}
	o, n, ok := r.queue.at(r.claimed)
	if ok && o.light() {
		r.ahead, r.aheadNote = n, o.note
	}
	return o, ok
}

// claim counts the front entry as done: its reply is framed whole, or it
// was owed none.
func (r *memcachedRelay) claim() {
	r.claimed++
	if r.ahead > 0 {
		r.ahead--
	}
	r.replies.mark()
}

// sendReplies writes replies framed to the client, then forgets the
// entries of those framed whole and writes the proxy's replies that were
// waiting behind them.
func (r *memcachedRelay) sendReplies(b []byte) error {
	if _, err := r.toClient.Write(b); err != nil {
		return err
	}
	return r.popClaimed()
}

// popClaimed forgets the entries whose replies are framed whole (and
// written), and writes the proxy's replies that were waiting behind them.
func (r *memcachedRelay) popClaimed() error {
	n := r.claimed
	r.claimed = 0
	_, err := r.writeReady(&r.queue, n, 0)
	return err
}

// releaseReplies writes the replies framed so far to the client, forgets
// their entries, and writes the proxy's replies that were waiting behind
// them.
func (r *memcachedRelay) releaseReplies() error {
	if err := r.replies.release(); err != nil {
		return err
	}
	return r.popClaimed()
}

// special passes on one reply that a request behavior acts on, or that
// the proxy replaces, the replies before it written. It reports whether
// the replies side goes on.
func (r *memcachedRelay) special(o owed, shape memcache.Shape) bool {
	if o.replace {
		if _, err := memcache.CopyReply(nil, r.fromServer, shape); err != nil {
			return r.endReplies(err)
		}
		if _, err := r.toClient.Write(o.reply); err != nil {
			r.fail(err)
			return false
		}
		r.claim()
		return true
	}
	if !r.holdReply(o.fx, r.fromServer) {
		return false
	}
	w := io.Writer(r.toClient)
	shaped := r.shapedFor(o.fx)
	if shaped != nil {
		w = shaped
	}
	_, err := memcache.CopyReply(w, r.fromServer, shape)
	if shaped != nil && shaped.cut {
		// What TruncateResponse let through reaches the client first.
		r.closeAfterReplies()
		return false
	}
	if err != nil {
		return r.endReplies(err)
	}
	r.claim()
	return true
}

// endReplies ends the replies side after err while framing a reply: bytes
// that are not a reply make the rest pass through unframed (repliesFallBack);
// a reply cut short by the server's FIN passes on as it came, then the FIN;
// any other error ends the connection. It returns false.
func (r *memcachedRelay) endReplies(err error) bool {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		if err := r.replies.release(); err != nil {
			r.fail(err)
			return false
		}
		if tail, _ := r.fromServer.Peek(r.fromServer.Buffered()); len(tail) > 0 {
			if _, err := r.toClient.Write(tail); err != nil {
				r.fail(err)
				return false
			}
			r.fromServer.Discard(len(tail))
		}
		closeWrite(r.client)
	case errors.Is(err, memcache.ErrMalformed):
		r.repliesFallBack(err)
	default:
		r.fail(err)
	}
	return false
}

// repliesFallBack stops framing the server's bytes, which are not a reply
// or answer no command: they pass through unframed from there, and so does
// the client's side from its next command. If a reply of the proxy's or a
// behavior on a reply is still to come, the client's view could not be
// kept true, and the connection closes instead.
func (r *memcachedRelay) repliesFallBack(err error) {
	if r.unframeReplies("memcached", err, &r.raw, &r.queue, r.claimed) {
		r.passRaw(&r.replies, r.toClient, r.server, r.client)
	}
}

// passRaw writes what h holds and buffers to w, then copies src to it
// until EOF and half-closes dst.
func (r *memcachedRelay) passRaw(h *heldReader, w meter, src, dst net.Conn) {
	if r.c.isEnding() {
		return
	}
	if h == &r.cmds {
		r.commit()
	}
	if b := h.heldBytes(); len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			r.fail(err)
			return
		}
	}
	h.drop()
	r.copyRaw(w, h.r, src, dst)
}
