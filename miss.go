package faults

import "strconv"

type miss struct{}

func (miss) family() family   { return familyRequest }
func (miss) describe() string { return "Miss()" }
func isMissRule(r *rule) bool { _, ok := r.b.act.(miss); return ok }

// isCommandRule reports whether r acts on a command as a whole: not a
// Miss, which acts on reads key by key, nor a reply due at another moment
// than a command's (a greeting).
func isCommandRule(r *rule) bool { return !isMissRule(r) && r.moment() == momentRequest }

// isNoReplyRule reports whether r acts on a command that is owed no reply
// (memcached's noreply): as a whole, and not on its reply.
func isNoReplyRule(r *rule) bool { return isCommandRule(r) && phaseOf(r.b.act) != phaseResponse }

// Miss answers a cache read as a miss, without asking the server: the
// client reads that the key does not exist, as after an eviction, a
// restart of the cache or a deploy that emptied it — the moment a
// cache-aside reader sends its load to the database instead.
//
// It acts on the reads of [Memcached] and [Redis] proxies, and only on
// them:
//
//   - memcached: get, gets, gat and gats (END, or the missed keys left out
//     of the VALUEs), and mg (EN, with its O and k flags echoed; nothing
//     for a quiet mg, as memcached sends nothing for a quiet miss);
//   - Redis: GET, GETEX and GETDEL (a nil), MGET (a nil in place of each
//     missed key), HGET (a nil), HMGET (a nil for each field) and HGETALL
//     (an empty hash), in the RESP version the connection speaks.
//
// Every other command passes untouched and is not a chance to fire: with
// [Behavior.When] and [Command] naming a command that is not a read, Set
// refuses Miss with an [*UnsupportedError].
//
// Each key of a read of several keys (a memcached get, a Redis MGET) is a
// chance of its own, and the key alone is matched by [Key]: with
// When(Key("session:*")), "get session:1 user:2" misses session:1 only,
// and [Behavior.Probability], [Behavior.Times] and [Behavior.After] count
// keys. The server is asked for the keys not missed only, and the client
// reads one answer with every key in its place. A command whose keys are
// all missed never reaches the server.
func Miss() Behavior { return newBehavior(miss{}) }

// cacheProtocol is a protocol whose reads [Miss] answers.
type cacheProtocol interface {
	// isRead reports whether name, compared without regard to case, is
	// a command Miss acts on.
	isRead(name string) bool
	// readNames lists those commands, for errors.
	readNames() string
}

// checkMiss refuses b, a Miss, on a protocol without cache reads, or with
// a Command matcher naming a command that is not a read: a fault that
// could never fire.
func checkMiss(b Behavior, proto Protocol) error {
	cp, ok := proto.(cacheProtocol)
	if !ok {
		return &UnsupportedError{Behavior: b.String(), Protocol: proto.Name(),
			Reason: "Miss answers cache reads, on Redis and memcached proxies; " + proto.Name() + " has none"}
	}
	for _, m := range b.when {
		cm, ok := m.(commandMatcher)
		if !ok {
			continue
		}
		for _, name := range cm {
			if !cp.isRead(name) {
				return &UnsupportedError{Behavior: b.String(), Protocol: proto.Name(),
					Reason: strconv.Quote(name) + " is not a read; Miss acts on " + cp.readNames() + " only"}
			}
		}
	}
	return nil
}

// decideRead decides a read of n keys (n >= 1) against the plan, counting
// one request: the rules that answer the request as a whole (Error, Abort)
// first; then the [Miss] rules, on the read as a whole if it has one key,
// else on each key alone (keyReq(i) is the read of key i alone), each key
// a chance of its own; last, unless every key is missed, the rules that
// act on the request and its reply. The effects say miss if every key is
// missed, and which keys (missed) if some are.
func (c *conn) decideRead(plan *connPlan, whole request, n int, keyReq func(i int) request) effects {
	e := c.decide(plan, whole, isAnswerRule)
	if e.settled() {
		return e
	}
	if n <= 1 {
		c.decideInto(&e, plan, whole, isMissRule)
	} else {
		missed, count := make([]bool, n), 0
		for i := range n {
			k := noEffects()
			c.decideInto(&k, plan, keyReq(i), isMissRule)
			if k.miss {
				missed[i] = true
				count++
			}
		}
		switch count {
		case n:
			e.miss = true
		case 0:
		default:
			e.missed = missed
		}
	}
	if !e.settled() {
		c.decideInto(&e, plan, whole, isAfterAnswerRule)
	}
	return e
}

// isAnswerRule reports whether r decides what becomes of a request as a
// whole (Error, Abort), Miss aside.
func isAnswerRule(r *rule) bool { return phaseOf(r.b.act) == phaseAnswer && isCommandRule(r) }

// isAfterAnswerRule reports whether r acts on a request passed on, or on
// its reply.
func isAfterAnswerRule(r *rule) bool { return phaseOf(r.b.act) != phaseAnswer }
