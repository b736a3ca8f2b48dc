package faults_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gofaults/faults"
)

// startTinyMemcached starts a stand-in for a memcached server, for the
// examples: it answers get and gets of any key with the key's name as its
// value, set with STORED, and every other command with ERROR.
func startTinyMemcached() (addr string, stop func()) { return startStandIn(serveTinyMemcached) }

func serveTinyMemcached(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		switch {
		case len(f) > 1 && (f[0] == "get" || f[0] == "gets"):
			for _, k := range f[1:] {
				fmt.Fprintf(c, "VALUE %s 0 %d\r\n%s\r\n", k, len(k), k)
			}
			io.WriteString(c, "END\r\n")
		case len(f) >= 5 && f[0] == "set":
			n, _ := strconv.Atoi(f[4])
			if _, err := r.Discard(n + 2); err != nil {
				return
			}
			io.WriteString(c, "STORED\r\n")
		default:
			io.WriteString(c, "ERROR\r\n")
		}
	}
}

// A memcached-aware proxy makes the cache lose keys: here every session
// is gone, as after a restart of the cache, while other keys are still
// served, even in one multi-key get; and the first set is refused for lack
// of memory, as memcached refuses it.
func ExampleMemcached() {
	server, stop := startTinyMemcached()
	defer stop()
	p, err := faults.NewProxy(server, faults.WithProtocol(faults.Memcached()))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	p.Set(
		faults.Miss().When(faults.Key("session:*")),
		faults.Error(faults.MemcachedOutOfMemory).When(faults.Command("set")).Times(1),
	)

	mc := memcache.New(p.Addr())
	defer mc.Close()
	items, err := mc.GetMulti([]string{"session:1", "user:7", "session:2"})
	var found []string
	for k := range items {
		found = append(found, k)
	}
	sort.Strings(found)
	fmt.Println("GetMulti found", found, err)
	_, err = mc.Get("session:3")
	fmt.Println("Get session:3:", err)
	fmt.Println("Set:", mc.Set(&memcache.Item{Key: "session:3", Value: []byte("x")}))
	fmt.Println("Set again:", mc.Set(&memcache.Item{Key: "session:3", Value: []byte("x")}))
	for _, e := range p.Events() {
		fmt.Println("fired:", e.Request, e.Behavior)
	}
	// Output:
	// GetMulti found [user:7] <nil>
	// Get session:3: memcache: cache miss
	// Set: memcache: unexpected response line from "set": "SERVER_ERROR out of memory storing object\r\n"
	// Set again: <nil>
	// fired: gets session:1 Miss().When(Key("session:*"))
	// fired: gets session:2 Miss().When(Key("session:*"))
	// fired: gets session:3 Miss().When(Key("session:*"))
	// fired: set session:3 Error(MemcachedOutOfMemory).When(Command("set")).Times(1)
}
