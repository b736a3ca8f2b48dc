package faults

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseBehavior reads a behavior written as [Behavior.String] prints it and
// events name it ([Event].Behavior): the Go expression that builds it,
// without the package name, such as
//
//	Error(MySQLDeadlock).When(Query("^UPDATE stock")).Times(2)
//	Latency(100ms).Jitter(10ms).Downstream().Probability(0.5)
//	Error(HTTPStatus(429).Header("Retry-After", "1")).When(Method("POST"), Path("/orders/*"))
//	Error(PostgresError("40001", "could not serialize access").Hint("retry")).Times(1)
//
// The grammar, with white space allowed between tokens:
//
//	behavior = ( call | "Behavior{}" ) { "." call }
//	call     = name "(" [ value { "," value } ] ")"
//	value    = duration | number | string | reply | matcher
//	reply    = ( call | catalog-name | "nil" ) { "." call }
//	matcher  = call | "nil"
//
// A behavior starts with a constructor ([Latency], [Refuse], [Error], …) and
// goes on with modifiers ([Behavior.Times], [Behavior.When], …), in any
// order. A reply is a catalog's name ([MySQLDeadlock], [RedisLoading],
// [PostgresDeadlock], [MemcachedOutOfMemory], …) or a reply constructor's
// call ([HTTPStatus], [MySQLError], [RedisMoved], [PostgresError],
// [MemcachedServerError], …), refined by its methods.
// Durations are read by [time.ParseDuration] (100ms, 1.5µs, 1h30m0s),
// numbers are decimal (floats as [strconv.ParseFloat] reads them), and
// strings are Go string literals, double-quoted with escapes or
// back-quoted. "Behavior{}" is the zero Behavior, which does nothing, with
// or without modifiers.
//
// The behavior is checked as [Proxy.Set] checks it, except for what depends
// on the proxy's protocol: an invalid argument (a negative duration, a
// probability outside [0, 1], a malformed regular expression or reply) or a
// modifier that no fault of its kind takes (a direction on a connection
// behavior, matchers on a stream behavior, Times on Refuse) is refused, and
// so ParseBehavior never returns a behavior that every proxy would refuse.
// Whether the proxy's protocol carries the behavior out (an HTTP reply on a
// MySQL proxy) is left to Set.
//
// Every error is a [*ParseError], naming the offending token by its byte
// offset; one that the package's checks report wraps their [*InvalidError]
// (errors.Is(err, [ErrInvalid]) holds). For every behavior b that Set could
// accept, ParseBehavior(b.String()) returns a behavior that acts as b does
// and prints as b does. ParseBehavior is safe for concurrent use.
func ParseBehavior(s string) (Behavior, error) {
	p := &parser{lex: lexer{src: s}}
	if err := p.advance(); err != nil {
		return Behavior{}, err
	}
	b, err := p.behavior()
	if err != nil {
		return Behavior{}, err
	}
	return b, nil
}

// ParseError reports an expression that [ParseBehavior] could not read, or
// that reads as a behavior the package refuses.
type ParseError struct {
	Expr string // the expression
	Pos  int    // the byte offset in Expr of the offending token; len(Expr) for its end
	Msg  string // what is wrong, such as `bad duration "10x"`
	Err  error  // the package's own error for a refused behavior (an *InvalidError); else nil
}

// Error renders e as, for example,
//
//	faults: parse "Latency(10x)": at 8: bad duration "10x"
func (e *ParseError) Error() string {
	return fmt.Sprintf("faults: parse %q: at %d: %s", e.Expr, e.Pos, e.Msg)
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }

// A parser reads one behavior expression by recursive descent, one token
// ahead.
type parser struct {
	lex lexer
	tok token // the token being looked at
}

// advance moves to the next token.
func (p *parser) advance() error {
	t, err := p.lex.next()
	p.tok = t
	return err
}

func (p *parser) fail(pos int, msg string) error {
	return &ParseError{Expr: p.lex.src, Pos: pos, Msg: msg}
}

// refuse reports err, the package's refusal of what the call at pos built.
func (p *parser) refuse(pos int, err error) error {
	return &ParseError{Expr: p.lex.src, Pos: pos, Msg: strings.TrimPrefix(err.Error(), "faults: "), Err: err}
}

// behavior reads a whole expression: a constructor's call and its
// modifiers, checking what each call builds.
func (p *parser) behavior() (Behavior, error) {
	name := p.tok
	var b Behavior
	if name.text == "Behavior" {
		if err := p.zeroBehavior(); err != nil {
			return Behavior{}, err
		}
	} else {
		f, err := lookup(p, behaviorFuncs, "behavior")
		if err != nil {
			return Behavior{}, err
		}
		if b, err = call(p, f, Behavior{}); err != nil {
			return Behavior{}, err
		}
		if err := parsedWellFormed(b); err != nil {
			return Behavior{}, p.refuse(name.pos, err)
		}
	}
	for p.tok.is(".") {
		if err := p.advance(); err != nil {
			return Behavior{}, err
		}
		name = p.tok
		f, err := lookup(p, behaviorMethods, "modifier")
		if err != nil {
			return Behavior{}, err
		}
		if b, err = call(p, f, b); err != nil {
			return Behavior{}, err
		}
		// Once refused, a behavior stays refused whatever follows, so the
		// first call after which it is refused is the one to blame.
		if err := parsedWellFormed(b); err != nil {
			return Behavior{}, p.refuse(name.pos, err)
		}
	}
	if p.tok.kind != endToken {
		return Behavior{}, p.fail(p.tok.pos, fmt.Sprintf("unexpected %s after the behavior", p.tok))
	}
	return b, nil
}

// parsedWellFormed is b.wellFormed() for a behavior read by the parser,
// whose matchers were each checked as they were read (see matcher): it
// does not check them all again after every call, which would cost time
// quadratic in the number of When calls.
func parsedWellFormed(b Behavior) error {
	if b.err != nil {
		return b.err
	}
	return b.modifiersError()
}

// zeroBehavior reads "Behavior{}", the zero Behavior.
func (p *parser) zeroBehavior() error {
	for _, want := range []string{"{", "}"} {
		if err := p.advance(); err != nil {
			return err
		}
		if !p.tok.is(want) {
			return p.fail(p.tok.pos, fmt.Sprintf("expected %s in Behavior{}, found %s", want, p.tok))
		}
	}
	return p.advance()
}

// reply reads an argument of Error.
func (p *parser) reply() (Reply, error) {
	name := p.tok
	var r Reply
	if name.text == "nil" {
		return nil, p.advance()
	}
	if named, ok := replyCatalog()[name.text]; ok {
		r = named
		if err := p.advance(); err != nil {
			return nil, err
		}
	} else {
		f, err := lookup(p, replyFuncs, "reply", slices.Collect(maps.Keys(replyCatalog()))...)
		if err != nil {
			return nil, err
		}
		if r, err = call(p, f, nil); err != nil {
			return nil, err
		}
	}
	for p.tok.is(".") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		methods := replyMethods[replyType(r)]
		if len(methods) == 0 {
			return nil, p.fail(p.tok.pos, fmt.Sprintf("a %s has no methods", replyType(r)))
		}
		f, err := lookup(p, methods, replyType(r)+" method")
		if err != nil {
			return nil, err
		}
		if r, err = call(p, f, r); err != nil {
			return nil, err
		}
	}
	// A malformed reply is refused here, where its position is known, as
	// Error refuses it.
	if err := Error(r).err; err != nil {
		return nil, p.refuse(name.pos, err)
	}
	return r, nil
}

// matcher reads an argument of When.
func (p *parser) matcher() (Matcher, error) {
	name := p.tok
	if name.text == "nil" {
		return nil, p.advance()
	}
	f, err := lookup(p, matcherFuncs, "matcher")
	if err != nil {
		return nil, err
	}
	m, err := call(p, f, nil)
	if err != nil {
		return nil, err
	}
	// A matcher with a malformed argument (Query's regular expression)
	// is refused here, where its position is known; Set would refuse the
	// behavior for the same reason.
	if c, ok := m.(interface{ check() error }); ok {
		if err := c.check(); err != nil {
			return nil, p.refuse(name.pos, &InvalidError{What: m.String(), Value: m.String(), Reason: err.Error()})
		}
	}
	return m, nil
}

// call reads a call of f, the current token being its name, and returns
// what f makes of its arguments and recv.
func call[T any](p *parser, f fn[T], recv T) (T, error) {
	name := p.tok
	var zero T
	if err := p.advance(); err != nil {
		return zero, err
	}
	if !p.tok.is("(") {
		return zero, p.fail(p.tok.pos, fmt.Sprintf("expected ( after %s, found %s", name.text, p.tok))
	}
	if err := p.advance(); err != nil {
		return zero, err
	}
	var a args
	for !p.tok.is(")") {
		switch {
		case p.tok.kind == endToken:
			return zero, p.fail(p.tok.pos, fmt.Sprintf("%s( is not closed", name.text))
		case len(a) > 0 && !p.tok.is(","):
			return zero, p.fail(p.tok.pos, fmt.Sprintf("expected , or ) in %s(...), found %s", name.text, p.tok))
		case len(a) > 0:
			if err := p.advance(); err != nil {
				return zero, err
			}
		}
		if len(a) == len(f.params) && !f.variadic {
			return zero, p.fail(p.tok.pos, fmt.Sprintf("too many arguments in call to %s(%s)", name.text, f.signature()))
		}
		v, err := p.value(f.params[min(len(a), len(f.params)-1)].kind)
		if err != nil {
			return zero, err
		}
		a = append(a, v)
	}
	required := len(f.params)
	if f.variadic {
		required--
	}
	if len(a) < required {
		return zero, p.fail(p.tok.pos, fmt.Sprintf("not enough arguments in call to %s(%s)", name.text, f.signature()))
	}
	if err := p.advance(); err != nil {
		return zero, err
	}
	return f.call(recv, a), nil
}

// value reads one argument of kind k.
func (p *parser) value(k kind) (value, error) {
	switch k {
	case replyKind:
		r, err := p.reply()
		return value{r: r}, err
	case matcherKind:
		m, err := p.matcher()
		return value{m: m}, err
	}
	t := p.tok
	var v value
	switch {
	case k == stringKind && t.kind == stringToken:
		v.s = t.str
	case k == durationKind && t.kind == numberToken:
		d, err := time.ParseDuration(t.text)
		if err != nil {
			return v, p.fail(t.pos, fmt.Sprintf("bad duration %q", t.text))
		}
		v.d = d
	case (k == intKind || k == int64Kind || k == uint16Kind) && t.kind == numberToken:
		n, err := parseInteger(t.text, k)
		if err != nil {
			return v, p.fail(t.pos, err.Error())
		}
		v.n = n
	case k == floatKind && (t.kind == numberToken || t.kind == nameToken): // NaN and Inf are names
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return v, p.fail(t.pos, fmt.Sprintf("bad number %q", t.text))
		}
		v.f = f
	default:
		return v, p.fail(t.pos, fmt.Sprintf("expected %s, found %s", k.example(), t))
	}
	return v, p.advance()
}

// parseInteger reads a decimal integer of kind k.
func parseInteger(s string, k kind) (int64, error) {
	var n int64
	var err error
	switch k {
	case uint16Kind:
		var u uint64
		u, err = strconv.ParseUint(s, 10, 16)
		n = int64(u)
	case intKind:
		n, err = strconv.ParseInt(s, 10, strconv.IntSize)
	default:
		n, err = strconv.ParseInt(s, 10, 64)
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s out of range for %s", s, k)
	}
	if err != nil {
		return 0, fmt.Errorf("bad integer %q", s)
	}
	return n, nil
}

// lookup returns the fn of table that the current token names. If it names
// none, and none of others either (names its caller knows of), it reports
// the token as an unknown what.
func lookup[T any](p *parser, table map[string]fn[T], what string, others ...string) (fn[T], error) {
	f, ok := table[p.tok.text] // the text of a token that is not a name is never a key
	if !ok {
		return f, p.unknown(p.tok, what, slices.AppendSeq(others, maps.Keys(table)))
	}
	return f, nil
}

// unknown reports t, found where a name of what was expected, one of
// names: the one meant if t looks like a misspelling of it, else all.
func (p *parser) unknown(t token, what string, names []string) error {
	if t.kind != nameToken {
		return p.fail(t.pos, fmt.Sprintf("expected a %s, found %s", what, t))
	}
	if meant, ok := closest(t.text, names); ok {
		return p.fail(t.pos, fmt.Sprintf("unknown %s %q; did you mean %s?", what, t.text, meant))
	}
	slices.Sort(names)
	return p.fail(t.pos, fmt.Sprintf("unknown %s %q; known: %s", what, t.text, andList(names)))
}

// closest returns the one of names nearest to s by edit distance, ignoring
// case, if it is near enough to be what s meant: at most two edits, fewer
// than half of s.
func closest(s string, names []string) (string, bool) {
	best, bestDist := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), strings.ToLower(n)); d < bestDist || d == bestDist && n < best {
			best, bestDist = n, d
		}
	}
	return best, best != "" && 2*bestDist < len(s)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1) // distances from a[:i-1] to each b[:j]
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
