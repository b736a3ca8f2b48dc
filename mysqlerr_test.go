package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults/internal/testenv"
	"github.com/gofaults/faults/internal/wire/mysqlwire"
)

func TestMySQLErrorCheck(t *testing.T) {
	for _, c := range []struct {
		r   MySQLReply
		bad string // a word of the complaint, or "" if valid
	}{
		{MySQLError(1213, "40001", "Deadlock"), ""},
		{MySQLError(1, "HY000", ""), ""},
		{MySQLError(65534, "08S01", strings.Repeat("é", 255)), ""},
		{MySQLError(1213, "40001", strings.Repeat("x", 511)), ""},
		{MySQLError(0, "HY000", "x"), "number 0"},
		{MySQLError(0xffff, "HY000", "x"), "progress"},
		{MySQLError(1213, "4000", "x"), "5 characters"},
		{MySQLError(1213, "400011", "x"), "5 characters"},
		{MySQLError(1213, "", "x"), "5 characters"},
		{MySQLError(1213, "40-01", "x"), "letters or digits"},
		{MySQLError(1213, "4000é"[:5], "x"), "letters or digits"},
		{MySQLError(1213, "40001", strings.Repeat("x", 512)), "more than"},
		{MySQLError(1213, "40001", "\xff"), "UTF-8"},
	} {
		got := c.r.check()
		if (got == "") != (c.bad == "") || !strings.Contains(got, c.bad) {
			t.Errorf("%v: check() = %q, expected %q", c.r, got, c.bad)
		}
	}
	for _, e := range mysqlCatalog {
		if why := e.reply.check(); why != "" {
			t.Errorf("%s: %s", e.name, why)
		}
	}
}

func TestMySQLErrorString(t *testing.T) {
	if got := MySQLDeadlock.String(); got != "MySQLDeadlock" {
		t.Errorf("catalog reply: %q", got)
	}
	r := MySQLError(1213, "40001", "Deadlock \"x\"")
	if got, want := r.String(), `MySQLError(1213, "40001", "Deadlock \"x\"")`; got != want {
		t.Errorf("%q, expected %q", got, want)
	}
	if r.protocol() != "mysql" {
		t.Error(r.protocol())
	}
	var _ Reply = r
	if r.Number() != 1213 || r.SQLState() != "40001" || r.Message() != "Deadlock \"x\"" {
		t.Error("accessors")
	}
	// Every catalog entry has its own name.
	seen := map[string]bool{}
	for _, e := range mysqlCatalog {
		if s := e.reply.String(); s != e.name || seen[s] {
			t.Errorf("%s: String() = %q", e.name, s)
		}
		seen[e.name] = true
	}
}

func TestMySQLErrorEncode(t *testing.T) {
	got := MySQLError(1146, "42S02", "No").encode(1)
	want := []byte("\x0b\x00\x00\x01\xff\x7a\x04#42S02No")
	if !bytes.Equal(got, want) {
		t.Errorf("encode: % x, expected % x", got, want)
	}
	got = MySQLTooManyConnections.encodeWithoutSQLState(0)
	want = []byte("\x17\x00\x00\x00\xff\x10\x04Too many connections")
	if !bytes.Equal(got, want) {
		t.Errorf("encodeWithoutSQLState: % x, expected % x", got, want)
	}
	// The framer reads it back.
	for _, e := range mysqlCatalog {
		b := e.reply.encode(7)
		br := bufio.NewReader(bytes.NewReader(b))
		p, err := mysqlwire.ReadHeader(br)
		if err != nil || p.Seq != 7 || p.Length != len(b)-4 {
			t.Fatalf("%s: %v %v", e.name, p, err)
		}
		n, state, msg, ok := mysqlwire.ParseErr(b[4:])
		if !ok || n != e.reply.number || state != e.reply.sqlstate || msg != e.reply.message {
			t.Errorf("%s: read back %d %q %q", e.name, n, state, msg)
		}
		if mysqlwire.ClassifyReply(b[4:], p.Length) != mysqlwire.ReplyErr {
			t.Errorf("%s: not classified as ERR", e.name)
		}
	}
}

// TestMySQLErrorEncodeMatchesFixtures compares encode with the ERR packets
// of the recorded sessions (the codec's testdata): a missing table, a duplicate
// key, a statement timeout after a row, byte for byte with the sequence id
// the server used.
func TestMySQLErrorEncodeMatchesFixtures(t *testing.T) {
	for _, v := range testenv.MySQLSessionVariants {
		fx := testenv.ReadMySQLSession(t, mysqlwireTestdata, v)
		var found []string
		for _, p := range splitMySQLPackets(t, fx.Server) {
			if len(p.payload) == 0 || p.payload[0] != 0xff {
				continue
			}
			n, state, msg, ok := mysqlwire.ParseErr(p.payload)
			if !ok {
				t.Fatalf("%s: malformed ERR % x", v, p.payload)
			}
			raw := mysqlwire.AppendPacket(nil, p.Seq, p.payload)
			r := MySQLError(n, state, msg)
			if !bytes.Equal(r.encode(p.Seq), raw) {
				t.Errorf("%s: encode gives % x, server sent % x", v, r.encode(p.Seq), raw)
			}
			for _, e := range mysqlCatalog {
				if e.reply.number == n && e.reply.message == msg && e.reply.sqlstate == state {
					found = append(found, e.name)
				}
			}
			if n == 1146 {
				if mysqlShapeOf(msg) != mysqlShapeOf(MySQLTableNotFound.message) || state != MySQLTableNotFound.sqlstate {
					t.Errorf("%s: %q (%s) is not shaped as MySQLTableNotFound", v, msg, state)
				}
				found = append(found, "1146")
			}
		}
		if got := strings.Join(found, " "); got != "1146 MySQLDuplicateKey MySQLQueryTimeout" {
			t.Errorf("%s: errors %s", v, got)
		}
	}
}

// mysqlShapeOf replaces the quoted names of a message by '?'.
func mysqlShapeOf(msg string) string {
	var b strings.Builder
	in := false
	for _, c := range msg {
		switch {
		case c == '\'' && !in:
			in = true
			b.WriteString("'?")
		case c == '\'' && in:
			in = false
			b.WriteRune(c)
		case !in:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// TestMySQLErrorEncodeMatchesServer provokes a deadlock through the
// recorder and checks that MySQLDeadlock.encode reproduces the server's
// ERR packet byte for byte, with the sequence id the server used.
func TestMySQLErrorEncodeMatchesServer(t *testing.T) {
	addr := testenv.MySQLAddr(t)
	rec := testenv.NewRecorder(t, addr, nil)
	db, err := sql.Open("mysql", testenv.MySQLTestDSN(rec.Addr(), false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	table := fmt.Sprintf("faults_encode_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := db.Exec("CREATE TABLE " + table + " (id INT PRIMARY KEY, v INT) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	defer db.Exec("DROP TABLE " + table)
	if _, err := db.Exec("INSERT INTO " + table + " VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var idA int64
	if err := a.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&idA); err != nil {
		t.Fatal(err)
	}
	must := func(c *sql.Conn, q string) {
		t.Helper()
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	must(a, "BEGIN")
	must(a, "UPDATE "+table+" SET v = 1 WHERE id = 1")
	must(b, "BEGIN")
	must(b, "UPDATE "+table+" SET v = 1 WHERE id = 2")
	var wg sync.WaitGroup
	var errA error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errA = a.ExecContext(ctx, "UPDATE "+table+" SET v = 2 WHERE id = 2")
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'", idA).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no lock wait")
		}
	}
	_, errB := b.ExecContext(ctx, "UPDATE "+table+" SET v = 2 WHERE id = 1")
	wg.Wait()
	must(a, "ROLLBACK")
	must(b, "ROLLBACK")
	var me *mysql.MySQLError
	if !errors.As(errA, &me) && !errors.As(errB, &me) {
		t.Fatalf("no deadlock: %v, %v", errA, errB)
	}
	a.Close()
	b.Close()
	db.Close()
	rec.Close()

	var found int
	for _, r := range rec.Recordings() {
		_, server := r.Streams()
		for _, p := range splitMySQLPackets(t, server) {
			if n, _, _, ok := mysqlwire.ParseErr(p.payload); ok && n == 1213 {
				found++
				raw := mysqlwire.AppendPacket(nil, p.Seq, p.payload)
				if got := MySQLDeadlock.encode(p.Seq); !bytes.Equal(got, raw) {
					t.Errorf("MySQLDeadlock.encode(%d):\n% x\nserver sent:\n% x", p.Seq, got, raw)
				}
				if p.Seq != 1 {
					t.Errorf("the server's ERR has sequence id %d, not 1", p.Seq)
				}
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d deadlock ERR packets recorded", found)
	}
}

// TestMySQLErrorDriverReadsEncode serves encode's packets to go-sql-driver
// from a fake server (the recorded MariaDB greeting, then OK to any login):
// the driver reports each as the *mysql.MySQLError of its number, SQLSTATE
// and message, in answer to a query, and in place of the greeting.
func TestMySQLErrorDriverReadsEncode(t *testing.T) {
	greeting := mysqlwire.AppendPacket(nil, 0, mariadbGreeting(t))
	serve := func(t *testing.T, handle func(c net.Conn, br *bufio.Reader)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		t.Cleanup(func() { ln.Close(); wg.Wait() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					handle(c, bufio.NewReader(c))
				}()
			}
		}()
		return ln.Addr().String()
	}
	readMessage := func(br *bufio.Reader) ([]byte, error) {
		p, err := mysqlwire.ReadHeader(br)
		if err != nil {
			return nil, err
		}
		raw, _, err := mysqlwire.ReadMessage(nil, br, p, 1<<20)
		return mysqlwire.MessagePayload(raw), err
	}
	check := func(t *testing.T, err error, want MySQLReply, state string) {
		t.Helper()
		var me *mysql.MySQLError
		if !errors.As(err, &me) {
			t.Fatalf("%v (%T), expected a *mysql.MySQLError", err, err)
		}
		if me.Number != want.number || string(me.SQLState[:]) != state || me.Message != want.message {
			t.Errorf("driver read %d %q %q", me.Number, me.SQLState[:], me.Message)
		}
	}

	t.Run("Query", func(t *testing.T) {
		for _, r := range append([]MySQLReply{MySQLError(1, "ab12Z", strings.Repeat("é", 255))}, catalogReplies()...) {
			addr := serve(t, func(c net.Conn, br *bufio.Reader) {
				c.Write(greeting)
				if _, err := readMessage(br); err != nil { // handshake response
					return
				}
				c.Write(mysqlwire.AppendPacket(nil, 2, []byte{0, 0, 0, 2, 0, 0, 0}))
				for {
					cmd, err := readMessage(br)
					if err != nil || len(cmd) == 0 || cmd[0] == byte(mysqlwire.ComQuit) {
						return
					}
					c.Write(r.encode(1))
				}
			})
			db, err := sql.Open("mysql", testenv.MySQLTestDSN(addr, false))
			if err != nil {
				t.Fatal(err)
			}
			_, err = db.Exec("UPDATE t SET v = 1")
			check(t, err, r, r.sqlstate)
			db.Close()
		}
	})

	t.Run("Greeting", func(t *testing.T) {
		addr := serve(t, func(c net.Conn, br *bufio.Reader) {
			c.Write(MySQLTooManyConnections.encodeWithoutSQLState(0))
			io.Copy(io.Discard, br)
		})
		db, err := sql.Open("mysql", testenv.MySQLTestDSN(addr, false))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		check(t, db.Ping(), MySQLTooManyConnections, "\x00\x00\x00\x00\x00")
	})

	t.Run("Login", func(t *testing.T) {
		addr := serve(t, func(c net.Conn, br *bufio.Reader) {
			c.Write(greeting)
			if _, err := readMessage(br); err == nil {
				c.Write(MySQLAccessDenied.encode(2))
			}
		})
		db, err := sql.Open("mysql", testenv.MySQLTestDSN(addr, false))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		check(t, db.Ping(), MySQLAccessDenied, MySQLAccessDenied.sqlstate)
	})
}

func catalogReplies() []MySQLReply {
	out := make([]MySQLReply, len(mysqlCatalog))
	for i, e := range mysqlCatalog {
		out[i] = *e.reply
	}
	return out
}

// mysqlwireTestdata is the MySQL codec's testdata, which holds the
// recorded sessions (testenv.ReadMySQLSession).
var mysqlwireTestdata = filepath.Join("internal", "wire", "mysqlwire", "testdata")

// mysqlWirePacket is a packet of a recorded stream.
type mysqlWirePacket struct {
	mysqlwire.Header
	payload []byte
}

// splitMySQLPackets splits a recorded stream into packets.
func splitMySQLPackets(t testing.TB, stream []byte) []mysqlWirePacket {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(stream))
	var out []mysqlWirePacket
	for {
		p, err := mysqlwire.ReadHeader(br)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("packet %d: %v", len(out), err)
		}
		payload := make([]byte, p.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			t.Fatalf("packet %d: %v", len(out), err)
		}
		out = append(out, mysqlWirePacket{p, payload})
	}
}

// mariadbGreeting returns the greeting of MariaDB 10.11.19 as recorded in
// the Negotiated session (unmodified).
func mariadbGreeting(t testing.TB) []byte {
	t.Helper()
	return splitMySQLPackets(t, testenv.ReadMySQLSession(t, mysqlwireTestdata, "Negotiated").Server)[0].payload
}
