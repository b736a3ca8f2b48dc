package faults

import (
	"fmt"
	"unicode/utf8"

	"github.com/gofaults/faults/internal/wire/mysqlwire"
)

// MySQLReply is an ERR packet the proxy writes in place of a MySQL or
// MariaDB server's answer: an error number, a SQLSTATE and a message, as
// client libraries report them (go-sql-driver/mysql as a *mysql.MySQLError
// with Number, SQLState and Message). Make one with [MySQLError], or take
// one from the catalog ([MySQLDeadlock], [MySQLLockWaitTimeout], ...),
// whose texts are those MariaDB 10.11 sends.
type MySQLReply struct {
	number   uint16
	sqlstate string
	message  string
}

// MySQLError returns a reply with error number, SQLSTATE and message, such
// as MySQLError(1213, "40001", "Deadlock found when trying to get lock;
// try restarting transaction"). number must not be 0 (no error) or 0xFFFF
// (MariaDB's progress reports), sqlstate must be 5 ASCII letters or
// digits, and message valid UTF-8 of at most 511 bytes (clients keep 511;
// MySQL's MYSQL_ERRMSG_SIZE is 512 with the final NUL).
//
// The proxy leaves the server as the real error of that number leaves it
// (see the catalog): the statement never runs; for 1213 (deadlock) and
// 1614 (XA deadlock) the transaction is rolled back too, the proxy sending
// ROLLBACK in the statement's place and swallowing its answer; for 1053
// (server shutdown) and 1927 (connection killed) the session ends, the
// proxy closing the connection after the ERR packet, upon which the server
// rolls back what was open.
func MySQLError(number uint16, sqlstate, message string) MySQLReply {
	return MySQLReply{number: number, sqlstate: sqlstate, message: message}
}

// mysqlMaxErrorMessage is the longest message a client keeps whole.
const mysqlMaxErrorMessage = 511

// Number returns r's error number.
func (r MySQLReply) Number() uint16 { return r.number }

// SQLState returns r's SQLSTATE.
func (r MySQLReply) SQLState() string { return r.sqlstate }

// Message returns r's message.
func (r MySQLReply) Message() string { return r.message }

func (MySQLReply) protocol() string { return "mysql" }

// mysqlUndo is what a real error undoes on the server, besides the
// statement it answers, which never runs.
type mysqlUndo uint8

const (
	undoesStatement   mysqlUndo = iota // nothing more: the session and its transaction go on
	undoesTransaction                  // the whole transaction is rolled back and its locks released
	undoesSession                      // the server ends the session
)

// undoes says what the real error of r's number undoes on the server.
// A lock wait timeout (1205) undoes the statement only, as with
// innodb_rollback_on_timeout off, the server's default.
func (r MySQLReply) undoes() mysqlUndo {
	switch r.number {
	case 1213, 1614: // ER_LOCK_DEADLOCK, ER_XA_RBDEADLOCK
		return undoesTransaction
	case 1053, 1927: // ER_SERVER_SHUTDOWN, ER_CONNECTION_KILLED
		return undoesSession
	}
	return undoesStatement
}

func (r MySQLReply) refused() any { return r.number }

// moment places r where a server sends it: too many connections in place
// of the greeting, access denied in answer to the login, any other error
// in answer to a statement.
func (r MySQLReply) moment() replyMoment {
	switch r.number {
	case MySQLTooManyConnections.number:
		return momentGreeting
	case MySQLAccessDenied.number:
		return momentLogin
	}
	return momentRequest
}

// endsConnection reports whether r is a handshake error, after which the
// server closes the connection; after a statement's error it stays open.
func (r MySQLReply) endsConnection() bool { return r.moment() != momentRequest }

// String returns the catalog name of r if it is one of the catalog's
// replies (such as "MySQLDeadlock"), else MySQLError(...) with its values.
func (r MySQLReply) String() string {
	for _, e := range mysqlCatalog {
		if *e.reply == r {
			return e.name
		}
	}
	return fmt.Sprintf("MySQLError(%d, %q, %q)", r.number, r.sqlstate, r.message)
}

// check reports what is wrong with r, or "".
func (r MySQLReply) check() string {
	switch {
	case r.number == 0:
		return "error number 0 is not an error"
	case r.number == 0xffff:
		return "error number 65535 is MariaDB's progress report, not an error"
	case len(r.sqlstate) != 5:
		return fmt.Sprintf("SQLSTATE %q is not 5 characters", r.sqlstate)
	case len(r.message) > mysqlMaxErrorMessage:
		return fmt.Sprintf("message of %d bytes, more than the %d clients keep", len(r.message), mysqlMaxErrorMessage)
	case !utf8.ValidString(r.message):
		return "message is not valid UTF-8"
	}
	for i := 0; i < len(r.sqlstate); i++ {
		c := r.sqlstate[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return fmt.Sprintf("SQLSTATE %q is not 5 ASCII letters or digits", r.sqlstate)
		}
	}
	return ""
}

// encode writes r as an ERR packet with sequence id seq, as a server
// answering a client of protocol 4.1 (CLIENT_PROTOCOL_41) writes it:
// 0xff, the error number (2 bytes, little endian), '#', the SQLSTATE, the
// message. seq is the one after the last packet of the exchange: 1 in
// answer to a command (whose packet is 0), 2 in answer to a handshake
// response (the greeting is 0, the response 1), more after an auth switch
// or a multi-packet command.
func (r MySQLReply) encode(seq byte) []byte {
	return mysqlwire.AppendErr(nil, seq, r.number, r.sqlstate, r.message)
}

// encodeWithoutSQLState writes r as an ERR packet without its SQLSTATE:
// 0xff, the error number, the message. A server writes '#' and the
// SQLSTATE only to a client that announced CLIENT_PROTOCOL_41, so an error
// sent before the client's handshake response, in place of the greeting
// (as, per the MySQL and MariaDB sources, a server at max_connections
// does with 1040, "Too many connections", or one shutting down with
// 1053), is written this way, with sequence id 0. Clients tell the two
// forms apart by the '#'.
func (r MySQLReply) encodeWithoutSQLState(seq byte) []byte {
	return mysqlwire.AppendErrWithoutSQLState(nil, seq, r.number, r.message)
}

// The catalog: replies whose number, SQLSTATE and text are those MariaDB
// 10.11 sends (10.11.19, the server these tests run against, in English).
// Each entry's comment says what the real error undoes on the server, and
// the proxy leaves the server in that state (see [MySQLError]); an entry
// that says nothing undoes only its statement, which through the proxy
// never reaches the server.
// Messages that name an object (a user, a table, a key) name a generic
// one; make a reply naming yours with [MySQLError], as in
// MySQLError(MySQLAccessDenied.Number(), MySQLAccessDenied.SQLState(), "Access denied for user 'app'@'10.0.0.7' (using password: YES)").
//
// Verified against the real server (the package's tests provoke each and
// compare number, SQLSTATE and message; the text exactly, or for a generic
// one its shape with the quoted names replaced):
//
//	MySQLDeadlock, MySQLLockWaitTimeout, MySQLQueryInterrupted,
//	MySQLQueryTimeout, MySQLReadOnlyTransaction and MySQLDuplicateKey
//	(exact texts; the duplicate is the test's key 1 on PRIMARY);
//	MySQLTableNotFound (exact for the test's table, shape for the
//	catalog's); MySQLAccessDenied (shape: MariaDB names the host as the
//	client's address, 127.0.0.1 for the tests, under skip_name_resolve).
//
// The proxy writes the server's ERR packets byte for byte, sequence id
// included (checked against a deadlock recorded live and the 1062, 1146
// and 1969 packets of recorded sessions), and go-sql-driver decodes them
// into the *mysql.MySQLError of the reply's number, SQLSTATE and message.
//
// Not provoked (each needs the server reconfigured or stopped, which
// tests sharing a server must not do); number, SQLSTATE and text are
// those of the server's message file (errmsg-utf8.txt, which the tests
// compare when the server's copy is installed):
//
//	MySQLTooManyConnections (max_connections), MySQLServerShutdown (a
//	shutdown), MySQLReadOnly (read_only=ON, for a user without READ_ONLY
//	ADMIN).
//
// A connection ended by KILL CONNECTION gets no error at all: MariaDB
// 10.11 closes it, during a statement too (checked with SLEEP and with a
// lock wait), and the client reports a lost connection (2013 for the
// mariadb client, ErrInvalidConn for go-sql-driver). That is a connection
// fault, not a reply; MariaDB's 1927 "Connection was killed" was not seen.
var (
	// MySQLDeadlock is InnoDB's deadlock error (ER_LOCK_DEADLOCK): the
	// server rolls back the victim's whole transaction, its writes and its
	// locks, and the session is out of the transaction; it may be retried
	// from its start. The proxy does the same: it sends ROLLBACK in place
	// of the statement and swallows its answer, so that, as after the real
	// error, an application that retries only the statement and commits
	// loses the transaction's earlier writes.
	MySQLDeadlock = MySQLError(1213, "40001", "Deadlock found when trying to get lock; try restarting transaction")

	// MySQLLockWaitTimeout is InnoDB's lock wait timeout
	// (ER_LOCK_WAIT_TIMEOUT, after innodb_lock_wait_timeout): only the
	// statement is rolled back, unless innodb_rollback_on_timeout is set;
	// the transaction, its earlier writes and its locks stay. The proxy
	// drops the statement and leaves the rest as it is (as with
	// innodb_rollback_on_timeout off, the default).
	MySQLLockWaitTimeout = MySQLError(1205, "HY000", "Lock wait timeout exceeded; try restarting transaction")

	// MySQLTooManyConnections is the refusal of a server at
	// max_connections (ER_CON_COUNT_ERROR). A server sends it in place of
	// its greeting, without the SQLSTATE (as the server sends it there), and
	// closes the connection; go-sql-driver then reports a SQLSTATE of 5
	// zero bytes.
	MySQLTooManyConnections = MySQLError(1040, "08004", "Too many connections")

	// MySQLAccessDenied is a failed login (ER_ACCESS_DENIED_ERROR), in
	// answer to the client's handshake response; the server then closes
	// the connection. The real text names the user and host the server
	// saw, and whether a password was given: "Access denied for user
	// '%s'@'%s' (using password: %s)"; this one names root at localhost.
	MySQLAccessDenied = MySQLError(1045, "28000", "Access denied for user 'root'@'localhost' (using password: YES)")

	// MySQLReadOnly is the refusal of a write by a server running with
	// read_only (ER_OPTION_PREVENTS_STATEMENT), as a replica or a primary
	// being failed over answers. MySQL's text says "MySQL server" where
	// MariaDB's says "MariaDB server".
	MySQLReadOnly = MySQLError(1290, "HY000", "The MariaDB server is running with the --read-only option so it cannot execute this statement")

	// MySQLReadOnlyTransaction is the refusal of a write in a READ ONLY
	// transaction (ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION). The
	// statement does not run; the transaction goes on, and so it does
	// through the proxy.
	MySQLReadOnlyTransaction = MySQLError(1792, "25006", "Cannot execute statement in a READ ONLY transaction")

	// MySQLQueryInterrupted is a statement stopped by KILL QUERY
	// (ER_QUERY_INTERRUPTED). The statement ends; the session and its
	// transaction go on, and so they do through the proxy, which never
	// passes the statement on.
	MySQLQueryInterrupted = MySQLError(1317, "70100", "Query execution was interrupted")

	// MySQLQueryTimeout is a statement stopped by MariaDB's
	// max_statement_time (ER_STATEMENT_TIMEOUT). MySQL's max_execution_time
	// gives 3024, "Query execution was interrupted, maximum statement
	// execution time exceeded", instead. As with KILL QUERY, only the
	// statement ends, through the proxy too.
	MySQLQueryTimeout = MySQLError(1969, "70100", "Query execution was interrupted (max_statement_time exceeded)")

	// MySQLServerShutdown is the answer of a server shutting down
	// (ER_SERVER_SHUTDOWN), to a statement or, in place of the greeting
	// and without the SQLSTATE, to a new connection. The server then ends
	// the session, rolling back its open transaction; so does the proxy,
	// closing the connection after the ERR packet.
	MySQLServerShutdown = MySQLError(1053, "08S01", "Server shutdown in progress")

	// MySQLTableNotFound is a statement naming a table that does not
	// exist (ER_NO_SUCH_TABLE). The real text names the table the
	// statement named: "Table '%s.%s' doesn't exist"; this one names
	// test.t.
	MySQLTableNotFound = MySQLError(1146, "42S02", "Table 'test.t' doesn't exist")

	// MySQLDuplicateKey is a write that would duplicate a unique key
	// (ER_DUP_ENTRY). The real text names the value and the key: "Duplicate
	// entry '%s' for key '%s'"; this one names 1 and PRIMARY.
	MySQLDuplicateKey = MySQLError(1062, "23000", "Duplicate entry '1' for key 'PRIMARY'")
)

// mysqlCatalog names the catalog's replies, for String.
var mysqlCatalog = []struct {
	name  string
	reply *MySQLReply
}{
	{"MySQLDeadlock", &MySQLDeadlock},
	{"MySQLLockWaitTimeout", &MySQLLockWaitTimeout},
	{"MySQLTooManyConnections", &MySQLTooManyConnections},
	{"MySQLAccessDenied", &MySQLAccessDenied},
	{"MySQLReadOnly", &MySQLReadOnly},
	{"MySQLReadOnlyTransaction", &MySQLReadOnlyTransaction},
	{"MySQLQueryInterrupted", &MySQLQueryInterrupted},
	{"MySQLQueryTimeout", &MySQLQueryTimeout},
	{"MySQLServerShutdown", &MySQLServerShutdown},
	{"MySQLTableNotFound", &MySQLTableNotFound},
	{"MySQLDuplicateKey", &MySQLDuplicateKey},
}
