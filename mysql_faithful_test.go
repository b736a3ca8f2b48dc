package faults_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults"
)

// afterError is what a client and another session can observe of a
// session that got an error on a statement inside a transaction, after an
// earlier write in it.
type afterError struct {
	number       uint16 // the error the statement got
	inTrans      bool   // the session is still in a transaction (@@in_transaction)
	lockHeld     bool   // another session cannot lock the row of the earlier write
	earlierLands bool   // retrying only the statement, then COMMIT, lands the earlier write
}

// observeAfterError runs, on victim, BEGIN, an earlier write of row 3 and
// the failing statement (an update of row 1), which fail must make fail
// (it is called with the statement's context running, and returns when
// the statement has failed); then it observes the session as afterError
// says, retrying only the statement and committing, as a naive application
// would.
func observeAfterError(t *testing.T, table string, direct *sql.DB, victim *sql.Conn, fail func(stmt func() error) error) afterError {
	t.Helper()
	ctx := mysqlCtx(t, 30*time.Second)
	mysqlExec(t, direct, "UPDATE "+table+" SET v = 0")
	mysqlExec(t, victim, "BEGIN")
	mysqlExec(t, victim, "UPDATE "+table+" SET v = 1 WHERE id = 3")
	stmt := func() error {
		_, err := victim.ExecContext(ctx, "UPDATE "+table+" SET v = 1 WHERE id = 1")
		return err
	}
	err := fail(stmt)
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("the statement's error %v is not a server's error", err)
	}
	var got afterError
	got.number = me.Number
	var inTrans int
	if err := victim.QueryRowContext(ctx, "SELECT @@in_transaction").Scan(&inTrans); err != nil {
		t.Fatalf("reading @@in_transaction: %v", err)
	}
	got.inTrans = inTrans == 1
	other := mysqlConn(t, direct)
	mysqlExec(t, other, "BEGIN")
	_, lockErr := other.ExecContext(ctx, "SELECT v FROM "+table+" WHERE id = 3 FOR UPDATE NOWAIT")
	got.lockHeld = lockErr != nil
	mysqlExec(t, other, "ROLLBACK")
	// The naive retry: the statement alone, then COMMIT.
	if err := stmt(); err != nil {
		t.Fatalf("retrying the statement: %v", err)
	}
	mysqlExec(t, victim, "COMMIT")
	var v int
	if err := direct.QueryRowContext(ctx, "SELECT v FROM "+table+" WHERE id = 3").Scan(&v); err != nil {
		t.Fatal(err)
	}
	got.earlierLands = v == 1
	return got
}

// mysqlSessionConn takes a connection of a fresh pool on addr.
func mysqlSessionConn(t *testing.T, addr string) *sql.Conn {
	t.Helper()
	return mysqlConn(t, openMySQL(t, addr, "readTimeout=20s"))
}

// An injected error leaves the victim's session, its transaction and
// other sessions as the real error does: a deadlock rolls back the whole
// transaction and frees its locks, a lock wait timeout only the statement.
// Each real error is provoked on the real server, then the same statement
// gets the injected one through the proxy, and what a client and another
// session observe is compared.
func TestMySQLInjectedErrorsLeaveTheRealState(t *testing.T) {
	table, direct := mysqlTable(t, "faithful", "id INT PRIMARY KEY, v INT NOT NULL")
	var rows []string
	for id := 1; id <= 20; id++ {
		rows = append(rows, fmt.Sprintf("(%d, 0)", id))
	}
	mysqlExec(t, direct, "INSERT INTO "+table+" VALUES "+strings.Join(rows, ", "))
	ctx := mysqlCtx(t, 60*time.Second)

	type scenario struct {
		name   string
		real   func(t *testing.T, victim *sql.Conn) func(stmt func() error) error
		inject faults.MySQLReply
		want   afterError
	}
	scenarios := []scenario{
		{
			name: "deadlock",
			real: func(t *testing.T, victim *sql.Conn) func(stmt func() error) error {
				return func(stmt func() error) error {
					other := mysqlConn(t, direct)
					mysqlExec(t, other, "BEGIN")
					mysqlExec(t, other, "UPDATE "+table+" SET v = 2 WHERE id >= 4")
					mysqlExec(t, other, "UPDATE "+table+" SET v = 2 WHERE id = 2")
					// The victim locks row 1, then waits for row 2, which
					// the other holds; the other then waits for row 1.
					if _, err := victim.ExecContext(ctx, "UPDATE "+table+" SET v = 1 WHERE id = 1"); err != nil {
						t.Fatalf("the victim's lock of row 1: %v", err)
					}
					victimID := mysqlConnID(t, victim)
					errs := make(chan error, 1)
					go func() {
						_, err := victim.ExecContext(ctx, "UPDATE "+table+" SET v = 1 WHERE id = 2")
						errs <- err
					}()
					mysqlWaitFor(t, direct, "the victim's lock wait",
						"SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'", victimID)
					_, otherErr := other.ExecContext(ctx, "UPDATE "+table+" SET v = 2 WHERE id = 1")
					err := <-errs
					mysqlExec(t, other, "ROLLBACK")
					if otherErr != nil {
						t.Fatalf("InnoDB rolled back the other transaction (%v), not the victim's (%v)", otherErr, err)
					}
					return err
				}
			},
			inject: faults.MySQLDeadlock,
			want:   afterError{number: 1213, inTrans: false, lockHeld: false, earlierLands: false},
		},
		{
			name: "lock wait timeout",
			real: func(t *testing.T, victim *sql.Conn) func(stmt func() error) error {
				return func(stmt func() error) error {
					other := mysqlConn(t, direct)
					mysqlExec(t, other, "BEGIN")
					mysqlExec(t, other, "SELECT v FROM "+table+" WHERE id = 1 FOR UPDATE")
					mysqlExec(t, victim, "SET SESSION innodb_lock_wait_timeout = 1")
					err := stmt()
					mysqlExec(t, victim, "SET SESSION innodb_lock_wait_timeout = DEFAULT")
					mysqlExec(t, other, "ROLLBACK")
					return err
				}
			},
			inject: faults.MySQLLockWaitTimeout,
			want:   afterError{number: 1205, inTrans: true, lockHeld: true, earlierLands: true},
		},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			victim := mysqlSessionConn(t, mysqlAddr(t))
			real := observeAfterError(t, table, direct, victim, sc.real(t, victim))
			p := startMySQLProxy(t)
			mustSet(t, p, faults.Error(sc.inject).When(faults.Query(`WHERE id = 1$`)).Times(1))
			injected := observeAfterError(t, table, direct, mysqlSessionConn(t, p.Addr()), func(stmt func() error) error { return stmt() })
			t.Logf("real: %+v; injected: %+v", real, injected)
			if real != sc.want {
				t.Errorf("the real error left %+v, expected %+v", real, sc.want)
			}
			if injected != real {
				t.Errorf("the injected error left %+v, the real one %+v", injected, real)
			}
		})
	}
}
