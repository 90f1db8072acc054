package broker_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEverySentinelIsDocumented parses errors.go: a sentinel whose comment
// does not say when it is returned is one callers cannot act on.
func TestEverySentinelIsDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for _, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Err") {
					continue
				}
				n++
				if vs.Doc == nil || !strings.Contains(vs.Doc.Text(), name.Name) {
					t.Errorf("%s has no doc comment naming it", name.Name)
				}
			}
		}
	}
	if n < 5 {
		t.Fatalf("found only %d sentinels in errors.go", n)
	}
}

// TestEveryBackendRunsTheConformanceSuite checks that each backend package
// that exists has a conformance_test.go calling brokertest: DESIGN.md makes
// the suite the definition of "works".
func TestEveryBackendRunsTheConformanceSuite(t *testing.T) {
	for _, dir := range []string{"inmem", "kafka", "jetstream", "pubsub", "pulsar", "servicebus"} {
		goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(goFiles) == 0 {
			continue // not written yet
		}
		src, err := os.ReadFile(filepath.Join(dir, "conformance_test.go"))
		if err != nil {
			t.Errorf("backend %s has no conformance_test.go", dir)
			continue
		}
		if !strings.Contains(string(src), "brokertest.Run") {
			t.Errorf("%s/conformance_test.go does not run the brokertest suite", dir)
		}
	}
}
