package faults_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gofaults/faults"
)

// A matcher the proxy's protocol never sets could never fire: Set refuses
// it, naming the matchers the protocol has, instead of a test passing
// while proving nothing.
func TestMatchersTheProtocolLacksAreRefused(t *testing.T) {
	backend := newBackend(t, echo)
	proxies := map[string]*faults.Proxy{}
	for _, proto := range []faults.Protocol{faults.HTTP(), faults.MySQL(), faults.Redis(), faults.Memcached()} {
		proxies[proto.Name()] = newProxy(t, backend.addr(), faults.WithProtocol(proto))
	}
	for _, c := range []struct {
		proto string
		b     faults.Behavior
		names string // the matchers the refusal must name; "" if accepted
	}{
		{"mysql", faults.Error(faults.MySQLDeadlock).When(faults.Command("GET")), "Query and InTransaction"},
		{"mysql", faults.DelayResponse(1).When(faults.Path("/x")), "Query and InTransaction"},
		{"redis", faults.Error(faults.RedisLoading).When(faults.Path("/api/*")), "Command and Key"},
		{"redis", faults.Abort().When(faults.Query("^SELECT")), "Command and Key"},
		{"http", faults.Error(faults.HTTPStatus(503)).When(faults.Query("^SELECT")), "Method, Path and Header"},
		{"http", faults.DropResponse().When(faults.Method("GET"), faults.Key("k")), "Method, Path and Header"},
		{"http", faults.Error(faults.HTTPStatus(503)).When(faults.Method("GET"), faults.Path("/x"), faults.Header("A", "b")), ""},
		{"mysql", faults.Error(faults.MySQLDeadlock).When(faults.Query("^COMMIT"), faults.InTransaction()), ""},
		{"mysql", faults.Error(faults.MySQLTooManyConnections).When(faults.Query("^SELECT")), "handshake"},
		{"redis", faults.Error(faults.RedisLoading).When(faults.Command("GET"), faults.Key("k")), ""},
		{"memcached", faults.Error(faults.MemcachedError).When(faults.Method("GET")), "Command and Key"},
		{"memcached", faults.Miss().When(faults.InTransaction()), "Command and Key"},
		{"memcached", faults.Miss().When(faults.Command("gets"), faults.Key("k*")), ""},
	} {
		err := proxies[c.proto].Set(c.b)
		switch {
		case c.names == "" && err != nil:
			t.Errorf("%v on %s: %v, want it accepted", c.b, c.proto, err)
		case c.names == "":
		case !errors.Is(err, faults.ErrUnsupported):
			t.Errorf("%v on %s: %v, want ErrUnsupported", c.b, c.proto, err)
		case !strings.Contains(err.Error(), c.names):
			t.Errorf("%v on %s: %q does not name the protocol's matchers %q", c.b, c.proto, err, c.names)
		}
	}
}
