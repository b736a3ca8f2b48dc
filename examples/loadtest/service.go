// Package loadtest is a small service over a MySQL or MariaDB connection
// pool, written to recover by itself when its database restarts, and the
// load test that proves it does: calls at a fixed rate through a
// MySQL-aware faults proxy, the database restarted in the middle, errors
// during the outage and none a second after the database is back.
//
// Why it recovers is told at [DSN] (the driver and database/sql discard
// dead connections), [OpenDB] (a bounded pool) and [Service.Get] (a
// deadline on every call); the rest is an ordinary lookup.
package loadtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrNotFound is returned by [Service.Get] when there is no user with the id.
var ErrNotFound = errors.New("loadtest: no such user")

// DefaultCallTimeout is the deadline [Service.Get] puts on a call when its
// Timeout is zero.
const DefaultCallTimeout = 500 * time.Millisecond

// DSN returns the go-sql-driver DSN for user (no password) on database at
// addr, with the timeouts the service relies on. Each bounds a way a
// broken database could otherwise hold a call forever:
//
//   - Timeout bounds the dial: a server that does not answer SYNs (a
//     blackhole) costs a call at most this long.
//   - ReadTimeout and WriteTimeout bound each network read and write on an
//     established connection, in case a call's context has no deadline.
//
// Recovery from a restart comes from database/sql and the driver working
// together: a connection the driver reports as bad (driver.ErrBadConn)
// is discarded, and the call is retried on another one, the last time on
// a new connection. The driver reports a pooled connection as bad only
// when it knows the query was not sent: its first write failed (a
// connection the server reset), or the check it makes before reusing a
// connection found it closed (CheckConnLiveness, on by default; it catches
// connections the server closed cleanly, which a write would not notice).
// So the dead connections a restart leaves in the pool cost no call an
// error; only the queries in flight at the moment of the restart fail, as
// they must (they may have run).
func DSN(addr, user, database string) string {
	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.DBName = database
	cfg.Timeout = time.Second
	cfg.ReadTimeout = 2 * time.Second
	cfg.WriteTimeout = 2 * time.Second
	cfg.CheckConnLiveness = true // the default; stated because recovery relies on it
	return cfg.FormatDSN()
}

// OpenDB opens a pool with dsn, configured for a service that must ride
// out database restarts:
//
//   - MaxOpenConns bounds the connections, so that when the database is
//     slow callers queue for a connection (until their deadline) instead of
//     piling new connections onto a struggling server.
//   - MaxIdleConns keeps enough warm connections for a steady load.
//   - ConnMaxIdleTime and ConnMaxLifetime retire connections regularly, so
//     that none outlives a failover, a proxy or NAT timeout, or the
//     server's wait_timeout by long. They are not what recovers from a
//     restart (the liveness check above is); they bound how long a
//     connection that went bad silently can stay in the pool.
//
// OpenDB does not connect: the pool dials on first use.
func OpenDB(dsn string) (*sql.DB, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(30 * time.Second)
	db.SetConnMaxLifetime(5 * time.Minute)
	return db, nil
}

// User is a row of the users table.
type User struct {
	ID   int64
	Name string
}

// Service looks users up in a table:
//
//	CREATE TABLE <Table> (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL)
//
// It is safe for concurrent use. It keeps no state of its own besides the
// pool, so it needs no reconnect logic: after an outage, the pool's next
// connection is a fresh one.
type Service struct {
	DB      *sql.DB
	Table   string        // a plain identifier; "users" if empty
	Timeout time.Duration // deadline of each call; DefaultCallTimeout if zero
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (s *Service) table() (string, error) {
	t := s.Table
	if t == "" {
		t = "users"
	}
	if !identifier.MatchString(t) {
		return "", fmt.Errorf("loadtest: bad table name %q", t)
	}
	return t, nil
}

// Get returns the user with id, [ErrNotFound] if there is none, or the
// database's error. It gives up after the service's Timeout (or sooner, if
// ctx says so) with an error that wraps [context.DeadlineExceeded]: a
// database that hangs costs each caller a bounded wait, and the pool's
// connections are freed for the calls that come after.
func (s *Service) Get(ctx context.Context, id int64) (User, error) {
	table, err := s.table()
	if err != nil {
		return User{}, err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := User{ID: id}
	err = s.DB.QueryRowContext(ctx, "SELECT name FROM "+table+" WHERE id = ?", id).Scan(&u.Name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, ErrNotFound
	case err != nil:
		return User{}, fmt.Errorf("loadtest: get user %d: %w", id, err)
	}
	return u, nil
}

// CreateTable creates the service's table, if it does not exist, with n
// users: ids 1 to n, named "user-<id>".
func (s *Service) CreateTable(ctx context.Context, n int) error {
	table, err := s.table()
	if err != nil {
		return err
	}
	if _, err := s.DB.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+table+
		" (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL)"); err != nil {
		return fmt.Errorf("loadtest: create table: %w", err)
	}
	for id := 1; id <= n; id++ {
		if _, err := s.DB.ExecContext(ctx, "REPLACE INTO "+table+" (id, name) VALUES (?, ?)",
			id, fmt.Sprintf("user-%d", id)); err != nil {
			return fmt.Errorf("loadtest: insert user %d: %w", id, err)
		}
	}
	return nil
}

// DropTable drops the service's table.
func (s *Service) DropTable(ctx context.Context) error {
	table, err := s.table()
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+table)
	return err
}
