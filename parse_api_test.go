package faults

import (
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestParseCoversAPI: every exported constructor of a Behavior, a Matcher
// or a reply, every modifier and reply method, and every catalog entry of
// the package, as its source declares them, is in ParseBehavior's tables
// and printed by one of parseCases (so the round trip tests it). Adding
// one to the package without adding it to both fails here.
func TestParseCoversAPI(t *testing.T) {
	api := readAPI(t)
	for _, want := range []string{"Latency", "Upstream", "Query", "HTTPStatus", "MySQLDeadlock", "RedisLoading", "PostgresDeadlock"} {
		if !slices.Contains(api.names(), want) {
			t.Fatalf("the package's source declares no %s: the reader of its API is broken (it found %v)", want, api.names())
		}
	}

	printed := map[string]bool{}
	for _, b := range parseCases() {
		l := lexer{src: b.String()}
		for {
			tok, err := l.next()
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if tok.kind == endToken {
				break
			}
			printed[tok.text] = true
		}
	}
	for _, name := range api.names() {
		if !printed[name] {
			t.Errorf("no behavior of parseCases prints %s: add one that does", name)
		}
	}

	missing := func(table string, names []string, has func(string) bool) {
		for _, n := range names {
			if !has(n) {
				t.Errorf("%s lacks %s", table, n)
			}
		}
	}
	missing("behaviorFuncs", api.behaviors, func(n string) bool { _, ok := behaviorFuncs[n]; return ok })
	missing("behaviorMethods", api.modifiers, func(n string) bool { _, ok := behaviorMethods[n]; return ok })
	missing("matcherFuncs", api.matchers, func(n string) bool { _, ok := matcherFuncs[n]; return ok })
	missing("replyFuncs", api.replies, func(n string) bool { _, ok := replyFuncs[n]; return ok })
	missing("replyCatalog", api.catalog, func(n string) bool { _, ok := replyCatalog()[n]; return ok })
	for typ, names := range api.replyMethods {
		missing("replyMethods["+typ+"]", names, func(n string) bool { _, ok := replyMethods[typ][n]; return ok })
	}
	if len(replyCatalog()) != len(api.catalog) {
		t.Errorf("replyCatalog has %d names, the package declares %d: %v", len(replyCatalog()), len(api.catalog), api.catalog)
	}
}

// packageAPI is what the package's source declares that behavior
// expressions name.
type packageAPI struct {
	behaviors    []string            // functions returning a Behavior: Latency, ...
	modifiers    []string            // methods of Behavior returning a Behavior: Times, ...
	matchers     []string            // functions returning a Matcher
	replies      []string            // functions returning a reply: HTTPStatus, ...
	replyMethods map[string][]string // by reply type, its methods returning its type: Header, ...
	catalog      []string            // variables holding a reply: MySQLDeadlock, ...
}

func (a packageAPI) names() []string {
	all := slices.Concat(a.behaviors, a.modifiers, a.matchers, a.replies, a.catalog)
	for _, ms := range a.replyMethods {
		all = append(all, ms...)
	}
	return all
}

// readAPI reads the exported API from the package's source files. A reply
// type is a type with every method of the Reply interface.
func readAPI(t *testing.T) packageAPI {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	var funcs []*ast.FuncDecl
	var vars []*ast.ValueSpec
	var replyInterface []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				funcs = append(funcs, d)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						if d.Tok == gotoken.VAR {
							vars = append(vars, s)
						}
					case *ast.TypeSpec:
						if it, ok := s.Type.(*ast.InterfaceType); ok && s.Name.Name == "Reply" {
							for _, m := range it.Methods.List {
								for _, n := range m.Names {
									replyInterface = append(replyInterface, n.Name)
								}
							}
						}
					}
				}
			}
		}
	}

	results := map[string]string{}   // function name: its result's type, if one named type
	methods := map[string][]string{} // type name: its methods
	for _, f := range funcs {
		if f.Recv == nil {
			results[f.Name.Name] = resultType(f)
			continue
		}
		recv := typeName(f.Recv.List[0].Type)
		methods[recv] = append(methods[recv], f.Name.Name)
	}
	isReply := func(typ string) bool {
		if typ == "Reply" {
			return true
		}
		for _, m := range replyInterface {
			if !slices.Contains(methods[typ], m) {
				return false
			}
		}
		return len(replyInterface) > 0 && len(methods[typ]) > 0
	}

	api := packageAPI{replyMethods: map[string][]string{}}
	for _, f := range funcs {
		name, res := f.Name.Name, resultType(f)
		if !ast.IsExported(name) {
			continue
		}
		if f.Recv != nil {
			switch recv := typeName(f.Recv.List[0].Type); {
			case recv == "Behavior" && res == "Behavior":
				api.modifiers = append(api.modifiers, name)
			case isReply(recv) && res == recv:
				api.replyMethods[recv] = append(api.replyMethods[recv], name)
			}
			continue
		}
		switch {
		case res == "Behavior":
			api.behaviors = append(api.behaviors, name)
		case res == "Matcher":
			api.matchers = append(api.matchers, name)
		case isReply(res):
			api.replies = append(api.replies, name)
		}
	}
	for _, v := range vars {
		for i, n := range v.Names {
			if !ast.IsExported(n.Name) || i >= len(v.Values) {
				continue
			}
			var typ string
			switch x := v.Values[i].(type) {
			case *ast.CallExpr:
				if fun, ok := x.Fun.(*ast.Ident); ok {
					typ = results[fun.Name]
				}
			case *ast.CompositeLit:
				typ = typeName(x.Type)
			}
			if isReply(typ) {
				api.catalog = append(api.catalog, n.Name)
			}
		}
	}
	return api
}

// resultType is the name of f's result type, if it has one result of a
// named type of the package.
func resultType(f *ast.FuncDecl) string {
	if r := f.Type.Results; r != nil && len(r.List) == 1 && len(r.List[0].Names) <= 1 {
		return typeName(r.List[0].Type)
	}
	return ""
}

// typeName is the name of the type e denotes, T or *T, or "".
func typeName(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}
