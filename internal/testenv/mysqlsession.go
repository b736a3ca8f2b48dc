package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// MySQLTestDSN returns the DSN of the tests' login (root, no password,
// database test) at addr, with multiple statements per query if multi.
func MySQLTestDSN(addr string, multi bool) string {
	cfg := MySQLConfig(addr, "root", "")
	cfg.MultiStatements = multi
	return cfg.FormatDSN()
}

// MySQLSessionVariants name the sessions recorded from MariaDB 10.11.19
// with go-sql-driver v1.10.1 that the MySQL codec's tests keep in their
// testdata, one per capability variant (see the codec's
// TestFollowerRealServer, which records them).
var MySQLSessionVariants = []string{"Negotiated", "NoDeprecateEOF", "NoCacheMetadata", "Classic"}

// MySQLSession is a recorded session: what the client and the server sent.
type MySQLSession struct{ Client, Server []byte }

// ReadMySQLSession returns the session of variant name recorded in dir,
// the files session-<name>.client and session-<name>.server.
func ReadMySQLSession(t testing.TB, dir, name string) MySQLSession {
	t.Helper()
	var s MySQLSession
	for _, side := range []struct {
		ext string
		b   *[]byte
	}{{"client", &s.Client}, {"server", &s.Server}} {
		b, err := os.ReadFile(filepath.Join(dir, "session-"+name+"."+side.ext))
		if err != nil {
			t.Fatal(err)
		}
		*side.b = b
	}
	return s
}
