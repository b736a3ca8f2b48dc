// Package faults puts a misbehaving proxy between the code under test and
// the services it depends on, so that a Go test can script exactly how those
// services fail — refused and hung connections, latency, stalls, resets,
// truncated streams — and check that the code fails gracefully and
// recovers.
//
// A [Proxy] listens on a loopback port and forwards each connection to a
// target. With no behavior installed it is transparent and nearly free: the
// kernel splices the two sockets together. Behaviors are installed and
// removed with [Proxy.Set] and [Proxy.Reset] from any goroutine, while
// traffic flows:
//
//	p, err := faults.NewProxy("127.0.0.1:3306")
//	if err != nil { ... }
//	defer p.Close()
//	db := openDB(p.Addr())                     // the code under test dials the proxy
//	p.Set(faults.Latency(50 * time.Millisecond)) // every byte now waits 50ms each way
//	p.Set(faults.Restart(2 * time.Second))       // connections reset, refused for 2s
//	p.Reset()                                    // transparent again
//
// Package faulttest wraps this for tests: it closes proxies at cleanup and
// scopes behaviors to a test, a function or a table of scenarios.
//
// # Behaviors
//
// Behaviors are values made by constructors and refined by modifiers:
//
//   - on the listener: [Refuse], [Restart];
//   - on each new connection, before the upstream is dialed: [Hang],
//     [Blackout], [ConnectDelay];
//   - on the bytes of a direction ([Behavior.Upstream],
//     [Behavior.Downstream], both by default): [Latency] (with
//     [Behavior.Jitter]), [Bandwidth], [Slice] (with [Behavior.Vary]), [Corrupt],
//     [CloseAfterBytes], [ResetAfterBytes], [Stall], [HalfClose],
//     [SlowClose];
//   - on a whole connection, after a time: [Timeout], [IdleTimeout],
//     [ResetAfter].
//
// [Behavior.Probability], [Behavior.Times], [Behavior.After] and
// [Behavior.For] say when a behavior fires; they compose in any order, and
// [Behavior.Together] makes several decide as one. On raw TCP every
// decision is made per connection. A behavior stays installed
// until it is replaced, because client libraries retry: a fault that fires
// once may never be seen by the test. [Proxy.Stats] and [Proxy.Events] tell
// what actually fired.
//
// A behavior prints as the Go expression that builds it ([Behavior.String],
// the text of events), and [ParseBehavior] reads that text back, so that
// behaviors can be kept in configuration files and sent through APIs.
//
// # Protocols
//
// By default a proxy speaks raw [TCP]: it knows no message boundaries, and
// every decision is made per connection. With [WithProtocol]([HTTP]()) it
// frames HTTP/1.1 requests and responses, and request behaviors act on
// single requests, chosen by matchers and decided per request:
//
//	p, _ := faults.NewProxy(apiAddr, faults.WithProtocol(faults.HTTP()))
//	p.Set(faults.Error(faults.HTTPStatus(503)).When(faults.Method("POST"), faults.Path("/orders/*")).Times(2))
//
// [MySQL] frames statements, with ERR packets as MariaDB writes them;
// [Redis] frames commands, RESP2 and RESP3, with the server's own error
// replies:
//
//	p, _ := faults.NewProxy(redisAddr, faults.WithProtocol(faults.Redis()))
//	p.Set(faults.Error(faults.RedisReadOnly).When(faults.Command("SET", "DEL")).Probability(0.05))
//
// [Postgres] frames messages, with ErrorResponses as PostgreSQL writes
// them; [Memcached] frames the text protocol, with memcached's error
// lines. On the caches, [Miss] makes keys vanish: reads of matching keys
// are answered as misses without asking the server, key by key:
//
//	p, _ := faults.NewProxy(memcachedAddr, faults.WithProtocol(faults.Memcached()))
//	p.Set(faults.Miss().When(faults.Key("session:*")))
//
// An injected error never reaches the server, and the client reads it in
// order with the answers to its other requests, pipelined or not.
//
// # Reproducibility
//
// Every random decision derives from the seed given with [WithSeed] (or
// chosen at random, reported by [Proxy.Seed]). Connections are decided in
// accept order from one source. Each connection's requests are decided
// from a source of its own, derived from the seed and the connection's
// number in accept order, and so are each direction's random bytes
// (jitter, corruption): the same seed and the same traffic give the same
// faults on each connection, however concurrent connections interleave.
// Counted modifiers ([Behavior.Times], [Behavior.After]) count across all
// connections, so with those the interleaving still decides which
// connection a firing falls on.
//
// # Connections and closes
//
// The proxy passes on half-closes (a client's CloseWrite reaches the server
// as EOF, and the reply still comes back) and resets (an RST from either
// peer reaches the other as an RST). When the upstream cannot be dialed
// within the dial timeout, the client's connection is reset. Dials happen
// off the accept loop: a dead upstream never stalls other clients.
//
// # Capture
//
// [WithCapture] makes a proxy write every connection it carries to a pcapng
// file, which Wireshark and tshark read: each connection is a TCP stream
// from the client to the target's address and port, one message per
// segment on a protocol-aware proxy, every fault that fired a comment on
// the packet it shaped. faulttest.Replay plays such a capture back against
// a server, faster and under faults, and reports what changed.
//
//	f, _ := os.Create("checkout.pcapng")
//	p, _ := faults.NewProxy(mysqlAddr, faults.WithProtocol(faults.MySQL()), faults.WithCapture(f, faults.RedactSecrets()))
//	// ... traffic ...
//	p.Close() // writes the rest of the capture
//	f.Close()
//
// # Performance
//
// A direction with nothing to inspect is copied by splice(2), with no copy
// through user space; installing a behavior that must see bytes switches
// live connections to a buffered loop, and removing it switches them back,
// without losing, duplicating or reordering a byte. A spliced connection
// holds a pipe (two descriptors) per direction while it lives.
package faults
