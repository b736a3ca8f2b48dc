package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/gofaults/faults/internal/split"
	"github.com/gofaults/faults/internal/wire/mysqlwire"
)

// mysqlProtocol replays MySQL: each command that the server answers is
// owed its answer, whose outcome is "ERR" and its number, or "OK". The
// login is performed anew: as recorded for a user without a password,
// with mysql_native_password and the Credentials' password otherwise.
// Statement ids of prepared statements are mapped from the recorded
// server's to the live one's.
type mysqlProtocol struct{}

func (mysqlProtocol) name() string             { return "mysql" }
func (mysqlProtocol) splitter() split.Splitter { return split.MySQL() }
func (mysqlProtocol) newSession(c Credentials) session {
	return &mysqlSession{creds: c, ids: map[uint32]uint32{}, texts: map[uint32]string{}}
}

// mysqlCommand is what reading the answer to a command needs.
type mysqlCommand struct {
	cmd      mysqlwire.Command
	recorded uint32 // a COM_STMT_PREPARE's statement id in the capture, once known
	text     string // a COM_STMT_PREPARE's statement
}

type mysqlSession struct {
	creds    Credentials
	live     bool // on a live connection: the script's commands are read, not written
	loggedIn bool // the commands have begun
	greeting mysqlwire.Greeting
	hello    mysqlwire.ClientHello
	session  mysqlwire.Session

	owed   []*mysqlCommand // commands owed an answer, oldest first
	f      mysqlwire.Follower
	active bool   // f follows the answer to owed[0]
	errNo  string // the answer's first packet was ERR: its number
	prepID uint32 // the answer is a COM_STMT_PREPARE_OK: the statement id

	ids   map[uint32]uint32 // recorded statement id → live one
	texts map[uint32]string // recorded statement id → its statement, for summaries
}

func (s *mysqlSession) client(msg []byte) (msgKind, string, any) {
	if len(msg) < 4 {
		return msgPlain, "", nil
	}
	seq, payload := msg[3], msg[4:]
	if !s.loggedIn {
		if seq != 0 {
			if s.hello.Capabilities == 0 {
				s.hello, _ = mysqlwire.ParseClientHello(payload)
				s.session = mysqlwire.Negotiate(s.greeting, s.hello)
			}
			return msgLogin, "", nil
		}
		s.loggedIn = true
	}
	if seq != 0 || len(payload) == 0 {
		if s.active && s.f.WantsClient() {
			s.f.Client(len(payload))
		}
		return msgPlain, "", nil // a continuation, a file's data
	}
	c := &mysqlCommand{cmd: mysqlwire.Command(payload[0])}
	if c.cmd.Response() == mysqlwire.ResponseNone {
		return msgPlain, "", nil
	}
	summary := c.cmd.String()
	switch c.cmd {
	case mysqlwire.ComQuery:
		summary = string(payload[1:])
	case mysqlwire.ComStmtPrepare:
		c.text = string(payload[1:])
		summary = "PREPARE " + c.text
	case mysqlwire.ComStmtExecute:
		if id, ok := mysqlwire.StmtID(payload); ok {
			summary = "EXECUTE " + s.texts[id]
		}
	}
	s.owed = append(s.owed, c)
	return msgRequest, summarize(summary), c
}

func (s *mysqlSession) sent(st *Step) {
	if st.Request != nil {
		s.owed = append(s.owed, st.Request.kind.(*mysqlCommand))
		return
	}
	if s.active && s.f.WantsClient() && len(st.Data) >= 4 {
		s.f.Client(len(st.Data) - 4)
	}
}

// server follows the login, then each answer, packet by packet; head is
// a whole packet, or its start.
func (s *mysqlSession) server(head []byte, length int) (bool, string, error) {
	if len(head) < 4 {
		return false, "", fmt.Errorf("a MySQL packet of %d bytes", len(head))
	}
	payload, plen := head[4:], length-4
	if !s.loggedIn {
		if s.greeting.ProtocolVersion == 0 {
			s.greeting, _ = mysqlwire.ParseGreeting(payload)
		}
		return false, "", nil
	}
	if !s.active {
		if len(s.owed) == 0 {
			return false, "", errors.New("a MySQL answer to no command")
		}
		s.f = mysqlwire.NewFollower(s.owed[0].cmd.Response(), s.session)
		s.active, s.errNo, s.prepID = true, "", 0
		if code, _, _, ok := mysqlwire.ParseErr(payload); ok {
			s.errNo = strconv.Itoa(int(code))
		} else if s.owed[0].cmd == mysqlwire.ComStmtPrepare {
			if ok, valid := mysqlwire.ParsePrepareOK(payload); valid {
				s.prepID = ok.StmtID
			}
		}
	}
	if err := s.f.Server(payload[:min(len(payload), plen)], plen); err != nil {
		return false, "", err
	}
	if !s.f.Done() {
		return false, "", nil
	}
	c := s.owed[0]
	s.owed, s.active = s.owed[1:], false
	if s.errNo != "" {
		return true, "ERR " + s.errNo, nil
	}
	if c.cmd == mysqlwire.ComStmtPrepare && s.prepID != 0 {
		if !s.live {
			c.recorded = s.prepID
			s.texts[s.prepID] = c.text
		} else if c.recorded != 0 {
			s.ids[c.recorded] = s.prepID
		}
	}
	return true, "OK", nil
}

// rewrite gives a command on a prepared statement the live server's id
// for it.
func (s *mysqlSession) rewrite(b []byte) []byte {
	if len(b) < 9 || b[3] != 0 {
		return b
	}
	id, ok := mysqlwire.StmtID(b[4:])
	live, known := s.ids[id]
	if !ok || !known || live == id {
		return b
	}
	out := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(out[5:], live)
	return out
}

// login logs in on a live connection: the recorded handshake response,
// with the password's response computed anew for the live server's
// scramble when Credentials give one (the user too, if given).
func (s *mysqlSession) login(lc *liveConn, sc *Script) error {
	s.live = true
	if len(sc.Login) == 0 {
		return errors.New("the capture holds no MySQL login for this connection")
	}
	greeting, err := s.readPacket(lc)
	if err != nil {
		return fmt.Errorf("reading the greeting: %w", err)
	}
	if s.greeting, err = mysqlwire.ParseGreeting(greeting[4:]); err != nil {
		return err
	}
	recorded := sc.Login[0]
	hello, err := mysqlwire.ParseHandshakeResponse(recorded[4:])
	if err != nil {
		return fmt.Errorf("the recorded handshake response: %w", err)
	}
	perform := s.creds.Password != "" || s.creds.User != ""
	if !perform && len(hello.Auth) > 0 {
		return errors.New("the recorded login sent a password's response, which only the recorded server accepts: give the password (ReplayOptions.Password)")
	}
	if perform {
		if s.creds.User != "" {
			hello.User = s.creds.User
		}
		hello.Auth = mysqlwire.NativePassword(s.creds.Password, s.greeting.AuthData)
		if hello.Capabilities&mysqlwire.ClientPluginAuth != 0 {
			hello.AuthPlugin = mysqlwire.NativePlugin
		}
	}
	s.hello = hello.ClientHello
	s.session = mysqlwire.Negotiate(s.greeting, s.hello)
	seq := recorded[3]
	if err := lc.send(mysqlwire.AppendPacket(nil, seq, hello.Append(nil))); err != nil {
		return err
	}
	switches := sc.Login[1:]
	for {
		p, err := s.readPacket(lc)
		if err != nil {
			return fmt.Errorf("reading the login's answer: %w", err)
		}
		payload := p[4:]
		switch {
		case len(payload) > 0 && payload[0] == 0x00:
			s.loggedIn = true
			return nil
		case len(payload) > 0 && payload[0] == 0xff:
			code, state, text, _ := mysqlwire.ParseErr(payload)
			return fmt.Errorf("the server refused the login: ERR %d (%s): %s", code, state, text)
		}
		plugin, data, ok := mysqlwire.ParseAuthSwitch(payload)
		var answer []byte
		switch {
		case ok && perform && plugin == mysqlwire.NativePlugin:
			answer = mysqlwire.NativePassword(s.creds.Password, data)
		case ok && !perform && len(switches) > 0:
			answer = switches[0][4:]
			switches = switches[1:]
		case ok:
			return fmt.Errorf("the server asks for authentication plugin %q, which the replay cannot perform", plugin)
		default:
			return fmt.Errorf("unexpected login packet % x", payload[:min(len(payload), 8)])
		}
		if err := lc.send(mysqlwire.AppendPacket(nil, p[3]+1, answer)); err != nil {
			return err
		}
	}
}

// readPacket reads one whole packet of the login.
func (s *mysqlSession) readPacket(lc *liveConn) ([]byte, error) {
	lc.readDeadline()
	h, err := mysqlwire.ReadHeader(lc.br)
	if err != nil {
		return nil, err
	}
	hdr := h.Bytes()
	b := append([]byte(nil), hdr[:]...)
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(lc.br, payload); err != nil {
		return nil, err
	}
	return append(b, payload...), nil
}
