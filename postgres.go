package faults

import "strings"

// Postgres is the protocol of PostgreSQL client connections (protocol 3).
// The proxy frames both directions message by message, so that request
// behaviors act on single statements: a simple Query, or the Execute of
// the extended protocol, whose statement text is that of the Parse it was
// bound from (named prepared statements included, as pgx caches them).
// [Error] with a [PostgresReply], [DelayRequest], [DelayResponse],
// [DropResponse], [Abort], [TruncateResponse], [TruncateRows] and
// [SlowResponse] act per statement, chosen with [Behavior.When], [Query]
// and [InTransaction] (from the status of the server's last
// ReadyForQuery); [Behavior.Probability] is decided per statement.
//
// Encryption cannot be framed: the proxy answers SSLRequest and
// GSSENCRequest with 'N' itself, so a client with sslmode=prefer (pgx's
// default) goes on in clear, and one with sslmode=require (lib/pq's
// default) fails at once with its own error; connect with sslmode=disable
// or prefer. A connection that starts with a TLS handshake (direct TLS)
// and a CancelRequest pass through raw.
//
// An ERROR leaves the server as the real one would: the proxy has the
// server raise it in the statement's place (see [PostgresError]). A
// FATAL ends the connection after it, as the server ends the session; a
// startup error ([PostgresTooManyConnections], [PostgresCannotConnectNow],
// [PostgresInvalidPassword]) answers the StartupMessage, before the server
// hears of the session. Messages the server sends unasked (notices,
// notifications, parameter status) pass through at any time.
//
// Connection, listener and timer behaviors act as on [TCP], and so do
// stream behaviors ([Latency], [Bandwidth], [Stall], [ResetAfterBytes], ...),
// with their TCP meaning, on the network between the client and the proxy:
// on the client's bytes before they are framed (upstream) and on the bytes
// written to the client (downstream); they compose with request behaviors.
func Postgres() Protocol { return postgresProtocol{} }

type postgresProtocol struct{}

func (postgresProtocol) Name() string { return "postgres" }

func (postgresProtocol) framed() bool { return true }

func (postgresProtocol) requestShape() request { return &postgresRequest{} }

func (postgresProtocol) supports(b Behavior) error {
	switch b.act.family() {
	case familyListener, familyConnection, familyTimer, familyStream:
		// Stream behaviors act on the client's side (streamconn.go).
		return nil
	case familyRequest:
		e, ok := b.act.(errorReply)
		if ok && e.reply.protocol() != "postgres" {
			return &UnsupportedError{Behavior: b.String(), Protocol: "postgres", Reason: "the reply is not a PostgreSQL error; use PostgresError or the Postgres* catalog"}
		}
		if ok && e.reply.moment() != momentRequest && len(b.when) > 0 {
			return &UnsupportedError{Behavior: b.String(), Protocol: "postgres", Reason: "the reply answers the StartupMessage, which matchers do not see; drop When"}
		}
		return nil
	}
	return nil
}

func (postgresProtocol) relay(c *conn) { newPostgresRelay(c).run() }

// postgresRequest is what matchers see of a PostgreSQL statement, for
// [Query] and [InTransaction].
type postgresRequest struct {
	kind    string // "Query" or "Execute"; "startup" for the StartupMessage
	sql     string
	inTrans bool
}

// summary is the message and its statement, white space folded:
// "Query SELECT 1".
func (r *postgresRequest) summary() string {
	return capSummary(r.kind + " " + strings.Join(strings.Fields(r.sql), " "))
}

func (r *postgresRequest) statement() (string, bool) { return r.sql, r.kind != "startup" }

func (r *postgresRequest) inTransaction() bool { return r.inTrans }
