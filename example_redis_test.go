package faults_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
)

// startTinyRedis starts a stand-in for a Redis server, for the examples:
// it answers GET with the key's name and PING with PONG, and refuses
// every other command (go-redis then speaks RESP2 and skips its
// identification).
func startTinyRedis() (addr string, stop func()) { return startStandIn(serveTinyRedis) }

func serveTinyRedis(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		var args []string
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		for range n {
			r.ReadString('\n') // $len
			arg, _ := r.ReadString('\n')
			args = append(args, strings.TrimSpace(arg))
		}
		switch {
		case len(args) == 2 && strings.EqualFold(args[0], "GET"):
			fmt.Fprintf(c, "$%d\r\n%s\r\n", len(args[1]), args[1])
		case len(args) == 1 && strings.EqualFold(args[0], "PING"):
			fmt.Fprint(c, "+PONG\r\n")
		default:
			fmt.Fprint(c, "-ERR unknown command\r\n")
		}
	}
}

// A Redis-aware proxy answers chosen commands with the errors a real
// server sends: here the second and third GET of a session key meet a
// replica that is still loading its dataset. go-redis would retry LOADING
// by itself; MaxRetries -1 shows each answer.
func ExampleRedis() {
	server, stop := startTinyRedis()
	defer stop()
	p, err := faults.NewProxy(server, faults.WithProtocol(faults.Redis()))
	if err != nil {
		panic(err)
	}
	defer p.Close()
	p.Set(faults.Error(faults.RedisLoading).When(faults.Command("GET"), faults.Key("session:*")).After(1).Times(2))

	rdb := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1})
	defer rdb.Close()
	ctx := context.Background()
	for _, key := range []string{"session:1", "session:2", "session:3", "session:4", "cart:1"} {
		v, err := rdb.Get(ctx, key).Result()
		fmt.Printf("GET %-9s -> %q, %v\n", key, v, err)
	}
	for _, e := range p.Events() {
		fmt.Println("fired:", e.Request, e.Behavior)
	}
	// Output:
	// GET session:1 -> "session:1", <nil>
	// GET session:2 -> "", LOADING Redis is loading the dataset in memory
	// GET session:3 -> "", LOADING Redis is loading the dataset in memory
	// GET session:4 -> "session:4", <nil>
	// GET cart:1    -> "cart:1", <nil>
	// fired: GET session:2 Error(RedisLoading).When(Command("GET"), Key("session:*")).After(1).Times(2)
	// fired: GET session:3 Error(RedisLoading).When(Command("GET"), Key("session:*")).After(1).Times(2)
}
