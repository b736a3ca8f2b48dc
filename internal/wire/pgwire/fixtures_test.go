package pgwire

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

// session is a captured session framed message by message.
type session struct {
	startup Startup
	client  []framed
	server  []framed
	facts   sessionFacts
}

// frameSession frames a captured session: the client's startup packet,
// then the messages both ways, each parsed by its type's parser.
func frameSession(t *testing.T, name string) session {
	t.Helper()
	var s session
	client := readFixture(t, name+".client")
	br := bufio.NewReader(bytes.NewReader(client))
	st, err := PeekStartup(br)
	if err != nil {
		t.Fatalf("startup packet: %v", err)
	}
	s.startup = st
	s.client = frameStream(t, client[st.Length:], 4096)
	s.server = frameStream(t, readFixture(t, name+".server"), 4096)
	for i, m := range s.client {
		if !IsFrontendType(m.h.Type) {
			t.Errorf("client message %d: type %q", i, m.h.Type)
		}
		if _, err := parseFrontend(m.h, m.payload); err != nil {
			t.Errorf("client message %d (%v): %v", i, m.h, err)
		}
	}
	for i, m := range s.server {
		if !IsBackendType(m.h.Type) {
			t.Errorf("server message %d: type %q", i, m.h.Type)
		}
		if _, err := parseBackend(m.h, m.payload); err != nil {
			t.Errorf("server message %d (%v): %v", i, m.h, err)
		}
	}
	if err := json.Unmarshal(readFixture(t, name+".json"), &s.facts); err != nil {
		t.Fatal(err)
	}
	return s
}

// types returns the type bytes of msgs as a string.
func types(msgs []framed) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteByte(m.h.Type)
	}
	return b.String()
}

// of returns the messages of msgs of type t.
func of(msgs []framed, t byte) []framed {
	var out []framed
	for _, m := range msgs {
		if m.h.Type == t {
			out = append(out, m)
		}
	}
	return out
}

// statuses returns the ReadyForQuery statuses of msgs.
func statuses(t *testing.T, msgs []framed) string {
	var b strings.Builder
	for _, m := range of(msgs, TypeReadyForQuery) {
		st, err := ParseReadyForQuery(m.payload)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteByte(st)
	}
	return b.String()
}

// TestCapturedSessions frames every captured session message by message,
// parses every message, and checks what it says against what pgx
// reported: the ErrorResponses equal pgx's PgErrors and AppendErrorResponse
// writes them byte for byte as the server did.
func TestCapturedSessions(t *testing.T) {
	for _, name := range capturedSessions {
		t.Run(name, func(t *testing.T) {
			s := frameSession(t, name)
			if s.startup.Kind != StartupMessage || s.startup.Code != CodeProtocol30 ||
				s.startup.User() != "postgres" || s.startup.Database() != "test" {
				t.Errorf("startup: %+v", s.startup)
			}
			// The handshake: authenticated (trust), parameters, key, ready.
			if got := types(s.server); !strings.HasPrefix(got, "RSSSSSSSSSSSSSKZ") {
				t.Errorf("server's handshake: %s", got)
			}
			if a, err := ParseAuthentication(s.server[0].payload); err != nil || a.Kind != AuthOK {
				t.Errorf("authentication: %+v, %v", a, err)
			}
			// Every error equals what pgx reported, and re-encodes as sent.
			errs := of(s.server, TypeErrorResponse)
			if len(errs) != len(s.facts.Errors) {
				t.Fatalf("%d ErrorResponses, pgx reported %d errors", len(errs), len(s.facts.Errors))
			}
			for i, m := range errs {
				e, err := ParseErrorFields(m.payload)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(e, s.facts.Errors[i]) {
					t.Errorf("error %d: %+v\npgx reported %+v", i, e, s.facts.Errors[i])
				}
				if e.Fatal() {
					t.Errorf("error %d is fatal", i)
				}
				if got := AppendErrorResponse(nil, e); !bytes.Equal(got, m.raw) {
					t.Errorf("AppendErrorResponse: %q\nserver sent: %q", got, m.raw)
				}
			}
			// Every ReadyForQuery re-encodes as sent.
			for _, m := range of(s.server, TypeReadyForQuery) {
				if got := AppendReadyForQuery(nil, m.payload[0]); !bytes.Equal(got, m.raw) {
					t.Errorf("AppendReadyForQuery: %q, server sent %q", got, m.raw)
				}
			}
			checkSession(t, name, s)
			// pgx ends every session with a Terminate.
			if last := s.client[len(s.client)-1]; !bytes.Equal(last.raw, AppendTerminate(nil)) {
				t.Errorf("last client message %v", last.h)
			}
		})
	}
}

// checkSession checks what is particular to one captured session.
func checkSession(t *testing.T, name string, s session) {
	server := s.server[16:] // after the handshake
	switch name {
	case "simple":
		var sqls []string
		for _, m := range of(s.client, TypeQuery) {
			sql, _ := ParseQuery(m.payload)
			sqls = append(sqls, string(sql))
			// A Query re-encodes as sent.
			if got := AppendQuery(nil, string(sql)); !bytes.Equal(got, m.raw) {
				t.Errorf("AppendQuery: %q, pgx sent %q", got, m.raw)
			}
		}
		if len(sqls) != 3 || !strings.HasPrefix(sqls[0], "SELECT g,") || !strings.HasPrefix(sqls[2], "SET ") {
			t.Errorf("queries: %q", sqls)
		}
		if got, want := types(server), "TDDDCZTDCTDCZCSZ"; got != want {
			t.Errorf("replies %s, want %s", got, want)
		}
		if n, _ := ParseRowDescription(server[0].payload); n != 3 {
			t.Errorf("RowDescription of %d fields", n)
		}
		if n, _ := ParseDataRow(server[1].payload); n != 3 {
			t.Errorf("DataRow of %d columns", n)
		}
		if tag, _ := ParseCommandComplete(server[4].payload); string(tag) != "SELECT 3" {
			t.Errorf("tag %q", tag)
		}
		// The SET's new value comes unasked, before ReadyForQuery.
		ps := server[14]
		name, value, _ := ParseParameterStatus(ps.payload)
		if !IsAsync(ps.h.Type) || string(name) != "application_name" || string(value) != "faults-capture" {
			t.Errorf("ParameterStatus %q = %q", name, value)
		}
	case "extended":
		// Prepared in a round trip of its own, then bound and executed
		// twice by name.
		if got, want := types(s.client), "PDSBESBESX"; got != want {
			t.Errorf("client sent %s, want %s", got, want)
		}
		p, _ := ParseParse(s.client[0].payload)
		if !strings.HasPrefix(string(p.Name), "stmtcache_") || !strings.Contains(string(p.Query), "$2::int") {
			t.Errorf("Parse: %q %q", p.Name, p.Query)
		}
		if d, _ := ParseDescribe(s.client[1].payload); d.Kind != TargetStatement || !bytes.Equal(d.Name, p.Name) {
			t.Errorf("Describe %c %q", d.Kind, d.Name)
		}
		for _, m := range of(s.client, TypeBind) {
			b, _ := ParseBind(m.payload)
			if len(b.Portal) != 0 || !bytes.Equal(b.Statement, p.Name) || b.Params != 2 {
				t.Errorf("Bind %q %q %d", b.Portal, b.Statement, b.Params)
			}
		}
		for _, m := range of(s.client, TypeExecute) {
			if e, _ := ParseExecute(m.payload); len(e.Portal) != 0 || e.MaxRows != 0 {
				t.Errorf("Execute %q %d", e.Portal, e.MaxRows)
			}
		}
		if got, want := types(server), "1tTZ2DDDCZ2DDDCZ"; got != want {
			t.Errorf("replies %s, want %s", got, want)
		}
	case "errors":
		// The INSERT prepared, executed, executed again into a unique
		// violation, after which pgx closes the statement; then a
		// syntax error in a simple Query.
		if got, want := types(s.client), "PDSBDESBDESCSQX"; got != want {
			t.Errorf("client sent %s, want %s", got, want)
		}
		if got, want := types(server), "1tnZ2nCZ2nEZ3ZEZ"; got != want {
			t.Errorf("replies %s, want %s", got, want)
		}
		if c, _ := ParseClose(s.client[11].payload); c.Kind != TargetStatement || !strings.HasPrefix(string(c.Name), "stmtcache_") {
			t.Errorf("Close %c %q", c.Kind, c.Name)
		}
		if got := statuses(t, server); got != "IIIII" {
			t.Errorf("statuses %s", got)
		}
	case "transaction":
		// BEGIN; 1/0 fails the block; the next statement gets 25P02;
		// ROLLBACK ends it.
		if got := statuses(t, server); got != "TEEI" {
			t.Errorf("statuses %s", got)
		}
		if s.facts.Errors[0].Code != "22012" || s.facts.Errors[1].Code != "25P02" {
			t.Errorf("errors %s, %s", s.facts.Errors[0].Code, s.facts.Errors[1].Code)
		}
	case "notify":
		ns := of(server, TypeNotificationResponse)
		if len(ns) != 1 || !IsAsync(TypeNotificationResponse) {
			t.Fatalf("%d notifications", len(ns))
		}
		n, _ := ParseNotificationResponse(ns[0].payload)
		want := s.facts.Notifications[0]
		if n.ProcessID != want.PID || string(n.Channel) != want.Channel || string(n.Payload) != want.Payload {
			t.Errorf("notification %d %q %q, pgx got %+v", n.ProcessID, n.Channel, n.Payload, want)
		}
	case "cancel":
		// The CancelRequest, on a connection of its own, names the
		// session by the key the server gave it.
		req, err := PeekStartup(bufio.NewReader(bytes.NewReader(readFixture(t, "cancel-request.client"))))
		if err != nil || req.Kind != CancelRequest || req.Length != 16 {
			t.Fatalf("cancel request: %+v, %v", req, err)
		}
		k, _ := ParseBackendKeyData(of(s.server, TypeBackendKeyData)[0].payload)
		if req.ProcessID != k.ProcessID || !bytes.Equal(req.SecretKey, k.SecretKey) {
			t.Errorf("cancel request for %d %x; the session's key is %d %x", req.ProcessID, req.SecretKey, k.ProcessID, k.SecretKey)
		}
		if got := statuses(t, server); got != "I" {
			t.Errorf("statuses %s", got)
		}
	}
}

// TestCapturedStreamsChunked frames every captured stream from readers
// that return it in small pieces, with a buffer as small as the largest
// message allows: the boundaries are those of whole reads.
func TestCapturedStreamsChunked(t *testing.T) {
	for _, name := range capturedSessions {
		for _, side := range []string{".client", ".server"} {
			stream := readFixture(t, name+side)
			if side == ".client" {
				stream = stream[int(stream[0])<<24|int(stream[1])<<16|int(stream[2])<<8|int(stream[3]):]
			}
			want := boundaries(t, bufio.NewReaderSize(bytes.NewReader(stream), 64<<10))
			for _, chunk := range []int{1, 2, 3, 7, 64} {
				got := boundaries(t, bufio.NewReaderSize(&chunked{stream, chunk}, 1024))
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s%s in chunks of %d: %v, whole: %v", name, side, chunk, got, want)
				}
			}
		}
	}
}

// boundaries returns where the messages of br end.
func boundaries(t *testing.T, br *bufio.Reader) []int {
	var ends []int
	off := 0
	for {
		h, err := PeekHeader(br)
		if err == io.EOF {
			return ends
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := CopyMessage(io.Discard, br, h); err != nil {
			t.Fatal(err)
		}
		off += h.Size()
		ends = append(ends, off)
	}
}

// chunked reads b in pieces of at most n bytes.
type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	m := copy(p, c.b[:min(c.n, len(c.b))])
	c.b = c.b[m:]
	return m, nil
}
