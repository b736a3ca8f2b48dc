package faults

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAddKeepsOtherWindows: a named behavior's For window runs from when it
// was installed, whatever is added or removed beside it later.
func TestAddKeepsOtherWindows(t *testing.T) {
	p := newInternalEchoProxy(t)
	require.NoError(t, p.Add("window", Latency(time.Millisecond).For(time.Hour)))
	until := p.ruleNamed(t, "window").until
	time.Sleep(5 * time.Millisecond) // a later Add would push a restarted window on
	require.NoError(t, p.Add("other", Latency(time.Millisecond)))
	require.NoError(t, p.Remove("other"))
	require.Equal(t, until, p.ruleNamed(t, "window").until)

	require.NoError(t, p.Set(Latency(time.Millisecond).For(time.Hour)))
	require.NotEqual(t, until, p.rules[0].until, "Set starts windows afresh")
}

// TestReplacedRulesAreForgotten: open connections drop their decisions about
// rules that are gone, so a long-lived connection under a stream of
// changes (a daemon driven by a test suite) holds only the current ones.
func TestReplacedRulesAreForgotten(t *testing.T) {
	p := newInternalEchoProxy(t)
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("x"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err)

	for i := range 200 {
		require.NoError(t, p.Add("churn", CloseAfterBytes(int64(1<<30+i))))
		require.NoError(t, p.Add("steady", Latency(time.Millisecond)))
		together := fmt.Sprintf("toxic:%d", i)
		require.NoError(t, p.Add("parts", CloseAfterBytes(1<<40).Together(together)))
	}
	require.NoError(t, p.Set(Latency(time.Millisecond), Stall().Probability(0).Together("kept")))
	require.NoError(t, p.Set(Latency(2*time.Millisecond), Stall().Probability(0).Together("kept")))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		require.Len(t, c.decided, len(p.rules))
		require.Len(t, c.leaders, 1, "the Together names of rules that are gone are forgotten")
	}
}

func (p *Proxy) ruleNamed(t *testing.T, name string) rule {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.namedLocked(name)
	require.GreaterOrEqual(t, i, 0, "no rule named %q", name)
	return *p.rules[i]
}

// newInternalEchoProxy starts an echo server and a proxy in front of it,
// both stopped at cleanup.
func newInternalEchoProxy(t *testing.T) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
	p, err := NewProxy(ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() {
		p.Close()
		ln.Close()
		wg.Wait()
	})
	return p
}
