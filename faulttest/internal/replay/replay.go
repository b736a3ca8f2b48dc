// Package replay turns the connections of a capture into scripts and
// plays them against a server: the client's messages at their recorded
// offsets, the answers read and compared with the recorded ones. It
// knows the protocols the faults package frames; faulttest schedules the
// scripts and reports on them.
//
// A script keeps each recorded client message whole, and what it needs
// of the recorded answers (their outcome), so that a capture is read once
// and played any number of times, by any number of copies at once.
package replay

import (
	"errors"
	"fmt"
	"time"

	"github.com/gofaults/faults/internal/split"
	"github.com/gofaults/faults/internal/tcpcap"
)

// NoAnswer is the outcome of a request that got no answer: in the
// capture, one whose connection ended or whose capture stopped first.
const NoAnswer = "no answer"

// Credentials log a replay in where the recorded login cannot be replayed
// byte for byte (a password scrambled with the recorded server's salt).
type Credentials struct {
	User     string // empty: the recorded user
	Password string
}

// A Script is one recorded connection, ready to play.
type Script struct {
	Conn   int           // its number in the capture, from 1, in order of start
	Start  time.Duration // its start, from the capture's first connection's
	Client string        // the recorded client's address, for messages
	Login  [][]byte      // the client's login messages, for a login replayed as recorded
	Steps  []Step
	End    End           // how the client ended the connection
	EndAt  time.Duration // when, from the connection's start
	EndDep int           // answers the client had read before it ended
	Length time.Duration // from its start to its last packet
	proto  protocol
}

// End says how a recorded client ended its connection.
type End uint8

const (
	EndNone  End = iota // it did not: the server closed, or the capture ended
	EndFin              // it closed its side
	EndReset            // it reset the connection
)

// A Step is one message of the client's (or, for raw TCP, a chunk as it
// was captured).
type Step struct {
	At      time.Duration // from the connection's start
	Data    []byte
	After   int      // answers the recorded client had read before it sent this
	Request *Request // not nil if this step is a request, which is owed an answer
}

// A Request is a step that is owed an answer.
type Request struct {
	Index    int    // among the script's requests, from 0
	Summary  string // a short form, such as "GET /orders/7" or the SQL
	Recorded string // the recorded answer's outcome, or NoAnswer
	kind     any    // what the protocol needs to read its answer
}

// protocol is what replaying a protocol takes.
type protocol interface {
	name() string
	splitter() split.Splitter
	newSession(creds Credentials) session
}

// message kinds, as a session classifies the client's.
type msgKind uint8

const (
	msgLogin   msgKind = iota // part of the login: performed, not replayed
	msgRequest                // owed an answer
	msgPlain                  // sent, owed nothing
)

// session follows one connection of a protocol: the client's messages
// and the server's answers, recorded or live. It is not safe for
// concurrent use.
type session interface {
	// client classifies the client's next recorded message: kind, and
	// for a request its summary and what reading its answer needs (which
	// server may complete as the recorded answer comes). A request is
	// owed the next answer.
	client(msg []byte) (kind msgKind, summary string, info any)
	// sent notes, on a live connection, that a step is sent: a request
	// is owed the next answer.
	sent(step *Step)
	// server takes the server's next message (its first bytes, at most
	// keepServer, and its length); done reports that it ends the answer
	// to the oldest request expected, with outcome. During the login,
	// the server's messages end no answer.
	server(head []byte, length int) (done bool, outcome string, err error)
	// login performs the login on a live connection, with the script's
	// recorded login messages if it replays them.
	login(lc *liveConn, s *Script) error
	// rewrite adapts the bytes of a step to the live session; it may
	// return data itself.
	rewrite(data []byte) []byte
}

// keepServer is how many bytes of each server message a session sees:
// enough for any head it reads (an HTTP head, an error's fields).
const keepServer = 64 << 10

// Protocols by the name of the faults protocol.
func byName(name string) (protocol, error) {
	switch name {
	case "", "tcp":
		return tcpProtocol{}, nil
	case "http":
		return httpProtocol{}, nil
	case "mysql":
		return mysqlProtocol{}, nil
	case "postgres":
		return postgresProtocol{}, nil
	case "redis":
		return redisProtocol{}, nil
	case "memcached":
		return memcachedProtocol{}, nil
	}
	return nil, fmt.Errorf("replay: protocol %q cannot be replayed", name)
}

// An Error reports a capture that cannot be replayed.
type Error struct {
	Conn   int    // the connection, from 1; 0 for the capture as a whole
	Client string // its client's address
	Err    error
}

func (e *Error) Error() string {
	if e.Conn == 0 {
		return "replay: " + e.Err.Error()
	}
	return fmt.Sprintf("replay: connection %d (from %s): %v", e.Conn, e.Client, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNothing is wrapped by the error of Prepare for a capture with no
// client byte to replay.
var ErrNothing = errors.New("the capture holds nothing a client sent")

// Prepare turns the connections of a capture into scripts for protocol
// name (a faults.Protocol's Name), reading their recorded outcomes.
func Prepare(conns []*tcpcap.Conn, name string, creds Credentials) ([]*Script, error) {
	proto, err := byName(name)
	if err != nil {
		return nil, err
	}
	if len(conns) == 0 {
		return nil, &Error{Err: ErrNothing}
	}
	t0 := conns[0].Start
	var scripts []*Script
	sent := false
	for i, c := range conns {
		s, err := prepare(proto, c, creds)
		if err != nil {
			return nil, &Error{Conn: i + 1, Client: c.Client.String(), Err: err}
		}
		s.Conn, s.Start, s.Client = i+1, c.Start.Sub(t0), c.Client.String()
		sent = sent || len(s.Steps) > 0
		scripts = append(scripts, s)
	}
	if !sent {
		return nil, &Error{Err: ErrNothing}
	}
	return scripts, nil
}

// Span returns how long the capture lasts: from the first connection's
// start to the last packet of any.
func Span(scripts []*Script) time.Duration {
	var d time.Duration
	for _, s := range scripts {
		d = max(d, s.Start+s.Length)
	}
	return d
}

// prepare reads one recorded connection: its client's messages, in
// order, the answers to its requests, and how it ended.
func prepare(proto protocol, c *tcpcap.Conn, creds Credentials) (*Script, error) {
	s := &Script{proto: proto}
	sess := proto.newSession(creds)
	var reqs []*Request // owed an answer
	answered, nreq := 0, 0
	asm := newAssembler(proto.splitter(), 0)
	var failed error // the answers are no longer followed
	onMessage := func(side split.Side, at time.Time, msg []byte, length int) {
		off := at.Sub(c.Start)
		if side == split.Server {
			if failed != nil {
				return
			}
			done, outcome, err := sess.server(msg, length)
			if err != nil {
				// Answers no longer followed: those owed stay unknown.
				failed = err
				return
			}
			if done && len(reqs) > 0 {
				reqs[0].Recorded = outcome
				reqs = reqs[1:]
				answered++
			}
			return
		}
		kind, summary, info := sess.client(msg)
		switch kind {
		case msgLogin:
			s.Login = append(s.Login, msg)
			return
		case msgRequest:
			req := &Request{Index: nreq, Summary: summary, Recorded: NoAnswer, kind: info}
			nreq++
			reqs = append(reqs, req)
			s.Steps = append(s.Steps, Step{At: off, Data: msg, After: answered, Request: req})
		default:
			s.Steps = append(s.Steps, Step{At: off, Data: msg, After: answered})
		}
	}
	var last time.Time
	for _, seg := range c.Segments {
		last = seg.Time
		side := split.Client
		if seg.From == tcpcap.Server {
			side = split.Server
		}
		if len(seg.Data) > 0 {
			asm.feed(side, seg.Time, seg.Data, onMessage)
		}
		if seg.From == tcpcap.Client && (seg.Fin || seg.Reset) {
			asm.flush(side, onMessage)
			s.End, s.EndAt, s.EndDep = EndFin, seg.Time.Sub(c.Start), answered
			if seg.Reset {
				s.End = EndReset
			}
		}
	}
	asm.flush(split.Client, onMessage)
	if !last.IsZero() {
		s.Length = last.Sub(c.Start)
	}
	return s, nil
}

// requests returns the script's requests, in order.
func (s *Script) requests() []*Request {
	var out []*Request
	for i := range s.Steps {
		if r := s.Steps[i].Request; r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Requests returns how many requests the script holds.
func (s *Script) Requests() int { return len(s.requests()) }

// assembler gathers the messages a splitter finds in pieces, and passes
// each on whole (a server's cut to its first max bytes, if max > 0,
// with its length). Once the splitter stops framing, each piece is a
// message.
type assembler struct {
	sp      split.Splitter
	max     [2]int
	pending [2][]byte
	length  [2]int
	at      [2]time.Time
	ends    []int
}

func newAssembler(sp split.Splitter, serverMax int) *assembler {
	if serverMax == 0 {
		serverMax = keepServer
	}
	return &assembler{sp: sp, max: [2]int{0, serverMax}}
}

// feed takes the next piece b from side, which came at at, and calls fn
// with each message it ends.
func (a *assembler) feed(side split.Side, at time.Time, b []byte, fn func(side split.Side, at time.Time, msg []byte, length int)) {
	if a.sp == nil {
		fn(side, at, b, len(b))
		return
	}
	ends, err := a.sp.Split(a.ends[:0], side, b)
	a.ends = ends
	prev := 0
	for _, e := range ends {
		a.add(side, at, b[prev:e])
		fn(side, a.at[side], a.pending[side], a.length[side])
		a.pending[side], a.length[side] = nil, 0
		prev = e
	}
	if err != nil {
		a.sp = nil
		a.flush(side, fn)
		if rest := b[prev:]; len(rest) > 0 {
			fn(side, at, rest, len(rest))
		}
		return
	}
	if rest := b[prev:]; len(rest) > 0 {
		a.add(side, at, rest)
	}
}

// add appends to side's message.
func (a *assembler) add(side split.Side, at time.Time, b []byte) {
	if a.length[side] == 0 {
		a.at[side] = at
	}
	a.length[side] += len(b)
	if m := a.max[side]; m > 0 {
		b = b[:min(len(b), max(m-len(a.pending[side]), 0))]
	}
	a.pending[side] = append(a.pending[side], b...)
}

// flush passes on what is gathered of side's message, cut short.
func (a *assembler) flush(side split.Side, fn func(side split.Side, at time.Time, msg []byte, length int)) {
	if a.length[side] > 0 {
		fn(side, a.at[side], a.pending[side], a.length[side])
		a.pending[side], a.length[side] = nil, 0
	}
}
