package faults

import "strconv"

type commandMatcher []string

// Command matches Redis commands whose name is one of names, compared
// without regard to case: Command("GET", "MGET"). A subcommand is not part
// of the name (CLIENT, CONFIG); match it with [Key], which sees the first
// argument.
func Command(names ...string) Matcher { return commandMatcher(names) }

// commander is a request that is a named command, for [Command].
type commander interface {
	// commandName is the command's name in capitals, such as "GET".
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

// Key matches Redis commands whose first argument (the key, for every
// command that takes one first) matches the glob pattern, as in [Path]:
// '*' stands for any run of characters and '?' for any one. Key("session:*")
// matches GET session:42 and MGET session:1 other:2, not a command without
// arguments.
func Key(pattern string) Matcher { return keyMatcher(pattern) }

// firstKeyer is a request whose first argument may be a key, for [Key].
type firstKeyer interface {
	// firstKey is the request's first argument, and whether it has one
	// (an empty argument is one).
	firstKey() (string, bool)
}

func (keyMatcher) fits(r request) bool { _, ok := r.(firstKeyer); return ok }

func (m keyMatcher) match(r request) bool {
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
