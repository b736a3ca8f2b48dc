package faults

import (
	"regexp"
	"strconv"
	"strings"
)

// A Matcher selects requests for [Behavior.When]. Matchers are made by
// [Method], [Path], [Header], [Query], [InTransaction], [Command] and
// [Key]; a matcher about a part of a request that the
// protocol does not have matches nothing.
type Matcher interface {
	match(r *request) bool
	String() string
}

// request is what matchers see of one request.
type request struct {
	query   string // SQL text, for Query
	inTrans bool   // sent inside a transaction, for InTransaction
	command string // a Redis command's name, in capitals, for Command
	key     string // its first argument, for Key
	hasKey  bool   // whether it has one
	method  string
	target  string // as sent, with the query
	path    string // without the query
	header  func(name string) (string, bool)
}

// summary names the request in events, e.g. "GET /api/x?y=1" or
// "COM_QUERY UPDATE stock SET …".
func (r *request) summary() string {
	s := r.method + " " + r.target
	switch {
	case r.command != "" && r.hasKey:
		s = r.command + " " + r.key
	case r.command != "":
		s = r.command
	case r.query != "":
		s = r.method + " " + strings.Join(strings.Fields(r.query), " ")
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

type methodMatcher []string

// Method matches HTTP requests whose method is one of methods, compared
// without regard to case.
func Method(methods ...string) Matcher { return methodMatcher(methods) }

func (m methodMatcher) match(r *request) bool {
	for _, x := range m {
		if strings.EqualFold(x, r.method) {
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

func (m pathMatcher) match(r *request) bool { return r.path != "" && glob(string(m), r.path) }

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

func (m queryMatcher) match(r *request) bool {
	return m.re != nil && r.query != "" && m.re.MatchString(r.query)
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

func (inTransactionMatcher) match(r *request) bool { return r.inTrans }

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

func (m headerMatcher) match(r *request) bool {
	if r.header == nil {
		return false
	}
	v, ok := r.header(m.name)
	return ok && glob(m.value, v)
}

func (m headerMatcher) String() string {
	return "Header(" + strconv.Quote(m.name) + ", " + strconv.Quote(m.value) + ")"
}

// matches reports whether every matcher of b matches r.
func (b Behavior) matches(r *request) bool {
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
