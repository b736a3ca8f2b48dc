package mysqlwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

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
	if n := min(length, HeadLen); len(head) < n {
		head = append(head, make([]byte, n-len(head))...)
	}
	return mp{head: head, length: length}
}

// cliLong is a client packet of length bytes starting with head.
func cliLong(length int, head ...byte) mp { return mp{client: true, head: head, length: length} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func lenenc(v uint64) []byte { return AppendLenEnc(nil, v) }

func lenencStr(s string) []byte { return append(lenenc(uint64(len(s))), s...) }

// okPkt is an OK packet (first byte 0x00, or 0xfe for the OK ending a
// result set under CLIENT_DEPRECATE_EOF).
func okPkt(first byte, affected, insertID uint64, status uint16) mp {
	return srv(cat([]byte{first}, lenenc(affected), lenenc(insertID), u16(status), u16(0))...)
}

func eofPkt(status uint16) mp { return srv(cat([]byte{0xfe}, u16(0), u16(status))...) }

func errPkt(number uint16, state, msg string) mp {
	return srv(MessagePayload(AppendErr(nil, 0, number, state, msg))...)
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
func followScript(t *testing.T, resp Response, s Session, packets []mp) {
	t.Helper()
	f := NewFollower(resp, s)
	for i, p := range packets {
		if f.Done() {
			t.Fatalf("done before packet %d of %d", i, len(packets))
		}
		if f.WantsClient() != p.client {
			t.Fatalf("packet %d: wantsClient %v, but the packet is the client's: %v (state %v)", i, f.WantsClient(), p.client, f.state)
		}
		var err error
		if p.client {
			err = f.Client(p.length)
		} else {
			err = f.Server(p.head, p.length)
		}
		if err != nil {
			t.Fatalf("packet %d (% x, %d bytes): %v", i, p.head[:min(len(p.head), 8)], p.length, err)
		}
	}
	if !f.Done() {
		t.Fatalf("not done after the last packet (state %v)", f.state)
	}
	if err := f.Server([]byte{0x00, 0, 0, 2, 0, 0, 0}, 7); err == nil {
		t.Fatal("a server packet after the end was accepted")
	}
}

var (
	sessClassic   = Session{Capabilities: ClientProtocol41 | ClientMultiResults}
	sessDeprecate = Session{Capabilities: ClientProtocol41 | ClientMultiResults | ClientDeprecateEOF}
	sessMeta      = Session{Capabilities: sessDeprecate.Capabilities, MariaDBCapabilities: MariaDBClientCacheMetadata}
	sessMetaEOF   = Session{Capabilities: sessClassic.Capabilities, MariaDBCapabilities: MariaDBClientCacheMetadata}
)

const more = ServerMoreResultsExist

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

func TestFollowerResults(t *testing.T) {
	rows := []mp{textRow(str("1"), nil), textRow(str(""), str("x")), textRow(nil, nil)}
	for _, dep := range []bool{false, true} {
		s := sessClassic
		if dep {
			s = sessDeprecate
		}
		name := map[bool]string{false: "EOF", true: "DeprecateEOF"}[dep]
		t.Run(name, func(t *testing.T) {
			t.Run("OK", func(t *testing.T) { followScript(t, ResponseResult, s, []mp{okPkt(0, 1, 0, 2)}) })
			t.Run("ERR", func(t *testing.T) {
				followScript(t, ResponseResult, s, []mp{errPkt(1146, "42S02", "Table 'test.t' doesn't exist")})
			})
			t.Run("Rows", func(t *testing.T) { followScript(t, ResponseResult, s, resultSet(dep, nil, rows, 2, "a", "b")) })
			t.Run("NoRows", func(t *testing.T) { followScript(t, ResponseResult, s, resultSet(dep, nil, nil, 2, "a")) })
			t.Run("BinaryRows", func(t *testing.T) {
				followScript(t, ResponseResult, s, resultSet(dep, nil, []mp{binRow(1, 0, 0, 0), binRow(2, 0, 0, 0)}, 2, "id"))
			})
			t.Run("MultiResults", func(t *testing.T) {
				followScript(t, ResponseResult, s, join(
					resultSet(dep, nil, rows, 2|more, "a", "b"),
					[]mp{okPkt(0, 3, 0, 2|more)},
					resultSet(dep, nil, rows[:1], 2|more, "c"),
					[]mp{okPkt(0, 0, 0, 2)}, // CALL's final OK
				))
			})
			t.Run("ErrorAfterRows", func(t *testing.T) {
				set := resultSet(dep, nil, rows, 2, "a", "b")
				set[len(set)-1] = errPkt(1969, "70100", "Query execution was interrupted (max_statement_time exceeded)")
				followScript(t, ResponseResult, s, set)
			})
			t.Run("ErrorInSecondResult", func(t *testing.T) {
				followScript(t, ResponseResult, s, join(
					resultSet(dep, nil, rows, 2|more, "a", "b"),
					[]mp{errPkt(1146, "42S02", "Table 'test.t' doesn't exist")},
				))
			})
			t.Run("ErrorAmongColumns", func(t *testing.T) {
				followScript(t, ResponseResult, s, []mp{colCount(3), colDef("a"), errPkt(1317, "70100", "Query execution was interrupted")})
			})
			t.Run("LocalInfile", func(t *testing.T) {
				followScript(t, ResponseResult, s, []mp{
					srv(append([]byte{0xfb}, "/tmp/data.csv"...)...),
					cli([]byte("1,a\n2,b\n")...), cli([]byte("3,c\n")...), cli(),
					okPkt(0, 3, 0, 2),
				})
			})
			t.Run("LocalInfileFullPacket", func(t *testing.T) {
				// A full packet's continuation may be empty; the empty
				// packet after it ends the file.
				followScript(t, ResponseResult, s, []mp{
					srv(append([]byte{0xfb}, "f"...)...),
					cliLong(MaxPayload, '1'), cli(), cli(),
					errPkt(1062, "23000", "Duplicate entry '1' for key 'PRIMARY'"),
				})
			})
			t.Run("LocalInfileThenMore", func(t *testing.T) {
				followScript(t, ResponseResult, s, join(
					[]mp{srv(0xfb, 'f'), cli(), okPkt(0, 0, 0, 2|more)},
					resultSet(dep, nil, rows, 2, "a", "b"),
				))
			})
			t.Run("Cursor", func(t *testing.T) {
				var set []mp
				if dep {
					set = []mp{colCount(1), colDef("a"), okPkt(0xfe, 0, 0, 2|ServerStatusCursorExists)}
				} else {
					set = []mp{colCount(1), colDef("a"), eofPkt(2 | ServerStatusCursorExists)}
				}
				followScript(t, ResponseResult, s, set)
			})
			t.Run("Fetch", func(t *testing.T) {
				end := eofPkt(2 | ServerStatusCursorExists | ServerStatusLastRowSent)
				if dep {
					end = okPkt(0xfe, 0, 0, 2|ServerStatusLastRowSent)
				}
				followScript(t, ResponseFetch, s, []mp{binRow(1), binRow(2), end})
				followScript(t, ResponseFetch, s, []mp{end})
			})
			t.Run("FieldList", func(t *testing.T) {
				end := eofPkt(2)
				if dep {
					end = okPkt(0xfe, 0, 0, 2)
				}
				followScript(t, ResponseFieldList, s, []mp{colDef("a"), colDef("b"), end})
			})
			t.Run("ProgressReports", func(t *testing.T) {
				progress := srv(0xff, 0xff, 0xff, 1, 1, 0, 0x10, 0x27, 0, 4, 'c', 'o', 'p', 'y')
				followScript(t, ResponseResult, s, join(
					[]mp{progress, progress},
					[]mp{okPkt(0, 5, 0, 2)},
				))
			})
			t.Run("LongRows", func(t *testing.T) {
				// A row of one value of 2^24 bytes starts with 0xfe (an
				// 8-byte length) in a full packet; its continuations may
				// start with anything, 0xfe and 0xff included.
				followScript(t, ResponseResult, s, resultSet(dep, nil, []mp{
					srvLong(MaxPayload, 0xfe, 0, 0, 0, 1, 0, 0, 0, 0),
					srvLong(9, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0),
					srvLong(MaxPayload, 0xfd, 0xff, 0xff, 0xff),
					srvLong(MaxPayload, 0xff, 0xff, 0xff),
					srv(),
					srvLong(MaxPayload, 0xfd, 0xfb, 0xff, 0xff),
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
				followScript(t, ResponsePrepare, s, []mp{prepOK(1, 0, 0)})
				followScript(t, ResponsePrepare, s, params(2, []mp{prepOK(1, 0, 2)}))
				followScript(t, ResponsePrepare, s, params(3, []mp{prepOK(1, 3, 0)}))
				followScript(t, ResponsePrepare, s, params(3, params(2, []mp{prepOK(1, 3, 2)})))
				followScript(t, ResponsePrepare, s, []mp{errPkt(1064, "42000", "You have an error in your SQL syntax")})
			})
			t.Run("Single", func(t *testing.T) {
				followScript(t, ResponseSingle, s, []mp{okPkt(0, 0, 0, 2)})
				followScript(t, ResponseSingle, s, []mp{eofPkt(2)})
				followScript(t, ResponseSingle, s, []mp{srv([]byte("Uptime: 5  Threads: 1")...)})
				followScript(t, ResponseSingle, s, []mp{errPkt(1049, "42000", "Unknown database 'x'")})
			})
		})
	}
}

func TestFollowerCacheMetadata(t *testing.T) {
	rows := []mp{binRow(1, 0, 0, 0)}
	for _, s := range []Session{sessMeta, sessMetaEOF} {
		dep := s.Capabilities&ClientDeprecateEOF != 0
		followScript(t, ResponseResult, s, resultSet(dep, byteP(1), rows, 2, "a", "b"))
		followScript(t, ResponseResult, s, resultSet(dep, byteP(0), rows, 2, "a", "b"))
		followScript(t, ResponseResult, s, join(
			resultSet(dep, byteP(0), rows, 2|more, "a", "b"),
			resultSet(dep, byteP(1), rows, 2, "a"),
		))
		// A COM_STMT_PREPARE response is not affected.
		prep := []mp{prepOK(1, 1, 0), colDef("a")}
		if !dep {
			prep = append(prep, eofPkt(2))
		}
		followScript(t, ResponsePrepare, s, prep)
	}
	// Without the capability, the byte after the count is not read: a
	// count alone is a valid column count packet.
	followScript(t, ResponseResult, sessDeprecate, resultSet(true, nil, rows, 2, "a"))
	f := NewFollower(ResponseResult, sessMeta)
	if err := f.Server([]byte{0x01}, 1); err == nil {
		t.Error("cache-metadata session: a column count without its flag was accepted")
	}
}

func TestFollowerAuth(t *testing.T) {
	s := sessDeprecate
	authOK := okPkt(0, 0, 0, 2)
	followScript(t, ResponseAuth, s, []mp{authOK})
	followScript(t, ResponseAuth, s, []mp{errPkt(1045, "28000", "Access denied for user 'root'@'localhost' (using password: YES)")})
	// Auth switch to another plugin.
	followScript(t, ResponseAuth, s, []mp{srv(cat([]byte{0xfe}, []byte("mysql_native_password\x00"), bytes.Repeat([]byte{'s'}, 20), []byte{0})...), cli(bytes.Repeat([]byte{1}, 20)...), authOK})
	// caching_sha2_password, fast path: 0x01 0x03 then OK.
	followScript(t, ResponseAuth, s, []mp{srv(0x01, 0x03), authOK})
	// caching_sha2_password, full authentication over plain TCP: the
	// client asks for the public key, the server sends it, the client the
	// encrypted password.
	followScript(t, ResponseAuth, s, []mp{srv(0x01, 0x04), cli(0x02), srv(cat([]byte{0x01}, []byte("-----BEGIN PUBLIC KEY-----"))...), cli(bytes.Repeat([]byte{7}, 256)...), authOK})
	// An empty auth response is a client packet like any other.
	followScript(t, ResponseAuth, s, []mp{srv(cat([]byte{0xfe}, []byte("client_ed25519\x00"))...), cli(), errPkt(1045, "28000", "Access denied")})
}

func TestFollowerNone(t *testing.T) {
	for _, c := range []Command{ComQuit, ComStmtClose, ComStmtSendLongData} {
		f := NewFollower(c.Response(), sessDeprecate)
		if !f.Done() {
			t.Errorf("%v: a response is due", c)
		}
	}
	f := NewFollower(ComBinlogDump.Response(), sessDeprecate)
	if f.Err() == nil || f.Done() {
		t.Errorf("COM_BINLOG_DUMP: followed (%v)", f.state)
	}
	f = NewFollower(ResponseResult, Session{Capabilities: ClientProtocol41 | ClientOptionalResultsetMetadata})
	if f.Err() == nil {
		t.Error("CLIENT_OPTIONAL_RESULTSET_METADATA session followed")
	}
}

// TestFollowerRefuses checks that sequences no server sends fail the
// follower, and that it stays failed.
func TestFollowerRefuses(t *testing.T) {
	cases := []struct {
		name    string
		resp    Response
		s       Session
		packets []mp
	}{
		{"EOFFirst", ResponseResult, sessClassic, []mp{eofPkt(2)}},
		{"EmptyFirst", ResponseResult, sessClassic, []mp{srv()}},
		{"ZeroColumns", ResponseResult, sessClassic, []mp{colCount(0)}},
		{"TooManyColumns", ResponseResult, sessClassic, []mp{colCount(1 << 20)}},
		{"NoEOFAfterColumns", ResponseResult, sessClassic, []mp{colCount(1), colDef("a"), textRow(str("1"))}},
		{"ClientWhileServer", ResponseResult, sessClassic, []mp{colCount(1), cli(1)}},
		{"ServerWhileInfile", ResponseResult, sessClassic, []mp{srv(0xfb, 'f'), okPkt(0, 0, 0, 2)}},
		{"RowAfterInfile", ResponseResult, sessClassic, []mp{srv(0xfb, 'f'), cli(), textRow(str("1"))}},
		{"BadPrepareOK", ResponsePrepare, sessClassic, []mp{srv(0x00, 1, 0)}},
		{"NoEOFAfterParams", ResponsePrepare, sessClassic, []mp{prepOK(1, 0, 1), colDef("?"), colDef("?")}},
		{"AuthGarbage", ResponseAuth, sessClassic, []mp{srv(0x42)}},
		{"AuthClientFirst", ResponseAuth, sessClassic, []mp{cli(1)}},
		{"ServerWhileClientContinues", ResponseResult, sessClassic, []mp{srv(0xfb, 'f'), cliLong(MaxPayload, 1), okPkt(0, 0, 0, 2)}},
		{"ClientWhileServerContinues", ResponseResult, sessDeprecate, []mp{srv(0xfb, 'f'), cli(), srvLong(MaxPayload, 0), cli()}},
		{"TruncatedOK", ResponseResult, sessClassic, []mp{srv(0x00, 0xfc, 1)}},
		{"PacketAfterDone", ResponseSingle, sessClassic, []mp{okPkt(0, 0, 0, 2), okPkt(0, 0, 0, 2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := NewFollower(c.resp, c.s)
			var err error
			for _, p := range c.packets {
				if p.client {
					err = f.Client(p.length)
				} else {
					err = f.Server(p.head, p.length)
				}
				if err != nil {
					break
				}
			}
			if err == nil {
				t.Fatalf("accepted (state %v, done %v)", f.state, f.Done())
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if f.Done() || f.Err() == nil || f.Server([]byte{0}, 1) == nil || f.Client(0) == nil {
				t.Error("the follower did not stay failed")
			}
		})
	}
	// A head shorter than the classifiers need is the caller's bug.
	f := NewFollower(ResponseResult, sessClassic)
	if err := f.Server([]byte{0x00}, 40); err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("short head: %v", err)
	}
}

// ---- framer ----

func TestReadHeader(t *testing.T) {
	in := []byte{3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 1, 0xff, 0xff, 0xff, 7}
	br := bufio.NewReader(bytes.NewReader(in))
	p, err := ReadHeader(br)
	if err != nil || p != (Header{Length: 3, Seq: 0}) {
		t.Fatalf("%v, %v", p, err)
	}
	head, err := PeekPayload(br, p, HeadLen)
	if err != nil || string(head) != "abc" {
		t.Fatalf("peek: %q, %v", head, err)
	}
	var out bytes.Buffer
	if n, err := CopyPayload(&out, br, p); n != 3 || err != nil || out.String() != "abc" {
		t.Fatalf("copy: %d, %v, %q", n, err, out.String())
	}
	p, err = ReadHeader(br)
	if err != nil || p != (Header{Length: 0, Seq: 1}) || p.Continued() {
		t.Fatalf("%v, %v", p, err)
	}
	if h, err := PeekPayload(br, p, HeadLen); err != nil || len(h) != 0 {
		t.Fatalf("empty payload: %q, %v", h, err)
	}
	p, err = ReadHeader(br)
	if err != nil || p != (Header{Length: MaxPayload, Seq: 7}) || !p.Continued() {
		t.Fatalf("%v, %v", p, err)
	}
	if _, err := PeekPayload(br, p, 4); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("payload cut short: %v", err)
	}
	if _, err := ReadHeader(br); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

	// Skipping a payload.
	br = bufio.NewReader(bytes.NewReader(in))
	p, _ = ReadHeader(br)
	if err := discardPayload(br, p); err != nil {
		t.Fatal(err)
	}
	if p, err := ReadHeader(br); err != nil || p.Seq != 1 {
		t.Fatalf("after discarding: %v, %v", p, err)
	}
	p, _ = ReadHeader(br)
	if err := discardPayload(br, p); err != io.ErrUnexpectedEOF {
		t.Fatalf("discarding past the end: %v", err)
	}

	// A header cut short is malformed and not consumed.
	br = bufio.NewReader(bytes.NewReader([]byte{1, 0}))
	if _, err := ReadHeader(br); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("short header: %v", err)
	}
	if br.Buffered() != 2 {
		t.Fatalf("short header: %d bytes left", br.Buffered())
	}

	// A reader error is returned as is, nothing consumed; a later call
	// starts over.
	boom := errors.New("boom")
	br = bufio.NewReader(io.MultiReader(bytes.NewReader([]byte{1, 0}), iotest.ErrReader(boom)))
	if _, err := ReadHeader(br); err != boom {
		t.Fatalf("reader error: %v", err)
	}
	if br.Buffered() != 2 {
		t.Fatalf("reader error: %d bytes left", br.Buffered())
	}
}

func TestReadExpectedHeader(t *testing.T) {
	in := []byte{5, 0, 0, 3, 1, 2, 3, 4, 5}
	for _, c := range []struct {
		seq  byte
		max  int
		good bool
	}{{3, 5, true}, {3, 100, true}, {2, 5, false}, {4, 5, false}, {3, 4, false}} {
		br := bufio.NewReader(bytes.NewReader(in))
		p, err := ReadExpectedHeader(br, c.seq, c.max)
		if c.good != (err == nil) {
			t.Errorf("seq %d max %d: %v, %v", c.seq, c.max, p, err)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("seq %d max %d: %v does not wrap ErrMalformed", c.seq, c.max, err)
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
	return AppendPacket(nil, seq, payload), payload
}

func TestMessages(t *testing.T) {
	for _, n := range []int{0, 1, MaxPayload - 1, MaxPayload, MaxPayload + 1, 2 * MaxPayload} {
		wire, payload := mysqlMessageBytes(n, 250)
		packets := n/MaxPayload + 1
		if len(wire) != n+4*packets {
			t.Fatalf("%d bytes: %d on the wire, expected %d packets", n, len(wire), packets)
		}
		next := []byte("\x01\x00\x00\x00\x0e")
		br := bufio.NewReader(bytes.NewReader(append(wire, next...)))
		p, err := ReadHeader(br)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		last, written, err := CopyMessage(&out, br, p, MaxMessage)
		if err != nil || written != int64(len(wire)) || !bytes.Equal(out.Bytes(), wire) {
			t.Fatalf("%d bytes: copied %d, %v", n, written, err)
		}
		if want := byte(250 + packets - 1); last.Seq != want || last.Continued() {
			t.Fatalf("%d bytes: last %v, expected seq %d", n, last, want)
		}
		if rest, _ := io.ReadAll(br); !bytes.Equal(rest, next) {
			t.Fatalf("%d bytes: left %q", n, rest)
		}

		br = bufio.NewReader(bytes.NewReader(wire))
		p, _ = ReadHeader(br)
		raw, _, err := ReadMessage(nil, br, p, MaxMessage)
		if err != nil || !bytes.Equal(raw, wire) || !bytes.Equal(MessagePayload(raw), payload) {
			t.Fatalf("%d bytes: read %d, %v", n, len(raw), err)
		}

		br = bufio.NewReader(bytes.NewReader(append(wire, next...)))
		p, _ = ReadHeader(br)
		if _, err := discardMessage(br, p, MaxMessage); err != nil {
			t.Fatal(err)
		}
		if p, err := ReadHeader(br); err != nil || p.Length != 1 {
			t.Fatalf("%d bytes: after discarding: %v, %v", n, p, err)
		}
	}

	// A continuation with the wrong sequence id, or beyond max, is
	// malformed and its header is not consumed.
	wire, _ := mysqlMessageBytes(MaxPayload+10, 0)
	bad := bytes.Clone(wire)
	bad[4+MaxPayload+3] = 5
	for _, c := range []struct {
		in  []byte
		max int
	}{{bad, MaxMessage}, {wire, MaxPayload + 9}} {
		br := bufio.NewReader(bytes.NewReader(c.in))
		p, _ := ReadHeader(br)
		raw, _, err := ReadMessage(nil, br, p, c.max)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("expected malformed, got %v", err)
		}
		if len(raw) != 4+MaxPayload || br.Buffered() != 4+10 {
			t.Fatalf("consumed %d bytes, %d left", len(raw), br.Buffered())
		}
	}
	// A stream that ends inside a message.
	br := bufio.NewReader(bytes.NewReader(wire[:4+MaxPayload]))
	p, _ := ReadHeader(br)
	if _, _, err := ReadMessage(nil, br, p, MaxMessage); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut message: %v", err)
	}
	br = bufio.NewReader(bytes.NewReader(wire[:100]))
	p, _ = ReadHeader(br)
	if raw, _, err := ReadMessage(nil, br, p, MaxMessage); !errors.Is(err, io.ErrUnexpectedEOF) || len(raw) != 100 {
		t.Fatalf("cut payload: %d bytes, %v", len(raw), err)
	}
}

func TestLenEnc(t *testing.T) {
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
		v, n, ok := ParseLenEnc(c.in)
		if v != c.v || n != c.n || ok != c.ok {
			t.Errorf("% x: %d, %d, %v", c.in, v, n, ok)
		}
	}
	for _, v := range []uint64{0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 1<<64 - 1} {
		b := AppendLenEnc(nil, v)
		if got, n, ok := ParseLenEnc(b); got != v || n != len(b) || !ok {
			t.Errorf("%d: % x read as %d, %d, %v", v, b, got, n, ok)
		}
	}
}

func TestCommands(t *testing.T) {
	for _, c := range []struct {
		cmd  Command
		b    byte
		name string
		resp Response
	}{
		{ComQuery, 0x03, "COM_QUERY", ResponseResult},
		{ComStmtPrepare, 0x16, "COM_STMT_PREPARE", ResponsePrepare},
		{ComStmtExecute, 0x17, "COM_STMT_EXECUTE", ResponseResult},
		{ComStmtSendLongData, 0x18, "COM_STMT_SEND_LONG_DATA", ResponseNone},
		{ComStmtClose, 0x19, "COM_STMT_CLOSE", ResponseNone},
		{ComStmtReset, 0x1a, "COM_STMT_RESET", ResponseSingle},
		{ComQuit, 0x01, "COM_QUIT", ResponseNone},
		{ComPing, 0x0e, "COM_PING", ResponseSingle},
		{ComInitDB, 0x02, "COM_INIT_DB", ResponseSingle},
		{ComChangeUser, 0x11, "COM_CHANGE_USER", ResponseAuth},
		{ComResetConnection, 0x1f, "COM_RESET_CONNECTION", ResponseSingle},
		{ComFieldList, 0x04, "COM_FIELD_LIST", ResponseFieldList},
		{ComSetOption, 0x1b, "COM_SET_OPTION", ResponseSingle},
		{ComStmtFetch, 0x1c, "COM_STMT_FETCH", ResponseFetch},
		{ComStatistics, 0x09, "COM_STATISTICS", ResponseSingle},
		{ComBinlogDump, 0x12, "COM_BINLOG_DUMP", ResponseUnknown},
		{ComStmtBulkExecute, 0xfa, "COM_STMT_BULK_EXECUTE", ResponseResult},
		{Command(0x20), 0x20, "COM_0x20", ResponseUnknown},
	} {
		got, ok := commandOf([]byte{c.b, 'x'})
		if !ok || got != c.cmd || got.String() != c.name || got.Response() != c.resp {
			t.Errorf("0x%02x: %v %v %v", c.b, got, ok, got.Response())
		}
	}
	if _, ok := commandOf(nil); ok {
		t.Error("empty payload has a command")
	}
	exec := []byte{0x17, 0x78, 0x56, 0x34, 0x12, 0x00, 1, 0, 0, 0}
	for _, b := range []byte{0x17, 0x18, 0x19, 0x1a, 0x1c, 0xfa} {
		exec[0] = b
		if id, ok := StmtID(exec); !ok || id != 0x12345678 {
			t.Errorf("0x%02x: statement id %x, %v", b, id, ok)
		}
	}
	if _, ok := StmtID([]byte{0x03, 1, 2, 3, 4}); ok {
		t.Error("COM_QUERY has a statement id")
	}
	if _, ok := StmtID([]byte{0x17, 1, 2, 3}); ok {
		t.Error("short COM_STMT_EXECUTE has a statement id")
	}
}

func TestReplyClasses(t *testing.T) {
	for _, c := range []struct {
		head   []byte
		length int
		want   ReplyClass
	}{
		{[]byte{0x00, 0, 0, 2, 0, 0, 0}, 7, ReplyOK},
		{[]byte{0xff, 0x7a, 0x04}, 40, ReplyErr},
		{[]byte{0xfe, 0, 0, 2, 0}, 5, ReplyEOF},
		{[]byte{0xfe}, 1, ReplyEOF},
		{[]byte{0xfe, 0, 0, 0, 0, 0, 0, 0, 0}, 9, ReplyInvalid},
		{[]byte{0xfb, 'f'}, 2, ReplyLocalInfile},
		{[]byte{0x03}, 1, ReplyResultSet},
		{[]byte{0xfc, 0x00, 0x01}, 3, ReplyResultSet},
		{[]byte{0xfc}, 1, ReplyInvalid},
		{nil, 0, ReplyInvalid},
	} {
		if got := ClassifyReply(c.head, c.length); got != c.want {
			t.Errorf("% x (%d bytes): %v, expected %v", c.head, c.length, got, c.want)
		}
	}
	ok, valid := ParseOK([]byte{0x00, 0xfc, 0x00, 0x01, 0x05, 0x0a, 0x00, 0x03, 0x00})
	if !valid || ok != (OK{AffectedRows: 256, LastInsertID: 5, Status: 10, Warnings: 3}) {
		t.Errorf("OK: %+v, %v", ok, valid)
	}
	if w, s, valid := ParseEOF([]byte{0xfe, 1, 0, 0x0a, 0}); !valid || w != 1 || s != 10 {
		t.Errorf("EOF: %d %d %v", w, s, valid)
	}
	n, state, msg, valid := ParseErr([]byte("\xff\x10\x04Too many connections"))
	if !valid || n != 1040 || state != "" || msg != "Too many connections" {
		t.Errorf("ERR without SQLSTATE: %d %q %q %v", n, state, msg, valid)
	}
	n, state, msg, valid = ParseErr(MessagePayload(AppendErr(nil, 1, 1213, "40001", deadlockMessage)))
	if !valid || n != 1213 || state != "40001" || msg != deadlockMessage {
		t.Errorf("ERR: %d %q %q %v", n, state, msg, valid)
	}
	p, valid := ParsePrepareOK([]byte{0, 1, 0, 0, 0, 2, 0, 3, 0, 0, 4, 0})
	if !valid || p != (PrepareOK{StmtID: 1, Columns: 2, Params: 3, Warnings: 4}) {
		t.Errorf("PREPARE_OK: %+v %v", p, valid)
	}
}

// mariadbGreeting returns the greeting of MariaDB 10.11.19 as recorded in
// the Negotiated fixture (unmodified).
func mariadbGreeting(t *testing.T) []byte {
	t.Helper()
	return splitMySQLPackets(t, testenv.ReadMySQLSession(t, "testdata", "Negotiated").Server)[0].payload
}

func TestGreeting(t *testing.T) {
	mariadbGreeting := mariadbGreeting(t)
	g, err := ParseGreeting(mariadbGreeting)
	if err != nil {
		t.Fatal(err)
	}
	if g.ProtocolVersion != 10 || g.ServerVersion != "5.5.5-10.11.19-MariaDB-0+deb12u1" || g.AuthPlugin != "mysql_native_password" {
		t.Errorf("greeting: %+v", g)
	}
	for _, bit := range []uint32{ClientProtocol41, ClientDeprecateEOF, ClientMultiResults, ClientPSMultiResults, ClientLocalFiles, ClientCompress} {
		if g.Capabilities&bit == 0 {
			t.Errorf("MariaDB offers no 0x%08x (capabilities 0x%08x)", bit, g.Capabilities)
		}
	}
	if g.Capabilities&(ClientMySQL|ClientSSL) != 0 {
		t.Errorf("capabilities 0x%08x: CLIENT_MYSQL or CLIENT_SSL", g.Capabilities)
	}
	if g.MariaDBCapabilities&MariaDBClientCacheMetadata == 0 || g.MariaDBCapabilities&MariaDBClientProgress == 0 {
		t.Errorf("MariaDB capabilities 0x%x", g.MariaDBCapabilities)
	}

	b := bytes.Clone(mariadbGreeting)
	if err := ClearCapabilities(b, Unfollowed|ClientDeprecateEOF, MariaDBClientCacheMetadata); err != nil {
		t.Fatal(err)
	}
	g2, err := ParseGreeting(b)
	if err != nil {
		t.Fatal(err)
	}
	if g2.Capabilities != g.Capabilities&^(Unfollowed|ClientDeprecateEOF) || g2.MariaDBCapabilities != g.MariaDBCapabilities&^MariaDBClientCacheMetadata {
		t.Errorf("cleared: 0x%08x 0x%x", g2.Capabilities, g2.MariaDBCapabilities)
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
	binary.LittleEndian.PutUint16(my8[g.capLow:], uint16(g.Capabilities)|uint16(ClientSSL|ClientMySQL))
	binary.LittleEndian.PutUint16(my8[g.capHigh:], uint16((g.Capabilities|ClientZstdCompression)>>16))
	if err := ClearCapabilities(my8, ClientSSL|ClientCompress|ClientZstdCompression, MariaDBClientCacheMetadata); err != nil {
		t.Fatal(err)
	}
	g3, _ := ParseGreeting(my8)
	if g3.Capabilities&(ClientSSL|ClientCompress|ClientZstdCompression) != 0 || g3.Capabilities&ClientMySQL == 0 || g3.mariadbAt != 0 {
		t.Errorf("MySQL-style greeting: %+v", g3)
	}
	if !bytes.Equal(my8[g.mariadbAt:g.mariadbAt+4], mariadbGreeting[g.mariadbAt:g.mariadbAt+4]) {
		t.Error("reserved bytes changed in a greeting with CLIENT_MYSQL")
	}

	for _, bad := range [][]byte{nil, {0xff, 0x10, 0x04, 'T'}, {9, 'x', 0}, {10, 'x'}, {10, 'x', 0, 1, 2}, mariadbGreeting[:40]} {
		if _, err := ParseGreeting(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v", bad, err)
		}
		if err := ClearCapabilities(bytes.Clone(bad), ClientSSL, 0); err == nil {
			t.Errorf("% x: cleared", bad)
		}
	}
}

func TestClientHello(t *testing.T) {
	// go-sql-driver v1.10.1's handshake response to MariaDB 10.11 (user
	// root, database test), from the Negotiated fixture.
	resp := splitMySQLPackets(t, testenv.ReadMySQLSession(t, "testdata", "Negotiated").Client)[0].payload
	h, err := ParseClientHello(resp)
	if err != nil {
		t.Fatal(err)
	}
	// What go-sql-driver asks for (and MariaDB offers): CLIENT_DEPRECATE_EOF
	// and MARIADB_CLIENT_CACHE_METADATA among them; CLIENT_MYSQL clear, as
	// the server's is; no CLIENT_SSL, CLIENT_COMPRESS,
	// CLIENT_PS_MULTI_RESULTS or CLIENT_SESSION_TRACK.
	const want = ClientLongFlag | ClientConnectWithDB | ClientLocalFiles | ClientProtocol41 |
		ClientTransactions | ClientSecureConnection | ClientMultiStatements | ClientMultiResults |
		ClientPluginAuth | ClientConnectAttrs | ClientPluginAuthLenencData | ClientDeprecateEOF
	if h.Capabilities != want || h.Charset != 45 || h.MariaDBCapabilities != MariaDBClientCacheMetadata || h.SSLRequest {
		t.Errorf("%+v (capabilities 0x%08x, expected 0x%08x)", h, h.Capabilities, want)
	}
	g, _ := ParseGreeting(mariadbGreeting(t))
	s := Negotiate(g, h)
	if s.Capabilities != want || s.MariaDBCapabilities != MariaDBClientCacheMetadata {
		t.Errorf("session %+v", s)
	}
	ssl := bytes.Clone(resp[:32])
	binary.LittleEndian.PutUint32(ssl, h.Capabilities|ClientSSL)
	if h, err := ParseClientHello(ssl); err != nil || !h.SSLRequest {
		t.Errorf("SSLRequest: %+v %v", h, err)
	}
	if h, err := ParseClientHello([]byte{0x85, 0x00, 0, 0, 0}); err != nil || h.Capabilities != 0x85 {
		t.Errorf("4.0 response: %+v %v", h, err)
	}
	if _, err := ParseClientHello(resp[:20]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short: %v", err)
	}
}

func TestAppendErr(t *testing.T) {
	got := AppendErr([]byte("x"), 1, 1146, "42S02", "No")
	if want := []byte("x\x0b\x00\x00\x01\xff\x7a\x04#42S02No"); !bytes.Equal(got, want) {
		t.Errorf("AppendErr: % x, expected % x", got, want)
	}
	got = AppendErrWithoutSQLState(nil, 0, 1040, "Too many connections")
	if want := []byte("\x17\x00\x00\x00\xff\x10\x04Too many connections"); !bytes.Equal(got, want) {
		t.Errorf("AppendErrWithoutSQLState: % x, expected % x", got, want)
	}
	code, state, msg, ok := ParseErr(MessagePayload(got))
	if !ok || code != 1040 || state != "" || msg != "Too many connections" {
		t.Errorf("read back: %d %q %q %v", code, state, msg, ok)
	}
}
