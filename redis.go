package faults

// Redis is the protocol of Redis (and Valkey, KeyDB, Dragonfly) client
// connections, RESP2 and RESP3 alike. The proxy frames the client's
// commands and the server's replies, so that request behaviors act on
// single commands: [Error] with a [RedisReply] (an error reply, as the
// server would send it), [Miss] (a nil, as for a key the server does not
// have), [DelayRequest], [DelayResponse], [DropResponse], [Abort],
// [TruncateResponse] and [SlowResponse], chosen with [Behavior.When],
// [Command] and [Key]. [Behavior.Probability], [Behavior.Times] and
// [Behavior.After] count commands (keys of an MGET, for Miss); events name
// the command and its first key.
//
// Miss answers in the RESP version the connection speaks, which the proxy
// learns from the server's reply to HELLO; a read the proxy answers right
// after a HELLO waits for that reply. An MGET some of whose keys are
// missed reaches the server as an MGET of the others (read whole first,
// if it is at most 64 KiB long; a longer one is missed whole or not at
// all, decided on its first key), and the client reads one array, a nil
// in place of each missed key. Reads inside MULTI are not missed: their
// replies come in EXEC's.
//
// Every byte passes through as sent, in batches: a pipeline read in one
// read leaves in one write. Replies stay paired with their commands
// whatever the proxy does to some of them: an error the proxy answers in
// the middle of a pipeline takes exactly that command's place, and the
// command never reaches the server. Pushes (RESP3 '>' values, such as
// client-side caching invalidations) pass through unpaired, wherever they
// fall. The commands after which replies no longer pair with commands
// (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBE counterparts,
// MONITOR, CLIENT REPLY, SYNC, PSYNC) end the framing: the connection
// passes through unframed from there on, in both directions, and request
// behaviors no longer act on it. Inline commands (a line of words, as typed
// into telnet) are framed too; their words are split at spaces, without
// Redis's quoting rules.
//
// Bytes that are not RESP, from either side, end the framing the same way:
// the rest of the connection passes through as it is (a reply the server
// sends before any command, such as "max number of clients reached", goes
// through too). If the proxy still owed the client a reply of its own, the
// connection closes instead.
//
// Connection, listener and timer behaviors act as on [TCP], and so do
// stream behaviors ([Latency], [Bandwidth], [Stall], [ResetAfterBytes], ...),
// with their TCP meaning, on the network between the client and the proxy:
// on the client's bytes before they are framed (upstream) and on the bytes
// written to the client (downstream); they compose with request behaviors.
func Redis() Protocol { return redisProtocol{} }

type redisProtocol struct{}

func (redisProtocol) Name() string { return "redis" }

func (redisProtocol) framed() bool { return true }

func (redisProtocol) requestShape() request { return &redisRequest{} }

func (redisProtocol) supports(b Behavior) error {
	switch b.act.family() {
	case familyListener, familyConnection, familyTimer, familyStream:
		// Stream behaviors act on the client's side (streamconn.go).
		return nil
	case familyRequest:
		if _, ok := b.act.(truncateRows); ok {
			return &UnsupportedError{Behavior: b.String(), Protocol: "redis", Reason: "Redis replies have no rows; use TruncateResponse"}
		}
		if e, ok := b.act.(errorReply); ok && e.reply.protocol() != "redis" {
			return &UnsupportedError{Behavior: b.String(), Protocol: "redis", Reason: "the reply is not a Redis error; use RedisError or the Redis* catalog"}
		}
		return nil
	}
	return nil
}

func (redisProtocol) relay(c *conn) { newRedisRelay(c).run() }

// redisRequest is what matchers see of a Redis command: its name and its
// first argument, for [Command] and [Key].
type redisRequest struct {
	command string // the name, in capitals
	key     string // the first argument
	hasKey  bool   // whether there is one
}

// summary is the command's name and its first argument: "GET session:2".
// A name of zero bytes shows as a single space.
func (r *redisRequest) summary() string {
	switch {
	case r.command == "":
		return " "
	case r.hasKey:
		return capSummary(r.command + " " + r.key)
	}
	return capSummary(r.command)
}

func (r *redisRequest) commandName() string { return r.command }

func (r *redisRequest) firstKey() (string, bool) { return r.key, r.hasKey }
