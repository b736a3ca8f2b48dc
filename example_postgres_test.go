package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/gofaults/faults"
)

// startTinyPostgres starts a stand-in for a PostgreSQL server, for the
// examples: it logs anyone in, answers simple queries with the command tag
// of their first word (UPDATE 1 for an UPDATE), keeps the transaction
// status as the server does (an error inside BEGIN aborts the block until
// ROLLBACK or COMMIT, which then rolls back) and answers a DO block, which
// the proxy sends to have an injected error raised, with an error.
func startTinyPostgres() (addr string, stop func()) { return startStandIn(serveTinyPostgres) }

func serveTinyPostgres(c net.Conn) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	for {
		m, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		if _, ok := m.(*pgproto3.StartupMessage); ok {
			break
		}
		if _, err := c.Write([]byte("N")); err != nil { // no SSL, no GSS
			return
		}
	}
	be.Send(&pgproto3.AuthenticationOk{})
	for _, kv := range [][2]string{{"server_version", "15.0"}, {"client_encoding", "UTF8"}, {"standard_conforming_strings", "on"}, {"DateStyle", "ISO, MDY"}, {"TimeZone", "UTC"}} {
		be.Send(&pgproto3.ParameterStatus{Name: kv[0], Value: kv[1]})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	status := byte('I')
	be.Send(&pgproto3.ReadyForQuery{TxStatus: status})
	for {
		if be.Flush() != nil {
			return
		}
		m, err := be.Receive()
		if err != nil {
			return
		}
		q, ok := m.(*pgproto3.Query)
		if !ok {
			if _, ok := m.(*pgproto3.Terminate); ok {
				return
			}
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "0A000", Message: "the stand-in speaks the simple query protocol only"})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: status})
			continue
		}
		word := strings.ToUpper(strings.Fields(q.String + " ;")[0])
		switch {
		case word == "BEGIN":
			status = 'T'
		case word == "COMMIT" && status == 'E':
			word, status = "ROLLBACK", 'I'
		case word == "COMMIT" || word == "ROLLBACK":
			status = 'I'
		case status == 'E':
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "25P02", Message: "current transaction is aborted, commands ignored until end of transaction block"})
			word = ""
		case word == "DO":
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "P0001", Message: "raised by a DO block"})
			if status == 'T' {
				status = 'E'
			}
			word = ""
		case word == "UPDATE" || word == "DELETE":
			word += " 1"
		}
		if word != "" {
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte(word)})
		}
		be.Send(&pgproto3.ReadyForQuery{TxStatus: status})
	}
}

// A PostgreSQL-aware proxy answers chosen statements with the errors a
// real server sends, and leaves the session as the real error does: here
// the first UPDATE of a transfer is a deadlock's victim, the transaction
// block is aborted, and the client rolls back and runs the whole
// transaction again. (A stand-in plays the server, so that the example
// runs anywhere; the proxy works the same in front of PostgreSQL.)
func ExamplePostgres() {
	server, stop := startTinyPostgres()
	defer stop()
	p, err := faults.NewProxy(server, faults.WithProtocol(faults.Postgres()))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	p.Set(faults.Error(faults.PostgresDeadlock).When(faults.Query(`^UPDATE accounts`)).Times(1))

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+p.Addr()+"/test?sslmode=disable")
	if err != nil {
		panic(err)
	}
	defer conn.Close(ctx)
	transfer := func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE accounts SET balance = balance - 30 WHERE id = 'alice'"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "UPDATE accounts SET balance = balance + 30 WHERE id = 'bob'")
		return err
	}
	for attempt := 1; attempt <= 3; attempt++ {
		err := pgx.BeginFunc(ctx, conn, transfer) // BEGIN ... COMMIT, or ROLLBACK on an error
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") {
			fmt.Printf("attempt %d: %s %s %q, hint %q\n", attempt, pe.Severity, pe.Code, pe.Message, pe.Hint)
			continue
		}
		fmt.Printf("attempt %d: %v\n", attempt, err)
		break
	}
	for _, e := range p.Events() {
		fmt.Println("fired:", e.Request, "/", e.Behavior)
	}
	// Output:
	// attempt 1: ERROR 40P01 "deadlock detected", hint "See server log for query details."
	// attempt 2: <nil>
	// fired: Query UPDATE accounts SET balance = balance - 30 WHERE id = 'alice' / Error(PostgresDeadlock).When(Query("^UPDATE accounts")).Times(1)
}
