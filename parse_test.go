package faults

import (
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// parseReplies are replies of every constructor, method and catalog entry,
// valid and not.
func parseReplies() []Reply {
	return []Reply{
		HTTPStatus(503), HTTPStatus(200), HTTPStatus(999),
		HTTPStatus(429).Header("retry-after", "1").Header("X-Quoted", `a "b" \c`),
		HTTPStatus(500).Body("x"), HTTPStatus(204).Body(""), HTTPStatus(503).Body("ünï\x00\r\n"),
		HTTPStatus(503).CloseConnection(),
		HTTPStatus(503).Header("A", "1").Body("b").CloseConnection(),
		HTTPStatus(503).Body(httpDefaultBody(503)), // prints as HTTPStatus(503)
		HTTPStatus(101), HTTPStatus(0), HTTPStatus(-1), HTTPStatus(1000),
		HTTPStatus(503).Header("Content-Length", "1"), HTTPStatus(503).Header("A", "b\r\nC: d"),
		HTTPReply{},

		MySQLDeadlock, MySQLLockWaitTimeout, MySQLTooManyConnections, MySQLAccessDenied,
		MySQLReadOnly, MySQLReadOnlyTransaction, MySQLQueryInterrupted, MySQLQueryTimeout,
		MySQLServerShutdown, MySQLTableNotFound, MySQLDuplicateKey,
		MySQLError(1234, "HY000", `it's "quoted", \ and ünïcode`), MySQLError(65534, "ab123", ""),
		MySQLError(MySQLDeadlock.Number(), MySQLDeadlock.SQLState(), MySQLDeadlock.Message()), // prints as MySQLDeadlock
		MySQLError(0, "HY000", "x"), MySQLError(65535, "HY000", "x"), MySQLError(1, "HY00", "x"),
		MySQLError(1, "HY000", "\xff"), MySQLError(1, "HY000", strings.Repeat("x", 512)),
		MySQLReply{},

		RedisLoading, RedisReadOnly, RedisOOM, RedisBusy, RedisTryAgain, RedisClusterDown,
		RedisClusterDownSlot, RedisMasterDown, RedisNoScript, RedisNoAuth, RedisMisconf,
		RedisMaxClients, RedisExecAbort, RedisNoReplicas,
		RedisError(`ERR custom "quoted" \ text`), RedisError(RedisLoading.Text()), // the latter prints as RedisLoading
		RedisError("MOVED 1 127.0.0.1:7000"),
		RedisMoved(3999, "127.0.0.1:6381"), RedisAsk(0, "[::1]:7000"),
		RedisMoved(16384, "a:1"), RedisAsk(1, "nohost"), RedisError(""), RedisError("a\r\nb"), RedisError("\xff"),
		RedisReply{},

		PostgresDeadlock, PostgresSerializationFailure, PostgresLockNotAvailable, PostgresQueryCanceled,
		PostgresStatementTimeout, PostgresReadOnlyTransaction, PostgresUniqueViolation,
		PostgresAdminShutdown, PostgresTooManyConnections, PostgresCannotConnectNow, PostgresInvalidPassword,
		PostgresError("40001", "could not serialize access"),
		PostgresError("40001", `"x"`).Detail("d").Hint("h").Fatal(),
		PostgresError(PostgresDeadlock.Code(), PostgresDeadlock.Message()), // not the catalog's: no file, line, routine
		PostgresDeadlock.Detail("process 1 waits for ShareLock"), PostgresDeadlock.Hint(""),
		PostgresDeadlock.Hint(PostgresDeadlock.HintText()), // prints as PostgresDeadlock
		PostgresTooManyConnections.Hint("raise max_connections"), PostgresUniqueViolation.Detail(""),
		PostgresAdminShutdown.Fatal(), PostgresSerializationFailure.Fatal(),
		PostgresError("00000", "x"), PostgresError("40001", ""), PostgresError("4000", "x"),
		PostgresError("40001", "a $faults$ b"), PostgresError("40001", "nul\x00"),
		PostgresReply{},

		MemcachedError, MemcachedOutOfMemory, MemcachedTooLarge, MemcachedBadDataChunk, MemcachedBadFormat,
		MemcachedTooManyConnections,
		MemcachedServerError("temporary failure"), MemcachedClientError(`"quoted" \ ünï`),
		MemcachedServerError("out of memory storing object"), // prints as MemcachedOutOfMemory
		MemcachedServerError(""), MemcachedClientError("a\r\nb"), MemcachedServerError(strings.Repeat("x", 1025)),
		MemcachedReply{},

		nil,
	}
}

// parseMatchers are matchers of every constructor, valid and not.
func parseMatchers() []Matcher {
	return []Matcher{
		Method(), Method("GET"), Method("POST", "put"), Path("/orders/*"), Path(""),
		Header("X-Tenant", "a*"), Header("", `"`),
		Query(`^UPDATE\s+stock`), Query("(?i)select \"x\"\tfrom `t`"), Query("("),
		InTransaction(), Command(), Command("GET", "mget"), Key("session:*"), Key("\x00\xff"),
		nil,
	}
}

// parseModifiers are chains of every modifier with representative
// arguments, valid and not, in and out of their printed order.
func parseModifiers() []func(Behavior) Behavior {
	mods := []func(Behavior) Behavior{
		func(b Behavior) Behavior { return b },
		Behavior.Upstream, Behavior.Downstream, Behavior.BothWays,
		func(b Behavior) Behavior { return b.Upstream().Downstream() },
	}
	for _, p := range []float64{0, 1e-7, 1.0 / 3, 0.5, 1, math.Copysign(0, -1), 1.5, -0.1, math.NaN(), math.Inf(1)} {
		mods = append(mods, func(b Behavior) Behavior { return b.Probability(p) })
	}
	for _, n := range []int{0, 1, 3, math.MaxInt, -1} {
		mods = append(mods,
			func(b Behavior) Behavior { return b.Times(n) },
			func(b Behavior) Behavior { return b.After(n) })
	}
	for _, d := range []time.Duration{1500 * time.Millisecond, math.MaxInt64, 0, -time.Second} {
		mods = append(mods,
			func(b Behavior) Behavior { return b.For(d) },
			func(b Behavior) Behavior { return b.Jitter(d) })
	}
	for _, m := range parseMatchers() {
		mods = append(mods, func(b Behavior) Behavior { return b.When(m) })
	}
	return append(mods,
		func(b Behavior) Behavior { return b.When() },
		func(b Behavior) Behavior { return b.When(Method("GET"), Path("/a")) },
		func(b Behavior) Behavior { return b.When(Query("^COMMIT")).When(InTransaction()) },
		func(b Behavior) Behavior {
			return b.Downstream().Probability(0.25).After(1).Times(2).For(90 * time.Second)
		},
		func(b Behavior) Behavior { return b.For(time.Minute).Times(2).After(1).Probability(0.5).Upstream() },
		func(b Behavior) Behavior {
			return b.When(Query("^UPDATE")).Probability(0.5).After(1).Times(2).For(time.Minute)
		},
		func(b Behavior) Behavior { return b.Jitter(time.Millisecond).Downstream().Times(1) },
		func(b Behavior) Behavior { return b.Together("toxic:slow") },
		func(b Behavior) Behavior { return b.Together("") },
		func(b Behavior) Behavior { return b.Together(`a "quoted", name`).Probability(0.5) },
		func(b Behavior) Behavior { return b.Vary(3) },
		func(b Behavior) Behavior { return b.Vary(0) },
		func(b Behavior) Behavior { return b.Vary(-1) },
		func(b Behavior) Behavior { return b.Vary(math.MaxInt).Upstream() },
		func(b Behavior) Behavior { return b.Probability(2).Times(3) },
		func(b Behavior) Behavior { return b.Times(-1).Probability(2).For(-1) },
	)
}

// parseCases are behaviors of every constructor with representative and
// extreme arguments, and one of each constructor with every chain of
// parseModifiers.
func parseCases() []Behavior {
	one := []Behavior{
		Refuse(), Restart(2 * time.Second), Hang(), Blackout(), ConnectDelay(time.Second),
		Latency(80 * time.Millisecond), Bandwidth(256 << 10), Slice(512, time.Millisecond),
		Corrupt(0.001), CloseAfterBytes(1000), ResetAfterBytes(1000), Stall(), HalfClose(),
		SlowClose(time.Second), Timeout(time.Second), IdleTimeout(time.Second), ResetAfter(time.Second),
		Error(MySQLDeadlock), DelayRequest(time.Second), DelayResponse(time.Second), DropResponse(),
		Abort(), TruncateResponse(100), TruncateRows(2), SlowResponse(1000), Miss(),
		Behavior{},
	}
	var cases []Behavior
	for _, b := range one {
		for _, mod := range parseModifiers() {
			cases = append(cases, mod(b))
		}
	}
	durations := []time.Duration{0, 1, 1500 * time.Nanosecond, 100 * time.Millisecond,
		90*time.Minute + 500*time.Millisecond, math.MaxInt64, -time.Second, math.MinInt64}
	for _, d := range durations {
		cases = append(cases, Restart(d), ConnectDelay(d), Latency(d), Latency(time.Second).Jitter(d),
			Slice(1024, d), SlowClose(d), Timeout(d), IdleTimeout(d), ResetAfter(d),
			DelayRequest(d), DelayResponse(d))
	}
	for _, n := range []int64{0, 1, 1 << 20, math.MaxInt64, -1, math.MinInt64} {
		cases = append(cases, Bandwidth(n), Slice(int(n), time.Millisecond), CloseAfterBytes(n),
			ResetAfterBytes(n), TruncateResponse(n), TruncateRows(n), SlowResponse(n))
	}
	for _, p := range []float64{0, 1e-7, 1.0 / 3, 1, math.Copysign(0, -1), 5e-324, 1.5, -1, math.NaN(), math.Inf(-1)} {
		cases = append(cases, Corrupt(p))
	}
	for _, r := range parseReplies() {
		cases = append(cases, Error(r), Error(r).When(Query("^UPDATE")).Times(1))
	}
	return cases
}

// TestParseRoundTrip: ParseBehavior reads back what String prints, for
// behaviors of every constructor, modifier, matcher and reply: the same
// behavior if it is well formed, and a refusal if it is not.
func TestParseRoundTrip(t *testing.T) {
	cases := parseCases()
	refused := 0
	for _, b := range cases {
		if checkRoundTrip(t, b) != nil {
			refused++
		}
	}
	t.Logf("%d behaviors, %d of them refused", len(cases), refused)
}

// checkRoundTrip checks that ParseBehavior reads b.String() back as b, or
// refuses it if b is not well formed, and returns the refusal.
func checkRoundTrip(t *testing.T, b Behavior) error {
	t.Helper()
	s := b.String()
	got, err := ParseBehavior(s)
	if want := b.wellFormed(); want != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) || pe.Pos < 0 || pe.Pos > len(s) {
			t.Errorf("ParseBehavior(%q) = %v, %v; want a refusal like %v", s, got, err, want)
		}
		return err
	}
	if err != nil {
		t.Errorf("ParseBehavior(%q): %v", s, err)
		return nil
	}
	if got.String() != s {
		t.Errorf("ParseBehavior(%q) prints as %q", s, got.String())
	}
	if !reflect.DeepEqual(normalized(got), normalized(b)) {
		t.Errorf("ParseBehavior(%q) = %#v; want %#v", s, got, b)
	}
	return nil
}

// normalized returns b with what only names it cleared: the Go
// expression a RedisReply or a MemcachedReply keeps for String (RedisError
// of a catalog's text prints as the catalog's name), and the compiled form of Query's pattern.
func normalized(b Behavior) Behavior {
	if e, ok := b.act.(errorReply); ok {
		if r, ok := e.reply.(RedisReply); ok {
			r.name = ""
			b.act = errorReply{r}
		}
		if r, ok := e.reply.(MemcachedReply); ok {
			r.name = ""
			b.act = errorReply{r}
		}
	}
	when := make([]Matcher, len(b.when))
	for i, m := range b.when {
		if q, ok := m.(queryMatcher); ok {
			m = queryMatcher{pattern: q.pattern}
		}
		when[i] = m
	}
	b.when = when
	return b
}

// TestParseSpellings: what ParseBehavior accepts besides String's own
// output, and how it prints.
func TestParseSpellings(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{" \tLatency( 100ms ) .\n Downstream ( ) ", "Latency(100ms).Downstream()"},
		{"Latency(1.5us)", "Latency(1.5µs)"},
		{"Latency(1.5μs)", "Latency(1.5µs)"}, // Greek mu
		{"Latency(90m)", "Latency(1h30m0s)"},
		{"Latency(0)", "Latency(0s)"},
		{"Latency(+1s)", "Latency(1s)"},
		{"Latency(1s).Jitter(0s)", "Latency(1s)"},
		{"Latency(1s).When()", "Latency(1s)"},
		{"Stall().Times(2).After(1).Probability(.5).For(1m).Upstream()", "Stall().Upstream().Probability(0.5).After(1).Times(2).For(1m0s)"},
		{"Stall().Probability(5e-1)", "Stall().Probability(0.5)"},
		{"Stall().Times(+3)", "Stall().Times(3)"},
		{"Stall().After(0)", "Stall()"},
		{"Stall().Upstream().BothWays()", "Stall().BothWays()"},
		{"Error(MySQLDeadlock).Times(2).When(Query(`^UPDATE \"x\"`))", `Error(MySQLDeadlock).When(Query("^UPDATE \"x\"")).Times(2)`},
		{`Error(MySQLDeadlock).When(Query("a")).When(InTransaction())`, `Error(MySQLDeadlock).When(Query("a"), InTransaction())`},
		{`Error(MySQLError(1213, "40001", "Deadlock found when trying to get lock; try restarting transaction"))`, "Error(MySQLDeadlock)"},
		{`Error(RedisError("LOADING Redis is loading the dataset in memory"))`, "Error(RedisLoading)"},
		{`Error(HTTPStatus(503).Body("503 Service Unavailable (injected by faults)\n"))`, "Error(HTTPStatus(503))"},
		{`Error(HTTPStatus(503).CloseConnection().Body("b").Header("x-a", "1").Header("X-A", "2"))`, `Error(HTTPStatus(503).Header("X-A", "2").Body("b").CloseConnection())`},
		{`Error(PostgresDeadlock.Hint("See server log for query details."))`, "Error(PostgresDeadlock)"},
		{`Error(PostgresAdminShutdown.Fatal())`, "Error(PostgresAdminShutdown)"},
		{`Error(PostgresError("40001", "x").Fatal().Hint("h"))`, `Error(PostgresError("40001", "x").Hint("h").Fatal())`},
		{`Error(RedisError("\u00fc\x41"))`, `Error(RedisError("üA"))`},
		{"Behavior{ }", "Behavior{}"},
	} {
		b, err := ParseBehavior(tc.in)
		if err != nil {
			t.Errorf("ParseBehavior(%q): %v", tc.in, err)
			continue
		}
		if b.String() != tc.want {
			t.Errorf("ParseBehavior(%q) prints as %q, want %q", tc.in, b.String(), tc.want)
		}
	}
}

// TestParseErrors: each bad expression is a *ParseError naming the
// offending token's offset and what is wrong with it; those the package's
// own checks refuse wrap their *InvalidError.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in      string
		pos     int
		msg     string // the message, or its start if it ends with "…"
		invalid bool   // a refusal by the package's checks
	}{
		{"Latency(10x)", 8, `bad duration "10x"`, false},
		{"Latency(100)", 8, `bad duration "100"`, false},
		{"", 0, "expected a behavior, found the end of the expression", false},
		{"  (", 2, `expected a behavior, found "("`, false},
		{"Latncy(1s)", 0, `unknown behavior "Latncy"; did you mean Latency?`, false},
		{"latency(1s)", 0, `unknown behavior "latency"; did you mean Latency?`, false},
		{"Frobnicate()", 0, `unknown behavior "Frobnicate"; known: Abort, Bandwidth, Blackout, …`, false},
		{`Method("GET")`, 0, `unknown behavior "Method"; known: Abort, …`, false},
		{"Latency(1s).Sideways()", 12, `unknown modifier "Sideways"; known: After, BothWays, Downstream, For, Jitter, Probability, Times, Together, Upstream, Vary and When`, false},
		{"Latency(1s).", 12, "expected a modifier, found the end of the expression", false},
		{"Latency(1s)x", 11, `unexpected "x" after the behavior`, false},
		{"Latency(1s) # why", 12, `unexpected '#'`, false},
		{"Latency(1s)\xff", 11, "unexpected byte 0xff", false},
		{"Latency 1s", 8, `expected ( after Latency, found "1s"`, false},
		{"Latency(1s", 10, "Latency( is not closed", false},
		{"Latency(1s 2s)", 11, `expected , or ) in Latency(...), found "2s"`, false},
		{"Latency(1s,)", 11, "too many arguments in call to Latency(d time.Duration)", false},
		{"Slice(1,)", 8, `expected a duration such as 100ms, found ")"`, false},
		{"Slice(1)", 7, "not enough arguments in call to Slice(size int, delay time.Duration)", false},
		{"Slice(1, 2s, 3)", 13, "too many arguments in call to Slice(size int, delay time.Duration)", false},
		{"Stall(1)", 6, "too many arguments in call to Stall()", false},
		{`Latency("1s")`, 8, `expected a duration such as 100ms, found string "1s"`, false},
		{"Stall().Times(1.5)", 14, `bad integer "1.5"`, false},
		{"Stall().Times(99999999999999999999)", 14, "99999999999999999999 out of range for int", false},
		{"Corrupt(x)", 8, `bad number "x"`, false},
		{`Corrupt("0.5")`, 8, `expected a number such as 0.5, found string "0.5"`, false},
		{"Corrupt(1e999)", 8, `bad number "1e999"`, false},
		{`Error(MySQLError(65536, "HY000", "x"))`, 17, "65536 out of range for uint16", false},
		{`Error(MySQLError(-1, "HY000", "x"))`, 17, `bad integer "-1"`, false},
		{"Error(Nope)", 6, `unknown reply "Nope"; known: HTTPStatus, MemcachedBadDataChunk, …`, false},
		{"Error(PostgresDeadlok)", 6, `unknown reply "PostgresDeadlok"; did you mean PostgresDeadlock?`, false},
		{"Error(503)", 6, `expected a reply, found "503"`, false},
		{`Error(MySQLDeadlock.Detail("x"))`, 20, "a MySQLReply has no methods", false},
		{`Error(PostgresDeadlock.Header("a", "b"))`, 23, `unknown PostgresReply method "Header"; known: Detail, Fatal and Hint`, false},
		{`Error(HTTPStatus(503).Hedaer("a", "b"))`, 22, `unknown HTTPReply method "Hedaer"; did you mean Header?`, false},
		{`Error(nil.Body("x"))`, 9, `expected , or ) in Error(...), found "."`, false},
		{"Error(MySQLDeadlock).When(Nope())", 26, `unknown matcher "Nope"; known: Command, Header, InTransaction, Key, Method, Path and Query`, false},
		{"Error(MySQLDeadlock).When(1s)", 26, `expected a matcher, found "1s"`, false},
		{`Latency("unterminated)`, 8, "string not terminated", false},
		{"Latency(`raw)", 8, "string not terminated", false},
		{"Error(RedisError(\"a\nb\"))", 17, "newline in string", false},
		{`Error(RedisError("\q"))`, 17, `bad string "\q"`, false},
		{"Behavior{}.Times(1)x", 19, `unexpected "x" after the behavior`, false},
		{"Behavior{", 9, "expected } in Behavior{}, found the end of the expression", false},
		{"Behavior()", 8, `expected { in Behavior{}, found "("`, false},

		{"Restart(-1s)", 0, "Restart(-1s): down must not be negative", true},
		{"Corrupt(NaN)", 0, "Corrupt(NaN): probability must be in [0, 1]", true},
		{"Error(HTTPStatus(101))", 6, "Error(HTTPStatus(101)): 101 Switching Protocols cannot be injected", true},
		{`Error(MySQLError(1, "HY00", "x"))`, 6, `Error(MySQLError(1, "HY00", "x")): SQLSTATE "HY00" is not 5 characters`, true},
		{`Error(RedisMoved(16384, "a:1"))`, 6, `Error(RedisMoved(16384, "a:1")): slot "16384" is not in [0, 16383]`, true},
		{`Error(PostgresError("00000", "x").Hint("h"))`, 6, `Error(PostgresError("00000", "x").Hint("h")): class 00 is not an error`, true},
		{"Error(nil)", 0, "Error(nil): nil reply", true},
		{"Latency(1s).Probability(1.5)", 12, "Latency(1s).Probability(1.5): must be in [0, 1]", true},
		{"Latency(1s).Probability(NaN)", 12, "Latency(1s).Probability(NaN): must be in [0, 1]", true},
		{"Stall().Jitter(1ms)", 8, "Stall().Jitter(1ms): applies to Latency only", true},
		{"Stall().For(0s)", 8, "Stall().For(0s): must be positive", true},
		{"Stall().Times(-1)", 8, "Stall().Times(-1): must not be negative", true},
		{"Refuse().Upstream()", 9, "Refuse().Upstream(): a direction applies to stream behaviors only; this one acts on the whole connection", true},
		{`Latency(1s).When(Path("/"))`, 12, `Latency(1s).When(Path("/")): matchers apply to request behaviors only`, true},
		{"Error(MySQLDeadlock).When(nil)", 21, "Error(MySQLDeadlock).When(nil): nil Matcher", true},
		{"Refuse().Times(1)", 9, "Refuse().Times(1): acts on the listener, once: Probability, Times and After do not apply", true},
		{"Restart(1s).For(2s)", 12, "Restart(1s).For(2s): Restart has its own window; For does not apply", true},
		{`Error(MySQLDeadlock).When(Query("("))`, 26, "Query(\"(\"): error parsing regexp: missing closing ): `(`", true},
	} {
		_, err := ParseBehavior(tc.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseBehavior(%q) = %v, want a *ParseError", tc.in, err)
			continue
		}
		msg, prefix := strings.CutSuffix(tc.msg, "…")
		if pe.Expr != tc.in || pe.Pos != tc.pos || !prefix && pe.Msg != msg || prefix && !strings.HasPrefix(pe.Msg, msg) {
			t.Errorf("ParseBehavior(%q) = %#v\nwant Pos %d, Msg %q", tc.in, pe, tc.pos, tc.msg)
		}
		if errors.Is(err, ErrInvalid) != tc.invalid {
			t.Errorf("ParseBehavior(%q): errors.Is(err, ErrInvalid) = %t, want %t", tc.in, !tc.invalid, tc.invalid)
		}
	}
	_, err := ParseBehavior("Latency(10x)")
	if want := `faults: parse "Latency(10x)": at 8: bad duration "10x"`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestParseLinear: reading an expression costs memory in proportion to its
// length. A behavior with many When calls (each one matcher) is read in
// bytes allocated that grow as the calls do, not as their square: four
// times the calls, not sixteen times the bytes. A daemon reads behaviors
// from its API, where a long expression must not cost quadratic time.
func TestParseLinear(t *testing.T) {
	allocated := func(n int) uint64 {
		expr := "Miss()" + strings.Repeat(`.When(Key("k"))`, n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b, err := ParseBehavior(expr)
		runtime.ReadMemStats(&after)
		if err != nil || len(b.when) != n {
			t.Fatalf("%d When calls: %d matchers, %v", n, len(b.when), err)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocated(4000), allocated(16000)
	if large > 8*small {
		t.Fatalf("4000 When calls allocate %d bytes, 16000 allocate %d: %.1f times more", small, large, float64(large)/float64(small))
	}
}

// FuzzParseBehavior: ParseBehavior never panics; it returns a behavior or a
// *ParseError at an offset within the expression; and what it returns
// prints as an expression that it reads back as the same behavior.
func FuzzParseBehavior(f *testing.F) {
	for _, b := range parseCases() {
		if strings.Contains(b.String(), "Query") || strings.Contains(b.String(), "Error(") {
			f.Add(b.String())
		}
	}
	f.Add("Latency(1s).Jitter(5ms).Downstream().Probability(0.5).After(2).Times(3).For(1m)")
	f.Add("Latency(10x)")
	f.Add("  Slice( 1 , 2s )")
	f.Add("Error(HTTPStatus(503).Header(`a`, \"\\u00fc\").Body(\"\\x00\").CloseConnection())")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBehavior(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Expr != s || pe.Pos < 0 || pe.Pos > len(s) {
				t.Fatalf("ParseBehavior(%q): %#v", s, err)
			}
			return
		}
		if checkRoundTrip(t, b) != nil {
			t.Fatalf("ParseBehavior(%q) = %v, which it refuses when printed", s, b)
		}
	})
}

// BenchmarkParseBehavior reads a request behavior with a reply, a matcher
// and modifiers, as a daemon reads one from its API.
func BenchmarkParseBehavior(b *testing.B) {
	const expr = `Error(HTTPStatus(429).Header("Retry-After", "1")).When(Method("POST"), Path("/orders/*")).Probability(0.1).Times(5)`
	for b.Loop() {
		if _, err := ParseBehavior(expr); err != nil {
			b.Fatal(err)
		}
	}
}
