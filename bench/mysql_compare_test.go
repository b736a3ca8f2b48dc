package bench

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults/internal/testenv"
)

// Environment of TestCompareMySQL (besides FAULTS_BENCH, FAULTS_BENCH_ROWS
// and FAULTS_BENCH_OUT, read as by TestCompare, and FAULTS_MYSQL_ADDR and
// FAULTS_REQUIRE_SERVICES, read by testenv.MySQLAddr).
const (
	envBenchMySQLRnds = "FAULTS_BENCH_MYSQL_ROUNDS" // rounds, default 3
	envBenchSlapQ     = "FAULTS_BENCH_SLAP_QUERIES" // mariadb-slap's --number-of-queries, default 40000
	envBenchResTime   = "FAULTS_BENCH_RESULT_TIME"  // large result set time per row and round, default 1s
)

const (
	slapQuery         = "SELECT 1"       // the statement mariadb-slap repeats
	slapConcurrency   = 8                // mariadb-slap's clients
	slapLimit         = 30 * time.Second // longest one mariadb-slap run may take
	resultRows        = 20000            // rows of the large result set
	resultRowBytes    = 1024             // bytes of each row's v column
	resultInsertBatch = 500              // rows per INSERT when creating the table
	resultIDWidth     = 8                // v is the id, zero-padded to this width, repeated
)

// mysqlRows are the ways TestCompareMySQL reaches the server.
var mysqlRows = []row{
	{name: "direct"},
	{name: "plain", child: kindPlain},
	{name: "faults", child: kindFaults},
	{name: "faults-mysql", child: kindFaultsMySQL},
	{name: "toxiproxy", toxi: true},
}

// mysqlResult is one row of TestCompareMySQL's report.
type mysqlResult struct {
	rowHead

	// mariadb-slap: SELECT 1 over slapConcurrency connections
	qps       []float64 // queries/s from the wall time, per round
	slapQPS   []float64 // queries/s from slap's own timing, per round
	queries   int64
	slapCPU   time.Duration
	slapNoCPU bool

	// large result set: SELECT * FROM the table, read fully, one at a time
	resBytes  int64
	resCPU    time.Duration
	resRates  []float64 // MiB/s per round
	resNoCPU  bool
	resultSet int64 // SELECTs read
}

func (r *mysqlResult) slapRate() float64 { return median(r.qps) }

func (r *mysqlResult) cpuUsPerQuery() float64 {
	return cpuPer(r.slapNoCPU, us(r.slapCPU), float64(r.queries))
}

func (r *mysqlResult) resMiBs() float64 { return median(r.resRates) }

func (r *mysqlResult) cpuMsPerMiB() float64 {
	return cpuPer(r.resNoCPU, ms(r.resCPU), float64(r.resBytes)/mib)
}

// mysqlConfig bounds a TestCompareMySQL run.
type mysqlConfig struct {
	rounds     int
	queries    int           // mariadb-slap's --number-of-queries
	resultTime time.Duration // large result set per row and round
}

// TestCompareMySQL measures MySQL through each proxy, side by side in one
// run, against a real MariaDB (or MySQL) server: mariadb-slap repeating
// SELECT 1 over 8 connections for queries/s and the proxy's CPU per query,
// then a large result set (SELECT * of a 20,000-row table of 1 KiB rows,
// read fully with go-sql-driver) for MiB/s and the proxy's CPU per MiB.
// Rows are interleaved per round. It runs only with FAULTS_BENCH=1, a
// server at FAULTS_MYSQL_ADDR (default 127.0.0.1:3306, user root without a
// password, database test) and mariadb-slap; it takes about 35 s.
func TestCompareMySQL(t *testing.T) {
	requireBench(t, "the MySQL comparison (about 35 s)")
	cfg := mysqlConfig{rounds: 3, queries: 40000, resultTime: time.Second}
	cfg.rounds = envInt(t, envBenchMySQLRnds, cfg.rounds, 1, 10)
	cfg.queries = envInt(t, envBenchSlapQ, cfg.queries, slapConcurrency, 1_000_000)
	cfg.queries -= cfg.queries % slapConcurrency // slap gives each client queries/concurrency
	cfg.resultTime = envDuration(t, envBenchResTime, cfg.resultTime)
	slap, err := findTool("mariadb-slap", "mariadb-client")
	if err != nil {
		t.Skip(err)
	}
	addr := testenv.MySQLAddr(t) // the server to measure against; see testenv for when it skips
	selected := selectRows(mysqlRows)

	admin, err := sql.Open("mysql", mysqlBenchDSN(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var version string
	if err := admin.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	table, err := createResultTable(admin)
	if table != "" {
		defer func() {
			if _, err := admin.Exec("DROP TABLE IF EXISTS " + table); err != nil {
				t.Errorf("drop %s: %v", table, err)
			}
		}()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("created test.%s (%d rows of %d bytes) in %v", table, resultRows, resultRowBytes, time.Since(t0).Round(time.Millisecond))

	results := make([]mysqlResult, len(selected))
	eps := make([]*endpoint, len(selected))
	defer closeEndpoints(t, selected, eps)
	startRows(t, selected, addr, eps, results, checkSelectOne)

	start := time.Now()
	for round := range cfg.rounds {
		eachEndpoint(t, selected, eps, "mariadb-slap", round, func(i int, ep *endpoint) error {
			return measureSlap(ep, slap, admin, cfg.queries, &results[i])
		})
		eachEndpoint(t, selected, eps, "large result set", round, func(i int, ep *endpoint) error {
			return measureResult(ep, table, cfg.resultTime, &results[i])
		})
	}

	var sb strings.Builder
	writeMySQLReport(&sb, results, version, cfg, time.Since(start))
	emitReport(t, sb.String())
}

// mysqlBenchDSN is go-sql-driver's DSN for root, no password, on database
// test at addr; every read and write is bounded by guard.
func mysqlBenchDSN(addr string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.DBName = "root", "tcp", addr, "test"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, guard, guard
	return cfg.FormatDSN()
}

// createResultTable creates the large result set's table in database test
// under a name of its own and fills it: id 1..resultRows and v, the id
// zero-padded to resultIDWidth digits and repeated to resultRowBytes bytes.
// It returns the name as soon as the table exists, so that the caller drops
// it even if filling it fails.
func createResultTable(db *sql.DB) (string, error) {
	name := fmt.Sprintf("faults_bench_result_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000)
	if _, err := db.Exec("CREATE TABLE " + name + " (id INT NOT NULL PRIMARY KEY, v VARBINARY(" +
		strconv.Itoa(resultRowBytes) + ") NOT NULL) ENGINE=InnoDB"); err != nil {
		return "", err
	}
	tx, err := db.Begin()
	if err != nil {
		return name, err
	}
	defer tx.Rollback()
	stmt := "INSERT INTO " + name + " (id, v) VALUES " + strings.Repeat("(?,?),", resultInsertBatch-1) + "(?,?)"
	args := make([]any, 0, 2*resultInsertBatch)
	for id := 1; id <= resultRows; id++ {
		args = append(args, id, resultValue(id))
		if len(args) == cap(args) || id == resultRows {
			q := stmt
			if len(args) < cap(args) {
				q = "INSERT INTO " + name + " (id, v) VALUES " + strings.Repeat("(?,?),", len(args)/2-1) + "(?,?)"
			}
			if _, err := tx.Exec(q, args...); err != nil {
				return name, err
			}
			args = args[:0]
		}
	}
	return name, tx.Commit()
}

// resultValue is row id's v.
func resultValue(id int) []byte {
	v := make([]byte, 0, resultRowBytes)
	for len(v) < resultRowBytes {
		v = fmt.Appendf(v, "%0*d", resultIDWidth, id)
	}
	return v[:resultRowBytes]
}

// checkSelectOne runs SELECT 1 through addr with go-sql-driver.
func checkSelectOne(addr string) error {
	db, err := sql.Open("mysql", mysqlBenchDSN(addr))
	if err != nil {
		return err
	}
	defer db.Close()
	var one int
	if err := db.QueryRow(slapQuery).Scan(&one); err != nil || one != 1 {
		return fmt.Errorf("%s: got %d, %v", slapQuery, one, err)
	}
	return nil
}

// comSelect reads the server's global count of SELECT statements.
func comSelect(admin *sql.DB) (int64, error) {
	var name string
	var n int64
	err := admin.QueryRow("SHOW GLOBAL STATUS LIKE 'Com_select'").Scan(&name, &n)
	return n, err
}

// measureSlap runs mariadb-slap once through ep and adds its queries/s, and
// the proxy's CPU meanwhile, to res. The server's Com_select counter must
// have grown by at least the queries slap claims to have run.
func measureSlap(ep *endpoint, bin string, admin *sql.DB, queries int, res *mysqlResult) error {
	host, port, err := net.SplitHostPort(ep.addr)
	if err != nil {
		return err
	}
	before, err := comSelect(admin)
	if err != nil {
		return err
	}
	var run slapRun
	err = addProxyCPU(ep, &res.slapCPU, &res.slapNoCPU, func() (err error) {
		run, err = runSlap(bin, slapArgs(host, port, slapQuery, slapConcurrency, queries), slapLimit)
		return err
	})
	if err != nil {
		return err
	}
	after, err := comSelect(admin)
	if err != nil {
		return err
	}
	ran := int64(run.clients) * run.perClient
	if run.clients != slapConcurrency || ran != int64(queries) {
		return fmt.Errorf("mariadb-slap ran %d clients × %d queries, want %d × %d", run.clients, run.perClient, slapConcurrency, queries/slapConcurrency)
	}
	if after-before < ran {
		return fmt.Errorf("the server's Com_select grew by %d during the run, want at least %d", after-before, ran)
	}
	res.qps = append(res.qps, float64(ran)/run.wall.Seconds())
	res.slapQPS = append(res.slapQPS, float64(ran)/run.reported.Seconds())
	res.queries += ran
	return nil
}

// measureResult reads the whole table through ep, one SELECT at a time on
// one connection, for about d (at least twice), and adds the bytes read,
// the time and the proxy's CPU to res. The connection is made before the
// CPU reading starts.
func measureResult(ep *endpoint, table string, d time.Duration, res *mysqlResult) error {
	db, err := sql.Open("mysql", mysqlBenchDSN(ep.addr))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return err
	}
	var n, selects int64
	var elapsed time.Duration
	err = addProxyCPU(ep, &res.resCPU, &res.resNoCPU, func() (err error) {
		elapsed, err = repeatFor(d, func() error {
			got, err := readResult(db, table)
			n += got
			if err != nil {
				return err
			}
			selects++
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	res.resBytes += n
	res.resultSet += selects
	res.resRates = append(res.resRates, float64(n)/mib/elapsed.Seconds())
	return nil
}

// readResult runs SELECT * FROM table and reads every row, checking each
// against what createResultTable stored. It returns the bytes of column
// data read (the ids' text and the v columns).
func readResult(db *sql.DB, table string) (int64, error) {
	rows, err := db.Query("SELECT * FROM " + table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var id, v sql.RawBytes
	var n, count, sum int64
	var want [resultIDWidth]byte
	for rows.Next() {
		if err := rows.Scan(&id, &v); err != nil {
			return n, err
		}
		n += int64(len(id) + len(v))
		k, err := strconv.Atoi(string(id))
		if err != nil || len(v) != resultRowBytes || len(id) > resultIDWidth {
			return n, fmt.Errorf("row %d: id %q, v of %d bytes", count+1, id, len(v))
		}
		for i, j := resultIDWidth-1, k; i >= 0; i, j = i-1, j/10 {
			want[i] = byte('0' + j%10)
		}
		if string(v[:resultIDWidth]) != string(want[:]) || string(v[resultRowBytes-resultIDWidth:]) != string(want[:]) {
			return n, fmt.Errorf("row id %d: v starts %q and ends %q", k, v[:resultIDWidth], v[resultRowBytes-resultIDWidth:])
		}
		count++
		sum += int64(k)
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if count != resultRows || sum != int64(resultRows)*(resultRows+1)/2 {
		return n, fmt.Errorf("read %d rows (ids summing to %d), want %d", count, sum, resultRows)
	}
	return n, nil
}

var mysqlTargets = []target[*mysqlResult]{
	{"faults-mysql", "plain", "queries/s", (*mysqlResult).slapRate, true, 0.9},
	{"faults-mysql", "plain", "CPU µs/query", (*mysqlResult).cpuUsPerQuery, false, 1.3},
	{"faults-mysql", "plain", "large result MiB/s", (*mysqlResult).resMiBs, true, 0.8},
}

// writeMySQLReport renders TestCompareMySQL's results as Markdown.
func writeMySQLReport(w io.Writer, results []mysqlResult, version string, cfg mysqlConfig, took time.Duration) {
	info := firstInfo(results)
	byName := rowsByName(results)
	fmt.Fprintf(w, "### MySQL through each proxy (%s %s/%s, %d CPUs, server %s%s; %d rounds; took %.0fs)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), version, info, cfg.rounds, took.Seconds())

	fmt.Fprintf(w, "mariadb-slap --query='%s' --concurrency=%d --number-of-queries=%d --iterations=1 (%d per client):\n\n",
		slapQuery, slapConcurrency, cfg.queries, cfg.queries/slapConcurrency)
	fmt.Fprint(w, "| path | queries/s | spread queries/s | queries/s (slap's timing) | proxy CPU µs/query |\n|---|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped != "" {
			writeSkipped(w, r.name, r.skipped, 4)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.name, cell("%.0f", r.slapRate()), spread(r.qps),
			cell("%.0f", median(r.slapQPS)), cell("%.1f", r.cpuUsPerQuery()))
	}

	perSelect := math.NaN()
	for _, r := range results {
		if r.resultSet > 0 {
			perSelect = float64(r.resBytes) / float64(r.resultSet) / mib
			break
		}
	}
	fmt.Fprintf(w, "\nSELECT * of %d rows × %d bytes (%s MiB of column data), read fully with go-sql-driver, one at a time on one connection, %v per row and round:\n\n",
		resultRows, resultRowBytes, cell("%.1f", perSelect), cfg.resultTime)
	fmt.Fprint(w, "| path | MiB/s | proxy CPU ms/MiB | spread MiB/s | SELECTs |\n|---|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped != "" {
			writeSkipped(w, r.name, r.skipped, 4)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d |\n", r.name, cell("%.0f", r.resMiBs()), cell("%.3f", r.cpuMsPerMiB()), spread(r.resRates), r.resultSet)
	}

	fmt.Fprint(w, "\n### Ratios (a / b)\n\nqueries/s and MiB/s: above 1 means a is faster. CPU: below 1 means a is cheaper.\n\n")
	fmt.Fprint(w, "| a / b | queries/s | CPU µs/query | result MiB/s | CPU ms/MiB |\n|---|---:|---:|---:|---:|\n")
	writePairRatios(w, byName, [][2]string{{"faults-mysql", "plain"}, {"faults-mysql", "faults"}, {"faults-mysql", "toxiproxy"}, {"plain", "direct"}, {"toxiproxy", "plain"}},
		(*mysqlResult).slapRate, (*mysqlResult).cpuUsPerQuery, (*mysqlResult).resMiBs, (*mysqlResult).cpuMsPerMiB)

	writeTargets(w, byName, mysqlTargets)
	fmt.Fprint(w, "\nqueries/s and MiB/s are medians of the rounds; queries/s come from the wall time around the whole "+
		"mariadb-slap process (slap's own timing, which leaves out its start and its first connection, is shown beside). "+
		"CPU is the proxy process's own (sum of /proc/PID/task/*/schedstat over all rounds, divided by the queries or MiB; "+
		"the slap runs' connection handshakes included). mariadb-slap, the server, the proxy and the test process share the machine's CPUs. "+
		"faults is the TCP (spliced) pass-through, faults-mysql the same with WithProtocol(MySQL()) and no fault. "+
		"Toxiproxy runs with LOG_LEVEL=error.\n")
}
