package faults_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults"
)

// A MySQL-aware proxy answers chosen statements with the errors MariaDB
// sends: here the first two UPDATEs of the stock deadlock, and the server
// never sees them; the third goes through.
func ExampleMySQL() {
	server, stop := mysqlServer()
	defer stop()
	p, err := faults.NewProxy(server, faults.WithProtocol(faults.MySQL()))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	p.Set(faults.Error(faults.MySQLDeadlock).When(faults.Query(`^UPDATE stock`)).Times(2))

	db, err := sql.Open("mysql", "root@tcp("+p.Addr()+")/test")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := context.Background()
	conn, err := db.Conn(ctx) // one session, for its temporary table
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.ExecContext(ctx, "CREATE TEMPORARY TABLE stock (id INT PRIMARY KEY, n INT)")
	conn.ExecContext(ctx, "INSERT INTO stock VALUES (1, 10)")
	for range 3 {
		res, err := conn.ExecContext(ctx, "UPDATE stock SET n = n - 1 WHERE id = 1")
		if err != nil {
			fmt.Println(err)
			continue
		}
		n, _ := res.RowsAffected()
		fmt.Println("updated", n, "row")
	}
	fmt.Println("injected:", p.Stats().Injected)
	// Output:
	// Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction
	// Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction
	// updated 1 row
	// injected: 2
}

// mysqlServer returns the address of the MariaDB server at 127.0.0.1:3306
// (root, no password, database test) if it answers, and otherwise starts
// a stand-in for one, so that the example runs anywhere: the stand-in
// accepts any login and answers every statement with OK, one row
// affected. With FAULTS_REQUIRE_SERVICES=1 a missing server is an error.
func mysqlServer() (addr string, stop func()) {
	addr = "127.0.0.1:3306"
	if a := os.Getenv("FAULTS_MYSQL_ADDR"); a != "" {
		addr = a
	}
	db, _ := sql.Open("mysql", "root@tcp("+addr+")/test?timeout=2s")
	err := db.Ping()
	db.Close()
	if err == nil {
		return addr, func() {}
	}
	if os.Getenv("FAULTS_REQUIRE_SERVICES") == "1" {
		panic(fmt.Sprintf("no MySQL server at %s: %v", addr, err))
	}
	return startTinyMySQL()
}

// startTinyMySQL starts the stand-in MySQL server of mysqlServer.
func startTinyMySQL() (addr string, stop func()) { return startStandIn(serveTinyMySQL) }

func serveTinyMySQL(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	write := func(seq byte, payload []byte) {
		h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
		c.Write(append(h, payload...))
	}
	read := func() (seq byte, payload []byte, err error) {
		var h [4]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return 0, nil, err
		}
		payload = make([]byte, int(h[0])|int(h[1])<<8|int(h[2])<<16)
		_, err = io.ReadFull(c, payload)
		return h[3], payload, err
	}
	// OK: no field count, 1 row affected, no insert id, autocommit, no warnings.
	ok := []byte{0x00, 1, 0, 0x02, 0x00, 0x00, 0x00}

	// The greeting (protocol 10), offering the protocol 4.1 login with
	// mysql_native_password.
	const caps = 0x1 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000
	g := []byte{10}
	g = append(g, "5.5.5-10.11.0-standin\x00"...)
	g = binary.LittleEndian.AppendUint32(g, 1)           // connection id
	g = append(g, "abcdefgh\x00"...)                     // scramble, first part
	g = binary.LittleEndian.AppendUint16(g, caps&0xFFFF) // capabilities, low
	g = append(g, 45)                                    // utf8mb4
	g = binary.LittleEndian.AppendUint16(g, 0x02)        // autocommit
	g = binary.LittleEndian.AppendUint16(g, caps>>16)
	g = append(g, 21)
	g = append(g, make([]byte, 10)...)
	g = append(g, "ijklmnopqrst\x00"...) // scramble, second part
	g = append(g, "mysql_native_password\x00"...)
	write(0, g)
	seq, _, err := read() // the login, accepted whatever it says
	if err != nil {
		return
	}
	write(seq+1, ok)
	for {
		seq, cmd, err := read()
		if err != nil || len(cmd) == 0 || cmd[0] == 0x01 { // COM_QUIT
			return
		}
		write(seq+1, ok)
	}
}
