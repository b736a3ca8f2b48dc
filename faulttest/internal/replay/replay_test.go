package replay

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/tcpcap"
)

// turn is what one side sent at once.
type turn struct {
	server bool
	data   []byte
}

// conversation writes a capture of one connection whose sides take the
// turns, a millisecond apart, the client ending with a FIN.
func conversation(t testing.TB, turns []turn) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tcpcap.NewWriter(&buf, "test")
	t0 := time.Unix(1700000000, 0)
	s, err := w.Open(t0, netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:5432"), nil)
	if err != nil {
		t.Fatal(err)
	}
	at := t0
	for _, tr := range turns {
		at = at.Add(time.Millisecond)
		side := tcpcap.Client
		if tr.server {
			side = tcpcap.Server
		}
		if err := s.Data(at, side, tr.data, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.Fin(at.Add(time.Millisecond), tcpcap.Client, nil)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fixture(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "..", "..", "internal", "wire"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// prepareOne reads a capture of one connection for protocol name.
func prepareOne(t testing.TB, capture []byte, name string) *Script {
	t.Helper()
	conns, err := tcpcap.Read(bytes.NewReader(capture))
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := Prepare(conns, name, Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	return scripts[0]
}

// outcomes returns each request's summary and recorded outcome.
func outcomes(s *Script) [][2]string {
	var out [][2]string
	for _, r := range s.requests() {
		out = append(out, [2]string{r.Summary, r.Recorded})
	}
	return out
}

// TestMySQLOutcomes reads the outcomes of commands answered by MariaDB
// (the codec's fixtures): OK, result sets, a prepared statement and its
// execution, two ERRs by number; the login is the script's, not a request.
func TestMySQLOutcomes(t *testing.T) {
	turns := []turn{
		{true, fixture(t, "mysqlwire", "testdata", "greeting.server")},
		{false, fixture(t, "mysqlwire", "testdata", "handshake-response.client")},
		{true, []byte{7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0}},
	}
	var want [][2]string
	for _, c := range []struct{ name, outcome string }{
		{"ok", "OK"}, {"text-resultset", "OK"}, {"err-syntax", "ERR 1064"}, {"err-duplicate", "ERR 1062"},
		{"prepare-ok", "OK"}, {"binary-resultset", "OK"},
	} {
		cmd := fixture(t, "mysqlwire", "testdata", c.name+".command")
		turns = append(turns, turn{false, cmd}, turn{true, fixture(t, "mysqlwire", "testdata", c.name+".answer")})
		want = append(want, [2]string{"", c.outcome})
	}
	s := prepareOne(t, conversation(t, turns), "mysql")
	got := outcomes(s)
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %q", len(got), len(want), got)
	}
	for i := range want {
		if got[i][1] != want[i][1] {
			t.Errorf("request %d (%q): outcome %q, want %q", i, got[i][0], got[i][1], want[i][1])
		}
	}
	if len(s.Login) != 1 || s.End != EndFin {
		t.Errorf("login of %d messages, end %v", len(s.Login), s.End)
	}
	// Each request was sent once the answers before it had come.
	for i, st := range s.Steps {
		if st.Request != nil && st.After != st.Request.Index {
			t.Errorf("step %d: after %d answers, want %d", i, st.After, st.Request.Index)
		}
	}
}

// TestPostgresOutcomes reads pgx sessions recorded from PostgreSQL (the
// codec's fixtures): SQLSTATEs of errors, "OK" of the rest.
func TestPostgresOutcomes(t *testing.T) {
	for _, c := range []struct {
		name string
		want []string
	}{
		{"errors", []string{"OK", "OK", "23505", "OK", "42601"}},
		{"transaction", []string{"OK", "22012", "25P02", "OK"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := prepareOne(t, conversation(t, []turn{
				{false, fixture(t, "pgwire", "testdata", c.name+".client")},
				{true, fixture(t, "pgwire", "testdata", c.name+".server")},
			}), "postgres")
			var got []string
			for _, o := range outcomes(s) {
				got = append(got, o[1])
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("outcomes %q (requests %q), want %q", got, outcomes(s), c.want)
			}
		})
	}
}

func TestRedisOutcomes(t *testing.T) {
	s := prepareOne(t, conversation(t, []turn{
		{false, []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")},
		{true, []byte("-LOADING Redis is loading\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+PONG\r\n!21\r\nSYNTAX invalid syntax\r\n")},
	}), "redis")
	want := [][2]string{{"GET k", "LOADING"}, {"PING", "OK"}, {"SET k", "SYNTAX"}}
	if got := outcomes(s); !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestHTTPOutcomes(t *testing.T) {
	s := prepareOne(t, conversation(t, []turn{
		{false, []byte("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")},
		{true, []byte("HTTP/1.1 100 Continue\r\n\r\n")},
		{false, []byte("hello")},
		{true, []byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")},
		{false, []byte("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")},
	}), "http")
	want := [][2]string{{"POST /a", "201"}, {"GET /b", NoAnswer}}
	if got := outcomes(s); !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	if len(s.Steps) != 3 || s.Steps[1].Request != nil || string(s.Steps[1].Data) != "hello" {
		t.Errorf("steps %+v", s.Steps)
	}
}

// FuzzPrepare reads arbitrary bytes as a conversation of each protocol:
// Prepare never panics.
func FuzzPrepare(f *testing.F) {
	f.Add(uint8(0), []byte("GET / HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	f.Add(uint8(1), []byte{5, 0, 0, 1, 0x8c, 0xa2, 0, 0, 0, 5, 0, 0, 0, 3, 'S'}, []byte{7, 0, 0, 0, 10, '5', 0, 1, 2, 3, 4})
	f.Add(uint8(2), []byte{0, 0, 0, 9, 0, 3, 0, 0, 0, 'Q', 0, 0, 0, 5, 0}, []byte("R\x00\x00\x00\x08\x00\x00\x00\x00Z\x00\x00\x00\x05I"))
	f.Add(uint8(3), []byte("*1\r\n$4\r\nPING\r\n"), []byte("+PONG\r\n"))
	f.Add(uint8(5), []byte("get k\r\nmg k v q\r\nmn\r\n"), []byte("VALUE k 0 1\r\nx\r\nEND\r\nMN\r\n"))
	f.Fuzz(func(t *testing.T, proto uint8, client, server []byte) {
		name := []string{"http", "mysql", "postgres", "redis", "tcp", "memcached"}[proto%6]
		capture := conversation(t, []turn{{false, client}, {true, server}, {false, client}, {true, server}})
		conns, err := tcpcap.Read(bytes.NewReader(capture))
		if err != nil {
			return
		}
		Prepare(conns, name, Credentials{})
	})
}

// TestMemcachedOutcomes reads the outcomes of a pipelined session of
// replies as memcached 1.6 sends them: hits and
// misses of gets and mg, storage results, errors by their line; noreply
// and quiet commands are no requests, and a quiet command's reply, when
// memcached sends one, answers none.
func TestMemcachedOutcomes(t *testing.T) {
	s := prepareOne(t, conversation(t, []turn{
		{false, []byte("set k 0 0 1\r\nx\r\nget k\r\nget nokey\r\nset q 0 0 1 noreply\r\ny\r\nmg k v q\r\nmg nokey v q\r\nmg nokey v\r\nincr k 1\r\nbogus\r\nmn\r\n")},
		{true, []byte("STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\nEND\r\nVA 1\r\nx\r\nEN\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nERROR\r\nMN\r\n")},
	}), "memcached")
	want := [][2]string{
		{"set k", "STORED"}, {"get k", "hit"}, {"get nokey", "miss"}, {"mg nokey", "miss"},
		{"incr k", "CLIENT_ERROR cannot increment or decrement non-numeric value"}, {"bogus", "ERROR"}, {"mn", "MN"},
	}
	if got := outcomes(s); !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}
