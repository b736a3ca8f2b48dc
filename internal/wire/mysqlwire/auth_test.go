package mysqlwire

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestNativePassword: the value of the definition for password "secret"
// and the scramble 01 02 … 14, as computed by Python's hashlib.
func TestNativePassword(t *testing.T) {
	scramble := make([]byte, 20)
	for i := range scramble {
		scramble[i] = byte(i + 1)
	}
	if got, want := hex.EncodeToString(NativePassword("secret", scramble)), "b32bb3a583e1340c0a1108d58b1be49781ad8c2f"; got != want {
		t.Errorf("NativePassword = %s, want %s", got, want)
	}
	if NativePassword("", scramble) != nil {
		t.Error("an empty password gives a response")
	}
}

// TestHandshakeResponseFixture reads the handshake response that
// go-sql-driver sent MariaDB, writes it back byte for byte, and writes it
// with another user and response.
func TestHandshakeResponseFixture(t *testing.T) {
	pkt := readFixture(t, "handshake-response.client")
	payload := pkt[4:]
	r, err := ParseHandshakeResponse(payload)
	if err != nil {
		t.Fatal(err)
	}
	if r.User != "root" || r.Database != "test" || r.AuthPlugin != NativePlugin {
		t.Errorf("user %q, database %q, plugin %q", r.User, r.Database, r.AuthPlugin)
	}
	if got := r.Append(nil); !bytes.Equal(got, payload) {
		t.Fatalf("written back:\n% x\nwant\n% x", got, payload)
	}
	r.User, r.Auth = "alice", bytes.Repeat([]byte{0xab}, 20)
	again, err := ParseHandshakeResponse(r.Append(nil))
	if err != nil || again.User != "alice" || !bytes.Equal(again.Auth, r.Auth) || again.Database != "test" || again.AuthPlugin != NativePlugin {
		t.Errorf("rewritten: %+v, %v", again, err)
	}
	g, err := ParseGreeting(readFixture(t, "greeting.server")[4:])
	if err != nil || len(g.AuthData) != 20 {
		t.Errorf("the greeting's scramble: %d bytes, %v", len(g.AuthData), err)
	}
}

func TestParseAuthSwitch(t *testing.T) {
	plugin, data, ok := ParseAuthSwitch([]byte("\xfemysql_native_password\x00abcdefghijklmnopqrst\x00"))
	if !ok || plugin != NativePlugin || string(data) != "abcdefghijklmnopqrst" {
		t.Errorf("%q %q %v", plugin, data, ok)
	}
	if _, _, ok := ParseAuthSwitch([]byte{0x00, 0, 0}); ok {
		t.Error("an OK packet read as a switch")
	}
}

func FuzzParseHandshakeResponse(f *testing.F) {
	f.Add(readFixture(f, "handshake-response.client")[4:])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseHandshakeResponse(b)
		if err != nil {
			return
		}
		again, err := ParseHandshakeResponse(r.Append(nil))
		if err != nil || again.User != r.User || !bytes.Equal(again.Auth, r.Auth) {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}
