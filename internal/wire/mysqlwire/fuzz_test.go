package mysqlwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/gofaults/faults/internal/testenv"
)

// myFuzzReaders are reused by FuzzPacket (one input at a time per
// process).
var myFuzzReaders [2]*bufio.Reader

func myFuzzReader(i int, r io.Reader) *bufio.Reader {
	if myFuzzReaders[i] == nil {
		myFuzzReaders[i] = bufio.NewReaderSize(r, 64<<10)
	}
	myFuzzReaders[i].Reset(r)
	return myFuzzReaders[i]
}

// myFuzzStep is what one framer call did, for comparing two readers.
type myFuzzStep struct {
	p        Header
	raw      []byte
	last     Header
	err      string
	consumed int
}

// myFuzzFrame frames in with br: message after message, until an error.
func myFuzzFrame(t *testing.T, in []byte, br *bufio.Reader, max int) []myFuzzStep {
	var steps []myFuzzStep
	off := 0
	for {
		p, err := ReadHeader(br)
		if err != nil {
			left := len(in) - off
			switch {
			case err == io.EOF:
				if left != 0 {
					t.Fatalf("io.EOF with %d bytes left", left)
				}
			case errors.Is(err, ErrMalformed) && errors.Is(err, io.ErrUnexpectedEOF):
				if left == 0 || left >= HeaderLen {
					t.Fatalf("short header with %d bytes left", left)
				}
			default:
				t.Fatalf("ReadHeader: %v", err)
			}
			if rest, _ := io.ReadAll(br); !bytes.Equal(rest, in[off:]) {
				t.Fatalf("error %v, but consumed %d bytes", err, len(in)-off-len(rest))
			}
			return append(steps, myFuzzStep{err: err.Error()})
		}
		if p.Length != int(in[off])|int(in[off+1])<<8|int(in[off+2])<<16 || p.Seq != in[off+3] {
			t.Fatalf("header % x read as %v", in[off:off+4], p)
		}
		head, herr := PeekPayload(br, p, HeadLen)
		avail := len(in) - off - HeaderLen
		if want := min(p.Length, HeadLen); avail >= want {
			if herr != nil || !bytes.Equal(head, in[off+4:off+4+want]) {
				t.Fatalf("peek: % x, %v", head, herr)
			}
		} else if !errors.Is(herr, io.ErrUnexpectedEOF) {
			t.Fatalf("peek past the end: %v", herr)
		}
		raw, last, err := ReadMessage(nil, br, p, max)
		step := myFuzzStep{p: p, raw: raw, last: last}
		// raw is exactly what was consumed.
		if !bytes.Equal(raw, in[off:off+len(raw)]) {
			t.Fatalf("raw differs from the input at %d", off)
		}
		off += len(raw)
		if rest := br.Buffered(); rest > len(in)-off {
			t.Fatalf("%d bytes buffered, %d left", rest, len(in)-off)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadMessage: %v", err)
			}
			if rest, _ := io.ReadAll(br); !bytes.Equal(rest, in[off:]) {
				t.Fatalf("error %v: the rest is not what is left", err)
			}
			step.err = err.Error()
			return append(steps, step)
		}
		// A complete message re-encodes to itself.
		if again := AppendPacket(nil, p.Seq, MessagePayload(raw)); !bytes.Equal(again, raw) {
			t.Fatalf("message of %d bytes does not re-encode", len(raw))
		}
		if last.Continued() {
			t.Fatalf("message ends with a full packet %v", last)
		}
		steps = append(steps, step)
	}
}

// FuzzPacket feeds arbitrary bytes to the framer and the parsers:
// no panic; nothing consumed on a refused header; a message's raw bytes
// are exactly those consumed and re-encode to themselves; one byte at a
// time gives the same result; clearing capabilities changes only their
// bytes.
func FuzzPacket(f *testing.F) {
	for _, v := range mysqlVariants {
		fx := testenv.ReadMySQLSession(f, "testdata", v.name)
		f.Add(fx.Client[:min(len(fx.Client), 600)])
		f.Add(fx.Server[:min(len(fx.Server), 600)])
	}
	f.Add([]byte("\xff\xff\xff\x00abc"))
	f.Add([]byte{1, 0, 0, 0, 0x0e})
	f.Add(AppendErr(nil, 1, 1213, "40001", deadlockMessage))
	f.Fuzz(func(t *testing.T, in []byte) {
		max := MaxMessage
		if len(in) > 0 && in[0]&1 == 1 {
			max = int(in[0]) << 8
		}
		whole := myFuzzFrame(t, in, myFuzzReader(0, bytes.NewReader(in)), max)
		slow := myFuzzFrame(t, in, myFuzzReader(1, iotest.OneByteReader(bytes.NewReader(in))), max)
		if len(whole) != len(slow) {
			t.Fatalf("whole: %d steps, one byte at a time: %d", len(whole), len(slow))
		}
		for i := range whole {
			a, b := whole[i], slow[i]
			if a.p != b.p || a.last != b.last || a.err != b.err || !bytes.Equal(a.raw, b.raw) {
				t.Fatalf("step %d differs: %+v / %+v", i, a, b)
			}
		}

		// ReadExpectedHeader consumes nothing it refuses.
		if len(in) >= 2 {
			br := myFuzzReader(0, bytes.NewReader(in[2:]))
			if _, err := ReadExpectedHeader(br, in[0], int(in[1])*97); err != nil {
				if rest, _ := io.ReadAll(br); !bytes.Equal(rest, in[2:]) {
					t.Fatalf("refused header consumed: %v", err)
				}
			}
		}

		// Parsers.
		if g, err := ParseGreeting(in); err == nil {
			b := bytes.Clone(in)
			var bits, mb uint32
			if len(in) >= 8 {
				bits, mb = binary.LittleEndian.Uint32(in), binary.LittleEndian.Uint32(in[4:])
			}
			if err := ClearCapabilities(b, bits, mb); err != nil {
				t.Fatalf("clear: %v", err)
			}
			g2, err := ParseGreeting(b)
			if err != nil {
				t.Fatalf("cleared greeting: %v", err)
			}
			wantCaps := g.Capabilities &^ bits
			if g.capHigh == 0 {
				wantCaps &= 0xffff
			}
			if g2.Capabilities != wantCaps {
				t.Fatalf("cleared 0x%08x of 0x%08x: 0x%08x", bits, g.Capabilities, g2.Capabilities)
			}
			for i := range b {
				if b[i] != in[i] && i != g.capLow && i != g.capLow+1 && (g.capHigh == 0 || i != g.capHigh && i != g.capHigh+1) && (g.mariadbAt == 0 || i < g.mariadbAt || i >= g.mariadbAt+4) {
					t.Fatalf("clearing changed byte %d", i)
				}
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("greeting: %v", err)
		}
		if _, err := ParseClientHello(in); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("client hello: %v", err)
		}
		if v, n, ok := ParseLenEnc(in); ok {
			if n > len(in) || n < 1 {
				t.Fatalf("lenenc of %d bytes in %d", n, len(in))
			}
			if enc := AppendLenEnc(nil, v); len(enc) > n {
				t.Fatalf("%d encoded in %d bytes, read from %d", v, len(enc), n)
			}
		}
		ParseOK(in)
		ParseEOF(in)
		ParsePrepareOK(in)
		if n, state, msg, ok := ParseErr(in); ok {
			if r := AppendErr(nil, 0, n, state, msg); state != "" && !bytes.Equal(r[4:], in) {
				t.Fatalf("ERR % x re-encodes as % x", in, r[4:])
			}
		}
		ClassifyReply(in[:min(len(in), HeadLen)], len(in))
		StmtID(in)
		if c, ok := commandOf(in); ok {
			_ = c.String() + c.Response().String()
		}
	})
}

// myGen draws choices from fuzz input; once the input is used up every
// draw is 0, so that generation ends.
type myGen struct{ in []byte }

func (g *myGen) byte() byte {
	if len(g.in) == 0 {
		return 0
	}
	b := g.in[0]
	g.in = g.in[1:]
	return b
}

func (g *myGen) intn(n int) int { return int(g.byte()) % n }
func (g *myGen) bool() bool     { return g.byte()&1 == 1 }

// myGenResponse generates, from g, a response that a server could send
// (with the client's packets during LOCAL INFILE and authentication), of
// one of the shapes the follower follows, in a session it draws too.
func myGenResponse(g *myGen) (Response, Session, []mp) {
	s := Session{Capabilities: ClientProtocol41 | ClientMultiResults}
	if g.bool() {
		s.Capabilities |= ClientDeprecateEOF
	}
	if g.bool() {
		s.MariaDBCapabilities = MariaDBClientCacheMetadata
	}
	dep := s.Capabilities&ClientDeprecateEOF != 0
	var out []mp
	add := func(p ...mp) { out = append(out, p...) }
	errP := func() mp {
		n := uint16(g.byte())<<8 | uint16(g.byte())
		if n == 0xffff || n == 0 {
			n = 1213
		}
		return errPkt(n, "HY000", string(bytes.Repeat([]byte{'e'}, g.intn(40))))
	}
	// end adds the packet ending a result set (or COM_FIELD_LIST,
	// COM_STMT_FETCH), with status.
	end := func(status uint16) {
		if dep {
			info := bytes.Repeat([]byte{'i'}, g.intn(20)) // an OK may carry info
			add(srv(cat(okPkt(0xfe, uint64(g.byte()), 0, status).head, lenencStr(string(info)))...))
		} else {
			add(eofPkt(status))
		}
	}
	// long adds a message of full packets and a shorter last one.
	long := func(client bool, first byte) {
		mk := func(length int, b byte) mp {
			if client {
				return cliLong(length, b)
			}
			return srvLong(length, b)
		}
		add(mk(MaxPayload, first))
		for g.intn(3) == 2 {
			add(mk(MaxPayload, g.byte()))
		}
		add(mk(g.intn(3)*7, g.byte()))
	}
	rows := func(binary bool) {
		for g.intn(4) != 0 {
			switch g.intn(4) {
			case 0:
				long(false, 0xfe) // one value of at least 2^24 bytes
			case 1:
				b := g.byte()
				if b == 0xff || b == 0xfe {
					b = 0xfb
				}
				if binary {
					b = 0x00
				}
				long(false, b)
			default:
				b := g.byte()
				if b == 0xff || b == 0xfe {
					b = 0x00
				}
				if binary {
					b = 0x00
				}
				add(srv(cat([]byte{b}, bytes.Repeat([]byte{'r'}, g.intn(50)))...))
			}
		}
	}
	defs := func(n int) {
		for i := 0; i < n; i++ {
			add(colDef("c"))
		}
	}
	progress := func() {
		for g.intn(6) == 5 {
			add(srv(0xff, 0xff, 0xff, 1, 1, 0, 0x10, 0x27, 0, 1, 'p'))
		}
	}
	switch g.intn(6) {
	case 0, 1: // a result, of several parts
		for {
			progress()
			more := g.bool()
			status := uint16(2)
			if more {
				status |= ServerMoreResultsExist
			}
			switch g.intn(5) {
			case 0:
				add(okPkt(0, uint64(g.byte())<<10, uint64(g.byte()), status))
			case 1:
				add(errP())
				return ResponseResult, s, out
			case 2:
				add(srv(0xfb, 'f'))
				for g.intn(3) != 0 {
					if g.intn(4) == 0 {
						long(true, g.byte())
					} else {
						add(cli(bytes.Repeat([]byte{'d'}, 1+g.intn(30))...))
					}
				}
				add(cli())
				if g.intn(4) == 0 {
					add(errP())
					return ResponseResult, s, out
				}
				add(okPkt(0, 1, 0, status))
			default:
				n := 1 + g.intn(4)
				meta := true
				if s.MariaDBCapabilities != 0 {
					meta = g.bool()
					add(colCount(uint64(n), map[bool]byte{false: 0, true: 1}[meta]))
				} else {
					add(colCount(uint64(n)))
				}
				if meta {
					defs(n)
				}
				cursor := g.intn(8) == 0
				if !dep {
					if cursor {
						add(eofPkt(2 | ServerStatusCursorExists))
						return ResponseResult, s, out
					}
					add(eofPkt(2))
				} else if cursor {
					end(2 | ServerStatusCursorExists)
					return ResponseResult, s, out
				}
				rows(g.bool())
				if g.intn(5) == 0 {
					add(errP())
					return ResponseResult, s, out
				}
				end(status)
			}
			if !more {
				return ResponseResult, s, out
			}
		}
	case 2:
		if g.intn(4) == 0 {
			add(errP())
			return ResponsePrepare, s, out
		}
		cols, params := g.intn(4), g.intn(4)
		add(prepOK(1, uint16(cols), uint16(params)))
		if params > 0 {
			defs(params)
			if !dep {
				add(eofPkt(2))
			}
		}
		if cols > 0 {
			defs(cols)
			if !dep {
				add(eofPkt(2))
			}
		}
		return ResponsePrepare, s, out
	case 3:
		resp := ResponseFetch
		if g.bool() {
			resp = ResponseFieldList
			defs(g.intn(4))
		} else {
			rows(true)
		}
		if g.intn(4) == 0 {
			add(errP())
		} else {
			end(2 | ServerStatusLastRowSent)
		}
		return resp, s, out
	case 4:
		b := g.byte()
		if b == 0xff {
			b = 0x00
		}
		if g.intn(4) == 0 {
			long(false, b)
		} else {
			add(srv(cat([]byte{b}, bytes.Repeat([]byte{'s'}, g.intn(40)))...))
		}
		return ResponseSingle, s, out
	}
	for g.intn(3) != 0 {
		switch g.intn(3) {
		case 0:
			add(srv(0x01, 0x03)) // fast auth succeeded, OK follows
			continue
		case 1:
			add(srv(cat([]byte{0xfe}, []byte("plugin\x00data"))...))
		default:
			add(srv(0x01, 0x04))
		}
		if g.intn(5) == 0 {
			long(true, g.byte())
		} else {
			add(cli(bytes.Repeat([]byte{'a'}, g.intn(30))...))
		}
	}
	if g.intn(4) == 0 {
		add(errP())
	} else {
		add(okPkt(0, 0, 0, 2))
	}
	return ResponseAuth, s, out
}

// FuzzFollower checks the follower two ways. On a response generated
// from the input (myGenResponse) it must be done after the last packet and
// never before, and want the client's packets exactly when they come. On
// packets made of the raw input it must not panic, stay done or failed
// once it is, and refuse any packet after the end.
func FuzzFollower(f *testing.F) {
	f.Add([]byte{0, 1, 1, 0, 3, 2, 1, 7, 7, 3, 0, 1})
	f.Add([]byte{0, 0, 0, 2, 2, 1, 1, 3, 0, 5})
	f.Add([]byte{0, 1, 0, 5, 1, 0, 1, 0, 3, 1, 0})
	f.Add([]byte{1, 0x20, 0x03, 0x01, 0x02, 0x0c})
	f.Add([]byte{1, 0x21, 0x05, 0xfe, 0, 0, 2, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		if in[0]&1 == 0 {
			g := &myGen{in[1:]}
			resp, s, packets := myGenResponse(g)
			fz := NewFollower(resp, s)
			for i, p := range packets {
				if fz.Done() {
					t.Fatalf("%v response: done before packet %d of %d", resp, i, len(packets))
				}
				if fz.WantsClient() != p.client {
					t.Fatalf("%v response, packet %d: wantsClient %v, the packet is the client's: %v", resp, i, fz.WantsClient(), p.client)
				}
				var err error
				if p.client {
					err = fz.Client(p.length)
				} else {
					err = fz.Server(p.head, p.length)
				}
				if err != nil {
					t.Fatalf("%v response (session %+v), packet %d (% x, %d bytes): %v", resp, s, i, p.head[:min(len(p.head), 8)], p.length, err)
				}
			}
			if !fz.Done() {
				t.Fatalf("%v response: not done after %d packets (state %v)", resp, len(packets), fz.state)
			}
			return
		}

		// Raw: in[1] picks the response and session; then each packet is
		// a byte of flags (bit 0: the client's; bit 1: full length), a
		// byte of length, and that many bytes of payload start.
		sel := byte(0)
		if len(in) > 1 {
			sel = in[1]
		}
		s := Session{Capabilities: ClientProtocol41}
		if sel&8 != 0 {
			s.Capabilities |= ClientDeprecateEOF
		}
		if sel&16 != 0 {
			s.MariaDBCapabilities = MariaDBClientCacheMetadata
		}
		fz := NewFollower(Response(sel%8), s)
		rest := in[min(len(in), 2):]
		wasDone := fz.Done()
		for len(rest) >= 2 {
			flags, n := rest[0], int(rest[1])
			rest = rest[2:]
			head := rest[:min(n, len(rest))]
			rest = rest[len(head):]
			length := len(head)
			if flags&2 != 0 {
				length = MaxPayload
				if len(head) < HeadLen {
					head = append(bytes.Clone(head), make([]byte, HeadLen-len(head))...)
				}
			}
			failedBefore := fz.Err() != nil
			var err error
			if flags&1 != 0 {
				err = fz.Client(length)
			} else {
				err = fz.Server(head, length)
			}
			if (failedBefore || wasDone) && err == nil {
				t.Fatalf("packet accepted after the follower ended (done %v, failed %v)", wasDone, failedBefore)
			}
			if err != nil && (fz.Err() == nil || fz.Done()) {
				t.Fatalf("error %v, but the follower has not failed", err)
			}
			wasDone = fz.Done()
		}
	})
}
