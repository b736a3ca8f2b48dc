package mysqlwire

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Helpers of the packet tests: readers the relays do not need, used to
// build and check fixtures.

// discardPayload skips the payload of p, whose header ReadHeader has just
// read. A stream that ends first gives io.ErrUnexpectedEOF.
func discardPayload(br *bufio.Reader, p Header) error {
	n, err := br.Discard(p.Length)
	if n < p.Length && err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// discardMessage skips a whole message whose first header p ReadHeader
// has just read, as CopyMessage would forward it.
func discardMessage(br *bufio.Reader, p Header, max int) (last Header, err error) {
	last, _, err = CopyMessage(io.Discard, br, p, max)
	return last, err
}

// commandOf returns the command of a client message from the start of its
// payload; ok is false for an empty payload.
func commandOf(head []byte) (c Command, ok bool) {
	if len(head) == 0 {
		return 0, false
	}
	return Command(head[0]), true
}

// deadlockMessage is the text of MariaDB's ER_LOCK_DEADLOCK.
const deadlockMessage = "Deadlock found when trying to get lock; try restarting transaction"

// capturing reports whether the tests that record the real server write
// what they record to testdata (FAULTS_CAPTURE=1).
func capturing() bool { return os.Getenv("FAULTS_CAPTURE") == "1" }

// readFixture returns the contents of testdata/name.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFixture writes b to testdata/name.
func writeFixture(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote testdata/%s (%d bytes)", name, len(b))
}
