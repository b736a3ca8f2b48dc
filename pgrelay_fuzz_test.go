package faults

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// pgFuzzLogin is what the well-formed server answers a StartupMessage
// with: AuthenticationOk and ReadyForQuery (idle).
var pgFuzzLogin = []byte("R\x00\x00\x00\x08\x00\x00\x00\x00Z\x00\x00\x00\x05I")

// pgFuzzAnswer is its answer to each Query: CommandComplete and
// ReadyForQuery.
var pgFuzzAnswer = []byte("C\x00\x00\x00\x0dSELECT 1\x00Z\x00\x00\x00\x05I")

// pgFuzzServe serves a well-formed connection: a trust login, then
// CommandComplete and ReadyForQuery for each Query.
func pgFuzzServe(c net.Conn) {
	var n [4]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(n[:]))-4); err != nil {
		return
	}
	c.Write(pgFuzzLogin)
	for {
		var h [5]byte
		if _, err := io.ReadFull(c, h[:]); err != nil || h[0] != 'Q' {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(h[1:]))-4); err != nil {
			return
		}
		if _, err := c.Write(pgFuzzAnswer); err != nil {
			return
		}
	}
}

// pgFuzzStartup is a StartupMessage of protocol 3.0 for user postgres.
var pgFuzzStartup = []byte("\x00\x00\x00\x17\x00\x03\x00\x00user\x00postgres\x00\x00")

// FuzzPostgresRelay passes arbitrary client bytes and arbitrary server
// bytes through a PostgreSQL proxy, with a request behavior chosen by mode.
// It must not panic or hang: the client sees the connection end within
// the deadline. Without a behavior, and unless the client asked for
// encryption (which the proxy refuses itself), the bytes each side
// receives are a prefix of what the other sent. The proxy must then serve
// a well-formed second connection.
func FuzzPostgresRelay(f *testing.F) {
	for i, name := range []string{"simple", "extended", "errors", "transaction", "notify"} {
		client, err1 := os.ReadFile(filepath.Join("internal", "wire", "pgwire", "testdata", name+".client"))
		server, err2 := os.ReadFile(filepath.Join("internal", "wire", "pgwire", "testdata", name+".server"))
		if err1 != nil || err2 != nil {
			f.Fatal(errors.Join(err1, err2))
		}
		f.Add(uint8(i), client, server)
	}
	f.Add(uint8(0), append(append([]byte{}, pgFuzzStartup...), "Q\x00\x00\x00\x0dSELECT 1\x00"...), append(append([]byte{}, pgFuzzLogin...), pgFuzzAnswer...))
	f.Add(uint8(1), []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f"), []byte("garbage"))
	f.Fuzz(func(t *testing.T, mode uint8, client, server []byte) {
		var behaviors []Behavior
		switch mode % 6 {
		case 1:
			behaviors = append(behaviors, Error(PostgresDeadlock))
		case 2:
			behaviors = append(behaviors, Error(PostgresAdminShutdown))
		case 3:
			behaviors = append(behaviors, DropResponse())
		case 4:
			behaviors = append(behaviors, TruncateRows(int64(mode>>3)))
		case 5:
			behaviors = append(behaviors, Error(PostgresTooManyConnections))
		}
		encryption := len(client) >= 8 && (bytes.Equal(client[4:8], []byte{0x04, 0xd2, 0x16, 0x2f}) || bytes.Equal(client[4:8], []byte{0x04, 0xd2, 0x16, 0x30}))
		p := fuzzRelay(t, Postgres(), behaviors, client, server, pgFuzzServe, len(behaviors) == 0 && !encryption)
		// The proxy still serves a well-formed connection.
		fuzzExchange(t, p, append(append([]byte{}, pgFuzzStartup...), "Q\x00\x00\x00\x0dSELECT 1\x00"...), append(append([]byte{}, pgFuzzLogin...), pgFuzzAnswer...))
	})
}
