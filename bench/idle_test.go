package bench

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// Environment of TestIdleMemory (besides FAULTS_BENCH and FAULTS_BENCH_OUT,
// read as by the others, and the variables testenv reads).
const (
	envBenchIdleConns  = "FAULTS_BENCH_IDLE_CONNS"  // connections per measurement, default 1000
	envBenchIdleRounds = "FAULTS_BENCH_IDLE_ROUNDS" // rounds, default 3
	envBenchIdleGuard  = "FAULTS_BENCH_IDLE_GUARD"  // "off": report the budget without failing on it
)

const (
	idleBudgetKiB   = 16.0                   // framed − TCP, per idle connection
	idleMySQLSpare  = 30                     // connection slots left free on the MySQL server
	idleQuietMin    = 100 * time.Millisecond // wait after the last connection opens
	idleQuietLimit  = 5 * time.Second        // longest wait for the goroutine count to settle
	idleTeardown    = 10 * time.Second       // longest wait for the goroutines to end after closing
	idleHTTPRequest = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
	idleRedisPing   = "*1\r\n$4\r\nPING\r\n"
	idleRedisPong   = "+PONG\r\n"
)

// idleTargets are what the idle clients of one workload reach, measured in
// this order: the server directly (the baseline), then through each proxy.
// The last one, "framed", is the faults proxy in the workload's protocol.
var idleTargets = []string{"direct", "plain", "faults", "framed"}

// idleStates are the two moments at which the connections are left idle.
var idleStates = []struct {
	name     string
	transact bool
}{
	{"connect", false},
	{"1 transaction", true},
}

// idleWorkload is one protocol's idle clients.
type idleWorkload struct {
	name   string
	framed faults.Protocol
	// setup finds or starts the server and returns its address, the number
	// of connections to open (which the server may cap), what to write in
	// the report about the cap, and how to stop what it started.
	setup func(t *testing.T, n int) (addr string, n2 int, note string, stop func())
	// open opens n connections to addr and, with transact, makes one
	// request on each; the connections stay open until close is called.
	open func(addr string, n int, transact bool) (close func() error, err error)
}

var idleWorkloads = []idleWorkload{
	{name: "HTTP", framed: faults.HTTP(), setup: setupIdleHTTP, open: openIdleWith(httpGetOnce)},
	{name: "Redis", framed: faults.Redis(), setup: setupIdleRedis, open: openIdleWith(redisPingOnce)},
	{name: "MySQL", framed: faults.MySQL(), setup: setupIdleMySQL, open: openIdleMySQL},
	{name: "memcached", framed: faults.Memcached(), setup: setupIdleMemcached, open: openIdleWith(memcachedVersionOnce)},
}

// idleSample is what one set of idle connections added to the process:
// Go heap and stack in use, and goroutines.
type idleSample struct {
	bytes      int64
	goroutines int
}

// idleResult is one workload's report line per state.
type idleResult struct {
	rowHead
	n      int
	note   string
	states [2]idleStateResult
}

// idleStateResult holds, per target, the samples of every round.
type idleStateResult struct {
	samples [4][]idleSample // indexed like idleTargets
}

// medianOf is the median over the rounds of the bytes and goroutines of
// target i.
func (s *idleStateResult) medianOf(i int) (bytes, goroutines float64) {
	var b, g []float64
	for _, x := range s.samples[i] {
		b = append(b, float64(x.bytes))
		g = append(g, float64(x.goroutines))
	}
	return median(b), median(g)
}

// kiB is the proxy's cost per connection of target i (i > 0): its median
// minus the direct one's, divided by n, in KiB. For i == 0 it is the
// direct set's own cost per connection.
func (s *idleStateResult) kiB(i, n int) float64 {
	b, _ := s.medianOf(i)
	if i > 0 {
		b0, _ := s.medianOf(0)
		b -= b0
	}
	return b / 1024 / float64(n)
}

// gorPerConn is like kiB for goroutines.
func (s *idleStateResult) gorPerConn(i, n int) float64 {
	_, g := s.medianOf(i)
	if i > 0 {
		_, g0 := s.medianOf(0)
		g -= g0
	}
	return g / float64(n)
}

// TestIdleMemory measures, in this process, how much memory an idle
// connection costs each proxy mode: N keep-alive connections (HTTP to an
// in-process net/http server, Redis and MySQL to the real servers,
// memcached to a private one) are opened directly, then through the plain
// io.Copy proxy, the faults proxy (TCP) and the faults proxy framing the
// workload's protocol, and left idle
// either right after connecting or after one transaction. Heap and stack
// in use after two runtime.GC, minus the same with the direct connections,
// divided by N, is the proxy's cost per idle connection. It fails when a
// framed mode costs more than 16 KiB per connection above TCP (unless
// FAULTS_BENCH_IDLE_GUARD=off). It runs only with FAULTS_BENCH=1.
func TestIdleMemory(t *testing.T) {
	requireBench(t, "the idle connection memory measurement (about 1 min)")
	n := envInt(t, envBenchIdleConns, 1000, 10, 20000)
	rounds := envInt(t, envBenchIdleRounds, 3, 1, 10)
	guardOn := os.Getenv(envBenchIdleGuard) != "off"

	// Through a proxy to the in-process HTTP server, one connection holds
	// four descriptors: client, proxy's two sides, server.
	need := uint64(4*n + 256)
	limit, err := raiseFDLimit(need)
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		t.Logf("cannot read the open-file limit here; %d connections need about %d descriptors", n, need)
	case err != nil:
		t.Fatalf("open-file limit: %v", err)
	case limit < need:
		t.Skipf("%d idle connections need about %d open files, and the limit is %d (hard limit included); set %s lower",
			n, need, limit, envBenchIdleConns)
	}

	results := make([]idleResult, len(idleWorkloads))
	start := time.Now()
	for wi, w := range idleWorkloads {
		res := &results[wi]
		res.name = w.name
		res.skipped = "not run"
		t.Run(w.name, func(t *testing.T) {
			addr, wn, note, stop := w.setup(t, n)
			defer stop()
			res.n, res.note = wn, note
			for round := range rounds {
				for si, st := range idleStates {
					for ti, target := range idleTargets {
						s, err := measureIdleSet(w, target, addr, wn, st.transact)
						if err != nil {
							res.skipped = "failed"
							t.Fatalf("round %d, idle after %s, %s: %v", round+1, st.name, target, err)
						}
						res.states[si].samples[ti] = append(res.states[si].samples[ti], s)
					}
				}
			}
			res.skipped = ""
		})
		if res.skipped == "not run" {
			res.skipped = "server not available (see bench/README.md)"
		}
	}

	var sb strings.Builder
	over := writeIdleReport(&sb, results, n, rounds, time.Since(start))
	emitReport(t, sb.String())
	for _, o := range over {
		if guardOn {
			t.Error(o)
		} else {
			t.Log(o + " (not failing: " + envBenchIdleGuard + "=off)")
		}
	}
}

// measureIdleSet starts target in front of addr, opens n connections
// through it, leaves them idle and returns what they added to the process.
// The proxy is started before the first reading, so its own fixed cost is
// not counted; everything is closed before it returns.
func measureIdleSet(w idleWorkload, target, addr string, n int, transact bool) (s idleSample, err error) {
	dst, stop, err := startIdleTarget(target, addr, w.framed)
	if err != nil {
		return s, err
	}
	defer func() { err = errors.Join(err, stop()) }()
	m0, g0 := heapStackInUse()
	closeConns, err := w.open(dst, n, transact)
	if err != nil {
		return s, err
	}
	waitGoroutinesSettle()
	m1, g1 := heapStackInUse()
	if err := closeConns(); err != nil {
		return s, err
	}
	if err := waitGoroutinesBelow(g0, idleTeardown); err != nil {
		return s, err
	}
	return idleSample{bytes: m1 - m0, goroutines: g1 - g0}, nil
}

// startIdleTarget starts, in this process, the proxy named target in front
// of addr (nothing for "direct") and returns the address to dial and how to
// stop it.
func startIdleTarget(target, addr string, framed faults.Protocol) (string, func() error, error) {
	var opts []faults.Option
	switch target {
	case "direct":
		return addr, func() error { return nil }, nil
	case "plain":
		p, err := startPlainProxy(addr)
		if err != nil {
			return "", nil, err
		}
		return p.Addr(), p.Close, nil
	case "faults":
	case "framed":
		opts = append(opts, faults.WithProtocol(framed))
	default:
		return "", nil, fmt.Errorf("unknown target %q", target)
	}
	p, err := faults.NewProxy(addr, opts...)
	if err != nil {
		return "", nil, err
	}
	return p.Addr(), p.Close, nil
}

// heapStackInUse runs the GC twice and returns the Go heap and stack in use
// and the number of goroutines.
func heapStackInUse() (int64, int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse), runtime.NumGoroutine()
}

// waitGoroutinesSettle waits until the goroutine count has not moved for
// five readings 20 ms apart (at least idleQuietMin, at most
// idleQuietLimit): the proxies have accepted, dialed and are idle.
func waitGoroutinesSettle() {
	time.Sleep(idleQuietMin)
	deadline := time.Now().Add(idleQuietLimit)
	last, same := runtime.NumGoroutine(), 0
	for same < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if g := runtime.NumGoroutine(); g == last {
			same++
		} else {
			last, same = g, 0
		}
	}
}

// waitGoroutinesBelow waits until at most g goroutines run, or d has passed.
func waitGoroutinesBelow(g int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		now := runtime.NumGoroutine()
		if now <= g {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines still run %v after closing the connections, want at most %d", now, d, g)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openIdleWith returns the open of a workload whose clients are bare TCP
// connections (openIdleConns) that, with transact, run request once.
func openIdleWith(request func(net.Conn) error) func(addr string, n int, transact bool) (func() error, error) {
	return func(addr string, n int, transact bool) (func() error, error) {
		var first func(net.Conn) error
		if transact {
			first = request
		}
		return openIdleConns(addr, n, first)
	}
}

// openIdleConns dials addr n times and runs first (if not nil) on each
// connection; on error it closes what it opened.
func openIdleConns(addr string, n int, first func(net.Conn) error) (func() error, error) {
	conns := make([]net.Conn, 0, n)
	closeAll := func() error {
		for _, c := range conns {
			c.Close()
		}
		return nil
	}
	for range n {
		c, err := net.DialTimeout("tcp", addr, guard)
		if err != nil {
			closeAll()
			return nil, err
		}
		conns = append(conns, c)
		if first != nil {
			c.SetDeadline(time.Now().Add(guard))
			err = first(c)
			if err == nil {
				err = c.SetDeadline(time.Time{})
			}
			if err != nil {
				closeAll()
				return nil, err
			}
		}
	}
	return closeAll, nil
}

// setupIdleHTTP starts the in-process HTTP server: GET / answers
// helloBody. Its header timeout is long enough for connections that stay
// idle before their first request for a whole measurement.
func setupIdleHTTP(t *testing.T, n int) (string, int, string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hello := []byte(helloBody)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(len(hello)))
			w.Write(hello)
		}),
		ReadHeaderTimeout: 2 * time.Minute,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return ln.Addr().String(), n, "in-process net/http server (counted in direct)", func() {
		srv.Close()
		<-done
	}
}

// httpGetOnce sends GET / on c and reads the whole answer, which must be
// helloBody; the reader does not outlive the call.
func httpGetOnce(c net.Conn) error {
	if _, err := io.WriteString(c, idleHTTPRequest); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != helloBody || br.Buffered() != 0 {
		return fmt.Errorf("GET /: %s, body %q, %d bytes more", resp.Status, body, br.Buffered())
	}
	return nil
}

func setupIdleRedis(t *testing.T, n int) (string, int, string, func()) {
	return redisServer(t), n, "server out of process", func() {}
}

// redisPingOnce sends PING on c and reads +PONG.
func redisPingOnce(c net.Conn) error {
	if _, err := io.WriteString(c, idleRedisPing); err != nil {
		return err
	}
	var b [len(idleRedisPong)]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return err
	}
	if string(b[:]) != idleRedisPong {
		return fmt.Errorf("PING: got %q", b[:])
	}
	return nil
}

// setupIdleMemcached starts a private memcached that takes n connections
// and more (-c).
func setupIdleMemcached(t *testing.T, n int) (string, int, string, func()) {
	return testenv.StartMemcached(t, "-c", strconv.Itoa(n+256)), n, "private server, out of process", func() {}
}

// memcachedVersionOnce sends version on c and reads its VERSION line.
func memcachedVersionOnce(c net.Conn) error {
	if _, err := io.WriteString(c, "version\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("version: got %q", line)
	}
	return nil
}

// setupIdleMySQL checks the server and caps n at its free connection slots
// (max_connections − Threads_connected − idleMySQLSpare): the test never
// reconfigures the server.
func setupIdleMySQL(t *testing.T, n int) (string, int, string, func()) {
	addr := testenv.MySQLAddr(t)
	admin, err := sql.Open("mysql", mysqlBenchDSN(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var maxConns, connected int
	var name string
	if err := admin.QueryRow("SELECT @@max_connections").Scan(&maxConns); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow("SHOW GLOBAL STATUS LIKE 'Threads_connected'").Scan(&name, &connected); err != nil {
		t.Fatal(err)
	}
	free := maxConns - connected - idleMySQLSpare
	if free < 10 {
		testenv.Unavailable(t, fmt.Sprintf("MySQL server at %s has %d of max_connections=%d in use: too few free for idle connections",
			addr, connected, maxConns))
	}
	note := "server out of process"
	if free < n {
		note = fmt.Sprintf("server out of process; N capped by max_connections=%d (%d in use, %d left spare)", maxConns, connected, idleMySQLSpare)
		n = free
	}
	return addr, n, note, func() {}
}

// openIdleMySQL opens n connections with go-sql-driver, each held as a
// *sql.Conn (db.Conn does the handshake) and, with transact, runs SELECT 1
// on each.
func openIdleMySQL(addr string, n int, transact bool) (func() error, error) {
	db, err := sql.Open("mysql", mysqlBenchDSN(addr))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	conns := make([]*sql.Conn, 0, n)
	closeAll := func() error {
		var errs []error
		for _, c := range conns {
			errs = append(errs, c.Close())
		}
		return errors.Join(append(errs, db.Close())...)
	}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		c, err := db.Conn(ctx)
		if err == nil {
			conns = append(conns, c)
			if transact {
				var one int
				err = c.QueryRowContext(ctx, "SELECT 1").Scan(&one)
				if err == nil && one != 1 {
					err = fmt.Errorf("SELECT 1 gave %d", one)
				}
			}
		}
		cancel()
		if err != nil {
			closeAll()
			return nil, err
		}
	}
	return closeAll, nil
}

// writeIdleReport renders the results as Markdown and returns a line for
// every framed mode over budget.
func writeIdleReport(w io.Writer, results []idleResult, n, rounds int, took time.Duration) (over []string) {
	fmt.Fprintf(w, "### Idle connection memory, in process (%s %s/%s, %d CPUs, GOMAXPROCS %d; N=%d, median of %d rounds, %v)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), n, rounds, took.Round(time.Second))
	fmt.Fprintf(w, "KiB per idle connection: Go heap+stack in use after two runtime.GC with N connections through the proxy, "+
		"minus the same N made directly, divided by N (the direct column is the baseline's own cost, not subtracted). "+
		"Budget: framed − TCP ≤ %.0f KiB.\n\n", idleBudgetKiB)
	fmt.Fprint(w, "| workload | idle after | N | direct | plain | faults (TCP) | faults (framed) | framed − TCP | budget met |\n")
	fmt.Fprint(w, "|---|---|---:|---:|---:|---:|---:|---:|:---:|\n")
	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(w, "| %s | skipped: %s | | | | | | | |\n", r.name, r.skipped)
			continue
		}
		for si, st := range idleStates {
			s := &r.states[si]
			tcp, framed := s.kiB(2, r.n), s.kiB(3, r.n)
			diff := framed - tcp
			met := "yes"
			if math.IsNaN(diff) || diff > idleBudgetKiB {
				met = "no"
				over = append(over, fmt.Sprintf("%s idle after %s: faults framed %.1f KiB/conn − faults TCP %.1f KiB/conn = %.1f KiB, over the %.0f KiB budget (N=%d)",
					r.name, st.name, framed, tcp, diff, idleBudgetKiB, r.n))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s |\n", r.name, st.name, r.n,
				cell("%.1f", s.kiB(0, r.n)), cell("%.1f", s.kiB(1, r.n)), cell("%.1f", tcp), cell("%.1f", framed), cell("%+.1f", diff), met)
		}
	}
	fmt.Fprint(w, "\n| workload | idle after | goroutines/conn: plain | faults (TCP) | faults (framed) |\n|---|---|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped != "" {
			continue
		}
		for si, st := range idleStates {
			s := &r.states[si]
			fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %.2f |\n", r.name, st.name, s.gorPerConn(1, r.n), s.gorPerConn(2, r.n), s.gorPerConn(3, r.n))
		}
	}
	fmt.Fprintln(w)
	for _, r := range results {
		if r.skipped == "" {
			fmt.Fprintf(w, "%s: %s.\n", r.name, r.note)
		}
	}
	return over
}
