package mysqlwire

import (
	"bytes"
	"crypto/sha1"
)

// NativePlugin is the name of MySQL's native password authentication.
const NativePlugin = "mysql_native_password"

// NativePassword returns what a client sends for password under
// mysql_native_password, given the server's scramble:
// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); nothing for an
// empty password.
func NativePassword(password string, scramble []byte) []byte {
	if password == "" {
		return nil
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	h := sha1.New()
	h.Write(scramble[:min(len(scramble), 20)])
	h.Write(h2[:])
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= h1[i]
	}
	return out
}

// HandshakeResponse is a client's HandshakeResponse41 read whole: the
// fixed start, then the fields that follow it.
type HandshakeResponse struct {
	ClientHello
	User       string
	Auth       []byte // the authentication response
	Database   string // if ClientConnectWithDB
	AuthPlugin string // if ClientPluginAuth
	fixed      []byte // the first 32 bytes
	attrs      []byte // what follows the plugin: connection attributes
}

// ParseHandshakeResponse reads a HandshakeResponse41 payload whole. A
// payload that is not one (an SSLRequest, a pre-4.1 response, fields cut
// short) is an error wrapping ErrMalformed. The result copies what it
// keeps.
func ParseHandshakeResponse(payload []byte) (HandshakeResponse, error) {
	var r HandshakeResponse
	h, err := ParseClientHello(payload)
	if err != nil {
		return r, err
	}
	if h.Capabilities&ClientProtocol41 == 0 || h.SSLRequest {
		return r, malformed("not a HandshakeResponse41")
	}
	r.ClientHello = h
	r.fixed = append([]byte(nil), payload[:32]...)
	rest := payload[32:]
	cstring := func(what string) (string, bool) {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return "", false
		}
		s := string(rest[:i])
		rest = rest[i+1:]
		return s, true
	}
	var ok bool
	if r.User, ok = cstring("user"); !ok {
		return r, malformed("handshake response's user has no end")
	}
	switch {
	case h.Capabilities&ClientPluginAuthLenencData != 0:
		n, k, ok := ParseLenEnc(rest)
		if !ok || uint64(len(rest)-k) < n {
			return r, malformed("handshake response's auth data cut short")
		}
		r.Auth = append([]byte(nil), rest[k:k+int(n)]...)
		rest = rest[k+int(n):]
	case h.Capabilities&ClientSecureConnection != 0:
		if len(rest) < 1 || len(rest)-1 < int(rest[0]) {
			return r, malformed("handshake response's auth data cut short")
		}
		r.Auth = append([]byte(nil), rest[1:1+int(rest[0])]...)
		rest = rest[1+int(rest[0]):]
	default:
		s, ok := cstring("auth")
		if !ok {
			return r, malformed("handshake response's auth data has no end")
		}
		r.Auth = []byte(s)
	}
	if h.Capabilities&ClientConnectWithDB != 0 && len(rest) > 0 {
		if r.Database, ok = cstring("database"); !ok {
			return r, malformed("handshake response's database has no end")
		}
	}
	if h.Capabilities&ClientPluginAuth != 0 && len(rest) > 0 {
		if r.AuthPlugin, ok = cstring("plugin"); !ok {
			return r, malformed("handshake response's plugin has no end")
		}
	}
	r.attrs = append([]byte(nil), rest...)
	return r, nil
}

// Append appends the response's payload, as ParseHandshakeResponse read
// it but for the fields changed since, to dst.
func (r HandshakeResponse) Append(dst []byte) []byte {
	dst = append(dst, r.fixed...)
	dst = append(append(dst, r.User...), 0)
	switch {
	case r.Capabilities&ClientPluginAuthLenencData != 0:
		dst = AppendLenEnc(dst, uint64(len(r.Auth)))
		dst = append(dst, r.Auth...)
	case r.Capabilities&ClientSecureConnection != 0:
		dst = append(dst, byte(len(r.Auth)))
		dst = append(dst, r.Auth...)
	default:
		dst = append(append(dst, r.Auth...), 0)
	}
	if r.Capabilities&ClientConnectWithDB != 0 {
		dst = append(append(dst, r.Database...), 0)
	}
	if r.Capabilities&ClientPluginAuth != 0 {
		dst = append(append(dst, r.AuthPlugin...), 0)
	}
	return append(dst, r.attrs...)
}

// ParseAuthSwitch reads an AuthSwitchRequest payload (0xFE, the plugin's
// name ended by NUL, its data): the plugin and its data, without a final
// NUL; ok is false if payload is not one.
func ParseAuthSwitch(payload []byte) (plugin string, data []byte, ok bool) {
	if len(payload) < 2 || payload[0] != 0xfe {
		return "", nil, false
	}
	i := bytes.IndexByte(payload[1:], 0)
	if i < 0 {
		return "", nil, false
	}
	data = payload[2+i:]
	if k := len(data); k > 0 && data[k-1] == 0 {
		data = data[:k-1]
	}
	return string(payload[1 : 1+i]), data, true
}
