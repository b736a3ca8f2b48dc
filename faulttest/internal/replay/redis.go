package replay

import (
	"bytes"
	"strings"

	"github.com/gofaults/faults/internal/split"
	"github.com/gofaults/faults/internal/wire/resp"
)

// redisProtocol replays Redis: each command is owed a reply (pushes,
// which the server sends unasked, are not one), whose outcome is its
// error's code ("LOADING", "ERR"), or "OK". After a command from which
// replies no longer pair with commands (SUBSCRIBE and the like, MONITOR,
// CLIENT REPLY), the rest is sent as recorded and owed nothing.
type redisProtocol struct{}

func (redisProtocol) name() string             { return "redis" }
func (redisProtocol) splitter() split.Splitter { return split.Redis() }
func (redisProtocol) newSession(c Credentials) session {
	return &redisSession{creds: c}
}

type redisSession struct {
	creds    Credentials
	unpaired bool // replies no longer pair with commands
}

func (s *redisSession) client(msg []byte) (msgKind, string, any) {
	if s.unpaired {
		return msgPlain, "", nil
	}
	args, _ := resp.Args(msg)
	if len(args) == 0 {
		return msgPlain, "", nil // no command: the server answers nothing
	}
	name := strings.ToUpper(string(args[0]))
	switch {
	case name == "SUBSCRIBE" || name == "PSUBSCRIBE" || name == "SSUBSCRIBE" || name == "MONITOR" ||
		name == "CLIENT" && len(args) > 1 && bytes.EqualFold(args[1], []byte("REPLY")):
		s.unpaired = true
		return msgPlain, "", nil
	}
	summary := name
	if len(args) > 1 && resp.AuthSecret(args) != 1 {
		summary += " " + string(args[1])
	}
	return msgRequest, summarize(summary), nil
}

func (s *redisSession) sent(st *Step) {
	if st.Request == nil && !s.unpaired {
		s.client(st.Data) // a command that unpairs the replies
	}
}

func (s *redisSession) server(head []byte, _ int) (bool, string, error) {
	if s.unpaired || len(head) == 0 || head[0] == '>' {
		return false, "", nil
	}
	switch head[0] {
	case '-':
		return true, errorCode(head[1:]), nil
	case '!':
		// A bulk error: its length's line, then the text.
		if _, text, ok := bytes.Cut(head, []byte("\r\n")); ok {
			return true, errorCode(text), nil
		}
		return true, "ERR", nil
	}
	return true, "OK", nil
}

// errorCode returns an error reply's first word, its code.
func errorCode(text []byte) string {
	line, _, _ := bytes.Cut(text, []byte("\r\n"))
	code, _, _ := bytes.Cut(line, []byte(" "))
	return string(code)
}

func (s *redisSession) login(*liveConn, *Script) error { return nil }

// rewrite puts the password given in place of a recorded one (redacted
// in the capture, or another server's), and the user if one is given.
func (s *redisSession) rewrite(b []byte) []byte {
	if s.creds.Password == "" && s.creds.User == "" {
		return b
	}
	args, _ := resp.Args(b)
	i := resp.AuthSecret(args)
	if i < 0 {
		return b
	}
	if s.creds.Password != "" {
		args[i] = []byte(s.creds.Password)
	}
	if s.creds.User != "" && i >= 2 {
		args[i-1] = []byte(s.creds.User)
	}
	return resp.AppendCommand(nil, args...)
}
