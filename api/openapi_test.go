package api

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/openapi.yaml describes every path the API serves, and no other.
func TestOpenAPIDescribesEveryPath(t *testing.T) {
	doc, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wild := regexp.MustCompile(`\{[^}]*\}`)
	norm := func(p string) string {
		return wild.ReplaceAllString(strings.TrimSuffix(strings.TrimSuffix(p, "{$}"), "/"), "{}")
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  (/[^:]*):\n(    x-served-by: serve\n)?`).FindAllStringSubmatch(string(doc), -1) {
		if m[2] == "" { // paths the program serves beside the API are not the API's
			documented[norm(m[1])] = true
		}
	}
	a := fuzzAPI(t)
	a.routes()
	served := map[string]bool{"": true} // "/" is served by the root handler
	for _, p := range a.patterns {
		served[norm(p)] = true
		if !documented[norm(p)] {
			t.Errorf("%s is served but not in docs/openapi.yaml", p)
		}
	}
	for p := range documented {
		if !served[p] {
			t.Errorf("docs/openapi.yaml describes %s, which is not served", p)
		}
	}
}
