package resp

import "testing"

func TestRedactAuth(t *testing.T) {
	cases := []struct{ in, want string }{
		{"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n", "*2\r\n$4\r\nAUTH\r\n$8\r\nREDACTED\r\n"},
		{"*3\r\n$4\r\nauth\r\n$5\r\nalice\r\n$22\r\na much longer password\r\n", "*3\r\n$4\r\nauth\r\n$5\r\nalice\r\n$8\r\nREDACTED\r\n"},
		{"*6\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$2\r\npw\r\n$7\r\nSETNAME\r\n", "*6\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$8\r\nREDACTED\r\n$7\r\nSETNAME\r\n"},
		{"AUTH hunter2\r\n", "AUTH REDACTED\r\n"},
		{"*2\r\n$3\r\nGET\r\n$4\r\nAUTH\r\n", "*2\r\n$3\r\nGET\r\n$4\r\nAUTH\r\n"},
		{"*1\r\n$5\r\nHELLO\r\n", "*1\r\n$5\r\nHELLO\r\n"},
		{"*2\r\n$4\r\nAUTH\r\n$6\r\nsec", "*2\r\n$4\r\nAUTH\r\n$6\r\nsec"}, // cut short: left alone
		{"", ""},
	}
	for _, c := range cases {
		if got := string(RedactAuth([]byte(c.in))); got != c.want {
			t.Errorf("RedactAuth(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzRedactAuth(f *testing.F) {
	f.Add([]byte("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"))
	f.Add([]byte("AUTH a b\r\n"))
	f.Add([]byte("*6\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$2\r\npw\r\n$7\r\nSETNAME\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		RedactAuth(b)
	})
}
