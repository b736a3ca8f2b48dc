package faults

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofaults/faults/internal/wire/pgwire"
)

// postgresRelay forwards one PostgreSQL connection, framing both
// directions message by message.
//
// Every client message that the server answers is owed its answer: an
// entry in the shared queue (owedQueue), whose note says what answers it
// (see the pg* notes). The replies side frames the server's messages,
// pairs them with the entries in order, applies the effects of a
// statement's entry to its answer, and alone writes to the client, in
// batches: what it framed goes out when it has nothing more buffered.
// After an ErrorResponse in the extended protocol the server skips the
// client's messages until Sync, and so do the entries. Messages the server
// sends unasked pass through without taking an entry.
type postgresRelay struct {
	sides
	queue    owedQueue
	respDone chan struct{}
	raw      atomic.Bool // framing stopped: bytes pass through raw
	inTrans  atomic.Bool // the server's last ReadyForQuery said a transaction is open
	altered  atomic.Bool // the proxy answered or replaced a statement: falling back is unsafe

	// Cancels (see pgcancel.go): held counts the statements the proxy
	// holds, which a CancelRequest wakes through cancels; dropsOwed the
	// statements sent whose answer DropResponse will drop, once it begins
	// (then the statement counts in held).
	held      atomic.Int32
	dropsOwed atomic.Int32
	cancels   chan struct{}
	forgetKey func() // unregisters the session's key; set by the replies side

	// The requests side's: statement texts by name, portals' statements
	// by name, and what it framed but has not written.
	statements  map[string]string
	portals     map[string]string
	toServerBuf []byte

	// The replies side's.
	toClientBuf []byte
	begun       bool          // the front entry's answer has begun
	rows        int64         // DataRows of the front entry's answer passed on
	canceling   bool          // the front entry's answer is dropped for a cancel's error
	dropping    bool          // DropResponse: every answer is dropped, until a cancel
	aborting    bool          // Abort: every answer is dropped, and the connection closes at the next ReadyForQuery
	lastStatus  byte          // the status of the last ReadyForQuery
	skipToSync  bool          // the answers before the next Sync's are dropped (after a cancel)
	shaped      *shapedWriter // the front entry's answer is truncated or paced
}

// The notes of the entries: what answers each client message.
const (
	pgParse    = "parse"    // ParseComplete
	pgBind     = "bind"     // BindComplete
	pgDescr    = "describe" // ParameterDescription, then RowDescription or NoData
	pgClose    = "close"    // CloseComplete
	pgExecute  = "execute"  // DataRows, copy messages, then CommandComplete, EmptyQueryResponse or PortalSuspended
	pgSync     = "sync"     // ReadyForQuery
	pgQuery    = "query"    // everything up to ReadyForQuery (a simple Query, a FunctionCall)
	pgSwallow  = "swallow"  // ParseComplete or BindComplete of the proxy's own statement: dropped
	pgCommit   = "commit"   // a failing COMMIT's raise: its ReadyForQuery is dropped (a ROLLBACK follows)
	pgRollback = "rollback" // the proxy's ROLLBACK after it: only its ReadyForQuery passes
)

// postgresEndsTransaction reports whether a simple Query is COMMIT (or
// END, its alias), whose failure ends the transaction.
func postgresEndsTransaction(sql []byte) bool {
	word := strings.ToUpper(strings.TrimRight(strings.TrimSpace(string(sql)), "; \t\r\n"))
	return word == "COMMIT" || word == "END" || strings.HasPrefix(word, "COMMIT ") || strings.HasPrefix(word, "END ")
}

func newPostgresRelay(c *conn) *postgresRelay {
	r := &postgresRelay{statements: make(map[string]string), portals: make(map[string]string), cancels: make(chan struct{}, 1)}
	r.init(c, 64<<10)
	return r
}

func (r *postgresRelay) run() {
	if !r.startup() {
		return
	}
	r.c.p.wg.Add(1)
	done := make(chan struct{})
	r.respDone = done
	go r.replies(done)
	r.requests()
	<-done
	if r.forgetKey != nil {
		r.forgetKey()
	}
}

// startup handles the client's first packets: it refuses encryption,
// answers a startup error the behaviors decide, and forwards the
// StartupMessage. It reports whether the connection goes on framed; if
// not, it has served the connection (raw or ended).
func (r *postgresRelay) startup() bool {
	for {
		s, err := pgwire.PeekStartup(r.fromClient)
		switch {
		case err == io.EOF:
			closeWrite(r.server)
			r.passRawBoth()
			return false
		case err != nil && (errors.Is(err, pgwire.ErrMalformed) || errors.Is(err, bufio.ErrBufferFull)):
			r.c.p.log.Warn("faults: PostgreSQL framing stopped; passing bytes through", "conn", r.c.id, "err", err)
			r.passRawBoth()
			return false
		case err != nil:
			r.fail(err)
			return false
		}
		switch s.Kind {
		case pgwire.SSLRequest, pgwire.GSSENCRequest:
			// The proxy cannot frame encrypted bytes: it refuses, and the
			// client may go on in clear on this connection.
			r.fromClient.Discard(s.Length)
			if _, err := r.toClient.Write(pgwire.AppendSSLRefusal(nil)); err != nil {
				r.fail(err)
				return false
			}
			continue
		case pgwire.StartupMessage:
		case pgwire.CancelRequest:
			if r.c.p.cancelHeld(s) {
				// Answered on the statement's connection; the server
				// answers a CancelRequest with nothing, and closes.
				r.fromClient.Discard(s.Length)
				r.c.end(endClose)
				return false
			}
			r.passRawBoth()
			return false
		default:
			// A CancelRequest, direct TLS, another protocol version:
			// passed through as it is.
			r.passRawBoth()
			return false
		}
		plan := r.c.plan.Load()
		fx := r.c.decideUncounted(plan, &postgresRequest{kind: "startup"}, isHandshakeError)
		if reply, ok := fx.reply.(PostgresReply); ok {
			user, _ := s.Param("user")
			r.fromClient.Discard(s.Length)
			if _, err := r.toClient.Write(reply.forUser(user).encode()); err == nil {
				// The replies side has not started: this side alone
				// writes to the client, and the error reaches it
				// before the close.
				r.closeAfterReplies()
			}
			return false
		}
		pkt, err := r.fromClient.Peek(s.Length)
		if err == nil {
			_, err = r.toServer.Write(pkt)
			r.fromClient.Discard(len(pkt))
		}
		if err != nil {
			r.fail(err)
			return false
		}
		return true
	}
}

// passRawBoth passes both directions through unframed, from what is
// buffered on, until each ends.
func (r *postgresRelay) passRawBoth() {
	r.c.p.wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer r.c.p.wg.Done()
		defer close(done)
		r.copyRaw(r.toClient, r.fromServer, r.server, r.client)
	}()
	r.copyRaw(r.toServer, r.fromClient, r.client, r.server)
	<-done
}

// requests frames the client's messages and passes them on, or answers
// or replaces statements, as the request behaviors decide.
func (r *postgresRelay) requests() {
	for {
		if r.raw.Load() {
			r.flushServer()
			r.copyRaw(r.toServer, r.fromClient, r.client, r.server)
			return
		}
		if r.fromClient.Buffered() < pgwire.HeaderLen {
			if err := r.flushServer(); err != nil {
				r.fail(err)
				return
			}
		}
		h, err := pgwire.PeekHeader(r.fromClient)
		switch {
		case err == io.EOF:
			closeWrite(r.server)
			return
		case errors.Is(err, pgwire.ErrMalformed):
			r.fallBack("client", err)
			continue
		case err != nil:
			if r.raw.Load() {
				continue
			}
			r.fail(err)
			return
		}
		if !pgwire.IsFrontendType(h.Type) {
			r.fallBack("client", errors.New("unknown message type"))
			continue
		}
		if !r.request(h) {
			return
		}
	}
}

// request handles one client message, whose header is h. It reports
// whether the requests side goes on.
func (r *postgresRelay) request(h pgwire.Header) bool {
	note := ""
	switch h.Type {
	case pgwire.TypeQuery, pgwire.TypeExecute:
		return r.statement(h)
	case pgwire.TypeFunctionCall:
		note = pgQuery
	case pgwire.TypeParse, pgwire.TypeBind, pgwire.TypeClose:
		msg, ok := r.message(h)
		if !ok {
			return false
		}
		r.push(r.learn(h.Type, msg[pgwire.HeaderLen:]), nil)
		return r.forward(msg)
	case pgwire.TypeDescribe:
		note = pgDescr
	case pgwire.TypeSync:
		note = pgSync
	}
	if note != "" {
		r.push(note, nil)
	}
	return r.pass(h)
}

// learn follows the statements and portals the client names, from the
// payload of a Parse, a Bind or a Close: a Close forgets what it closes,
// so that a client preparing statement after statement (and closing them)
// holds the proxy's memory steady. It returns the note of the message's
// entry.
func (r *postgresRelay) learn(t byte, payload []byte) string {
	switch t {
	case pgwire.TypeParse:
		if p, err := pgwire.ParseParse(payload); err == nil {
			r.statements[string(p.Name)] = string(p.Query)
		}
		return pgParse
	case pgwire.TypeBind:
		if b, err := pgwire.ParseBind(payload); err == nil {
			r.portals[string(b.Portal)] = r.statements[string(b.Statement)]
		}
		return pgBind
	}
	if c, err := pgwire.ParseClose(payload); err == nil && c.Kind == pgwire.TargetStatement {
		delete(r.statements, string(c.Name))
	} else if err == nil {
		delete(r.portals, string(c.Name))
	}
	return pgClose
}

// statement decides on a Query or an Execute, whose header is h, and
// passes it on, replaces it or answers it.
func (r *postgresRelay) statement(h pgwire.Header) bool {
	msg, ok := r.message(h)
	if !ok {
		return false
	}
	req := &postgresRequest{kind: "Query", inTrans: r.inTrans.Load()}
	if h.Type == pgwire.TypeExecute {
		req.kind = "Execute"
		if e, err := pgwire.ParseExecute(msg[pgwire.HeaderLen:]); err == nil {
			req.sql = r.portals[string(e.Portal)]
		}
	} else if sql, err := pgwire.ParseQuery(msg[pgwire.HeaderLen:]); err == nil {
		req.sql = string(sql)
	}
	plan := r.c.plan.Load()
	fx := noEffects()
	if len(plan.requests) == 0 {
		r.c.p.stats.requests.Add(1)
	} else {
		fx = r.c.decide(plan, req, isStatementRule)
	}
	note := pgQuery
	if h.Type == pgwire.TypeExecute {
		note = pgExecute
	}
	if fx.delayRequest > 0 {
		if err := r.flushServer(); err != nil {
			r.fail(err)
			return false
		}
		r.held.Add(1)
		woke := r.c.sleep(fx.delayRequest, r.cancels)
		r.held.Add(-1)
		switch woke {
		case ended:
			return false
		case woken:
			// Cancelled while held: the server raises the cancel's error
			// in the statement's place, as if it had been running.
			fx = noEffects()
			fx.reply = PostgresQueryCanceled
		}
	}
	if reply, ok := fx.reply.(PostgresReply); ok {
		return r.replace(msg, note, reply)
	}
	var entry *owed
	if fx.any() {
		entry = &owed{fx: &fx}
	}
	if fx.drop {
		// A cancel may come before its answer begins (see cancelHeld).
		r.dropsOwed.Add(1)
	}
	if _, ok := r.push(note, entry); !ok || !r.forward(msg) {
		return false
	}
	// An aborted statement goes on as any other, with what follows it up
	// to Sync, so that it runs and commits; the replies side closes the
	// connection at the ReadyForQuery that follows it (see abortAt).
	return true
}

// replace answers the statement msg with reply instead of the server. A
// FATAL is the proxy's own answer, after which the connection closes. An
// ERROR is raised by the server itself, in the statement's place, so that
// the session is left as the real error leaves it; its ErrorResponse is
// swapped for reply's.
func (r *postgresRelay) replace(msg []byte, note string, reply PostgresReply) bool {
	r.altered.Store(true)
	if reply.fatal {
		if _, ok := r.queue.push(0, owed{reply: reply.encode(), closes: true}, r.respDone, r.c.done); ok {
			// A Flush makes the server send the answers owed before the
			// statement (a ParseComplete, a BindComplete), which it
			// would otherwise hold until a Sync that never comes.
			r.toServerBuf = append(r.toServerBuf, pgwire.TypeFlush, 0, 0, 0, 4)
			r.flushServer()
			r.wakeParked()
			// The session is over for the client: what it sends after is
			// dropped, as the server drops it, and once it has gone the
			// connection ends, owed answers or not.
			io.Copy(io.Discard, r.fromClient)
			r.c.end(endClose)
		}
		return false
	}
	raise := reply.raiseStatement()
	if note == pgQuery {
		if sql, err := pgwire.ParseQuery(msg[pgwire.HeaderLen:]); err == nil && r.inTrans.Load() && postgresEndsTransaction(sql) {
			// A COMMIT that fails ends the transaction, rolled back: the
			// raise aborts the block, a ROLLBACK ends it, and the client
			// sees the error, then the ReadyForQuery of the end.
			if _, ok := r.queue.push(0, owed{note: pgCommit, reply: reply.encode(), replace: true}, r.respDone, r.c.done); !ok {
				return false
			}
			r.push(pgRollback, nil)
			return r.forward(pgwire.AppendQuery(pgwire.AppendQuery(nil, raise), "ROLLBACK"))
		}
		if _, ok := r.queue.push(0, owed{note: pgQuery, reply: reply.encode(), replace: true}, r.respDone, r.c.done); !ok {
			return false
		}
		return r.forward(pgwire.AppendQuery(nil, raise))
	}
	// In the extended protocol: the unnamed statement and portal become
	// the raising statement, whose ParseComplete and BindComplete the
	// client did not ask for.
	b := appendRaise(nil, raise)
	r.push(pgSwallow, nil)
	r.push(pgSwallow, nil)
	if _, ok := r.queue.push(0, owed{note: pgExecute, reply: reply.encode(), replace: true}, r.respDone, r.c.done); !ok {
		return false
	}
	delete(r.statements, "")
	delete(r.portals, "")
	return r.forward(b)
}

// push appends an entry with note, or e with note if e is not nil.
func (r *postgresRelay) push(note string, e *owed) (uint64, bool) {
	if e == nil {
		return r.queue.pushRun(1, note), true
	}
	e.note = note
	return r.queue.push(0, *e, r.respDone, r.c.done)
}

// message returns the client's message with header h, whole, consuming
// it: a view of the reader's buffer (valid until its next read) if it
// fits there, a copy otherwise.
func (r *postgresRelay) message(h pgwire.Header) ([]byte, bool) {
	if h.Size() <= r.fromClient.Size() {
		b, err := r.fromClient.Peek(h.Size())
		if err != nil {
			r.endRequests(err)
			return nil, false
		}
		r.fromClient.Discard(len(b))
		return b, true
	}
	b, err := pgwire.ReadMessage(nil, r.fromClient, h, pgwire.MaxLength)
	if err != nil {
		r.endRequests(err)
		return nil, false
	}
	return b, true
}

// pass passes the client's message with header h on, as it is.
func (r *postgresRelay) pass(h pgwire.Header) bool {
	if h.Size() <= r.fromClient.Size() {
		msg, ok := r.message(h)
		return ok && r.forward(msg)
	}
	if err := r.flushServer(); err != nil {
		r.fail(err)
		return false
	}
	if _, err := pgwire.CopyMessage(r.toServer, r.fromClient, h); err != nil {
		r.endRequests(err)
		return false
	}
	return true
}

// forward adds msg to what goes to the server with the next flush.
func (r *postgresRelay) forward(msg []byte) bool {
	r.toServerBuf = append(r.toServerBuf, msg...)
	if len(r.toServerBuf) >= 64<<10 {
		if err := r.flushServer(); err != nil {
			r.fail(err)
			return false
		}
	}
	return true
}

// flushServer writes what the requests side framed to the server.
func (r *postgresRelay) flushServer() error {
	if len(r.toServerBuf) == 0 {
		return nil
	}
	_, err := r.toServer.Write(r.toServerBuf)
	r.toServerBuf = r.toServerBuf[:0]
	return err
}

// endRequests ends the requests side after err reading the client: a
// message cut short by the client's FIN passes on as it came, then the
// FIN; any other error ends the connection.
func (r *postgresRelay) endRequests(err error) {
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		r.flushServer()
		if b, _ := r.fromClient.Peek(r.fromClient.Buffered()); len(b) > 0 {
			r.toServer.Write(b)
			r.fromClient.Discard(len(b))
		}
		closeWrite(r.server)
		return
	}
	r.fail(err)
}

// replies frames the server's messages and passes each to the client as
// the entry it answers says; it closes done when it ends.
func (r *postgresRelay) replies(done chan<- struct{}) {
	defer r.c.p.wg.Done()
	defer close(done)
	started := false // the session's first ReadyForQuery has come
	for {
		if r.raw.Load() {
			if r.flushClient() {
				r.copyRaw(r.toClient, r.fromServer, r.server, r.client)
			}
			return
		}
		if r.dropping && !r.cancelDrop() {
			return
		}
		var h pgwire.Header
		var err error
		if r.fromServer.Buffered() >= pgwire.HeaderLen {
			h, err = pgwire.PeekHeader(r.fromServer)
		} else {
			if !r.flushClient() {
				return
			}
			r.park()
			if !r.deliverAnswers(&r.queue) {
				return
			}
			h, err = pgwire.PeekHeader(r.fromServer)
			r.unpark()
		}
		switch {
		case err == nil:
		case r.raw.Load():
			continue
		case r.woken(err):
			continue
		case err == io.EOF:
			if r.flushClient() {
				closeWrite(r.client)
			}
			return
		case errors.Is(err, pgwire.ErrMalformed):
			r.fallBack("server", err)
			continue
		default:
			r.fail(err)
			return
		}
		if !started || pgwire.IsAsync(h.Type) {
			switch h.Type {
			case pgwire.TypeReadyForQuery:
				started = true
				r.noteStatus(h)
			case pgwire.TypeBackendKeyData:
				r.learnKey(h)
			}
			if !r.passReply(h) {
				return
			}
			continue
		}
		if !r.reply(h) {
			return
		}
	}
}

// reply passes one server message, whose header is h, as the entry at
// the queue's front says. It reports whether the replies side goes on.
func (r *postgresRelay) reply(h pgwire.Header) bool {
	o, _, ok := r.queue.at(0)
	if !ok || o.proxyAnswer() {
		if !r.flushClient() || !r.deliverAnswers(&r.queue) {
			return false
		}
		if o, _, ok = r.queue.at(0); !ok {
			if h.Type == pgwire.TypeErrorResponse {
				// A FATAL the server sends unasked, before it closes.
				return r.passReply(h)
			}
			r.fallBack("server", errors.New("a message answering no request"))
			return true
		}
	}
	if !r.begun && o.fx != nil {
		r.begun = true
		if !r.effectsBegin(*o.fx) {
			return false
		}
	}
	r.begun = true
	complete, skip, discard := false, false, false
	switch o.note {
	case pgSwallow:
		if h.Type != pgwire.TypeErrorResponse {
			r.queue.pop(1, 1)
			r.begun = false
			if err := pgwire.DiscardMessage(r.fromServer, h); err != nil {
				return r.failWith(err)
			}
			return true
		}
		complete, skip = true, true
	case pgParse, pgBind, pgClose:
		complete = true
		skip = h.Type == pgwire.TypeErrorResponse
	case pgDescr:
		complete = h.Type != pgwire.TypeParameterDescription
		skip = h.Type == pgwire.TypeErrorResponse
	case pgExecute:
		switch h.Type {
		case pgwire.TypeCommandComplete, pgwire.TypeEmptyQueryResponse, pgwire.TypePortalSuspended:
			complete = true
		case pgwire.TypeErrorResponse:
			complete, skip = true, true
		}
	case pgSync, pgQuery, pgCommit, pgRollback:
		if h.Type == pgwire.TypeReadyForQuery {
			complete = true
			r.noteStatus(h)
		}
		if o.note == pgCommit && h.Type == pgwire.TypeReadyForQuery || o.note == pgRollback && h.Type != pgwire.TypeReadyForQuery {
			discard = true
		}
	default:
		r.fallBack("server", errors.New("unexpected message"))
		return true
	}
	if r.skipToSync {
		if o.note == pgSync {
			r.skipToSync = false
		} else {
			discard = true
		}
	}
	if r.dropping || r.aborting {
		discard = true
	}
	if r.canceling {
		switch {
		case o.note == pgQuery && h.Type == pgwire.TypeReadyForQuery:
			r.toClientBuf = append(r.toClientBuf, PostgresQueryCanceled.encode()...)
			r.canceling = false
		case complete:
			discard = true
			r.toClientBuf = append(r.toClientBuf, PostgresQueryCanceled.encode()...)
			r.canceling = false
			// The client takes what follows up to Sync as skipped, as
			// after the server's own error; the server did not skip it.
			r.skipToSync = !skip
		default:
			discard = true
		}
	}
	if discard {
		if err := pgwire.DiscardMessage(r.fromServer, h); err != nil {
			return r.failWith(err)
		}
	} else if o.replace && h.Type == pgwire.TypeErrorResponse {
		// The server raised the proxy's error: the client reads the
		// reply's fields.
		if err := pgwire.DiscardMessage(r.fromServer, h); err != nil {
			return r.failWith(err)
		}
		r.toClientBuf = append(r.toClientBuf, o.reply...)
	} else {
		if o.fx != nil && o.fx.rows >= 0 && h.Type == pgwire.TypeDataRow {
			if r.rows == o.fx.rows {
				// The connection is lost after n rows, which reach the
				// client first, through the stream layer too.
				if r.flushClient() {
					r.closeAfterReplies()
				}
				return false
			}
			r.rows++
		}
		if !r.passReply(h) {
			return false
		}
	}
	if r.aborting && h.Type == pgwire.TypeReadyForQuery {
		// The answers owed before the aborted statement, written as
		// its answer began (see effectsBegin), reach the client first.
		r.closeAfterReplies()
		return false
	}
	if complete {
		r.queue.pop(1, 1)
		r.begun, r.rows, r.shaped = false, 0, nil
	}
	if skip {
		// The server skips the client's messages up to Sync.
		for {
			o, _, ok := r.queue.at(0)
			if !ok || o.note == pgSync || o.proxyAnswer() {
				break
			}
			if o.fx != nil && o.fx.drop {
				r.dropsOwed.Add(-1) // skipped: it gets no answer to drop
			}
			r.queue.pop(1, 1)
		}
	}
	return true
}

// cancelDrop ends a DropResponse if the client cancelled the statement
// (see pgcancel.go), answering it with the cancel's error, and reports
// whether the replies side goes on.
func (r *postgresRelay) cancelDrop() bool {
	select {
	case <-r.cancels:
	default:
		return true
	}
	r.dropping = false
	r.held.Add(-1)
	if r.begun {
		// The dropped answer is still coming: the rest of it is dropped
		// for the cancel's error (see reply).
		r.canceling = true
		return true
	}
	// The dropped answer came whole: the cancel's error and the
	// ReadyForQuery the client did not get.
	r.toClientBuf = append(r.toClientBuf, PostgresQueryCanceled.encode()...)
	status := r.lastStatus
	if status == 0 {
		status = 'I'
	}
	r.toClientBuf = pgwire.AppendReadyForQuery(r.toClientBuf, status)
	return r.flushClient()
}

// effectsBegin applies, as a statement's answer begins, what request
// behaviors do to it. It reports whether the replies side goes on.
func (r *postgresRelay) effectsBegin(fx effects) bool {
	if fx.abort {
		// No byte of the answer reaches the client, nor any after it: the
		// connection closes at the next ReadyForQuery, once the statement
		// has run (and committed, outside a transaction block).
		r.aborting = true
		return r.flushClient()
	}
	if !r.flushClient() {
		return false
	}
	if fx.delayResponse > 0 {
		r.held.Add(1)
		woke := r.c.sleep(fx.delayResponse, r.cancels)
		r.held.Add(-1)
		switch woke {
		case ended:
			return false
		case woken:
			// Cancelled while its answer is held: the answer is dropped
			// for the cancel's error (the statement itself has run).
			r.canceling = true
		}
	}
	if fx.drop {
		// The client never gets this answer, nor any after it, unless it
		// cancels the statement (see cancelDrop): the answers are framed
		// and dropped.
		r.dropping = true
		r.held.Add(1)
		r.dropsOwed.Add(-1)
	}
	r.shaped = r.shapedFor(&fx)
	return true
}

// passReply passes the server's message with header h on to the client.
func (r *postgresRelay) passReply(h pgwire.Header) bool {
	if r.shaped != nil {
		if !r.flushClient() {
			return false
		}
		_, err := pgwire.CopyMessage(r.shaped, r.fromServer, h)
		if r.shaped.cut {
			// What TruncateResponse let through reaches the client
			// first.
			r.closeAfterReplies()
			return false
		}
		if err != nil {
			return r.failWith(err)
		}
		return true
	}
	if h.Size() <= r.fromServer.Size() {
		b, err := r.fromServer.Peek(h.Size())
		if err != nil {
			return r.failWith(err)
		}
		r.toClientBuf = append(r.toClientBuf, b...)
		r.fromServer.Discard(len(b))
		if len(r.toClientBuf) >= 64<<10 {
			return r.flushClient()
		}
		return true
	}
	if !r.flushClient() {
		return false
	}
	if _, err := pgwire.CopyMessage(r.toClient, r.fromServer, h); err != nil {
		return r.failWith(err)
	}
	return true
}

// noteStatus learns from a ReadyForQuery, whose header is h and which is
// buffered, whether a transaction is open.
func (r *postgresRelay) noteStatus(h pgwire.Header) {
	if b, err := r.fromServer.Peek(h.Size()); err == nil {
		if status, err := pgwire.ParseReadyForQuery(b[pgwire.HeaderLen:]); err == nil {
			r.lastStatus = status
			r.inTrans.Store(status != 'I')
		}
	}
}

// flushClient writes what the replies side framed to the client, and
// reports whether the replies side goes on.
func (r *postgresRelay) flushClient() bool {
	if len(r.toClientBuf) == 0 {
		return true
	}
	_, err := r.toClient.Write(r.toClientBuf)
	r.toClientBuf = r.toClientBuf[:0]
	if err != nil {
		r.fail(err)
		return false
	}
	return true
}

// failWith ends the connection after a read or write error and reports
// that the replies side stops.
func (r *postgresRelay) failWith(err error) bool {
	r.fail(err)
	return false
}

// fallBack stops framing: the rest of the connection passes through raw,
// from the first byte that could not be framed. If the proxy had changed
// what the peers see (an answer of its own, a replaced statement), their
// views differ, and the connection closes instead.
func (r *postgresRelay) fallBack(side string, err error) {
	r.c.p.log.Warn("faults: PostgreSQL framing stopped; passing bytes through", "conn", r.c.id, "side", side, "err", err)
	if r.altered.Load() {
		r.c.end(endClose)
	}
	if r.raw.CompareAndSwap(false, true) {
		r.client.SetReadDeadline(time.Unix(1, 0))
		r.server.SetReadDeadline(time.Unix(1, 0))
	}
}

// appendRaise appends the extended-protocol messages that run sql as the
// unnamed statement and portal: Parse, Bind (no parameters, text results)
// and Execute (no row limit).
func appendRaise(dst []byte, sql string) []byte {
	dst = pgwire.AppendHeader(dst, pgwire.TypeParse, len(sql)+4)
	dst = append(dst, 0)
	dst = append(dst, sql...)
	dst = append(dst, 0, 0, 0)
	dst = pgwire.AppendHeader(dst, pgwire.TypeBind, 2+2+2+2)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	dst = pgwire.AppendHeader(dst, pgwire.TypeExecute, 1+4)
	return append(dst, 0, 0, 0, 0, 0)
}
