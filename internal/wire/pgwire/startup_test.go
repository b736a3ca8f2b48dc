package pgwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// The first packets, as captured on the real server (postgres-wire notes)
// or built by the protocol's layout.
var (
	startup30 = []byte("\x00\x00\x00%\x00\x03\x00\x00user\x00postgres\x00database\x00test\x00\x00")
	sslReq    = []byte("\x00\x00\x00\x08\x04\xd2\x16\x2f")
	gssReq    = []byte("\x00\x00\x00\x08\x04\xd2\x16\x30")
	cancel30  = []byte("\x00\x00\x00\x10\x04\xd2\x16.\x00\x00\x0fh\x04\x98\f\xa2")
)

func TestPeekStartup(t *testing.T) {
	key32 := bytes.Repeat([]byte{0xab}, 32)
	tests := []struct {
		name string
		in   []byte
		want Startup
	}{
		{"v3.0", startup30, Startup{Kind: StartupMessage, Length: 37, Code: CodeProtocol30,
			Params: []Param{{"user", "postgres"}, {"database", "test"}}}},
		{"v3.2 with a protocol option", startupPacket(CodeProtocol32, "user\x00u\x00_pq_.test_option\x00on\x00\x00"),
			Startup{Kind: StartupMessage, Length: 36, Code: CodeProtocol32,
				Params: []Param{{"user", "u"}, {"_pq_.test_option", "on"}}}},
		{"no parameters", startupPacket(CodeProtocol30, "\x00"), Startup{Kind: StartupMessage, Length: 9, Code: CodeProtocol30}},
		{"empty value", startupPacket(CodeProtocol30, "options\x00\x00\x00"),
			Startup{Kind: StartupMessage, Length: 18, Code: CodeProtocol30, Params: []Param{{"options", ""}}}},
		{"SSLRequest", sslReq, Startup{Kind: SSLRequest, Length: 8, Code: CodeSSLRequest}},
		{"GSSENCRequest", gssReq, Startup{Kind: GSSENCRequest, Length: 8, Code: CodeGSSENCRequest}},
		{"CancelRequest v3.0", cancel30, Startup{Kind: CancelRequest, Length: 16, Code: CodeCancelRequest,
			ProcessID: 0x0f68, SecretKey: []byte{0x04, 0x98, 0x0c, 0xa2}}},
		{"CancelRequest v3.2", startupPacket(CodeCancelRequest, "\x00\x00\x00\x07"+string(key32)),
			Startup{Kind: CancelRequest, Length: 44, Code: CodeCancelRequest, ProcessID: 7, SecretKey: key32}},
		{"CancelRequest, 256-byte key", startupPacket(CodeCancelRequest, "\x00\x00\x00\x07"+strings.Repeat("k", 256)),
			Startup{Kind: CancelRequest, Length: 268, Code: CodeCancelRequest, ProcessID: 7, SecretKey: bytes.Repeat([]byte("k"), 256)}},
		{"v4.0", startupPacket(4<<16, "user\x00u\x00\x00"), Startup{Kind: UnsupportedVersion, Length: 16, Code: 4 << 16}},
		{"v2.0", startupPacket(2<<16, strings.Repeat("\x00", 288)), Startup{Kind: UnsupportedVersion, Length: 296, Code: 2 << 16}},
		{"direct TLS", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), Startup{Kind: DirectTLS}},
		{"direct TLS, one byte", []byte{0x16}, Startup{Kind: DirectTLS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Followed by more bytes, which it must not take; read whole
			// and a byte at a time.
			in := append(bytes.Clone(tt.in), "Q\x00\x00\x00\x05\x00"...)
			for _, src := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
				br := bufio.NewReaderSize(src, MaxStartupLength)
				got, err := PeekStartup(br)
				if err != nil {
					t.Fatal(err)
				}
				if got.Kind != tt.want.Kind || got.Length != tt.want.Length || got.Code != tt.want.Code ||
					got.ProcessID != tt.want.ProcessID || !bytes.Equal(got.SecretKey, tt.want.SecretKey) ||
					len(got.Params) != len(tt.want.Params) {
					t.Fatalf("got %+v\nwant %+v", got, tt.want)
				}
				for i := range got.Params {
					if got.Params[i] != tt.want.Params[i] {
						t.Fatalf("param %d: %+v, want %+v", i, got.Params[i], tt.want.Params[i])
					}
				}
				if rest, _ := io.ReadAll(br); !bytes.Equal(rest, in) {
					t.Fatalf("consumed %d bytes", len(in)-len(rest))
				}
			}
		})
	}
}

func TestStartupAccessors(t *testing.T) {
	s, err := ParseStartup(startup30)
	if err != nil {
		t.Fatal(err)
	}
	if s.User() != "postgres" || s.Database() != "test" || s.Major() != 3 || s.Minor() != 0 {
		t.Errorf("%q %q %d.%d", s.User(), s.Database(), s.Major(), s.Minor())
	}
	if v, ok := s.Param("application_name"); ok || v != "" {
		t.Errorf("application_name %q %v", v, ok)
	}
	// Without a database, the server takes the user's name.
	s, _ = ParseStartup(startupPacket(CodeProtocol32, "user\x00alice\x00\x00"))
	if s.Database() != "alice" || s.Minor() != 2 {
		t.Errorf("database %q, minor %d", s.Database(), s.Minor())
	}
	if got := SSLRequest.String() + " " + StartupKind(99).String(); got != "SSLRequest StartupKind(99)" {
		t.Errorf("%s", got)
	}
	for k := StartupMessage; k <= UnsupportedVersion; k++ {
		if strings.HasPrefix(k.String(), "StartupKind") {
			t.Errorf("%d has no name", k)
		}
	}
}

func TestPeekStartupMalformed(t *testing.T) {
	for name, in := range map[string][]byte{
		"length 7":                      []byte("\x00\x00\x00\x07\x00\x03\x00\x00"),
		"negative length":               []byte("\xff\xff\xff\xf0\x00\x03\x00\x00"),
		"over 10000":                    []byte("\x00\x00\x27\x11\x00\x03\x00\x00"),
		"SSLRequest of 12":              startupPacket(CodeSSLRequest, "abcd"),
		"GSSENCRequest of 9":            startupPacket(CodeGSSENCRequest, "\x00"),
		"CancelRequest with 3-byte key": startupPacket(CodeCancelRequest, "\x00\x00\x00\x01abc"),
		"CancelRequest with 257 bytes":  startupPacket(CodeCancelRequest, "\x00\x00\x00\x01"+strings.Repeat("k", 257)),
		"CancelRequest without key":     startupPacket(CodeCancelRequest, ""),
		"no terminator":                 startupPacket(CodeProtocol30, "user\x00u\x00"),
		"no terminator at all":          startupPacket(CodeProtocol30, ""),
		"name without NUL":              startupPacket(CodeProtocol30, "user"),
		"name without value":            startupPacket(CodeProtocol30, "user\x00"),
		"value without NUL":             startupPacket(CodeProtocol30, "user\x00u"),
		"bytes after terminator":        startupPacket(CodeProtocol30, "user\x00u\x00\x00x"),
	} {
		t.Run(name, func(t *testing.T) {
			br := bufio.NewReaderSize(bytes.NewReader(in), MaxStartupLength)
			if _, err := PeekStartup(br); !errors.Is(err, ErrMalformed) || errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%v", err)
			}
			if br.Buffered() != len(in) && len(in) <= 10000 && int(in[3]) == len(in) {
				t.Fatalf("consumed")
			}
		})
	}
}

func TestPeekStartupEnds(t *testing.T) {
	if _, err := PeekStartup(bufio.NewReader(bytes.NewReader(nil))); err != io.EOF {
		t.Errorf("empty: %v", err)
	}
	for _, cut := range []int{1, 4, 7, 8, 20, len(startup30) - 1} {
		_, err := PeekStartup(bufio.NewReader(bytes.NewReader(startup30[:cut])))
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	// A source's own error comes as it is.
	boom := errors.New("boom")
	if _, err := PeekStartup(bufio.NewReader(iotest.ErrReader(boom))); err != boom {
		t.Errorf("error source: %v", err)
	}
	// A packet larger than the reader's buffer is the caller's problem,
	// not the client's.
	big := startupPacket(CodeProtocol30, "options\x00"+strings.Repeat("x", 5000)+"\x00\x00")
	_, err := PeekStartup(bufio.NewReaderSize(bytes.NewReader(big), 4096))
	if !errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, ErrMalformed) {
		t.Errorf("packet beyond the buffer: %v", err)
	}
	if s, err := PeekStartup(bufio.NewReaderSize(bytes.NewReader(big), MaxStartupLength)); err != nil || len(s.Params[0].Value) != 5000 {
		t.Errorf("large packet: %v", err)
	}
	// ParseStartup wants the packet exactly.
	if _, err := ParseStartup(append(bytes.Clone(sslReq), 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("packet with a byte more: %v", err)
	}
	if _, err := ParseStartup(sslReq[:7]); !errors.Is(err, ErrMalformed) {
		t.Errorf("short packet: %v", err)
	}
}
