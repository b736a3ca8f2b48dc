package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gofaults/faults/internal/testenv"
)

// Environment of TestComparePostgres (besides FAULTS_BENCH, FAULTS_BENCH_ROWS
// and FAULTS_BENCH_OUT, read as by the others, and FAULTS_POSTGRES_ADDR and
// FAULTS_REQUIRE_SERVICES, read by testenv.PostgresAddr).
const envBenchPGRounds = "FAULTS_BENCH_PG_ROUNDS" // rounds, default 3

const (
	pgbenchClients      = 8                // pgbench's -c
	pgbenchThreads      = 2                // pgbench's -j
	pgbenchSeconds      = 3                // pgbench's -T
	pgbenchLimit        = 60 * time.Second // longest one pgbench run may take
	pgbenchInitLimit    = 5 * time.Minute  // longest pgbench -i may take
	pgbenchAccountsPerS = 100000           // pgbench_accounts rows per unit of scale
	pgbenchStatsWait    = 5 * time.Second  // longest wait for the server's statistics to show a run
)

// pgbenchTables are the tables pgbench -i creates.
var pgbenchTables = []string{"pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers"}

// postgresRows are the ways TestComparePostgres reaches the server.
var postgresRows = []row{
	{name: "direct"},
	{name: "plain", child: kindPlain},
	{name: "faults", child: kindFaults},
	{name: "faults-postgres", child: kindFaultsPostgres},
	{name: "toxiproxy", toxi: true},
}

// postgresResult is one row of TestComparePostgres's report.
type postgresResult struct {
	rowHead
	tps     []float64 // pgbench's tps without the initial connection time, per round
	wallTPS []float64 // transactions over the wall time around pgbench, per round
	latency []float64 // pgbench's latency average, ms, per round
	connect []float64 // pgbench's initial connection time, ms, per round
	txns    int64     // transactions, all rounds
	cpu     time.Duration
	noCPU   bool
}

func (r *postgresResult) rate() float64 { return median(r.tps) }

func (r *postgresResult) cpuUsPerTxn() float64 {
	return cpuPer(r.noCPU, us(r.cpu), float64(r.txns))
}

// TestComparePostgres measures PostgreSQL through each proxy, side by side
// in one run, against a real server, with pgbench: its select-only script
// with prepared statements over 8 connections for 3 s (pgbench -n -S -M
// prepared -c 8 -j 2 -T 3), for transactions/s (pgbench's own tps) and the
// proxy's CPU per transaction. Rows are interleaved per round. It runs only
// with FAULTS_BENCH=1, a server at FAULTS_POSTGRES_ADDR (default
// 127.0.0.1:5432, user postgres, trust, database test) and pgbench; it
// creates pgbench's tables (scale 1) if they are missing and leaves them.
// It takes about 60 s.
func TestComparePostgres(t *testing.T) {
	requireBench(t, "the PostgreSQL comparison (about 60 s)")
	rounds := envInt(t, envBenchPGRounds, 3, 1, 10)
	bin, err := findTool("pgbench", "postgresql-client")
	if err != nil {
		t.Skip(err)
	}
	addr := testenv.PostgresAddr(t) // the server to measure against; see testenv for when it skips
	selected := selectRows(postgresRows)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	admin, err := pgx.Connect(ctx, testenv.PostgresDSN(addr))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		admin.Close(ctx)
	}()
	var version string
	if err := admin.QueryRow(context.Background(), "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	scale, err := ensurePgbenchTables(t, admin, bin, addr)
	if err != nil {
		t.Fatal(err)
	}

	results := make([]postgresResult, len(selected))
	eps := make([]*endpoint, len(selected))
	defer closeEndpoints(t, selected, eps)
	startRows(t, selected, addr, eps, results, checkPgbenchAccounts)

	start := time.Now()
	for round := range rounds {
		eachEndpoint(t, selected, eps, "pgbench", round, func(i int, ep *endpoint) error {
			return measurePgbench(ep, bin, admin, scale, &results[i])
		})
	}

	var sb strings.Builder
	writePostgresReport(&sb, results, version, scale, rounds, time.Since(start))
	emitReport(t, sb.String())
}

// ensurePgbenchTables makes sure pgbench's tables exist in database test:
// if any is missing it runs pgbench -i -s 1 -q (which drops and creates all
// four). Tables that exist are kept as they are, whatever their scale, but
// they must be whole: as many accounts as the branches say, and the primary
// key pgbench's select-only script looks them up by (else each transaction
// would scan the table). It returns the scale.
func ensurePgbenchTables(t *testing.T, admin *pgx.Conn, bin, addr string) (int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pgbenchInitLimit)
	defer cancel()
	var missing []string
	for _, name := range pgbenchTables {
		var exists bool
		if err := admin.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
			return 0, err
		}
		if !exists {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return 0, err
		}
		t.Logf("pgbench tables missing in database test (%s): pgbench -i -s 1 -q", strings.Join(missing, ", "))
		_, progress, took, err := runToolEnv(bin, pgbenchInitArgs(host, port), pgbenchEnv, pgbenchInitLimit)
		if err != nil {
			return 0, err
		}
		t.Logf("pgbench -i took %v:\n%s", took.Round(time.Millisecond), strings.TrimSpace(progress))
	}
	var branches, accounts int64
	var pkey bool
	err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM pgbench_branches), (SELECT count(*) FROM pgbench_accounts),
		EXISTS (SELECT 1 FROM pg_index WHERE indrelid = 'pgbench_accounts'::regclass AND indisprimary)`).Scan(&branches, &accounts, &pkey)
	if err != nil {
		return 0, err
	}
	if branches < 1 || accounts != branches*pgbenchAccountsPerS || !pkey {
		return 0, fmt.Errorf("pgbench's tables in database test are not whole (%d branches, %d accounts, primary key on pgbench_accounts: %v); "+
			"the server may be shared, so the test does not drop them: re-create them with `pgbench -i -s 1 test`", branches, accounts, pkey)
	}
	return int(branches), nil
}

// checkPgbenchAccounts counts 1,000 of pgbench's accounts through addr with
// pgx, with a prepared statement as pgbench -M prepared uses.
func checkPgbenchAccounts(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	c, err := pgx.Connect(ctx, testenv.PostgresDSN(addr))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var n int64
	for range 2 { // the second execution uses the statement pgx prepared
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pgbench_accounts WHERE aid BETWEEN $1 AND $2", 1, 1000).Scan(&n); err != nil {
			return err
		}
		if n != 1000 {
			return fmt.Errorf("counted %d of accounts 1..1000", n)
		}
	}
	return nil
}

// xactCommit reads how many transactions database test has committed (all
// clients: the count only grows).
func xactCommit(admin *pgx.Conn) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var n int64
	err := admin.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
	return n, err
}

// measurePgbench runs pgbench once through ep and adds its tps, and the
// proxy's CPU meanwhile, to res. pgbench must report the run it was asked
// for (prepared statements, every client, the tables' scale, no failed
// transaction), and the server's count of committed transactions must grow
// by at least the transactions pgbench claims (the server publishes a
// session's counts when it ends, so this waits a little for them).
func measurePgbench(ep *endpoint, bin string, admin *pgx.Conn, scale int, res *postgresResult) error {
	host, port, err := net.SplitHostPort(ep.addr)
	if err != nil {
		return err
	}
	before, err := xactCommit(admin)
	if err != nil {
		return err
	}
	var run pgbenchRun
	err = addProxyCPU(ep, &res.cpu, &res.noCPU, func() (err error) {
		run, err = runPgbench(bin, pgbenchArgs(host, port, pgbenchClients, pgbenchThreads, pgbenchSeconds), pgbenchLimit)
		return err
	})
	if err != nil {
		return err
	}
	if run.mode != "prepared" || run.clients != pgbenchClients || run.scale != scale || run.failed != 0 || run.processed <= 0 || run.tps <= 0 {
		return fmt.Errorf("pgbench reports query mode %s, %d clients, scale %d, %d transactions (%d failed), tps %g; want prepared, %d clients, scale %d, none failed",
			run.mode, run.clients, run.scale, run.processed, run.failed, run.tps, pgbenchClients, scale)
	}
	var grew int64
	for deadline := time.Now().Add(pgbenchStatsWait); ; time.Sleep(50 * time.Millisecond) {
		after, err := xactCommit(admin)
		if err != nil {
			return err
		}
		if grew = after - before; grew >= run.processed || time.Now().After(deadline) {
			break
		}
	}
	if grew < run.processed {
		return fmt.Errorf("the server's committed transactions grew by %d during the run, want at least %d", grew, run.processed)
	}
	res.tps = append(res.tps, run.tps)
	res.wallTPS = append(res.wallTPS, float64(run.processed)/run.wall.Seconds())
	res.latency = append(res.latency, run.latencyMs)
	res.connect = append(res.connect, run.connectMs)
	res.txns += run.processed
	return nil
}

var postgresTargets = []target[*postgresResult]{
	{"faults-postgres", "plain", "tps", (*postgresResult).rate, true, 0.85},
	{"faults-postgres", "plain", "CPU µs/transaction", (*postgresResult).cpuUsPerTxn, false, 1.3},
}

// writePostgresReport renders TestComparePostgres's results as Markdown.
func writePostgresReport(w io.Writer, results []postgresResult, version string, scale, rounds int, took time.Duration) {
	info := firstInfo(results)
	byName := rowsByName(results)
	fmt.Fprintf(w, "### PostgreSQL through each proxy (%s %s/%s, %d CPUs, server %s%s; %d rounds; took %.0fs)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), version, info, rounds, took.Seconds())

	fmt.Fprintf(w, "pgbench -n -S -M prepared -c %d -j %d -T %d (select only, scale %d, PGSSLMODE=disable):\n\n",
		pgbenchClients, pgbenchThreads, pgbenchSeconds, scale)
	fmt.Fprint(w, "| path | tps | spread tps | tps (wall) | latency avg ms | initial connection ms | transactions | proxy CPU µs/txn |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped != "" {
			writeSkipped(w, r.name, r.skipped, 7)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %d | %s |\n", r.name, cell("%.0f", r.rate()), spread(r.tps),
			cell("%.0f", median(r.wallTPS)), cell("%.3f", median(r.latency)), cell("%.1f", median(r.connect)), r.txns, cell("%.2f", r.cpuUsPerTxn()))
	}

	fmt.Fprint(w, "\n### Ratios (a / b)\n\ntps: above 1 means a is faster. CPU: below 1 means a is cheaper.\n\n")
	fmt.Fprint(w, "| a / b | tps | CPU µs/txn |\n|---|---:|---:|\n")
	writePairRatios(w, byName, [][2]string{{"faults-postgres", "plain"}, {"faults-postgres", "faults"}, {"faults-postgres", "toxiproxy"}, {"plain", "direct"}, {"toxiproxy", "plain"}},
		(*postgresResult).rate, (*postgresResult).cpuUsPerTxn)

	writeTargets(w, byName, postgresTargets)
	fmt.Fprint(w, "\ntps is the median of the rounds of pgbench's own \"tps = … (without initial connection time)\"; "+
		"tps (wall) divides the transactions by the wall time around the whole pgbench process (its start and its "+
		"connections included). transactions is the sum over the rounds. CPU is the proxy process's own (sum of "+
		"/proc/PID/task/*/schedstat over all rounds, divided by the transactions; pgbench's connections included). "+
		"Every run must report no failed transaction, and the server's committed transactions must grow by at least "+
		"the transactions. pgbench, the server's backends, the proxy and the test process share the machine's CPUs. "+
		"faults is the TCP (spliced) pass-through, faults-postgres the same with WithProtocol(Postgres()) and no fault. "+
		"Toxiproxy runs with LOG_LEVEL=error.\n")
}
