package faults

import "strings"

// MySQL is the protocol of MySQL and MariaDB client connections. The proxy
// frames the client's commands, so that request behaviors act on single
// statements: [Error] with a [MySQLReply] (an ERR packet, as the server
// would send it), [DelayRequest], [DelayResponse], [DropResponse],
// [Abort], [TruncateResponse], [TruncateRows] and [SlowResponse], chosen with
// [Behavior.When] and [Query]. [Behavior.Probability] is decided per
// statement. A prepared statement is decided at each execution, by the
// text it was prepared with; its preparation (COM_STMT_PREPARE) is never
// matched by [Query], so that a statement prepared and executed (as
// database/sql does for a query with arguments) is faulted once.
//
// The handshake passes through, except that the proxy clears the TLS and
// compression capabilities from the server's greeting (and MySQL 8's
// optional result-set metadata and query attributes, which change the
// shape of answers), so that clients never switch the session to them: a client that insists on TLS fails to
// connect instead of bypassing the proxy's framing. Authentication plugins
// (mysql_native_password, caching_sha2_password, ed25519, auth switches)
// pass through untouched.
//
// Errors are answered when they are due on the wire: [MySQLTooManyConnections]
// in place of the server's greeting, [MySQLAccessDenied] in answer to the
// client's login, and any other [MySQLReply] in answer to a statement,
// which then never reaches the server; the connection stays usable, as
// after a real error. Commands that have no answer (COM_QUIT,
// COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA) are never faulted.
//
// The server's answers are forwarded as they arrive; a client that does not
// wait for one answer before sending its next command (no MySQL client
// library does) is not supported.
//
// Connection, listener and timer behaviors act as on [TCP], and so do
// stream behaviors ([Latency], [Bandwidth], [Stall], [ResetAfterBytes], ...),
// with their TCP meaning, on the network between the client and the proxy:
// on the client's bytes before they are framed (upstream) and on the bytes
// written to the client (downstream); they compose with request behaviors.
func MySQL() Protocol { return mysqlProtocol{} }

type mysqlProtocol struct{}

func (mysqlProtocol) Name() string { return "mysql" }

func (mysqlProtocol) framed() bool { return true }

func (mysqlProtocol) requestShape() request { return &mysqlRequest{} }

func (mysqlProtocol) supports(b Behavior) error {
	switch b.act.family() {
	case familyListener, familyConnection, familyTimer, familyStream:
		// Stream behaviors act on the client's side (streamconn.go).
		return nil
	case familyRequest:
		e, ok := b.act.(errorReply)
		if ok && e.reply.protocol() != "mysql" {
			return &UnsupportedError{Behavior: b.String(), Protocol: "mysql", Reason: "the reply is not a MySQL error; use MySQLError or the MySQL* catalog"}
		}
		if ok && e.reply.moment() != momentRequest && len(b.when) > 0 {
			// A handshake has no statement: the matchers would never match.
			return &UnsupportedError{Behavior: b.String(), Protocol: "mysql", Reason: "the reply answers the handshake, which matchers do not see; drop When"}
		}
		return nil
	}
	return nil
}

func (mysqlProtocol) relay(c *conn) { newMySQLRelay(c).run() }

// mysqlRequest is what matchers see of a MySQL command: its SQL text and
// whether a transaction was open, for [Query] and [InTransaction].
type mysqlRequest struct {
	command string // the command's name, such as "COM_QUERY"
	query   string // the SQL text it runs: a COM_QUERY's, or the text a COM_STMT_EXECUTE's statement was prepared with
	prepare string // the text a COM_STMT_PREPARE prepares, which names it but is not matched
	inTrans bool   // sent inside a transaction
}

// summary is the command's name and its text, whitespace folded:
// "COM_QUERY UPDATE stock SET …". A preparation shows its text as sent.
func (r *mysqlRequest) summary() string {
	if r.query != "" {
		return capSummary(r.command + " " + strings.Join(strings.Fields(r.query), " "))
	}
	return capSummary(r.command + " " + r.prepare)
}

func (r *mysqlRequest) statement() (string, bool) { return r.query, r.query != "" }

func (r *mysqlRequest) inTransaction() bool { return r.inTrans }

// mysqlHandshake is what matchers see of a connection's handshake, when
// the errors due at the greeting and at the login are decided. No matcher
// matches it; it is not counted as a request.
type mysqlHandshake struct{}

func (mysqlHandshake) summary() string { return "handshake " }
