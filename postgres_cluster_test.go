package faults_test

// A throw-away PostgreSQL 15 cluster, for what the shared server cannot
// show: password logins (md5, SCRAM-SHA-256, password) and the refusal of
// a server at max_connections. It is made with initdb and started with
// pg_ctl once per run of the package, on the first test that asks for it,
// and stopped by TestMain after the tests (see pgClusterStop).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gofaults/faults/internal/testenv"
)

// pgBinDir holds the PostgreSQL 15 server programs (Debian's layout).
const pgBinDir = "/usr/lib/postgresql/15/bin"

// The cluster's settings and logins.
const (
	pgClusterMaxConns = 3 // max_connections; no slot is reserved for superusers
	pgClusterPassword = "s3cr3t-pw"
	pgClusterMD5      = "faults_md5"   // password stored as MD5, pg_hba md5
	pgClusterSCRAM    = "faults_scram" // password stored as SCRAM, pg_hba scram-sha-256
	pgClusterPlain    = "faults_plain" // password sent in clear, pg_hba password
)

// pgCluster is a running throw-away cluster.
type pgCluster struct {
	addr    string // 127.0.0.1:port
	dataDir string
	dir     string // removed when stopped; holds dataDir and the log
	asUser  bool   // the programs run as user postgres through runuser
}

var (
	pgClusterOnce sync.Once
	pgClusterMu   sync.Mutex
	pgClusterRun  *pgCluster
	pgClusterErr  error  // why it could not start
	pgClusterSkip string // why it cannot be made here (no binaries): a skip, never a failure
)

// pgThrowAway returns the address of the throw-away cluster, starting it
// on first use. Without the server programs the test is skipped; if they
// exist but the cluster cannot start, it is skipped, or fails under
// FAULTS_REQUIRE_SERVICES=1.
func pgThrowAway(t *testing.T) string {
	t.Helper()
	pgClusterOnce.Do(func() {
		c, skip, err := startPgCluster()
		pgClusterMu.Lock()
		pgClusterRun, pgClusterSkip, pgClusterErr = c, skip, err
		pgClusterMu.Unlock()
	})
	switch {
	case pgClusterSkip != "":
		t.Skip(pgClusterSkip)
	case pgClusterErr != nil:
		testenv.Unavailable(t, "the throw-away PostgreSQL cluster did not start: "+pgClusterErr.Error())
	}
	return pgClusterRun.addr
}

// pgClusterStop stops the throw-away cluster if it was started, and
// removes its files. TestMain calls it after the tests.
func pgClusterStop() {
	pgClusterMu.Lock()
	c := pgClusterRun
	pgClusterRun = nil
	pgClusterMu.Unlock()
	if c == nil {
		return
	}
	if err := c.pgCtl(30*time.Second, "stop", "-D", c.dataDir, "-m", "fast", "-w", "-t", "20"); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the throw-away PostgreSQL cluster: %v\n", err)
		c.pgCtl(30*time.Second, "stop", "-D", c.dataDir, "-m", "immediate", "-w", "-t", "20")
	}
	os.RemoveAll(c.dir)
}

// startPgCluster makes and starts the cluster. skip is set when it cannot
// be made on this machine at all (no server programs); err when it could
// have been and was not.
func startPgCluster() (c *pgCluster, skip string, err error) {
	for _, prog := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBinDir, prog)); err != nil {
			return nil, fmt.Sprintf("no PostgreSQL 15 server programs in %s (%v): the throw-away cluster cannot be made", pgBinDir, err), nil
		}
	}
	c = &pgCluster{asUser: os.Geteuid() == 0}
	// initdb refuses to run as root: the cluster then belongs to user
	// postgres, whom runuser runs the programs as.
	var uid, gid int
	if c.asUser {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, "", fmt.Errorf("running as root, and no user postgres to run the cluster as: %v", err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, "", fmt.Errorf("running as root, and no runuser to run the cluster as postgres: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	// Not t.TempDir: the cluster outlives the test that starts it, and the
	// directories of t.TempDir are not open to user postgres.
	c.dir, err = os.MkdirTemp("", "faults-pgcluster-")
	if err != nil {
		return nil, "", err
	}
	fail := func(err error) (*pgCluster, string, error) {
		logged, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		os.RemoveAll(c.dir)
		if len(logged) > 0 {
			err = fmt.Errorf("%w; server log:\n%s", err, logged)
		}
		return nil, "", err
	}
	c.dataDir = filepath.Join(c.dir, "data")
	if c.asUser {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	if err := c.run(60*time.Second, "initdb", "-D", c.dataDir, "-U", "postgres", "--auth=trust", "--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C"); err != nil {
		return fail(err)
	}
	port, err := pgFreePort()
	if err != nil {
		return fail(err)
	}
	c.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = ''
ssl = off
max_connections = %d
superuser_reserved_connections = 0
max_wal_senders = 0
fsync = off
lc_messages = 'C'
`, port, pgClusterMaxConns)
	hba := fmt.Sprintf(`# faults tests: one line per password method, trust for the rest
host all %s 127.0.0.1/32 md5
host all %s 127.0.0.1/32 scram-sha-256
host all %s 127.0.0.1/32 password
host all all 127.0.0.1/32 trust
`, pgClusterMD5, pgClusterSCRAM, pgClusterPlain)
	if err := appendFile(filepath.Join(c.dataDir, "postgresql.conf"), conf); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(c.dataDir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fail(err)
	}
	if c.asUser {
		if err := os.Chown(filepath.Join(c.dataDir, "pg_hba.conf"), uid, gid); err != nil {
			return fail(err)
		}
	}
	if err := c.pgCtl(40*time.Second, "start", "-D", c.dataDir, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "30"); err != nil {
		return fail(err)
	}
	if err := c.createLogins(); err != nil {
		c.pgCtl(30*time.Second, "stop", "-D", c.dataDir, "-m", "immediate", "-w", "-t", "20")
		return fail(err)
	}
	return c, "", nil
}

// createLogins makes the three users with a password, each stored as its
// method needs it (md5 needs an MD5 hash: with a SCRAM verifier the server
// would ask for SCRAM instead).
func (c *pgCluster) createLogins() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+c.addr+"/postgres?sslmode=disable&connect_timeout=5")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, q := range []string{
		"SET password_encryption = 'md5'",
		"CREATE ROLE " + pgClusterMD5 + " LOGIN PASSWORD '" + pgClusterPassword + "'",
		"SET password_encryption = 'scram-sha-256'",
		"CREATE ROLE " + pgClusterSCRAM + " LOGIN PASSWORD '" + pgClusterPassword + "'",
		"CREATE ROLE " + pgClusterPlain + " LOGIN PASSWORD '" + pgClusterPassword + "'",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// run runs a program of pgBinDir, as user postgres when running as root,
// within d.
func (c *pgCluster) run(d time.Duration, prog string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	path := filepath.Join(pgBinDir, prog)
	var cmd *exec.Cmd
	if c.asUser {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	// pg_ctl start leaves the server running with these as its output:
	// files, so that nothing waits on a pipe the server holds open.
	cmd.Stdin = nil
	out, err := os.CreateTemp(c.dir, prog+"-*.out")
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		said, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s %s: %v: %s", prog, strings.Join(args, " "), err, strings.TrimSpace(string(said)))
	}
	return nil
}

func (c *pgCluster) pgCtl(d time.Duration, args ...string) error { return c.run(d, "pg_ctl", args...) }

// pgFreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func pgFreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func appendFile(name, s string) error {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pgClusterConnect connects pgx to addr (the cluster or a proxy in front
// of it) as user with password, on database postgres, in clear. The
// cluster has few slots, and a backend whose client has just left may
// still hold one: a refusal for too many clients is retried for a few
// seconds.
func pgClusterConnect(ctx context.Context, addr, user, password string) (*pgx.Conn, error) {
	dsn := fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&connect_timeout=5", user, password, addr)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := pgx.Connect(ctx, dsn)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "53300" || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
