package faults_test

// Replays of captures whose logins cannot be replayed byte for byte:
// PostgreSQL's md5 and SCRAM-SHA-256 on the throw-away cluster
// (pgThrowAway), which faulttest.Replay performs itself with the password.

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

func TestReplayPostgresPasswordLogins(t *testing.T) {
	addr := pgThrowAway(t)
	ctx := pgCtx(t, time.Minute)
	admin, err := pgClusterConnect(ctx, addr, "postgres", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DROP TABLE IF EXISTS faults_replay_auth",
		"CREATE TABLE faults_replay_auth (who text)",
		"GRANT ALL ON faults_replay_auth TO " + pgClusterMD5 + ", " + pgClusterSCRAM + ", " + pgClusterPlain,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	admin.Close(ctx)
	count := func(who string) int {
		admin, err := pgClusterConnect(ctx, addr, "postgres", "")
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		var n int
		if err := admin.QueryRow(ctx, "SELECT COUNT(*) FROM faults_replay_auth WHERE who = $1", who).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct{ user, method string }{
		{pgClusterMD5, "md5"},
		{pgClusterSCRAM, "scram-sha-256"},
		{pgClusterPlain, "password"},
	} {
		t.Run(c.method, func(t *testing.T) {
			cf := newCaptureFile(t)
			p := newProxy(t, addr, faults.WithProtocol(faults.Postgres()), faults.WithCapture(cf.f))
			conn, err := pgClusterConnect(ctx, p.Addr(), c.user, pgClusterPassword)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "INSERT INTO faults_replay_auth VALUES ('"+c.user+"')"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "INSERT INTO faults_replay_auth VALUES ($1)", c.user); err != nil {
				t.Fatal(err)
			}
			conn.Close(ctx)
			cf.finish(t, p)
			capture := readFile(t, cf.path)
			if n := count(c.user); n != 2 {
				t.Fatalf("%d rows after the capture, want 2", n)
			}

			rep := faulttest.Replay(t, bytes.NewReader(capture), addr, faulttest.ReplayOptions{Protocol: faults.Postgres(), Password: pgClusterPassword})
			if n := count(c.user); n != 4 {
				t.Errorf("%d rows after the replay, want 4: each INSERT ran again", n)
			}
			if rep.Errors() != 0 || len(rep.Mismatches()) != 0 || rep.Requests() < 2 {
				t.Errorf("report %v, samples %q, mismatches %v", rep, rep.ErrorSamples(), rep.Mismatches())
			}

			// Without the password: md5 and SCRAM cannot be replayed as
			// recorded; a password sent in clear can.
			rep, err = faulttest.ReplayCapture(context.Background(), bytes.NewReader(capture), addr, faulttest.ReplayOptions{Protocol: faults.Postgres()})
			if err != nil {
				t.Fatal(err)
			}
			if c.method == "password" {
				if rep.Errors() != 0 || count(c.user) != 6 {
					t.Errorf("a login in clear replayed as recorded: %v, samples %q", rep, rep.ErrorSamples())
				}
				return
			}
			if rep.Errors() == 0 || !strings.Contains(strings.Join(rep.ErrorSamples(), " "), "ReplayOptions.Password") {
				t.Errorf("without the password: %v, samples %q", rep, rep.ErrorSamples())
			}
		})
	}
}
