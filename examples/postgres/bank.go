// Package bank is a small repository layer over PostgreSQL, the code
// under test of this example: accounts and the transfers between them,
// on a pgxpool pool. A transfer is one REPEATABLE READ transaction; when
// the server reports a serialization failure (40001) or a deadlock
// (40P01) the whole transaction is run again, a bounded number of times,
// within its caller's context.
//
// Its tests (bank_test.go) put a [github.com/gofaults/faults]
// PostgreSQL-aware proxy between the pool and a real server and check
// those rules against injected deadlocks, serialization failures, a
// statement timeout, a FATAL and a server restart. See README.md.
package bank

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SQLSTATEs after which running the whole transaction again may succeed:
// the server has aborted it and freed its locks.
const (
	SerializationFailure = "40001" // a REPEATABLE READ transaction lost a race for a row
	DeadlockDetected     = "40P01" // the deadlock detector chose this transaction as its victim
)

// ErrInsufficientFunds is returned by Transfer when the source account
// holds less than the amount.
var ErrInsufficientFunds = errors.New("bank: insufficient funds")

// ErrNoAccount is returned by Transfer and Balance for an account that
// does not exist.
var ErrNoAccount = errors.New("bank: no such account")

// Store keeps accounts and transfers in two tables:
//
//	CREATE TABLE <Accounts>  (id text PRIMARY KEY, balance bigint NOT NULL)
//	CREATE TABLE <Transfers> (id bigserial PRIMARY KEY, from_id text NOT NULL, to_id text NOT NULL, amount bigint NOT NULL)
//
// The zero values of the optional fields give table names "accounts" and
// "transfers", 3 attempts and a 20 ms first backoff.
type Store struct {
	Pool *pgxpool.Pool

	Accounts  string // accounts table; "accounts" if empty
	Transfers string // transfers table; "transfers" if empty

	MaxAttempts int           // runs of a transaction at most, the first included; 3 if 0 or less
	Backoff     time.Duration // wait before the first retry, doubled before each next one; 20 ms if 0

	// OnRetry, if set, is called before each retry with the attempt that
	// failed (1 for the first) and its error.
	OnRetry func(attempt int, err error)
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (s *Store) tables() (accounts, transfers string, err error) {
	accounts, transfers = s.Accounts, s.Transfers
	if accounts == "" {
		accounts = "accounts"
	}
	if transfers == "" {
		transfers = "transfers"
	}
	if !identifier.MatchString(accounts) || !identifier.MatchString(transfers) {
		return "", "", fmt.Errorf("bank: bad table names %q, %q", accounts, transfers)
	}
	return accounts, transfers, nil
}

// CreateTables creates the store's tables if they do not exist.
func (s *Store) CreateTables(ctx context.Context) error {
	accounts, transfers, err := s.tables()
	if err != nil {
		return err
	}
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS " + accounts + " (id text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0))",
		"CREATE TABLE IF NOT EXISTS " + transfers + " (id bigserial PRIMARY KEY, from_id text NOT NULL, to_id text NOT NULL, amount bigint NOT NULL)",
	} {
		if _, err := s.Pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("bank: create tables: %w", err)
		}
	}
	return nil
}

// DropTables drops the store's tables.
func (s *Store) DropTables(ctx context.Context) error {
	accounts, transfers, err := s.tables()
	if err != nil {
		return err
	}
	if _, err := s.Pool.Exec(ctx, "DROP TABLE IF EXISTS "+accounts+", "+transfers); err != nil {
		return fmt.Errorf("bank: drop tables: %w", err)
	}
	return nil
}

// Open creates account id with balance, or sets its balance if it exists.
func (s *Store) Open(ctx context.Context, id string, balance int64) error {
	accounts, _, err := s.tables()
	if err != nil {
		return err
	}
	_, err = s.Pool.Exec(ctx, "INSERT INTO "+accounts+" (id, balance) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance", id, balance)
	if err != nil {
		return fmt.Errorf("bank: open %s: %w", id, err)
	}
	return nil
}

// Balance returns the balance of account id.
func (s *Store) Balance(ctx context.Context, id string) (int64, error) {
	accounts, _, err := s.tables()
	if err != nil {
		return 0, err
	}
	var b int64
	err = s.Pool.QueryRow(ctx, "SELECT balance FROM "+accounts+" WHERE id = $1", id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("bank: balance of %s: %w", id, ErrNoAccount)
	}
	if err != nil {
		return 0, fmt.Errorf("bank: balance of %s: %w", id, err)
	}
	return b, nil
}

// Transfer moves amount from account from to account to and records the
// transfer, in one REPEATABLE READ transaction:
//
//	SELECT id, balance FROM accounts WHERE id IN ($1, $2) ORDER BY id FOR UPDATE
//	UPDATE accounts SET balance = balance - $1 WHERE id = $2
//	UPDATE accounts SET balance = balance + $1 WHERE id = $2
//	INSERT INTO transfers (from_id, to_id, amount) VALUES ($1, $2, $3)
//	COMMIT
//
// (both rows are locked in the order of their ids, so that two transfers
// between the same accounts in opposite directions cannot deadlock each
// other.)
//
// A serialization failure (40001) or a deadlock (40P01), on any statement
// or on COMMIT, means the server aborted the transaction: it is rolled
// back and run again from BEGIN, up to MaxAttempts runs in all, after a
// backoff doubled each time; a backoff that would outlast ctx's deadline
// is not started. Running only the failed statement again would not do:
// in a transaction block every statement after an error fails (25P02)
// until ROLLBACK, and in a pipeline the error has rolled back the
// statements before it.
//
// Any other error is returned at once: ErrInsufficientFunds,
// ErrNoAccount, ctx done, any other server error (a *pgconn.PgError: a
// statement timeout, 57014, or a FATAL such as 57P01, after which pgxpool
// discards the connection), or a lost connection, after which only the
// caller can tell whether to try again, because a transaction cut off
// around COMMIT may have been committed. The error returned wraps the
// driver's.
func (s *Store) Transfer(ctx context.Context, from, to string, amount int64) error {
	if amount <= 0 || from == to {
		return fmt.Errorf("bank: transfer %s→%s of %d: not a transfer", from, to, amount)
	}
	attempts, backoff := s.MaxAttempts, s.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff == 0 {
		backoff = 20 * time.Millisecond
	}
	for attempt := 1; ; attempt++ {
		err := s.transferOnce(ctx, from, to, amount)
		if err == nil {
			return nil
		}
		if !Retryable(err) || attempt == attempts {
			if attempt > 1 {
				return fmt.Errorf("bank: transfer %s→%s after %d attempts: %w", from, to, attempt, err)
			}
			return fmt.Errorf("bank: transfer %s→%s: %w", from, to, err)
		}
		if s.OnRetry != nil {
			s.OnRetry(attempt, err)
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < backoff {
			return fmt.Errorf("bank: transfer %s→%s: no time left to retry: %w", from, to, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("bank: transfer %s→%s: %w (while waiting to retry after: %w)", from, to, ctx.Err(), err)
		case <-t.C:
		}
		backoff *= 2
	}
}

// Retryable reports whether err is a server error after which the whole
// transaction can be run again: a serialization failure or a deadlock.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == SerializationFailure || pe.Code == DeadlockDetected)
}

func (s *Store) transferOnce(ctx context.Context, from, to string, amount int64) error {
	accounts, transfers, err := s.tables()
	if err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id, balance FROM "+accounts+" WHERE id IN ($1, $2) ORDER BY id FOR UPDATE", from, to)
		if err != nil {
			return err
		}
		balances := map[string]int64{}
		for rows.Next() {
			var id string
			var b int64
			if err := rows.Scan(&id, &b); err != nil {
				rows.Close()
				return err
			}
			balances[id] = b
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range []string{from, to} {
			if _, ok := balances[id]; !ok {
				return fmt.Errorf("%w: %s", ErrNoAccount, id)
			}
		}
		if balances[from] < amount {
			return ErrInsufficientFunds
		}
		if _, err := tx.Exec(ctx, "UPDATE "+accounts+" SET balance = balance - $1 WHERE id = $2", amount, from); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE "+accounts+" SET balance = balance + $1 WHERE id = $2", amount, to); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO "+transfers+" (from_id, to_id, amount) VALUES ($1, $2, $3)", from, to, amount)
		return err
	})
}
