package pgwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Helpers of the tests: message builders, a stream framer and a parser
// for any message, used to build and check fixtures.

// capturing reports whether the tests that record the real server write
// what they record to testdata (FAULTS_CAPTURE=1).
func capturing() bool { return os.Getenv("FAULTS_CAPTURE") == "1" }

// readFixture returns the contents of testdata/name.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFixture writes b to testdata/name.
func writeFixture(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote testdata/%s (%d bytes)", name, len(b))
}

// msg returns a message of type t whose payload is the parts joined;
// strings are written as they are (add "\x00" where the protocol wants
// one).
func msg(t byte, parts ...any) []byte {
	var payload []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			payload = append(payload, v...)
		case []byte:
			payload = append(payload, v...)
		case byte:
			payload = append(payload, v)
		case int16:
			payload = binary.BigEndian.AppendUint16(payload, uint16(v))
		case int32:
			payload = binary.BigEndian.AppendUint32(payload, uint32(v))
		case uint32:
			payload = binary.BigEndian.AppendUint32(payload, v)
		default:
			panic(fmt.Sprintf("msg: %T", p))
		}
	}
	return append(AppendHeader(nil, t, len(payload)), payload...)
}

// startupPacket returns a first packet: the length, code and body.
func startupPacket(code uint32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	b = binary.BigEndian.AppendUint32(b, code)
	return append(b, body...)
}

// framed is one message of a stream.
type framed struct {
	h       Header
	payload []byte
	raw     []byte
}

// frameStream frames a stream of regular messages, whole, with a bufio
// reader of size bytes, as a relay does: header, payload, message copied.
func frameStream(t testing.TB, stream []byte, size int) []framed {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(stream), size)
	var out []framed
	for {
		h, err := PeekHeader(br)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("message %d: %v", len(out), err)
		}
		var payload []byte
		if h.Size() <= br.Size() {
			if payload, err = PeekPayload(br, h, h.PayloadLen()); err != nil {
				t.Fatalf("message %d (%v): %v", len(out), h, err)
			}
			payload = bytes.Clone(payload)
		}
		raw, err := ReadMessage(nil, br, h, MaxLength)
		if err != nil {
			t.Fatalf("message %d (%v): %v", len(out), h, err)
		}
		if payload != nil && !bytes.Equal(payload, raw[HeaderLen:]) {
			t.Fatalf("message %d (%v): peeked payload differs from the one read", len(out), h)
		}
		out = append(out, framed{h, raw[HeaderLen:], raw})
	}
}

// parseFrontend parses a client's message with its type's parser.
func parseFrontend(h Header, payload []byte) (any, error) {
	switch h.Type {
	case TypeQuery:
		return ParseQuery(payload)
	case TypeParse:
		return ParseParse(payload)
	case TypeBind:
		return ParseBind(payload)
	case TypeExecute:
		return ParseExecute(payload)
	case TypeClose:
		return ParseClose(payload)
	case TypeDescribe:
		return ParseDescribe(payload)
	case TypeSync, TypeFlush, TypeTerminate, TypeCopyDone:
		return nil, ParseEmpty(payload)
	}
	return nil, nil
}

// parseBackend parses a server's message with its type's parser.
func parseBackend(h Header, payload []byte) (any, error) {
	switch h.Type {
	case TypeReadyForQuery:
		return ParseReadyForQuery(payload)
	case TypeErrorResponse, TypeNoticeResponse:
		return ParseErrorFields(payload)
	case TypeCommandComplete:
		return ParseCommandComplete(payload)
	case TypeDataRow:
		return ParseDataRow(payload)
	case TypeRowDescription:
		return ParseRowDescription(payload)
	case TypeBackendKeyData:
		return ParseBackendKeyData(payload)
	case TypeAuthentication:
		return ParseAuthentication(payload)
	case TypeParameterStatus:
		name, value, err := ParseParameterStatus(payload)
		return [2][]byte{name, value}, err
	case TypeNotificationResponse:
		return ParseNotificationResponse(payload)
	case TypeCopyInResponse, TypeCopyOutResponse, TypeCopyBothResponse:
		return ParseCopyResponse(payload)
	case TypeNegotiateProtocolVersion:
		v, opts, err := ParseNegotiateProtocolVersion(payload)
		return fmt.Sprint(v, opts), err
	case TypeParseComplete, TypeBindComplete, TypeCloseComplete, TypeNoData,
		TypePortalSuspended, TypeEmptyQueryResponse, TypeCopyDone:
		return nil, ParseEmpty(payload)
	}
	return nil, nil
}
