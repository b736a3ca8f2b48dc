package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// Settings of the tests: short, so that the file runs in a few seconds.
const (
	backoff    = 20 * time.Millisecond
	maxRetries = 2 // three attempts in all
	sku        = "sku-1"
	startStock = 10
)

// openDB opens a pool to the server (or proxy) at addr, closed at the end
// of the test.
func openDB(t *testing.T, addr string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var tableSeq atomic.Int64

// fixture is one scenario's tables, seen through the proxy (the store under
// test) and directly (to check what the server holds).
type fixture struct {
	store   *Store // through the proxy
	direct  *Store // the same tables, straight to the server
	retries []error
	mu      sync.Mutex
}

// newFixture creates tables with names unique to this test, with
// startStock of sku, and drops them at cleanup.
func newFixture(t *testing.T, viaProxy, direct *sql.DB) *fixture {
	t.Helper()
	suffix := fmt.Sprintf("%d_%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	f := &fixture{}
	f.direct = &Store{DB: direct, Stock: "stock_" + suffix, Orders: "orders_" + suffix}
	f.store = &Store{
		DB: viaProxy, Stock: f.direct.Stock, Orders: f.direct.Orders,
		MaxRetries: maxRetries, Backoff: backoff,
		OnRetry: func(_ int, err error) {
			f.mu.Lock()
			f.retries = append(f.retries, err)
			f.mu.Unlock()
		},
	}
	ctx := context.Background()
	if err := f.direct.CreateTables(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.direct.DropTables(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := f.direct.AddStock(ctx, sku, startStock); err != nil {
		t.Fatal(err)
	}
	return f
}

// retryNumbers is the MySQL error number of each retried attempt.
func (f *fixture) retryNumbers() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ns []int
	for _, err := range f.retries {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			ns = append(ns, int(me.Number))
		} else {
			ns = append(ns, -1)
		}
	}
	return ns
}

// stock is the committed stock of sku, read straight from the server.
func (f *fixture) stock(t *testing.T) int {
	t.Helper()
	n, err := f.direct.StockOf(context.Background(), sku)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// orders counts the committed orders, read straight from the server.
func (f *fixture) orders(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.direct.DB.QueryRow("SELECT COUNT(*) FROM " + f.direct.Orders).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lockedStock takes the stock row's lock straight on the server and returns
// its quantity: it waits for any transaction still holding the lock, so it
// proves that a transaction cut off by the proxy was rolled back.
func (f *fixture) lockedStock(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx, err := f.direct.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT qty FROM "+f.direct.Stock+" WHERE sku = ? FOR UPDATE", sku).Scan(&n); err != nil {
		t.Fatalf("locking the stock row: %v", err)
	}
	return n
}

func mysqlNumber(err error) int {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return int(me.Number)
	}
	return 0
}

// TestCheckoutUnderFaults runs Checkout through one MySQL-aware proxy, one
// failure scenario at a time, and checks both what Checkout returned and
// what the server holds afterwards (read on a direct connection).
func TestCheckoutUnderFaults(t *testing.T) {
	direct := openDB(t, mysqlAddr)
	p := faulttest.NewProxy(t, mysqlAddr, faults.WithProtocol(faults.MySQL()))
	viaProxy := openDB(t, p.Addr())
	ctx := context.Background()

	faulttest.Run(t, p, []faulttest.Scenario{
		{
			Name: "healthy",
			Test: func(t *testing.T) {
				f := newFixture(t, viaProxy, direct)
				before := p.Stats().Injected
				if err := f.store.Checkout(ctx, "o1", sku, 1); err != nil {
					t.Fatalf("Checkout: %v", err)
				}
				if got := f.stock(t); got != startStock-1 {
					t.Errorf("stock = %d, want %d", got, startStock-1)
				}
				if n := f.orders(t); n != 1 {
					t.Errorf("orders = %d, want 1", n)
				}
				if d := p.Stats().Injected - before; d != 0 {
					t.Errorf("%d faults injected, want 0", d)
				}
			},
		},
		{
			// The proxy answers the first two UPDATEs with the server's
			// deadlock error; the server never sees them. Checkout rolls
			// back, waits, and succeeds on its third attempt.
			Name: "deadlock then retry",
			Behaviors: []faults.Behavior{
				faults.Error(faults.MySQLDeadlock).When(faults.Query(`^UPDATE stock`)).Times(2),
			},
			Test: func(t *testing.T) {
				f := newFixture(t, viaProxy, direct)
				before := p.Stats().Injected
				if err := f.store.Checkout(ctx, "o1", sku, 1); err != nil {
					t.Fatalf("Checkout: %v", err)
				}
				if got := f.retryNumbers(); fmt.Sprint(got) != "[1213 1213]" {
					t.Errorf("retried after errors %v, want [1213 1213]", got)
				}
				if got := f.stock(t); got != startStock-1 {
					t.Errorf("stock = %d, want %d: decremented exactly once", got, startStock-1)
				}
				if n := f.orders(t); n != 1 {
					t.Errorf("orders = %d, want 1", n)
				}
				if d := p.Stats().Injected - before; d != 2 {
					t.Errorf("%d faults injected, want 2", d)
				}
			},
		},
		{
			// Every UPDATE times out waiting for its lock: three attempts,
			// then Checkout gives up with the server's error.
			Name: "lock wait timeout beyond the retry budget",
			Behaviors: []faults.Behavior{
				faults.Error(faults.MySQLLockWaitTimeout).When(faults.Query(`^UPDATE stock`)),
			},
			Test: func(t *testing.T) {
				f := newFixture(t, viaProxy, direct)
				before := p.Stats().Injected
				err := f.store.Checkout(ctx, "o1", sku, 1)
				var me *mysql.MySQLError
				if !errors.As(err, &me) || me.Number != 1205 || me.SQLState != [5]byte{'H', 'Y', '0', '0', '0'} {
					t.Fatalf("Checkout = %v, want an error wrapping *mysql.MySQLError 1205 (HY000)", err)
				}
				if got := f.retryNumbers(); fmt.Sprint(got) != "[1205 1205]" {
					t.Errorf("retried after errors %v, want [1205 1205]", got)
				}
				if d := p.Stats().Injected - before; d != maxRetries+1 {
					t.Errorf("%d faults injected, want %d (one per attempt)", d, maxRetries+1)
				}
				if got := f.lockedStock(t); got != startStock {
					t.Errorf("stock = %d, want %d (unchanged)", got, startStock)
				}
				if n := f.orders(t); n != 0 {
					t.Errorf("orders = %d, want 0", n)
				}
			},
		},
		{
			// The server answers the SELECT ... FOR UPDATE at once; the
			// proxy holds the answer for 2 s. Checkout must give up at its
			// 300 ms deadline, and the pool must serve the next call.
			Name: "slow query against a context deadline",
			Behaviors: []faults.Behavior{
				faults.DelayResponse(2 * time.Second).When(faults.Query(`FOR UPDATE`)),
			},
			Test: func(t *testing.T) {
				f := newFixture(t, viaProxy, direct)
				cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
				defer cancel()
				start := time.Now()
				err := f.store.Checkout(cctx, "o1", sku, 1)
				elapsed := time.Since(start)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Checkout = %v, want an error wrapping context.DeadlineExceeded", err)
				}
				if elapsed < 300*time.Millisecond || elapsed > time.Second {
					t.Errorf("Checkout returned after %v, want 300 ms to 1 s", elapsed)
				}
				if r := f.retryNumbers(); len(r) != 0 {
					t.Errorf("retried after %v; a deadline is not retried", r)
				}
				if got := f.lockedStock(t); got != startStock {
					t.Errorf("stock = %d, want %d (unchanged)", got, startStock)
				}

				// The pool still works once the database is fast again.
				if err := p.Reset(); err != nil {
					t.Fatal(err)
				}
				cctx2, cancel2 := context.WithTimeout(ctx, 2*time.Second)
				defer cancel2()
				if err := f.store.Checkout(cctx2, "o2", sku, 1); err != nil {
					t.Fatalf("Checkout after the fault: %v", err)
				}
				if got := f.stock(t); got != startStock-1 {
					t.Errorf("stock = %d, want %d", got, startStock-1)
				}
			},
		},
		{
			// The INSERT reaches the server, then the proxy closes the
			// connection before its answer: the server rolls the whole
			// transaction back, the UPDATE included.
			Name: "connection killed mid-transaction",
			Behaviors: []faults.Behavior{
				faults.Abort().When(faults.Query(`^INSERT INTO orders`)),
			},
			Test: func(t *testing.T) {
				f := newFixture(t, viaProxy, direct)
				before := p.Stats().Injected
				err := f.store.Checkout(ctx, "o1", sku, 1)
				if err == nil {
					t.Fatal("Checkout succeeded through a killed connection")
				}
				if n := mysqlNumber(err); n != 0 {
					t.Errorf("Checkout = %v, a server error %d; want a lost connection", err, n)
				}
				t.Logf("Checkout = %v", err)
				if d := p.Stats().Injected - before; d != 1 {
					t.Errorf("%d faults injected, want 1: a lost connection is not retried", d)
				}
				if got := f.lockedStock(t); got != startStock {
					t.Errorf("stock = %d, want %d: the server rolled the UPDATE back", got, startStock)
				}
				if n := f.orders(t); n != 0 {
					t.Errorf("orders = %d, want 0", n)
				}

				if err := p.Reset(); err != nil {
					t.Fatal(err)
				}
				if err := f.store.Checkout(ctx, "o1", sku, 1); err != nil {
					t.Fatalf("Checkout after the fault: %v", err)
				}
				if got, n := f.stock(t), f.orders(t); got != startStock-1 || n != 1 {
					t.Errorf("stock, orders = %d, %d, want %d, 1", got, n, startStock-1)
				}
			},
		},
		{
			Name: "database restarted mid-load",
			Test: func(t *testing.T) { restartMidLoad(t, p, viaProxy, direct) },
		},
	})
}

// restartMidLoad runs 8 workers calling Checkout in a loop for 3 s and
// restarts the database (Restart(500ms) on the proxy: every connection
// reset, new ones refused for 500 ms) at 0.5 s. Calls may fail only while
// the restart can affect them; from 1 s after the window on, none may.
func restartMidLoad(t *testing.T, p *faults.Proxy, viaProxy, direct *sql.DB) {
	const (
		workers  = 8
		run      = 3 * time.Second
		restartT = 500 * time.Millisecond
		down     = 500 * time.Millisecond
		settled  = restartT + down + time.Second // no error from here on
		stock    = 1_000_000
	)
	f := newFixture(t, viaProxy, direct)
	if err := f.direct.AddStock(context.Background(), sku, stock); err != nil {
		t.Fatal(err)
	}

	type call struct {
		start, end time.Duration
		err        error
	}
	var (
		mu    sync.Mutex
		calls []call
		wg    sync.WaitGroup
	)
	t0 := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(t0) < run; i++ {
				start := time.Since(t0)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := f.store.Checkout(ctx, fmt.Sprintf("w%d-%d", w, i), sku, 1)
				cancel()
				mu.Lock()
				calls = append(calls, call{start, time.Since(t0), err})
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond) // as a real worker would, not spinning on refusals
				}
			}
		}()
	}
	time.Sleep(restartT - time.Since(t0))
	if err := p.Set(faults.Restart(down)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var before, during, after, okAfter int
	var sample []string
	for _, c := range calls {
		switch {
		case c.end < restartT:
			if c.err != nil {
				before++
			}
		case c.start >= settled:
			if c.err != nil {
				after++
				if len(sample) < 5 {
					sample = append(sample, c.err.Error())
				}
			} else {
				okAfter++
			}
		default:
			if c.err != nil {
				during++
			}
		}
	}
	t.Logf("%d calls: %d errors before the restart, %d in the window, %d after it settled (%d successes after)",
		len(calls), before, during, after, okAfter)
	if before != 0 {
		t.Errorf("%d errors before the restart", before)
	}
	if during == 0 {
		t.Errorf("no error during the restart window: the fault did not bite")
	}
	if after != 0 {
		t.Errorf("%d errors from %v on, when the pool should have recovered: %s", after, settled, strings.Join(sample, "; "))
	}
	if okAfter == 0 {
		t.Errorf("no successful call from %v on", settled)
	}
	// Whatever was cut off, each transaction either committed whole or not
	// at all.
	if taken, n := stock-f.lockedStock(t), f.orders(t); taken != n {
		t.Errorf("stock taken %d, orders %d: a transaction was half applied", taken, n)
	}
}
