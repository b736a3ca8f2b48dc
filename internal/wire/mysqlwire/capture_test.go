package mysqlwire

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gofaults/faults/internal/testenv"
)

// The captured answers: one exchange each, recorded from the real server
// by TestCaptureAnswers (FAULTS_CAPTURE=1) as testdata/<name>.command (the
// client's command, packets as on the wire) and testdata/<name>.answer
// (the server's whole answer to it). The session's handshake is in
// testdata/greeting.server and testdata/handshake-response.client, the
// server's VERSION() in testdata/server-version.
var capturedAnswers = []struct {
	name string
	cmd  Command
}{
	{"ok", ComQuery},                     // INSERT of two rows
	{"err-duplicate", ComQuery},          // INSERT of an existing primary key
	{"err-syntax", ComQuery},             // a statement that does not parse
	{"text-resultset", ComQuery},         // SELECT of two columns, three rows, a NULL
	{"prepare-ok", ComStmtPrepare},       // a SELECT of two columns with one parameter
	{"binary-resultset", ComStmtExecute}, // that statement executed
}

// TestCaptureAnswers records, through a recording relay (testenv.Recorder),
// the answers of capturedAnswers as go-sql-driver gets them from the real
// server, and writes them to testdata. It runs only under FAULTS_CAPTURE=1:
// the fixtures are checked in, and TestCapturedAnswers checks them without
// a server.
func TestCaptureAnswers(t *testing.T) {
	if !capturing() {
		t.Skip("captures fixtures from the real server with FAULTS_CAPTURE=1")
	}
	addr := testenv.MySQLAddr(t)
	ctx := context.Background()

	direct, err := sql.Open("mysql", testenv.MySQLTestDSN(addr, false))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	var version string
	if err := direct.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	table := "faults_capture"
	if _, err := direct.ExecContext(ctx, "DROP TABLE IF EXISTS "+table); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.ExecContext(ctx, "CREATE TABLE "+table+" (id INT PRIMARY KEY, name VARCHAR(20) NULL)"); err != nil {
		t.Fatal(err)
	}
	defer direct.ExecContext(ctx, "DROP TABLE IF EXISTS "+table)

	rec := testenv.NewRecorder(t, addr, nil)
	db, err := sql.Open("mysql", testenv.MySQLTestDSN(rec.Addr(), false))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each statement is one command answered, in the order of
	// capturedAnswers.
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1, 'one'), (2, NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1, 'again')"); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := conn.ExecContext(ctx, "SELEC 1"); err == nil {
		t.Fatal("syntax error accepted")
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+table+" VALUES (3, '')"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT id, name FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	stmt, err := conn.PrepareContext(ctx, "SELECT id, name FROM "+table+" WHERE id >= ?")
	if err != nil {
		t.Fatal(err)
	}
	rows, err = stmt.QueryContext(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	rows.Close()
	stmt.Close()
	conn.Close()
	db.Close()
	rec.Close()

	recs := rec.Recordings()
	if len(recs) != 1 {
		t.Fatalf("%d connections", len(recs))
	}
	groups := groupChunks(recs[0].Chunks())
	if len(groups) < 2 || groups[0].fromClient || !groups[1].fromClient {
		t.Fatal("no handshake recorded")
	}
	// The commands: client turns starting with a packet of sequence id 0;
	// the server's next turn is the answer. The third INSERT is not kept.
	var exchanges [][2][]byte
	for i, g := range groups {
		if g.fromClient && len(g.data) >= HeaderLen && g.data[3] == 0 && i+1 < len(groups) {
			exchanges = append(exchanges, [2][]byte{g.data, groups[i+1].data})
		}
	}
	if len(exchanges) < 7 {
		t.Fatalf("%d commands answered", len(exchanges))
	}
	exchanges = append(exchanges[:3], exchanges[4:]...)
	for i, a := range capturedAnswers {
		cmd, answer := exchanges[i][0], exchanges[i][1]
		if Command(cmd[HeaderLen]) != a.cmd {
			t.Fatalf("%s: command %v, expected %v", a.name, Command(cmd[HeaderLen]), a.cmd)
		}
		writeFixture(t, a.name+".command", cmd)
		writeFixture(t, a.name+".answer", answer)
	}
	writeFixture(t, "greeting.server", groups[0].data)
	writeFixture(t, "handshake-response.client", groups[1].data)
	writeFixture(t, "server-version", []byte(version+"\n"))
}

// turn is what one side sent before the other spoke.
type turn struct {
	fromClient bool
	data       []byte
}

// groupChunks joins consecutive chunks of the same side into turns.
func groupChunks(chunks []testenv.Chunk) []turn {
	var out []turn
	for _, c := range chunks {
		if n := len(out); n > 0 && out[n-1].fromClient == c.FromClient {
			out[n-1].data = append(out[n-1].data, c.Data...)
			continue
		}
		out = append(out, turn{c.FromClient, bytes.Clone(c.Data)})
	}
	return out
}

// capturedSession returns the session the captured handshake negotiated
// and the greeting.
func capturedSession(t testing.TB) (Greeting, Session) {
	t.Helper()
	greeting := splitMySQLPackets(t, readFixture(t, "greeting.server"))
	hello := splitMySQLPackets(t, readFixture(t, "handshake-response.client"))
	if len(greeting) != 1 || len(hello) != 1 {
		t.Fatalf("%d greeting packets, %d handshake response packets", len(greeting), len(hello))
	}
	g, err := ParseGreeting(greeting[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ParseClientHello(hello[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	return g, Negotiate(g, h)
}

// followAnswer follows answer, the whole answer to a command of shape
// resp, from a reader: it fails the test unless the follower is done
// exactly at the answer's last byte. It returns the answer's packets.
func followAnswer(t *testing.T, resp Response, s Session, answer []byte) (Follower, []mysqlWirePacket) {
	t.Helper()
	f := NewFollower(resp, s)
	br := bufio.NewReader(bytes.NewReader(answer))
	for !f.Done() {
		if f.Err() != nil {
			t.Fatalf("failed: %v", f.Err())
		}
		if f.WantsClient() {
			t.Fatalf("wants the client's packet (state %v)", f.State())
		}
		p, err := ReadHeader(br)
		if err != nil {
			t.Fatalf("the answer ends before the follower is done (state %v): %v", f.State(), err)
		}
		head, err := PeekPayload(br, p, HeadLen)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Server(head, p.Length); err != nil {
			t.Fatal(err)
		}
		if err := discardPayload(br, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadHeader(br); err != io.EOF {
		t.Fatalf("the follower is done before the answer's end: %d bytes left (%v)", br.Buffered(), err)
	}
	return f, splitMySQLPackets(t, answer)
}

// TestCapturedAnswers parses and follows the captured fixtures: the
// greeting is the server's, and each answer is followed to exactly its
// last byte, with what it says checked.
func TestCapturedAnswers(t *testing.T) {
	g, s := capturedSession(t)
	version := strings.TrimSpace(string(readFixture(t, "server-version")))
	// MariaDB announces itself to clients as 5.5.5-<version>, for those
	// that test for at least 5.5.5.
	if g.ProtocolVersion != 10 || strings.TrimPrefix(g.ServerVersion, "5.5.5-") != version {
		t.Errorf("greeting: protocol %d, version %q; the server's VERSION() is %q", g.ProtocolVersion, g.ServerVersion, version)
	}
	if s.Capabilities&ClientProtocol41 == 0 {
		t.Errorf("session without CLIENT_PROTOCOL_41: 0x%08x", s.Capabilities)
	}
	for _, a := range capturedAnswers {
		t.Run(a.name, func(t *testing.T) {
			cmd := splitMySQLPackets(t, readFixture(t, a.name+".command"))
			if len(cmd) != 1 || cmd[0].Seq != 0 || len(cmd[0].payload) == 0 || Command(cmd[0].payload[0]) != a.cmd {
				t.Fatalf("command: %v", cmd)
			}
			answer := readFixture(t, a.name+".answer")
			f, packets := followAnswer(t, a.cmd.Response(), s, answer)
			for i, p := range packets {
				if p.Seq != byte(i+1) {
					t.Errorf("packet %d: sequence id %d", i, p.Seq)
				}
			}
			first := packets[0].payload
			switch a.name {
			case "ok":
				ok, valid := ParseOK(first)
				if ClassifyReply(first, len(first)) != ReplyOK || !valid || ok.AffectedRows != 2 || len(packets) != 1 {
					t.Errorf("OK: %+v, %d packets", ok, len(packets))
				}
				if f.Status()&ServerStatusAutocommit == 0 {
					t.Errorf("status 0x%04x", f.Status())
				}
			case "err-duplicate", "err-syntax":
				code, state, msg, valid := ParseErr(first)
				want := map[string]struct {
					code  uint16
					state string
				}{"err-duplicate": {1062, "23000"}, "err-syntax": {1064, "42000"}}[a.name]
				if ClassifyReply(first, len(first)) != ReplyErr || !valid || code != want.code || state != want.state || len(packets) != 1 {
					t.Errorf("ERR: %d %q %q", code, state, msg)
				}
				// AppendErr writes the server's packet byte for byte.
				if got := AppendErr(nil, 1, code, state, msg); !bytes.Equal(got, answer) {
					t.Errorf("AppendErr: % x\nserver sent: % x", got, answer)
				}
			case "text-resultset", "binary-resultset":
				n, _, ok := ParseLenEnc(first)
				if ClassifyReply(first, len(first)) != ReplyResultSet || !ok || n != 2 {
					t.Errorf("column count: % x", first)
				}
				// Column count, 2 definitions (none if, under MariaDB's
				// cache-metadata capability, the byte after the count
				// says the client has them: a prepared statement's
				// execution), an EOF unless CLIENT_DEPRECATE_EOF, 3
				// rows, the terminator.
				defs := 2
				if s.MariaDBCapabilities&MariaDBClientCacheMetadata != 0 && len(first) > 1 && first[1] == 0 {
					defs = 0
				}
				if a.name == "binary-resultset" && s.MariaDBCapabilities&MariaDBClientCacheMetadata != 0 && defs != 0 {
					t.Error("the execution resent the column definitions")
				}
				want := 1 + defs + 3 + 1
				if s.Capabilities&ClientDeprecateEOF == 0 {
					want++
				}
				if len(packets) != want {
					t.Errorf("%d packets, expected %d", len(packets), want)
				}
				if a.name == "binary-resultset" {
					for _, p := range packets[len(packets)-4 : len(packets)-1] {
						if p.payload[0] != 0x00 {
							t.Errorf("binary row % x", p.payload)
						}
					}
				}
			case "prepare-ok":
				p, valid := ParsePrepareOK(first)
				if !valid || p.Columns != 2 || p.Params != 1 || p.StmtID == 0 {
					t.Errorf("COM_STMT_PREPARE_OK: %+v", p)
				}
			}
		})
	}
}

// TestCapturedAnswersRefuseTruncation checks that every captured answer
// cut short leaves the follower not done, or the reader with a truncation
// error: a follower never ends an answer early.
func TestCapturedAnswersRefuseTruncation(t *testing.T) {
	_, s := capturedSession(t)
	for _, a := range capturedAnswers {
		answer := readFixture(t, a.name+".answer")
		for cut := 0; cut < len(answer); cut++ {
			f := NewFollower(a.cmd.Response(), s)
			br := bufio.NewReader(bytes.NewReader(answer[:cut]))
			var err error
			for !f.Done() && err == nil {
				var p Header
				if p, err = ReadHeader(br); err != nil {
					break
				}
				var head []byte
				if head, err = PeekPayload(br, p, HeadLen); err != nil {
					break
				}
				if err = f.Server(head, p.Length); err != nil {
					break
				}
				err = discardPayload(br, p)
			}
			if f.Done() && err == nil {
				t.Errorf("%s cut at %d of %d bytes: done", a.name, cut, len(answer))
			}
			if err != nil && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s cut at %d: %v", a.name, cut, err)
			}
		}
	}
}
