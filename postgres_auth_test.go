package faults_test

// Password logins through a PostgreSQL-aware proxy, on the throw-away
// cluster (pgThrowAway), whose pg_hba asks each user for its own method.

import (
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// Through the proxy, each password method (md5, SCRAM-SHA-256, password in
// clear) logs in with the right password, and the wrong one gets the
// server's own FATAL 28P01: the exchange of AuthenticationMD5Password,
// AuthenticationSASL/SASLContinue/SASLFinal or AuthenticationCleartextPassword
// and the client's answers pass through untouched.
func TestPostgresPasswordLogins(t *testing.T) {
	addr := pgThrowAway(t)
	ctx := pgCtx(t, 30*time.Second)
	// The cluster must ask what each user's name says, or the test
	// proves less than it claims.
	admin, err := pgClusterConnect(ctx, addr, "postgres", "")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	rows, _ := admin.Query(ctx, "SELECT user_name[1], auth_method FROM pg_hba_file_rules WHERE error IS NULL AND user_name[1] <> 'all'")
	for rows.Next() {
		var u, m string
		if err := rows.Scan(&u, &m); err != nil {
			t.Fatal(err)
		}
		rules[u] = m
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	var md5Stored bool
	if err := admin.QueryRow(ctx, "SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = $1", pgClusterMD5).Scan(&md5Stored); err != nil || !md5Stored {
		t.Fatalf("%s's password is not stored as MD5 (%v): the server would ask for SCRAM", pgClusterMD5, err)
	}
	admin.Close(ctx)

	p := newProxy(t, addr, faults.WithProtocol(faults.Postgres()))
	for _, c := range []struct{ user, method string }{
		{pgClusterMD5, "md5"},
		{pgClusterSCRAM, "scram-sha-256"},
		{pgClusterPlain, "password"},
	} {
		t.Run(c.method, func(t *testing.T) {
			if rules[c.user] != c.method {
				t.Fatalf("pg_hba asks %s for %q, want %q (rules %v)", c.user, rules[c.user], c.method, rules)
			}
			conn, err := pgClusterConnect(ctx, p.Addr(), c.user, pgClusterPassword)
			if err != nil {
				t.Fatalf("the right password through the proxy: %v", err)
			}
			var who string
			if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != c.user {
				t.Fatalf("logged in as %q (%v), want %s", who, err, c.user)
			}
			conn.Close(ctx)

			conn, err = pgClusterConnect(ctx, p.Addr(), c.user, "not-"+pgClusterPassword)
			if err == nil {
				conn.Close(ctx)
				t.Fatal("a wrong password logged in through the proxy")
			}
			pe := pgError(t, err)
			if pe.Severity != "FATAL" || pe.Code != "28P01" || pe.Message != `password authentication failed for user "`+c.user+`"` ||
				pe.File != "auth.c" || pe.Routine != "auth_failed" {
				t.Fatalf("a wrong password: %s %s %q at %s %s; want the server's FATAL 28P01", pe.Severity, pe.Code, pe.Message, pe.File, pe.Routine)
			}
		})
	}
	if s := p.Stats(); s.Injected != 0 {
		t.Errorf("Stats().Injected = %d with no behavior set", s.Injected)
	}
}
