package faults

import (
	"bytes"
	"io"
	"strconv"
	"strings"

	"github.com/gofaults/faults/internal/wire/resp"
)

// What a miss of each Redis read [Miss] answers is.
const (
	redisMissNil     = iota + 1 // a nil: GET, GETEX, GETDEL, HGET
	redisMissNils               // an array of nils, one per field: HMGET
	redisMissHash               // an empty hash: HGETALL
	redisMissEachKey            // an array of nils, one per key, each key a chance: MGET
)

const (
	redisHelloNote = "hello"   // the note of HELLO's and RESET's entries: their replies say the RESP version
	redisNilRESP2  = "$-1\r\n" // a nil in RESP2
	redisNilRESP3  = "_\r\n"   // and in RESP3
)

// redisReads are the commands Miss answers.
var redisReads = []string{"GET", "GETEX", "GETDEL", "MGET", "HGET", "HMGET", "HGETALL"}

// redisRead returns what a miss of the command named name (in any case)
// with args arguments (its name included) is, 0 if Miss does not act on
// it: not a read, or not with the arguments the server accepts (which it
// answers with an error).
func redisRead(name []byte, args int64) int {
	if len(name) > len("HGETALL") {
		return 0
	}
	var upper [len("HGETALL")]byte
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		upper[i] = c
	}
	switch string(upper[:len(name)]) {
	case "GET", "GETDEL":
		if args == 2 {
			return redisMissNil
		}
	case "GETEX":
		if args >= 2 {
			return redisMissNil
		}
	case "HGET":
		if args == 3 {
			return redisMissNil
		}
	case "HMGET":
		if args >= 3 {
			return redisMissNils
		}
	case "HGETALL":
		if args == 2 {
			return redisMissHash
		}
	case "MGET":
		if args >= 2 {
			return redisMissEachKey
		}
	}
	return 0
}

func (redisProtocol) isRead(name string) bool {
	for _, r := range redisReads {
		if strings.EqualFold(r, name) {
			return true
		}
	}
	return false
}

func (redisProtocol) readNames() string { return "GET, GETEX, GETDEL, MGET, HGET, HMGET and HGETALL" }

// redisNil returns a nil in the RESP version the connection speaks.
func redisNil(resp3 bool) string {
	if resp3 {
		return redisNilRESP3
	}
	return redisNilRESP2
}

// redisMissReply returns the proxy's reply to the read cmd, of kind read,
// when every key is missed, in the RESP version the connection speaks.
func redisMissReply(cmd resp.Command, read int, resp3 bool) []byte {
	switch read {
	case redisMissNils, redisMissEachKey:
		n := cmd.Args - 1 // MGET's keys
		if read == redisMissNils {
			n-- // HMGET's fields, after its key
		}
		return []byte("*" + strconv.FormatInt(n, 10) + "\r\n" + strings.Repeat(redisNil(resp3), int(n)))
	case redisMissHash:
		if resp3 {
			return []byte("%0\r\n")
		}
		return []byte("*0\r\n")
	}
	return []byte(redisNil(resp3))
}

// needsKeys reports whether deciding cmd needs all its keys: an MGET of
// several keys, with a Miss installed.
func (r *redisRelay) needsKeys(cmd resp.Command, plan *connPlan) bool {
	if r.inMulti || cmd.Args < 3 || redisRead(cmd.Name, cmd.Args) != redisMissEachKey {
		return false
	}
	for _, rule := range plan.requests {
		if isMissRule(rule) {
			return true
		}
	}
	return false
}

// decideRead decides the read cmd, of kind read: keys are its keys if
// it is an MGET whose keys were read, each then a chance of its own.
func (r *redisRelay) decideRead(plan *connPlan, cmd resp.Command, keys [][]byte) effects {
	name := string(bytes.ToUpper(cmd.Name))
	whole := &redisRequest{command: name, key: string(cmd.Key), hasKey: cmd.Key != nil}
	if len(keys) < 2 {
		return r.c.decideRead(plan, whole, 1, nil)
	}
	return r.c.decideRead(plan, whole, len(keys), func(i int) request {
		return &redisRequest{command: name, key: string(keys[i]), hasKey: true}
	})
}

// learnProtocol notes the RESP version the server's reply to HELLO or
// RESET, starting with first, says the connection speaks: RESP3 after a
// map, RESP2 after an array (HELLO) or +RESET (RESET takes the connection
// back to RESP2); an error changes nothing.
func (r *redisRelay) learnProtocol(first byte) {
	switch first {
	case '%':
		r.resp3.Store(true)
	case '*', '+':
		r.resp3.Store(false)
	}
}

// missReply returns the proxy's reply to the read cmd missed whole. If a
// HELLO passed on has not been answered yet, it waits for its answer,
// which says the RESP version the reply is written in.
func (r *redisRelay) missReply(cmd resp.Command) []byte {
	if r.helloTurn > 0 {
		r.queue.awaitTurn(r.helloTurn, r.repliesDone, r.c.done)
		r.helloTurn = 0
	}
	return redisMissReply(cmd, redisRead(cmd.Name, cmd.Args), r.resp3.Load())
}

// askWithout passes the MGET ahead, whose arguments are args, on as an
// MGET of the keys not missed, its entry saying which keys were, so that
// the replies side merges a nil for each into the server's reply
// (mergeMissed). The command's own bytes are dropped as they are framed.
func (r *redisRelay) askWithout(fx effects, args [][]byte) bool {
	var b []byte
	n := 0
	for _, m := range fx.missed {
		if !m {
			n++
		}
	}
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(n+1), 10)
	b = append(b, "\r\n"...)
	for i, a := range args {
		if i > 0 && fx.missed[i-1] {
			continue
		}
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(append(b, a...), "\r\n"...)
	}
	r.enqueue(owed{fx: &fx})
	if _, err := r.toServer.Write(b); err != nil {
		r.fail(err)
		return false
	}
	r.dropping = true
	return true
}

// mergeMissed passes on the server's reply to an MGET asked without the
// keys missed says, with a nil in place of each of those: the array the
// client asked for, in its order. A reply that is not the array expected
// (an error) passes as it is.
func (r *redisRelay) mergeMissed(missed []bool, w io.Writer, shaped *shapedWriter) bool {
	rr := r.replies
	asked := 0
	for _, m := range missed {
		if !m {
			asked++
		}
	}
	for {
		n, isArray, ok, err := rr.FrameArrayHead()
		switch {
		case err != nil:
			r.repliesFallBack(err)
			return false
		case ok && (!isArray || n != int64(asked)):
			return r.copyValue(w, shaped)
		case ok:
			rr.Skip()
			head := "*" + strconv.Itoa(len(missed)) + "\r\n"
			if _, err := io.WriteString(w, head); err != nil {
				return r.writeFailed(err, shaped)
			}
			nilReply := redisNil(r.resp3.Load())
			for _, m := range missed {
				if !m {
					if !r.copyValue(w, shaped) {
						return false
					}
					continue
				}
				if _, err := io.WriteString(w, nilReply); err != nil {
					return r.writeFailed(err, shaped)
				}
			}
			return true
		}
		if !r.more(rr, r.toClient, r.client) {
			return false
		}
	}
}
