package faults_test

import (
	"fmt"

	"github.com/gofaults/faults"
)

// Behaviors written as events print them, as a configuration file or an
// API holds them, read back and installed. Whether the proxy's protocol
// can carry a behavior out is for Set to say.
func ExampleParseBehavior() {
	p, err := faults.NewProxy("127.0.0.1:3306", faults.WithProtocol(faults.MySQL()))
	if err != nil {
		panic(err)
	}
	defer p.Close()

	for _, expr := range []string{
		`Error(MySQLDeadlock).When(Query("^UPDATE stock")).Times(2)`,
		"Latency(100ms).Times(3).Downstream()", // prints with its modifiers in their usual order
		"Latency(10x)",
		"Refuse().Times(1)",
		"Error(HTTPStatus(503))", // well formed, but not for a MySQL proxy
	} {
		b, err := faults.ParseBehavior(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		if err := p.Set(b); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("installed", p.Behaviors())
	}
	// Output:
	// installed [Error(MySQLDeadlock).When(Query("^UPDATE stock")).Times(2)]
	// installed [Latency(100ms).Downstream().Times(3)]
	// faults: parse "Latency(10x)": at 8: bad duration "10x"
	// faults: parse "Refuse().Times(1)": at 9: Refuse().Times(1): acts on the listener, once: Probability, Times and After do not apply
	// faults: Error(HTTPStatus(503)) on a mysql proxy: the reply is not a MySQL error; use MySQLError or the MySQL* catalog
}
