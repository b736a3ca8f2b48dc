package faults_test

import (
	"context"
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

// The pattern the README suggests, a deadlock on COMMIT inside a
// transaction, leaves no transaction open: none of its writes ever lands,
// not even when the pooled connection's next transaction commits.
func TestMySQLDeadlockOnCommitLeavesNothing(t *testing.T) {
	table, direct := mysqlTable(t, "commitdl", "id INT PRIMARY KEY")
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "")
	db.SetMaxOpenConns(1) // the next transaction reuses the connection
	ctx := mysqlCtx(t, 20*time.Second)
	mustSet(t, p, faults.Error(faults.MySQLDeadlock).When(faults.Query(`^COMMIT`), faults.InTransaction()).Times(1))
	if err := db.PingContext(ctx); err != nil { // a statement before the rule can see a transaction
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	checkDriverError(t, "COMMIT", tx.Commit(), faults.MySQLDeadlock)
	var inTrans int
	if err := db.QueryRowContext(ctx, "SELECT @@in_transaction").Scan(&inTrans); err != nil || inTrans != 0 {
		t.Fatalf("after the failed COMMIT: @@in_transaction = %d, %v; want 0", inTrans, err)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("the next transaction's COMMIT: %v", err)
	}
	got := queryStrings(t, direct, "SELECT id FROM "+table+" ORDER BY id")
	if fmt.Sprint(got) != "[[2]]" {
		t.Fatalf("rows %v; want only the next transaction's [[2]]", got)
	}
}

// transfer moves amount from account 1 to account 2 in a transaction; if
// wholeRetry, a deadlock retries the transaction from its start, otherwise
// only the failed statement, as a wrong application does.
func transfer(ctx context.Context, db *sql.DB, table string, amount int, wholeRetry bool) error {
	for attempt := 0; attempt < 3; attempt++ {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		err = func() error {
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
				return err
			}
			for _, q := range []string{
				fmt.Sprintf("UPDATE %s SET balance = balance - %d WHERE id = 1", table, amount),
				fmt.Sprintf("UPDATE %s SET balance = balance + %d WHERE id = 2", table, amount),
			} {
				_, err := conn.ExecContext(ctx, q)
				if isDeadlock(err) && !wholeRetry {
					_, err = conn.ExecContext(ctx, q) // retry the statement alone
				}
				if err != nil {
					conn.ExecContext(ctx, "ROLLBACK")
					return err
				}
			}
			_, err := conn.ExecContext(ctx, "COMMIT")
			return err
		}()
		if !isDeadlock(err) {
			return err
		}
	}
	return errors.New("deadlocked three times")
}

func isDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}

// An application that retries only the statement that deadlocked fails
// its check through the proxy, as it would against the real server (the
// debit was rolled back with the transaction, the credit lands alone);
// one that retries the whole transaction passes.
func TestMySQLDeadlockRetryWholeTransaction(t *testing.T) {
	for _, c := range []struct {
		name       string
		wholeRetry bool
		wantSum    int
	}{
		{"retrying the statement", false, 110},
		{"retrying the transaction", true, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			table, direct := mysqlTable(t, "transfer", "id INT PRIMARY KEY, balance INT NOT NULL")
			mysqlExec(t, direct, "INSERT INTO "+table+" VALUES (1, 50), (2, 50)")
			p := startMySQLProxy(t)
			db := openMySQL(t, p.Addr(), "")
			mustSet(t, p, faults.Error(faults.MySQLDeadlock).When(faults.Query(`balance \+`)).Times(1))
			if err := transfer(mysqlCtx(t, 10*time.Second), db, table, 10, c.wholeRetry); err != nil {
				t.Fatalf("transfer: %v", err)
			}
			var sum int
			if err := direct.QueryRow("SELECT SUM(balance) FROM " + table).Scan(&sum); err != nil {
				t.Fatal(err)
			}
			if sum != c.wantSum {
				t.Fatalf("balances sum to %d after the transfer; want %d", sum, c.wantSum)
			}
			checkInjected(t, p, 1)
		})
	}
}

// A statement that spans packets (20 MiB: two of 16 MiB and the rest) and
// that the proxy answers is dropped whole, and the ERR follows its last
// packet, so the connection stays usable; Query matches the end of the
// text, past the first packet. A statement longer than the proxy's buffer
// but of one packet is matched by its whole text too.
func TestMySQLLongStatementAnsweredWhole(t *testing.T) {
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "maxAllowedPacket=67108864")
	ctx := mysqlCtx(t, 30*time.Second)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustSet(t, p, faults.Error(faults.MySQLDuplicateKey).When(faults.Query(`'end-marker'\)$`)))
	for _, size := range []int{20 << 20, 200 << 10} {
		stmt := "SELECT LENGTH('" + strings.Repeat("x", size) + "'), ('end-marker')"
		_, err := conn.ExecContext(ctx, stmt)
		checkDriverError(t, fmt.Sprintf("a %d-byte statement", len(stmt)), err, faults.MySQLDuplicateKey)
		var one int
		if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("after the %d-byte statement: SELECT 1 = %d, %v", len(stmt), one, err)
		}
	}
	checkInjected(t, p, 2)
}

// An error that ends the session on the server ends it through the proxy
// too, after the ERR: the server rolls back the open transaction.
func TestMySQLShutdownErrorEndsTheSession(t *testing.T) {
	table, direct := mysqlTable(t, "shutdown", "id INT PRIMARY KEY")
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 20*time.Second)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustSet(t, p, faults.Error(faults.MySQLServerShutdown).When(faults.Query(`^SELECT 2`)))
	id := mysqlConnID(t, conn)
	mysqlExec(t, conn, "BEGIN")
	mysqlExec(t, conn, "INSERT INTO "+table+" VALUES (1)")
	_, err = conn.ExecContext(ctx, "SELECT 2")
	checkDriverError(t, "SELECT 2", err, faults.MySQLServerShutdown)
	if _, err := conn.ExecContext(ctx, "SELECT 3"); err == nil {
		t.Fatal("the session went on after the shutdown error")
	}
	mysqlWaitFor(t, direct, "the session's end", "SELECT COUNT(*) = 0 FROM information_schema.PROCESSLIST WHERE ID = ?", id)
	if got := queryStrings(t, direct, "SELECT id FROM "+table); len(got) != 0 {
		t.Fatalf("the open transaction's write landed: %v", got)
	}
}
