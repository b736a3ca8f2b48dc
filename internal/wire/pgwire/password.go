package pgwire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// AppendPassword appends a PasswordMessage carrying password, in clear,
// as a client answers AuthenticationCleartextPassword.
func AppendPassword(dst []byte, password string) []byte {
	dst, start := beginMessage(dst, TypePassword)
	dst = appendCString(dst, password)
	return endMessage(dst, start)
}

// MD5Password returns what a client answers AuthenticationMD5Password
// with for user and password, given the server's 4-byte salt:
// "md5" + hex(md5(hex(md5(password + user)) + salt)).
func MD5Password(user, password string, salt []byte) string {
	inner := md5.Sum([]byte(password + user))
	h := md5.New()
	h.Write([]byte(hex.EncodeToString(inner[:])))
	h.Write(salt)
	return "md5" + hex.EncodeToString(h.Sum(nil))
}

// SCRAMMechanism is the SASL mechanism a SCRAM client speaks.
const SCRAMMechanism = "SCRAM-SHA-256"

// A SCRAM is the client's side of one SCRAM-SHA-256 exchange (RFC 5802,
// RFC 7677), as PostgreSQL runs it: without channel binding, the user
// name left empty (the server takes the StartupMessage's).
type SCRAM struct {
	password    string
	nonce       string // the client's
	first       string // client-first-message-bare
	serverProof []byte // the ServerSignature the final message must carry
}

// NewSCRAM starts an exchange for password, with a random nonce.
func NewSCRAM(password string) *SCRAM {
	b := make([]byte, 18)
	rand.Read(b)
	return newSCRAM(password, base64.StdEncoding.EncodeToString(b))
}

func newSCRAM(password, nonce string) *SCRAM {
	return &SCRAM{password: password, nonce: nonce, first: "n=,r=" + nonce}
}

// AppendInitial appends the SASLInitialResponse that answers
// AuthenticationSASL: the mechanism and the client-first-message.
func (s *SCRAM) AppendInitial(dst []byte) []byte {
	msg := "n,," + s.first
	dst, start := beginMessage(dst, TypePassword)
	dst = appendCString(dst, SCRAMMechanism)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(msg)))
	dst = append(dst, msg...)
	return endMessage(dst, start)
}

// AppendFinal appends the SASLResponse that answers
// AuthenticationSASLContinue, whose data is the server-first-message:
// the client-final-message with the proof of the password. An error
// wraps ErrMalformed if the server's message is not one.
func (s *SCRAM) AppendFinal(dst []byte, serverFirst []byte) ([]byte, error) {
	nonce, salt, n, err := parseServerFirst(serverFirst)
	if err != nil || !strings.HasPrefix(nonce, s.nonce) {
		return dst, malformed("SCRAM server-first-message %q", serverFirst)
	}
	salted, err := pbkdf2.Key(sha256.New, s.password, salt, n, sha256.Size)
	if err != nil {
		return dst, fmt.Errorf("pgwire: SCRAM: %w", err)
	}
	withoutProof := "c=biws,r=" + nonce // biws: base64 of "n,,"
	authMessage := s.first + "," + string(serverFirst) + "," + withoutProof
	clientKey := scramHMAC(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	signature := scramHMAC(storedKey[:], authMessage)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ signature[i]
	}
	s.serverProof = scramHMAC(scramHMAC(salted, "Server Key"), authMessage)
	msg := withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
	dst, start := beginMessage(dst, TypePassword)
	dst = append(dst, msg...)
	return endMessage(dst, start), nil
}

// Verify checks the data of AuthenticationSASLFinal: the server proves it
// knew the password too. An error wraps ErrMalformed.
func (s *SCRAM) Verify(serverFinal []byte) error {
	v, err := base64.StdEncoding.DecodeString(scramAttrs(string(serverFinal))["v"])
	if err != nil || s.serverProof == nil || !hmac.Equal(v, s.serverProof) {
		return malformed("SCRAM server-final-message %q does not prove the password", serverFinal)
	}
	return nil
}

// maxSCRAMIterations bounds the iteration count a server may ask for.
const maxSCRAMIterations = 1 << 20

// parseServerFirst reads a server-first-message: the nonce, the salt and
// the iteration count. An error wraps ErrMalformed.
func parseServerFirst(msg []byte) (nonce string, salt []byte, iter int, err error) {
	attrs := scramAttrs(string(msg))
	salt, serr := base64.StdEncoding.DecodeString(attrs["s"])
	iter, ierr := strconv.Atoi(attrs["i"])
	if attrs["r"] == "" || serr != nil || ierr != nil || iter < 1 || iter > maxSCRAMIterations {
		return "", nil, 0, malformed("SCRAM server-first-message %q", msg)
	}
	return attrs["r"], salt, iter, nil
}

func scramHMAC(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// scramAttrs splits a SCRAM message into its attributes, "k=v" by
// commas.
func scramAttrs(msg string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(msg, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && len(k) == 1 {
			out[k] = v
		}
	}
	return out
}
