package faults_test

// Pass-through through a MySQL-aware proxy, against the real server
// (mysqlAddr) with go-sql-driver/mysql, the mariadb command-line clients
// and a raw protocol client for what the driver does not send.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults"
)

// startMySQLProxy starts a MySQL-aware proxy in front of the real server,
// closed at cleanup.
func startMySQLProxy(t *testing.T, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	addr := mysqlAddr(t)
	return newProxy(t, addr, append([]faults.Option{faults.WithProtocol(faults.MySQL())}, opts...)...)
}

// openMySQL opens a database/sql pool for root on database test at addr,
// with 5 s timeouts unless params (DSN parameters, "&"-separated) say
// otherwise, closed at cleanup.
func openMySQL(t testing.TB, addr, params string) *sql.DB {
	t.Helper()
	dsn := "root@tcp(" + addr + ")/test?timeout=5s&readTimeout=5s&writeTimeout=5s"
	if params != "" {
		dsn += "&" + params
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mysqlCtx returns a context that ends with the test or after d.
func mysqlCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// mysqlName returns a name unique to this test run, for a table or a
// procedure: the test's name, cut to fit, and a random suffix.
func mysqlName(t testing.TB, prefix string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("%s_%s_%08x", prefix, name, rand.Uint32())
}

// mysqlTable creates a table with columns cols under a unique name that
// starts with prefix and drops it at cleanup, both over a direct connection to the server (a
// proxy may still be misbehaving at cleanup). It returns the name and
// that direct pool.
func mysqlTable(t *testing.T, prefix, cols string) (string, *sql.DB) {
	t.Helper()
	direct := openMySQL(t, mysqlAddr(t), "")
	name := mysqlName(t, prefix)
	if _, err := direct.Exec("CREATE TABLE " + name + " (" + cols + ") ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := direct.Exec("DROP TABLE IF EXISTS " + name); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	return name, direct
}

// mysqlVar returns a server variable's value, read directly.
func mysqlVar(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v sql.NullString
	if err := db.QueryRow("SELECT @@" + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v.String
}

// sessionStatus returns a session status variable, such as Ssl_cipher,
// seen by the session q runs on.
func sessionStatus(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) string {
	t.Helper()
	var n, v string
	err := q.QueryRowContext(context.Background(), "SHOW SESSION STATUS LIKE '"+name+"'").Scan(&n, &v)
	if err != nil {
		t.Fatalf("SHOW SESSION STATUS LIKE %q: %v", name, err)
	}
	return v
}

// queryStrings runs a query and returns its rows as strings, NULL as
// "NULL".
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) [][]string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out, err := scanStrings(rows)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// scanStrings reads the current result set of rows.
func scanStrings(rows *sql.Rows) ([][]string, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := [][]string{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// TestMySQLPassThroughQueries: DDL, writes and reads through the proxy,
// over the text protocol (literal SQL and interpolateParams=true, both
// COM_QUERY) and the binary one (arguments without interpolation:
// COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE), with values whose
// bytes look like protocol markers (0x00, 0xfb NULL, 0xfe EOF, 0xff ERR);
// what the server stored, read directly, is what was sent through the
// proxy.
func TestMySQLPassThroughQueries(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY, name VARCHAR(64), data VARBINARY(255), f DOUBLE, d DATETIME(6) NULL")
	ctx := mysqlCtx(t, 20*time.Second)
	markers := make([]byte, 255)
	for i := range markers {
		markers[i] = byte(255 - i) // 0xff, 0xfe, 0xfb, ..., 0x01
	}
	markers[254] = 0
	name := "héllo ✓ 'quoted' \"double\" \\back\\ \x00nul"

	for i, mode := range []struct{ name, params string }{
		{"text", ""},
		{"binary", ""},
		{"interpolate", "interpolateParams=true"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			db := openMySQL(t, p.Addr(), mode.params)
			id := i + 1
			when := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.UTC)
			var err error
			if mode.name == "text" {
				_, err = db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'plain', 0x%x, 1.5, '2024-02-29 23:59:58.123456')", tbl, id, markers))
			} else {
				_, err = db.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (?, ?, ?, ?, ?)", id, name, markers, 1.5, when)
			}
			if err != nil {
				t.Fatal(err)
			}
			// NULL, through an UPDATE.
			if _, err := db.ExecContext(ctx, "UPDATE "+tbl+" SET d = NULL WHERE id = "+strconv.Itoa(id)); err != nil {
				t.Fatal(err)
			}
			var (
				gotName string
				gotData []byte
				gotF    float64
				gotD    sql.NullTime
			)
			q := "SELECT name, data, f, d FROM " + tbl + " WHERE id = "
			var row *sql.Row
			if mode.name == "text" {
				row = db.QueryRowContext(ctx, q+strconv.Itoa(id))
			} else {
				row = db.QueryRowContext(ctx, q+"?", id)
			}
			if err := row.Scan(&gotName, &gotData, &gotF, &gotD); err != nil {
				t.Fatal(err)
			}
			wantName := name
			if mode.name == "text" {
				wantName = "plain"
			}
			if gotName != wantName || !bytes.Equal(gotData, markers) || gotF != 1.5 || gotD.Valid {
				t.Errorf("read back %q %x %v %v", gotName, gotData, gotF, gotD)
			}
			// What the server holds, read directly.
			var dName string
			var dData []byte
			if err := direct.QueryRowContext(ctx, "SELECT name, data FROM "+tbl+" WHERE id = ?", id).Scan(&dName, &dData); err != nil {
				t.Fatal(err)
			}
			if dName != wantName || !bytes.Equal(dData, markers) {
				t.Errorf("server holds %q %x", dName, dData)
			}
		})
	}
	if n := p.Stats().Requests; n < 9 {
		t.Errorf("Stats().Requests = %d; the statements were not framed", n)
	}
	checkInjected(t, p, 0)
}

// TestMySQLPassThroughMultiStatements: multiStatements=true, several
// result sets in one answer (SERVER_MORE_RESULTS_EXISTS), an OK among
// them, and a stored procedure's result sets.
func TestMySQLPassThroughMultiStatements(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY")
	proc := mysqlName(t, "p")
	if _, err := direct.Exec("CREATE PROCEDURE " + proc + "() BEGIN SELECT 'a'; SELECT 'b', 2; END"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Exec("DROP PROCEDURE IF EXISTS " + proc) })
	db := openMySQL(t, p.Addr(), "multiStatements=true")
	ctx := mysqlCtx(t, 10*time.Second)

	if _, err := db.ExecContext(ctx, fmt.Sprintf("INSERT INTO %[1]s VALUES (1); INSERT INTO %[1]s VALUES (2), (3)", tbl)); err != nil {
		t.Fatal(err)
	}
	directMulti := openMySQL(t, mysqlAddr(t), "multiStatements=true")
	for _, tc := range []struct {
		query string
		want  string
	}{
		// go-sql-driver skips results without columns (the INSERT's OK)
		// between result sets.
		{
			fmt.Sprintf("SELECT 1; SELECT 'two', 2; INSERT INTO %[1]s VALUES (4); SELECT COUNT(*) FROM %[1]s; SELECT NULL", tbl),
			"[[[1]] [[two 2]] [[4]] [[NULL]]]",
		},
		{"CALL " + proc + "()", "[[[a]] [[b 2]]]"},
	} {
		proxied := resultSets(t, ctx, db, tc.query)
		if proxied != tc.want {
			t.Errorf("%s: result sets %s, want %s", tc.query, proxied, tc.want)
		}
		if !strings.HasPrefix(tc.query, "CALL") {
			continue // not twice
		}
		if d := resultSets(t, ctx, directMulti, tc.query); d != proxied {
			t.Errorf("%s: result sets %s through the proxy, %s directly", tc.query, proxied, d)
		}
	}
	// The connection is in step after them.
	if got := queryStrings(t, db, "SELECT COUNT(*) FROM "+tbl); got[0][0] != "4" {
		t.Errorf("count %v", got)
	}
}

// resultSets runs a query and returns all its result sets, printed.
func resultSets(t *testing.T, ctx context.Context, db *sql.DB, query string) string {
	t.Helper()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var got [][][]string
	for i := 0; i < 10; i++ {
		set, err := scanStrings(rows)
		if err != nil {
			t.Fatalf("%s: result set %d: %v", query, i, err)
		}
		got = append(got, set)
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return fmt.Sprint(got)
}

// TestMySQLPassThroughTransactions: a committed transaction is seen by
// others, a rolled-back one is not.
func TestMySQLPassThroughTransactions(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY, v INT")
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 10*time.Second)
	if _, err := direct.Exec("INSERT INTO " + tbl + " VALUES (1, 10)"); err != nil {
		t.Fatal(err)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE "+tbl+" SET v = ? WHERE id = 1", 11); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO " + tbl + " VALUES (2, 20)"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE " + tbl + " SET v = 99"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO "+tbl+" VALUES (?, ?)", 3, 30); err != nil {
		t.Fatal(err)
	}
	var inside int
	if err := tx.QueryRow("SELECT SUM(v) FROM " + tbl).Scan(&inside); err != nil || inside != 99+99+30 {
		t.Fatalf("inside the transaction: sum %d, %v", inside, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	for _, q := range []*sql.DB{db, direct} {
		if got := queryStrings(t, q, "SELECT id, v FROM "+tbl+" ORDER BY id"); fmt.Sprint(got) != "[[1 11] [2 20]]" {
			t.Errorf("after commit and rollback: %v", got)
		}
	}
}

// TestMySQLPassThroughLargeRows: an 8 MiB LONGBLOB written and read back
// through the proxy, over the binary protocol (COM_STMT_SEND_LONG_DATA,
// which has no answer, when the driver knows max_allowed_packet) and the
// text one (one COM_QUERY packet of 8 MiB and more), hash-checked against
// what the server holds; then messages split over packets: a statement and
// a row of exactly 0xFFFFFF bytes (a full packet and an empty one).
func TestMySQLPassThroughLargeRows(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY, data LONGBLOB")
	ctx := mysqlCtx(t, 30*time.Second)
	maxPacket, _ := strconv.Atoi(mysqlVar(t, direct, "max_allowed_packet"))
	const size = 8 << 20
	if maxPacket < size+1024 {
		t.Skipf("max_allowed_packet is %d: too small for an 8 MiB row", maxPacket)
	}
	blob := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < len(blob); i += 8 {
		binary.LittleEndian.PutUint64(blob[i:], rng.Uint64())
	}
	sum := sha256.Sum256(blob)

	for i, mode := range []struct{ name, params string }{
		// maxAllowedPacket=0: the driver asks the server, and sends values
		// of at least max_allowed_packet/2 as long data.
		{"binary", "maxAllowedPacket=0"},
		{"text", "interpolateParams=true"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			db := openMySQL(t, p.Addr(), mode.params+"&readTimeout=20s&writeTimeout=20s")
			before := p.Stats()
			if _, err := db.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (?, ?)", i, blob); err != nil {
				t.Fatal(err)
			}
			up := p.Stats().BytesUpstream - before.BytesUpstream
			if up < size {
				t.Errorf("%d bytes went upstream for an %d-byte value", up, size)
			}
			var got []byte
			if err := db.QueryRowContext(ctx, "SELECT data FROM "+tbl+" WHERE id = ?", i).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != sum {
				t.Errorf("read back %d bytes, hash differs", len(got))
			}
			var n int
			var serverSum string
			if err := direct.QueryRowContext(ctx, "SELECT LENGTH(data), SHA2(data, 256) FROM "+tbl+" WHERE id = ?", i).Scan(&n, &serverSum); err != nil {
				t.Fatal(err)
			}
			if n != size || serverSum != fmt.Sprintf("%x", sum) {
				t.Errorf("server holds %d bytes, sha256 %s", n, serverSum)
			}
		})
	}

	t.Run("split", func(t *testing.T) {
		// A message of exactly 0xFFFFFF bytes goes as a full packet and an
		// empty one; it fits a max_allowed_packet of 16 MiB.
		if maxPacket < 1<<24 {
			t.Skipf("max_allowed_packet is %d, less than 16 MiB", maxPacket)
		}
		db := openMySQL(t, p.Addr(), "readTimeout=20s&writeTimeout=20s")
		const full = 1<<24 - 1
		prefix, suffix := "SELECT LENGTH('", "')"
		k := full - 1 - len(prefix) - len(suffix) // 1: the command byte
		var n int
		if err := db.QueryRowContext(ctx, prefix+strings.Repeat("x", k)+suffix).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != k {
			t.Errorf("LENGTH = %d, want %d", n, k)
		}
		// A text row of one value of 16777211 bytes: its length prefix
		// (4 bytes) and the value make 0xFFFFFF.
		var s string
		if err := db.QueryRowContext(ctx, "SELECT REPEAT('y', 16777211)").Scan(&s); err != nil {
			t.Fatal(err)
		}
		if len(s) != 16777211 || strings.Trim(s, "y") != "" {
			t.Errorf("read %d bytes", len(s))
		}
		if got := queryStrings(t, db, "SELECT 'after'"); got[0][0] != "after" {
			t.Errorf("after the split messages: %v", got)
		}
	})

	t.Run("over16MiB", func(t *testing.T) {
		if maxPacket < 40<<20 {
			t.Skipf("max_allowed_packet is %d: a message of more than two packets needs it above 32 MiB (the shared server is not reconfigured)", maxPacket)
		}
		db := openMySQL(t, p.Addr(), "readTimeout=30s&writeTimeout=30s")
		big := bytes.Repeat(blob[:1<<20], 36)
		if _, err := db.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (100, ?)", big); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := db.QueryRowContext(ctx, "SELECT data FROM "+tbl+" WHERE id = 100").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, big) {
			t.Errorf("read back %d bytes, differ", len(got))
		}
	})
	checkInjected(t, p, 0)
}

// TestMySQLPassThroughLoadDataLocal: LOAD DATA LOCAL INFILE of 6 MiB from
// an io.Reader: the client sends the file in packets of 16 KiB whose
// sequence ids wrap past 255 to 0; those are not commands. A request
// behavior with no matcher, counted (After(1).Times(1)), passes the LOAD
// DATA statement and fires on the next statement, not on a packet of the
// file.
func TestMySQLPassThroughLoadDataLocal(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY, v VARCHAR(200)")
	if v := mysqlVar(t, direct, "local_infile"); v != "1" && !strings.EqualFold(v, "ON") {
		t.Skipf("the server has local_infile %s", v)
	}
	var file bytes.Buffer
	var wantCRC uint32
	rng := rand.New(rand.NewPCG(3, 4))
	for id := 0; file.Len() < 6<<20; id++ {
		line := fmt.Sprintf("%d,%x%x%x%x", id, rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
		wantCRC ^= crc32.ChecksumIEEE([]byte(line))
		file.WriteString(line + "\n")
	}
	lines := bytes.Count(file.Bytes(), []byte("\n"))
	reader := mysqlName(t, "r")
	mysql.RegisterReaderHandler(reader, func() io.Reader { return bytes.NewReader(file.Bytes()) })
	t.Cleanup(func() { mysql.DeregisterReaderHandler(reader) })

	db := openMySQL(t, p.Addr(), "readTimeout=20s&writeTimeout=20s")
	ctx := mysqlCtx(t, 30*time.Second)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustSet(t, p, faults.Error(faults.MySQLDeadlock).After(1).Times(1))
	res, err := conn.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+reader+"' INTO TABLE "+tbl+" FIELDS TERMINATED BY ',' (id, v)")
	if err != nil {
		t.Fatalf("LOAD DATA LOCAL INFILE: %v", err)
	}
	if n, _ := res.RowsAffected(); n != int64(lines) {
		t.Errorf("%d rows loaded, want %d", n, lines)
	}
	// The behavior's one firing is due now.
	var me *mysql.MySQLError
	if _, err := conn.ExecContext(ctx, "DO 1"); !errors.As(err, &me) || me.Number != 1213 {
		t.Errorf("statement after LOAD DATA: %v, want the injected 1213", err)
	}
	checkInjected(t, p, 1)
	var n int
	var crc int64
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*), BIT_XOR(CRC32(CONCAT(id, ',', v))) FROM "+tbl).Scan(&n, &crc); err != nil {
		t.Fatal(err)
	}
	if n != lines || uint32(crc) != wantCRC {
		t.Errorf("the server holds %d rows, crc %08x; want %d, %08x", n, crc, lines, wantCRC)
	}
}

// rawMySQL is a minimal MySQL client, for what go-sql-driver does not
// send (COM_RESET_CONNECTION, COM_CHANGE_USER) and for bytes no client
// sends.
type rawMySQL struct {
	c        net.Conn
	br       *bufio.Reader
	seq      byte
	greeting []byte
}

// rawMySQLError is an ERR packet the raw client read.
type rawMySQLError struct {
	number uint16
	state  string
	msg    string
}

func (e *rawMySQLError) Error() string {
	return fmt.Sprintf("ERR %d (%s) %s", e.number, e.state, e.msg)
}

const (
	rawCapLongPassword = 0x1
	rawCapLongFlag     = 0x4
	rawCapWithDB       = 0x8
	rawCapCompress     = 0x20
	rawCapProtocol41   = 0x200
	rawCapSSL          = 0x800
	rawCapTransactions = 0x2000
	rawCapSecureConn   = 0x8000
	rawCapMultiResults = 0x20000
	rawCapPluginAuth   = 0x80000
)

// dialRawMySQL connects to addr and reads the greeting.
func dialRawMySQL(t testing.TB, addr string) *rawMySQL {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := &rawMySQL{c: c, br: bufio.NewReader(c)}
	if r.greeting, err = r.read(); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return r
}

func (r *rawMySQL) read() ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return nil, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	p := make([]byte, n)
	if _, err := io.ReadFull(r.br, p); err != nil {
		return nil, err
	}
	r.seq = h[3] + 1
	return p, nil
}

func (r *rawMySQL) write(payload []byte) error {
	n := len(payload)
	_, err := r.c.Write(append([]byte{byte(n), byte(n >> 8), byte(n >> 16), r.seq}, payload...))
	r.seq++
	return err
}

// command sends a command (sequence id 0).
func (r *rawMySQL) command(payload []byte) error {
	r.seq = 0
	return r.write(payload)
}

// caps returns the greeting's capability flags.
func (r *rawMySQL) caps() uint32 {
	g := r.greeting
	i := bytes.IndexByte(g[1:], 0) + 2 + 4 + 8 + 1
	if len(g) < i+2+3+2 {
		return 0
	}
	return uint32(binary.LittleEndian.Uint16(g[i:])) | uint32(binary.LittleEndian.Uint16(g[i+5:]))<<16
}

// answerOK reads an answer to a login, a change of user or a command
// without result set: OK, or an ERR as an error; auth switch requests are
// answered with the empty password.
func (r *rawMySQL) answerOK() error {
	for range 4 {
		p, err := r.read()
		if err != nil {
			return err
		}
		switch {
		case len(p) > 0 && p[0] == 0x00:
			return nil
		case len(p) > 0 && p[0] == 0xff:
			return parseRawErr(p)
		case len(p) > 0 && p[0] == 0xfe:
			if err := r.write(nil); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected answer % x", p[:min(len(p), 16)])
		}
	}
	return errors.New("too many auth exchanges")
}

func parseRawErr(p []byte) error {
	e := &rawMySQLError{number: binary.LittleEndian.Uint16(p[1:])}
	rest := p[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		e.state, rest = string(rest[1:6]), rest[6:]
	}
	e.msg = string(rest)
	return e
}

// login logs in as root with the empty password on database test.
func (r *rawMySQL) login() error {
	caps := uint32(rawCapLongPassword|rawCapLongFlag|rawCapWithDB|rawCapProtocol41|rawCapTransactions|rawCapSecureConn|rawCapMultiResults|rawCapPluginAuth) & r.caps()
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, caps)
	b = binary.LittleEndian.AppendUint32(b, 1<<24)
	b = append(b, 33) // utf8_general_ci
	b = append(b, make([]byte, 23)...)
	b = append(b, "root\x00"...)
	b = append(b, 0) // empty auth response
	b = append(b, "test\x00mysql_native_password\x00"...)
	if err := r.write(b); err != nil {
		return err
	}
	return r.answerOK()
}

// query runs a statement and returns its rows (NULL as "NULL"), or the
// ERR as an error.
func (r *rawMySQL) query(q string) ([][]string, error) {
	if err := r.command(append([]byte{0x03}, q...)); err != nil {
		return nil, err
	}
	p, err := r.read()
	if err != nil {
		return nil, err
	}
	switch p[0] {
	case 0x00:
		return nil, nil
	case 0xff:
		return nil, parseRawErr(p)
	}
	cols := int(p[0])
	for range cols + 1 { // definitions, EOF
		if _, err := r.read(); err != nil {
			return nil, err
		}
	}
	var rows [][]string
	for range 1000 {
		p, err := r.read()
		if err != nil {
			return nil, err
		}
		if p[0] == 0xfe && len(p) < 9 {
			return rows, nil
		}
		if p[0] == 0xff {
			return nil, parseRawErr(p)
		}
		var row []string
		for range cols {
			if p[0] == 0xfb {
				row, p = append(row, "NULL"), p[1:]
				continue
			}
			n := int(p[0]) // values under 251 bytes only
			row, p = append(row, string(p[1:1+n])), p[1+n:]
		}
		rows = append(rows, row)
	}
	return nil, errors.New("too many rows")
}

// TestMySQLPassThroughResetAndChangeUser: COM_RESET_CONNECTION and
// COM_CHANGE_USER (which go-sql-driver never sends; a raw client does)
// pass through and do their work, and the proxy's framing stays in step
// after them: a statement fault still fires on the right statement.
func TestMySQLPassThroughResetAndChangeUser(t *testing.T) {
	addr := mysqlAddr(t)
	if err := dialRawMySQL(t, addr).login(); err != nil {
		t.Skipf("the raw client cannot log in directly: %v", err)
	}
	p := startMySQLProxy(t)
	mustSet(t, p, faults.Error(faults.MySQLDeadlock).When(faults.Query(`^SELECT 'faulted'`)))
	r := dialRawMySQL(t, p.Addr())
	if err := r.login(); err != nil {
		t.Fatalf("login through the proxy: %v", err)
	}
	mustQuery := func(q, want string) {
		t.Helper()
		rows, err := r.query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if got := fmt.Sprint(rows); got != want {
			t.Fatalf("%s: %s, want %s", q, got, want)
		}
	}
	mustFault := func() {
		t.Helper()
		_, err := r.query("SELECT 'faulted'")
		var e *rawMySQLError
		if !errors.As(err, &e) || e.number != 1213 || e.state != "40001" {
			t.Fatalf("SELECT 'faulted': %v, want the injected 1213", err)
		}
	}

	mustQuery("SET @x = 5", "[]")
	mustQuery("SELECT @x", "[[5]]")
	if err := r.command([]byte{0x1f}); err != nil { // COM_RESET_CONNECTION
		t.Fatal(err)
	}
	if err := r.answerOK(); err != nil {
		t.Fatalf("COM_RESET_CONNECTION: %v", err)
	}
	mustQuery("SELECT @x", "[[NULL]]")
	mustFault()

	mustQuery("SET @y = 7", "[]")
	var cu []byte
	cu = append(cu, 0x11)
	cu = append(cu, "root\x00"...)
	cu = append(cu, 0) // empty auth response
	cu = append(cu, "test\x00"...)
	cu = append(cu, 33, 0)
	cu = append(cu, "mysql_native_password\x00"...)
	if err := r.command(cu); err != nil { // COM_CHANGE_USER
		t.Fatal(err)
	}
	if err := r.answerOK(); err != nil {
		t.Fatalf("COM_CHANGE_USER: %v", err)
	}
	mustQuery("SELECT @y, DATABASE()", "[[NULL test]]")
	mustFault()
	mustQuery("SELECT 'not faulted'", "[[not faulted]]")
	if err := r.command([]byte{0x01}); err != nil { // COM_QUIT
		t.Fatal(err)
	}
	if _, err := r.read(); err != io.EOF {
		t.Errorf("after COM_QUIT: %v, want EOF", err)
	}
	checkInjected(t, p, 2)
}

// TestMySQLPassThroughTLSAndCompression: the proxy clears CLIENT_SSL and
// CLIENT_COMPRESS from the server's greeting, and nothing else: a client
// asking for TLS if available (tls=preferred) or compression gets neither
// and works; one requiring TLS (tls=true) fails to connect.
func TestMySQLPassThroughTLSAndCompression(t *testing.T) {
	addr := mysqlAddr(t)
	p := startMySQLProxy(t)
	direct, proxied := dialRawMySQL(t, addr), dialRawMySQL(t, p.Addr())
	cleared := uint32(rawCapSSL | rawCapCompress | 1<<26) // 1<<26: zstd
	dc, pc := direct.caps(), proxied.caps()
	t.Logf("server capabilities %08x, through the proxy %08x", dc, pc)
	if pc != dc&^cleared {
		t.Errorf("capabilities through the proxy %08x, want the server's %08x without SSL and compression", pc, dc)
	}
	if dc&rawCapCompress == 0 {
		t.Logf("the server does not offer compression: compress=true proves less")
	}
	// The rest of the greeting is the server's (its version, for one).
	if v, w := proxied.greeting[:bytes.IndexByte(proxied.greeting, 0)], direct.greeting[:bytes.IndexByte(direct.greeting, 0)]; !bytes.Equal(v, w) {
		t.Errorf("version through the proxy %q, direct %q", v, w)
	}

	t.Run("tls=preferred", func(t *testing.T) {
		db := openMySQL(t, p.Addr(), "tls=preferred")
		if c := sessionStatus(t, db, "Ssl_cipher"); c != "" {
			t.Errorf("Ssl_cipher %q: the session uses TLS past the proxy", c)
		}
	})
	t.Run("tls=true", func(t *testing.T) {
		db := openMySQL(t, p.Addr(), "tls=true")
		if err := db.Ping(); !errors.Is(err, mysql.ErrNoTLS) {
			t.Errorf("Ping: %v, want %v", err, mysql.ErrNoTLS)
		}
	})
	t.Run("compress=true", func(t *testing.T) {
		db := openMySQL(t, p.Addr(), "compress=true")
		if c := sessionStatus(t, db, "Compression"); c != "OFF" {
			t.Errorf("Compression %q through the proxy", c)
		}
		if got := queryStrings(t, db, "SELECT REPEAT('z', 100000) = REPEAT('z', 100000), 2"); fmt.Sprint(got) != "[[1 2]]" {
			t.Errorf("query: %v", got)
		}
		if dc&rawCapCompress != 0 {
			directDB := openMySQL(t, addr, "compress=true")
			if c := sessionStatus(t, directDB, "Compression"); c != "ON" {
				t.Errorf("Compression %q directly: the check above proves nothing", c)
			}
		}
	})
}

// TestMySQLCommandLineClients: the mariadb client and mariadb-slap work
// through the proxy, and the client shows an injected error as it shows a
// real one.
func TestMySQLCommandLineClients(t *testing.T) {
	p := startMySQLProxy(t)
	host, port, _ := net.SplitHostPort(p.Addr())
	run := func(name string, args ...string) (string, string, error) {
		t.Helper()
		path, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("%s is not installed", name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, append([]string{"--no-defaults", "-h" + host, "-P" + port, "-uroot", "--protocol=TCP"}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}

	t.Run("mariadb", func(t *testing.T) {
		out, errOut, err := run("mariadb", "-N", "-B", "test", "-e", "SELECT 1; SELECT 'two', DATABASE()")
		if err != nil || out != "1\ntwo\ttest\n" {
			t.Fatalf("mariadb: %v, stdout %q, stderr %q", err, out, errOut)
		}
		mustSet(t, p, faults.Error(faults.MySQLDeadlock).When(faults.Query(`^SELECT 2`)))
		out, errOut, err = run("mariadb", "-N", "-B", "test", "-e", "SELECT 2")
		want := "ERROR 1213 (40001) at line 1: " + faults.MySQLDeadlock.Message()
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if err == nil || lines[len(lines)-1] != want {
			t.Errorf("mariadb with an injected deadlock: %v, stdout %q, stderr %q; want %q", err, out, errOut, want)
		}
		checkInjected(t, p, 1)
		mustSet(t, p)
	})
	t.Run("mariadb-slap", func(t *testing.T) {
		before := p.Stats().Requests
		// With --query and an existing schema, mariadb-slap neither
		// creates nor drops it; --no-drop to be sure.
		out, errOut, err := run("mariadb-slap", "--create-schema=test", "--no-drop", "--query=SELECT 1", "--concurrency=4", "--number-of-queries=400", "--iterations=1")
		if err != nil || errOut != "" || !strings.Contains(out, "Number of clients running queries: 4") {
			t.Fatalf("mariadb-slap: %v, stdout %q, stderr %q", err, out, errOut)
		}
		if n := p.Stats().Requests - before; n < 400 {
			t.Errorf("%d requests framed, want at least 400", n)
		}
	})
}

// TestMySQLRequestsCountStatements: Stats().Requests counts the statements
// of each connection and not its handshake, whether or not rules are
// installed (with rules, the handshake is decided but is no request).
func TestMySQLRequestsCountStatements(t *testing.T) {
	const conns, statements = 3, 4
	for _, tc := range []struct {
		name  string
		rules []faults.Behavior
	}{
		{"no rules", nil},
		{"rules", []faults.Behavior{
			faults.Error(faults.MySQLAccessDenied).After(1000), // decided at each handshake, never fires
			faults.Error(faults.MySQLDeadlock).When(faults.Query("^never")),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startMySQLProxy(t)
			mustSet(t, p, tc.rules...)
			for i := range conns {
				c := dialRawMySQL(t, p.Addr())
				if err := c.login(); err != nil {
					t.Fatalf("connection %d: login: %v", i, err)
				}
				for j := range statements {
					if _, err := c.query("SELECT " + strconv.Itoa(j)); err != nil {
						t.Fatalf("connection %d: statement %d: %v", i, j, err)
					}
				}
				c.c.Close() // without COM_QUIT, which would count
			}
			if n := p.Stats().Requests; n != conns*statements {
				t.Errorf("Stats().Requests = %d after %d connections of %d statements; want %d", n, conns, statements, conns*statements)
			}
			checkInjected(t, p, 0)
		})
	}
}
