package faults_test

// Authentication with an auth switch, and packets of more than 16 MiB,
// through a MySQL-aware proxy against the real server (mysqlAddr).

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults"
)

// TestMySQLAuthSwitch: a user identified via ed25519 logs in through the
// proxy. The server greets with mysql_native_password, so the login goes
// handshake, response, AuthSwitchRequest (0xfe, client_ed25519), switch
// response, OK. A raw client through the proxy sees the 0xfe itself; the
// driver logs in, CURRENT_USER() is the user, and a wrong password gives
// ERR 1045.
func TestMySQLAuthSwitch(t *testing.T) {
	addr := mysqlAddr(t)
	direct := openMySQL(t, addr, "")
	ctx := mysqlCtx(t, 30*time.Second)

	var n int
	if err := direct.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519' AND PLUGIN_STATUS = 'ACTIVE'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		if _, err := direct.ExecContext(ctx, "INSTALL SONAME 'auth_ed25519'"); err != nil {
			t.Skipf("the ed25519 authentication plugin is not loaded and INSTALL SONAME 'auth_ed25519' failed: %v", err)
		}
	}

	user := fmt.Sprintf("faults_auth_%08x", rand.Uint32())
	if _, err := direct.ExecContext(ctx, "CREATE USER '"+user+"'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('secret')"); err != nil {
		t.Skipf("creating a user identified via ed25519: %v", err)
	}
	t.Cleanup(func() {
		if _, err := direct.Exec("DROP USER IF EXISTS '" + user + "'@'%'"); err != nil {
			t.Errorf("dropping user %s: %v", user, err)
		}
	})
	if _, err := direct.ExecContext(ctx, "GRANT ALL ON test.* TO '"+user+"'@'%'"); err != nil {
		t.Fatal(err)
	}
	var plugin string
	if err := direct.QueryRowContext(ctx, "SELECT JSON_VALUE(Priv, '$.plugin') FROM mysql.global_priv WHERE User = ? AND Host = '%'", user).Scan(&plugin); err != nil {
		t.Fatal(err)
	}
	if plugin != "ed25519" {
		t.Fatalf("user %s has plugin %q, want ed25519", user, plugin)
	}

	p := startMySQLProxy(t)

	t.Run("raw", func(t *testing.T) {
		// The server's greeting names the plugin the client starts with;
		// a login for the ed25519 user with that plugin must be answered
		// by an AuthSwitchRequest naming client_ed25519.
		r := dialRawMySQL(t, p.Addr())
		g := r.greeting
		startPlugin := ""
		if i := bytes.LastIndexByte(g[:len(g)-1], 0); i >= 0 && g[len(g)-1] == 0 {
			startPlugin = string(g[i+1 : len(g)-1])
		}
		if startPlugin == "ed25519" || startPlugin == "client_ed25519" {
			t.Skipf("the server starts with %s: no switch to observe", startPlugin)
		}
		caps := uint32(rawCapLongPassword|rawCapLongFlag|rawCapWithDB|rawCapProtocol41|rawCapTransactions|rawCapSecureConn|rawCapMultiResults|rawCapPluginAuth) & r.caps()
		var b []byte
		b = binary.LittleEndian.AppendUint32(b, caps)
		b = binary.LittleEndian.AppendUint32(b, 1<<24)
		b = append(b, 33)
		b = append(b, make([]byte, 23)...)
		b = append(b, user+"\x00"...)
		b = append(b, 0) // empty auth response
		b = append(b, "test\x00mysql_native_password\x00"...)
		if err := r.write(b); err != nil {
			t.Fatal(err)
		}
		ans, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		if len(ans) == 0 || ans[0] != 0xfe {
			t.Fatalf("answer to the login: % x, want an AuthSwitchRequest (0xfe)", ans[:min(len(ans), 32)])
		}
		name, _, _ := strings.Cut(string(ans[1:]), "\x00")
		if name != "client_ed25519" {
			t.Fatalf("AuthSwitchRequest names %q, want client_ed25519", name)
		}
		t.Logf("greeting plugin %s, switched to %s", startPlugin, name)
	})

	dsn := func(password string) string {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd = user, password
		cfg.Net, cfg.Addr, cfg.DBName = "tcp", p.Addr(), "test"
		cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 5*time.Second, 5*time.Second, 5*time.Second
		return cfg.FormatDSN()
	}
	t.Run("driver", func(t *testing.T) {
		db, err := sql.Open("mysql", dsn("secret"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var cur string
		if err := db.QueryRowContext(ctx, "SELECT CURRENT_USER()").Scan(&cur); err != nil {
			t.Fatal(err)
		}
		if cur != user+"@%" {
			t.Errorf("CURRENT_USER() = %q, want %q", cur, user+"@%")
		}
		// The session serves on after the switch.
		var s string
		if err := db.QueryRowContext(ctx, "SELECT CONCAT('a', ?)", "b").Scan(&s); err != nil || s != "ab" {
			t.Errorf("after login: %q, %v", s, err)
		}
	})
	t.Run("wrongPassword", func(t *testing.T) {
		db, err := sql.Open("mysql", dsn("wrong"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.PingContext(ctx)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1045 {
			t.Fatalf("login with a wrong password: %v (%T), want *mysql.MySQLError 1045", err, err)
		}
	})
	checkInjected(t, p, 0)
}

// TestMySQLPacketsOver16MiB: with max_allowed_packet raised to 64 MiB, a
// 20 MiB LONGBLOB goes up in one COM_QUERY of more than 16 MiB (text
// mode), as a prepared statement's parameter (binary mode), and comes
// back as a row of more than 16 MiB. A rule on ^SELECT 12345 stays in
// force throughout and does not fire on continuation packets; it fires
// once on SELECT 12345.
func TestMySQLPacketsOver16MiB(t *testing.T) {
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY, data LONGBLOB")
	ctx := mysqlCtx(t, 120*time.Second)

	old := mysqlVar(t, direct, "global.max_allowed_packet")
	const want = 64 << 20
	if _, err := direct.ExecContext(ctx, fmt.Sprintf("SET GLOBAL max_allowed_packet = %d", want)); err != nil {
		t.Skipf("cannot raise max_allowed_packet: %v", err)
	}
	t.Cleanup(func() {
		if _, err := direct.Exec("SET GLOBAL max_allowed_packet = " + old); err != nil {
			t.Errorf("restoring max_allowed_packet to %s: %v", old, err)
		}
	})
	// The direct pool's connections predate the change; a new pool sees it.
	direct2 := openMySQL(t, mysqlAddr(t), "readTimeout=60s&writeTimeout=60s")
	if v, _ := strconv.Atoi(mysqlVar(t, direct2, "max_allowed_packet")); v != want {
		t.Fatalf("max_allowed_packet in a new session = %d, want %d", v, want)
	}

	p := startMySQLProxy(t)
	mustSet(t, p, faults.Error(faults.MySQLDeadlock).When(faults.Query("^SELECT 12345")))

	const size = 20 << 20
	blob := make([]byte, size)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(blob); i += 8 {
		binary.LittleEndian.PutUint64(blob[i:], rng.Uint64())
	}
	// Bytes the driver escapes when interpolating are replaced, so the
	// value's offsets in the text-mode COM_QUERY are known. The rule's
	// text is put where the second packet of each command starts
	// (payload offset 0xFFFFFF): text mode, after 0x03 and the statement
	// up to _binary'; binary mode, after COM_STMT_EXECUTE's 10-byte head,
	// null bitmap, new-params flag, 2 types, 8-byte id and the 9-byte
	// length prefix. A matcher run on a continuation packet would see it.
	for i, c := range blob {
		switch c {
		case 0, '\n', '\r', '\\', '\'', '"', 0x1a:
			blob[i] = 'x'
		}
	}
	textOff := 1<<24 - 1 - len("\x03INSERT INTO "+tbl+" VALUES (0, _binary'")
	binOff := 1<<24 - 1 - (10 + 1 + 1 + 4 + 8 + 9)
	for _, off := range []int{0, textOff, binOff} {
		copy(blob[off:], "SELECT 12345")
	}
	sum := sha256.Sum256(blob)
	hexSum := fmt.Sprintf("%x", sum)

	for i, mode := range []struct{ name, params string }{
		{"text", "interpolateParams=true"},
		{"binary", ""},
	} {
		t.Run(mode.name, func(t *testing.T) {
			db := openMySQL(t, p.Addr(), "maxAllowedPacket=0&readTimeout=60s&writeTimeout=60s&"+mode.params)
			db.SetMaxOpenConns(1)
			before := p.Stats()
			if _, err := db.ExecContext(ctx, "INSERT INTO "+tbl+" VALUES (?, ?)", i, blob); err != nil {
				t.Fatal(err)
			}
			if up := p.Stats().BytesUpstream - before.BytesUpstream; up < size {
				t.Errorf("%d bytes went upstream for a %d-byte value", up, size)
			}
			var n int
			var serverSum string
			if err := direct2.QueryRowContext(ctx, "SELECT LENGTH(data), SHA2(data, 256) FROM "+tbl+" WHERE id = ?", i).Scan(&n, &serverSum); err != nil {
				t.Fatal(err)
			}
			if n != size || serverSum != hexSum {
				t.Errorf("server holds %d bytes, sha256 %s, want %d, %s", n, serverSum, size, hexSum)
			}
			var got []byte
			if err := db.QueryRowContext(ctx, "SELECT data FROM "+tbl+" WHERE id = ?", i).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if len(got) != size || sha256.Sum256(got) != sum {
				t.Errorf("read back %d bytes, hash differs", len(got))
			}
			// A text-protocol row too (no placeholder), after the big ones.
			got = nil
			if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT data FROM %s WHERE id = %d", tbl, i)).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if len(got) != size || sha256.Sum256(got) != sum {
				t.Errorf("read back (text) %d bytes, hash differs", len(got))
			}
			if inj := p.Stats().Injected; inj != 0 {
				t.Errorf("Stats().Injected = %d during the transfers: the rule fired on a continuation packet", inj)
			}
			var s string
			if err := db.QueryRowContext(ctx, "SELECT 'after'").Scan(&s); err != nil || s != "after" {
				t.Errorf("after the transfers: %q, %v", s, err)
			}
		})
	}
	checkInjected(t, p, 0)

	db := openMySQL(t, p.Addr(), "")
	_, err := db.ExecContext(ctx, "SELECT 12345")
	checkDriverError(t, "SELECT 12345", err, faults.MySQLDeadlock)
	checkInjected(t, p, 1)
}
