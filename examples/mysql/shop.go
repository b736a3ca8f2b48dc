// Package shop is a small repository layer over MySQL or MariaDB, the code
// under test of this example: a checkout that takes stock and records an
// order in one transaction, retried when the server reports a deadlock or a
// lock wait timeout, and bounded by its caller's context.
package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL error numbers that mean "the transaction lost a lock race; running
// it again may succeed".
const (
	ErLockDeadlock    = 1213 // ER_LOCK_DEADLOCK, SQLSTATE 40001: the server rolled the transaction back
	ErLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT, SQLSTATE HY000: the statement gave up waiting
)

// ErrOutOfStock is returned by Checkout when there is less stock than asked for.
var ErrOutOfStock = errors.New("shop: out of stock")

// Store keeps stock and orders in two tables:
//
//	CREATE TABLE <Stock>  (sku VARCHAR(64) PRIMARY KEY, qty INT NOT NULL)
//	CREATE TABLE <Orders> (id VARCHAR(64) PRIMARY KEY, sku VARCHAR(64) NOT NULL, qty INT NOT NULL)
//
// The zero values of the optional fields give table names "stock" and
// "orders", 3 retries and a 50 ms first backoff.
type Store struct {
	DB *sql.DB

	Stock  string // stock table; "stock" if empty
	Orders string // orders table; "orders" if empty

	MaxRetries int           // retries after a deadlock or lock wait timeout; 3 if 0, none if negative
	Backoff    time.Duration // wait before the first retry, doubled before each next one; 50 ms if 0

	// OnRetry, if set, is called before each retry with the attempt that
	// failed (1 for the first) and its error.
	OnRetry func(attempt int, err error)
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (s *Store) tables() (stock, orders string, err error) {
	stock, orders = s.Stock, s.Orders
	if stock == "" {
		stock = "stock"
	}
	if orders == "" {
		orders = "orders"
	}
	if !identifier.MatchString(stock) || !identifier.MatchString(orders) {
		return "", "", fmt.Errorf("shop: bad table names %q, %q", stock, orders)
	}
	return stock, orders, nil
}

// CreateTables creates the store's tables if they do not exist.
func (s *Store) CreateTables(ctx context.Context) error {
	stock, orders, err := s.tables()
	if err != nil {
		return err
	}
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS " + stock + " (sku VARCHAR(64) PRIMARY KEY, qty INT NOT NULL) ENGINE=InnoDB",
		"CREATE TABLE IF NOT EXISTS " + orders + " (id VARCHAR(64) PRIMARY KEY, sku VARCHAR(64) NOT NULL, qty INT NOT NULL) ENGINE=InnoDB",
	} {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("shop: create tables: %w", err)
		}
	}
	return nil
}

// DropTables drops the store's tables.
func (s *Store) DropTables(ctx context.Context) error {
	stock, orders, err := s.tables()
	if err != nil {
		return err
	}
	if _, err := s.DB.ExecContext(ctx, "DROP TABLE IF EXISTS "+stock+", "+orders); err != nil {
		return fmt.Errorf("shop: drop tables: %w", err)
	}
	return nil
}

// AddStock sets the stock of sku to qty.
func (s *Store) AddStock(ctx context.Context, sku string, qty int) error {
	stock, _, err := s.tables()
	if err != nil {
		return err
	}
	_, err = s.DB.ExecContext(ctx, "INSERT INTO "+stock+" (sku, qty) VALUES (?, ?) ON DUPLICATE KEY UPDATE qty = VALUES(qty)", sku, qty)
	if err != nil {
		return fmt.Errorf("shop: add stock: %w", err)
	}
	return nil
}

// StockOf returns the stock of sku.
func (s *Store) StockOf(ctx context.Context, sku string) (int, error) {
	stock, _, err := s.tables()
	if err != nil {
		return 0, err
	}
	var qty int
	if err := s.DB.QueryRowContext(ctx, "SELECT qty FROM "+stock+" WHERE sku = ?", sku).Scan(&qty); err != nil {
		return 0, fmt.Errorf("shop: stock of %s: %w", sku, err)
	}
	return qty, nil
}

// Checkout takes qty of sku from the stock and records order orderID, in
// one transaction:
//
//	SELECT qty FROM stock WHERE sku = ? FOR UPDATE
//	UPDATE stock SET qty = qty - ? WHERE sku = ?
//	INSERT INTO orders (id, sku, qty) VALUES (?, ?, ?)
//	COMMIT
//
// A deadlock (1213) or lock wait timeout (1205) rolls the transaction back
// and runs it again, up to MaxRetries times, after a backoff doubled each
// time; a backoff that would outlast ctx's deadline is not started. Any
// other error (a lost connection, ctx done, ErrOutOfStock) is returned at
// once: a transaction cut off at COMMIT may have been committed, and only
// the caller can tell whether to try again. The error returned wraps the
// driver's (a *mysql.MySQLError for a server error).
func (s *Store) Checkout(ctx context.Context, orderID, sku string, qty int) error {
	retries, backoff := s.MaxRetries, s.Backoff
	if retries == 0 {
		retries = 3
	} else if retries < 0 {
		retries = 0
	}
	if backoff == 0 {
		backoff = 50 * time.Millisecond
	}
	for attempt := 1; ; attempt++ {
		err := s.checkoutOnce(ctx, orderID, sku, qty)
		if err == nil || !Retryable(err) || attempt > retries {
			if err != nil && attempt > 1 {
				return fmt.Errorf("shop: checkout %s after %d attempts: %w", orderID, attempt, err)
			}
			if err != nil {
				return fmt.Errorf("shop: checkout %s: %w", orderID, err)
			}
			return nil
		}
		if s.OnRetry != nil {
			s.OnRetry(attempt, err)
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < backoff {
			return fmt.Errorf("shop: checkout %s: no time left to retry: %w", orderID, err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("shop: checkout %s: %w (while waiting to retry after: %w)", orderID, ctx.Err(), err)
		case <-t.C:
		}
		backoff *= 2
	}
}

// Retryable reports whether err is a server error after which the whole
// transaction can be run again: a deadlock or a lock wait timeout.
func Retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == ErLockDeadlock || me.Number == ErLockWaitTimeout)
}

func (s *Store) checkoutOnce(ctx context.Context, orderID, sku string, qty int) (err error) {
	stock, orders, err := s.tables()
	if err != nil {
		return err
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback() // after a lost connection the server has rolled back already
		}
	}()
	var have int
	if err := tx.QueryRowContext(ctx, "SELECT qty FROM "+stock+" WHERE sku = ? FOR UPDATE", sku).Scan(&have); err != nil {
		return err
	}
	if have < qty {
		return ErrOutOfStock
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+stock+" SET qty = qty - ? WHERE sku = ?", qty, sku); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+orders+" (id, sku, qty) VALUES (?, ?, ?)", orderID, sku, qty); err != nil {
		return err
	}
	return tx.Commit()
}
