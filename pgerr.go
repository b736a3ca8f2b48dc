package faults

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gofaults/faults/internal/wire/pgwire"
)

// PostgresReply is an ErrorResponse the proxy writes in place of a
// PostgreSQL server's answer: a severity, a SQLSTATE, a message and
// optionally a detail and a hint, as client libraries report them (pgx
// as a *pgconn.PgError with Severity, Code, Message, Detail and Hint).
// Make one with [PostgresError], refine it with its methods (each returns
// a modified copy), or take one from the catalog ([PostgresDeadlock],
// [PostgresSerializationFailure], ...), whose texts are those PostgreSQL 15
// sends.
type PostgresReply struct {
	fatal   bool
	code    string
	message string
	detail  string
	hint    string
	// Where the server raises it, as its ErrorResponse says (F, L, R).
	file, line, routine string
	startup             bool // answers the StartupMessage rather than a statement
}

// PostgresError returns a reply of severity ERROR with SQLSTATE code and
// message, such as PostgresError("40001", "could not serialize access due
// to concurrent update"). code must be 5 ASCII digits or capital letters,
// not of class 00 (success), 01 (warning) or 02 (no data); message must be
// valid UTF-8 without NUL bytes.
//
// An ERROR leaves the session as the server's own error of that code
// does: the proxy sends, in the statement's place, one that makes the
// server raise it (a DO block), so that a transaction block is aborted
// (every statement gets 25P02 until ROLLBACK) and the implicit transaction
// of a pipeline is rolled back, exactly as after the real error; the
// client reads the reply's fields, not the DO block's.
func PostgresError(code, message string) PostgresReply {
	return PostgresReply{code: code, message: message}
}

// Detail returns r with detail as its DETAIL field.
func (r PostgresReply) Detail(detail string) PostgresReply {
	r.detail = detail
	return r
}

// Hint returns r with hint as its HINT field.
func (r PostgresReply) Hint(hint string) PostgresReply {
	r.hint = hint
	return r
}

// Fatal returns r of severity FATAL: the server ends the session after
// sending it, rolling back what was open, and so does the proxy.
func (r PostgresReply) Fatal() PostgresReply {
	r.fatal = true
	return r
}

// Severity returns "ERROR" or "FATAL".
func (r PostgresReply) Severity() string {
	if r.fatal {
		return "FATAL"
	}
	return "ERROR"
}

// Code returns r's SQLSTATE.
func (r PostgresReply) Code() string { return r.code }

// Message returns r's message.
func (r PostgresReply) Message() string { return r.message }

// DetailText returns r's DETAIL field, "" if none.
func (r PostgresReply) DetailText() string { return r.detail }

// HintText returns r's HINT field, "" if none.
func (r PostgresReply) HintText() string { return r.hint }

func (PostgresReply) protocol() string { return "postgres" }

func (r PostgresReply) refused() any { return r.code }

// moment places r where the server sends it: the startup errors
// (PostgresTooManyConnections, PostgresCannotConnectNow,
// PostgresInvalidPassword) in answer to the StartupMessage, any other in
// answer to a statement.
func (r PostgresReply) moment() replyMoment {
	if r.startup {
		return momentLogin
	}
	return momentRequest
}

func (r PostgresReply) endsConnection() bool { return r.fatal }

// String returns the Go expression that makes r: a catalog name or
// PostgresError(...), followed by the refinements that make r differ from
// it, such as PostgresDeadlock.Detail("process 7 waits for process 9").
func (r PostgresReply) String() string {
	s, base := fmt.Sprintf("PostgresError(%q, %q)", r.code, r.message), PostgresError(r.code, r.message)
	for _, e := range postgresCatalog {
		if e.reply.sameOrigin(r) {
			s, base = e.name, *e.reply
			break
		}
	}
	if r.detail != base.detail {
		s += fmt.Sprintf(".Detail(%q)", r.detail)
	}
	if r.hint != base.hint {
		s += fmt.Sprintf(".Hint(%q)", r.hint)
	}
	if r.fatal && !base.fatal {
		s += ".Fatal()"
	}
	return s
}

// sameOrigin reports whether r and o were made alike, one perhaps refined
// from the other: their fields that no method changes are equal.
func (r PostgresReply) sameOrigin(o PostgresReply) bool {
	return r.code == o.code && r.message == o.message && r.startup == o.startup &&
		r.file == o.file && r.line == o.line && r.routine == o.routine
}

// postgresDollarTag quotes the texts of the DO block that makes the
// server raise an injected error.
const postgresDollarTag = "$faults$"

// check reports what is wrong with r, or "".
func (r PostgresReply) check() string {
	if len(r.code) != 5 {
		return "SQLSTATE must be 5 characters"
	}
	for _, c := range []byte(r.code) {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return "SQLSTATE must be digits and capital letters"
		}
	}
	switch r.code[:2] {
	case "00", "01", "02":
		return "class " + r.code[:2] + " is not an error"
	}
	for _, s := range []string{r.message, r.detail, r.hint} {
		switch {
		case !utf8.ValidString(s):
			return "texts must be valid UTF-8"
		case strings.ContainsRune(s, 0):
			return "texts must not hold NUL bytes"
		case strings.Contains(s, postgresDollarTag):
			return "texts must not hold " + postgresDollarTag
		}
	}
	if r.message == "" {
		return "empty message"
	}
	return ""
}

// fields returns r as an ErrorResponse's fields.
func (r PostgresReply) fields() pgwire.ErrorFields {
	sev := r.Severity()
	return pgwire.ErrorFields{
		Severity: sev, SeverityUnlocalized: sev, Code: r.code, Message: r.message,
		Detail: r.detail, Hint: r.hint, File: r.file, Line: r.line, Routine: r.routine,
	}
}

// encode writes r as an ErrorResponse.
func (r PostgresReply) encode() []byte { return pgwire.AppendErrorResponse(nil, r.fields()) }

// raiseStatement returns a statement that makes the server raise r itself
// (its severity aside: a DO block raises an ERROR).
func (r PostgresReply) raiseStatement() string {
	var b strings.Builder
	b.WriteString("DO " + postgresDollarTag + " BEGIN RAISE EXCEPTION USING ERRCODE = '" + r.code + "', MESSAGE = " + postgresQuote(r.message))
	if r.detail != "" {
		b.WriteString(", DETAIL = " + postgresQuote(r.detail))
	}
	if r.hint != "" {
		b.WriteString(", HINT = " + postgresQuote(r.hint))
	}
	b.WriteString("; END " + postgresDollarTag)
	return b.String()
}

// postgresQuote quotes s as a PL/pgSQL string literal, with standard
// strings (quotes doubled, backslashes as they are).
func postgresQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// The catalog: replies whose severity, SQLSTATE and texts are those
// PostgreSQL 15 sends, with the source file, line and routine its
// ErrorResponse names. Messages that name an object (a relation, a
// constraint, a user) name a generic one; make a reply naming yours with
// [PostgresError].
//
// Each ERROR undoes on the server what the real one does, and the proxy
// leaves the server in that state (see [PostgresError]): the statement
// fails, a transaction block is aborted until ROLLBACK, a pipeline's
// implicit transaction is rolled back. Each FATAL ends the session, the
// server rolling back what was open; the proxy closes the connection after
// sending it.
var (
	// PostgresDeadlock is the deadlock detector's error (40P01): the
	// victim's statement fails and its transaction block is aborted.
	PostgresDeadlock = PostgresReply{code: "40P01", message: "deadlock detected", hint: "See server log for query details.", file: "deadlock.c", line: "1147", routine: "DeadLockReport"}

	// PostgresSerializationFailure is a REPEATABLE READ or SERIALIZABLE
	// transaction's update of a row another transaction changed (40001).
	PostgresSerializationFailure = PostgresReply{code: "40001", message: "could not serialize access due to concurrent update", file: "nodeModifyTable.c", line: "2407", routine: "ExecUpdate"}

	// PostgresLockNotAvailable is SELECT ... FOR UPDATE NOWAIT on a locked
	// row (55P03). The real text names the relation.
	PostgresLockNotAvailable = PostgresReply{code: "55P03", message: `could not obtain lock on row in relation "t"`, file: "heapam.c", line: "4984", routine: "heap_lock_tuple"}

	// PostgresQueryCanceled is a statement canceled by a CancelRequest or
	// pg_cancel_backend (57014).
	PostgresQueryCanceled = PostgresReply{code: "57014", message: "canceling statement due to user request", file: "postgres.c", line: "3349", routine: "ProcessInterrupts"}

	// PostgresStatementTimeout is a statement that ran past
	// statement_timeout (57014).
	PostgresStatementTimeout = PostgresReply{code: "57014", message: "canceling statement due to statement timeout", file: "postgres.c", line: "3319", routine: "ProcessInterrupts"}

	// PostgresReadOnlyTransaction is a write in a READ ONLY transaction or
	// on a hot standby (25006). The real text names the statement's kind:
	// INSERT, UPDATE, DELETE, ...
	PostgresReadOnlyTransaction = PostgresReply{code: "25006", message: "cannot execute INSERT in a read-only transaction", file: "utility.c", line: "414", routine: "PreventCommandIfReadOnly"}

	// PostgresUniqueViolation is a write that would duplicate a unique key
	// (23505). The real text names the constraint, and its detail the key.
	PostgresUniqueViolation = PostgresReply{code: "23505", message: `duplicate key value violates unique constraint "t_pkey"`, detail: "Key (id)=(1) already exists.", file: "nbtinsert.c", line: "664", routine: "_bt_check_unique"}

	// PostgresAdminShutdown is the FATAL of a session ended by
	// pg_terminate_backend or a fast shutdown (57P01).
	PostgresAdminShutdown = PostgresReply{fatal: true, code: "57P01", message: "terminating connection due to administrator command", file: "postgres.c", line: "3211", routine: "ProcessInterrupts"}

	// PostgresTooManyConnections is the refusal of a server at
	// max_connections (FATAL 53300), in answer to the StartupMessage.
	PostgresTooManyConnections = PostgresReply{fatal: true, startup: true, code: "53300", message: "sorry, too many clients already", file: "proc.c", line: "357", routine: "InitProcess"}

	// PostgresCannotConnectNow is the refusal of a server starting up
	// (FATAL 57P03), in answer to the StartupMessage.
	PostgresCannotConnectNow = PostgresReply{fatal: true, startup: true, code: "57P03", message: "the database system is starting up", file: "postmaster.c", line: "2413", routine: "ProcessStartupPacket"}

	// PostgresInvalidPassword is a failed password login (FATAL 28P01),
	// in answer to the StartupMessage. The proxy names the user of the
	// StartupMessage, as the server does; this text names "postgres".
	PostgresInvalidPassword = PostgresReply{fatal: true, startup: true, code: "28P01", message: `password authentication failed for user "postgres"`, file: "auth.c", line: "334", routine: "auth_failed"}
)

// postgresCatalog names the catalog's replies, for String.
var postgresCatalog = []struct {
	name  string
	reply *PostgresReply
}{
	{"PostgresDeadlock", &PostgresDeadlock},
	{"PostgresSerializationFailure", &PostgresSerializationFailure},
	{"PostgresLockNotAvailable", &PostgresLockNotAvailable},
	{"PostgresQueryCanceled", &PostgresQueryCanceled},
	{"PostgresStatementTimeout", &PostgresStatementTimeout},
	{"PostgresReadOnlyTransaction", &PostgresReadOnlyTransaction},
	{"PostgresUniqueViolation", &PostgresUniqueViolation},
	{"PostgresAdminShutdown", &PostgresAdminShutdown},
	{"PostgresTooManyConnections", &PostgresTooManyConnections},
	{"PostgresCannotConnectNow", &PostgresCannotConnectNow},
	{"PostgresInvalidPassword", &PostgresInvalidPassword},
}

// forUser returns r naming user where its text names the catalog's
// generic user (PostgresInvalidPassword).
func (r PostgresReply) forUser(user string) PostgresReply {
	if r.code == PostgresInvalidPassword.code && r.message == PostgresInvalidPassword.message && user != "" {
		r.message = `password authentication failed for user "` + user + `"`
	}
	return r
}
