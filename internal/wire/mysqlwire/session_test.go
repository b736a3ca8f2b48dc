package mysqlwire

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults/internal/testenv"
)

// ---- the real server ----

// newRecorder starts a recording relay in front of the MySQL server at
// target (testenv.NewRecorder) that clears capabilities from the server's
// greeting on the way, with ClearCapabilities.
func newRecorder(t testing.TB, target string, clearCaps, clearMB uint32) *testenv.Recorder {
	return testenv.NewRecorder(t, target, func(br *bufio.Reader, w io.Writer) {
		if p, err := ReadHeader(br); err == nil {
			raw, _, err := ReadMessage(nil, br, p, 1<<16)
			if err == nil && (clearCaps != 0 || clearMB != 0) {
				ClearCapabilities(raw[HeaderLen:], clearCaps, clearMB)
			}
			w.Write(raw)
		}
	})
}

// mysqlWirePacket is a packet of a recorded stream.
type mysqlWirePacket struct {
	Header
	payload []byte
}

// splitMySQLPackets splits a recorded stream into packets, with the
// framer.
func splitMySQLPackets(t testing.TB, stream []byte) []mysqlWirePacket {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(stream))
	var out []mysqlWirePacket
	for {
		p, err := ReadHeader(br)
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

// mysqlExchange is one command of a replayed session and the response the
// follower found for it.
type mysqlExchange struct {
	handshake      bool // the handshake and authentication, not a command
	cmd            Command
	clientPackets  int // the command's packets and any the client sent during the response
	serverPackets  int
	results        int  // results in the response (several: multi-statements, CALL)
	first, lastCls byte // first bytes of the response's first and last packet
	status         uint16
}

func (e mysqlExchange) String() string {
	cmd := e.cmd.String()
	if e.handshake {
		cmd = "handshake"
	}
	return fmt.Sprintf("%s: %d+%d packets, %d results, 0x%02x..0x%02x, status 0x%04x", cmd, e.clientPackets, e.serverPackets, e.results, e.first, e.lastCls, e.status)
}

// replayMySQL checks a recorded session against the framer and the
// follower: the greeting and handshake response parse, the authentication
// exchange is followed to its end, and each command's response is
// followed to exactly the packet before the server's answer to the next
// one, so that the responses partition the server's stream. Sequence ids
// count up through each exchange, across both directions, from 0 at each
// command (from 0 at the greeting for the handshake). It returns the
// session and the exchanges, the handshake first (command 0).
func replayMySQL(t *testing.T, client, server []byte) (Session, []mysqlExchange) {
	t.Helper()
	cp, sp := splitMySQLPackets(t, client), splitMySQLPackets(t, server)
	ci, si := 0, 0
	var seq byte
	nextSeq := func(who string, p mysqlWirePacket) {
		t.Helper()
		if p.Seq != seq {
			t.Fatalf("%s packet %v: sequence id %d, expected %d", who, p.Header, p.Seq, seq)
		}
		seq++
	}
	if len(sp) == 0 || len(cp) == 0 {
		t.Fatal("no handshake recorded")
	}
	g, err := ParseGreeting(sp[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	nextSeq("greeting", sp[0])
	si++
	h, err := ParseClientHello(cp[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	nextSeq("handshake response", cp[0])
	ci++
	s := Negotiate(g, h)

	follow := func(e *mysqlExchange, f Follower) {
		t.Helper()
		for !f.Done() {
			if f.WantsClient() {
				if ci >= len(cp) {
					t.Fatalf("%v: the client's packet is due, and the client sent no more", e.cmd)
				}
				p := cp[ci]
				ci++
				e.clientPackets++
				nextSeq("client", p)
				if err := f.Client(p.Length); err != nil {
					t.Fatalf("%v: client packet %v: %v", e.cmd, p.Header, err)
				}
				continue
			}
			if si >= len(sp) {
				t.Fatalf("%v: the server's packet is due, and the server sent no more (state %v)", e.cmd, f.state)
			}
			p := sp[si]
			si++
			nextSeq("server", p)
			if e.serverPackets == 0 && len(p.payload) > 0 {
				e.first = p.payload[0]
			}
			if len(p.payload) > 0 {
				e.lastCls = p.payload[0]
			}
			e.serverPackets++
			if f.state == StateResult && !f.serverCont && !bytes.HasPrefix(p.payload, []byte{0xff, 0xff, 0xff}) {
				e.results++ // the packet starts a result
			}
			if err := f.Server(p.payload[:min(len(p.payload), HeadLen)], p.Length); err != nil {
				t.Fatalf("%v: server packet %d %v (% x): %v", e.cmd, e.serverPackets, p.Header, p.payload[:min(len(p.payload), 16)], err)
			}
		}
		e.status = f.Status()
	}

	exchanges := []mysqlExchange{{handshake: true, clientPackets: 1, serverPackets: 1}}
	follow(&exchanges[0], NewFollower(ResponseAuth, s))
	for ci < len(cp) {
		seq = 0
		p := cp[ci]
		ci++
		nextSeq("command", p)
		e := mysqlExchange{clientPackets: 1}
		e.cmd, _ = commandOf(p.payload)
		for p.Continued() {
			p = cp[ci]
			ci++
			e.clientPackets++
			nextSeq("command", p)
		}
		follow(&e, NewFollower(e.cmd.Response(), s))
		exchanges = append(exchanges, e)
	}
	if si != len(sp) {
		t.Fatalf("%d server packets after the last response: %v", len(sp)-si, sp[si].Header)
	}
	return s, exchanges
}

// mysqlScenario runs, on one connection through a recorder, the
// statements the fixtures capture: a SELECT returning rows (NULLs, empty
// strings), a multi-statement and a procedure's results, a prepared
// statement prepared and executed twice, errors (before and after rows),
// LOAD DATA LOCAL INFILE, a ping.
func mysqlScenario(t *testing.T, dsn, table string) {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	queryAll := func(q string, args ...any) int {
		t.Helper()
		rows, err := conn.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		n := 0
		for {
			for rows.Next() {
				n++
			}
			if !rows.NextResultSet() {
				break
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	exec("CREATE TABLE " + table + " (note VARCHAR(20) NULL, id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)")
	exec("INSERT INTO " + table + " VALUES (NULL, 1, 'one'), ('', 2, ''), ('x', 3, 'three')")
	if n := queryAll("SELECT note, id, name FROM " + table + " ORDER BY id"); n != 3 {
		t.Errorf("SELECT: %d rows", n)
	}
	if n := queryAll("SELECT 1 AS a; SELECT 'x' AS b, 2 AS c; UPDATE " + table + " SET name = name; SELECT id FROM " + table); n != 5 {
		t.Errorf("multi-statement: %d rows", n)
	}
	exec("CREATE PROCEDURE " + table + "_p() BEGIN SELECT 1; SELECT 2, 3; END")
	if n := queryAll("CALL " + table + "_p()"); n != 2 {
		t.Errorf("CALL: %d rows", n)
	}
	exec("DROP PROCEDURE " + table + "_p")
	stmt, err := conn.PrepareContext(ctx, "SELECT note, id, name FROM "+table+" WHERE id >= ?")
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []int{1, 2} {
		rows, err := stmt.QueryContext(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		rows.Close()
	}
	stmt.Close()
	exec("INSERT INTO "+table+" VALUES (?, ?, ?)", "p", 4, "four") // prepared, executed, closed
	if _, err := conn.ExecContext(ctx, "SELECT * FROM "+table+"_missing"); err == nil {
		t.Error("SELECT from a missing table succeeded")
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+table+" VALUES ('d', 1, 'dup')"); err == nil {
		t.Error("duplicate insert succeeded")
	}
	// An error after the result set began: the column definitions and a
	// row are sent before the statement times out.
	if n := queryAll("SELECT 1 UNION ALL SELECT 2"); n != 2 {
		t.Errorf("UNION: %d rows", n)
	}
	if _, err := conn.ExecContext(ctx, "SET STATEMENT max_statement_time = 0.05 FOR SELECT 1 UNION ALL SELECT SLEEP(1)"); err == nil {
		t.Error("max_statement_time did not interrupt the statement")
	}
	mysql.RegisterReaderHandler(table, func() io.Reader { return strings.NewReader("n1,10,ten\n,11,eleven\n") })
	defer mysql.DeregisterReaderHandler(table)
	exec("LOAD DATA LOCAL INFILE 'Reader::" + table + "' INTO TABLE " + table + " FIELDS TERMINATED BY ','")
	if err := conn.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	exec("DROP TABLE " + table)
}

// mysqlVariants are the capability variants the recordings are made with:
// as go-sql-driver negotiates with MariaDB, and with the greeting's
// CLIENT_DEPRECATE_EOF and MariaDB's cache-metadata capability cleared.
var mysqlVariants = []struct {
	name               string
	clearCaps, clearMB uint32
}{
	{"Negotiated", 0, 0},
	{"NoDeprecateEOF", ClientDeprecateEOF, 0},
	{"NoCacheMetadata", 0, MariaDBClientCacheMetadata},
	{"Classic", ClientDeprecateEOF, MariaDBClientCacheMetadata},
}

// TestFollowerRealServer records the scenario against the real
// server in each variant and replays it (replayMySQL). With
// FAULTS_CAPTURE=1 it writes the recordings to testdata, the fixtures of
// TestFollowerFixtures.
func TestFollowerRealServer(t *testing.T) {
	addr := testenv.MySQLAddr(t)
	for _, v := range mysqlVariants {
		t.Run(v.name, func(t *testing.T) {
			rec := newRecorder(t, addr, v.clearCaps, v.clearMB)
			table := fmt.Sprintf("faults_fixture_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
			mysqlScenario(t, testenv.MySQLTestDSN(rec.Addr(), true), table)
			rec.Close()
			recs := rec.Recordings()
			if len(recs) != 1 {
				t.Fatalf("%d connections", len(recs))
			}
			client, server := recs[0].Streams()
			s, exchanges := replayMySQL(t, client, server)
			t.Logf("session: capabilities 0x%08x, MariaDB 0x%x", s.Capabilities, s.MariaDBCapabilities)
			for _, e := range exchanges {
				t.Log(e)
			}
			wantDeprecate := v.clearCaps&ClientDeprecateEOF == 0
			if (s.Capabilities&ClientDeprecateEOF != 0) != wantDeprecate {
				t.Errorf("CLIENT_DEPRECATE_EOF negotiated: %v, expected %v", !wantDeprecate, wantDeprecate)
			}
			if (s.MariaDBCapabilities&MariaDBClientCacheMetadata != 0) != (v.clearMB == 0) {
				t.Errorf("cache metadata negotiated: %v", s.MariaDBCapabilities&MariaDBClientCacheMetadata != 0)
			}
			checkMySQLScenario(t, exchanges)
			if capturing() {
				writeFixture(t, "session-"+v.name+".client", client)
				writeFixture(t, "session-"+v.name+".server", server)
			}
		})
	}
}

// checkMySQLScenario checks what the exchanges of mysqlScenario must be
// in any variant.
func checkMySQLScenario(t *testing.T, exchanges []mysqlExchange) {
	t.Helper()
	count := map[Command]int{}
	infile, errs, errAfterResult := 0, 0, 0
	var results []int
	for _, e := range exchanges {
		if e.handshake {
			continue
		}
		count[e.cmd]++
		if e.first == 0xfb {
			infile++
		}
		if e.lastCls == 0xff {
			errs++
			if e.first != 0xff {
				errAfterResult++
			}
		}
		if e.results > 1 {
			results = append(results, e.results)
		}
	}
	if count[ComStmtPrepare] != 2 || count[ComStmtExecute] != 3 || count[ComStmtClose] != 2 || count[ComPing] != 1 || count[ComQuit] != 1 {
		t.Errorf("commands: %v", count)
	}
	if infile != 1 || errs != 3 || errAfterResult != 1 {
		t.Errorf("%d LOCAL INFILE, %d errors (%d after a result began)", infile, errs, errAfterResult)
	}
	// The multi-statement's 4 results, and CALL's 2 result sets and its
	// final OK.
	if fmt.Sprint(results) != "[4 3]" {
		t.Errorf("responses of several results: %v", results)
	}
}

// TestFollowerLargeRows runs rows longer than a packet through the
// recorder against the real server: one of exactly MaxPayload bytes
// (an empty packet follows), and one spanning two packets.
func TestFollowerLargeRows(t *testing.T) {
	if testing.Short() {
		t.Skip("32 MiB of rows")
	}
	addr := testenv.MySQLAddr(t)
	for _, v := range mysqlVariants[:2] {
		t.Run(v.name, func(t *testing.T) {
			rec := newRecorder(t, addr, v.clearCaps, v.clearMB)
			db, err := sql.Open("mysql", testenv.MySQLTestDSN(rec.Addr(), false))
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			var a, b string
			// A row of 4 + 16777211 bytes: exactly MaxPayload.
			if err := db.QueryRow("SELECT REPEAT('x', 16777211)").Scan(&a); err != nil || len(a) != 16777211 {
				t.Fatalf("%d bytes, %v", len(a), err)
			}
			if err := db.QueryRow("SELECT REPEAT('x', 15000000), REPEAT('y', 3000000)").Scan(&a, &b); err != nil || len(a)+len(b) != 18000000 {
				t.Fatalf("%d bytes, %v", len(a)+len(b), err)
			}
			db.Close()
			rec.Close()
			client, server := rec.Recordings()[0].Streams()
			_, exchanges := replayMySQL(t, client, server)
			long := 0
			for _, p := range splitMySQLPackets(t, server) {
				if p.Continued() {
					long++
				}
			}
			if long != 2 {
				t.Errorf("%d full packets, expected 2", long)
			}
			for _, e := range exchanges {
				t.Log(e)
			}
		})
	}
}

// TestFollowerFixtures replays sessions recorded from MariaDB 10.11.19
// with go-sql-driver v1.10.1 (TestFollowerRealServer's scenario), so
// that the framer and the follower are checked against real bytes without
// a server.
func TestFollowerFixtures(t *testing.T) {
	for _, v := range mysqlVariants {
		fx := testenv.ReadMySQLSession(t, "testdata", v.name)
		t.Run(v.name, func(t *testing.T) {
			s, exchanges := replayMySQL(t, fx.Client, fx.Server)
			checkMySQLScenario(t, exchanges)
			if (s.Capabilities&ClientDeprecateEOF == 0) != (v.clearCaps&ClientDeprecateEOF != 0) {
				t.Errorf("capabilities 0x%08x", s.Capabilities)
			}
		})
	}
}
