package faults

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// The names a behavior expression may call, each with its parameters and
// the Go call it stands for. A constructor, modifier, matcher or reply
// added to the package is added here too (TestParseCoversAPI fails until
// it is).

// behaviorFuncs are the constructors a behavior expression starts with.
var behaviorFuncs = map[string]fn[Behavior]{
	// Listener and connection behaviors (behaviors_connection.go).
	"Refuse":       {call: func(Behavior, args) Behavior { return Refuse() }},
	"Restart":      {params: []param{{"down", durationKind}}, call: func(_ Behavior, a args) Behavior { return Restart(a.duration(0)) }},
	"Hang":         {call: func(Behavior, args) Behavior { return Hang() }},
	"Blackout":     {call: func(Behavior, args) Behavior { return Blackout() }},
	"ConnectDelay": {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return ConnectDelay(a.duration(0)) }},

	// Stream behaviors (behaviors_stream.go).
	"Latency":         {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return Latency(a.duration(0)) }},
	"Bandwidth":       {params: []param{{"bytesPerSecond", int64Kind}}, call: func(_ Behavior, a args) Behavior { return Bandwidth(a.int64(0)) }},
	"Slice":           {params: []param{{"size", intKind}, {"delay", durationKind}}, call: func(_ Behavior, a args) Behavior { return Slice(a.int(0), a.duration(1)) }},
	"Corrupt":         {params: []param{{"p", floatKind}}, call: func(_ Behavior, a args) Behavior { return Corrupt(a.float(0)) }},
	"CloseAfterBytes": {params: []param{{"n", int64Kind}}, call: func(_ Behavior, a args) Behavior { return CloseAfterBytes(a.int64(0)) }},
	"ResetAfterBytes": {params: []param{{"n", int64Kind}}, call: func(_ Behavior, a args) Behavior { return ResetAfterBytes(a.int64(0)) }},
	"Stall":           {call: func(Behavior, args) Behavior { return Stall() }},
	"HalfClose":       {call: func(Behavior, args) Behavior { return HalfClose() }},
	"SlowClose":       {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return SlowClose(a.duration(0)) }},

	// Connection timers (behaviors_timer.go).
	"Timeout":     {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return Timeout(a.duration(0)) }},
	"IdleTimeout": {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return IdleTimeout(a.duration(0)) }},
	"ResetAfter":  {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return ResetAfter(a.duration(0)) }},

	// Request behaviors (behaviors_request.go).
	"Error":            {params: []param{{"reply", replyKind}}, call: func(_ Behavior, a args) Behavior { return Error(a.reply(0)) }},
	"DelayRequest":     {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return DelayRequest(a.duration(0)) }},
	"DelayResponse":    {params: []param{{"d", durationKind}}, call: func(_ Behavior, a args) Behavior { return DelayResponse(a.duration(0)) }},
	"DropResponse":     {call: func(Behavior, args) Behavior { return DropResponse() }},
	"Abort":            {call: func(Behavior, args) Behavior { return Abort() }},
	"TruncateResponse": {params: []param{{"n", int64Kind}}, call: func(_ Behavior, a args) Behavior { return TruncateResponse(a.int64(0)) }},
	"TruncateRows":     {params: []param{{"n", int64Kind}}, call: func(_ Behavior, a args) Behavior { return TruncateRows(a.int64(0)) }},
	"SlowResponse":     {params: []param{{"bytesPerSecond", int64Kind}}, call: func(_ Behavior, a args) Behavior { return SlowResponse(a.int64(0)) }},
	"Miss":             {call: func(Behavior, args) Behavior { return Miss() }},
}

// behaviorMethods are the modifiers that follow a constructor.
var behaviorMethods = map[string]fn[Behavior]{
	"Upstream":    {call: func(b Behavior, _ args) Behavior { return b.Upstream() }},
	"Downstream":  {call: func(b Behavior, _ args) Behavior { return b.Downstream() }},
	"BothWays":    {call: func(b Behavior, _ args) Behavior { return b.BothWays() }},
	"Probability": {params: []param{{"p", floatKind}}, call: func(b Behavior, a args) Behavior { return b.Probability(a.float(0)) }},
	"Times":       {params: []param{{"n", intKind}}, call: func(b Behavior, a args) Behavior { return b.Times(a.int(0)) }},
	"After":       {params: []param{{"n", intKind}}, call: func(b Behavior, a args) Behavior { return b.After(a.int(0)) }},
	"For":         {params: []param{{"d", durationKind}}, call: func(b Behavior, a args) Behavior { return b.For(a.duration(0)) }},
	"When":        {params: []param{{"ms", matcherKind}}, variadic: true, call: parseWhen},
	"Jitter":      {params: []param{{"j", durationKind}}, call: func(b Behavior, a args) Behavior { return b.Jitter(a.duration(0)) }},
	"Vary":        {params: []param{{"n", intKind}}, call: func(b Behavior, a args) Behavior { return b.Vary(a.int(0)) }},
	"Together":    {params: []param{{"name", stringKind}}, call: func(b Behavior, a args) Behavior { return b.Together(a.string(0)) }},
}

// matcherFuncs are the matchers of When.
var matcherFuncs = map[string]fn[Matcher]{
	"Method":        {params: []param{{"methods", stringKind}}, variadic: true, call: func(_ Matcher, a args) Matcher { return Method(a.strings()...) }},
	"Path":          {params: []param{{"pattern", stringKind}}, call: func(_ Matcher, a args) Matcher { return Path(a.string(0)) }},
	"Header":        {params: []param{{"name", stringKind}, {"value", stringKind}}, call: func(_ Matcher, a args) Matcher { return Header(a.string(0), a.string(1)) }},
	"Query":         {params: []param{{"pattern", stringKind}}, call: func(_ Matcher, a args) Matcher { return Query(a.string(0)) }},
	"InTransaction": {call: func(Matcher, args) Matcher { return InTransaction() }},
	"Command":       {params: []param{{"names", stringKind}}, variadic: true, call: func(_ Matcher, a args) Matcher { return Command(a.strings()...) }},
	"Key":           {params: []param{{"pattern", stringKind}}, call: func(_ Matcher, a args) Matcher { return Key(a.string(0)) }},
}

// replyFuncs are the constructors of the replies of Error; the catalogs'
// replies are named by replyCatalog.
var replyFuncs = map[string]fn[Reply]{
	"HTTPStatus":           {params: []param{{"code", intKind}}, call: func(_ Reply, a args) Reply { return HTTPStatus(a.int(0)) }},
	"MySQLError":           {params: []param{{"number", uint16Kind}, {"sqlstate", stringKind}, {"message", stringKind}}, call: func(_ Reply, a args) Reply { return MySQLError(a.uint16(0), a.string(1), a.string(2)) }},
	"RedisError":           {params: []param{{"text", stringKind}}, call: func(_ Reply, a args) Reply { return RedisError(a.string(0)) }},
	"RedisMoved":           {params: []param{{"slot", intKind}, {"addr", stringKind}}, call: func(_ Reply, a args) Reply { return RedisMoved(a.int(0), a.string(1)) }},
	"RedisAsk":             {params: []param{{"slot", intKind}, {"addr", stringKind}}, call: func(_ Reply, a args) Reply { return RedisAsk(a.int(0), a.string(1)) }},
	"PostgresError":        {params: []param{{"code", stringKind}, {"message", stringKind}}, call: func(_ Reply, a args) Reply { return PostgresError(a.string(0), a.string(1)) }},
	"MemcachedClientError": {params: []param{{"msg", stringKind}}, call: func(_ Reply, a args) Reply { return MemcachedClientError(a.string(0)) }},
	"MemcachedServerError": {params: []param{{"msg", stringKind}}, call: func(_ Reply, a args) Reply { return MemcachedServerError(a.string(0)) }},
}

// replyMethods are the methods that refine a reply, by the reply's type
// (see replyType).
var replyMethods = map[string]map[string]fn[Reply]{
	"HTTPReply": {
		"Header":          {params: []param{{"name", stringKind}, {"value", stringKind}}, call: func(r Reply, a args) Reply { return r.(HTTPReply).Header(a.string(0), a.string(1)) }},
		"Body":            {params: []param{{"body", stringKind}}, call: func(r Reply, a args) Reply { return r.(HTTPReply).Body(a.string(0)) }},
		"CloseConnection": {call: func(r Reply, _ args) Reply { return r.(HTTPReply).CloseConnection() }},
	},
	"PostgresReply": {
		"Detail": {params: []param{{"detail", stringKind}}, call: func(r Reply, a args) Reply { return r.(PostgresReply).Detail(a.string(0)) }},
		"Hint":   {params: []param{{"hint", stringKind}}, call: func(r Reply, a args) Reply { return r.(PostgresReply).Hint(a.string(0)) }},
		"Fatal":  {call: func(r Reply, _ args) Reply { return r.(PostgresReply).Fatal() }},
	},
}

// replyCatalog names the replies of every protocol's catalog, such as
// MySQLDeadlock. It is made on first use: the catalogs are package
// variables, complete only once the package is initialized.
var replyCatalog = sync.OnceValue(func() map[string]Reply {
	named := make(map[string]Reply)
	for _, e := range mysqlCatalog {
		named[e.name] = *e.reply
	}
	for _, r := range redisCatalog {
		named[r.name] = r
	}
	for _, e := range postgresCatalog {
		named[e.name] = *e.reply
	}
	for _, r := range memcachedCatalog {
		named[r.name] = r
	}
	return named
})

// replyType is the name of r's type, which keys replyMethods, such as
// "HTTPReply".
func replyType(r Reply) string { return strings.TrimPrefix(fmt.Sprintf("%T", r), "faults.") }

// A fn is one function or method that a behavior expression may call: its
// parameters, and the Go call it stands for, given the values of the
// arguments (and, for a method, its receiver recv; a constructor ignores
// recv).
type fn[T any] struct {
	params   []param
	variadic bool // the last parameter takes any number of values, as in Method(methods ...string)
	call     func(recv T, a args) T
}

// signature renders f's parameters as Go declares them, such as
// "size int, delay time.Duration", for error messages.
func (f fn[T]) signature() string {
	var s []string
	for i, p := range f.params {
		typ := p.kind.String()
		if f.variadic && i == len(f.params)-1 {
			typ = "..." + typ
		}
		s = append(s, p.name+" "+typ)
	}
	return strings.Join(s, ", ")
}

// A param is one parameter of a fn: its name and the kind of its values.
type param struct {
	name string
	kind kind
}

// kind is the Go type of a parameter, which decides how its argument is
// read.
type kind uint8

const (
	durationKind kind = iota + 1 // as time.ParseDuration reads it: 100ms, 1.5s, 1h30m0s
	intKind                      // a decimal integer, int
	int64Kind                    // a decimal integer, int64
	uint16Kind                   // a decimal integer, uint16
	floatKind                    // a decimal number, float64, as strconv.ParseFloat reads it
	stringKind                   // a Go string literal
	replyKind                    // a Reply: a catalog name or a reply constructor's call
	matcherKind                  // a Matcher: a matcher's call
)

// kinds describes each kind: its Go type, and what an error message shows
// of a value of it.
var kinds = [...]struct{ goType, example string }{
	durationKind: {"time.Duration", "a duration such as 100ms"},
	intKind:      {"int", "an integer"},
	int64Kind:    {"int64", "an integer"},
	uint16Kind:   {"uint16", "an integer"},
	floatKind:    {"float64", "a number such as 0.5"},
	stringKind:   {"string", `a string such as "GET"`},
	replyKind:    {"Reply", "a reply such as MySQLDeadlock or HTTPStatus(503)"},
	matcherKind:  {"Matcher", `a matcher such as Query("^UPDATE")`},
}

func (k kind) String() string { return kinds[k].goType }

// example is what an error message shows of a value of kind k.
func (k kind) example() string { return kinds[k].example }

// A value is one argument of a call, in the field of its kind.
type value struct {
	d time.Duration
	n int64 // intKind, int64Kind and uint16Kind, checked for the range of each
	f float64
	s string
	r Reply
	m Matcher
}

// args are the arguments of one call, in order; a fn's call takes from
// them what its parameters say they hold.
type args []value

func (a args) duration(i int) time.Duration { return a[i].d }
func (a args) int(i int) int                { return int(a[i].n) }
func (a args) int64(i int) int64            { return a[i].n }
func (a args) uint16(i int) uint16          { return uint16(a[i].n) }
func (a args) float(i int) float64          { return a[i].f }
func (a args) string(i int) string          { return a[i].s }
func (a args) reply(i int) Reply            { return a[i].r }

// strings returns the values of a variadic string parameter, the only one.
func (a args) strings() []string {
	var s []string // nil for none, as Method() has
	for _, v := range a {
		s = append(s, v.s)
	}
	return s
}

// matchers returns the values of a variadic Matcher parameter, the only
// one.
func (a args) matchers() []Matcher {
	ms := make([]Matcher, len(a))
	for i, v := range a {
		ms[i] = v.m
	}
	return ms
}

// parseWhen is b.When(a.matchers()...) for the parser, which owns b: it
// appends to b's matchers in place, where When copies them all on every
// call, which costs time quadratic in the number of When calls.
func parseWhen(b Behavior, a args) Behavior {
	ms := a.matchers()
	if slices.Contains(ms, nil) {
		return b.When(ms...) // refused, as When refuses it
	}
	b.when = append(b.when, ms...)
	return b
}
