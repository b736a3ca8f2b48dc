package faults

import "strings"

// Memcached is the protocol of memcached's text protocol (and of the
// servers that speak it: the memcached proxy, mcrouter, Dragonfly ...).
// The proxy frames the client's commands (storage commands with their
// data blocks, multi-key get and gets, cas, incr and decr, touch, gat and
// gats, the meta commands mg, ms, md, ma, mn and me with their flags,
// stats, version ...) and the server's replies, so that request behaviors
// act on single commands: [Error] with a [MemcachedReply] ([MemcachedError],
// [MemcachedClientError], [MemcachedServerError] or the catalog:
// [MemcachedOutOfMemory], [MemcachedTooLarge] ...), [Miss], [DelayRequest],
// [DelayResponse], [DropResponse], [Abort], [TruncateResponse] and
// [SlowResponse], chosen with [Behavior.When], [Command] and [Key] (which
// matches each key of a multi-key get). [Behavior.Probability],
// [Behavior.Times] and [Behavior.After] count commands (keys, for Miss);
// events name the command and its keys ("get user:1 user:2").
//
// Replies stay paired with their commands whatever the proxy does to some
// of them, pipelined or not: a command with noreply is owed nothing, and
// the proxy answers it with nothing either (an error it injects there
// drops the command, which the server never sees, and sends nothing, as
// memcached sends no error to a noreply command). quit is never answered
// with an error: it passes on, and the proxy reads nothing after it, as
// memcached closes the connection there. A quiet meta command (q
// flag) is owed a reply only where memcached sends one: a reply it cannot
// get (EN after a quiet mg, HD after a quiet ms or md, MN after anything
// but mn) belongs to the next command; when a quiet command and the next
// one could both get the same reply (a quiet mg that may hit, then an mg),
// the proxy pairs it with the quiet one, so end runs of quiet commands with
// mn, as clients do. Where the
// proxy answers a command that follows quiet commands still unanswered,
// it sends mn upstream in the command's place and answers in place of
// its MN, so that the server's silence for those is known first.
//
// Errors are faithful where memcached's have effects: a set (or ms)
// refused with [MemcachedOutOfMemory] or [MemcachedTooLarge] removes the
// key's old value, as memcached does so that no stale value outlives a
// failed write: the proxy sends a delete (an md) upstream in the set's
// place, and answers the error in place of its reply. Every other error
// the proxy answers leaves the server untouched: it never sees the
// command.
//
// The binary protocol (deprecated by memcached), and a connection after
// watch or lru_crawler metadump, pass through unframed; so do bytes from
// either side that are not the text protocol, from the first that could
// not be framed on. If the proxy still owed the client a reply of its own,
// the connection closes instead.
//
// Connection, listener and timer behaviors act as on [TCP], and so do
// stream behaviors, on the network between the client and the proxy, as
// on [Redis].
func Memcached() Protocol { return memcachedProtocol{} }

type memcachedProtocol struct{}

func (memcachedProtocol) Name() string { return "memcached" }

func (memcachedProtocol) framed() bool { return true }

func (memcachedProtocol) requestShape() request { return &memcachedRequest{} }

func (memcachedProtocol) supports(b Behavior) error {
	switch b.act.family() {
	case familyListener, familyConnection, familyTimer, familyStream:
		// Stream behaviors act on the client's side (streamconn.go).
		return nil
	case familyRequest:
		if _, ok := b.act.(truncateRows); ok {
			return &UnsupportedError{Behavior: b.String(), Protocol: "memcached", Reason: "memcached replies have no rows; use TruncateResponse"}
		}
		e, ok := b.act.(errorReply)
		if ok && e.reply.protocol() != "memcached" {
			return &UnsupportedError{Behavior: b.String(), Protocol: "memcached", Reason: "the reply is not a memcached error; use MemcachedError, MemcachedClientError, MemcachedServerError or the Memcached* catalog"}
		}
		if ok && e.reply.moment() != momentRequest && len(b.when) > 0 {
			return &UnsupportedError{Behavior: b.String(), Protocol: "memcached", Reason: "the reply answers the connection, before any command the matchers could see; drop When"}
		}
	}
	return nil
}

func (memcachedProtocol) relay(c *conn) { newMemcachedRelay(c).run() }

// memcachedReads are the commands Miss answers.
var memcachedReads = []string{"get", "gets", "gat", "gats", "mg"}

func (memcachedProtocol) isRead(name string) bool {
	for _, r := range memcachedReads {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

func (memcachedProtocol) readNames() string { return "get, gets, gat, gats and mg" }

// memcachedRequest is what matchers see of a memcached command: its name
// and its keys, for [Command] and [Key].
type memcachedRequest struct {
	command string   // the name, as sent (memcached's are lower case)
	keys    []string // each key of a get, gets, gat or gats; the key of other commands that have one
}

// summary is the command's name and its keys: "get user:1 user:2". A line
// with no name shows as a single space.
func (r *memcachedRequest) summary() string {
	if r.command == "" {
		return " "
	}
	n := len(r.command)
	for _, k := range r.keys {
		n += 1 + len(k)
	}
	var b strings.Builder
	b.Grow(min(n, 201))
	b.WriteString(r.command)
	for _, k := range r.keys {
		if b.Len() > 200 {
			break
		}
		b.WriteByte(' ')
		b.WriteString(k)
	}
	return capSummary(b.String())
}

func (r *memcachedRequest) commandName() string { return r.command }

func (r *memcachedRequest) keyList() []string { return r.keys }
