package faults

import (
	"strings"
	"testing"

	"github.com/gofaults/faults/internal/wire/resp"
)

func TestEndsFraming(t *testing.T) {
	names := []string{"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "SYNC", "PSYNC"}
	mixed := func(s string) string {
		b := []byte(strings.ToLower(s))
		for i := 0; i < len(b); i += 2 {
			b[i] -= 'a' - 'A'
		}
		return string(b)
	}
	for _, n := range names {
		for _, v := range []string{n, strings.ToLower(n), mixed(n)} {
			if !endsFraming(resp.Command{Name: []byte(v)}) {
				t.Errorf("endsFraming(%s) = false", v)
			}
			if !endsFraming(resp.Command{Name: []byte(v), Key: []byte("chan")}) {
				t.Errorf("endsFraming(%s chan) = false", v)
			}
		}
	}
	for _, sub := range []string{"REPLY", "reply", "RePlY"} {
		for _, client := range []string{"CLIENT", "client", "cLiEnT"} {
			if !endsFraming(resp.Command{Name: []byte(client), Key: []byte(sub)}) {
				t.Errorf("endsFraming(%s %s) = false", client, sub)
			}
		}
	}
	for _, c := range []resp.Command{
		{Name: []byte("CLIENT"), Key: []byte("LIST")},
		{Name: []byte("CLIENT")},
		{Name: []byte("CLIENT"), Key: []byte("REPLYX")},
		{Name: []byte("SUBSCRIBER")},
		{Name: []byte("SUBSCRIB")},
		{Name: []byte("XSUBSCRIBE")},
		{Name: []byte("PUNSUBSCRIBEX")},
		{Name: []byte("SYNCX")},
		{Name: []byte("ASYNC")},
		{Name: []byte("PUBLISH"), Key: []byte("SUBSCRIBE")},
		{Name: []byte("GET"), Key: []byte("MONITOR")},
		{Name: []byte("REPLY")},
		{Name: []byte("")},
		{Name: []byte(strings.Repeat("S", 100))},
		{None: true},
	} {
		if endsFraming(c) {
			t.Errorf("endsFraming(%q %q) = true", c.Name, c.Key)
		}
	}
}
