package memcache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func parse(t *testing.T, line string) Command {
	t.Helper()
	var c Command
	if err := ParseCommand(&c, []byte(line)); err != nil {
		t.Fatalf("ParseCommand(%q): %v", line, err)
	}
	return c
}

func TestParseCommand(t *testing.T) {
	long := strings.Repeat("k", MaxKeyLen)
	tests := []struct {
		line    string
		name    string
		keys    string
		data    int64
		reply   Shape
		noreply bool
		invalid bool
	}{
		{"get a\r\n", "get", "a", 0, ShapeValues, false, false},
		{"get a b  c\r\n", "get", "a,b,c", 0, ShapeValues, false, false},
		{"gets a\n", "gets", "a", 0, ShapeValues, false, false},
		{"bget a b\r\n", "bget", "a,b", 0, ShapeValues, false, false}, // memcached 1.6 still reads get's old name
		{"gat 10 a b\r\n", "gat", "a,b", 0, ShapeValues, false, false},
		{"gats -1 a\r\n", "gats", "a", 0, ShapeValues, false, false},
		{"gat x a\r\n", "gat", "a", 0, ShapeValues, false, true},
		{"get\r\n", "get", "", 0, ShapeLine, false, true},
		{"get a " + long + "k\r\n", "get", "a," + long + "k", 0, ShapeValues, false, true},
		{"set a 0 0 3\r\n", "set", "a", 5, ShapeLine, false, false},
		{"set  " + long + "  1 -1 0 \r\n", "set", long, 2, ShapeLine, false, false},
		{"set a 0 0 3 noreply\r\n", "set", "a", 5, ShapeNone, true, false},
		{"set a 0 0 3 NOREPLY\r\n", "set", "a", 5, ShapeLine, false, false},
		{"add a 0 0 3\r\n", "add", "a", 5, ShapeLine, false, false},
		{"replace a 0 0 3\r\n", "replace", "a", 5, ShapeLine, false, false},
		{"append a 0 0 3\r\n", "append", "a", 5, ShapeLine, false, false},
		{"prepend a 0 0 3\r\n", "prepend", "a", 5, ShapeLine, false, false},
		{"cas a 0 0 3 99\r\n", "cas", "a", 5, ShapeLine, false, false},
		{"cas a 0 0 3 99 noreply\r\n", "cas", "a", 5, ShapeNone, true, false},
		{"cas a 0 0 3\r\n", "cas", "", 0, ShapeLine, false, true},
		{"set a 0 0 x\r\n", "set", "a", 0, ShapeLine, false, true},
		{"set a 0 0 x noreply\r\n", "set", "a", 0, ShapeNone, true, true},
		{"set a 0 0 -1\r\n", "set", "a", 0, ShapeLine, false, true},
		// memcached reads flags and cas as 64-bit unsigned numbers, the
		// exptime as a 64-bit signed one: past that, the line is refused
		// and has no data block.
		{"set a 18446744073709551615 9223372036854775807 3\r\n", "set", "a", 5, ShapeLine, false, false},
		{"set a 18446744073709551616 0 3\r\n", "set", "a", 0, ShapeLine, false, true},
		{"set a 0 9223372036854775808 3\r\n", "set", "a", 0, ShapeLine, false, true},
		{"set a 0 -9223372036854775809 3\r\n", "set", "a", 0, ShapeLine, false, true},
		{"cas a 0 0 3 18446744073709551616\r\n", "cas", "a", 0, ShapeLine, false, true},
		// strtoull and strtol take a '+', and leading zeros; an int32
		// holds the length, which loses its high bits.
		{"set a +1 +0 +3\r\n", "set", "a", 5, ShapeLine, false, false},
		{"set a -0 0 0000000000003\r\n", "set", "a", 5, ShapeLine, false, false},
		{"set a -1 0 3\r\n", "set", "a", 0, ShapeLine, false, true},
		{"set a 0 0 4294967299\r\n", "set", "a", 5, ShapeLine, false, false},
		{"set a 0 0 2147483648\r\n", "set", "a", 0, ShapeLine, false, true},
		{"ms a +3\r\n", "ms", "a", 5, ShapeMeta, false, false},
		{"set " + long + "k 0 0 1\r\n", "set", long + "k", 0, ShapeLine, false, true},
		{"set a 0 0 1 noreply x\r\n", "set", "", 0, ShapeLine, false, true},
		{"incr a 1\r\n", "incr", "a", 0, ShapeLine, false, false},
		{"decr a 1 noreply\r\n", "decr", "a", 0, ShapeNone, true, false},
		// memcached takes noreply from the last token whenever the token
		// count reaches the command's code, even where that token stands
		// for a required argument: the refusal that follows is silent.
		{"set a 0 0 noreply\r\n", "set", "a", 0, ShapeNone, true, true},
		{"cas a 0 0 1 noreply\r\n", "cas", "a", 0, ShapeNone, true, true},
		{"incr a noreply\r\n", "incr", "a", 0, ShapeNone, true, false},
		{"touch a noreply\r\n", "touch", "a", 0, ShapeNone, true, false},
		{"verbosity noreply\r\n", "verbosity", "", 0, ShapeNone, true, false},
		{"cache_memlimit noreply\r\n", "cache_memlimit", "", 0, ShapeNone, true, false},
		{"delete noreply\r\n", "delete", "noreply", 0, ShapeLine, false, false},
		{"incr a x\r\n", "incr", "a", 0, ShapeLine, false, true},
		{"touch a 10 noreply\r\n", "touch", "a", 0, ShapeNone, true, false},
		{"delete a\r\n", "delete", "a", 0, ShapeLine, false, false},
		{"delete a noreply\r\n", "delete", "a", 0, ShapeNone, true, false},
		{"flush_all\r\n", "flush_all", "", 0, ShapeLine, false, false},
		{"flush_all 0 noreply\r\n", "flush_all", "", 0, ShapeNone, true, false},
		{"verbosity 1 noreply\r\n", "verbosity", "", 0, ShapeNone, true, false},
		{"verbosity\r\n", "verbosity", "", 0, ShapeLine, false, true},
		{"cache_memlimit 64\r\n", "cache_memlimit", "", 0, ShapeLine, false, false},
		{"version\r\n", "version", "", 0, ShapeLine, false, false},
		{"quit\r\n", "quit", "", 0, ShapeNone, false, false},
		{"stats\r\n", "stats", "", 0, ShapeStats, false, false},
		{"stats slabs\r\n", "stats", "", 0, ShapeStats, false, false},
		{"watch\r\n", "watch", "", 0, ShapeUnknown, false, false},
		{"lru_crawler metadump all\r\n", "lru_crawler", "", 0, ShapeUnknown, false, false},
		{"lru_crawler crawl all\r\n", "lru_crawler", "", 0, ShapeLine, false, false},
		{"SET a 0 0 1\r\n", "SET", "", 0, ShapeLine, false, false},
		{"\r\n", "", "", 0, ShapeLine, false, true},
		{"mg a v\r\n", "mg", "a", 0, ShapeMeta, false, false},
		{"mg\r\n", "mg", "", 0, ShapeMeta, false, true},
		{"ms a 3 T0\r\n", "ms", "a", 5, ShapeMeta, false, false},
		{"ms a 3 Z\r\n", "ms", "a", 5, ShapeMeta, false, false},
		{"ms a x\r\n", "ms", "a", 0, ShapeMeta, false, true},
		{"ms " + long + "k 3\r\n", "ms", long + "k", 0, ShapeMeta, false, true},
		{"md a q\r\n", "md", "a", 0, ShapeMeta, false, false},
		{"ma a v\r\n", "ma", "a", 0, ShapeMeta, false, false},
		{"mn\r\n", "mn", "", 0, ShapeMeta, false, false},
		{"me a\r\n", "me", "a", 0, ShapeMeta, false, false},
	}
	for _, tt := range tests {
		c := parse(t, tt.line)
		var keys []string
		for _, k := range c.Keys {
			keys = append(keys, string(k))
		}
		got := fmt.Sprint(string(c.Name), strings.Join(keys, ","), c.DataLen, c.Reply, c.NoReply, c.Invalid)
		want := fmt.Sprint(tt.name, tt.keys, tt.data, tt.reply, tt.noreply, tt.invalid)
		if got != want || c.LineLen != len(tt.line) {
			t.Errorf("%.60q: %s (line %d), want %s", tt.line, got, c.LineLen, want)
		}
	}
}

func TestParseCommandMalformed(t *testing.T) {
	for _, line := range []string{"", "get a", "get a\tb\r\n", "get a\x00\r\n", "get a\rb\r\n", "set a 0 0 1\x7f\r\n"} {
		var c Command
		if err := ParseCommand(&c, []byte(line)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", line, err)
		}
	}
}

func TestMetaFlags(t *testing.T) {
	c := parse(t, "mg a v k O123 q t\r\n")
	if !c.Quiet || !c.ReturnKey || !c.ReturnValue || c.Base64 || string(c.Opaque) != "123" || len(c.Flags) != 5 {
		t.Errorf("mg flags: %+v", c)
	}
	c = parse(t, "ms YQ== 2 b q I\r\n")
	if !c.Base64 || !c.Quiet || c.DataLen != 4 || string(c.Key()) != "YQ==" || len(c.Flags) != 3 {
		t.Errorf("ms flags: %+v", c)
	}
	// A base64 key is measured decoded: 336 base64 bytes are 252 bytes.
	if c := parse(t, "mg "+strings.Repeat("A", 332)+" b\r\n"); c.Invalid {
		t.Errorf("base64 key of 249 bytes refused")
	}
	if c := parse(t, "mg "+strings.Repeat("A", 336)+" b\r\n"); !c.Invalid {
		t.Errorf("base64 key of 252 bytes accepted")
	}
	if c := parse(t, "me a q\r\n"); c.Quiet {
		t.Errorf("me q is quiet; memcached answers it")
	}
	if c := parse(t, "mn q\r\n"); c.Quiet {
		t.Errorf("mn q is quiet; memcached answers it")
	}
}

func TestSilencedAndAnswers(t *testing.T) {
	tests := []struct {
		line      string
		silenced  string // codes silenced
		answers   string // codes that may answer
		notAnswer string
	}{
		{"mg a v q\r\n", "EN", "VA HD ERROR CLIENT_ERROR SERVER_ERROR", "EN MN NS STORED"},
		{"mg a v\r\n", "", "VA HD EN CLIENT_ERROR", "MN NS"},
		{"ms a 1 q\r\n", "HD", "NS EX NF CLIENT_ERROR", "HD MN VA"},
		{"md a q\r\n", "HD", "NF EX", "HD MN"},
		{"ma a q v\r\n", "HD VA", "NF NS EX", "HD VA MN"},
		{"mn\r\n", "", "MN", "HD EN"},
		{"me a q\r\n", "", "ME EN", "MN"},
		{"get a\r\n", "", "VALUE END MN", ""},
	}
	for _, tt := range tests {
		c := parse(t, tt.line)
		for _, code := range strings.Fields("VA HD EN NF NS EX MN ME") {
			if got, want := c.Silenced([]byte(code)), strings.Contains(" "+tt.silenced+" ", " "+code+" "); got != want {
				t.Errorf("%q: Silenced(%s) = %v", tt.line, code, got)
			}
		}
		for _, code := range strings.Fields(tt.answers) {
			if !c.Answers([]byte(code)) {
				t.Errorf("%q: Answers(%s) = false", tt.line, code)
			}
		}
		for _, code := range strings.Fields(tt.notAnswer) {
			if c.Answers([]byte(code)) {
				t.Errorf("%q: Answers(%s) = true", tt.line, code)
			}
		}
	}
}

func TestPeekCommandLineLimits(t *testing.T) {
	peek := func(s string) (Command, error) {
		var c Command
		err := PeekCommand(bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(s)), 16<<10), &c)
		return c, err
	}
	// A line of MaxLine bytes before its newline is framed.
	line := "touch " + strings.Repeat(" ", MaxLine-len("touch a 1\r")) + "a 1\r\n"
	if c, err := peek(line); err != nil || c.LineLen != MaxLine+1 {
		t.Errorf("line of %d bytes: %+v, %v", MaxLine, c, err)
	}
	// One byte more is refused: memcached closes the connection.
	if _, err := peek(" " + line); !errors.Is(err, ErrMalformed) {
		t.Errorf("line of %d bytes: %v, want ErrMalformed", MaxLine+1, err)
	}
	// get and gets lines have no limit but the buffer's.
	get := "get" + strings.Repeat(" k", 3000) + "\r\n"
	if c, err := peek(get); err != nil || len(c.Keys) != 3000 {
		t.Errorf("long get: %d keys, %v", len(c.Keys), err)
	}
	if _, err := peek("gat 0" + strings.Repeat(" k", 3000) + "\r\n"); !errors.Is(err, ErrMalformed) {
		t.Errorf("long gat: %v, want ErrMalformed", err)
	}
	big := "get" + strings.Repeat(" k", 9000) + "\r\n"
	if _, err := peek(big); !errors.Is(err, ErrMalformed) {
		t.Errorf("get longer than the buffer: %v, want ErrMalformed", err)
	}
	if _, err := peek("get a"); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrMalformed) {
		t.Errorf("cut line: %v", err)
	}
	if _, err := peek(""); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

func TestCopyCommand(t *testing.T) {
	in := "set a 0 0 5\r\nab\r\nc\r\nget a\r\nset b 0 0 2\r\nxyz\r\nms c 1\r\n"
	r := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16)
	var out bytes.Buffer
	var c Command
	var got []string
	for {
		err := PeekCommand(r, &c)
		if err == io.EOF {
			t.Fatalf("no truncation error; got %q", got)
		}
		if err != nil {
			t.Fatal(err)
		}
		name := string(c.Name) // c's slices are not valid after the copy
		n, err := CopyCommand(&out, r, &c)
		got = append(got, fmt.Sprint(name, " ", n, " ", err))
		if err != nil && err != ErrBadDataChunk {
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatal(err)
			}
			break
		}
	}
	want := []string{"set 20 <nil>", "get 7 <nil>", "set 17 " + ErrBadDataChunk.Error(), " 1 <nil>"}
	if len(got) != 5 || fmt.Sprint(got[:4]) != fmt.Sprint(want) || !strings.HasPrefix(got[4], "ms 8 ") {
		t.Errorf("framed %q, want %q then ms 8 and a truncation", got, want)
	}
	if !strings.HasPrefix(in, out.String()) {
		t.Errorf("copied %q", out.String())
	}
}

func TestCopyReply(t *testing.T) {
	tests := []struct {
		shape Shape
		in    string
		n     int // bytes framed; -1: ErrMalformed
	}{
		{ShapeLine, "STORED\r\nEND\r\n", 8},
		{ShapeLine, "VALUE a 0 1\r\nx\r\n", 13},
		{ShapeValues, "END\r\n", 5},
		{ShapeValues, "VALUE a 0 3\r\nEND\r\nVALUE b 1 0 7\r\n\r\nEND\r\nX", 40},
		{ShapeValues, "CLIENT_ERROR bad command line format\r\n", 38},
		{ShapeValues, "SERVER_ERROR out of memory\r\nEND\r\n", 28},
		{ShapeValues, "STORED\r\n", -1},
		{ShapeValues, "VALUE a 0 3\r\nabcd\r\n", -1},
		{ShapeValues, "VALUE a 0\r\n", -1},
		{ShapeMeta, "VA 2 t-1 O9\r\nhi\r\nHD\r\n", 17},
		{ShapeMeta, "EN\r\n", 4},
		{ShapeMeta, "HD c3 kabc\r\n", 12},
		{ShapeMeta, "MN\r\n", 4},
		{ShapeMeta, "ME a exp=-1\r\n", 13},
		{ShapeMeta, "STORED\r\n", -1},
		{ShapeMeta, "VA x\r\n", -1},
		{ShapeStats, "STAT a 1\r\nSTAT b 2\r\nEND\r\n", 25},
		{ShapeStats, "RESET\r\n", 7},
		{ShapeStats, "OK\r\n", 4},
		{ShapeStats, "ERROR\r\n", 7},
		{ShapeStats, "ITEM a [1 b; 0 s]\r\nEND\r\n", 24},
		{ShapeLine, "STORED\n", -1},
		{ShapeLine, "\r\n", -1},
	}
	for _, tt := range tests {
		for _, size := range []int{64, 4096} {
			r := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tt.in)), size)
			var out bytes.Buffer
			n, err := CopyReply(&out, r, tt.shape)
			switch {
			case tt.n < 0 && !errors.Is(err, ErrMalformed):
				t.Errorf("%s %q: %d, %v; want ErrMalformed", tt.shape, tt.in, n, err)
			case tt.n >= 0 && (err != nil || n != int64(tt.n) || out.String() != tt.in[:tt.n]):
				t.Errorf("%s %q: %d, %v, %q; want %d", tt.shape, tt.in, n, err, out.String(), tt.n)
			}
		}
	}
	if n, err := CopyReply(nil, newReader(strings.NewReader("x")), ShapeNone); n != 0 || err != nil {
		t.Errorf("ShapeNone: %d, %v", n, err)
	}
	if _, err := CopyReply(nil, newReader(strings.NewReader("x")), ShapeUnknown); err != ErrUnframeable {
		t.Errorf("ShapeUnknown: %v", err)
	}
	if _, err := CopyReply(nil, newReader(strings.NewReader("VALUE a 0 5\r\nab")), ShapeValues); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut value: %v", err)
	}
}

func TestPeekReply(t *testing.T) {
	l, err := PeekReply(newReader(strings.NewReader("VALUE key 5 10 77\r\n")))
	if err != nil || string(l.Code) != "VALUE" || string(l.Key) != "key" || l.DataLen != 12 || l.Len != 19 {
		t.Errorf("VALUE: %+v, %v", l, err)
	}
	l, err = PeekReply(newReader(strings.NewReader("ERROR: shutdown not enabled\r\n")))
	if err != nil || !l.IsError() {
		t.Errorf("ERROR: %+v, %v", l, err)
	}
	if _, err := PeekReply(newReader(strings.NewReader(strings.Repeat("x", MaxReplyLine+10) + "\r\n"))); !errors.Is(err, ErrMalformed) {
		t.Errorf("long reply line: %v", err)
	}
}

func TestPeekBinary(t *testing.T) {
	for in, want := range map[string]bool{"\x80\x0b": true, "get a\r\n": false, "\x81": false} {
		got, err := PeekBinary(newReader(strings.NewReader(in)))
		if err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	if _, err := PeekBinary(newReader(strings.NewReader(""))); err != io.EOF {
		t.Errorf("empty: %v", err)
	}
}

func TestEncode(t *testing.T) {
	for got, want := range map[string]string{
		string(AppendError([]byte("x"))):                         "xERROR\r\n",
		string(AppendClientError(nil, "bad data chunk")):         "CLIENT_ERROR bad data chunk\r\n",
		string(AppendServerError(nil, "out of memory")):          "SERVER_ERROR out of memory\r\n",
		string(AppendEnd(nil)):                                   "END\r\n",
		string(AppendMetaMiss(nil, ptr(parse(t, "mg a v\r\n")))): "EN\r\n",
		// As memcached answered in testdata (mg_miss_flags, mg_base64).
		string(AppendMetaMiss(nil, ptr(parse(t, "mg nokey O7 k v\r\n")))): "EN O7 knokey\r\n",
		string(AppendMetaMiss(nil, ptr(parse(t, "mg azE= b k v\r\n")))):   "EN kazE= b\r\n",
		string(AppendMetaMiss(nil, ptr(parse(t, "mg zz k O5\r\n")))):      "EN kzz O5\r\n",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

func ptr(c Command) *Command { return &c }
