package main

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gofaults/faults"
)

// protocols are the protocols a proxy may speak, by the name the API and
// the config use: the library's, each by its Name. A protocol added to the
// library is one line here.
var protocols = []faults.Protocol{
	faults.TCP(),
	faults.HTTP(),
	faults.MySQL(),
	faults.Redis(),
	faults.Postgres(),
	faults.Memcached(),
}

// protocolNamed returns the protocol called name ("" is tcp), or a 400
// listing the known names.
func protocolNamed(name string) (faults.Protocol, error) {
	if name == "" {
		return faults.TCP(), nil
	}
	i := slices.IndexFunc(protocols, func(p faults.Protocol) bool { return p.Name() == name })
	if i < 0 {
		names := make([]string, len(protocols))
		for j, p := range protocols {
			names[j] = p.Name()
		}
		return nil, errorf(http.StatusBadRequest, "unknown protocol %q: want one of %s", name, strings.Join(names, ", "))
	}
	return protocols[i], nil
}
