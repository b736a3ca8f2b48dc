package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// respFixture is what a captured reply in testdata holds.
type respFixture struct {
	typ   byte   // the type byte that starts it
	first string // if it holds two values, the first; else ""
}

// respFixtures lists testdata/*.resp (see its README): every file
// there must be listed, and every listed one be there.
var respFixtures = map[string]respFixture{
	"resp2_command_info":            {typ: '*'},
	"resp2_debug_protocol_array":    {typ: '*'},
	"resp2_debug_protocol_attrib":   {typ: '$'}, // RESP2 has no attributes: the value alone
	"resp2_debug_protocol_bignum":   {typ: '$'},
	"resp2_debug_protocol_double":   {typ: '$'},
	"resp2_debug_protocol_false":    {typ: ':'},
	"resp2_debug_protocol_integer":  {typ: ':'},
	"resp2_debug_protocol_map":      {typ: '*'},
	"resp2_debug_protocol_null":     {typ: '$'},
	"resp2_debug_protocol_push":     {typ: '-'}, // "RESP2 is not supported by this command"
	"resp2_debug_protocol_set":      {typ: '*'},
	"resp2_debug_protocol_string":   {typ: '$'},
	"resp2_debug_protocol_true":     {typ: ':'},
	"resp2_debug_protocol_verbatim": {typ: '$'},
	"resp2_error":                   {typ: '-'},
	"resp2_hgetall":                 {typ: '*'},
	"resp2_large_bulk":              {typ: '$'},
	"resp2_nil":                     {typ: '$'},
	"resp2_nil_array":               {typ: '*'},
	"resp2_smembers":                {typ: '*'},
	"resp2_xrange":                  {typ: '*'},
	"resp2_zrange_withscores":       {typ: '*'},
	"resp3_command_info":            {typ: '*'},
	"resp3_debug_protocol_array":    {typ: '*'},
	"resp3_debug_protocol_attrib":   {typ: '|'},
	"resp3_debug_protocol_bignum":   {typ: '('},
	"resp3_debug_protocol_double":   {typ: ','},
	"resp3_debug_protocol_false":    {typ: '#'},
	"resp3_debug_protocol_integer":  {typ: ':'},
	"resp3_debug_protocol_map":      {typ: '%'},
	"resp3_debug_protocol_null":     {typ: '_'},
	"resp3_debug_protocol_push":     {typ: '>', first: ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"},
	"resp3_debug_protocol_set":      {typ: '~'},
	"resp3_debug_protocol_string":   {typ: '$'},
	"resp3_debug_protocol_true":     {typ: '#'},
	"resp3_debug_protocol_verbatim": {typ: '='},
	"resp3_error":                   {typ: '-'},
	"resp3_hello":                   {typ: '%'},
	"resp3_hgetall":                 {typ: '%'},
	"resp3_nil":                     {typ: '_'},
	"resp3_nil_array":               {typ: '_'},
	"resp3_push_and_reply":          {typ: '+', first: "+OK\r\n"},
	"resp3_push_invalidate":         {typ: '>'},
	"resp3_smembers":                {typ: '~'},
	"resp3_xrange":                  {typ: '*'},
	"resp3_zrange_withscores":       {typ: '*'},
}

// loadRESPFixtures reads testdata, checking it against respFixtures.
func loadRESPFixtures(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.resp"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".resp")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fx, ok := respFixtures[name]
		switch {
		case !ok:
			t.Fatalf("%s is not listed in respFixtures", p)
		case len(b) == 0 || b[0] != fx.typ:
			t.Fatalf("%s does not start with %q: %.20q", p, fx.typ, b)
		case !bytes.HasPrefix(b, []byte(fx.first)):
			t.Fatalf("%s does not start with its first value %q", p, fx.first)
		}
		got[name] = b
	}
	for name := range respFixtures {
		if got[name] == nil {
			t.Fatalf("fixture %s.resp is missing from testdata", name)
		}
	}
	return got
}

// ends returns the offsets at which a fixture's values end.
func (fx respFixture) ends(b []byte) []int {
	if fx.first != "" {
		return []int{len(fx.first), len(b)}
	}
	return []int{len(b)}
}

// respFrameAll frames what src yields, calling frame after every read,
// until src ends or frame fails. It returns the stream offsets at which
// Frame reported a whole value, and Frame's or Fill's error (nil at
// io.EOF). It checks that frame reports whole only once per value and
// that the framed bytes never pass what was read.
func respFrameAll(t testing.TB, src io.Reader) (ends []int, err error) {
	t.Helper()
	rr := NewReader(src)
	taken := 0 // bytes taken before rr.r
	for i := 0; ; i++ {
		if i > 1<<24 {
			t.Fatal("respFrameAll: no end after 1<<24 steps")
		}
		whole, err := rr.Frame()
		if rr.r > rr.f || rr.f > rr.w {
			t.Fatalf("r %d, f %d, w %d out of order", rr.r, rr.f, rr.w)
		}
		if err != nil {
			return ends, err
		}
		if whole {
			if !rr.AtBoundary() {
				t.Fatal("frame reported whole away from a boundary")
			}
			ends = append(ends, taken+rr.f-rr.r)
			continue
		}
		taken += len(rr.Take())
		if err := rr.Fill(); err != nil {
			if err == io.EOF {
				return ends, nil
			}
			return ends, err
		}
	}
}

// splitReader yields b in two reads, at k.
type splitReader struct {
	b    []byte
	k    int
	done bool
}

func (s *splitReader) Read(p []byte) (int, error) {
	if !s.done {
		s.done = true
		n := copy(p, s.b[:s.k])
		s.b = s.b[n:]
		s.k -= n
		if s.k > 0 {
			s.done = false
		}
		if n > 0 {
			return n, nil
		}
	}
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// chunkReader yields b in reads of random sizes, from 1 to max.
type chunkReader struct {
	b   []byte
	rng *rand.Rand
	max int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 1+c.rng.IntN(c.max))], c.b)
	c.b = c.b[n:]
	return n, nil
}

// respReaders returns readers of b: at once, a byte at a time, and in
// random chunks of several sizes.
func respReaders(b []byte, seed uint64) map[string]io.Reader {
	rng := rand.New(rand.NewPCG(seed, 7))
	return map[string]io.Reader{
		"whole":      bytes.NewReader(b),
		"one byte":   iotest.OneByteReader(bytes.NewReader(b)),
		"chunks≤7":   &chunkReader{b: b, rng: rng, max: 7},
		"chunks≤300": &chunkReader{b: b, rng: rng, max: 300},
		"chunks≤64K": &chunkReader{b: b, rng: rng, max: 64 << 10},
	}
}

func TestRESPFrameFixtures(t *testing.T) {
	fixtures := loadRESPFixtures(t)
	for name, b := range fixtures {
		want := fmt.Sprint(respFixtures[name].ends(b))
		t.Run(name, func(t *testing.T) {
			for how, src := range respReaders(b, uint64(len(b))) {
				ends, err := respFrameAll(t, src)
				if err != nil || fmt.Sprint(ends) != want {
					t.Fatalf("%s: values end at %v, %v; want %s", how, ends, err, want)
				}
			}
		})
	}
}

// TestRESPFrameEverySplit feeds each fixture in two reads, split at every
// offset (every 997th of the large one, and those near its ends).
func TestRESPFrameEverySplit(t *testing.T) {
	fixtures := loadRESPFixtures(t)
	for name, b := range fixtures {
		want := fmt.Sprint(respFixtures[name].ends(b))
		for k := 0; k <= len(b); k++ {
			if len(b) > 4096 && k > 64 && k < len(b)-64 && k%997 != 0 && k != 16<<10 && k != 64<<10 {
				continue
			}
			ends, err := respFrameAll(t, &splitReader{b: b, k: k})
			if err != nil || fmt.Sprint(ends) != want {
				t.Fatalf("%s split at %d: values end at %v, %v; want %s", name, k, ends, err, want)
			}
		}
	}
}

// TestRESPFrameTruncated: a fixture cut short is never whole (its first
// value is, if the cut is past it), and is no error: more may come.
func TestRESPFrameTruncated(t *testing.T) {
	fixtures := loadRESPFixtures(t)
	for name, b := range fixtures {
		fx := respFixtures[name]
		cuts := []int{}
		for k := 0; k < len(b); k++ {
			if len(b) <= 4096 || k < 64 || k > len(b)-64 || k%4999 == 0 {
				cuts = append(cuts, k)
			}
		}
		for _, k := range cuts {
			var want []int
			if fx.first != "" && k >= len(fx.first) {
				want = []int{len(fx.first)}
			}
			for how, src := range map[string]io.Reader{
				"whole":    bytes.NewReader(b[:k]),
				"one byte": iotest.OneByteReader(bytes.NewReader(b[:k])),
			} {
				if how == "one byte" && k > 4096 {
					continue
				}
				ends, err := respFrameAll(t, src)
				if err != nil || fmt.Sprint(ends) != fmt.Sprint(want) {
					t.Fatalf("%s cut at %d/%d (%s): values end at %v, %v; want %v", name, k, len(b), how, ends, err, want)
				}
			}
		}
	}
}

func TestRESPFrameConcatenations(t *testing.T) {
	fixtures := loadRESPFixtures(t)
	names := make([]string, 0, len(fixtures))
	for name := range fixtures {
		if name != "resp2_large_bulk" {
			names = append(names, name)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 20; round++ {
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		var stream []byte
		var want []int
		order := names[:1+rng.IntN(len(names))]
		if round == 0 {
			// Once with the large value in the middle.
			order = append([]string{names[0], "resp2_large_bulk"}, names[1:]...)
		}
		for _, name := range order {
			b := fixtures[name]
			for _, e := range respFixtures[name].ends(b) {
				want = append(want, len(stream)+e)
			}
			stream = append(stream, b...)
		}
		for how, src := range respReaders(stream, uint64(round)) {
			ends, err := respFrameAll(t, src)
			if err != nil || fmt.Sprint(ends) != fmt.Sprint(want) {
				t.Fatalf("round %d, %s, %q: values end at %v, %v; want %v", round, how, order, ends, err, want)
			}
		}
	}
}

// TestRESPFrameDeepAndEmpty frames values the server seldom sends: deep
// nesting, empty aggregates and strings, nulls of every kind, attributes
// inside aggregates.
func TestRESPFrameDeepAndEmpty(t *testing.T) {
	deep := strings.Repeat("*1\r\n", 10000) + ":1\r\n"
	for _, tc := range []struct {
		in   string
		ends []int
	}{
		{deep, []int{len(deep)}},
		{"*0\r\n%0\r\n~0\r\n>0\r\n", []int{4, 8, 12, 16}},
		{"$0\r\n\r\n=0\r\n\r\n!0\r\n\r\n", []int{6, 12, 18}},
		{"$-1\r\n*-1\r\n_\r\n", []int{5, 10, 13}},
		{"*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n", []int{24}},
		{"|0\r\n+x\r\n", []int{8}},
		{"!5\r\nERR x\r\n", []int{11}},
		{"$4\r\n\r\n\r\n\r\n", []int{10}}, // a payload of CRLFs
		{"%1\r\n*1\r\n:1\r\n~1\r\n_\r\n", []int{19}},
	} {
		for how, src := range respReaders([]byte(tc.in), 3) {
			ends, err := respFrameAll(t, src)
			if err != nil || fmt.Sprint(ends) != fmt.Sprint(tc.ends) {
				t.Fatalf("%.40q (%s): values end at %v, %v; want %v", tc.in, how, ends, err, tc.ends)
			}
		}
	}
}

func TestRESPFrameMalformed(t *testing.T) {
	long := "+" + strings.Repeat("a", MaxLine+10)
	for _, in := range []string{
		"?x\r\n",                  // no such type
		"hello\r\n",               // an inline command is no reply
		"\r\n",                    // an empty line
		"+OK\n",                   // LF without CR
		"*1\r\n+OK\n",             // the same inside an array
		"$-2\r\n",                 // negative lengths other than -1
		"*-2\r\n",                 //
		"$-0\r\n",                 //
		"!-1\r\n",                 // only '$' and '*' are nullable
		"=-1\r\n",                 //
		"%-1\r\n",                 //
		"~-1\r\n",                 //
		">-1\r\n",                 //
		"|-1\r\n",                 //
		"$+3\r\nabc\r\n",          // signs and letters in lengths
		"$3a\r\nabc\r\n",          //
		"$ 3\r\nabc\r\n",          //
		"*x\r\n",                  //
		"*1x\r\n:1\r\n",           //
		"$\r\n",                   // no length
		"*\r\n",                   //
		"*99999999999\r\n",        // 11 digits
		"*4294967297\r\n",         // more than MaxCount
		"$3\r\nabcX\r\n",          // no CRLF after a bulk
		"$3\r\nabc\n\r",           //
		"$3\r\nabc\r\r",           //
		"*2\r\n$1\r\naXY",         // the same inside an array
		"=3\r\ntxtAB",             // and after a verbatim string
		long,                      // a line over 64 KiB, without end
		long + "\r\n",             // with an end
		"*1\r\n" + long,           // inside an array
		"+OK\r\n*1\r\n?\r\n",      // after a whole value
		"*3\r\n:1\r\n:2\r\n@\r\n", // the last element
	} {
		for how, src := range respReaders([]byte(in), 4) {
			ends, err := respFrameAll(t, src)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%.40q (%s): values end at %v, error %v; want ErrMalformed", in, how, ends, err)
			}
			if in == "+OK\r\n*1\r\n?\r\n" && fmt.Sprint(ends) != "[5]" || in != "+OK\r\n*1\r\n?\r\n" && len(ends) > 0 {
				t.Fatalf("%.40q (%s): values end at %v before the error", in, how, ends)
			}
		}
	}
}

// TestRESPFrameLineLimit: a line of MaxLine bytes is framed, one byte
// more is refused.
func TestRESPFrameLineLimit(t *testing.T) {
	ok := "+" + strings.Repeat("a", MaxLine-1) + "\r\n"
	ends, err := respFrameAll(t, bytes.NewReader([]byte(ok)))
	if err != nil || fmt.Sprint(ends) != fmt.Sprint([]int{len(ok)}) {
		t.Fatalf("a line of %d bytes: values end at %v, %v", MaxLine, ends, err)
	}
	over := "+" + strings.Repeat("a", MaxLine) + "\r\n"
	if _, err := respFrameAll(t, bytes.NewReader([]byte(over))); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a line of %d bytes: %v, want ErrMalformed", MaxLine+1, err)
	}
}

// TestRESPFrameLineLimitIndependentOfChunking: whether a line of exactly
// MaxLine bytes is refused must not depend on how its bytes arrive.
// A regression test: line() once refused such a line when its CR came in
// a read before its LF (MaxLine+1 unframed bytes), and framed it when
// read whole.
func TestRESPFrameLineLimitIndependentOfChunking(t *testing.T) {
	ok := []byte("+" + strings.Repeat("a", MaxLine-1) + "\r\n")
	for how, src := range map[string]io.Reader{
		"whole":              bytes.NewReader(ok),
		"CR apart from LF":   &splitReader{b: ok, k: len(ok) - 1},
		"one byte at a time": iotest.OneByteReader(bytes.NewReader(ok)),
	} {
		ends, err := respFrameAll(t, src)
		if err != nil || fmt.Sprint(ends) != fmt.Sprint([]int{len(ok)}) {
			t.Errorf("a line of %d bytes, %s: values end at %v, %v; want [%d], nil", MaxLine, how, ends, err, len(ok))
		}
	}
}

// TestRESPFillPanicsWithFramedBytes: Fill refuses to run over framed
// bytes not yet passed on.
func TestRESPFillPanicsWithFramedBytes(t *testing.T) {
	rr := NewReader(strings.NewReader("+OK\r\n+OK\r\n"))
	if err := rr.Fill(); err != nil {
		t.Fatal(err)
	}
	if whole, err := rr.Frame(); !whole || err != nil {
		t.Fatalf("frame: %v, %v", whole, err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("fill with framed bytes pending did not panic")
		}
	}()
	rr.Fill()
}

// TestRESPTakeSkip: Take returns exactly the framed bytes, once; Skip
// forgets them; the unframed bytes stay.
func TestRESPTakeSkip(t *testing.T) {
	rr := NewReader(strings.NewReader("+A\r\n$3\r\nabc\r\n:1"))
	if err := rr.Fill(); err != nil {
		t.Fatal(err)
	}
	if whole, _ := rr.Frame(); !whole {
		t.Fatal("+A not whole")
	}
	if whole, _ := rr.Frame(); !whole {
		t.Fatal("$3 not whole")
	}
	if got := string(rr.Take()); got != "+A\r\n$3\r\nabc\r\n" {
		t.Fatalf("take = %q", got)
	}
	if got := rr.Take(); len(got) != 0 {
		t.Fatalf("second take = %q", got)
	}
	if whole, err := rr.Frame(); whole || err != nil {
		t.Fatalf(":1 without CRLF: %v, %v", whole, err)
	}
	if got := string(rr.Unframed()); got != ":1" {
		t.Fatalf("unframed = %q", got)
	}
	rr.Skip()
	if len(rr.framed()) != 0 || string(rr.Unframed()) != ":1" {
		t.Fatalf("after skip: framed %q, unframed %q", rr.framed(), rr.Unframed())
	}
}

// respPeek reads src until PeekCommand stops asking for more (at most
// 1<<20 reads), or src ends.
func respPeek(t *testing.T, src io.Reader) (Command, error) {
	t.Helper()
	rr := NewReader(src)
	for i := 0; i < 1<<20; i++ {
		cmd, err := rr.PeekCommand()
		if err != ErrShort {
			return cmd, err
		}
		if err := rr.Fill(); err != nil {
			return Command{}, fmt.Errorf("fill: %w", err)
		}
	}
	t.Fatal("peekCommand: no answer")
	return Command{}, nil
}

func TestRESPPeekCommand(t *testing.T) {
	longKey := strings.Repeat("k", MaxLine+100)
	for _, tc := range []struct {
		in   string
		name string
		key  string // "<nil>" for none
		none bool
	}{
		{"*1\r\n$4\r\nPING\r\n", "PING", "<nil>", false},
		{"*2\r\n$3\r\nget\r\n$3\r\nfoo\r\n", "get", "foo", false},
		{"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$1\r\nv\r\n", "SET", "", false},
		{"*3\r\n$3\r\nSET\r\n$4\r\na\r\nb\r\n$1\r\nv\r\n", "SET", "a\r\nb", false},
		{"*0\r\n", "", "<nil>", true},
		{"*-1\r\n", "", "<nil>", true},
		{"*2\r\n$3\r\nGET\r\n$" + fmt.Sprint(len(longKey)) + "\r\n" + longKey + "\r\n", "GET", "<nil>", false},
		{"PING\r\n", "PING", "<nil>", false},
		{"SET k v\n", "SET", "k", false},
		{"  get   key  \r\n", "get", "key", false},
		{"\r\n", "", "<nil>", true},
		{"\n", "", "<nil>", true},
		{"   \r\n", "", "<nil>", true},
	} {
		for how, src := range respReaders([]byte(tc.in), 5) {
			cmd, err := respPeek(t, src)
			key := "<nil>"
			if cmd.Key != nil {
				key = string(cmd.Key)
			}
			if err != nil || string(cmd.Name) != tc.name || key != tc.key || cmd.None != tc.none {
				t.Fatalf("%.40q (%s): name %q, key %q, none %v, %v; want %q, %q, %v", tc.in, how, cmd.Name, key, cmd.None, err, tc.name, tc.key, tc.none)
			}
			// An inline command is framed whole by StartCommand; a
			// multibulk one frames to its end.
			inline := tc.in[0] != '*'
			if inline && cmd.Inline != len(tc.in) || !inline && cmd.Inline != 0 {
				t.Fatalf("%.40q: inline %d", tc.in, cmd.Inline)
			}
		}
	}
}

// TestRESPStartCommand: after PeekCommand, StartCommand and Frame consume
// exactly the command, pipelined or not.
func TestRESPStartCommand(t *testing.T) {
	in := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*0\r\n\r\n*1\r\n$4\r\nQUIT\r\n"
	rr := NewReader(strings.NewReader(in))
	if err := rr.Fill(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < 10 && rr.f < rr.w; i++ {
		cmd, err := rr.PeekCommand()
		if err != nil {
			t.Fatal(err)
		}
		start := rr.f
		rr.StartCommand(cmd)
		if cmd.Inline == 0 {
			if whole, err := rr.Frame(); !whole || err != nil {
				t.Fatalf("%q: frame %v, %v", cmd.Name, whole, err)
			}
		}
		got = append(got, fmt.Sprintf("%s=%q", cmd.Name, in[start:rr.f]))
	}
	want := []string{`GET="*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"`, `PING="PING\r\n"`, `="*0\r\n"`, `="\r\n"`, `QUIT="*1\r\n$4\r\nQUIT\r\n"`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("commands %q, want %q", got, want)
	}
}

func TestRESPPeekCommandShort(t *testing.T) {
	for _, in := range []string{
		"*",
		"*2",
		"*2\r",
		"*2\r\n",
		"*2\r\n$3",
		"*2\r\n$3\r\nGE",
		"*2\r\n$3\r\nGET",
		"*2\r\n$3\r\nGET\r",
		"*2\r\n$3\r\nGET\r\n", // the key is still to come
		"*2\r\n$3\r\nGET\r\n$1\r\nk",
		"PING",
		"SET k v\r",
	} {
		rr := NewReader(strings.NewReader(in))
		if err := rr.Fill(); err != nil {
			t.Fatal(err)
		}
		if cmd, err := rr.PeekCommand(); err != ErrShort {
			t.Fatalf("%q: %+v, %v; want ErrShort", in, cmd, err)
		}
		if rr.f != 0 {
			t.Fatalf("%q: peekCommand framed %d bytes", in, rr.f)
		}
	}
	if _, err := NewReader(nil).PeekCommand(); err != ErrShort {
		t.Fatalf("nothing read: %v", err)
	}
}

func TestRESPPeekCommandMalformed(t *testing.T) {
	for _, in := range []string{
		"*x\r\n",
		"*-2\r\n",
		"*+1\r\n$4\r\nPING\r\n",
		"*1\r\n:1\r\n",                  // an argument not a bulk
		"*1\r\n*1\r\n$4\r\nPING\r\n",    //
		"*1\r\n$-1\r\n",                 // a null argument
		"*1\r\n$x\r\nPING\r\n",          //
		"*1\r\n$4\r\nPINGxy",            // no CRLF after the name
		"*2\r\n$3\r\nGET\r\n$1\r\nkXY",  // nor after the key
		"*2\r\n$3\r\nGET\r\n+k\r\n",     //
		"*1\r\n$99999999999\r\n",        //
		strings.Repeat("x", MaxLine+10), // an inline line with no end
		"*1\r\n$70000\r\n" + strings.Repeat("n", 70000) + "\r\n", // a name too long to wait for
	} {
		cmd, err := respPeek(t, bytes.NewReader([]byte(in)))
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("%.40q: %+v, %v; want ErrMalformed", in, cmd, err)
		}
	}
}

// TestRESPPeekCommandLFWithoutCR: a multibulk head whose line ends with LF
// alone is malformed, as Frame and Redis ("Protocol error: invalid
// multibulk length") find it. A regression test: cutLine once took a LF
// without CR for no line end yet, so PeekCommand asked for more bytes
// until MaxLine of them had come, and the proxy held the command back
// while the server would have answered an error.
func TestRESPPeekCommandLFWithoutCR(t *testing.T) {
	for _, in := range []string{
		"*1\n$4\r\nPING\r\n",
		"*1\r\n$4\nPING\r\n",
		"*2\r\n$3\r\nGET\r\n$1\nk\r\n",
	} {
		rr := NewReader(strings.NewReader(in))
		if err := rr.Fill(); err != nil {
			t.Fatal(err)
		}
		if cmd, err := rr.PeekCommand(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %+v, %v; want ErrMalformed", in, cmd, err)
		}
	}
}

// framed returns the framed bytes not yet taken or skipped.
func (rr *Reader) framed() []byte { return rr.buf[rr.r:rr.f] }

// TestRESPPeekArgs: every argument of a command read whole, multibulk or
// inline, and "not whole" until it is.
func TestRESPPeekArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		args []string // nil: not whole
		n    int64    // Command.Args
	}{
		{"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$0\r\n\r\n", []string{"MGET", "a", ""}, 3},
		{"MGET a  b c\r\n", []string{"MGET", "a", "b", "c"}, 4},
		{"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\n", nil, 3},
		{"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n", nil, 3},
		{"MGET a b", nil, 0},
	} {
		rr := NewReader(strings.NewReader(tc.in))
		if err := rr.Fill(); err != nil {
			t.Fatal(err)
		}
		if tc.n > 0 {
			if cmd, err := rr.PeekCommand(); err != nil || cmd.Args != tc.n {
				t.Fatalf("%q: PeekCommand: %+v, %v; want %d arguments", tc.in, cmd, err, tc.n)
			}
		}
		args, whole, err := rr.PeekArgs(nil)
		var got []string
		for _, a := range args {
			got = append(got, string(a))
		}
		if err != nil || whole != (tc.args != nil) || whole && fmt.Sprint(got) != fmt.Sprint(tc.args) {
			t.Fatalf("%q: %q, whole %v, %v; want %q", tc.in, got, whole, err, tc.args)
		}
		if rr.f != 0 {
			t.Fatalf("%q: PeekArgs framed %d bytes", tc.in, rr.f)
		}
	}
	rr := NewReader(strings.NewReader("*2\r\n$4\r\nMGET\r\n:1\r\n"))
	rr.Fill()
	if _, _, err := rr.PeekArgs(nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an argument that is no bulk string: %v", err)
	}
}

// TestRESPFrameArrayHead: an array's head alone is framed, its elements
// then frame one by one; any other value is left to Frame.
func TestRESPFrameArrayHead(t *testing.T) {
	in := "*3\r\n$1\r\na\r\n_\r\n*1\r\n:1\r\n*-1\r\n-ERR x\r\n*2"
	rr := NewReader(strings.NewReader(in))
	if err := rr.Fill(); err != nil {
		t.Fatal(err)
	}
	n, isArray, ok, err := rr.FrameArrayHead()
	if n != 3 || !isArray || !ok || err != nil || string(rr.Take()) != "*3\r\n" {
		t.Fatalf("head: %d, %v, %v, %v", n, isArray, ok, err)
	}
	for _, want := range []string{"$1\r\na\r\n", "_\r\n", "*1\r\n:1\r\n"} {
		if whole, err := rr.Frame(); !whole || err != nil || string(rr.Take()) != want {
			t.Fatalf("element: %v, %v; want %q", whole, err, want)
		}
	}
	if n, isArray, ok, err := rr.FrameArrayHead(); n != -1 || !isArray || !ok || err != nil || string(rr.Take()) != "*-1\r\n" {
		t.Fatalf("null array: %d, %v, %v, %v", n, isArray, ok, err)
	}
	if _, isArray, ok, err := rr.FrameArrayHead(); isArray || !ok || err != nil || len(rr.Take()) != 0 {
		t.Fatalf("an error reply: %v, %v, %v; want it left unframed", isArray, ok, err)
	}
	rr.Frame()
	rr.Take()
	if _, _, ok, err := rr.FrameArrayHead(); ok || err != nil {
		t.Fatalf("a head cut short: %v, %v", ok, err)
	}
}
