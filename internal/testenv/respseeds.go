package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RESPFuzzSeeds returns the seeds of the fuzz targets that read RESP: the
// captured replies in dir (the RESP codec's testdata, *.resp) of at most
// 4 KiB, in the order of their names, then a few malformed or unusual
// inputs (a pipeline mixing an inline command, a negative length other
// than -1, a bulk longer than said, bare LFs, attributes and pushes).
func RESPFuzzSeeds(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.resp"))
	if err != nil {
		tb.Fatal(err)
	}
	var seeds [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		if len(b) <= 4096 {
			seeds = append(seeds, b)
		}
	}
	for _, s := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*0\r\n",
		"$-2\r\n", "*-1\r\n", "$3\r\nabcX\r\n", "+OK\n", "|1\r\n+a\r\n+b\r\n:1\r\n",
		"*1\n$4\r\nPING\r\n", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n+OK\r\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}
