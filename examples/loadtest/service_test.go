package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// newProxied returns a Service that reaches the server through a
// MySQL-aware proxy, and the proxy.
func newProxied(t *testing.T, users int) (*Service, *faults.Proxy) {
	t.Helper()
	server := mysqlAddr(t)
	p := faulttest.NewProxy(t, server, faults.WithProtocol(faults.MySQL()))
	return newService(t, server, p.Addr(), users), p
}

func TestGet(t *testing.T) {
	svc, _ := newProxied(t, 3)
	ctx := context.Background()
	u, err := svc.Get(ctx, 2)
	if err != nil || u != (User{ID: 2, Name: "user-2"}) {
		t.Fatalf("Get(2) = %+v, %v; want user-2", u, err)
	}
	if _, err := svc.Get(ctx, 4); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(4) of 3 users: err = %v, want ErrNotFound", err)
	}
	bad := &Service{DB: svc.DB, Table: "users; DROP TABLE x"}
	if _, err := bad.Get(ctx, 1); err == nil {
		t.Fatal("Get with a table name that is not an identifier succeeded")
	}
}

// TestGetGivesUpAtItsDeadline: with the database hanging, a call returns
// at its own deadline, not the caller's.
func TestGetGivesUpAtItsDeadline(t *testing.T) {
	svc, p := newProxied(t, 1)
	svc.Timeout = 200 * time.Millisecond
	faulttest.Set(t, p, faults.Hang()) // the pool is empty: its first dial hangs
	start := time.Now()
	_, err := svc.Get(context.Background(), 1)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get against a hung database: err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if elapsed < 150*time.Millisecond || elapsed > 1500*time.Millisecond {
		t.Fatalf("Get against a hung database returned after %v, want about its 200ms timeout", elapsed)
	}
}

// TestGetRecoversAfterRestart: the pool is full of connections when the
// database restarts; calls fail while it is down, and the very first call
// after it is back succeeds, although every pooled connection is dead.
func TestGetRecoversAfterRestart(t *testing.T) {
	svc, p := newProxied(t, 5)
	ctx := context.Background()
	fillPool(t, svc, 8)
	if n := svc.DB.Stats().Idle; n < 3 {
		t.Fatalf("%d idle connections after warming the pool, want at least 3 to show recovery from dead ones", n)
	}
	const down = 400 * time.Millisecond
	faulttest.Set(t, p, faults.Restart(down))
	installed := time.Now()
	if _, err := svc.Get(ctx, 1); err == nil {
		t.Fatal("Get succeeded while the database was down")
	}
	time.Sleep(time.Until(installed.Add(down)))
	if _, err := waitListening(ctx, p.Addr()); err != nil {
		t.Fatal(err)
	}
	if u, err := svc.Get(ctx, 1); err != nil || u.Name != "user-1" {
		t.Fatalf("first Get after the database came back = %+v, %v; want user-1", u, err)
	}
}

// waitListening returns when addr accepts connections again (a proxy
// back from a Restart: its timer may fire late on a loaded machine), and
// the time it first did. It gives up after 5 s.
func waitListening(ctx context.Context, addr string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return time.Now(), nil
		}
		if ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("%s still refuses connections: %v", addr, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fillPool makes n concurrent calls, each holding its connection until all
// have one, so that the pool ends up with several idle connections.
func fillPool(t *testing.T, svc *Service, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.DB.ExecContext(ctx, "DO SLEEP(0.1)")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("warming the pool: %v", err)
		}
	}
}
