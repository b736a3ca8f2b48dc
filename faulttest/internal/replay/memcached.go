package replay

import (
	"bytes"

	"github.com/gofaults/faults/internal/split"
	"github.com/gofaults/faults/internal/wire/memcache"
)

// memcachedProtocol replays memcached's text protocol: each command owed
// a reply is a request (a noreply command is owed none); a quiet meta
// command is owed a reply only where memcached sends one, and is no
// request. An answer's outcome is "hit" or "miss" for a read (get, gets,
// gat, gats, mg), the line itself for an error, "OK" for a number (incr,
// decr), stats and version, and the reply's first word for the rest
// (STORED, NOT_STORED, EXISTS, NOT_FOUND, DELETED, HD, NS, ...). After
// the binary protocol, watch or lru_crawler metadump, the rest is sent as
// recorded and owed nothing.
type memcachedProtocol struct{}

func (memcachedProtocol) name() string             { return "memcached" }
func (memcachedProtocol) splitter() split.Splitter { return split.Memcached() }
func (memcachedProtocol) newSession(Credentials) session {
	return &memcachedSession{}
}

type memcachedSession struct {
	// The commands sent whose replies are still to come, oldest first:
	// requests, and quiet commands (which may get none).
	owed     []memcachedCommand
	cmd      memcache.Command
	unpaired bool // replies no longer pair with commands
}

type memcachedCommand struct {
	name  string
	quiet bool
}

// client classifies a command, and notes what reply it is owed.
func (s *memcachedSession) client(msg []byte) (msgKind, string, any) {
	if s.unpaired {
		return msgPlain, "", nil
	}
	if len(msg) > 0 && msg[0] == memcache.BinaryMagic {
		s.unpaired = true
		return msgPlain, "", nil
	}
	i := bytes.IndexByte(msg, '\n')
	if i < 0 || memcache.ParseCommand(&s.cmd, msg[:i+1]) != nil {
		return msgPlain, "", nil
	}
	c := &s.cmd
	switch c.Reply {
	case memcache.ShapeUnknown:
		s.unpaired = true
		return msgPlain, "", nil
	case memcache.ShapeNone:
		return msgPlain, "", nil
	}
	s.owed = append(s.owed, memcachedCommand{name: string(c.Name), quiet: c.Quiet})
	if c.Quiet {
		return msgPlain, "", nil
	}
	summary := string(c.Name)
	for _, k := range c.Keys {
		summary += " " + string(k)
	}
	return msgRequest, summarize(summary), nil
}

// sent notes the reply a command sent live is owed, as client does for
// a recorded one.
func (s *memcachedSession) sent(st *Step) { s.client(st.Data) }

func (s *memcachedSession) server(head []byte, _ int) (bool, string, error) {
	if s.unpaired || len(head) == 0 {
		return false, "", nil
	}
	line, _, _ := bytes.Cut(head, []byte("\r\n"))
	code, _, _ := bytes.Cut(line, []byte(" "))
	for len(s.owed) > 0 && s.owed[0].quiet && !(&memcache.Command{Name: []byte(s.owed[0].name), Quiet: true}).Answers(code) {
		s.owed = s.owed[1:] // the quiet command got nothing
	}
	if len(s.owed) == 0 {
		return false, "", nil
	}
	c := s.owed[0]
	s.owed = s.owed[1:]
	if c.quiet {
		return false, "", nil // its reply: no request's answer
	}
	return true, memcachedOutcome(c.name, line, code), nil
}

// memcachedOutcome is the outcome of the reply to the command name whose
// first line is line, its first word code.
func memcachedOutcome(name string, line, code []byte) string {
	l := memcache.ReplyLine{Code: code}
	switch {
	case l.IsError():
		return summarize(string(line))
	case name == "get" || name == "gets" || name == "gat" || name == "gats":
		if string(code) == "VALUE" {
			return "hit"
		}
		return "miss"
	case name == "mg":
		if string(code) == "EN" {
			return "miss"
		}
		return "hit"
	case len(code) > 0 && '0' <= code[0] && code[0] <= '9', string(code) == "STAT", string(code) == "VERSION":
		return "OK"
	}
	return string(code)
}

func (s *memcachedSession) login(*liveConn, *Script) error { return nil }

func (s *memcachedSession) rewrite(b []byte) []byte { return b }
