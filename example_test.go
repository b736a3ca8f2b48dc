package faults_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gofaults/faults"
)

// startEcho starts an echo server on loopback for the examples.
func startEcho() (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 100)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	}
}

// ask sends msg to addr and returns the reply, or what went wrong.
func ask(addr, msg string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return "connection refused"
		}
		return err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write([]byte(msg))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return "EOF"
		case errors.Is(err, syscall.ECONNRESET):
			return "connection reset"
		case errors.Is(err, os.ErrDeadlineExceeded):
			return "timeout"
		}
		return err.Error()
	}
	return string(buf)
}

func ExampleNewProxy() {
	backend, stop := startEcho()
	defer stop()

	p, err := faults.NewProxy(backend)
	if err != nil {
		panic(err)
	}
	defer p.Close()

	fmt.Println(ask(p.Addr(), "hello")) // transparent until told otherwise
	// Output: hello
}

func ExampleProxy_Set() {
	backend, stop := startEcho()
	defer stop()
	p, _ := faults.NewProxy(backend)
	defer p.Close()

	p.Set(faults.Blackout())
	fmt.Println(ask(p.Addr(), "hello"))
	p.Set(faults.Refuse())
	fmt.Println(ask(p.Addr(), "hello"))
	p.Set(faults.Hang())
	fmt.Println(ask(p.Addr(), "hello"))
	p.Reset()
	fmt.Println(ask(p.Addr(), "hello"))
	// Output:
	// EOF
	// connection refused
	// timeout
	// hello
}

func ExampleProxy_Add() {
	backend, stop := startEcho()
	defer stop()
	p, _ := faults.NewProxy(backend)
	defer p.Close()

	// Black out the second connection only. Adding and removing another
	// behavior beside it does not restart its count.
	p.Add("second", faults.Blackout().After(1).Times(1))
	fmt.Println(ask(p.Addr(), "one"))
	p.Add("down", faults.Refuse())
	fmt.Println(ask(p.Addr(), "two"))
	p.Remove("down")
	fmt.Println(ask(p.Addr(), "two"))
	fmt.Println(ask(p.Addr(), "three"))
	fmt.Println(p.Behaviors())
	// Output:
	// one
	// connection refused
	// EOF
	// three
	// [Blackout().After(1).Times(1)]
}

func ExampleBehavior_Together() {
	backend, stop := startEcho()
	defer stop()
	p, _ := faults.NewProxy(backend, faults.WithSeed(3))
	defer p.Close()

	// One fault in two parts, as a peer that hangs, then hangs up: on
	// half the connections nothing comes back, and 200 ms later the
	// connection closes. Decided together, a connection gets both
	// parts or neither.
	p.Set(
		faults.Stall().Downstream().Probability(0.5).Together("hang-up"),
		faults.Timeout(200*time.Millisecond).Probability(0.5).Together("hang-up"),
	)
	for _, msg := range []string{"one", "two", "three", "four"} {
		fmt.Println(ask(p.Addr(), msg))
	}
	// Output:
	// one
	// two
	// EOF
	// four
}

func ExampleLatency() {
	backend, stop := startEcho()
	defer stop()
	p, _ := faults.NewProxy(backend)
	defer p.Close()

	p.Set(faults.Latency(100 * time.Millisecond).Downstream())
	start := time.Now()
	ask(p.Addr(), "hello")
	fmt.Println(time.Since(start) >= 100*time.Millisecond)
	// Output: true
}

func ExampleBehavior_Times() {
	backend, stop := startEcho()
	defer stop()
	p, _ := faults.NewProxy(backend)
	defer p.Close()

	// Pass two connections, black out the third, then pass again.
	p.Set(faults.Blackout().After(2).Times(1))
	for range 4 {
		fmt.Println(ask(p.Addr(), "hello"))
	}
	fmt.Println("injected:", p.Stats().Injected)
	// Output:
	// hello
	// hello
	// EOF
	// hello
	// injected: 1
}

func ExampleRestart() {
	backend, stop := startEcho()
	defer stop()
	p, _ := faults.NewProxy(backend)
	defer p.Close()

	c, _ := net.Dial("tcp", p.Addr())
	defer c.Close()
	p.Set(faults.Restart(200 * time.Millisecond))

	_, err := c.Read(make([]byte, 1))
	fmt.Println("open connection:", errors.Is(err, syscall.ECONNRESET))
	fmt.Println("new connection:", ask(p.Addr(), "hello"))
	time.Sleep(300 * time.Millisecond) // the server is back
	fmt.Println("new connection:", ask(p.Addr(), "hello"))
	// Output:
	// open connection: true
	// new connection: connection refused
	// new connection: hello
}

func ExampleOnFault() {
	backend, stop := startEcho()
	defer stop()
	p, _ := faults.NewProxy(backend, faults.OnFault(func(e faults.Event) {
		fmt.Printf("connection %d: %s\n", e.Conn, e.Behavior)
	}))
	defer p.Close()

	p.Set(faults.Blackout().Times(2))
	for range 3 {
		ask(p.Addr(), "hello")
	}
	// Output:
	// connection 1: Blackout().Times(2)
	// connection 2: Blackout().Times(2)
}

func ExampleWithSeed() {
	backend, stop := startEcho()
	defer stop()
	pattern := func(seed int64) (s string) {
		p, _ := faults.NewProxy(backend, faults.WithSeed(seed))
		defer p.Close()
		p.Set(faults.Blackout().Probability(0.5))
		for range 12 {
			if ask(p.Addr(), "x") == "EOF" {
				s += "x"
			} else {
				s += "."
			}
		}
		return s
	}
	fmt.Println(pattern(7) == pattern(7))
	// Output: true
}
