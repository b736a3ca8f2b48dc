package pgwire

import (
	"encoding/binary"
	"strings"
)

// beginMessage appends t and a placeholder length to dst; endMessage,
// given the offset it returns, fills the length in once the payload is
// appended.
func beginMessage(dst []byte, t byte) ([]byte, int) {
	start := len(dst)
	return append(dst, t, 0, 0, 0, 0), start
}

func endMessage(dst []byte, start int) []byte {
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-1))
	return dst
}

// appendCString appends s, cut at its first NUL if it has one, and a NUL.
func appendCString(dst []byte, s string) []byte {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return append(append(dst, s...), 0)
}

// AppendHeader appends the header of a message of type t with a payload
// of payloadLen bytes (0 to MaxLength-4) to dst and returns the extended
// dst; the payload is the caller's to append.
func AppendHeader(dst []byte, t byte, payloadLen int) []byte {
	h := Header{Type: t, Length: payloadLen + 4}.Bytes()
	return append(dst, h[:]...)
}

// AppendReadyForQuery appends a ReadyForQuery of status (StatusIdle,
// StatusInTransaction or StatusFailed) to dst and returns the extended
// dst.
func AppendReadyForQuery(dst []byte, status byte) []byte {
	return append(dst, TypeReadyForQuery, 0, 0, 0, 5, status)
}

// AppendSSLRefusal appends the server's refusal of an SSLRequest or a
// GSSENCRequest, the single byte 'N', to dst and returns the extended
// dst. The client may then send its StartupMessage in clear on the same
// connection (or give up, if it requires encryption).
func AppendSSLRefusal(dst []byte) []byte { return append(dst, 'N') }

// AppendQuery appends a Query carrying sql to dst and returns the
// extended dst. sql must not hold a NUL: one that does is cut at it.
func AppendQuery(dst []byte, sql string) []byte {
	dst, start := beginMessage(dst, TypeQuery)
	return endMessage(appendCString(dst, sql), start)
}

// AppendSync appends a Sync to dst and returns the extended dst.
func AppendSync(dst []byte) []byte { return append(dst, TypeSync, 0, 0, 0, 4) }

// AppendTerminate appends a Terminate to dst and returns the extended
// dst.
func AppendTerminate(dst []byte) []byte { return append(dst, TypeTerminate, 0, 0, 0, 4) }
