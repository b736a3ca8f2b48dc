package faults

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gofaults/faults/internal/wire/resp"
)

// redisRelay forwards one Redis connection, framing the client's commands
// and the server's replies so that request behaviors act on single
// commands.
//
// Every command the client sends is owed one reply, in order: an entry in a
// FIFO. An entry passed to the server is owed the server's next reply that
// is not a push (RESP3 '>' values, which the server sends unasked); an
// entry the proxy answers itself carries its reply, written as soon as
// every reply before it has been written. The commands after which replies
// stop pairing with commands (SUBSCRIBE and the like, MONITOR, CLIENT
// REPLY, SYNC) end the framing: what follows passes through unframed, in
// both directions, once the replies owed before them are out.
//
// Framed bytes leave in batches: a side writes what it has framed when it
// has nothing more to frame, so a pipeline of commands read in one read is
// passed on in one write.
type redisRelay struct {
	sides
	cmds    *resp.Reader // from the client
	replies *resp.Reader // from the server

	queue owedQueue

	// The commands side's: commands framed since the last push to the
	// queue, all plain (their entries are pushed before their bytes go),
	// and whether the command being framed is one the proxy answered,
	// whose bytes are dropped.
	unsent   int
	dropping bool

	// The replies side's: entries at the queue's front whose replies it
	// has begun, those of them it has framed whole, and how many plain
	// entries are known to follow the claimed ones.
	claimed, finished, plainAhead int

	// The transaction the client has open, as the commands side sees it:
	// whether MULTI was passed on, and whether the proxy has since
	// answered a command of it with an error.
	inMulti, spoiled bool

	// The RESP version the connection speaks, from the server's reply to
	// the last HELLO or RESET (set by the replies side); and, on the
	// commands side, 1 + the serial number of the last of them passed on, until its
	// reply is known to have come (0 then), for replies of the proxy's
	// that depend on the version (Miss).
	resp3     atomic.Bool
	helloTurn uint64

	raw         atomic.Bool   // framing stopped: bytes pass through unframed
	repliesDone chan struct{} // closed when the replies side ends
}

func newRedisRelay(c *conn) *redisRelay {
	r := new(redisRelay)
	r.init(c, 0)
	r.cmds, r.replies = resp.NewReader(r.client), resp.NewReader(r.server)
	return r
}

func (r *redisRelay) run() {
	r.c.p.wg.Add(1)
	done := make(chan struct{})
	r.repliesDone = done
	go r.answers(done)
	r.commands()
	<-done
}

// commands frames the client's commands and passes them on, or answers
// them, as the request behaviors decide.
func (r *redisRelay) commands() {
	cr := r.cmds
	var abortAt uint64 // if not 0, 1 + the serial of the command being framed, to abort
	unframe := false   // the command being framed ends the framing
	for {
		if cr.AtBoundary() {
			if r.raw.Load() {
				r.commit()
				r.passRaw(cr, r.toServer, r.client, r.server)
				return
			}
			cmd, err := cr.PeekCommand()
			switch {
			case err == resp.ErrShort:
				if !r.more(cr, r.toServer, r.server) {
					return
				}
				continue
			case err != nil:
				r.commandsFallBack(err)
				return
			case cmd.None:
				// Nothing is owed for it.
				cr.StartCommand(cmd)
				continue
			}
			// An MGET decided key by key needs all its keys: read it
			// whole, unless it is too long to wait for.
			var keys [][]byte
			if r.needsKeys(cmd, r.c.plan.Load()) {
				args, whole, err := cr.PeekArgs(nil)
				switch {
				case err != nil:
					r.commandsFallBack(err)
					return
				case !whole && len(cr.Unframed()) < resp.MaxLine:
					if !r.more(cr, r.toServer, r.server) {
						return
					}
					continue
				case whole:
					keys = args
				}
			}
			var ok bool
			if abortAt, unframe, ok = r.admit(cmd, keys); !ok {
				return
			}
			cr.StartCommand(cmd)
		}
		if !cr.AtBoundary() {
			whole, err := cr.Frame()
			if r.dropping {
				cr.Skip()
			}
			if err != nil {
				r.commandsFallBack(err)
				return
			}
			if !whole {
				if !r.more(cr, r.toServer, r.server) {
					return
				}
				continue
			}
		} else if r.dropping {
			cr.Skip() // an inline command, framed whole
		}
		// The command is framed whole.
		r.dropping = false
		if abortAt == 0 && !unframe {
			continue
		}
		if err := r.send(cr, r.toServer); err != nil {
			r.fail(err)
			return
		}
		if abortAt > 0 {
			// The replies owed to the commands before it reach the
			// client first, through the stream layer too: once they
			// are written, the replies side passes on no more replies
			// (the aborted command's is not).
			r.awaitTurn(abortAt - 1)
			r.closeAfterReplies()
			return
		}
		r.passRaw(cr, r.toServer, r.client, r.server)
		return
	}
}

// admit decides what becomes of the command ahead, whose head has been
// read (and args, its arguments, if read): passed on (with an entry in the
// queue), passed on in part (an MGET some of whose keys are missed), or
// answered by the proxy and dropped. It returns 1 + the command's serial
// number if it is to be aborted once passed on, and whether it ends the
// framing; false if the commands side must stop.
func (r *redisRelay) admit(cmd resp.Command, args [][]byte) (abortAt uint64, unframe bool, ok bool) {
	unframe = endsFraming(cmd)
	role := roleOf(cmd.Name)
	fx := r.decideCommand(cmd, args)
	var reply []byte
	if fx.reply != nil {
		reply = fx.reply.(RedisReply).encode()
	} else if role == roleExec && r.spoiled {
		// A command of the transaction was refused by the proxy:
		// the server would refuse EXEC too.
		reply = RedisExecAbort.encode()
	}
	if fx.delayRequest > 0 || reply != nil || fx.miss || fx.missed != nil {
		// Pass on what is framed before the command first.
		if err := r.send(r.cmds, r.toServer); err != nil {
			r.fail(err)
			return 0, false, false
		}
	}
	if fx.delayRequest > 0 && r.c.sleep(fx.delayRequest, nil) == ended {
		return 0, false, false
	}
	switch {
	case fx.miss:
		reply = r.missReply(cmd)
	case fx.missed != nil:
		return 0, false, r.askWithout(fx, args)
	}
	if reply != nil {
		// The command never reaches the server: answer it, then
		// drop it.
		if err := r.answerInstead(reply, role); err != nil {
			r.fail(err)
			return 0, false, false
		}
		r.dropping, unframe = true, false
	} else {
		r.track(role)
		// HELLO's reply, and RESET's, say the RESP version from then on.
		setsVersion := bytes.EqualFold(cmd.Name, []byte("HELLO")) || bytes.EqualFold(cmd.Name, []byte("RESET"))
		switch {
		case fx.any() || unframe || setsVersion:
			o := owed{unframed: unframe}
			if fx.any() {
				o.fx = &fx
			}
			if setsVersion {
				o.note = redisHelloNote
			}
			serial := r.enqueue(o)
			if fx.abort {
				abortAt = serial + 1
			}
			if setsVersion {
				r.helloTurn = serial + 1
			}
		default:
			r.unsent++
		}
	}
	return abortAt, unframe, true
}

// transactionRole says what part a command plays in a transaction.
type transactionRole uint8

const (
	roleNone transactionRole = iota
	roleMulti
	roleExec
	roleDiscard
)

func roleOf(name []byte) transactionRole {
	switch len(name) {
	case len("MULTI"):
		if bytes.EqualFold(name, []byte("MULTI")) {
			return roleMulti
		}
		if bytes.EqualFold(name, []byte("RESET")) {
			return roleDiscard // RESET ends the transaction as DISCARD does
		}
	case len("EXEC"):
		if bytes.EqualFold(name, []byte("EXEC")) {
			return roleExec
		}
	case len("DISCARD"):
		if bytes.EqualFold(name, []byte("DISCARD")) {
			return roleDiscard
		}
	}
	return roleNone
}

// track follows the client's transaction through a command passed on.
func (r *redisRelay) track(role transactionRole) {
	switch role {
	case roleMulti:
		r.inMulti, r.spoiled = true, false
	case roleExec, roleDiscard:
		r.inMulti, r.spoiled = false, false
	}
}

// redisDiscard is DISCARD, as a client sends it.
var redisDiscard = []byte("*1\r\n$7\r\nDISCARD\r\n")

// answerInstead answers a command that does not reach the server with
// reply. Inside a transaction, the server must end up where the client
// believes it is, as if it had refused the command itself: a refused
// command spoils the transaction (its EXEC is refused with EXECABORT),
// and a refused EXEC or DISCARD ends it, so the proxy sends DISCARD in
// their place and drops the server's answer to it.
func (r *redisRelay) answerInstead(reply []byte, role transactionRole) error {
	if !r.inMulti {
		return r.answer(reply)
	}
	if role != roleExec && role != roleDiscard {
		r.spoiled = true
		return r.answer(reply)
	}
	r.inMulti, r.spoiled = false, false
	r.enqueue(owed{reply: reply, replace: true})
	_, err := r.toServer.Write(redisDiscard)
	return err
}

// endsFraming reports whether cmd makes the server send what pairs with no
// command: messages after SUBSCRIBE, PSUBSCRIBE or SSUBSCRIBE (and a reply
// per channel to them and to their UNSUBSCRIBE counterparts), MONITOR's
// feed, nothing after CLIENT REPLY OFF or SKIP, the replication stream
// after SYNC or PSYNC.
func endsFraming(cmd resp.Command) bool {
	name := cmd.Name
	if len(name) > len("PUNSUBSCRIBE") {
		return false
	}
	var upper [len("PUNSUBSCRIBE")]byte
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper[i] = c
	}
	switch string(upper[:len(name)]) {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
		"MONITOR", "SYNC", "PSYNC":
		return true
	case "CLIENT":
		return bytes.EqualFold(cmd.Key, []byte("REPLY"))
	}
	return false
}

// decideCommand decides what becomes of a command, whose arguments are
// args if they were read. Reads inside a transaction are not missed: their
// replies come in EXEC's.
func (r *redisRelay) decideCommand(cmd resp.Command, args [][]byte) effects {
	plan := r.c.plan.Load()
	if len(plan.requests) == 0 {
		r.c.p.stats.requests.Add(1)
		return noEffects()
	}
	if !r.inMulti && redisRead(cmd.Name, cmd.Args) != 0 {
		var keys [][]byte
		if len(args) > 2 {
			keys = args[1:]
		}
		return r.decideRead(plan, cmd, keys)
	}
	req := &redisRequest{command: string(bytes.ToUpper(cmd.Name)), key: string(cmd.Key), hasKey: cmd.Key != nil}
	return r.c.decide(plan, req, isCommandRule)
}

// more passes on what is framed from the side read by rr and reads more. It
// reports whether the side goes on; if not, it has ended its direction.
func (r *redisRelay) more(rr *resp.Reader, w meter, dst net.Conn) bool {
	if err := r.send(rr, w); err != nil {
		r.fail(err)
		return false
	}
	src := r.client
	if dst == r.client {
		src = r.server
	}
	for {
		err := rr.Fill()
		switch {
		case err == nil:
			return true
		case err == io.EOF:
			// A value cut short passes on as it came, unless it is a
			// command the proxy answered.
			if tail := rr.Unframed(); len(tail) > 0 && !(rr == r.cmds && r.dropping) {
				rr.Drop()
				if _, err := w.Write(tail); err != nil {
					r.fail(err)
					return false
				}
			}
			closeWrite(dst)
		case r.woken(err) && r.raw.Load():
			r.passRaw(rr, w, src, dst)
		case r.woken(err):
			// The commands side queued a reply of the proxy's.
			if !r.rearm(src) {
				return false
			}
			if rr == r.replies {
				if err := r.deliver(); err != nil {
					r.fail(err)
					return false
				}
			}
			continue
		default:
			r.fail(err)
		}
		return false
	}
}

// send writes the framed bytes of rr to w; on the commands side, the
// entries of the commands among them go to the queue first.
func (r *redisRelay) send(rr *resp.Reader, w meter) error {
	if rr == r.cmds {
		r.commit()
	}
	if b := rr.Take(); len(b) > 0 {
		_, err := w.Write(b)
		return err
	}
	return nil
}

// commit pushes the entries of the plain commands framed so far.
func (r *redisRelay) commit() {
	if r.unsent > 0 {
		r.queue.pushRun(r.unsent, "")
		r.unsent = 0
	}
}

// enqueue pushes the entries of the plain commands framed so far, then o,
// and returns o's serial number.
func (r *redisRelay) enqueue(o owed) uint64 {
	s, _ := r.queue.push(r.unsent, o, r.repliesDone, r.c.done)
	r.unsent = 0
	return s
}

// answer queues the proxy's own reply for the replies side to write once
// every reply owed before it has been written, and wakes that side in
// case it waits for the server. The commands side never writes to the
// client: a client that writes a long pipeline before it reads would
// stop it, and with it the commands a plain proxy would still pass on.
func (r *redisRelay) answer(reply []byte) error {
	if _, ok := r.queue.push(r.unsent, owed{reply: reply}, r.repliesDone, r.c.done); !ok {
		// The replies pass through unframed, and a reply of the
		// proxy's could not be placed among them; or the connection
		// ended while the client read none of the replies owed.
		r.c.end(endClose)
		return errEnded
	}
	r.unsent = 0
	// After the push: a replies side that clears this wake-up sees it.
	r.server.SetReadDeadline(time.Unix(1, 0))
	return nil
}

// awaitTurn waits until every reply owed before the command with serial
// number s has been written, or none will be (a dropped reply is in the
// way), or the replies side or the connection ends.
func (r *redisRelay) awaitTurn(s uint64) {
	r.queue.awaitTurn(s, r.repliesDone, r.c.done)
}

// answers frames the server's replies and passes each to the client as its
// command's entry says; it closes done when it ends.
func (r *redisRelay) answers(done chan<- struct{}) {
	defer r.c.p.wg.Done()
	defer close(done)
	rr := r.replies
	push := false // the value being framed is a push, owed to no command
	for {
		if next := rr.Unframed(); rr.AtBoundary() && len(next) > 0 {
			push = next[0] == '>'
			if !push {
				o, ok, err := r.claim(next[0])
				switch {
				case err != nil:
					r.fail(err)
					return
				case !ok:
					r.repliesFallBack(errors.New("a reply to no command"))
					return
				case o.unframed:
					r.passRaw(rr, r.toClient, r.server, r.client)
					return
				case !o.plain():
					if !r.special(o) {
						return
					}
					continue
				}
			}
		}
		whole, err := rr.Frame()
		switch {
		case err != nil:
			r.repliesFallBack(err)
			return
		case whole:
			if !push {
				r.finished++
			}
			continue
		}
		// All that was read is framed: pass it on, read more.
		if err := r.deliver(); err != nil {
			r.fail(err)
			return
		}
		if !r.more(rr, r.toClient, r.client) {
			return
		}
	}
}

// claim takes the entry owed the reply that starts at the unframed bytes,
// whose first byte is first, and reports false if no command is owed one.
// Before an entry whose reply is not plain, it delivers the replies framed
// so far. The reply to HELLO says the RESP version.
func (r *redisRelay) claim(first byte) (owed, bool, error) {
	if r.plainAhead > 0 {
		r.plainAhead--
		r.claimed++
		return owed{}, true, nil
	}
	for {
		o, n, ok := r.queue.at(r.claimed)
		switch {
		case !ok:
			return owed{}, false, nil
		case o.note == redisHelloNote:
			r.learnProtocol(first)
			if o.fx == nil {
				r.claimed++
				return owed{}, true, nil
			}
		case o.plain():
			r.plainAhead = n - 1
			r.claimed++
			return owed{}, true, nil
		case o.proxyAnswer():
			// A reply of the proxy's is next: the server's replies
			// before it go out first, then it.
			if err := r.deliver(); err != nil {
				return owed{}, false, err
			}
			continue
		}
		r.claimed++
		return o, true, r.deliver()
	}
}

// deliver writes the framed replies to the client, forgets the entries
// whose replies are written whole, and writes the proxy's replies that
// were waiting behind them.
func (r *redisRelay) deliver() error {
	if b := r.replies.Take(); len(b) > 0 {
		if _, err := r.toClient.Write(b); err != nil {
			return err
		}
	}
	n := r.finished
	r.claimed -= n
	r.finished = 0
	_, err := r.writeReady(&r.queue, n, r.claimed)
	return err
}

// special passes on one reply that request behaviors act on, the replies
// before it delivered. It reports whether the replies side goes on.
func (r *redisRelay) special(o owed) bool {
	rr := r.replies
	if o.replace {
		return r.replaceReply(o.reply)
	}
	fx := *o.fx
	if fx.drop {
		rr.Drop() // what is read of it, then the rest (holdReply)
	}
	if !r.holdReply(&fx, r.server) {
		return false
	}
	w := io.Writer(r.toClient)
	shaped := r.shapedFor(&fx)
	if shaped != nil {
		w = shaped
	}
	var passed bool
	if fx.missed != nil {
		passed = r.mergeMissed(fx.missed, w, shaped)
	} else {
		passed = r.copyValue(w, shaped)
	}
	if passed {
		r.finished++
	}
	return passed
}

// copyValue frames the server's next value and writes it to w, through
// shaped if it is not nil, reading more as needed. It reports whether the
// relay goes on.
func (r *redisRelay) copyValue(w io.Writer, shaped *shapedWriter) bool {
	rr := r.replies
	for {
		whole, err := rr.Frame()
		if err == nil {
			_, err = w.Write(rr.Take())
		}
		switch {
		case errors.Is(err, resp.ErrMalformed):
			r.repliesFallBack(err)
			return false
		case err != nil:
			return r.writeFailed(err, shaped)
		case whole:
			return true
		}
		if !r.more(rr, r.toClient, r.client) {
			return false
		}
	}
}

// writeFailed ends the connection after a failed write to the client:
// closed if shaped cut the reply (TruncateResponse), once what it let
// through has reached the client, reset otherwise. It returns false.
func (r *redisRelay) writeFailed(err error, shaped *shapedWriter) bool {
	if shaped != nil && shaped.cut {
		r.closeAfterReplies()
	} else {
		r.fail(err)
	}
	return false
}

// replaceReply drops the server's reply and writes reply in its place.
func (r *redisRelay) replaceReply(reply []byte) bool {
	rr := r.replies
	for {
		whole, err := rr.Frame()
		rr.Skip()
		switch {
		case err != nil:
			r.repliesFallBack(err)
			return false
		case whole:
			if _, err := r.toClient.Write(reply); err != nil {
				r.fail(err)
				return false
			}
			r.finished++
			return true
		}
		if !r.more(rr, r.toClient, r.client) {
			return false
		}
	}
}

// commandsFallBack stops framing the client's bytes, which are not RESP:
// they pass through unframed from the first byte that could not be
// framed, and so do the replies from the first one owed to them.
func (r *redisRelay) commandsFallBack(err error) {
	r.c.p.log.Warn("faults: Redis framing stopped; passing bytes through", "conn", r.c.id, "side", "client", "err", err)
	r.enqueue(owed{unframed: true})
	r.passRaw(r.cmds, r.toServer, r.client, r.server)
}

// repliesFallBack stops framing the server's bytes, which are not RESP or
// answer no command: they pass through unframed from there, and so does
// the client's side from its next command. If a reply of the proxy's or a
// behavior on a reply is still to come, the client's view could not be
// kept true, and the connection closes instead.
func (r *redisRelay) repliesFallBack(err error) {
	if r.unframeReplies("Redis", err, &r.raw, &r.queue, r.claimed) {
		r.passRaw(r.replies, r.toClient, r.server, r.client)
	}
}

// passRaw writes what rr holds to w, then copies src to it until EOF and
// half-closes dst.
func (r *redisRelay) passRaw(rr *resp.Reader, w meter, src, dst net.Conn) {
	if r.c.isEnding() {
		return
	}
	if b := rr.Pending(); len(b) > 0 {
		rr.Drop()
		if _, err := w.Write(b); err != nil {
			r.fail(err)
			return
		}
	}
	r.copyRaw(w, src, src, dst)
}
