package faults

import (
	"strconv"
	"strings"

	"github.com/gofaults/faults/internal/wire/memcache"
)

// MemcachedReply is an error line the proxy writes in place of a memcached
// server's reply to one command: ERROR, CLIENT_ERROR and a message, or
// SERVER_ERROR and a message, each ended by CRLF, as memcached writes
// them. It answers any command, a get's values and a meta command's reply
// included (memcached's own errors do). gomemcache reports each as an
// error naming the line ("memcache: unexpected response line ...").
//
// Make one with [MemcachedClientError] or [MemcachedServerError], or take
// one from the catalog ([MemcachedError], [MemcachedOutOfMemory],
// [MemcachedTooLarge], ...), whose texts are those memcached 1.6 sends.
type MemcachedReply struct {
	kind string // "ERROR", "CLIENT_ERROR" or "SERVER_ERROR"
	msg  string // what follows the kind and a space; "" for ERROR alone
	name string // the catalog name, for String
	// greeting: sent in place of anything the server says, at connect,
	// after which the connection closes.
	greeting bool
}

// MemcachedClientError returns the reply "CLIENT_ERROR msg": memcached's
// answer to a command it refuses, such as "bad command line format".
// msg must not be empty, hold no CR or LF, and be at most 1024 bytes.
func MemcachedClientError(msg string) MemcachedReply {
	return MemcachedReply{kind: "CLIENT_ERROR", msg: msg}
}

// MemcachedServerError returns the reply "SERVER_ERROR msg": memcached's
// answer to a command it could not carry out, such as "out of memory
// storing object". msg must not be empty, hold no CR or LF, and be at most
// 1024 bytes.
func MemcachedServerError(msg string) MemcachedReply {
	return MemcachedReply{kind: "SERVER_ERROR", msg: msg}
}

// The catalog: the errors memcached 1.6 sends in these situations, word for
// word.
var (
	// MemcachedError: "ERROR", memcached's answer to a command name it
	// does not know, as a server of another version or a proxy
	// configured without a command answers it.
	MemcachedError = memcachedCatalogEntry("MemcachedError", MemcachedReply{kind: "ERROR"})
	// MemcachedOutOfMemory: a storage command that found no memory for
	// the item, with every slab full and eviction off (-M) or nothing
	// evictable. On a set or an ms it removes the key's old value, as
	// memcached does.
	MemcachedOutOfMemory = memcachedCatalogEntry("MemcachedOutOfMemory", MemcachedReply{kind: "SERVER_ERROR", msg: "out of memory storing object"})
	// MemcachedTooLarge: a value larger than the item size limit (-I,
	// 1 MiB by default). On a set or an ms it removes the key's old
	// value, as memcached does.
	MemcachedTooLarge = memcachedCatalogEntry("MemcachedTooLarge", MemcachedReply{kind: "SERVER_ERROR", msg: "object too large for cache"})
	// MemcachedBadDataChunk: a storage command whose data block did not
	// end where its line said.
	MemcachedBadDataChunk = memcachedCatalogEntry("MemcachedBadDataChunk", MemcachedReply{kind: "CLIENT_ERROR", msg: "bad data chunk"})
	// MemcachedBadFormat: a command line memcached cannot read (a
	// number that is none, a key too long).
	MemcachedBadFormat = memcachedCatalogEntry("MemcachedBadFormat", MemcachedReply{kind: "CLIENT_ERROR", msg: "bad command line format"})
	// MemcachedTooManyConnections: the server is at its connection
	// limit (-c): it sends this at once, in answer to nothing, and
	// closes the connection. The proxy does the same, before the
	// client's first command; When does not apply.
	MemcachedTooManyConnections = memcachedCatalogEntry("MemcachedTooManyConnections", MemcachedReply{kind: "ERROR", msg: "Too many open connections", greeting: true})
)

// unlinks reports whether a set or an ms refused with r removes the key's
// old value, as memcached's own refusals for lack of room do (so that a
// stale value does not outlive a failed write).
func (r MemcachedReply) unlinks() bool {
	return r.kind == "SERVER_ERROR" && (r.msg == MemcachedOutOfMemory.msg || r.msg == MemcachedTooLarge.msg)
}

// memcachedCatalog lists the catalog, for String.
var memcachedCatalog []MemcachedReply

func memcachedCatalogEntry(name string, r MemcachedReply) MemcachedReply {
	r.name = name
	memcachedCatalog = append(memcachedCatalog, r)
	return r
}

// Line returns the reply's line as the server writes it, without CRLF,
// such as "SERVER_ERROR out of memory storing object".
func (r MemcachedReply) Line() string {
	if r.msg == "" {
		return r.kind
	}
	return r.kind + " " + r.msg
}

func (MemcachedReply) protocol() string { return "memcached" }

func (r MemcachedReply) refused() any { return r.msg }

func (r MemcachedReply) moment() replyMoment {
	if r.greeting {
		return momentGreeting
	}
	return momentRequest
}

// endsConnection is true for the greeting alone: memcached goes on
// reading commands after an error line.
func (r MemcachedReply) endsConnection() bool { return r.greeting }

// String returns the Go expression that makes r: a catalog name (such as
// "MemcachedOutOfMemory"), MemcachedClientError(...) or
// MemcachedServerError(...).
func (r MemcachedReply) String() string {
	if r.name != "" {
		return r.name
	}
	for _, e := range memcachedCatalog {
		if e.kind == r.kind && e.msg == r.msg && !e.greeting {
			return e.name
		}
	}
	if r.kind == "CLIENT_ERROR" {
		return "MemcachedClientError(" + strconv.Quote(r.msg) + ")"
	}
	return "MemcachedServerError(" + strconv.Quote(r.msg) + ")"
}

// check reports what is wrong with r, or "".
func (r MemcachedReply) check() string {
	switch {
	case r.kind == "":
		return "the zero MemcachedReply; use MemcachedServerError, MemcachedClientError or the catalog"
	case r.kind == "ERROR":
		return ""
	case r.msg == "":
		return "empty message: memcached's " + r.kind + " always says what went wrong"
	case strings.ContainsAny(r.msg, "\r\n"):
		return "message holds CR or LF, which end a memcached reply line"
	case len(r.msg) > 1024:
		return "message longer than 1024 bytes; clients read reply lines into small buffers"
	}
	return ""
}

// encode returns r as the server writes it.
func (r MemcachedReply) encode() []byte {
	switch r.kind {
	case "CLIENT_ERROR":
		return memcache.AppendClientError(nil, r.msg)
	case "SERVER_ERROR":
		return memcache.AppendServerError(nil, r.msg)
	}
	return append([]byte(r.Line()), '\r', '\n')
}
