package faults

import (
	"regexp"
	"strconv"
	"strings"
)

// A Matcher selects requests for [Behavior.When]. Matchers are made by
// [Method], [Path], [Header], [Query], [InTransaction], [Command] and
// [Key]. A matcher about a part of a request that the proxy's protocol
// does not have (Query on HTTP, Command on MySQL) could never match: the
// proxy refuses it with an [*UnsupportedError] naming the matchers the
// protocol has.
type Matcher interface {
	// match reports whether r is selected. A matcher asks r for what it
	// needs through a small interface of its own (such as httpMethoder
	// for Method) and does not match a request that lacks it.
	match(r request) bool

	// fits reports whether requests like r (of one protocol) have what
	// the matcher asks for, so that it can match some.
	fits(r request) bool

	String() string
}

// everyMatcher holds one matcher of each kind, to name those a protocol
// has.
var everyMatcher = []Matcher{Method(), Path(""), Header("", ""), Query(""), InTransaction(), Command(), Key("")}

// matcherNames lists the matchers whose requests are like r, as
// "Method, Path and Header".
func matcherNames(r request) string {
	var names []string
	for _, m := range everyMatcher {
		if m.fits(r) {
			name, _, _ := strings.Cut(m.String(), "(")
			names = append(names, name)
		}
	}
	return andList(names)
}

// andList joins names as "A, B and C"; "none" if there are none.
func andList(names []string) string {
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// checkMatchers refuses a matcher of b that requests like r (a protocol's)
// could never satisfy.
func checkMatchers(b Behavior, proto Protocol, r request) error {
	for _, m := range b.when {
		if !m.fits(r) {
			return &UnsupportedError{Behavior: b.String(), Protocol: proto.Name(),
				Reason: m.String() + " never matches a " + proto.Name() + " request; its matchers are " + matcherNames(r)}
		}
	}
	return nil
}

// request is what matchers see of one request that a protocol framed.
// Each protocol has a type of its own (httpRequest, mysqlRequest,
// redisRequest), which offers the matchers what they ask for by
// implementing their small interfaces (httpMethoder, statementer, ...): a
// protocol gets the existing matchers by implementing their methods, and
// a matcher whose method a request lacks does not match it.
type request interface {
	// summary names the request in events (Event.Request), such as
	// "GET /api/x?y=1", "COM_QUERY UPDATE stock SET …" or "GET
	// session:2": at most 200 bytes, then "…".
	summary() string
}

// capSummary cuts s to the 200 bytes a summary keeps, marking the cut.
func capSummary(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

type methodMatcher []string

// Method matches HTTP requests whose method is one of methods, compared
// without regard to case.
func Method(methods ...string) Matcher { return methodMatcher(methods) }

// httpMethoder is a request with an HTTP method, for [Method].
type httpMethoder interface {
	// httpMethod is the method as sent, such as "GET".
	httpMethod() string
}

func (methodMatcher) fits(r request) bool { _, ok := r.(httpMethoder); return ok }

func (m methodMatcher) match(r request) bool {
	hr, ok := r.(httpMethoder)
	if !ok {
		return false
	}
	method := hr.httpMethod()
	for _, x := range m {
		if strings.EqualFold(x, method) {
			return true
		}
	}
	return false
}

func (m methodMatcher) String() string { return "Method(" + quoteAll(m) + ")" }

type pathMatcher string

// Path matches HTTP requests whose path (the request target without its
// query) matches the glob pattern: '*' stands for any run of characters,
// '/' included, and '?' for any one character; every other character
// stands for itself. Path("/api/*") matches "/api/users/7".
func Path(pattern string) Matcher { return pathMatcher(pattern) }

// httpPather is a request with an HTTP path, for [Path].
type httpPather interface {
	// httpPath is the request target without its query; "" if the
	// target has no path (such as "*" or an authority), which no
	// pattern matches.
	httpPath() string
}

func (pathMatcher) fits(r request) bool { _, ok := r.(httpPather); return ok }

func (m pathMatcher) match(r request) bool {
	hr, ok := r.(httpPather)
	if !ok {
		return false
	}
	path := hr.httpPath()
	return path != "" && glob(string(m), path)
}

func (m pathMatcher) String() string { return "Path(" + strconv.Quote(string(m)) + ")" }

type queryMatcher struct {
	pattern string
	re      *regexp.Regexp
	err     error
}

// Query matches SQL statements whose text matches the regular expression
// pattern (Go syntax, unanchored: add ^ to match from the start; add (?i)
// to ignore case). On MySQL it applies to COM_QUERY and to each
// COM_STMT_EXECUTE of a statement prepared with matching text. An invalid
// pattern makes [Proxy.Set] fail with an [*InvalidError].
func Query(pattern string) Matcher {
	re, err := regexp.Compile(pattern)
	return queryMatcher{pattern, re, err}
}

// statementer is a request that may carry SQL text, for [Query].
type statementer interface {
	// statement is the text of the SQL statement the request runs, and
	// whether it runs one whose text is known. Empty text matches no
	// pattern.
	statement() (string, bool)
}

func (queryMatcher) fits(r request) bool { _, ok := r.(statementer); return ok }

func (m queryMatcher) match(r request) bool {
	sr, ok := r.(statementer)
	if !ok || m.re == nil {
		return false
	}
	text, ok := sr.statement()
	return ok && text != "" && m.re.MatchString(text)
}

func (m queryMatcher) check() error { return m.err }

func (m queryMatcher) String() string { return "Query(" + strconv.Quote(m.pattern) + ")" }

type inTransactionMatcher struct{}

// InTransaction matches SQL statements sent while a transaction is open on
// their connection: on MySQL, when the server's answer to the connection's
// previous statement said so (SERVER_STATUS_IN_TRANS), which covers BEGIN,
// START TRANSACTION and autocommit off alike. The proxy starts reading those
// answers when a rule with InTransaction is installed, so the statement
// right after that counts as outside. COMMIT and ROLLBACK themselves are
// inside: Query("^COMMIT") with InTransaction() fails exactly the commits.
func InTransaction() Matcher { return inTransactionMatcher{} }

// transactioner is a request that knows whether it was sent inside a
// transaction, for [InTransaction].
type transactioner interface {
	// inTransaction reports whether a transaction was open on the
	// request's connection when it was sent.
	inTransaction() bool
}

func (inTransactionMatcher) fits(r request) bool { _, ok := r.(transactioner); return ok }

func (inTransactionMatcher) match(r request) bool {
	tr, ok := r.(transactioner)
	return ok && tr.inTransaction()
}

func (inTransactionMatcher) String() string { return "InTransaction()" }

// tracksTransactions reports whether a rule of plan needs to know whether
// statements are sent inside a transaction.
func (pl *connPlan) tracksTransactions() bool {
	for _, r := range pl.requests {
		for _, m := range r.b.when {
			if _, ok := m.(inTransactionMatcher); ok {
				return true
			}
		}
	}
	return false
}

type headerMatcher struct{ name, value string }

// Header matches HTTP requests that carry header name (compared without
// regard to case) with a value matching the glob pattern value, as in
// [Path]; Header(name, "*") matches any value.
func Header(name, value string) Matcher { return headerMatcher{name, value} }

// httpHeaderer is a request with HTTP headers, for [Header].
type httpHeaderer interface {
	// httpHeader returns the value of header name, compared without
	// regard to case, and whether the request carries it.
	httpHeader(name string) (string, bool)
}

func (headerMatcher) fits(r request) bool { _, ok := r.(httpHeaderer); return ok }

func (m headerMatcher) match(r request) bool {
	hr, ok := r.(httpHeaderer)
	if !ok {
		return false
	}
	v, ok := hr.httpHeader(m.name)
	return ok && glob(m.value, v)
}

func (m headerMatcher) String() string {
	return "Header(" + strconv.Quote(m.name) + ", " + strconv.Quote(m.value) + ")"
}

// matches reports whether every matcher of b matches r.
func (b Behavior) matches(r request) bool {
	for _, m := range b.when {
		if !m.match(r) {
			return false
		}
	}
	return true
}

// glob reports whether s matches pattern, where '*' matches any run of
// characters and '?' any one character.
func glob(pattern, s string) bool {
	// Iterative matching with backtracking to the last '*': linear in
	// practice, never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
