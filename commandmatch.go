package faults

import "strconv"

type commandMatcher []string

// Command matches Redis and memcached commands whose name is one of
// names, compared without regard to case: Command("GET", "MGET"),
// Command("set", "cas"). A subcommand is not part of the name (Redis's
// CLIENT, CONFIG); match it with [Key], which sees the first argument.
func Command(names ...string) Matcher { return commandMatcher(names) }

// commander is a request that is a named command, for [Command].
type commander interface {
	// commandName is the command's name, such as "GET" (Redis's, in
	// capitals) or "get" (memcached's, as sent).
	commandName() string
}

func (commandMatcher) fits(r request) bool { _, ok := r.(commander); return ok }

func (m commandMatcher) match(r request) bool {
	cr, ok := r.(commander)
	if !ok {
		return false
	}
	name := cr.commandName()
	for _, x := range m {
		if len(x) == len(name) && equalFoldASCII(x, name) {
			return true
		}
	}
	return false
}

func (m commandMatcher) String() string { return "Command(" + quoteAll(m) + ")" }

type keyMatcher string

// Key matches commands by key, with the glob pattern, as in [Path]: '*'
// stands for any run of characters and '?' for any one. On Redis it
// matches commands whose first argument (the key, for every command that
// takes one first) matches: Key("session:*") matches GET session:42 and
// MGET session:1 other:2, not a command without arguments. On memcached it
// matches commands any of whose keys matches: get other:2 session:1 too.
// [Miss] sees each key of a multi-key read alone.
func Key(pattern string) Matcher { return keyMatcher(pattern) }

// firstKeyer is a request whose first argument may be a key, for [Key].
type firstKeyer interface {
	// firstKey is the request's first argument, and whether it has one
	// (an empty argument is one).
	firstKey() (string, bool)
}

// keyLister is a request that names its keys, each of which [Key]
// matches.
type keyLister interface {
	// keyList is the request's keys, none if it has none.
	keyList() []string
}

func (keyMatcher) fits(r request) bool {
	_, first := r.(firstKeyer)
	_, list := r.(keyLister)
	return first || list
}

func (m keyMatcher) match(r request) bool {
	if kl, ok := r.(keyLister); ok {
		for _, k := range kl.keyList() {
			if glob(string(m), k) {
				return true
			}
		}
		return false
	}
	kr, ok := r.(firstKeyer)
	if !ok {
		return false
	}
	key, ok := kr.firstKey()
	return ok && glob(string(m), key)
}

func (m keyMatcher) String() string { return "Key(" + strconv.Quote(string(m)) + ")" }

// equalFoldASCII reports whether a and b, of equal length, are equal
// without regard to ASCII case.
func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
