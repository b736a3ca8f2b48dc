package resp

import (
	"bytes"
	"strconv"
)

// Redacted is what [RedactAuth] writes in place of a password.
const Redacted = "REDACTED"

// RedactAuth returns cmd, one whole command as a client sends it
// (multibulk or inline), with the password of AUTH (AUTH password, AUTH
// username password) and of HELLO's AUTH option replaced by [Redacted],
// the bulk lengths adjusted. Any other command, or bytes it cannot read
// as a command, is returned as it is. cmd is not modified.
func RedactAuth(cmd []byte) []byte {
	args, inline := commandArgs(cmd)
	if len(args) < 2 {
		return cmd
	}
	arg := func(i int) []byte { return cmd[args[i][0]:args[i][1]] }
	secret := -1
	switch {
	case bytes.EqualFold(arg(0), []byte("AUTH")):
		secret = len(args) - 1
	case bytes.EqualFold(arg(0), []byte("HELLO")):
		for i := 2; i+2 < len(args); i++ {
			if bytes.EqualFold(arg(i), []byte("AUTH")) {
				secret = i + 2
				break
			}
		}
	}
	if secret < 0 || secret > 2 && bytes.EqualFold(arg(0), []byte("AUTH")) {
		return cmd // AUTH takes at most two arguments: not a login
	}
	lo, hi := args[secret][0], args[secret][1]
	out := make([]byte, 0, len(cmd)+len(Redacted))
	if inline {
		out = append(out, cmd[:lo]...)
	} else {
		// Back over the bulk's line: "$" length CRLF.
		line := bytes.LastIndexByte(cmd[:lo-2], '$')
		out = append(out, cmd[:line]...)
		out = append(out, '$')
		out = strconv.AppendInt(out, int64(len(Redacted)), 10)
		out = append(out, '\r', '\n')
	}
	out = append(out, Redacted...)
	return append(out, cmd[hi:]...)
}

// commandArgs returns the spans of the arguments of the command cmd, and
// whether it is inline; no spans if cmd is not a whole command.
func commandArgs(cmd []byte) (spans [][2]int, inline bool) {
	if len(cmd) == 0 {
		return nil, false
	}
	if cmd[0] != '*' {
		line, _, ok := bytes.Cut(cmd, []byte("\n"))
		if !ok {
			return nil, true
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		for i := 0; i < len(line); {
			for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
				i++
			}
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' {
				j++
			}
			if j > i {
				spans = append(spans, [2]int{i, j})
			}
			i = j
		}
		return spans, true
	}
	line, rest, ok, err := cutLine(cmd)
	if err != nil || !ok {
		return nil, false
	}
	n, err := parseLength(line, true)
	if err != nil || n <= 0 || n > 1024 {
		return nil, false
	}
	for range n {
		payload, next, err := bulk(rest)
		if err != nil || payload == nil {
			return nil, false
		}
		end := len(cmd) - len(next) - 2 // before the payload's CRLF
		spans = append(spans, [2]int{end - len(payload), end})
		rest = next
	}
	return spans, false
}
