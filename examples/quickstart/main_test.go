package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestQuickstart runs the quickstart and checks that each fault showed the
// client what it should.
func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"no fault ":                       "200 OK",
		"Hang()":                          "timeout",
		"Refuse()":                        "connection refused",
		"Blackout() ":                     "EOF",
		"ResetAfterBytes":                 "connection reset",
		"CloseAfterBytes":                 "unexpected EOF",
		"Stall()":                         "timeout",
		"no fault again":                  "200 OK",
		"Restart(700ms), right":           "connection refused",
		"Restart(700ms), after":           "200 OK",
		"Bandwidth(256 KiB/s)":            "65536 bytes",
		"Latency(150ms) both ways":        "200 OK",
		"HTTP-aware proxy: GET /bytes/10": "200 OK",
		"HTTP-aware proxy: 4 requests on 1 connection(s), 3 faults fired": "",
	}
	lines := strings.Split(out.String(), "\n")
	var hello []string
	for _, l := range lines {
		if strings.HasPrefix(l, "HTTP-aware proxy: GET /hello") {
			hello = append(hello, strings.Fields(l)[4])
		}
	}
	if strings.Join(hello, " ") != "503 503 200" {
		t.Errorf("GET /hello through the HTTP-aware proxy: %v, want 503 503 200", hello)
	}
	for prefix, result := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				found = true
				if !strings.Contains(l, result) {
					t.Errorf("%q: got %q, want %q in it", prefix, l, result)
				}
			}
		}
		if !found {
			t.Errorf("no line for %q in:\n%s", prefix, out.String())
		}
	}
}
