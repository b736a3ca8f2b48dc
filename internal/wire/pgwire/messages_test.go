package pgwire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// payloadOf returns the payload of a whole message.
func payloadOf(t testing.TB, m []byte) []byte {
	t.Helper()
	_, payload, rest, err := SplitMessage(m)
	if err != nil || len(rest) != 0 {
		t.Fatalf("%q: %v, %d bytes after", m, err, len(rest))
	}
	return payload
}

// mustMalformed checks that each payload is refused as malformed.
func mustMalformed(t *testing.T, what string, parse func([]byte) error, payloads ...string) {
	t.Helper()
	for _, p := range payloads {
		if err := parse([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s %q: %v", what, p, err)
		}
	}
}

func TestParseQuery(t *testing.T) {
	sql, err := ParseQuery([]byte("SELECT 1; SELECT 2\x00"))
	if err != nil || string(sql) != "SELECT 1; SELECT 2" {
		t.Errorf("%q %v", sql, err)
	}
	if sql, err := ParseQuery([]byte("\x00")); err != nil || len(sql) != 0 {
		t.Errorf("empty query: %q %v", sql, err)
	}
	mustMalformed(t, "Query", func(b []byte) error { _, err := ParseQuery(b); return err },
		"", "SELECT 1", "SELECT 1\x00x", "SELECT\x001\x00")
}

func TestParseParse(t *testing.T) {
	p, err := ParseParse(payloadOf(t, msg(TypeParse, "stmtcache_1\x00SELECT $1::int\x00", int16(2), int32(23), int32(25))))
	if err != nil || string(p.Name) != "stmtcache_1" || string(p.Query) != "SELECT $1::int" || p.ParamTypes != 2 {
		t.Errorf("%+v %v", p, err)
	}
	// The unnamed statement, 65535 parameter types (the count is unsigned).
	many := msg(TypeParse, "\x00q\x00", int16(-1), strings.Repeat("\x00\x00\x00\x17", 65535))
	if p, err := ParseParse(payloadOf(t, many)); err != nil || len(p.Name) != 0 || p.ParamTypes != 65535 {
		t.Errorf("%d %v", p.ParamTypes, err)
	}
	mustMalformed(t, "Parse", func(b []byte) error { _, err := ParseParse(b); return err },
		"", "s", "s\x00q", "s\x00q\x00", "s\x00q\x00\x00", "s\x00q\x00\x00\x01\x00\x00\x00",
		"s\x00q\x00\x00\x00x", "s\x00q\x00\x00\x01\x00\x00\x00\x17\x00")
}

func TestParseBind(t *testing.T) {
	// Portal p1, statement s1, formats [1], values "42" and NULL, result
	// formats [0, 1].
	m := msg(TypeBind, "p1\x00s1\x00", int16(1), int16(1), int16(2), int32(2), "42", int32(-1), int16(2), int16(0), int16(1))
	b, err := ParseBind(payloadOf(t, m))
	if err != nil || string(b.Portal) != "p1" || string(b.Statement) != "s1" || b.Params != 2 {
		t.Errorf("%+v %v", b, err)
	}
	b, err = ParseBind([]byte("\x00\x00\x00\x00\x00\x00\x00\x00"))
	if err != nil || len(b.Portal)+len(b.Statement) != 0 || b.Params != 0 {
		t.Errorf("unnamed, empty: %+v %v", b, err)
	}
	mustMalformed(t, "Bind", func(b []byte) error { _, err := ParseBind(b); return err },
		"", "p", "p\x00", "p\x00s\x00", "p\x00s\x00\x00\x01", "p\x00s\x00\x00\x00",
		"p\x00s\x00\x00\x00\x00\x01\x00\x00\x00\x05abc\x00\x00",       // value overruns
		"p\x00s\x00\x00\x00\x00\x01\xff\xff\xff\xfe\x00\x00",          // length -2
		"p\x00s\x00\x00\x00\x00\x00\x00\x00x",                         // trailing byte
		"p\x00s\x00\x00\x00\x00\x00\x00\x02\x00\x00",                  // result formats overrun
		"p\x00s\x00\x00\x00\x00\x01\x00\x00\x00\x01a\x00\x00\x00\x00") // trailing
}

func TestParseExecuteCloseDescribe(t *testing.T) {
	e, err := ParseExecute(payloadOf(t, msg(TypeExecute, "\x00", int32(0))))
	if err != nil || len(e.Portal) != 0 || e.MaxRows != 0 {
		t.Errorf("%+v %v", e, err)
	}
	if e, err = ParseExecute([]byte("p\x00\x00\x00\x00\x01")); err != nil || string(e.Portal) != "p" || e.MaxRows != 1 {
		t.Errorf("%+v %v", e, err)
	}
	mustMalformed(t, "Execute", func(b []byte) error { _, err := ParseExecute(b); return err },
		"", "p", "p\x00", "p\x00\x00\x00\x00", "p\x00\x00\x00\x00\x01\x00")
	for _, parse := range []func([]byte) (Target, error){ParseClose, ParseDescribe} {
		if c, err := parse([]byte("Sstmtcache_9\x00")); err != nil || c.Kind != TargetStatement || string(c.Name) != "stmtcache_9" {
			t.Errorf("%+v %v", c, err)
		}
		if c, err := parse([]byte("P\x00")); err != nil || c.Kind != TargetPortal || len(c.Name) != 0 {
			t.Errorf("%+v %v", c, err)
		}
		mustMalformed(t, "Close/Describe", func(b []byte) error { _, err := parse(b); return err },
			"", "S", "X\x00", "Sname", "Sa\x00b\x00")
	}
	if err := ParseEmpty(nil); err != nil {
		t.Error(err)
	}
	mustMalformed(t, "Sync", ParseEmpty, "x")
}

func TestParseReadyForQuery(t *testing.T) {
	for _, s := range "ITE" {
		m := AppendReadyForQuery(nil, byte(s))
		if st, err := ParseReadyForQuery(payloadOf(t, m)); err != nil || st != byte(s) {
			t.Errorf("%c: %c %v", s, st, err)
		}
	}
	if m := AppendReadyForQuery(nil, 'I'); string(m) != "Z\x00\x00\x00\x05I" {
		t.Errorf("%q", m)
	}
	mustMalformed(t, "ReadyForQuery", func(b []byte) error { _, err := ParseReadyForQuery(b); return err },
		"", "X", "II")
}

// Errors as the real server sent them (postgres-wire notes).
const (
	raw57014 = "E\x00\x00\x00hSERROR\x00VERROR\x00C57014\x00Mcanceling statement due to user request\x00Fpostgres.c\x00L3349\x00RProcessInterrupts\x00\x00"
	raw57P01 = "E\x00\x00\x00tSFATAL\x00VFATAL\x00C57P01\x00Mterminating connection due to administrator command\x00Fpostgres.c\x00L3211\x00RProcessInterrupts\x00\x00"
	raw28P01 = "E\x00\x00\x00gSFATAL\x00VFATAL\x00C28P01\x00Mpassword authentication failed for user \"md5user\"\x00Fauth.c\x00L334\x00Rauth_failed\x00\x00"
)

func TestErrorFields(t *testing.T) {
	e, err := ParseErrorFields(payloadOf(t, []byte(raw57014)))
	want := ErrorFields{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "57014",
		Message: "canceling statement due to user request", File: "postgres.c", Line: "3349", Routine: "ProcessInterrupts"}
	if err != nil || !reflect.DeepEqual(e, want) || e.Fatal() {
		t.Errorf("%+v %v", e, err)
	}
	for _, raw := range []string{raw57014, raw57P01, raw28P01} {
		e, err := ParseErrorFields(payloadOf(t, []byte(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendErrorResponse(nil, e); string(got) != raw {
			t.Errorf("AppendErrorResponse: %q\nserver sent: %q", got, raw)
		}
		if e.Fatal() != (e.Severity == "FATAL") {
			t.Errorf("%s: Fatal %v", e.Code, e.Fatal())
		}
	}
	// Every field, in the server's order, and unknown ones after.
	all := ErrorFields{"S", "V", "C", "M", "D", "H", "P", "p", "q", "W", "s", "t", "c", "d", "n", "F", "L", "R",
		[]ErrorField{{'Y', "y"}, {'Z', ""}}}
	m := AppendErrorResponse([]byte("x"), all)
	want2 := "x" + "E\x00\x00\x00\x40" + "SS\x00VV\x00CC\x00MM\x00DD\x00HH\x00PP\x00pp\x00qq\x00WW\x00ss\x00tt\x00cc\x00dd\x00nn\x00FF\x00LL\x00RR\x00Yy\x00Z\x00\x00"
	if string(m) != want2 {
		t.Errorf("%q\nwant %q", m, want2)
	}
	if back, err := ParseErrorFields(payloadOf(t, m[1:])); err != nil || !reflect.DeepEqual(back, all) {
		t.Errorf("round trip: %+v %v", back, err)
	}
	// A notice is the same fields under another type; a localized
	// severity does not hide a FATAL; NULs cannot break the framing.
	n := AppendNoticeResponse(nil, ErrorFields{Severity: "FATAL", SeverityUnlocalized: "FATAL", Message: "a\x00b", Other: []ErrorField{{0, "x"}}})
	if string(n) != "N\x00\x00\x00\x16SFATAL\x00VFATAL\x00Ma\x00\x00" {
		t.Errorf("%q", n)
	}
	if e := (ErrorFields{Severity: "FATAL"}); !e.Fatal() {
		t.Error("FATAL without V")
	}
	if e := (ErrorFields{Severity: "SCHWERWIEGEND", SeverityUnlocalized: "PANIC"}); !e.Fatal() {
		t.Error("localized PANIC")
	}
	// Empty fields are absent: an empty ErrorFields is the terminator alone.
	if m := AppendErrorResponse(nil, ErrorFields{}); string(m) != "E\x00\x00\x00\x05\x00" {
		t.Errorf("%q", m)
	}
	// A field that comes twice keeps its last value.
	if e, _ := ParseErrorFields([]byte("Ca\x00Cb\x00\x00")); e.Code != "b" {
		t.Errorf("%q", e.Code)
	}
	mustMalformed(t, "ErrorResponse", func(b []byte) error { _, err := ParseErrorFields(b); return err },
		"", "SERROR\x00", "SERROR", "SERROR\x00\x00x", "S")
}

func TestParseBackendMessages(t *testing.T) {
	if tag, err := ParseCommandComplete([]byte("INSERT 0 1\x00")); err != nil || string(tag) != "INSERT 0 1" {
		t.Errorf("%q %v", tag, err)
	}
	mustMalformed(t, "CommandComplete", func(b []byte) error { _, err := ParseCommandComplete(b); return err }, "", "SELECT 1", "a\x00b\x00")

	row := msg(TypeDataRow, int16(3), int32(1), "1", int32(-1), int32(0))
	if n, err := ParseDataRow(payloadOf(t, row)); err != nil || n != 3 {
		t.Errorf("%d %v", n, err)
	}
	mustMalformed(t, "DataRow", func(b []byte) error { _, err := ParseDataRow(b); return err },
		"", "\x00", "\x00\x01", "\x00\x01\x00\x00\x00\x02a", "\x00\x01\x00\x00\x00\x00x", "\x00\x00x", "\x00\x01\xff\xff\xff\xfd")

	desc := msg(TypeRowDescription, int16(2), "id\x00", strings.Repeat("\x01", 18), "name\x00", strings.Repeat("\x02", 18))
	if n, err := ParseRowDescription(payloadOf(t, desc)); err != nil || n != 2 {
		t.Errorf("%d %v", n, err)
	}
	mustMalformed(t, "RowDescription", func(b []byte) error { _, err := ParseRowDescription(b); return err },
		"", "\x00", "\x00\x01id\x00", "\x00\x01id", "\x00\x00x", "\x00\x01id\x00"+strings.Repeat("x", 19))

	k, err := ParseBackendKeyData(payloadOf(t, []byte("K\x00\x00\x00\x0c\x00\x00\r\xf1\t\x82\xb5g")))
	if err != nil || k.ProcessID != 3569 || !bytes.Equal(k.SecretKey, []byte("\t\x82\xb5g")) {
		t.Errorf("%+v %v", k, err)
	}
	k, err = ParseBackendKeyData(append([]byte{0, 0, 0, 9}, bytes.Repeat([]byte{7}, 32)...))
	if err != nil || k.ProcessID != 9 || len(k.SecretKey) != 32 {
		t.Errorf("3.2 key: %+v %v", k, err)
	}
	mustMalformed(t, "BackendKeyData", func(b []byte) error { _, err := ParseBackendKeyData(b); return err },
		"", "\x00\x00\x00\x01abc", "\x00\x00\x00\x01"+strings.Repeat("k", 257))

	name, value, err := ParseParameterStatus(payloadOf(t, []byte("S\x00\x00\x00\x1bapplication_name\x00probe\x00")))
	if err != nil || string(name) != "application_name" || string(value) != "probe" {
		t.Errorf("%q %q %v", name, value, err)
	}
	mustMalformed(t, "ParameterStatus", func(b []byte) error { _, _, err := ParseParameterStatus(b); return err },
		"", "a", "a\x00b", "a\x00b\x00c")

	n, err := ParseNotificationResponse(payloadOf(t, []byte("A\x00\x00\x00\x1d\x00\x00\x0e\x90research_ch\x00payload1\x00")))
	if err != nil || n.ProcessID != 3728 || string(n.Channel) != "research_ch" || string(n.Payload) != "payload1" {
		t.Errorf("%+v %v", n, err)
	}
	mustMalformed(t, "NotificationResponse", func(b []byte) error { _, err := ParseNotificationResponse(b); return err },
		"", "\x00\x00\x00\x01", "\x00\x00\x00\x01ch\x00", "\x00\x00\x00\x01ch\x00p\x00x")

	cp, err := ParseCopyResponse(payloadOf(t, []byte("G\x00\x00\x00\x0b\x00\x00\x02\x00\x00\x00\x00")))
	if err != nil || cp != (CopyResponse{0, 2}) {
		t.Errorf("%+v %v", cp, err)
	}
	if cp, err := ParseCopyResponse([]byte("\x01\x00\x01\x00\x01")); err != nil || cp != (CopyResponse{1, 1}) {
		t.Errorf("%+v %v", cp, err)
	}
	mustMalformed(t, "CopyResponse", func(b []byte) error { _, err := ParseCopyResponse(b); return err },
		"", "\x02\x00\x00", "\x00\x00", "\x00\x00\x01", "\x00\x00\x00x")

	v, opts, err := ParseNegotiateProtocolVersion(payloadOf(t, []byte("v\x00\x00\x00\x1d\x00\x03\x00\x00\x00\x00\x00\x01_pq_.test_option\x00")))
	if err != nil || v != CodeProtocol30 || len(opts) != 1 || string(opts[0]) != "_pq_.test_option" {
		t.Errorf("%x %q %v", v, opts, err)
	}
	mustMalformed(t, "NegotiateProtocolVersion", func(b []byte) error { _, _, err := ParseNegotiateProtocolVersion(b); return err },
		"", "\x00\x03\x00\x00", "\x00\x03\x00\x00\x00\x00\x00\x01", "\x00\x03\x00\x00\x00\x00\x00\x01a",
		"\x00\x03\x00\x00\x00\x00\x00\x00x", "\x00\x03\x00\x00\xff\xff\xff\xffa\x00")
}

func TestParseAuthentication(t *testing.T) {
	tests := []struct {
		raw  string
		kind AuthKind
		data string
	}{
		{"R\x00\x00\x00\x08\x00\x00\x00\x00", AuthOK, ""},
		{"R\x00\x00\x00\x08\x00\x00\x00\x03", AuthCleartextPassword, ""},
		{"R\x00\x00\x00\x0c\x00\x00\x00\x05salt", AuthMD5Password, "salt"},
		{"R\x00\x00\x00\x17\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00", AuthSASL, "SCRAM-SHA-256\x00\x00"},
		{"R\x00\x00\x00\x0d\x00\x00\x00\x0br=abc", AuthSASLContinue, "r=abc"},
		{"R\x00\x00\x00\x0d\x00\x00\x00\x0cv=xyz", AuthSASLFinal, "v=xyz"},
		{"R\x00\x00\x00\x08\x00\x00\x00\x07", AuthGSS, ""},
		{"R\x00\x00\x00\x0a\x00\x00\x00\x08gs", AuthGSSContinue, "gs"},
	}
	for _, tt := range tests {
		a, err := ParseAuthentication(payloadOf(t, []byte(tt.raw)))
		if err != nil || a.Kind != tt.kind || string(a.Data) != tt.data {
			t.Errorf("%q: %+v %v", tt.raw, a, err)
		}
	}
	a, _ := ParseAuthentication([]byte("\x00\x00\x00\x0aSCRAM-SHA-256-PLUS\x00SCRAM-SHA-256\x00\x00"))
	if m := a.SASLMechanisms(); !reflect.DeepEqual(m, []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}) {
		t.Errorf("%q", m)
	}
	if m := (Auth{Kind: AuthOK}).SASLMechanisms(); m != nil {
		t.Errorf("%q", m)
	}
	mustMalformed(t, "Authentication", func(b []byte) error { _, err := ParseAuthentication(b); return err },
		"", "\x00\x00\x00", "\x00\x00\x00\x00x", "\x00\x00\x00\x05abc", "\x00\x00\x00\x0aSCRAM\x00",
		"\x00\x00\x00\x0aSCRAM", "\x00\x00\x00\x0aSCRAM\x00\x00x", "\x00\x00\x00\x63")
}

func TestEncoders(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{string(AppendSSLRefusal([]byte("x"))), "xN"},
		{string(AppendQuery(nil, "SELECT 1")), "Q\x00\x00\x00\x0dSELECT 1\x00"},
		{string(AppendQuery(nil, "")), "Q\x00\x00\x00\x05\x00"},
		{string(AppendQuery(nil, "SELECT 1\x00; DROP")), "Q\x00\x00\x00\x0dSELECT 1\x00"},
		{string(AppendSync(nil)), "S\x00\x00\x00\x04"},
		{string(AppendTerminate(nil)), "X\x00\x00\x00\x04"},
		{string(AppendHeader(nil, 'd', 3)), "d\x00\x00\x00\x07"},
		{string(AppendQuery(AppendSync(nil), "ROLLBACK")), "S\x00\x00\x00\x04Q\x00\x00\x00\x0dROLLBACK\x00"},
	} {
		if tt.got != tt.want {
			t.Errorf("%q, want %q", tt.got, tt.want)
		}
	}
	// What the encoders write, the parsers read.
	if sql, err := ParseQuery(payloadOf(t, AppendQuery(nil, "BEGIN"))); err != nil || string(sql) != "BEGIN" {
		t.Errorf("%q %v", sql, err)
	}
	if err := ParseEmpty(payloadOf(t, AppendSync(nil))); err != nil {
		t.Error(err)
	}
}
