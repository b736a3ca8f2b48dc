package faults

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/gofaults/faults/internal/wire/mysqlwire"
)

// mysqlRelay forwards one MySQL connection. The client's side is framed
// by packet: a packet with sequence id 0 starts a command, which the
// request behaviors decide on; every other packet (the handshake, auth
// exchanges, LOAD DATA LOCAL INFILE contents, the rest of a long message)
// passes through. The server's side is copied as it arrives: since a
// client waits for each answer before its next command, the first bytes
// from the server after a command are its answer, and what that answer
// must undergo is handed over before the command goes out.
type mysqlRelay struct {
	sides

	// The proxy's own answers, for the answers side to write, one at a
	// time: the commands side never writes to the client.
	ownAnswers  chan ownAnswer
	answersDone chan struct{} // closed when the answers side ends

	owed    atomic.Pointer[mysqlOwed] // what the next answer must undergo
	inTrans atomic.Bool               // the last answer followed said a transaction is open

	mu       sync.Mutex
	prepared map[uint32]string  // statement texts by id
	greeting mysqlwire.Greeting // as the client saw it
	session  mysqlwire.Session  // what client and server agreed on, after the login
}

// mysqlOwed is what becomes of the server's next answer.
type mysqlOwed struct {
	fx      effects
	cmd     mysqlwire.Command // the command answered
	follow  bool              // follow the answer packet by packet, to learn the transaction state
	prepare string            // the text of a COM_STMT_PREPARE, to learn its statement id
	replace []byte            // the proxy's answer, written in place of the server's, which is dropped
}

func newMySQLRelay(c *conn) *mysqlRelay {
	r := &mysqlRelay{prepared: make(map[uint32]string), ownAnswers: make(chan ownAnswer, 1)}
	r.init(c, 64<<10)
	return r
}

func (r *mysqlRelay) run() {
	greeting, login := r.handshakeFaults()
	r.c.p.wg.Add(1)
	done := make(chan struct{})
	r.answersDone = done
	go r.answers(done, greeting)
	r.commands(login)
	<-done
}

// handshakeFaults decides, once per connection, the errors that act during
// the handshake: one in place of the greeting, one in answer to the login.
func (r *mysqlRelay) handshakeFaults() (greeting, login *MySQLReply) {
	plan := r.c.plan.Load()
	fx := r.c.decideUncounted(plan, mysqlHandshake{}, isHandshakeError)
	if reply, ok := fx.reply.(MySQLReply); ok {
		if reply.moment() == momentLogin {
			return nil, &reply
		}
		return &reply, nil
	}
	return nil, nil
}

// isHandshakeError reports whether r answers at the handshake rather than
// to a statement: in place of the greeting or in answer to the login.
func isHandshakeError(r *rule) bool { return r.moment() != momentRequest }

func isStatementRule(r *rule) bool { return r.moment() == momentRequest }

// commands frames the client's packets and passes them on, or answers
// commands, as the request behaviors decide.
func (r *mysqlRelay) commands(login *MySQLReply) {
	first := true
	prevSeq, prevLen := byte(0), 0
	for {
		p, err := mysqlwire.PeekHeader(r.fromClient)
		length, seq := p.Length, p.Seq
		if err != nil {
			if err == io.EOF {
				closeWrite(r.server)
			} else {
				r.fail(err)
			}
			return
		}
		// Sequence id 0 right after a non-empty packet with 255 is not a
		// command: the exchange goes on past 255, as the contents of a
		// LOAD DATA LOCAL INFILE do (sent in packets of 16 KiB by
		// go-sql-driver, so past 4 MiB). Such contents end with an empty
		// packet, and a command is one packet with 0, so no exchange
		// ends with a non-empty client packet with 255.
		wrapped := seq == 0 && prevSeq == 255 && prevLen > 0
		prevSeq, prevLen = seq, length
		switch {
		case first && login != nil:
			// Answer the login in place of the server; the answers side
			// closes the connection after it.
			r.answer(login.encode(seq+1), true)
			return
		case first || seq != 0 || wrapped:
			if first {
				r.learnSession(length)
			}
			first = false
			if err := r.copyPacket(r.toServer, length); err != nil {
				r.fail(err)
				return
			}
			continue
		}
		if err := r.command(length); err != nil {
			r.fail(err)
			return
		}
	}
}

// maxStatement is the longest command the proxy reads whole to decide on
// its text: the largest max_allowed_packet a server accepts.
const maxStatement = 1 << 30

// command decides on one command and passes it on or answers it.
func (r *mysqlRelay) command(length int) error {
	if length == 0 {
		// No command byte: not a command the proxy can decide on; the
		// server answers it as it does.
		return r.copyPacket(r.toServer, length)
	}
	peek := min(4+length, r.fromClient.Size())
	pkt, err := r.fromClient.Peek(peek)
	if err != nil && len(pkt) < 5 {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	payload := pkt[4:]
	cmd := mysqlwire.Command(payload[0])
	owed := mysqlOwed{fx: noEffects(), cmd: cmd}
	switch cmd {
	case mysqlwire.ComQuit, mysqlwire.ComStmtClose, mysqlwire.ComStmtSendLongData:
		// No answer comes: nothing to fault.
		if id, ok := mysqlwire.StmtID(payload); ok && cmd == mysqlwire.ComStmtClose {
			r.mu.Lock()
			delete(r.prepared, id)
			r.mu.Unlock()
		}
		r.c.p.stats.requests.Add(1)
		return r.copyPacket(r.toServer, length)
	case mysqlwire.ComChangeUser:
		r.c.p.stats.requests.Add(1)
		return r.copyPacket(r.toServer, length)
	}
	plan := r.c.plan.Load()
	// A command longer than the buffer, or than one packet, is read whole
	// when a rule may look at its text: Query matches the whole statement.
	var whole []byte
	var last mysqlwire.Header // whole's last packet
	if len(plan.requests) > 0 && (4+length > len(pkt) || length == mysqlwire.MaxPayload) {
		h, err := mysqlwire.ReadHeader(r.fromClient)
		if err != nil {
			return err
		}
		if whole, last, err = mysqlwire.ReadMessage(nil, r.fromClient, h, maxStatement); err != nil {
			return err
		}
		payload = mysqlwire.MessagePayload(whole)
	}
	if cmd == mysqlwire.ComStmtPrepare {
		// Query matches the executions of a prepared statement, not its
		// preparation (see Query): the text only names the request.
		owed.prepare = string(payload[1:])
	}
	if len(plan.requests) == 0 {
		r.c.p.stats.requests.Add(1) // nothing to decide: build no request
	} else {
		req := &mysqlRequest{command: cmd.String(), prepare: owed.prepare, inTrans: r.inTrans.Load()}
		switch cmd {
		case mysqlwire.ComQuery:
			req.query = string(payload[1:])
		case mysqlwire.ComStmtExecute:
			if id, ok := mysqlwire.StmtID(payload); ok {
				r.mu.Lock()
				req.query = r.prepared[id]
				r.mu.Unlock()
			}
		}
		owed.fx = r.c.decide(plan, req, isStatementRule)
	}
	fx := owed.fx
	if fx.delayRequest > 0 && r.c.sleep(fx.delayRequest, nil) == ended {
		return errEnded
	}
	if reply, ok := fx.reply.(MySQLReply); ok {
		return r.answerStatement(reply, whole, last)
	}
	owed.follow = plan.tracksTransactions()
	if fx.any() || owed.prepare != "" || owed.follow {
		r.owed.Store(&owed)
	}
	if whole != nil {
		_, err = r.toServer.Write(whole)
	} else {
		err = r.copyPacket(r.toServer, length)
	}
	if err != nil {
		return err
	}
	if fx.abort {
		r.c.end(endClose)
		return errEnded
	}
	return nil
}

// mysqlRollback is ROLLBACK, as a client sends it.
var mysqlRollback = mysqlwire.AppendPacket(nil, 0, append([]byte{byte(mysqlwire.ComQuery)}, "ROLLBACK"...))

// answerStatement answers the command ahead with reply instead of the
// server, and leaves the server as the real error would (see
// MySQLReply.undoes): the command is dropped whole, however many packets
// it spans (whole holds them, and last the last one's header, if they
// were read already), and the ERR packet's sequence id follows the last
// of them. An error that rolls back
// the transaction sends ROLLBACK in the command's place, whose answer the
// answers side swallows; one that ends the session ends the connection
// once the ERR is written, and the server rolls back what was open.
func (r *mysqlRelay) answerStatement(reply MySQLReply, whole []byte, last mysqlwire.Header) error {
	if whole == nil {
		h, err := mysqlwire.ReadHeader(r.fromClient)
		if err != nil {
			return err
		}
		if last, _, err = mysqlwire.CopyMessage(io.Discard, r.fromClient, h, maxStatement); err != nil {
			return err
		}
	}
	errPacket := reply.encode(last.Seq + 1)
	switch reply.undoes() {
	case undoesTransaction:
		r.owed.Store(&mysqlOwed{fx: noEffects(), cmd: mysqlwire.ComQuery, replace: errPacket})
		_, err := r.toServer.Write(mysqlRollback)
		return err
	case undoesSession:
		r.answer(errPacket, true)
		return errEnded
	}
	return r.answer(errPacket, false)
}

// copyPacket copies the next packet, header and payload of length bytes,
// from the client to w.
func (r *mysqlRelay) copyPacket(w io.Writer, length int) error {
	if n := 4 + length; n <= r.fromClient.Buffered() {
		// The whole packet is buffered: one write, no copy buffer.
		b, _ := r.fromClient.Peek(n)
		_, err := w.Write(b)
		r.fromClient.Discard(n)
		return err
	}
	_, err := io.CopyN(w, r.fromClient, int64(4+length))
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// ownAnswer is an answer of the proxy's own, and whether the connection
// closes after it.
type ownAnswer struct {
	packet []byte
	closes bool
}

// answer hands an answer of the proxy's own to the answers side, waiting
// while one is still unwritten (a client waits for each answer before its
// next command, so only a client that does not is held back), and wakes it.
func (r *mysqlRelay) answer(packet []byte, closes bool) error {
	select {
	case r.ownAnswers <- ownAnswer{packet, closes}:
	case <-r.answersDone:
		return errEnded
	case <-r.c.done:
		return errEnded
	}
	r.wakeParked()
	return nil
}

// writeOwnAnswer writes the answer of the proxy's own that waits, if one
// does, and reports whether the relay goes on.
func (r *mysqlRelay) writeOwnAnswer() bool {
	select {
	case a := <-r.ownAnswers:
		if !r.writeOwn(a.packet) {
			return false
		}
		if a.closes {
			// The ERR reaches the client before the close.
			r.closeAfterReplies()
			return false
		}
	default:
	}
	return true
}

// writeOwn writes a packet of the proxy's own to the client, and reports
// whether the relay goes on.
func (r *mysqlRelay) writeOwn(packet []byte) bool {
	if _, err := r.toClient.Write(packet); err != nil {
		r.fail(err)
		return false
	}
	return true
}

// answers copies the server's bytes to the client, applying to each
// answer what the command it answers was owed; it closes done when it ends.
func (r *mysqlRelay) answers(done chan<- struct{}, greeting *MySQLReply) {
	defer r.c.p.wg.Done()
	defer close(done)
	if !r.greet(greeting) {
		return
	}
	var shaped *shapedWriter
	for {
		// Parked between answers, where an answer of the proxy's goes
		// out: the client sent a command the proxy answered, and waits.
		r.park()
		if !r.writeOwnAnswer() {
			return
		}
		_, err := r.fromServer.Peek(1)
		r.unpark()
		if err != nil {
			switch {
			case r.woken(err):
				continue
			case err == io.EOF:
				closeWrite(r.client)
			default:
				r.fail(err)
			}
			return
		}
		if owed := r.owed.Swap(nil); owed != nil && owed.replace != nil {
			// The server's answer to the proxy's own statement goes
			// nowhere; the proxy's answer takes its place.
			if !r.follow(owed, -1, io.Discard) || !r.writeOwn(owed.replace) {
				return
			}
			continue
		} else if owed != nil {
			// The answer's first bytes are buffered.
			first, _ := r.fromServer.Peek(r.fromServer.Buffered())
			r.learnStatement(owed, first)
			fx := owed.fx
			if !r.holdReply(&fx, r.fromServer) {
				return
			}
			if fx.rows >= 0 || owed.follow {
				if !r.follow(owed, fx.rows, r.toClient) {
					return
				}
				continue
			}
			shaped = r.shapedFor(&fx)
		}
		chunk, _ := r.fromServer.Next() // the buffered bytes: no error
		if err := r.writeAnswer(chunk, shaped); err != nil {
			if shaped != nil && shaped.cut {
				// What TruncateResponse let through reaches the
				// client first.
				r.closeAfterReplies()
				return
			}
			r.fail(err)
			return
		}
	}
}

func (r *mysqlRelay) writeAnswer(b []byte, shaped *shapedWriter) error {
	var err error
	if shaped != nil {
		_, err = shaped.Write(b)
	} else {
		_, err = r.toClient.Write(b)
	}
	return err
}

// learnSession records the capabilities client and server agreed on, from
// the client's login packet (length bytes of payload), which is next in
// fromClient.
func (r *mysqlRelay) learnSession(length int) {
	b, err := r.fromClient.Peek(min(4+length, r.fromClient.Size()))
	if err != nil || len(b) < 4 {
		return
	}
	h, err := mysqlwire.ParseClientHello(b[4:])
	if err != nil {
		return
	}
	r.mu.Lock()
	r.session = mysqlwire.Negotiate(r.greeting, h)
	r.mu.Unlock()
}

// follow passes on an answer packet by packet, following it: it notes
// whether the answer leaves a transaction open and, if n >= 0, passes on n
// rows and closes the connection at the next. It passes the answer to w.
// It reports whether the relay goes on.
func (r *mysqlRelay) follow(owed *mysqlOwed, n int64, w io.Writer) bool {
	r.mu.Lock()
	session := r.session
	r.mu.Unlock()
	f := mysqlwire.NewFollower(owed.cmd.Response(), session)
	br := r.fromServer
	var rows int64
	for !f.Done() {
		if f.Err() != nil {
			// Not a response this follower knows: pass the rest raw.
			r.c.p.log.Warn("faults: MySQL answer not followed; it passes whole", "conn", r.c.id, "err", f.Err())
			return true
		}
		p, err := mysqlwire.ReadHeader(br)
		if err != nil {
			r.fail(err)
			return false
		}
		head, err := mysqlwire.PeekPayload(br, p, mysqlwire.HeadLen)
		if err != nil {
			r.fail(err)
			return false
		}
		wasRows := f.State() == mysqlwire.StateRows && !f.Continued()
		f.Server(head, p.Length)
		if wasRows && f.State() == mysqlwire.StateRows && n >= 0 {
			if rows == n {
				// A clean close, not a reset: a reset could discard rows
				// the client has not read yet. The rows reach the client
				// first, through the stream layer too.
				r.closeAfterReplies()
				return false
			}
			rows++
		}
		hdr := p.Bytes()
		_, err = w.Write(hdr[:])
		if err == nil {
			_, err = mysqlwire.CopyPayload(w, br, p)
		}
		if err != nil {
			r.fail(err)
			return false
		}
	}
	if f.Status() != 0 {
		// An answer that ended in OK or EOF tells; an ERR leaves the
		// transaction as it was.
		r.inTrans.Store(f.Status()&mysqlwire.ServerStatusInTrans != 0)
	}
	return true
}

// learnStatement records the id the server gave a prepared statement, from
// the first bytes of its answer: a COM_STMT_PREPARE_OK packet.
func (r *mysqlRelay) learnStatement(owed *mysqlOwed, answer []byte) {
	if owed.prepare == "" || len(answer) < mysqlwire.HeaderLen {
		return
	}
	ok, valid := mysqlwire.ParsePrepareOK(answer[mysqlwire.HeaderLen:])
	if !valid {
		return
	}
	r.mu.Lock()
	r.prepared[ok.StmtID] = owed.prepare
	r.mu.Unlock()
}

// greet passes the server's greeting on without the TLS and compression
// capabilities, or answers in its place with greeting, if not nil. It
// reports whether the relay goes on.
func (r *mysqlRelay) greet(greeting *MySQLReply) bool {
	p, err := mysqlwire.PeekHeader(r.fromServer)
	length := p.Length
	if err != nil {
		if err == io.EOF {
			closeWrite(r.client)
		} else {
			r.fail(err)
		}
		return false
	}
	if greeting != nil {
		// A server refusing before the handshake does not know yet
		// whether the client speaks protocol 4.1: no SQLSTATE.
		if _, err := r.toClient.Write(greeting.encodeWithoutSQLState(0)); err == nil {
			r.closeAfterReplies()
		}
		return false
	}
	pkt, err := r.fromServer.Peek(min(4+length, r.fromServer.Size()))
	if err != nil && len(pkt) < 4+length {
		r.fail(err)
		return false
	}
	pkt = append([]byte(nil), pkt...)
	// A greeting that cannot be read (an ERR, an old protocol) passes as
	// it is.
	if mysqlwire.ClearCapabilities(pkt[4:], mysqlwire.Unfollowed, 0) == nil {
		g, _ := mysqlwire.ParseGreeting(pkt[4:])
		r.mu.Lock()
		r.greeting = g
		r.mu.Unlock()
	}
	r.fromServer.Discard(len(pkt))
	if _, err := r.toClient.Write(pkt); err != nil {
		r.fail(err)
		return false
	}
	return true
}
