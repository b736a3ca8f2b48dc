package memcache

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gofaults/faults/internal/testenv"
)

// sessionStep is one step of testdata/session.*: the bytes the client
// sent at once and the server's reply to them.
type sessionStep struct {
	name           string
	client, server []byte
}

// loadSession reads testdata/session.{client,server,steps}.
func loadSession(t testing.TB) []sessionStep {
	t.Helper()
	var steps []sessionStep
	for _, st := range testenv.ReadMemcachedSession(t, "testdata") {
		steps = append(steps, sessionStep{st.Name, st.Client, st.Server})
	}
	return steps
}

// stepCommands is how many commands a step holds where it is not one:
// the steps whose refused line makes memcached read its data block as
// commands, and the pipeline.
var stepCommands = map[string][]string{
	"set_key_too_long":       {"set", "abc"},
	"set_bad_length":         {"set", "abc"},
	"set_bad_length_noreply": {"set", "abc"},
	"set_bad_chunk":          {"set", ""}, // the block's 5 bytes, then the empty line left
	"ms_bad_length":          {"ms", "hi"},
	"ms_bad_chunk":           {"ms", ""},
	"pipeline":               {"set", "get", "mg", "mg", "mn", "delete"},
}

// TestFixtureSession frames each captured step, commands and replies,
// checking that the commands end where the step ends and that their
// replies, paired as a relay pairs them, end where memcached's did.
func TestFixtureSession(t *testing.T) {
	steps := loadSession(t)
	if len(steps) < 60 {
		t.Fatalf("%d steps in the session", len(steps))
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			cmds, err := frameCommands(t, newReader(bytes.NewReader(st.client)))
			if err != nil {
				t.Fatalf("commands: %v", err)
			}
			want := stepCommands[st.name]
			if want == nil {
				want = []string{strings.SplitN(strings.TrimSpace(string(st.client)), " ", 2)[0]}
			}
			var names []string
			for _, c := range cmds {
				names = append(names, c.name)
			}
			if strings.Join(names, ",") != strings.Join(want, ",") {
				t.Fatalf("commands %q, want %q", names, want)
			}
			if end := cmds[len(cmds)-1].end; end != int64(len(st.client)) {
				t.Fatalf("commands end at %d of %d bytes", end, len(st.client))
			}
			if bad := strings.HasSuffix(st.name, "_bad_chunk"); cmds[0].badChunk != bad {
				t.Errorf("bad data chunk %v, want %v", cmds[0].badChunk, bad)
			}
			ends, err := frameReplies(t, newReader(bytes.NewReader(st.server)), cmds, nil)
			if err != nil {
				t.Fatalf("replies: %v (ends %v)", err, ends)
			}
			var last int64
			for _, e := range ends {
				last = max(last, e)
			}
			if last != int64(len(st.server)) {
				t.Fatalf("replies end at %v, the step's at %d: %q", ends, len(st.server), st.server[:min(len(st.server), 200)])
			}
		})
	}
}

// TestFixtureWholeSession frames the whole session at once, commands and
// replies, read through a small buffer and a byte at a time: the same
// boundaries as step by step.
func TestFixtureWholeSession(t *testing.T) {
	steps := loadSession(t)
	var client, server []byte
	var cmdEnds, replyEnds []int64
	var owed []bool
	for _, st := range steps {
		cmds, err := frameCommands(t, newReader(bytes.NewReader(st.client)))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			cmdEnds = append(cmdEnds, int64(len(client))+c.end)
		}
		ends, err := frameReplies(t, newReader(bytes.NewReader(st.server)), cmds, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ends {
			owed = append(owed, e >= 0)
			if e >= 0 {
				replyEnds = append(replyEnds, int64(len(server))+e)
			}
		}
		client, server = append(client, st.client...), append(server, st.server...)
	}
	for _, size := range []int{64, 4096} {
		for how, src := range map[string]func([]byte) *bufio.Reader{
			"whole": func(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), size) },
			"onebyte": func(b []byte) *bufio.Reader {
				return bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(b)), size)
			},
		} {
			cmds, err := frameCommands(t, src(client))
			if size < MaxLine {
				// The lines longer than the buffer cannot be framed.
				if !errors.Is(err, ErrMalformed) || len(cmds) == 0 {
					t.Fatalf("%s/%d: commands: %d framed, then %v", how, size, len(cmds), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s/%d: commands: %v", how, size, err)
			}
			var got []int64
			for _, c := range cmds {
				got = append(got, c.end)
			}
			if !equalEnds(got, cmdEnds) {
				t.Fatalf("%s/%d: commands end at %v, want %v", how, size, got, cmdEnds)
			}
			// A quiet command's reply is paired as the steps paired it: in
			// one stream, whose it is cannot be told from the bytes.
			ends, err := frameReplies(t, src(server), cmds, owed)
			if err != nil {
				t.Fatalf("%s/%d: replies: %v", how, size, err)
			}
			got = got[:0]
			for _, e := range ends {
				if e >= 0 {
					got = append(got, e)
				}
			}
			if !equalEnds(got, replyEnds) {
				t.Fatalf("%s/%d: replies end at %v, want %v", how, size, got, replyEnds)
			}
		}
	}
}

func equalEnds(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFixtureBinary: the binary version request is detected as binary;
// the text session's first byte is not.
func TestFixtureBinary(t *testing.T) {
	for name, want := range map[string]bool{"binary.client": true, "session.client": false} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := PeekBinary(newReader(bytes.NewReader(b)))
		if err != nil || got != want {
			t.Errorf("%s: PeekBinary = %v, %v; want %v", name, got, err, want)
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "binary.server"))
	if err != nil || len(b) < 24 || b[0] != 0x81 {
		t.Errorf("binary.server: %x, %v: not a binary response", b, err)
	}
}
