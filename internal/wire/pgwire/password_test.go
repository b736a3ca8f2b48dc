package pgwire

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestSCRAMVector runs the exchange of RFC 7677, section 3 (user "user",
// password "pencil"), with its nonce: the client's messages and the proof
// must be the RFC's, and its server signature accepted. PostgreSQL leaves
// the user name empty ("n="): the client-first-message-bare differs from
// the RFC's in that alone, so the vector is checked with the RFC's.
func TestSCRAMVector(t *testing.T) {
	s := newSCRAM("pencil", "rOprNGfwEbeRWgbNEkqO")
	s.first = "n=user,r=rOprNGfwEbeRWgbNEkqO" // the RFC's user
	serverFirst := "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	msg, err := s.AppendFinal(nil, []byte(serverFirst))
	if err != nil {
		t.Fatal(err)
	}
	want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	if got := string(msg[5:]); got != want {
		t.Errorf("client-final-message\n%s\nwant\n%s", got, want)
	}
	if err := s.Verify([]byte("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")); err != nil {
		t.Error(err)
	}
	if err := s.Verify([]byte("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")); err == nil {
		t.Error("a wrong server signature is accepted")
	}
	if _, err := s.AppendFinal(nil, []byte("r=someone-elses-nonce,s=QSXCR+Q6sek8bf92,i=4096")); err == nil {
		t.Error("a server nonce not extending the client's is accepted")
	}
}

func TestSCRAMInitial(t *testing.T) {
	m := newSCRAM("pw", "abc").AppendInitial(nil)
	if m[0] != TypePassword || int(binary.BigEndian.Uint32(m[1:])) != len(m)-1 {
		t.Fatalf("header % x", m[:5])
	}
	body := string(m[5:])
	if !strings.HasPrefix(body, "SCRAM-SHA-256\x00") || !strings.HasSuffix(body, "n,,n=,r=abc") {
		t.Errorf("SASLInitialResponse %q", body)
	}
}

// TestMD5Password: the value of the definition for user "postgres",
// password "secret" and salt 01 02 03 04, as computed by Python's hashlib:
// "md5" + md5(md5("secretpostgres").hexdigest() + salt).hexdigest().
func TestMD5Password(t *testing.T) {
	if got, want := MD5Password("postgres", "secret", []byte{1, 2, 3, 4}), "md5bb41a296aab6baccb36ff243a562abff"; got != want {
		t.Errorf("MD5Password = %q, want %q", got, want)
	}
}

// FuzzParseServerFirst: whatever a server sends as its first SCRAM
// message, reading it never panics, and what it accepts is usable.
func FuzzParseServerFirst(f *testing.F) {
	f.Add([]byte("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
	f.Add([]byte("r=,s=,i=0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		nonce, _, iter, err := parseServerFirst(b)
		if err == nil && (nonce == "" || iter < 1 || iter > maxSCRAMIterations) {
			t.Fatalf("accepted nonce %q, %d iterations", nonce, iter)
		}
	})
}
