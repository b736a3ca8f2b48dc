package faults

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults/internal/testenv"
)

// ---- synthetic packets ----

// mp is a packet of a synthetic exchange: from the client or the server,
// its payload, or (for payloads too large to build) its start and length.
type mp struct {
	client bool
	head   []byte
	length int
}

func srv(payload ...byte) mp { return mp{head: payload, length: len(payload)} }
func cli(payload ...byte) mp { return mp{client: true, head: payload, length: len(payload)} }

// srvLong is a server packet of length bytes starting with head (padded
// with zeros to what the follower is given of a payload).
func srvLong(length int, head ...byte) mp {
	head = head[:min(len(head), length)]
	if n := min(length, mysqlHeadLen); len(head) < n {
		head = append(head, make([]byte, n-len(head))...)
	}
	return mp{head: head, length: length}
}

// cliLong is a client packet of length bytes starting with head.
func cliLong(length int, head ...byte) mp { return mp{client: true, head: head, length: length} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func lenenc(v uint64) []byte { return appendMySQLLenEnc(nil, v) }

func lenencStr(s string) []byte { return append(lenenc(uint64(len(s))), s...) }

// okPkt is an OK packet (first byte 0x00, or 0xfe for the OK ending a
// result set under CLIENT_DEPRECATE_EOF).
func okPkt(first byte, affected, insertID uint64, status uint16) mp {
	return srv(cat([]byte{first}, lenenc(affected), lenenc(insertID), u16(status), u16(0))...)
}

func eofPkt(status uint16) mp { return srv(cat([]byte{0xfe}, u16(0), u16(status))...) }

func errPkt(number uint16, state, msg string) mp {
	return srv(mysqlMessagePayload(MySQLError(number, state, msg).encode(0))...)
}

func colCount(n uint64, meta ...byte) mp { return srv(cat(lenenc(n), meta)...) }

func colDef(name string) mp {
	return srv(cat(lenencStr("def"), lenencStr("test"), lenencStr("t"), lenencStr("t"),
		lenencStr(name), lenencStr(name), []byte{0x0c, 0x21, 0x00, 0x0b, 0, 0, 0, 0xfd, 0, 0, 0, 0, 0})...)
}

// textRow is a text-protocol row; a nil value is NULL (0xfb).
func textRow(vals ...*string) mp {
	var b []byte
	for _, v := range vals {
		if v == nil {
			b = append(b, 0xfb)
		} else {
			b = append(b, lenencStr(*v)...)
		}
	}
	return srv(b...)
}

func str(s string) *string { return &s }

func binRow(vals ...byte) mp { return srv(cat([]byte{0x00, 0x00}, vals)...) }

func prepOK(id uint32, cols, params uint16) mp {
	return srv(cat([]byte{0x00}, binary.LittleEndian.AppendUint32(nil, id), u16(cols), u16(params), []byte{0}, u16(0))...)
}

// followScript feeds packets to a new follower of resp in session s,
// checking that it is never done before the last packet and done after
// it, and that it wants the client's packets exactly when the script has
// them.
func followScript(t *testing.T, resp mysqlResponse, s mysqlSession, packets []mp) {
	t.Helper()
	f := newMySQLFollower(resp, s)
	for i, p := range packets {
		if f.done() {
			t.Fatalf("done before packet %d of %d", i, len(packets))
		}
		if f.wantsClient() != p.client {
			t.Fatalf("packet %d: wantsClient %v, but the packet is the client's: %v (state %v)", i, f.wantsClient(), p.client, f.state)
		}
		var err error
		if p.client {
			err = f.client(p.length)
		} else {
			err = f.server(p.head, p.length)
		}
		if err != nil {
			t.Fatalf("packet %d (% x, %d bytes): %v", i, p.head[:min(len(p.head), 8)], p.length, err)
		}
	}
	if !f.done() {
		t.Fatalf("not done after the last packet (state %v)", f.state)
	}
	if err := f.server([]byte{0x00, 0, 0, 2, 0, 0, 0}, 7); err == nil {
		t.Fatal("a server packet after the end was accepted")
	}
}

var (
	sessClassic   = mysqlSession{caps: mysqlClientProtocol41 | mysqlClientMultiResults}
	sessDeprecate = mysqlSession{caps: mysqlClientProtocol41 | mysqlClientMultiResults | mysqlClientDeprecateEOF}
	sessMeta      = mysqlSession{caps: sessDeprecate.caps, mariadbCaps: mariadbClientCacheMetadata}
	sessMetaEOF   = mysqlSession{caps: sessClassic.caps, mariadbCaps: mariadbClientCacheMetadata}
)

const more = mysqlServerMoreResultsExist

// resultSet returns a result set's packets: column count (with the
// metadata flag if meta is not nil), definitions unless *meta is 0, the
// EOF after them (classic), the rows, and the terminator with status.
func resultSet(deprecate bool, meta *byte, rows []mp, status uint16, cols ...string) []mp {
	var out []mp
	if meta != nil {
		out = append(out, colCount(uint64(len(cols)), *meta))
	} else {
		out = append(out, colCount(uint64(len(cols))))
	}
	if meta == nil || *meta != 0 {
		for _, c := range cols {
			out = append(out, colDef(c))
		}
	}
	if !deprecate {
		out = append(out, eofPkt(0x0002))
	}
	out = append(out, rows...)
	if deprecate {
		out = append(out, okPkt(0xfe, 0, 0, status))
	} else {
		out = append(out, eofPkt(status))
	}
	return out
}

func join(parts ...[]mp) []mp {
	var out []mp
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func byteP(b byte) *byte { return &b }

func TestMySQLFollowerResults(t *testing.T) {
	rows := []mp{textRow(str("1"), nil), textRow(str(""), str("x")), textRow(nil, nil)}
	for _, dep := range []bool{false, true} {
		s := sessClassic
		if dep {
			s = sessDeprecate
		}
		name := map[bool]string{false: "EOF", true: "DeprecateEOF"}[dep]
		t.Run(name, func(t *testing.T) {
			t.Run("OK", func(t *testing.T) { followScript(t, mysqlRespResult, s, []mp{okPkt(0, 1, 0, 2)}) })
			t.Run("ERR", func(t *testing.T) {
				followScript(t, mysqlRespResult, s, []mp{errPkt(1146, "42S02", "Table 'test.t' doesn't exist")})
			})
			t.Run("Rows", func(t *testing.T) { followScript(t, mysqlRespResult, s, resultSet(dep, nil, rows, 2, "a", "b")) })
			t.Run("NoRows", func(t *testing.T) { followScript(t, mysqlRespResult, s, resultSet(dep, nil, nil, 2, "a")) })
			t.Run("BinaryRows", func(t *testing.T) {
				followScript(t, mysqlRespResult, s, resultSet(dep, nil, []mp{binRow(1, 0, 0, 0), binRow(2, 0, 0, 0)}, 2, "id"))
			})
			t.Run("MultiResults", func(t *testing.T) {
				followScript(t, mysqlRespResult, s, join(
					resultSet(dep, nil, rows, 2|more, "a", "b"),
					[]mp{okPkt(0, 3, 0, 2|more)},
					resultSet(dep, nil, rows[:1], 2|more, "c"),
					[]mp{okPkt(0, 0, 0, 2)}, // CALL's final OK
				))
			})
			t.Run("ErrorAfterRows", func(t *testing.T) {
				set := resultSet(dep, nil, rows, 2, "a", "b")
				set[len(set)-1] = errPkt(1969, "70100", "Query execution was interrupted (max_statement_time exceeded)")
				followScript(t, mysqlRespResult, s, set)
			})
			t.Run("ErrorInSecondResult", func(t *testing.T) {
				followScript(t, mysqlRespResult, s, join(
					resultSet(dep, nil, rows, 2|more, "a", "b"),
					[]mp{errPkt(1146, "42S02", "Table 'test.t' doesn't exist")},
				))
			})
			t.Run("ErrorAmongColumns", func(t *testing.T) {
				followScript(t, mysqlRespResult, s, []mp{colCount(3), colDef("a"), errPkt(1317, "70100", "Query execution was interrupted")})
			})
			t.Run("LocalInfile", func(t *testing.T) {
				followScript(t, mysqlRespResult, s, []mp{
					srv(append([]byte{0xfb}, "/tmp/data.csv"...)...),
					cli([]byte("1,a\n2,b\n")...), cli([]byte("3,c\n")...), cli(),
					okPkt(0, 3, 0, 2),
				})
			})
			t.Run("LocalInfileFullPacket", func(t *testing.T) {
				// A full packet's continuation may be empty; the empty
				// packet after it ends the file.
				followScript(t, mysqlRespResult, s, []mp{
					srv(append([]byte{0xfb}, "f"...)...),
					cliLong(mysqlMaxPayload, '1'), cli(), cli(),
					errPkt(1062, "23000", "Duplicate entry '1' for key 'PRIMARY'"),
				})
			})
			t.Run("LocalInfileThenMore", func(t *testing.T) {
				followScript(t, mysqlRespResult, s, join(
					[]mp{srv(0xfb, 'f'), cli(), okPkt(0, 0, 0, 2|more)},
					resultSet(dep, nil, rows, 2, "a", "b"),
				))
			})
			t.Run("Cursor", func(t *testing.T) {
				var set []mp
				if dep {
					set = []mp{colCount(1), colDef("a"), okPkt(0xfe, 0, 0, 2|mysqlServerStatusCursorExist)}
				} else {
					set = []mp{colCount(1), colDef("a"), eofPkt(2 | mysqlServerStatusCursorExist)}
				}
				followScript(t, mysqlRespResult, s, set)
			})
			t.Run("Fetch", func(t *testing.T) {
				end := eofPkt(2 | mysqlServerStatusCursorExist | mysqlServerStatusLastRowSent)
				if dep {
					end = okPkt(0xfe, 0, 0, 2|mysqlServerStatusLastRowSent)
				}
				followScript(t, mysqlRespFetch, s, []mp{binRow(1), binRow(2), end})
				followScript(t, mysqlRespFetch, s, []mp{end})
			})
			t.Run("FieldList", func(t *testing.T) {
				end := eofPkt(2)
				if dep {
					end = okPkt(0xfe, 0, 0, 2)
				}
				followScript(t, mysqlRespFieldList, s, []mp{colDef("a"), colDef("b"), end})
			})
			t.Run("ProgressReports", func(t *testing.T) {
				progress := srv(0xff, 0xff, 0xff, 1, 1, 0, 0x10, 0x27, 0, 4, 'c', 'o', 'p', 'y')
				followScript(t, mysqlRespResult, s, join(
					[]mp{progress, progress},
					[]mp{okPkt(0, 5, 0, 2)},
				))
			})
			t.Run("LongRows", func(t *testing.T) {
				// A row of one value of 2^24 bytes starts with 0xfe (an
				// 8-byte length) in a full packet; its continuations may
				// start with anything, 0xfe and 0xff included.
				followScript(t, mysqlRespResult, s, resultSet(dep, nil, []mp{
					srvLong(mysqlMaxPayload, 0xfe, 0, 0, 0, 1, 0, 0, 0, 0),
					srvLong(9, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0),
					srvLong(mysqlMaxPayload, 0xfd, 0xff, 0xff, 0xff),
					srvLong(mysqlMaxPayload, 0xff, 0xff, 0xff),
					srv(),
					srvLong(mysqlMaxPayload, 0xfd, 0xfb, 0xff, 0xff),
					srv(0xfe, 0, 0, 2, 0),
				}, 2, "a"))
			})
			t.Run("Prepare", func(t *testing.T) {
				params := func(n int, p []mp) []mp {
					for i := 0; i < n; i++ {
						p = append(p, colDef("?"))
					}
					if !dep {
						p = append(p, eofPkt(2))
					}
					return p
				}
				followScript(t, mysqlRespPrepare, s, []mp{prepOK(1, 0, 0)})
				followScript(t, mysqlRespPrepare, s, params(2, []mp{prepOK(1, 0, 2)}))
				followScript(t, mysqlRespPrepare, s, params(3, []mp{prepOK(1, 3, 0)}))
				followScript(t, mysqlRespPrepare, s, params(3, params(2, []mp{prepOK(1, 3, 2)})))
				followScript(t, mysqlRespPrepare, s, []mp{errPkt(1064, "42000", "You have an error in your SQL syntax")})
			})
			t.Run("Single", func(t *testing.T) {
				followScript(t, mysqlRespSingle, s, []mp{okPkt(0, 0, 0, 2)})
				followScript(t, mysqlRespSingle, s, []mp{eofPkt(2)})
				followScript(t, mysqlRespSingle, s, []mp{srv([]byte("Uptime: 5  Threads: 1")...)})
				followScript(t, mysqlRespSingle, s, []mp{errPkt(1049, "42000", "Unknown database 'x'")})
			})
		})
	}
}

func TestMySQLFollowerCacheMetadata(t *testing.T) {
	rows := []mp{binRow(1, 0, 0, 0)}
	for _, s := range []mysqlSession{sessMeta, sessMetaEOF} {
		dep := s.caps&mysqlClientDeprecateEOF != 0
		followScript(t, mysqlRespResult, s, resultSet(dep, byteP(1), rows, 2, "a", "b"))
		followScript(t, mysqlRespResult, s, resultSet(dep, byteP(0), rows, 2, "a", "b"))
		followScript(t, mysqlRespResult, s, join(
			resultSet(dep, byteP(0), rows, 2|more, "a", "b"),
			resultSet(dep, byteP(1), rows, 2, "a"),
		))
		// A COM_STMT_PREPARE response is not affected.
		prep := []mp{prepOK(1, 1, 0), colDef("a")}
		if !dep {
			prep = append(prep, eofPkt(2))
		}
		followScript(t, mysqlRespPrepare, s, prep)
	}
	// Without the capability, the byte after the count is not read: a
	// count alone is a valid column count packet.
	followScript(t, mysqlRespResult, sessDeprecate, resultSet(true, nil, rows, 2, "a"))
	f := newMySQLFollower(mysqlRespResult, sessMeta)
	if err := f.server([]byte{0x01}, 1); err == nil {
		t.Error("cache-metadata session: a column count without its flag was accepted")
	}
}

func TestMySQLFollowerAuth(t *testing.T) {
	s := sessDeprecate
	authOK := okPkt(0, 0, 0, 2)
	followScript(t, mysqlRespAuth, s, []mp{authOK})
	followScript(t, mysqlRespAuth, s, []mp{errPkt(1045, "28000", "Access denied for user 'root'@'localhost' (using password: YES)")})
	// Auth switch to another plugin.
	followScript(t, mysqlRespAuth, s, []mp{srv(cat([]byte{0xfe}, []byte("mysql_native_password\x00"), bytes.Repeat([]byte{'s'}, 20), []byte{0})...), cli(bytes.Repeat([]byte{1}, 20)...), authOK})
	// caching_sha2_password, fast path: 0x01 0x03 then OK.
	followScript(t, mysqlRespAuth, s, []mp{srv(0x01, 0x03), authOK})
	// caching_sha2_password, full authentication over plain TCP: the
	// client asks for the public key, the server sends it, the client the
	// encrypted password.
	followScript(t, mysqlRespAuth, s, []mp{srv(0x01, 0x04), cli(0x02), srv(cat([]byte{0x01}, []byte("-----BEGIN PUBLIC KEY-----"))...), cli(bytes.Repeat([]byte{7}, 256)...), authOK})
	// An empty auth response is a client packet like any other.
	followScript(t, mysqlRespAuth, s, []mp{srv(cat([]byte{0xfe}, []byte("client_ed25519\x00"))...), cli(), errPkt(1045, "28000", "Access denied")})
}

func TestMySQLFollowerNone(t *testing.T) {
	for _, c := range []mysqlCommand{mysqlComQuit, mysqlComStmtClose, mysqlComStmtSendLongData} {
		f := newMySQLFollower(c.response(), sessDeprecate)
		if !f.done() {
			t.Errorf("%v: a response is due", c)
		}
	}
	f := newMySQLFollower(mysqlComBinlogDump.response(), sessDeprecate)
	if f.failed() == nil || f.done() {
		t.Errorf("COM_BINLOG_DUMP: followed (%v)", f.state)
	}
	f = newMySQLFollower(mysqlRespResult, mysqlSession{caps: mysqlClientProtocol41 | mysqlClientOptionalResultsetMetadata})
	if f.failed() == nil {
		t.Error("CLIENT_OPTIONAL_RESULTSET_METADATA session followed")
	}
}

// TestMySQLFollowerRefuses checks that sequences no server sends fail the
// follower, and that it stays failed.
func TestMySQLFollowerRefuses(t *testing.T) {
	cases := []struct {
		name    string
		resp    mysqlResponse
		s       mysqlSession
		packets []mp
	}{
		{"EOFFirst", mysqlRespResult, sessClassic, []mp{eofPkt(2)}},
		{"EmptyFirst", mysqlRespResult, sessClassic, []mp{srv()}},
		{"ZeroColumns", mysqlRespResult, sessClassic, []mp{colCount(0)}},
		{"TooManyColumns", mysqlRespResult, sessClassic, []mp{colCount(1 << 20)}},
		{"NoEOFAfterColumns", mysqlRespResult, sessClassic, []mp{colCount(1), colDef("a"), textRow(str("1"))}},
		{"ClientWhileServer", mysqlRespResult, sessClassic, []mp{colCount(1), cli(1)}},
		{"ServerWhileInfile", mysqlRespResult, sessClassic, []mp{srv(0xfb, 'f'), okPkt(0, 0, 0, 2)}},
		{"RowAfterInfile", mysqlRespResult, sessClassic, []mp{srv(0xfb, 'f'), cli(), textRow(str("1"))}},
		{"BadPrepareOK", mysqlRespPrepare, sessClassic, []mp{srv(0x00, 1, 0)}},
		{"NoEOFAfterParams", mysqlRespPrepare, sessClassic, []mp{prepOK(1, 0, 1), colDef("?"), colDef("?")}},
		{"AuthGarbage", mysqlRespAuth, sessClassic, []mp{srv(0x42)}},
		{"AuthClientFirst", mysqlRespAuth, sessClassic, []mp{cli(1)}},
		{"ServerWhileClientContinues", mysqlRespResult, sessClassic, []mp{srv(0xfb, 'f'), cliLong(mysqlMaxPayload, 1), okPkt(0, 0, 0, 2)}},
		{"ClientWhileServerContinues", mysqlRespResult, sessDeprecate, []mp{srv(0xfb, 'f'), cli(), srvLong(mysqlMaxPayload, 0), cli()}},
		{"TruncatedOK", mysqlRespResult, sessClassic, []mp{srv(0x00, 0xfc, 1)}},
		{"PacketAfterDone", mysqlRespSingle, sessClassic, []mp{okPkt(0, 0, 0, 2), okPkt(0, 0, 0, 2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newMySQLFollower(c.resp, c.s)
			var err error
			for _, p := range c.packets {
				if p.client {
					err = f.client(p.length)
				} else {
					err = f.server(p.head, p.length)
				}
				if err != nil {
					break
				}
			}
			if err == nil {
				t.Fatalf("accepted (state %v, done %v)", f.state, f.done())
			}
			if !errors.Is(err, errMySQLMalformed) {
				t.Errorf("error %v does not wrap errMySQLMalformed", err)
			}
			if f.done() || f.failed() == nil || f.server([]byte{0}, 1) == nil || f.client(0) == nil {
				t.Error("the follower did not stay failed")
			}
		})
	}
	// A head shorter than the classifiers need is the caller's bug.
	f := newMySQLFollower(mysqlRespResult, sessClassic)
	if err := f.server([]byte{0x00}, 40); err == nil || errors.Is(err, errMySQLMalformed) {
		t.Errorf("short head: %v", err)
	}
}

// ---- framer ----

func TestReadMySQLPacket(t *testing.T) {
	in := []byte{3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 1, 0xff, 0xff, 0xff, 7}
	br := bufio.NewReader(bytes.NewReader(in))
	p, err := readMySQLPacket(br)
	if err != nil || p != (mysqlPacket{length: 3, seq: 0}) {
		t.Fatalf("%v, %v", p, err)
	}
	head, err := peekMySQLPayload(br, p, mysqlHeadLen)
	if err != nil || string(head) != "abc" {
		t.Fatalf("peek: %q, %v", head, err)
	}
	var out bytes.Buffer
	if n, err := copyMySQLPayload(&out, br, p); n != 3 || err != nil || out.String() != "abc" {
		t.Fatalf("copy: %d, %v, %q", n, err, out.String())
	}
	p, err = readMySQLPacket(br)
	if err != nil || p != (mysqlPacket{length: 0, seq: 1}) || p.continued() {
		t.Fatalf("%v, %v", p, err)
	}
	if h, err := peekMySQLPayload(br, p, mysqlHeadLen); err != nil || len(h) != 0 {
		t.Fatalf("empty payload: %q, %v", h, err)
	}
	p, err = readMySQLPacket(br)
	if err != nil || p != (mysqlPacket{length: mysqlMaxPayload, seq: 7}) || !p.continued() {
		t.Fatalf("%v, %v", p, err)
	}
	if _, err := peekMySQLPayload(br, p, 4); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, errMySQLMalformed) {
		t.Fatalf("payload cut short: %v", err)
	}
	if _, err := readMySQLPacket(br); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

	// Skipping a payload.
	br = bufio.NewReader(bytes.NewReader(in))
	p, _ = readMySQLPacket(br)
	if err := discardMySQLPayload(br, p); err != nil {
		t.Fatal(err)
	}
	if p, err := readMySQLPacket(br); err != nil || p.seq != 1 {
		t.Fatalf("after discarding: %v, %v", p, err)
	}
	p, _ = readMySQLPacket(br)
	if err := discardMySQLPayload(br, p); err != io.ErrUnexpectedEOF {
		t.Fatalf("discarding past the end: %v", err)
	}

	// A header cut short is malformed and not consumed.
	br = bufio.NewReader(bytes.NewReader([]byte{1, 0}))
	if _, err := readMySQLPacket(br); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, errMySQLMalformed) {
		t.Fatalf("short header: %v", err)
	}
	if br.Buffered() != 2 {
		t.Fatalf("short header: %d bytes left", br.Buffered())
	}

	// A reader error is returned as is, nothing consumed; a later call
	// starts over.
	boom := errors.New("boom")
	br = bufio.NewReader(io.MultiReader(bytes.NewReader([]byte{1, 0}), iotest.ErrReader(boom)))
	if _, err := readMySQLPacket(br); err != boom {
		t.Fatalf("reader error: %v", err)
	}
	if br.Buffered() != 2 {
		t.Fatalf("reader error: %d bytes left", br.Buffered())
	}
}

func TestReadMySQLPacketWant(t *testing.T) {
	in := []byte{5, 0, 0, 3, 1, 2, 3, 4, 5}
	for _, c := range []struct {
		seq  byte
		max  int
		good bool
	}{{3, 5, true}, {3, 100, true}, {2, 5, false}, {4, 5, false}, {3, 4, false}} {
		br := bufio.NewReader(bytes.NewReader(in))
		p, err := readMySQLPacketWant(br, c.seq, c.max)
		if c.good != (err == nil) {
			t.Errorf("seq %d max %d: %v, %v", c.seq, c.max, p, err)
		}
		if err != nil {
			if !errors.Is(err, errMySQLMalformed) {
				t.Errorf("seq %d max %d: %v does not wrap errMySQLMalformed", c.seq, c.max, err)
			}
			if br.Buffered() != len(in) {
				t.Errorf("seq %d max %d: consumed %d bytes", c.seq, c.max, len(in)-br.Buffered())
			}
		}
	}
}

// mysqlMessageBytes returns a message of n payload bytes starting at seq,
// as packets on the wire, and its payload.
func mysqlMessageBytes(n int, seq byte) (wire, payload []byte) {
	payload = bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	return appendMySQLPacket(nil, seq, payload), payload
}

func TestMySQLMessages(t *testing.T) {
	for _, n := range []int{0, 1, mysqlMaxPayload - 1, mysqlMaxPayload, mysqlMaxPayload + 1, 2 * mysqlMaxPayload} {
		wire, payload := mysqlMessageBytes(n, 250)
		packets := n/mysqlMaxPayload + 1
		if len(wire) != n+4*packets {
			t.Fatalf("%d bytes: %d on the wire, expected %d packets", n, len(wire), packets)
		}
		next := []byte("\x01\x00\x00\x00\x0e")
		br := bufio.NewReader(bytes.NewReader(append(wire, next...)))
		p, err := readMySQLPacket(br)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		last, written, err := copyMySQLMessage(&out, br, p, mysqlMaxMessage)
		if err != nil || written != int64(len(wire)) || !bytes.Equal(out.Bytes(), wire) {
			t.Fatalf("%d bytes: copied %d, %v", n, written, err)
		}
		if want := byte(250 + packets - 1); last.seq != want || last.continued() {
			t.Fatalf("%d bytes: last %v, expected seq %d", n, last, want)
		}
		if rest, _ := io.ReadAll(br); !bytes.Equal(rest, next) {
			t.Fatalf("%d bytes: left %q", n, rest)
		}

		br = bufio.NewReader(bytes.NewReader(wire))
		p, _ = readMySQLPacket(br)
		raw, _, err := readMySQLMessage(nil, br, p, mysqlMaxMessage)
		if err != nil || !bytes.Equal(raw, wire) || !bytes.Equal(mysqlMessagePayload(raw), payload) {
			t.Fatalf("%d bytes: read %d, %v", n, len(raw), err)
		}

		br = bufio.NewReader(bytes.NewReader(append(wire, next...)))
		p, _ = readMySQLPacket(br)
		if _, err := discardMySQLMessage(br, p, mysqlMaxMessage); err != nil {
			t.Fatal(err)
		}
		if p, err := readMySQLPacket(br); err != nil || p.length != 1 {
			t.Fatalf("%d bytes: after discarding: %v, %v", n, p, err)
		}
	}

	// A continuation with the wrong sequence id, or beyond max, is
	// malformed and its header is not consumed.
	wire, _ := mysqlMessageBytes(mysqlMaxPayload+10, 0)
	bad := bytes.Clone(wire)
	bad[4+mysqlMaxPayload+3] = 5
	for _, c := range []struct {
		in  []byte
		max int
	}{{bad, mysqlMaxMessage}, {wire, mysqlMaxPayload + 9}} {
		br := bufio.NewReader(bytes.NewReader(c.in))
		p, _ := readMySQLPacket(br)
		raw, _, err := readMySQLMessage(nil, br, p, c.max)
		if !errors.Is(err, errMySQLMalformed) {
			t.Fatalf("expected malformed, got %v", err)
		}
		if len(raw) != 4+mysqlMaxPayload || br.Buffered() != 4+10 {
			t.Fatalf("consumed %d bytes, %d left", len(raw), br.Buffered())
		}
	}
	// A stream that ends inside a message.
	br := bufio.NewReader(bytes.NewReader(wire[:4+mysqlMaxPayload]))
	p, _ := readMySQLPacket(br)
	if _, _, err := readMySQLMessage(nil, br, p, mysqlMaxMessage); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut message: %v", err)
	}
	br = bufio.NewReader(bytes.NewReader(wire[:100]))
	p, _ = readMySQLPacket(br)
	if raw, _, err := readMySQLMessage(nil, br, p, mysqlMaxMessage); !errors.Is(err, io.ErrUnexpectedEOF) || len(raw) != 100 {
		t.Fatalf("cut payload: %d bytes, %v", len(raw), err)
	}
}

func TestMySQLLenEnc(t *testing.T) {
	for _, c := range []struct {
		in []byte
		v  uint64
		n  int
		ok bool
	}{
		{[]byte{0}, 0, 1, true},
		{[]byte{0xfa}, 0xfa, 1, true},
		{[]byte{0xfb}, 0, 0, false},
		{[]byte{0xff}, 0, 0, false},
		{[]byte{0xfc, 0xfb, 0}, 0xfb, 3, true},
		{[]byte{0xfc, 0xfb}, 0, 0, false},
		{[]byte{0xfd, 1, 2, 3}, 0x030201, 4, true},
		{[]byte{0xfe, 1, 2, 3, 4, 5, 6, 7, 8}, 0x0807060504030201, 9, true},
		{[]byte{0xfe, 1, 2, 3, 4, 5, 6, 7}, 0, 0, false},
		{nil, 0, 0, false},
	} {
		v, n, ok := readMySQLLenEnc(c.in)
		if v != c.v || n != c.n || ok != c.ok {
			t.Errorf("% x: %d, %d, %v", c.in, v, n, ok)
		}
	}
	for _, v := range []uint64{0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 1<<64 - 1} {
		b := appendMySQLLenEnc(nil, v)
		if got, n, ok := readMySQLLenEnc(b); got != v || n != len(b) || !ok {
			t.Errorf("%d: % x read as %d, %d, %v", v, b, got, n, ok)
		}
	}
}

func TestMySQLCommands(t *testing.T) {
	for _, c := range []struct {
		cmd  mysqlCommand
		b    byte
		name string
		resp mysqlResponse
	}{
		{mysqlComQuery, 0x03, "COM_QUERY", mysqlRespResult},
		{mysqlComStmtPrepare, 0x16, "COM_STMT_PREPARE", mysqlRespPrepare},
		{mysqlComStmtExecute, 0x17, "COM_STMT_EXECUTE", mysqlRespResult},
		{mysqlComStmtSendLongData, 0x18, "COM_STMT_SEND_LONG_DATA", mysqlRespNone},
		{mysqlComStmtClose, 0x19, "COM_STMT_CLOSE", mysqlRespNone},
		{mysqlComStmtReset, 0x1a, "COM_STMT_RESET", mysqlRespSingle},
		{mysqlComQuit, 0x01, "COM_QUIT", mysqlRespNone},
		{mysqlComPing, 0x0e, "COM_PING", mysqlRespSingle},
		{mysqlComInitDB, 0x02, "COM_INIT_DB", mysqlRespSingle},
		{mysqlComChangeUser, 0x11, "COM_CHANGE_USER", mysqlRespAuth},
		{mysqlComResetConnection, 0x1f, "COM_RESET_CONNECTION", mysqlRespSingle},
		{mysqlComFieldList, 0x04, "COM_FIELD_LIST", mysqlRespFieldList},
		{mysqlComSetOption, 0x1b, "COM_SET_OPTION", mysqlRespSingle},
		{mysqlComStmtFetch, 0x1c, "COM_STMT_FETCH", mysqlRespFetch},
		{mysqlComStatistics, 0x09, "COM_STATISTICS", mysqlRespSingle},
		{mysqlComBinlogDump, 0x12, "COM_BINLOG_DUMP", mysqlRespUnknown},
		{mariadbComStmtBulkExec, 0xfa, "COM_STMT_BULK_EXECUTE", mysqlRespResult},
		{mysqlCommand(0x20), 0x20, "COM_0x20", mysqlRespUnknown},
	} {
		got, ok := mysqlCommandOf([]byte{c.b, 'x'})
		if !ok || got != c.cmd || got.String() != c.name || got.response() != c.resp {
			t.Errorf("0x%02x: %v %v %v", c.b, got, ok, got.response())
		}
	}
	if _, ok := mysqlCommandOf(nil); ok {
		t.Error("empty payload has a command")
	}
	exec := []byte{0x17, 0x78, 0x56, 0x34, 0x12, 0x00, 1, 0, 0, 0}
	for _, b := range []byte{0x17, 0x18, 0x19, 0x1a, 0x1c, 0xfa} {
		exec[0] = b
		if id, ok := mysqlStmtID(exec); !ok || id != 0x12345678 {
			t.Errorf("0x%02x: statement id %x, %v", b, id, ok)
		}
	}
	if _, ok := mysqlStmtID([]byte{0x03, 1, 2, 3, 4}); ok {
		t.Error("COM_QUERY has a statement id")
	}
	if _, ok := mysqlStmtID([]byte{0x17, 1, 2, 3}); ok {
		t.Error("short COM_STMT_EXECUTE has a statement id")
	}
}

func TestMySQLReplyClasses(t *testing.T) {
	for _, c := range []struct {
		head   []byte
		length int
		want   mysqlReplyClass
	}{
		{[]byte{0x00, 0, 0, 2, 0, 0, 0}, 7, mysqlReplyOK},
		{[]byte{0xff, 0x7a, 0x04}, 40, mysqlReplyERR},
		{[]byte{0xfe, 0, 0, 2, 0}, 5, mysqlReplyEOF},
		{[]byte{0xfe}, 1, mysqlReplyEOF},
		{[]byte{0xfe, 0, 0, 0, 0, 0, 0, 0, 0}, 9, mysqlReplyInvalid},
		{[]byte{0xfb, 'f'}, 2, mysqlReplyLocalInfile},
		{[]byte{0x03}, 1, mysqlReplyResultSet},
		{[]byte{0xfc, 0x00, 0x01}, 3, mysqlReplyResultSet},
		{[]byte{0xfc}, 1, mysqlReplyInvalid},
		{nil, 0, mysqlReplyInvalid},
	} {
		if got := classifyMySQLReply(c.head, c.length); got != c.want {
			t.Errorf("% x (%d bytes): %v, expected %v", c.head, c.length, got, c.want)
		}
	}
	ok, valid := parseMySQLOK([]byte{0x00, 0xfc, 0x00, 0x01, 0x05, 0x0a, 0x00, 0x03, 0x00})
	if !valid || ok != (mysqlOK{affectedRows: 256, lastInsertID: 5, status: 10, warnings: 3}) {
		t.Errorf("OK: %+v, %v", ok, valid)
	}
	if w, s, valid := parseMySQLEOF([]byte{0xfe, 1, 0, 0x0a, 0}); !valid || w != 1 || s != 10 {
		t.Errorf("EOF: %d %d %v", w, s, valid)
	}
	n, state, msg, valid := parseMySQLERR([]byte("\xff\x10\x04Too many connections"))
	if !valid || n != 1040 || state != "" || msg != "Too many connections" {
		t.Errorf("ERR without SQLSTATE: %d %q %q %v", n, state, msg, valid)
	}
	n, state, msg, valid = parseMySQLERR(mysqlMessagePayload(MySQLDeadlock.encode(1)))
	if !valid || n != 1213 || state != "40001" || msg != MySQLDeadlock.message {
		t.Errorf("ERR: %d %q %q %v", n, state, msg, valid)
	}
	p, valid := parseMySQLPrepareOK([]byte{0, 1, 0, 0, 0, 2, 0, 3, 0, 0, 4, 0})
	if !valid || p != (mysqlPrepareOK{stmtID: 1, columns: 2, params: 3, warnings: 4}) {
		t.Errorf("PREPARE_OK: %+v %v", p, valid)
	}
}

// mariadbGreeting returns the greeting of MariaDB 10.11.19 as recorded in
// the Negotiated fixture (unmodified).
func mariadbGreeting(t *testing.T) []byte {
	t.Helper()
	return splitMySQLPackets(t, mysqlFixtures["Negotiated"].server)[0].payload
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestMySQLGreeting(t *testing.T) {
	mariadbGreeting := mariadbGreeting(t)
	g, err := parseMySQLGreeting(mariadbGreeting)
	if err != nil {
		t.Fatal(err)
	}
	if g.protocolVersion != 10 || g.serverVersion != "5.5.5-10.11.19-MariaDB-0+deb12u1" || g.authPlugin != "mysql_native_password" {
		t.Errorf("greeting: %+v", g)
	}
	for _, bit := range []uint32{mysqlClientProtocol41, mysqlClientDeprecateEOF, mysqlClientMultiResults, mysqlClientPSMultiResults, mysqlClientLocalFiles, mysqlClientCompress} {
		if g.capabilities&bit == 0 {
			t.Errorf("MariaDB offers no 0x%08x (capabilities 0x%08x)", bit, g.capabilities)
		}
	}
	if g.capabilities&(mysqlClientMySQL|mysqlClientSSL) != 0 {
		t.Errorf("capabilities 0x%08x: CLIENT_MYSQL or CLIENT_SSL", g.capabilities)
	}
	if g.mariadbCaps&mariadbClientCacheMetadata == 0 || g.mariadbCaps&mariadbClientProgress == 0 {
		t.Errorf("MariaDB capabilities 0x%x", g.mariadbCaps)
	}

	b := bytes.Clone(mariadbGreeting)
	if err := clearMySQLCapabilities(b, mysqlCapsUnfollowed|mysqlClientDeprecateEOF, mariadbClientCacheMetadata); err != nil {
		t.Fatal(err)
	}
	g2, err := parseMySQLGreeting(b)
	if err != nil {
		t.Fatal(err)
	}
	if g2.capabilities != g.capabilities&^(mysqlCapsUnfollowed|mysqlClientDeprecateEOF) || g2.mariadbCaps != g.mariadbCaps&^mariadbClientCacheMetadata {
		t.Errorf("cleared: 0x%08x 0x%x", g2.capabilities, g2.mariadbCaps)
	}
	changed := 0
	for i := range b {
		if b[i] != mariadbGreeting[i] {
			changed++
			if i != g.capLow && i != g.capLow+1 && i != g.capHigh && i != g.capHigh+1 && (i < g.mariadbAt || i >= g.mariadbAt+4) {
				t.Errorf("byte %d changed", i)
			}
		}
	}
	if changed == 0 {
		t.Error("nothing cleared")
	}
	// A greeting with the SSL, compression and zstd bits (a MySQL 8
	// server's): cleared, and CLIENT_MYSQL set means no MariaDB bytes.
	my8 := bytes.Clone(mariadbGreeting)
	binary.LittleEndian.PutUint16(my8[g.capLow:], uint16(g.capabilities)|uint16(mysqlClientSSL|mysqlClientMySQL))
	binary.LittleEndian.PutUint16(my8[g.capHigh:], uint16((g.capabilities|mysqlClientZstdCompression)>>16))
	if err := clearMySQLCapabilities(my8, mysqlClientSSL|mysqlClientCompress|mysqlClientZstdCompression, mariadbClientCacheMetadata); err != nil {
		t.Fatal(err)
	}
	g3, _ := parseMySQLGreeting(my8)
	if g3.capabilities&(mysqlClientSSL|mysqlClientCompress|mysqlClientZstdCompression) != 0 || g3.capabilities&mysqlClientMySQL == 0 || g3.mariadbAt != 0 {
		t.Errorf("MySQL-style greeting: %+v", g3)
	}
	if !bytes.Equal(my8[g.mariadbAt:g.mariadbAt+4], mariadbGreeting[g.mariadbAt:g.mariadbAt+4]) {
		t.Error("reserved bytes changed in a greeting with CLIENT_MYSQL")
	}

	for _, bad := range [][]byte{nil, {0xff, 0x10, 0x04, 'T'}, {9, 'x', 0}, {10, 'x'}, {10, 'x', 0, 1, 2}, mariadbGreeting[:40]} {
		if _, err := parseMySQLGreeting(bad); !errors.Is(err, errMySQLMalformed) {
			t.Errorf("% x: %v", bad, err)
		}
		if err := clearMySQLCapabilities(bytes.Clone(bad), mysqlClientSSL, 0); err == nil {
			t.Errorf("% x: cleared", bad)
		}
	}
}

func TestMySQLClientHello(t *testing.T) {
	// go-sql-driver v1.10.1's handshake response to MariaDB 10.11 (user
	// root, database test), from the Negotiated fixture.
	resp := splitMySQLPackets(t, mysqlFixtures["Negotiated"].client)[0].payload
	h, err := parseMySQLClientHello(resp)
	if err != nil {
		t.Fatal(err)
	}
	// What go-sql-driver asks for (and MariaDB offers): CLIENT_DEPRECATE_EOF
	// and MARIADB_CLIENT_CACHE_METADATA among them; CLIENT_MYSQL clear, as
	// the server's is; no CLIENT_SSL, CLIENT_COMPRESS,
	// CLIENT_PS_MULTI_RESULTS or CLIENT_SESSION_TRACK.
	const want = mysqlClientLongFlag | mysqlClientConnectWithDB | mysqlClientLocalFiles | mysqlClientProtocol41 |
		mysqlClientTransactions | mysqlClientSecureConnection | mysqlClientMultiStatements | mysqlClientMultiResults |
		mysqlClientPluginAuth | mysqlClientConnectAttrs | mysqlClientPluginAuthLenencData | mysqlClientDeprecateEOF
	if h.capabilities != want || h.charset != 45 || h.mariadbCaps != mariadbClientCacheMetadata || h.sslRequest {
		t.Errorf("%+v (capabilities 0x%08x, expected 0x%08x)", h, h.capabilities, want)
	}
	g, _ := parseMySQLGreeting(mariadbGreeting(t))
	s := negotiateMySQL(g, h)
	if s.caps != want || s.mariadbCaps != mariadbClientCacheMetadata {
		t.Errorf("session %+v", s)
	}
	ssl := bytes.Clone(resp[:32])
	binary.LittleEndian.PutUint32(ssl, h.capabilities|mysqlClientSSL)
	if h, err := parseMySQLClientHello(ssl); err != nil || !h.sslRequest {
		t.Errorf("SSLRequest: %+v %v", h, err)
	}
	if h, err := parseMySQLClientHello([]byte{0x85, 0x00, 0, 0, 0}); err != nil || h.capabilities != 0x85 {
		t.Errorf("4.0 response: %+v %v", h, err)
	}
	if _, err := parseMySQLClientHello(resp[:20]); !errors.Is(err, errMySQLMalformed) {
		t.Errorf("short: %v", err)
	}
}

// ---- the real server ----

// mysqlTestAddr returns the address of the tests' MySQL or MariaDB server,
// or skips or fails the test: see testenv.MySQLAddr.
func mysqlTestAddr(t testing.TB) string {
	t.Helper()
	return testenv.MySQLAddr(t)
}

// mysqlTestDSN returns the DSN of the tests' login (root, no password,
// database test) at addr, with multiple statements per query if multi.
func mysqlTestDSN(addr string, multi bool) string {
	cfg := testenv.MySQLConfig(addr, "root", "")
	cfg.MultiStatements = multi
	return cfg.FormatDSN()
}

// mysqlRecorder is a TCP relay in front of a MySQL server that records
// what each side of each connection sent; it can clear capabilities from
// the server's greeting on the way, with clearMySQLCapabilities.
type mysqlRecorder struct {
	ln                 net.Listener
	target             string
	clearCaps, clearMB uint32

	mu    sync.Mutex
	conns []*mysqlRecording
	open  []net.Conn
	wg    sync.WaitGroup
}

// mysqlRecording is what the two sides of one connection sent: the
// server's bytes as the client received them (greeting rewritten).
type mysqlRecording struct {
	mu             sync.Mutex
	client, server bytes.Buffer
}

func (r *mysqlRecording) streams() (client, server []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.client.Bytes()), bytes.Clone(r.server.Bytes())
}

type mysqlTee struct {
	r   *mysqlRecording
	buf *bytes.Buffer
	w   io.Writer
}

func (t mysqlTee) Write(p []byte) (int, error) {
	t.r.mu.Lock()
	t.buf.Write(p)
	t.r.mu.Unlock()
	return t.w.Write(p)
}

func newMySQLRecorder(t *testing.T, target string, clearCaps, clearMB uint32) *mysqlRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &mysqlRecorder{ln: ln, target: target, clearCaps: clearCaps, clearMB: clearMB}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *mysqlRecorder) addr() string { return r.ln.Addr().String() }

// close stops the recorder once the connections have ended (the client's
// last bytes, such as COM_QUIT, are then recorded), or after 5 seconds.
func (r *mysqlRecorder) close() {
	r.ln.Close()
	ended := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return
	case <-time.After(5 * time.Second):
	}
	r.mu.Lock()
	for _, c := range r.open {
		c.Close()
	}
	r.mu.Unlock()
	<-ended
}

func (r *mysqlRecorder) recordings() []*mysqlRecording {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*mysqlRecording(nil), r.conns...)
}

func (r *mysqlRecorder) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		rec := &mysqlRecording{}
		r.mu.Lock()
		r.conns = append(r.conns, rec)
		r.open = append(r.open, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go func() {
			defer r.wg.Done()
			io.Copy(mysqlTee{rec, &rec.client, s}, c)
			s.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			defer r.wg.Done()
			defer c.Close()
			defer s.Close()
			br := bufio.NewReaderSize(s, 64<<10)
			w := mysqlTee{rec, &rec.server, c}
			if p, err := readMySQLPacket(br); err == nil {
				raw, _, err := readMySQLMessage(nil, br, p, 1<<16)
				if err == nil && (r.clearCaps != 0 || r.clearMB != 0) {
					clearMySQLCapabilities(raw[mysqlHeaderLen:], r.clearCaps, r.clearMB)
				}
				w.Write(raw)
			}
			br.WriteTo(w)
		}()
	}
}

// mysqlWirePacket is a packet of a recorded stream.
type mysqlWirePacket struct {
	mysqlPacket
	payload []byte
}

// splitMySQLPackets splits a recorded stream into packets, with the
// framer.
func splitMySQLPackets(t *testing.T, stream []byte) []mysqlWirePacket {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(stream))
	var out []mysqlWirePacket
	for {
		p, err := readMySQLPacket(br)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("packet %d: %v", len(out), err)
		}
		payload := make([]byte, p.length)
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
	cmd            mysqlCommand
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
func replayMySQL(t *testing.T, client, server []byte) (mysqlSession, []mysqlExchange) {
	t.Helper()
	cp, sp := splitMySQLPackets(t, client), splitMySQLPackets(t, server)
	ci, si := 0, 0
	var seq byte
	nextSeq := func(who string, p mysqlWirePacket) {
		t.Helper()
		if p.seq != seq {
			t.Fatalf("%s packet %v: sequence id %d, expected %d", who, p.mysqlPacket, p.seq, seq)
		}
		seq++
	}
	if len(sp) == 0 || len(cp) == 0 {
		t.Fatal("no handshake recorded")
	}
	g, err := parseMySQLGreeting(sp[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	nextSeq("greeting", sp[0])
	si++
	h, err := parseMySQLClientHello(cp[0].payload)
	if err != nil {
		t.Fatal(err)
	}
	nextSeq("handshake response", cp[0])
	ci++
	s := negotiateMySQL(g, h)

	follow := func(e *mysqlExchange, f mysqlFollower) {
		t.Helper()
		for !f.done() {
			if f.wantsClient() {
				if ci >= len(cp) {
					t.Fatalf("%v: the client's packet is due, and the client sent no more", e.cmd)
				}
				p := cp[ci]
				ci++
				e.clientPackets++
				nextSeq("client", p)
				if err := f.client(p.length); err != nil {
					t.Fatalf("%v: client packet %v: %v", e.cmd, p.mysqlPacket, err)
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
			if f.state == mfResult && !f.serverCont && !bytes.HasPrefix(p.payload, []byte{0xff, 0xff, 0xff}) {
				e.results++ // the packet starts a result
			}
			if err := f.server(p.payload[:min(len(p.payload), mysqlHeadLen)], p.length); err != nil {
				t.Fatalf("%v: server packet %d %v (% x): %v", e.cmd, e.serverPackets, p.mysqlPacket, p.payload[:min(len(p.payload), 16)], err)
			}
		}
		e.status = f.status
	}

	exchanges := []mysqlExchange{{handshake: true, clientPackets: 1, serverPackets: 1}}
	follow(&exchanges[0], newMySQLFollower(mysqlRespAuth, s))
	for ci < len(cp) {
		seq = 0
		p := cp[ci]
		ci++
		nextSeq("command", p)
		e := mysqlExchange{clientPackets: 1}
		e.cmd, _ = mysqlCommandOf(p.payload)
		for p.continued() {
			p = cp[ci]
			ci++
			e.clientPackets++
			nextSeq("command", p)
		}
		follow(&e, newMySQLFollower(e.cmd.response(), s))
		exchanges = append(exchanges, e)
	}
	if si != len(sp) {
		t.Fatalf("%d server packets after the last response: %v", len(sp)-si, sp[si].mysqlPacket)
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
	{"NoDeprecateEOF", mysqlClientDeprecateEOF, 0},
	{"NoCacheMetadata", 0, mariadbClientCacheMetadata},
	{"Classic", mysqlClientDeprecateEOF, mariadbClientCacheMetadata},
}

// TestMySQLFollowerRealServer records the scenario against the real
// server in each variant and replays it (replayMySQL). With
// FAULTS_MYSQL_FIXTURES=file it writes the recordings as Go source, the
// fixtures of TestMySQLFollowerFixtures.
func TestMySQLFollowerRealServer(t *testing.T) {
	addr := mysqlTestAddr(t)
	var src strings.Builder
	for _, v := range mysqlVariants {
		t.Run(v.name, func(t *testing.T) {
			rec := newMySQLRecorder(t, addr, v.clearCaps, v.clearMB)
			table := fmt.Sprintf("faults_fixture_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
			mysqlScenario(t, mysqlTestDSN(rec.addr(), true), table)
			rec.close()
			recs := rec.recordings()
			if len(recs) != 1 {
				t.Fatalf("%d connections", len(recs))
			}
			client, server := recs[0].streams()
			s, exchanges := replayMySQL(t, client, server)
			t.Logf("session: capabilities 0x%08x, MariaDB 0x%x", s.caps, s.mariadbCaps)
			for _, e := range exchanges {
				t.Log(e)
			}
			wantDeprecate := v.clearCaps&mysqlClientDeprecateEOF == 0
			if (s.caps&mysqlClientDeprecateEOF != 0) != wantDeprecate {
				t.Errorf("CLIENT_DEPRECATE_EOF negotiated: %v, expected %v", !wantDeprecate, wantDeprecate)
			}
			if (s.mariadbCaps&mariadbClientCacheMetadata != 0) != (v.clearMB == 0) {
				t.Errorf("cache metadata negotiated: %v", s.mariadbCaps&mariadbClientCacheMetadata != 0)
			}
			checkMySQLScenario(t, exchanges)
			fmt.Fprintf(&src, "\t%q: {\n\t\tclient: %s,\n\t\tserver: %s,\n\t},\n", v.name, mysqlHexLiteral(client), mysqlHexLiteral(server))
		})
	}
	if path := os.Getenv("FAULTS_MYSQL_FIXTURES"); path != "" {
		if err := os.WriteFile(path, []byte(src.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkMySQLScenario checks what the exchanges of mysqlScenario must be
// in any variant.
func checkMySQLScenario(t *testing.T, exchanges []mysqlExchange) {
	t.Helper()
	count := map[mysqlCommand]int{}
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
	if count[mysqlComStmtPrepare] != 2 || count[mysqlComStmtExecute] != 3 || count[mysqlComStmtClose] != 2 || count[mysqlComPing] != 1 || count[mysqlComQuit] != 1 {
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

func mysqlHexLiteral(b []byte) string {
	var sb strings.Builder
	h := hex.EncodeToString(b)
	sb.WriteString("mustHex(\"\" +")
	for len(h) > 0 {
		n := min(len(h), 96)
		fmt.Fprintf(&sb, "\n\t\t\t%q +", h[:n])
		h = h[n:]
	}
	sb.WriteString("\n\t\t\t\"\")")
	return sb.String()
}

// TestMySQLFollowerLargeRows runs rows longer than a packet through the
// recorder against the real server: one of exactly mysqlMaxPayload bytes
// (an empty packet follows), and one spanning two packets.
func TestMySQLFollowerLargeRows(t *testing.T) {
	if testing.Short() {
		t.Skip("32 MiB of rows")
	}
	addr := mysqlTestAddr(t)
	for _, v := range mysqlVariants[:2] {
		t.Run(v.name, func(t *testing.T) {
			rec := newMySQLRecorder(t, addr, v.clearCaps, v.clearMB)
			db, err := sql.Open("mysql", mysqlTestDSN(rec.addr(), false))
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			var a, b string
			// A row of 4 + 16777211 bytes: exactly mysqlMaxPayload.
			if err := db.QueryRow("SELECT REPEAT('x', 16777211)").Scan(&a); err != nil || len(a) != 16777211 {
				t.Fatalf("%d bytes, %v", len(a), err)
			}
			if err := db.QueryRow("SELECT REPEAT('x', 15000000), REPEAT('y', 3000000)").Scan(&a, &b); err != nil || len(a)+len(b) != 18000000 {
				t.Fatalf("%d bytes, %v", len(a)+len(b), err)
			}
			db.Close()
			rec.close()
			client, server := rec.recordings()[0].streams()
			_, exchanges := replayMySQL(t, client, server)
			long := 0
			for _, p := range splitMySQLPackets(t, server) {
				if p.continued() {
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

// TestMySQLFollowerFixtures replays sessions recorded from MariaDB 10.11.19
// with go-sql-driver v1.10.1 (TestMySQLFollowerRealServer's scenario), so
// that the framer and the follower are checked against real bytes without
// a server.
func TestMySQLFollowerFixtures(t *testing.T) {
	for _, v := range mysqlVariants {
		fx, ok := mysqlFixtures[v.name]
		if !ok {
			t.Errorf("no fixture %s", v.name)
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			s, exchanges := replayMySQL(t, fx.client, fx.server)
			checkMySQLScenario(t, exchanges)
			if (s.caps&mysqlClientDeprecateEOF == 0) != (v.clearCaps&mysqlClientDeprecateEOF != 0) {
				t.Errorf("capabilities 0x%08x", s.caps)
			}
		})
	}
}

type mysqlFixture struct{ client, server []byte }

// mysqlFixtures are recordings of TestMySQLFollowerRealServer's scenario
// (FAULTS_MYSQL_FIXTURES), per variant.
var mysqlFixtures = map[string]mysqlFixture{
	"Negotiated": {
		client: mustHex("" +
			"9b0000018ca23b01000000002d0000000000000000000000000000000000000010000000726f6f74000074657374006d" +
			"7973716c5f6e61746976655f70617373776f726400590c5f636c69656e745f6e616d650f476f2d4d7953514c2d447269" +
			"766572035f6f73056c696e7578095f706c6174666f726d05616d643634045f7069640533313937370c5f736572766572" +
			"5f686f7374093132372e302e302e316f00000003435245415445205441424c45206661756c74735f666978747572655f" +
			"33313937375f393038393720286e6f7465205641524348415228323029204e554c4c2c20696420494e54205052494d41" +
			"5259204b45592c206e616d65205641524348415228323029204e4f54204e554c4c295f00000003494e5345525420494e" +
			"544f206661756c74735f666978747572655f33313937375f39303839372056414c55455320284e554c4c2c20312c2027" +
			"6f6e6527292c202827272c20322c202727292c20282778272c20332c202774687265652729420000000353454c454354" +
			"206e6f74652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f393038393720" +
			"4f52444552204259206964850000000353454c454354203120415320613b2053454c4543542027782720415320622c20" +
			"3220415320633b20555044415445206661756c74735f666978747572655f33313937375f393038393720534554206e61" +
			"6d65203d206e616d653b2053454c4543542069642046524f4d206661756c74735f666978747572655f33313937375f39" +
			"3038393751000000034352454154452050524f434544555245206661756c74735f666978747572655f33313937375f39" +
			"303839375f70282920424547494e2053454c45435420313b2053454c45435420322c20333b20454e4424000000034341" +
			"4c4c206661756c74735f666978747572655f33313937375f39303839375f7028292c0000000344524f502050524f4345" +
			"44555245206661756c74735f666978747572655f33313937375f39303839375f70440000001653454c454354206e6f74" +
			"652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f39303839372057484552" +
			"45206964203e3d203f16000000170d000000000100000000010800010000000000000016000000170d00000000010000" +
			"0000010800020000000000000005000000190d0000003800000016494e5345525420494e544f206661756c74735f6669" +
			"78747572655f33313937375f39303839372056414c55455320283f2c203f2c203f2921000000170e0000000001000000" +
			"0001fe000800fe000170040000000000000004666f757205000000190e000000310000000353454c454354202a204652" +
			"4f4d206661756c74735f666978747572655f33313937375f39303839375f6d697373696e673e00000003494e53455254" +
			"20494e544f206661756c74735f666978747572655f33313937375f39303839372056414c55455320282764272c20312c" +
			"202764757027291c0000000353454c454354203120554e494f4e20414c4c2053454c45435420324f0000000353455420" +
			"53544154454d454e54206d61785f73746174656d656e745f74696d65203d20302e303520464f522053454c4543542031" +
			"20554e494f4e20414c4c2053454c45435420534c4545502831297b000000034c4f41442044415441204c4f43414c2049" +
			"4e46494c4520275265616465723a3a6661756c74735f666978747572655f33313937375f39303839372720494e544f20" +
			"5441424c45206661756c74735f666978747572655f33313937375f3930383937204649454c4453205445524d494e4154" +
			"454420425920272c27150000026e312c31302c74656e0a2c31312c656c6576656e0a00000003010000000e2600000003" +
			"44524f50205441424c45206661756c74735f666978747572655f33313937375f39303839370100000001" +
			""),
		server: mustHex("" +
			"640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100a80000003a557a2a5f7d" +
			"796800fef72d0200ff81150000000000001d0000007d5d3942217a697b53693a24006d7973716c5f6e61746976655f70" +
			"617373776f726400070000020000000200000007000001000000020000002e00000100030002000000265265636f7264" +
			"733a203320204475706c6963617465733a203020205761726e696e67733a203002000001030156000002036465660474" +
			"6573741a6661756c74735f666978747572655f33313937375f39303839371a6661756c74735f666978747572655f3331" +
			"3937375f3930383937046e6f7465046e6f74650c2d0050000000fd0000000000520000030364656604746573741a6661" +
			"756c74735f666978747572655f33313937375f39303839371a6661756c74735f666978747572655f33313937375f3930" +
			"3839370269640269640c3f000b000000030350000000560000040364656604746573741a6661756c74735f6669787475" +
			"72655f33313937375f39303839371a6661756c74735f666978747572655f33313937375f3930383937046e616d65046e" +
			"616d650c2d0050000000fd011000000007000005fb0131036f6e6504000006000132000a000007017801330574687265" +
			"6507000008fe00002200000002000001010117000002036465660000000161000c3f0001000000038100000000020000" +
			"03013107000004fe00000a00000002000005020117000006036465660000000162000c2d0004000000fd010027000017" +
			"000007036465660000000163000c3f0001000000038100000000040000080178013207000009fe00000a000000300000" +
			"0a0000002a00000028526f7773206d6174636865643a203320204368616e6765643a203020205761726e696e67733a20" +
			"300200000b01015200000c0364656604746573741a6661756c74735f666978747572655f33313937375f39303839371a" +
			"6661756c74735f666978747572655f33313937375f39303839370269640269640c3f000b000000030350000000020000" +
			"0d01310200000e01320200000f013307000010fe00002200000007000001000000020000000200000101011700000203" +
			"6465660000000131000c3f000100000003810000000002000003013107000004fe00000a000000020000050201170000" +
			"06036465660000000132000c3f000100000003810000000017000007036465660000000133000c3f0001000000038100" +
			"000000040000080132013307000009fe00000a0000000700000a0000000200000007000001000000020000000c000001" +
			"000d000000030001000000001700000203646566000000013f000c3f0000000000068000000000560000030364656604" +
			"746573741a6661756c74735f666978747572655f33313937375f39303839371a6661756c74735f666978747572655f33" +
			"313937375f3930383937046e6f7465046e6f74650c2d0050000000fd0000000000520000040364656604746573741a66" +
			"61756c74735f666978747572655f33313937375f39303839371a6661756c74735f666978747572655f33313937375f39" +
			"303839370269640269640c3f000b000000030350000000560000050364656604746573741a6661756c74735f66697874" +
			"7572655f33313937375f39303839371a6661756c74735f666978747572655f33313937375f3930383937046e616d6504" +
			"6e616d650c2d0050000000fd01100000000200000103000a000002000401000000036f6e650800000300000002000000" +
			"000e000004000001780300000005746872656507000005fe000002000000020000010300080000020000000200000000" +
			"0e000003000001780300000005746872656507000004fe0000020000000c000001000e00000000000300000000170000" +
			"0203646566000000013f000c3f00000000000680000000001700000303646566000000013f000c3f0000000000068000" +
			"0000001700000403646566000000013f000c3f0000000000068000000000070000010001000200000046000001ff7a04" +
			"2334325330325461626c652027746573742e6661756c74735f666978747572655f33313937375f39303839375f6d6973" +
			"73696e672720646f65736e27742065786973742e000001ff26042332333030304475706c696361746520656e74727920" +
			"27312720666f72206b657920275052494d4152592702000001010117000002036465660000000131000c3f0002000000" +
			"03810000000002000003013102000004013207000005fe00000200000002000001010117000002036465660000000131" +
			"000c3f000200000003810000000002000003013146000004ffb107233730313030517565727920657865637574696f6e" +
			"2077617320696e74657272757074656420286d61785f73746174656d656e745f74696d65206578636565646564292300" +
			"0001fb5265616465723a3a6661756c74735f666978747572655f33313937375f39303839373700000400020002000000" +
			"2f5265636f7264733a2032202044656c657465643a20302020536b69707065643a203020205761726e696e67733a2030" +
			"07000001000000020000000700000100000002000000" +
			""),
	},
	"NoDeprecateEOF": {
		client: mustHex("" +
			"9b0000018ca23b00000000002d0000000000000000000000000000000000000010000000726f6f74000074657374006d" +
			"7973716c5f6e61746976655f70617373776f726400590c5f636c69656e745f6e616d650f476f2d4d7953514c2d447269" +
			"766572035f6f73056c696e7578095f706c6174666f726d05616d643634045f7069640533313937370c5f736572766572" +
			"5f686f7374093132372e302e302e317000000003435245415445205441424c45206661756c74735f666978747572655f" +
			"33313937375f33343532383120286e6f7465205641524348415228323029204e554c4c2c20696420494e54205052494d" +
			"415259204b45592c206e616d65205641524348415228323029204e4f54204e554c4c296000000003494e534552542049" +
			"4e544f206661756c74735f666978747572655f33313937375f3334353238312056414c55455320284e554c4c2c20312c" +
			"20276f6e6527292c202827272c20322c202727292c20282778272c20332c202774687265652729430000000353454c45" +
			"4354206e6f74652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f33343532" +
			"3831204f52444552204259206964870000000353454c454354203120415320613b2053454c4543542027782720415320" +
			"622c203220415320633b20555044415445206661756c74735f666978747572655f33313937375f333435323831205345" +
			"54206e616d65203d206e616d653b2053454c4543542069642046524f4d206661756c74735f666978747572655f333139" +
			"37375f33343532383152000000034352454154452050524f434544555245206661756c74735f666978747572655f3331" +
			"3937375f3334353238315f70282920424547494e2053454c45435420313b2053454c45435420322c20333b20454e4425" +
			"0000000343414c4c206661756c74735f666978747572655f33313937375f3334353238315f7028292d0000000344524f" +
			"502050524f434544555245206661756c74735f666978747572655f33313937375f3334353238315f7045000000165345" +
			"4c454354206e6f74652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f3334" +
			"35323831205748455245206964203e3d203f160000001707000000000100000000010800010000000000000016000000" +
			"170700000000010000000001080002000000000000000500000019070000003900000016494e5345525420494e544f20" +
			"6661756c74735f666978747572655f33313937375f3334353238312056414c55455320283f2c203f2c203f2921000000" +
			"170800000000010000000001fe000800fe000170040000000000000004666f7572050000001908000000320000000353" +
			"454c454354202a2046524f4d206661756c74735f666978747572655f33313937375f3334353238315f6d697373696e67" +
			"3f00000003494e5345525420494e544f206661756c74735f666978747572655f33313937375f3334353238312056414c" +
			"55455320282764272c20312c202764757027291c0000000353454c454354203120554e494f4e20414c4c2053454c4543" +
			"5420324f000000035345542053544154454d454e54206d61785f73746174656d656e745f74696d65203d20302e303520" +
			"464f522053454c454354203120554e494f4e20414c4c2053454c45435420534c4545502831297d000000034c4f414420" +
			"44415441204c4f43414c20494e46494c4520275265616465723a3a6661756c74735f666978747572655f33313937375f" +
			"3334353238312720494e544f205441424c45206661756c74735f666978747572655f33313937375f3334353238312046" +
			"49454c4453205445524d494e4154454420425920272c27150000026e312c31302c74656e0a2c31312c656c6576656e0a" +
			"00000003010000000e270000000344524f50205441424c45206661756c74735f666978747572655f33313937375f3334" +
			"353238310100000001" +
			""),
		server: mustHex("" +
			"640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100a900000072224f475558" +
			"384d00fef72d0200ff80150000000000001d0000005a5b3e63586e40362b722351006d7973716c5f6e61746976655f70" +
			"617373776f726400070000020000000200000007000001000000020000002e00000100030002000000265265636f7264" +
			"733a203320204475706c6963617465733a203020205761726e696e67733a203002000001030158000002036465660474" +
			"6573741b6661756c74735f666978747572655f33313937375f3334353238311b6661756c74735f666978747572655f33" +
			"313937375f333435323831046e6f7465046e6f74650c2d0050000000fd0000000000540000030364656604746573741b" +
			"6661756c74735f666978747572655f33313937375f3334353238311b6661756c74735f666978747572655f3331393737" +
			"5f3334353238310269640269640c3f000b000000030350000000580000040364656604746573741b6661756c74735f66" +
			"6978747572655f33313937375f3334353238311b6661756c74735f666978747572655f33313937375f33343532383104" +
			"6e616d65046e616d650c2d0050000000fd011000000005000005fe0000220007000006fb0131036f6e65040000070001" +
			"32000a0000080178013305746872656505000009fe0000220002000001010117000002036465660000000161000c3f00" +
			"0100000003810000000005000003fe00000a0002000004013105000005fe00000a000200000602011700000703646566" +
			"0000000162000c2d0004000000fd010027000017000008036465660000000163000c3f00010000000381000000000500" +
			"0009fe00000a000400000a017801320500000bfe00000a003000000c0000002a00000028526f7773206d617463686564" +
			"3a203320204368616e6765643a203020205761726e696e67733a20300200000d01015400000e0364656604746573741b" +
			"6661756c74735f666978747572655f33313937375f3334353238311b6661756c74735f666978747572655f3331393737" +
			"5f3334353238310269640269640c3f000b0000000303500000000500000ffe0000220002000010013102000011013202" +
			"000012013305000013fe00002200070000010000000200000002000001010117000002036465660000000131000c3f00" +
			"0100000003810000000005000003fe00000a0002000004013105000005fe00000a000200000602011700000703646566" +
			"0000000132000c3f000100000003810000000017000008036465660000000133000c3f00010000000381000000000500" +
			"0009fe00000a000400000a013201330500000bfe00000a000700000c0000000200000007000001000000020000000c00" +
			"00010007000000030001000000001700000203646566000000013f000c3f000000000006800000000005000003fe0000" +
			"0200580000040364656604746573741b6661756c74735f666978747572655f33313937375f3334353238311b6661756c" +
			"74735f666978747572655f33313937375f333435323831046e6f7465046e6f74650c2d0050000000fd00000000005400" +
			"00050364656604746573741b6661756c74735f666978747572655f33313937375f3334353238311b6661756c74735f66" +
			"6978747572655f33313937375f3334353238310269640269640c3f000b00000003035000000058000006036465660474" +
			"6573741b6661756c74735f666978747572655f33313937375f3334353238311b6661756c74735f666978747572655f33" +
			"313937375f333435323831046e616d65046e616d650c2d0050000000fd011000000005000007fe000002000200000103" +
			"0005000002fe000002000a000003000401000000036f6e650800000400000002000000000e0000050000017803000000" +
			"05746872656505000006fe0000020002000001030005000002fe000002000800000300000002000000000e0000040000" +
			"01780300000005746872656505000005fe000002000c0000010008000000000003000000001700000203646566000000" +
			"013f000c3f00000000000680000000001700000303646566000000013f000c3f00000000000680000000001700000403" +
			"646566000000013f000c3f000000000006800000000005000005fe00000200070000010001000200000047000001ff7a" +
			"042334325330325461626c652027746573742e6661756c74735f666978747572655f33313937375f3334353238315f6d" +
			"697373696e672720646f65736e27742065786973742e000001ff26042332333030304475706c696361746520656e7472" +
			"792027312720666f72206b657920275052494d4152592702000001010117000002036465660000000131000c3f000200" +
			"000003810000000005000003fe0000020002000004013102000005013205000006fe0000020002000001010117000002" +
			"036465660000000131000c3f000200000003810000000005000003fe0000020002000004013146000005ffb107233730" +
			"313030517565727920657865637574696f6e2077617320696e74657272757074656420286d61785f73746174656d656e" +
			"745f74696d652065786365656465642924000001fb5265616465723a3a6661756c74735f666978747572655f33313937" +
			"375f33343532383137000004000200020000002f5265636f7264733a2032202044656c657465643a20302020536b6970" +
			"7065643a203020205761726e696e67733a203007000001000000020000000700000100000002000000" +
			""),
	},
	"NoCacheMetadata": {
		client: mustHex("" +
			"9b0000018ca23b01000000002d0000000000000000000000000000000000000000000000726f6f74000074657374006d" +
			"7973716c5f6e61746976655f70617373776f726400590c5f636c69656e745f6e616d650f476f2d4d7953514c2d447269" +
			"766572035f6f73056c696e7578095f706c6174666f726d05616d643634045f7069640533313937370c5f736572766572" +
			"5f686f7374093132372e302e302e317000000003435245415445205441424c45206661756c74735f666978747572655f" +
			"33313937375f35383230303120286e6f7465205641524348415228323029204e554c4c2c20696420494e54205052494d" +
			"415259204b45592c206e616d65205641524348415228323029204e4f54204e554c4c296000000003494e534552542049" +
			"4e544f206661756c74735f666978747572655f33313937375f3538323030312056414c55455320284e554c4c2c20312c" +
			"20276f6e6527292c202827272c20322c202727292c20282778272c20332c202774687265652729430000000353454c45" +
			"4354206e6f74652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f35383230" +
			"3031204f52444552204259206964870000000353454c454354203120415320613b2053454c4543542027782720415320" +
			"622c203220415320633b20555044415445206661756c74735f666978747572655f33313937375f353832303031205345" +
			"54206e616d65203d206e616d653b2053454c4543542069642046524f4d206661756c74735f666978747572655f333139" +
			"37375f35383230303152000000034352454154452050524f434544555245206661756c74735f666978747572655f3331" +
			"3937375f3538323030315f70282920424547494e2053454c45435420313b2053454c45435420322c20333b20454e4425" +
			"0000000343414c4c206661756c74735f666978747572655f33313937375f3538323030315f7028292d0000000344524f" +
			"502050524f434544555245206661756c74735f666978747572655f33313937375f3538323030315f7045000000165345" +
			"4c454354206e6f74652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f3538" +
			"32303031205748455245206964203e3d203f16000000170a000000000100000000010800010000000000000016000000" +
			"170a000000000100000000010800020000000000000005000000190a0000003900000016494e5345525420494e544f20" +
			"6661756c74735f666978747572655f33313937375f3538323030312056414c55455320283f2c203f2c203f2921000000" +
			"170b00000000010000000001fe000800fe000170040000000000000004666f757205000000190b000000320000000353" +
			"454c454354202a2046524f4d206661756c74735f666978747572655f33313937375f3538323030315f6d697373696e67" +
			"3f00000003494e5345525420494e544f206661756c74735f666978747572655f33313937375f3538323030312056414c" +
			"55455320282764272c20312c202764757027291c0000000353454c454354203120554e494f4e20414c4c2053454c4543" +
			"5420324f000000035345542053544154454d454e54206d61785f73746174656d656e745f74696d65203d20302e303520" +
			"464f522053454c454354203120554e494f4e20414c4c2053454c45435420534c4545502831297d000000034c4f414420" +
			"44415441204c4f43414c20494e46494c4520275265616465723a3a6661756c74735f666978747572655f33313937375f" +
			"3538323030312720494e544f205441424c45206661756c74735f666978747572655f33313937375f3538323030312046" +
			"49454c4453205445524d494e4154454420425920272c27150000026e312c31302c74656e0a2c31312c656c6576656e0a" +
			"00000003010000000e270000000344524f50205441424c45206661756c74735f666978747572655f33313937375f3538" +
			"323030310100000001" +
			""),
		server: mustHex("" +
			"640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100aa00000021614823764b" +
			"513700fef72d0200ff81150000000000000d0000005c4b41467a567d342a717e45006d7973716c5f6e61746976655f70" +
			"617373776f726400070000020000000200000007000001000000020000002e00000100030002000000265265636f7264" +
			"733a203320204475706c6963617465733a203020205761726e696e67733a203001000001035800000203646566047465" +
			"73741b6661756c74735f666978747572655f33313937375f3538323030311b6661756c74735f666978747572655f3331" +
			"3937375f353832303031046e6f7465046e6f74650c2d0050000000fd0000000000540000030364656604746573741b66" +
			"61756c74735f666978747572655f33313937375f3538323030311b6661756c74735f666978747572655f33313937375f" +
			"3538323030310269640269640c3f000b000000030350000000580000040364656604746573741b6661756c74735f6669" +
			"78747572655f33313937375f3538323030311b6661756c74735f666978747572655f33313937375f353832303031046e" +
			"616d65046e616d650c2d0050000000fd011000000007000005fb0131036f6e6504000006000132000a00000701780133" +
			"05746872656507000008fe000022000000010000010117000002036465660000000161000c3f00010000000381000000" +
			"0002000003013107000004fe00000a000000010000050217000006036465660000000162000c2d0004000000fd010027" +
			"000017000007036465660000000163000c3f0001000000038100000000040000080178013207000009fe00000a000000" +
			"3000000a0000002a00000028526f7773206d6174636865643a203320204368616e6765643a203020205761726e696e67" +
			"733a20300100000b015400000c0364656604746573741b6661756c74735f666978747572655f33313937375f35383230" +
			"30311b6661756c74735f666978747572655f33313937375f3538323030310269640269640c3f000b0000000303500000" +
			"000200000d01310200000e01320200000f013307000010fe000022000000070000010000000200000001000001011700" +
			"0002036465660000000131000c3f000100000003810000000002000003013107000004fe00000a000000010000050217" +
			"000006036465660000000132000c3f000100000003810000000017000007036465660000000133000c3f000100000003" +
			"8100000000040000080132013307000009fe00000a0000000700000a0000000200000007000001000000020000000c00" +
			"0001000a000000030001000000001700000203646566000000013f000c3f000000000006800000000058000003036465" +
			"6604746573741b6661756c74735f666978747572655f33313937375f3538323030311b6661756c74735f666978747572" +
			"655f33313937375f353832303031046e6f7465046e6f74650c2d0050000000fd00000000005400000403646566047465" +
			"73741b6661756c74735f666978747572655f33313937375f3538323030311b6661756c74735f666978747572655f3331" +
			"3937375f3538323030310269640269640c3f000b000000030350000000580000050364656604746573741b6661756c74" +
			"735f666978747572655f33313937375f3538323030311b6661756c74735f666978747572655f33313937375f35383230" +
			"3031046e616d65046e616d650c2d0050000000fd01100000000100000103580000020364656604746573741b6661756c" +
			"74735f666978747572655f33313937375f3538323030311b6661756c74735f666978747572655f33313937375f353832" +
			"303031046e6f7465046e6f74650c2d0050000000fd0000000000540000030364656604746573741b6661756c74735f66" +
			"6978747572655f33313937375f3538323030311b6661756c74735f666978747572655f33313937375f35383230303102" +
			"69640269640c3f000b000000030350000000580000040364656604746573741b6661756c74735f666978747572655f33" +
			"313937375f3538323030311b6661756c74735f666978747572655f33313937375f353832303031046e616d65046e616d" +
			"650c2d0050000000fd01100000000a000005000401000000036f6e650800000600000002000000000e00000700000178" +
			"0300000005746872656507000008fe0000020000000100000103580000020364656604746573741b6661756c74735f66" +
			"6978747572655f33313937375f3538323030311b6661756c74735f666978747572655f33313937375f35383230303104" +
			"6e6f7465046e6f74650c2d0050000000fd0000000000540000030364656604746573741b6661756c74735f6669787475" +
			"72655f33313937375f3538323030311b6661756c74735f666978747572655f33313937375f3538323030310269640269" +
			"640c3f000b000000030350000000580000040364656604746573741b6661756c74735f666978747572655f3331393737" +
			"5f3538323030311b6661756c74735f666978747572655f33313937375f353832303031046e616d65046e616d650c2d00" +
			"50000000fd01100000000800000500000002000000000e000006000001780300000005746872656507000007fe000002" +
			"0000000c000001000b000000000003000000001700000203646566000000013f000c3f00000000000680000000001700" +
			"000303646566000000013f000c3f00000000000680000000001700000403646566000000013f000c3f00000000000680" +
			"00000000070000010001000200000047000001ff7a042334325330325461626c652027746573742e6661756c74735f66" +
			"6978747572655f33313937375f3538323030315f6d697373696e672720646f65736e27742065786973742e000001ff26" +
			"042332333030304475706c696361746520656e7472792027312720666f72206b657920275052494d4152592701000001" +
			"0117000002036465660000000131000c3f000200000003810000000002000003013102000004013207000005fe000002" +
			"000000010000010117000002036465660000000131000c3f000200000003810000000002000003013146000004ffb107" +
			"233730313030517565727920657865637574696f6e2077617320696e74657272757074656420286d61785f7374617465" +
			"6d656e745f74696d652065786365656465642924000001fb5265616465723a3a6661756c74735f666978747572655f33" +
			"313937375f35383230303137000004000200020000002f5265636f7264733a2032202044656c657465643a2030202053" +
			"6b69707065643a203020205761726e696e67733a203007000001000000020000000700000100000002000000" +
			""),
	},
	"Classic": {
		client: mustHex("" +
			"9b0000018ca23b00000000002d0000000000000000000000000000000000000000000000726f6f74000074657374006d" +
			"7973716c5f6e61746976655f70617373776f726400590c5f636c69656e745f6e616d650f476f2d4d7953514c2d447269" +
			"766572035f6f73056c696e7578095f706c6174666f726d05616d643634045f7069640533313937370c5f736572766572" +
			"5f686f7374093132372e302e302e317000000003435245415445205441424c45206661756c74735f666978747572655f" +
			"33313937375f31313738333720286e6f7465205641524348415228323029204e554c4c2c20696420494e54205052494d" +
			"415259204b45592c206e616d65205641524348415228323029204e4f54204e554c4c296000000003494e534552542049" +
			"4e544f206661756c74735f666978747572655f33313937375f3131373833372056414c55455320284e554c4c2c20312c" +
			"20276f6e6527292c202827272c20322c202727292c20282778272c20332c202774687265652729430000000353454c45" +
			"4354206e6f74652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f31313738" +
			"3337204f52444552204259206964870000000353454c454354203120415320613b2053454c4543542027782720415320" +
			"622c203220415320633b20555044415445206661756c74735f666978747572655f33313937375f313137383337205345" +
			"54206e616d65203d206e616d653b2053454c4543542069642046524f4d206661756c74735f666978747572655f333139" +
			"37375f31313738333752000000034352454154452050524f434544555245206661756c74735f666978747572655f3331" +
			"3937375f3131373833375f70282920424547494e2053454c45435420313b2053454c45435420322c20333b20454e4425" +
			"0000000343414c4c206661756c74735f666978747572655f33313937375f3131373833375f7028292d0000000344524f" +
			"502050524f434544555245206661756c74735f666978747572655f33313937375f3131373833375f7045000000165345" +
			"4c454354206e6f74652c2069642c206e616d652046524f4d206661756c74735f666978747572655f33313937375f3131" +
			"37383337205748455245206964203e3d203f160000001709000000000100000000010800010000000000000016000000" +
			"170900000000010000000001080002000000000000000500000019090000003900000016494e5345525420494e544f20" +
			"6661756c74735f666978747572655f33313937375f3131373833372056414c55455320283f2c203f2c203f2921000000" +
			"170a00000000010000000001fe000800fe000170040000000000000004666f757205000000190a000000320000000353" +
			"454c454354202a2046524f4d206661756c74735f666978747572655f33313937375f3131373833375f6d697373696e67" +
			"3f00000003494e5345525420494e544f206661756c74735f666978747572655f33313937375f3131373833372056414c" +
			"55455320282764272c20312c202764757027291c0000000353454c454354203120554e494f4e20414c4c2053454c4543" +
			"5420324f000000035345542053544154454d454e54206d61785f73746174656d656e745f74696d65203d20302e303520" +
			"464f522053454c454354203120554e494f4e20414c4c2053454c45435420534c4545502831297d000000034c4f414420" +
			"44415441204c4f43414c20494e46494c4520275265616465723a3a6661756c74735f666978747572655f33313937375f" +
			"3131373833372720494e544f205441424c45206661756c74735f666978747572655f33313937375f3131373833372046" +
			"49454c4453205445524d494e4154454420425920272c27150000026e312c31302c74656e0a2c31312c656c6576656e0a" +
			"00000003010000000e270000000344524f50205441424c45206661756c74735f666978747572655f33313937375f3131" +
			"373833370100000001" +
			""),
		server: mustHex("" +
			"640000000a352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100ab0000004b57572f2462" +
			"467300fef72d0200ff80150000000000000d00000033402a513a6e3c7c2230673b006d7973716c5f6e61746976655f70" +
			"617373776f726400070000020000000200000007000001000000020000002e00000100030002000000265265636f7264" +
			"733a203320204475706c6963617465733a203020205761726e696e67733a203001000001035800000203646566047465" +
			"73741b6661756c74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572655f3331" +
			"3937375f313137383337046e6f7465046e6f74650c2d0050000000fd0000000000540000030364656604746573741b66" +
			"61756c74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572655f33313937375f" +
			"3131373833370269640269640c3f000b000000030350000000580000040364656604746573741b6661756c74735f6669" +
			"78747572655f33313937375f3131373833371b6661756c74735f666978747572655f33313937375f313137383337046e" +
			"616d65046e616d650c2d0050000000fd011000000005000005fe0000220007000006fb0131036f6e6504000007000132" +
			"000a0000080178013305746872656505000009fe00002200010000010117000002036465660000000161000c3f000100" +
			"000003810000000005000003fe00000a0002000004013105000005fe00000a0001000006021700000703646566000000" +
			"0162000c2d0004000000fd010027000017000008036465660000000163000c3f000100000003810000000005000009fe" +
			"00000a000400000a017801320500000bfe00000a003000000c0000002a00000028526f7773206d6174636865643a2033" +
			"20204368616e6765643a203020205761726e696e67733a20300100000d015400000e0364656604746573741b6661756c" +
			"74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572655f33313937375f313137" +
			"3833370269640269640c3f000b0000000303500000000500000ffe000022000200001001310200001101320200001201" +
			"3305000013fe000022000700000100000002000000010000010117000002036465660000000131000c3f000100000003" +
			"810000000005000003fe00000a0002000004013105000005fe00000a0001000006021700000703646566000000013200" +
			"0c3f000100000003810000000017000008036465660000000133000c3f000100000003810000000005000009fe00000a" +
			"000400000a013201330500000bfe00000a000700000c0000000200000007000001000000020000000c00000100090000" +
			"00030001000000001700000203646566000000013f000c3f000000000006800000000005000003fe0000020058000004" +
			"0364656604746573741b6661756c74735f666978747572655f33313937375f3131373833371b6661756c74735f666978" +
			"747572655f33313937375f313137383337046e6f7465046e6f74650c2d0050000000fd00000000005400000503646566" +
			"04746573741b6661756c74735f666978747572655f33313937375f3131373833371b6661756c74735f66697874757265" +
			"5f33313937375f3131373833370269640269640c3f000b000000030350000000580000060364656604746573741b6661" +
			"756c74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572655f33313937375f31" +
			"3137383337046e616d65046e616d650c2d0050000000fd011000000005000007fe000002000100000103580000020364" +
			"656604746573741b6661756c74735f666978747572655f33313937375f3131373833371b6661756c74735f6669787475" +
			"72655f33313937375f313137383337046e6f7465046e6f74650c2d0050000000fd000000000054000003036465660474" +
			"6573741b6661756c74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572655f33" +
			"313937375f3131373833370269640269640c3f000b000000030350000000580000040364656604746573741b6661756c" +
			"74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572655f33313937375f313137" +
			"383337046e616d65046e616d650c2d0050000000fd011000000005000005fe000002000a000006000401000000036f6e" +
			"650800000700000002000000000e000008000001780300000005746872656505000009fe000002000100000103580000" +
			"020364656604746573741b6661756c74735f666978747572655f33313937375f3131373833371b6661756c74735f6669" +
			"78747572655f33313937375f313137383337046e6f7465046e6f74650c2d0050000000fd000000000054000003036465" +
			"6604746573741b6661756c74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572" +
			"655f33313937375f3131373833370269640269640c3f000b000000030350000000580000040364656604746573741b66" +
			"61756c74735f666978747572655f33313937375f3131373833371b6661756c74735f666978747572655f33313937375f" +
			"313137383337046e616d65046e616d650c2d0050000000fd011000000005000005fe0000020008000006000000020000" +
			"00000e000007000001780300000005746872656505000008fe000002000c000001000a00000000000300000000170000" +
			"0203646566000000013f000c3f00000000000680000000001700000303646566000000013f000c3f0000000000068000" +
			"0000001700000403646566000000013f000c3f000000000006800000000005000005fe00000200070000010001000200" +
			"000047000001ff7a042334325330325461626c652027746573742e6661756c74735f666978747572655f33313937375f" +
			"3131373833375f6d697373696e672720646f65736e27742065786973742e000001ff26042332333030304475706c6963" +
			"61746520656e7472792027312720666f72206b657920275052494d415259270100000101170000020364656600000001" +
			"31000c3f000200000003810000000005000003fe0000020002000004013102000005013205000006fe00000200010000" +
			"010117000002036465660000000131000c3f000200000003810000000005000003fe0000020002000004013146000005" +
			"ffb107233730313030517565727920657865637574696f6e2077617320696e74657272757074656420286d61785f7374" +
			"6174656d656e745f74696d652065786365656465642924000001fb5265616465723a3a6661756c74735f666978747572" +
			"655f33313937375f31313738333737000004000200020000002f5265636f7264733a2032202044656c657465643a2030" +
			"2020536b69707065643a203020205761726e696e67733a203007000001000000020000000700000100000002000000" +
			""),
	},
}
