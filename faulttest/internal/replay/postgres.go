package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/gofaults/faults/internal/split"
	"github.com/gofaults/faults/internal/wire/pgwire"
)

// postgresProtocol replays PostgreSQL: a Query, a FunctionCall and a Sync
// (which ends a batch of the extended protocol) are each owed the server's
// messages up to ReadyForQuery, whose outcome is the SQLSTATE of the first
// ErrorResponse among them, or "OK". The login is performed anew: the
// recorded StartupMessage (encryption requests left out), then what the
// server asks: nothing more under trust, the password in clear, md5 or
// SCRAM-SHA-256 with the Credentials' password.
type postgresProtocol struct{}

func (postgresProtocol) name() string             { return "postgres" }
func (postgresProtocol) splitter() split.Splitter { return split.Postgres() }
func (postgresProtocol) newSession(c Credentials) session {
	return &postgresSession{creds: c, statements: map[string]string{}, portals: map[string]string{}}
}

type postgresSession struct {
	creds    Credentials
	started  bool // the client sent its StartupMessage
	begun    bool // the client sent a message that is not the login's
	loggedIn bool // the server's first ReadyForQuery came
	errCode  string

	// The client's statements and portals by name, for summaries, and
	// the statement of the batch being read.
	statements, portals map[string]string
	batch               string
}

// Request codes of the untyped packets.
const (
	pgSSLRequest    = 80877103
	pgGSSENCRequest = 80877104
	pgCancelRequest = 80877102
)

func (s *postgresSession) client(msg []byte) (msgKind, string, any) {
	if !s.started {
		if len(msg) >= 8 {
			switch binary.BigEndian.Uint32(msg[4:]) {
			case pgSSLRequest, pgGSSENCRequest:
				return msgLogin, "", nil
			case pgCancelRequest:
				return msgPlain, "", nil
			}
		}
		s.started = true
		return msgLogin, "", nil
	}
	if len(msg) < pgwire.HeaderLen {
		return msgPlain, "", nil
	}
	payload := msg[pgwire.HeaderLen:]
	if msg[0] == pgwire.TypePassword && !s.begun {
		return msgLogin, "", nil
	}
	s.begun = true
	switch msg[0] {
	case pgwire.TypeQuery:
		sql, _ := pgwire.ParseQuery(payload)
		return msgRequest, summarize(string(sql)), nil
	case pgwire.TypeFunctionCall:
		return msgRequest, "function call", nil
	case pgwire.TypeParse:
		if p, err := pgwire.ParseParse(payload); err == nil {
			s.statements[string(p.Name)] = string(p.Query)
			s.batch = string(p.Query)
		}
	case pgwire.TypeBind:
		if b, err := pgwire.ParseBind(payload); err == nil {
			s.portals[string(b.Portal)] = s.statements[string(b.Statement)]
		}
	case pgwire.TypeExecute:
		if e, err := pgwire.ParseExecute(payload); err == nil && s.portals[string(e.Portal)] != "" {
			s.batch = s.portals[string(e.Portal)]
		}
	case pgwire.TypeSync:
		summary := s.batch
		if summary == "" {
			summary = "Sync"
		}
		s.batch = ""
		return msgRequest, summarize(summary), nil
	}
	return msgPlain, "", nil
}

func (s *postgresSession) sent(*Step) {}

func (s *postgresSession) server(head []byte, _ int) (bool, string, error) {
	if len(head) == 0 {
		return false, "", nil
	}
	if !s.loggedIn {
		s.loggedIn = head[0] == pgwire.TypeReadyForQuery
		return false, "", nil
	}
	switch head[0] {
	case pgwire.TypeErrorResponse:
		if s.errCode == "" && len(head) >= pgwire.HeaderLen {
			if e, err := pgwire.ParseErrorFields(head[pgwire.HeaderLen:]); err == nil {
				s.errCode = e.Code
			}
		}
	case pgwire.TypeReadyForQuery:
		outcome := s.errCode
		if outcome == "" {
			outcome = "OK"
		}
		s.errCode = ""
		return true, outcome, nil
	}
	return false, "", nil
}

func (s *postgresSession) rewrite(b []byte) []byte { return b }

// login logs in on a live connection.
func (s *postgresSession) login(lc *liveConn, sc *Script) error {
	var startup pgwire.Startup
	var recordedPasswords [][]byte
	for _, m := range sc.Login {
		if len(m) > 0 && m[0] == pgwire.TypePassword {
			recordedPasswords = append(recordedPasswords, m)
			continue
		}
		if st, err := pgwire.ParseStartup(m); err == nil && st.Kind == pgwire.StartupMessage {
			startup = st
		}
	}
	if startup.Kind != pgwire.StartupMessage {
		return errors.New("the capture holds no StartupMessage for this connection")
	}
	if s.creds.User != "" {
		startup.Params = slices.Clone(startup.Params)
		for i := range startup.Params {
			if startup.Params[i].Name == "user" {
				startup.Params[i].Value = s.creds.User
			}
		}
	}
	if err := lc.send(appendStartup(nil, startup)); err != nil {
		return err
	}
	s.started, s.begun = true, true
	var scram *pgwire.SCRAM
	for {
		lc.readDeadline()
		h, err := pgwire.PeekHeader(lc.br)
		if err != nil {
			return fmt.Errorf("reading the login's answer: %w", err)
		}
		msg, err := pgwire.ReadMessage(nil, lc.br, h, 1<<20)
		if err != nil {
			return err
		}
		payload := msg[pgwire.HeaderLen:]
		switch h.Type {
		case pgwire.TypeReadyForQuery:
			s.loggedIn = true
			return nil
		case pgwire.TypeErrorResponse:
			e, _ := pgwire.ParseErrorFields(payload)
			return fmt.Errorf("the server refused the login: %s %s: %s", e.Severity, e.Code, e.Message)
		case pgwire.TypeAuthentication:
		default:
			continue // ParameterStatus, BackendKeyData, notices
		}
		a, err := pgwire.ParseAuthentication(payload)
		if err != nil {
			return err
		}
		var answer []byte
		switch a.Kind {
		case pgwire.AuthOK:
			continue
		case pgwire.AuthCleartextPassword:
			switch {
			case s.creds.Password != "":
				answer = pgwire.AppendPassword(nil, s.creds.Password)
			case len(recordedPasswords) > 0:
				answer = recordedPasswords[0] // sent in clear, it replays as it is
			default:
				return errors.New("the server asks for a password: give it (ReplayOptions.Password)")
			}
		case pgwire.AuthMD5Password:
			if s.creds.Password == "" {
				return errors.New("the server asks for an md5 password, which only the recorded server's salt accepts as recorded: give it (ReplayOptions.Password)")
			}
			answer = pgwire.AppendPassword(nil, pgwire.MD5Password(startup.User(), s.creds.Password, a.Data))
		case pgwire.AuthSASL:
			if !slices.Contains(a.SASLMechanisms(), pgwire.SCRAMMechanism) {
				return fmt.Errorf("the server offers SASL mechanisms %q; the replay speaks %s", a.SASLMechanisms(), pgwire.SCRAMMechanism)
			}
			if s.creds.Password == "" {
				return errors.New("the server asks for SCRAM-SHA-256, which cannot be replayed as recorded: give the password (ReplayOptions.Password)")
			}
			scram = pgwire.NewSCRAM(s.creds.Password)
			answer = scram.AppendInitial(nil)
		case pgwire.AuthSASLContinue:
			if scram == nil {
				return errors.New("SASLContinue before SASL")
			}
			if answer, err = scram.AppendFinal(nil, a.Data); err != nil {
				return err
			}
		case pgwire.AuthSASLFinal:
			if scram == nil {
				return errors.New("SASLFinal before SASL")
			}
			if err := scram.Verify(a.Data); err != nil {
				return err
			}
			continue
		default:
			return fmt.Errorf("the server asks for authentication %d, which the replay cannot perform", a.Kind)
		}
		if err := lc.send(answer); err != nil {
			return err
		}
	}
}

// appendStartup appends the StartupMessage of st.
func appendStartup(dst []byte, st pgwire.Startup) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, st.Code)
	for _, p := range st.Params {
		dst = append(append(dst, p.Name...), 0)
		dst = append(append(dst, p.Value...), 0)
	}
	dst = append(dst, 0)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}
