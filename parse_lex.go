package faults

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// tokenKind tells the tokens of a behavior expression apart.
type tokenKind uint8

const (
	endToken    tokenKind = iota // the end of the expression
	nameToken                    // Latency, MySQLDeadlock, nil, NaN
	numberToken                  // 100ms, 0.5, -1, 1e-05: a number or a duration, by where it stands
	stringToken                  // a Go string literal, "double-quoted" or `raw`
	punctToken                   // one of ( ) , . { }
)

// A token is one word of a behavior expression.
type token struct {
	kind tokenKind
	pos  int    // byte offset in the expression
	text string // as written
	str  string // a string token's value, unquoted
}

// String names t in an error message.
func (t token) String() string {
	switch t.kind {
	case endToken:
		return "the end of the expression"
	case stringToken:
		return "string " + t.text
	}
	return strconv.Quote(t.text)
}

// is reports whether t is the punctuation mark p.
func (t token) is(p string) bool { return t.kind == punctToken && t.text == p }

// A lexer cuts a behavior expression into tokens, skipping white space.
type lexer struct {
	src string
	pos int // where the next token starts, or white space before it
}

// next returns the next token and moves past it; at the end it returns
// endToken, again and again. A byte that starts no token is a *ParseError.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && strings.IndexByte(" \t\r\n", l.src[l.pos]) >= 0 {
		l.pos++
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: endToken, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case isLetter(c):
		l.pos++
		for l.pos < len(l.src) && (isLetter(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		return token{kind: nameToken, pos: start, text: l.src[start:l.pos]}, nil
	case isDigit(c) || (c == '-' || c == '+' || c == '.') && l.startsNumber(start+1):
		l.pos = l.numberEnd(start + 1)
		return token{kind: numberToken, pos: start, text: l.src[start:l.pos]}, nil
	case c == '"' || c == '`':
		return l.stringLiteral(start)
	case strings.IndexByte("(),.{}", c) >= 0:
		l.pos++
		return token{kind: punctToken, pos: start, text: l.src[start:l.pos]}, nil
	}
	r, _ := utf8.DecodeRuneInString(l.src[start:])
	if r == utf8.RuneError {
		return token{}, l.fail(start, fmt.Sprintf("unexpected byte %#x", c))
	}
	return token{}, l.fail(start, fmt.Sprintf("unexpected %q", r))
}

// startsNumber reports whether a sign or a dot at i-1 is followed by what
// makes it part of a number: a digit, or after a sign a letter (-Inf) or a
// dot (-.5s).
func (l *lexer) startsNumber(i int) bool {
	if i >= len(l.src) {
		return false
	}
	c := l.src[i]
	if l.src[i-1] == '.' {
		return isDigit(c)
	}
	return isDigit(c) || isLetter(c) || c == '.'
}

// numberEnd returns where the number or duration going on at i ends:
// letters, digits and decimal points ("1h30m", "1.5µs", "1e-05"), the
// micro signs that durations use, and a sign right after an exponent's e.
func (l *lexer) numberEnd(i int) int {
	for i < len(l.src) {
		c := l.src[i]
		switch {
		case isLetter(c) || isDigit(c):
			i++
		case c == '.' && i+1 < len(l.src) && isDigit(l.src[i+1]):
			i++
		case (c == '-' || c == '+') && (l.src[i-1] == 'e' || l.src[i-1] == 'E'):
			i++
		case strings.HasPrefix(l.src[i:], "µ"), strings.HasPrefix(l.src[i:], "μ"):
			i += 2 // both micro signs are two bytes long
		default:
			return i
		}
	}
	return i
}

// stringLiteral reads the Go string literal starting at start.
func (l *lexer) stringLiteral(start int) (token, error) {
	quote := l.src[start]
	i := start + 1
	for ; i < len(l.src) && l.src[i] != quote; i++ {
		switch {
		case quote == '"' && l.src[i] == '\n':
			return token{}, l.fail(start, "newline in string")
		case quote == '"' && l.src[i] == '\\':
			i++ // the escaped byte cannot end the string
		}
	}
	if i >= len(l.src) {
		return token{}, l.fail(start, "string not terminated")
	}
	l.pos = i + 1
	text := l.src[start:l.pos]
	s, err := strconv.Unquote(text)
	if err != nil {
		return token{}, l.fail(start, "bad string "+text)
	}
	return token{kind: stringToken, pos: start, text: text, str: s}, nil
}

func (l *lexer) fail(pos int, msg string) error {
	return &ParseError{Expr: l.src, Pos: pos, Msg: msg}
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
