package resp

import (
	"bytes"
	"strconv"
)

// Redacted is what [RedactAuth] writes in place of a password.
const Redacted = "REDACTED"

// RedactAuth returns cmd, one whole command as a client sends it
// (multibulk or inline), with its password (see [AuthSecret]) replaced by
// [Redacted]. Any other command, or bytes it cannot read as a command, is
// returned as it is. cmd is not modified.
func RedactAuth(cmd []byte) []byte {
	args, inline := Args(cmd)
	i := AuthSecret(args)
	if i < 0 {
		return cmd
	}
	args[i] = []byte(Redacted)
	if inline {
		return append(bytes.Join(args, []byte(" ")), '\r', '\n')
	}
	return AppendCommand(nil, args...)
}

// AuthSecret returns the index of the password among the arguments of a
// command: that of AUTH (AUTH password, AUTH username password) or of
// HELLO's AUTH option; -1 if the command carries none.
func AuthSecret(args [][]byte) int {
	switch {
	case len(args) < 2:
	case bytes.EqualFold(args[0], []byte("AUTH")):
		if len(args) <= 3 {
			return len(args) - 1
		}
	case bytes.EqualFold(args[0], []byte("HELLO")):
		for i := 2; i+2 < len(args); i++ {
			if bytes.EqualFold(args[i], []byte("AUTH")) {
				return i + 2
			}
		}
	}
	return -1
}

// Args returns the arguments of cmd, one whole command as a client sends
// it, the name first, and whether it is inline; nil if cmd is not a whole
// command. The arguments point into cmd.
func Args(cmd []byte) (args [][]byte, inline bool) {
	if len(cmd) == 0 {
		return nil, false
	}
	if cmd[0] != '*' {
		line, _, ok := bytes.Cut(cmd, []byte("\n"))
		if !ok {
			return nil, true
		}
		return bytes.Fields(bytes.TrimSuffix(line, []byte("\r"))), true
	}
	line, rest, ok, err := cutLine(cmd)
	if err != nil || !ok {
		return nil, false
	}
	n, err := parseLength(line, true)
	if err != nil || n <= 0 || n > 1<<20 {
		return nil, false
	}
	for range n {
		payload, next, err := bulk(rest)
		if err != nil || payload == nil {
			return nil, false
		}
		args = append(args, payload)
		rest = next
	}
	return args, false
}

// AppendCommand appends the command of args, as a client sends it (an
// array of bulk strings), to dst and returns the extended dst.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
