package bank

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
	"github.com/gofaults/faults/internal/testenv"
)

// Each test's calls get this long: far more than they need, so that a
// loaded CI machine does not fail a scenario that is not about time.
const callTimeout = 10 * time.Second

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newPool opens a pgxpool pool to addr, closed at cleanup. sslmode=disable
// (sslmode=prefer works too: the proxy refuses SSL and pgx goes on in
// clear).
func newPool(t *testing.T, addr string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.PostgresDSN(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// env is what every scenario gets: a store whose pool goes through the
// proxy, and one over the same tables that goes straight to the server,
// to set the accounts up and check them.
type env struct {
	store  *Store // through the proxy
	direct *Store // around it
	p      *faults.Proxy
}

// newEnv makes fresh tables on the server (dropped at cleanup), opens
// accounts with balances, and a pool through p.
func newEnv(t *testing.T, p *faults.Proxy, balances map[string]int64) *env {
	t.Helper()
	ctx := ctxFor(t)
	suffix := fmt.Sprintf("_%08x", rand.Uint32())
	direct := &Store{Pool: newPool(t, postgresAddr(t)), Accounts: "accounts" + suffix, Transfers: "transfers" + suffix}
	if err := direct.CreateTables(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := direct.DropTables(context.Background()); err != nil {
			t.Error(err)
		}
	})
	for id, b := range balances {
		if err := direct.Open(ctx, id, b); err != nil {
			t.Fatal(err)
		}
	}
	store := &Store{Pool: newPool(t, p.Addr()), Accounts: direct.Accounts, Transfers: direct.Transfers, Backoff: 5 * time.Millisecond}
	return &env{store: store, direct: direct, p: p}
}

// balances reads every balance straight from the server with FOR UPDATE:
// it waits for any transaction still holding a row, so it proves that a
// transaction cut off was rolled back, not only that its changes are not
// visible yet.
func (e *env) balances(t *testing.T) map[string]int64 {
	t.Helper()
	rows, err := e.direct.Pool.Query(ctxFor(t), "SELECT id, balance FROM "+e.direct.Accounts+" ORDER BY id FOR UPDATE")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int64{}
	for rows.Next() {
		var id string
		var b int64
		if err := rows.Scan(&id, &b); err != nil {
			t.Fatal(err)
		}
		m[id] = b
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// transfers returns the net flow recorded per account in the transfers
// table, and how many transfers it holds.
func (e *env) transfers(t *testing.T) (net map[string]int64, n int) {
	t.Helper()
	rows, err := e.direct.Pool.Query(ctxFor(t), "SELECT from_id, to_id, amount FROM "+e.direct.Transfers)
	if err != nil {
		t.Fatal(err)
	}
	net = map[string]int64{}
	for rows.Next() {
		var from, to string
		var amount int64
		if err := rows.Scan(&from, &to, &amount); err != nil {
			t.Fatal(err)
		}
		net[from] -= amount
		net[to] += amount
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return net, n
}

// want checks the balances and the number of transfers recorded.
func (e *env) want(t *testing.T, balances map[string]int64, transfers int) {
	t.Helper()
	if got := e.balances(t); fmt.Sprint(got) != fmt.Sprint(balances) {
		t.Fatalf("balances %v, want %v", got, balances)
	}
	if _, n := e.transfers(t); n != transfers {
		t.Fatalf("%d transfers recorded, want %d", n, transfers)
	}
}

// retries records the errors OnRetry was called with.
type retries struct {
	mu   sync.Mutex
	errs []error
}

func (r *retries) add(attempt int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// codes returns the SQLSTATEs of the errors retried, in order.
func (r *retries) codes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cs []string
	for _, err := range r.errs {
		cs = append(cs, code(err))
	}
	return cs
}

// code returns the SQLSTATE of the server error err wraps, or "".
func code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// The statements of a transfer, as the proxy's Query matcher sees them
// (the text of the statement pgx prepared).
const (
	debit  = `^UPDATE accounts_\w+ SET balance = balance -`
	credit = `^UPDATE accounts_\w+ SET balance = balance \+`
	record = `^INSERT INTO transfers_`
)

var start = map[string]int64{"alice": 100, "bob": 50}

// TestPostgresTransferUnderFaults runs transfers through one PostgreSQL-aware
// proxy, one failure scenario at a time. Each scenario installs its faults
// (removed after it) and checks what Transfer returned, how often it ran
// the transaction, how many faults fired, and what the server holds.
func TestPostgresTransferUnderFaults(t *testing.T) {
	p := faulttest.NewProxy(t, postgresAddr(t), faults.WithProtocol(faults.Postgres()))
	injected := func() int64 { return p.Stats().Injected }

	faulttest.Run(t, p, []faulttest.Scenario{
		{
			Name: "healthy",
			Test: func(t *testing.T) {
				e := newEnv(t, p, start)
				if err := e.store.Transfer(ctxFor(t), "alice", "bob", 30); err != nil {
					t.Fatal(err)
				}
				err := e.store.Transfer(ctxFor(t), "bob", "alice", 500)
				if !errors.Is(err, ErrInsufficientFunds) {
					t.Fatalf("overdraft: %v, want ErrInsufficientFunds", err)
				}
				e.want(t, map[string]int64{"alice": 70, "bob": 80}, 1)
				if n := injected(); n != 0 {
					t.Fatalf("%d faults fired", n)
				}
			},
		},
		{
			// The credit deadlocks once, inside the transaction: the
			// server aborts the block (the debit before it is undone), so
			// the whole transaction runs again.
			Name:      "deadlock on the credit",
			Behaviors: []faults.Behavior{faults.Error(faults.PostgresDeadlock).When(faults.Query(credit), faults.InTransaction()).Times(1)},
			Test:      retriedTransfer(p, "[40P01]", 1),
		},
		{
			// The debit loses a race for its row twice (REPEATABLE READ):
			// the third run succeeds.
			Name:      "serialization failures on the debit",
			Behaviors: []faults.Behavior{faults.Error(faults.PostgresSerializationFailure).When(faults.Query(debit)).Times(2)},
			Test:      retriedTransfer(p, "[40001 40001]", 2),
		},
		{
			// Every run fails: Transfer gives up after MaxAttempts runs
			// with the server's error, and nothing has changed.
			Name:      "serialization failures beyond the budget",
			Behaviors: []faults.Behavior{faults.Error(faults.PostgresSerializationFailure).When(faults.Query(credit))},
			Test: func(t *testing.T) {
				e := newEnv(t, p, start)
				before := injected()
				err := e.store.Transfer(ctxFor(t), "alice", "bob", 30)
				if code(err) != SerializationFailure || !strings.Contains(err.Error(), "after 3 attempts") {
					t.Fatalf("Transfer = %v, want 40001 after 3 attempts", err)
				}
				if n := injected() - before; n != 3 {
					t.Fatalf("%d faults fired, want 3", n)
				}
				e.want(t, start, 0)
			},
		},
		{
			// The INSERT, last statement before COMMIT, runs past
			// statement_timeout: the caller gets the server's error at
			// once (not retried), and the debit and credit before it are
			// undone with the transaction.
			Name:      "statement timeout",
			Behaviors: []faults.Behavior{faults.Error(faults.PostgresStatementTimeout).When(faults.Query(record))},
			Test: func(t *testing.T) {
				e := newEnv(t, p, start)
				var r retries
				e.store.OnRetry = r.add
				before := injected()
				err := e.store.Transfer(ctxFor(t), "alice", "bob", 30)
				if code(err) != "57014" || !strings.Contains(err.Error(), "canceling statement due to statement timeout") {
					t.Fatalf("Transfer = %v, want the statement timeout (57014)", err)
				}
				t.Logf("the caller got: %v", err)
				if cs := r.codes(); len(cs) != 0 {
					t.Fatalf("retried after %v", cs)
				}
				if n := injected() - before; n != 1 {
					t.Fatalf("%d faults fired, want 1", n)
				}
				e.want(t, start, 0)
				// The server is fast again: the same pool works.
				p.Reset()
				if err := e.store.Transfer(ctxFor(t), "alice", "bob", 30); err != nil {
					t.Fatal(err)
				}
				e.want(t, map[string]int64{"alice": 70, "bob": 80}, 1)
			},
		},
		{
			// The session is terminated (pg_terminate_backend, a fast
			// shutdown) as the transaction is about to commit: the caller
			// gets the FATAL, the server rolls back what the transaction
			// did, and pgxpool, which discards a connection that is
			// closed, serves the next call on another one.
			Name:      "FATAL before COMMIT",
			Behaviors: []faults.Behavior{faults.Error(faults.PostgresAdminShutdown).When(faults.Query(`(?i)^commit`), faults.InTransaction()).Times(1)},
			Test: func(t *testing.T) {
				e := newEnv(t, p, start)
				before := injected()
				err := e.store.Transfer(ctxFor(t), "alice", "bob", 30)
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != "57P01" || pe.Severity != "FATAL" {
					t.Fatalf("Transfer = %v, want the FATAL 57P01", err)
				}
				e.want(t, start, 0)
				if err := e.store.Transfer(ctxFor(t), "alice", "bob", 30); err != nil {
					t.Fatalf("the next call on the pool: %v", err)
				}
				if n := injected() - before; n != 1 {
					t.Fatalf("%d faults fired, want 1", n)
				}
				e.want(t, map[string]int64{"alice": 70, "bob": 80}, 1)
			},
		},
		{
			// The same FATAL, on whatever statement comes first, once the
			// pool's connection has been idle over a second: pgxpool
			// pings such a connection before handing it out, the ping
			// meets the FATAL, and the pool dials another. The caller
			// never sees it.
			Name: "FATAL on an idle connection",
			Test: func(t *testing.T) {
				e := newEnv(t, p, start)
				if err := e.store.Transfer(ctxFor(t), "alice", "bob", 10); err != nil {
					t.Fatal(err)
				}
				time.Sleep(1100 * time.Millisecond)
				faulttest.Set(t, p, faults.Error(faults.PostgresAdminShutdown).Times(1))
				before := injected()
				if err := e.store.Transfer(ctxFor(t), "alice", "bob", 20); err != nil {
					t.Fatalf("the call after the pool's connection was terminated: %v", err)
				}
				if n := injected() - before; n != 1 {
					t.Fatalf("%d faults fired, want 1", n)
				}
				evs := p.Events()
				if last := evs[len(evs)-1]; last.Request != "Query -- ping" {
					t.Fatalf("the FATAL answered %q, want pgxpool's ping", last.Request)
				}
				e.want(t, map[string]int64{"alice": 70, "bob": 80}, 2)
			},
		},
		{
			// The server restarts while transfers run: every connection
			// is reset and dials are refused for the window. Calls fail
			// meanwhile; from shortly after the window on, none does, and
			// no transfer is half applied.
			Name: "restart in the middle of traffic",
			Test: func(t *testing.T) { testRestart(t, p) },
		},
	})
}

// call is one Transfer of the restart scenario.
type call struct {
	start, end time.Time
	err        error
}

func testRestart(t *testing.T, p *faults.Proxy) {
	const (
		workers   = 4
		run       = 3 * time.Second
		restartAt = 800 * time.Millisecond
		down      = 500 * time.Millisecond
		grace     = 300 * time.Millisecond // after the window, for calls that dialed just before it ended
	)
	// Each worker moves money back and forth between two accounts of
	// its own, so that the transfers never contend for a row.
	balances := map[string]int64{}
	for w := range workers {
		balances[fmt.Sprintf("w%d-a", w)] = 1000
		balances[fmt.Sprintf("w%d-b", w)] = 1000
	}
	e := newEnv(t, p, balances)
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	calls := make([][]call, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, b := fmt.Sprintf("w%d-a", w), fmt.Sprintf("w%d-b", w)
			for i := 0; ctx.Err() == nil; i++ {
				c := call{start: time.Now()}
				cctx, ccancel := context.WithTimeout(context.Background(), callTimeout)
				if i%2 == 0 {
					c.err = e.store.Transfer(cctx, a, b, 1)
				} else {
					c.err = e.store.Transfer(cctx, b, a, 1)
				}
				ccancel()
				c.end = time.Now()
				calls[w] = append(calls[w], c)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(restartAt)
	installed := time.Now()
	if err := p.Set(faults.Restart(down)); err != nil {
		cancel()
		wg.Wait()
		t.Fatal(err)
	}
	back := installed.Add(down)
	wg.Wait()

	var before, during, after, failedAfter int
	var samples []string
	for _, cs := range calls {
		for _, c := range cs {
			switch {
			case c.end.Before(installed):
				before++
				if c.err != nil {
					t.Errorf("a call before the restart failed: %v", c.err)
				}
			case c.start.After(back.Add(grace)):
				after++
				if c.err != nil {
					failedAfter++
					samples = append(samples, fmt.Sprintf("%v after the window: %v", c.start.Sub(back).Round(time.Millisecond), c.err))
				}
			default:
				if c.err != nil {
					during++
				}
			}
		}
	}
	t.Logf("calls: %d before the restart, %d failed around the window, %d after it (%d failed)", before, during, after, failedAfter)
	if during == 0 {
		t.Error("no call failed while the server was restarting")
	}
	if failedAfter > 0 || after < workers {
		t.Errorf("%d of %d calls started from %v after the window failed (want none, and at least %d calls): %q", failedAfter, after, grace, workers, samples)
	}
	// Nothing half applied: each balance is its opening one plus the
	// transfers recorded, and the total is unchanged.
	net, n := e.transfers(t)
	got := e.balances(t)
	var total int64
	for id, b := range got {
		total += b
		if b != balances[id]+net[id] {
			t.Errorf("%s holds %d, but opened with %d and the transfers recorded move %+d", id, b, balances[id], net[id])
		}
	}
	if total != int64(len(balances))*1000 {
		t.Errorf("the accounts hold %d in all, want %d", total, len(balances)*1000)
	}
	t.Logf("%d transfers recorded", n)
}

// transferPipelined is how not to retry: the transfer's three statements
// go in one pgx batch (one round trip, one implicit transaction), and a
// statement that failed with a retryable error is run again alone.
// It is here to show what that does under an injected deadlock.
func transferPipelined(ctx context.Context, s *Store, from, to string, amount int64) error {
	stmts := []struct {
		sql  string
		args []any
	}{
		{"UPDATE " + s.Accounts + " SET balance = balance - $1 WHERE id = $2", []any{amount, from}},
		{"UPDATE " + s.Accounts + " SET balance = balance + $1 WHERE id = $2", []any{amount, to}},
		{"INSERT INTO " + s.Transfers + " (from_id, to_id, amount) VALUES ($1, $2, $3)", []any{from, to, amount}},
	}
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	br := s.Pool.SendBatch(ctx, b)
	var failed []int
	for i := range stmts {
		if _, err := br.Exec(); err != nil {
			if !Retryable(err) {
				br.Close()
				return err
			}
			failed = append(failed, i)
		}
	}
	if err := br.Close(); err != nil && !Retryable(err) {
		return err
	}
	for _, i := range failed {
		if _, err := s.Pool.Exec(ctx, stmts[i].sql, stmts[i].args...); err != nil {
			return err
		}
	}
	return nil
}

// Retrying only the statement that failed loses money, here as against a
// real server: the deadlock on the credit rolls back the pipeline's
// implicit transaction, debit included, so the credit run again alone
// creates the amount out of nothing (the INSERT, skipped by the server
// after the error, is run again too). Store.Transfer, which runs the
// whole transaction again, keeps the books under the same fault.
func TestPostgresStatementRetryLosesTheDebit(t *testing.T) {
	p := faulttest.NewProxy(t, postgresAddr(t), faults.WithProtocol(faults.Postgres()))
	deadlock := faults.Error(faults.PostgresDeadlock).When(faults.Query(credit)).Times(1)

	t.Run("statement retried", func(t *testing.T) {
		faulttest.Set(t, p, deadlock)
		e := newEnv(t, p, start)
		if err := transferPipelined(ctxFor(t), e.store, "alice", "bob", 30); err != nil {
			t.Fatal(err)
		}
		got := e.balances(t)
		t.Logf("after the transfer: %v (the books say 150 in all)", got)
		if got["alice"] != 100 || got["bob"] != 80 {
			t.Fatalf("balances %v; expected alice's debit undone and bob credited: 100 and 80", got)
		}
		e.want(t, map[string]int64{"alice": 100, "bob": 80}, 1)
	})
	t.Run("transaction retried", func(t *testing.T) {
		faulttest.Set(t, p, deadlock)
		e := newEnv(t, p, start)
		if err := e.store.Transfer(ctxFor(t), "alice", "bob", 30); err != nil {
			t.Fatal(err)
		}
		e.want(t, map[string]int64{"alice": 70, "bob": 80}, 1)
	})
}

// retriedTransfer is the test of a transfer that succeeds after retries:
// the store retried after the errors codes (as fmt prints them), fired
// faults fired, and the transfer landed once.
func retriedTransfer(p *faults.Proxy, codes string, fired int64) func(*testing.T) {
	return func(t *testing.T) {
		e := newEnv(t, p, start)
		var r retries
		e.store.OnRetry = r.add
		before := p.Stats().Injected
		if err := e.store.Transfer(ctxFor(t), "alice", "bob", 30); err != nil {
			t.Fatal(err)
		}
		if cs := r.codes(); fmt.Sprint(cs) != codes {
			t.Fatalf("retried after %v, want %s", cs, codes)
		}
		if n := p.Stats().Injected - before; n != fired {
			t.Fatalf("%d faults fired, want %d", n, fired)
		}
		e.want(t, map[string]int64{"alice": 70, "bob": 80}, 1)
	}
}
