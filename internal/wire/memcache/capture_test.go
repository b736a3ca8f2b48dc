package memcache

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// The marker a capture sends after each step, and the reply that ends
// the step's bytes: a meta get of a key never stored, echoing an opaque
// and the key.
const (
	captureMarker      = "mg faults-capture-marker O9f1c2b k\r\n"
	captureMarkerReply = "EN O9f1c2b kfaults-capture-marker\r\n"
)

// bigValue is the large value of the session: 128 KiB, more than any
// buffer of the framer's tests, holding CRLFs and reply lines a framer
// must count past, not read.
func bigValue() []byte {
	unit := "big\r\nEND\r\nVALUE k 0 3\r\nVA 2 \r\nMN\r\n"
	return []byte(strings.Repeat(unit, (128<<10)/len(unit)+1)[:128<<10])
}

// sessionSteps is the text session of the capture: each step is the
// bytes a client sends at once (one command, or several where memcached
// reads a refused line's data block as commands). "{cas}" is replaced by
// the cas unique of the last gets's first value.
func sessionSteps() []struct{ name, send string } {
	big := string(bigValue())
	return []struct{ name, send string }{
		{"version", "version\r\n"},
		{"set", "set k1 5 0 3\r\none\r\n"},
		{"set_crlf_value", "set k2 0 0 14\r\nEND\r\nVALUE x\r\n\r\n"},
		{"get_hit", "get k1\r\n"},
		{"get_miss", "get nokey\r\n"},
		{"get_multi", "get k1 nokey k2\r\n"},
		{"gets", "gets k1 k2\r\n"},
		{"cas_stored", "cas k1 0 0 3 {cas}\r\nuno\r\n"},
		{"cas_exists", "cas k1 0 0 3 1\r\nxxx\r\n"},
		{"cas_not_found", "cas nokey 0 0 3 1\r\nxxx\r\n"},
		{"add_not_stored", "add k1 0 0 1\r\nx\r\n"},
		{"replace_not_stored", "replace nokey 0 0 1\r\nx\r\n"},
		{"append", "append k1 0 0 2\r\n!!\r\n"},
		{"prepend", "prepend k1 0 0 2\r\n<<\r\n"},
		{"set_noreply", "set k3 0 0 1 noreply\r\n7\r\n"},
		{"incr", "incr k3 10\r\n"},
		{"decr", "decr k3 100\r\n"},
		{"incr_not_found", "incr nokey 1\r\n"},
		{"incr_non_numeric", "incr k1 1\r\n"},
		{"incr_noreply", "incr k3 1 noreply\r\n"},
		{"touch", "touch k1 100\r\n"},
		{"gat", "gat 100 k1 nokey\r\n"},
		{"gats", "gats 100 k2\r\n"},
		{"delete", "delete k2\r\n"},
		{"delete_not_found", "delete k2\r\n"},
		{"delete_noreply", "delete k3 noreply\r\n"},
		{"set_big", "set big 0 0 131072\r\n" + big + "\r\n"},
		{"get_big", "get big\r\n"},
		{"mg_big", "mg big v s\r\n"},
		{"set_key_too_long", "set " + strings.Repeat("k", 251) + " 0 0 3\r\nabc\r\n"},
		{"set_bad_length", "set k1 0 0 x\r\nabc\r\n"},
		{"set_bad_length_noreply", "set k1 0 0 x noreply\r\nabc\r\n"},
		{"set_bad_chunk", "set k1 0 0 3\r\nabcde\r\n"},
		{"set_again", "set k1 5 0 3\r\none\r\n"},
		{"get_key_too_long", "get k1 " + strings.Repeat("k", 251) + "\r\n"},
		{"unknown", "bogus k1\r\n"},
		{"upper_case", "GET k1\r\n"},
		{"empty_line", "\r\n"},
		{"newline_only", "get k1\n"},
		{"mg_hit", "mg k1 v f t s c k O42\r\n"},
		{"mg_hit_no_value", "mg k1 s\r\n"},
		{"mg_miss", "mg nokey v\r\n"},
		{"mg_miss_flags", "mg nokey O7 k v\r\n"},
		{"mg_base64", "mg azE= b k v\r\n"},
		{"mg_quiet_hit", "mg k1 v q\r\n"},
		{"mg_quiet_miss", "mg nokey v q k O1\r\n"},
		{"ms", "ms k4 2 T0 F3\r\nhi\r\n"},
		{"ms_quiet", "ms k4 2 q\r\nho\r\n"},
		{"ms_quiet_not_stored", "ms nokey 2 q MR\r\nhi\r\n"},
		{"ms_invalid_flag", "ms k4 2 Z\r\nhi\r\n"},
		{"ms_bad_length", "ms k4 x\r\nhi\r\n"},
		{"ms_bad_chunk", "ms k4 2\r\nhix\r\n"},
		{"ma", "ma k3\r\n"},
		{"set_counter", "set n 0 0 1\r\n5\r\n"},
		{"ma_value", "ma n v\r\n"},
		{"ma_quiet", "ma n q v\r\n"},
		{"md", "md k4\r\n"},
		{"md_quiet_not_found", "md k4 q O5\r\n"},
		{"me", "me k1\r\n"},
		{"me_miss", "me nokey\r\n"},
		{"mn", "mn\r\n"},
		{"stats", "stats\r\n"},
		{"stats_slabs", "stats slabs\r\n"},
		{"stats_detail_on", "stats detail on\r\n"},
		{"stats_reset", "stats reset\r\n"},
		{"verbosity", "verbosity 1\r\n"},
		{"cache_memlimit", "cache_memlimit 64\r\n"},
		{"flush_all_noreply", "flush_all noreply\r\n"},
		{"flush_all", "flush_all\r\n"},
		{"pipeline", "set p 0 0 1\r\n1\r\nget p\r\nmg p v q\r\nmg nokey v q\r\nmn\r\ndelete p\r\n"},
		{"quit", "quit\r\n"},
	}
}

// TestCaptureFixtures regenerates testdata/session.{client,server,steps}
// and testdata/binary.{client,server} from a private memcached when
// FAULTS_CAPTURE=1:
//
//	FAULTS_CAPTURE=1 go test -run '^TestCaptureFixtures$' ./internal/wire/memcache
//
// Each step of the session is sent alone, followed by a marker command
// whose reply is unique; the bytes read before the marker's reply are the
// step's reply. The last step, quit, is read to the end of the stream.
func TestCaptureFixtures(t *testing.T) {
	if os.Getenv("FAULTS_CAPTURE") != "1" {
		t.Skip("set FAULTS_CAPTURE=1 to regenerate testdata from a private memcached")
	}
	addr := testenv.StartMemcached(t)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var client, server, steps bytes.Buffer
	casRE := regexp.MustCompile(`VALUE \S+ \d+ \d+ (\d+)\r\n`)
	cas := ""
	var pending []byte
	chunk := make([]byte, 64<<10)
	for _, st := range sessionSteps() {
		send := strings.ReplaceAll(st.send, "{cas}", cas)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		quit := st.name == "quit"
		out := send
		if !quit {
			out += captureMarker
		}
		if _, err := c.Write([]byte(out)); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for quit || !bytes.HasSuffix(pending, []byte(captureMarkerReply)) {
			n, err := c.Read(chunk)
			pending = append(pending, chunk[:n]...)
			if err != nil {
				if quit {
					break
				}
				t.Fatalf("%s: %v after %q", st.name, err, pending)
			}
		}
		reply := pending
		if !quit {
			reply = pending[:len(pending)-len(captureMarkerReply)]
		}
		if m := casRE.FindSubmatch(reply); m != nil {
			cas = string(m[1])
		}
		client.WriteString(send)
		server.Write(reply)
		fmt.Fprintf(&steps, "%s %d %d\n", st.name, len(send), len(reply))
		pending = nil
	}
	write(t, "session.client", client.Bytes())
	write(t, "session.server", server.Bytes())
	write(t, "session.steps", steps.Bytes())

	// The binary protocol: a version request (magic, opcode 0x0b, no key,
	// extras or body), answered in binary.
	b, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	req := make([]byte, 24)
	req[0], req[1] = BinaryMagic, 0x0b
	b.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := b.Write(req); err != nil {
		t.Fatal(err)
	}
	var resp []byte
	for len(resp) < 24 || len(resp) < 24+int(resp[8])<<24|int(resp[9])<<16|int(resp[10])<<8|int(resp[11]) {
		n, err := b.Read(chunk)
		resp = append(resp, chunk[:n]...)
		if err != nil {
			t.Fatalf("binary version: %v after %x", err, resp)
		}
	}
	write(t, "binary.client", req)
	write(t, "binary.server", resp)
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
