package testenv

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestStartRedisServer(t *testing.T) {
	addr := StartRedisServer(t, "--maxmemory", "12345")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// The server is private and took the extra arguments.
	c.Write([]byte("*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$9\r\nmaxmemory\r\n"))
	want := "*2\r\n$9\r\nmaxmemory\r\n$5\r\n12345\r\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("CONFIG GET maxmemory = %q, %v; want %q", got, err, want)
	}
}
