package faults

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofaults/faults/internal/wire/resp"
)

// RedisReply is an error reply the proxy writes in place of a Redis
// server's answer to one command: a RESP simple error, "-" followed by the
// text and CRLF, read by every client library in either RESP version.
// go-redis returns it as an error whose Error() is the text, and tells the
// kinds apart by the text's first word (LOADING, READONLY, MOVED, ...).
//
// Make one with [RedisError], [RedisMoved] or [RedisAsk], or take one from
// the catalog ([RedisLoading], [RedisReadOnly], ...), whose texts are those
// Redis 7 sends.
type RedisReply struct {
	text string
	name string // the Go expression that made it, for String
}

// RedisError returns a reply with text, the error as the server writes it
// without the leading '-', such as "ERR unknown command". By convention its
// first word, in capitals, is the error's code: clients look at it to
// decide whether to retry or redirect. text must be valid UTF-8, not empty,
// and hold no CR or LF.
func RedisError(text string) RedisReply { return RedisReply{text: text} }

// RedisMoved returns the redirection a Redis Cluster node answers for a
// key whose hash slot another node serves: "MOVED slot addr". A cluster
// client updates its slot map and retries at addr. slot must be in
// [0, 16383], and addr a host:port.
func RedisMoved(slot int, addr string) RedisReply {
	return redisRedirect("MOVED", "RedisMoved", slot, addr)
}

// RedisAsk returns the redirection a Redis Cluster node answers for a key
// of a slot being migrated: "ASK slot addr". A cluster client retries that
// one command at addr, after ASKING, and keeps its slot map.
func RedisAsk(slot int, addr string) RedisReply {
	return redisRedirect("ASK", "RedisAsk", slot, addr)
}

func redisRedirect(code, ctor string, slot int, addr string) RedisReply {
	return RedisReply{
		text: code + " " + strconv.Itoa(slot) + " " + addr,
		name: fmt.Sprintf("%s(%d, %q)", ctor, slot, addr),
	}
}

// The catalog: the errors Redis 7.0 sends in these situations, word for
// word.
var (
	// RedisLoading: the server is loading its dataset after a start or a
	// full resynchronization from its master; it answers nothing else.
	// go-redis retries it.
	RedisLoading = redisCatalogEntry("RedisLoading", "LOADING Redis is loading the dataset in memory")
	// RedisReadOnly: a write sent to a replica, as after a failover that
	// demoted the node a client still writes to. go-redis retries it.
	RedisReadOnly = redisCatalogEntry("RedisReadOnly", "READONLY You can't write against a read only replica.")
	// RedisOOM: a write refused because used memory is over maxmemory
	// and the eviction policy cannot free any.
	RedisOOM = redisCatalogEntry("RedisOOM", "OOM command not allowed when used memory > 'maxmemory'.")
	// RedisBusy: a Lua script has run past busy-reply-threshold; the
	// server answers every other command with this until it ends or is
	// killed.
	RedisBusy = redisCatalogEntry("RedisBusy", "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
	// RedisTryAgain: a multi-key command on a cluster slot being
	// migrated, with its keys split between the nodes. go-redis retries
	// it.
	RedisTryAgain = redisCatalogEntry("RedisTryAgain", "TRYAGAIN Multiple keys request during rehashing of slot")
	// RedisClusterDown: the cluster has lost the majority of its masters
	// or a slot has no node. go-redis retries it.
	RedisClusterDown = redisCatalogEntry("RedisClusterDown", "CLUSTERDOWN The cluster is down")
	// RedisClusterDownSlot: no node serves the key's hash slot.
	RedisClusterDownSlot = redisCatalogEntry("RedisClusterDownSlot", "CLUSTERDOWN Hash slot not served")
	// RedisMasterDown: a replica that has lost its master and is set not
	// to serve stale data.
	RedisMasterDown = redisCatalogEntry("RedisMasterDown", "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
	// RedisNoScript: EVALSHA of a script the server does not have, as
	// after a restart or failover; clients fall back to EVAL.
	RedisNoScript = redisCatalogEntry("RedisNoScript", "NOSCRIPT No matching script. Please use EVAL.")
	// RedisNoAuth: a command before authentication on a server that
	// requires it, as after a password was set.
	RedisNoAuth = redisCatalogEntry("RedisNoAuth", "NOAUTH Authentication required.")
	// RedisMisconf: a write refused because the server could not save
	// its last snapshot (stop-writes-on-bgsave-error).
	RedisMisconf = redisCatalogEntry("RedisMisconf", "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.")
	// RedisMaxClients: the server is at maxclients. A real server sends
	// it in place of the first answer and closes the connection; as a
	// reply to a chosen command it leaves the connection open.
	RedisMaxClients = redisCatalogEntry("RedisMaxClients", "ERR max number of clients reached")
	// RedisExecAbort: EXEC of a transaction in which a queued command
	// was refused.
	RedisExecAbort = redisCatalogEntry("RedisExecAbort", "EXECABORT Transaction discarded because of previous errors.")
	// RedisNoReplicas: a write refused because fewer replicas than
	// min-replicas-to-write are connected.
	RedisNoReplicas = redisCatalogEntry("RedisNoReplicas", "NOREPLICAS Not enough good replicas to write.")
)

// redisCatalog lists the catalog, for String.
var redisCatalog []RedisReply

func redisCatalogEntry(name, text string) RedisReply {
	r := RedisReply{text: text, name: name}
	redisCatalog = append(redisCatalog, r)
	return r
}

// Text returns the error as the server writes it, without '-' and CRLF:
// what go-redis's error says.
func (r RedisReply) Text() string { return r.text }

// Code returns the first word of the text, such as "LOADING".
func (r RedisReply) Code() string {
	code, _, _ := strings.Cut(r.text, " ")
	return code
}

func (RedisReply) protocol() string { return "redis" }

func (r RedisReply) refused() any { return r.text }

// moment is always momentRequest: the proxy answers commands only.
func (RedisReply) moment() replyMoment { return momentRequest }

// endsConnection is false: a server goes on reading commands after an
// error reply.
func (RedisReply) endsConnection() bool { return false }

// String returns the Go expression that makes r: a catalog name (such as
// "RedisLoading"), RedisMoved(...), RedisAsk(...) or RedisError(...).
func (r RedisReply) String() string {
	if r.name != "" {
		return r.name
	}
	for _, e := range redisCatalog {
		if e.text == r.text {
			return e.name
		}
	}
	return "RedisError(" + strconv.Quote(r.text) + ")"
}

// check reports what is wrong with r, or "".
func (r RedisReply) check() string {
	switch {
	case r.text == "":
		return "empty error text"
	case strings.ContainsAny(r.text, "\r\n"):
		return "error text holds CR or LF, which end a RESP simple error"
	case !utf8.ValidString(r.text):
		return "error text is not valid UTF-8"
	}
	if code := r.Code(); code == "MOVED" || code == "ASK" {
		return checkRedisRedirect(r.text)
	}
	return ""
}

func checkRedisRedirect(text string) string {
	f := strings.Fields(text)
	if len(f) != 3 {
		return fmt.Sprintf("%q is not CODE slot host:port", text)
	}
	slot, err := strconv.Atoi(f[1])
	if err != nil || slot < 0 || slot > 16383 {
		return fmt.Sprintf("slot %q is not in [0, 16383]", f[1])
	}
	if i := strings.LastIndexByte(f[2], ':'); i <= 0 || i == len(f[2])-1 {
		return fmt.Sprintf("address %q is not host:port", f[2])
	}
	return ""
}

// encode returns r as a RESP simple error.
func (r RedisReply) encode() []byte {
	return resp.AppendError(make([]byte, 0, len(r.text)+3), r.text)
}
