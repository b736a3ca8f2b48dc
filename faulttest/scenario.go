package faulttest

import (
	"testing"

	"github.com/gofaults/faults"
)

// A Scenario is one way the world misbehaves and what the code under test
// must do about it.
type Scenario struct {
	Name      string            // the subtest's name
	Behaviors []faults.Behavior // installed for the scenario; none means pass-through
	Test      func(t *testing.T)
}

// Run runs each scenario as a subtest of t, in order, with its behaviors
// installed on p; after each, p's behaviors are restored to what they were
// before Run. The scenarios share p and so run one at a time.
func Run(t *testing.T, p *faults.Proxy, scenarios []Scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Helper()
			Set(t, p, sc.Behaviors...)
			sc.Test(t)
		})
	}
}
