package api

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/openapi.yaml describes every path the API serves, with each of its
// methods, and no other path; docs/api.md names every path a client uses.
func TestOpenAPIDescribesEveryPath(t *testing.T) {
	doc, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wild := regexp.MustCompile(`\{[^}]*\}`)
	norm := func(p string) string {
		return wild.ReplaceAllString(strings.TrimSuffix(strings.TrimSuffix(p, "{$}"), "/"), "{}")
	}
	// documented maps a path to the text of its block (its methods).
	documented := map[string]string{}
	blocks := regexp.MustCompile(`(?m)^  (/[^:]*):\n`).FindAllStringSubmatchIndex(string(doc), -1)
	for i, m := range blocks {
		end := len(doc)
		if i+1 < len(blocks) {
			end = blocks[i+1][0]
		}
		body := string(doc[m[1]:end])
		if strings.HasPrefix(body, "    x-served-by: serve\n") {
			continue // paths the program serves beside the API are not the API's
		}
		documented[norm(string(doc[m[2]:m[3]]))] = body
	}
	guide, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	a := fuzzAPI(t)
	a.routes()
	served := map[string]bool{"": true} // "/" is served by the root handler
	for _, p := range a.patterns {
		served[norm(p.pattern)] = true
		body, ok := documented[norm(p.pattern)]
		if !ok {
			t.Errorf("%s is served but not in docs/openapi.yaml", p.pattern)
			continue
		}
		for _, m := range p.methods {
			if !regexp.MustCompile(`(?m)^    ` + strings.ToLower(m) + `:`).MatchString(body) {
				t.Errorf("%s %s is served but docs/openapi.yaml does not describe it", m, p.pattern)
			}
		}
		if !strings.Contains(norm(string(guide)), norm(p.pattern)) {
			t.Errorf("%s is served but docs/api.md does not name it", p.pattern)
		}
	}
	for p := range documented {
		if !served[p] {
			t.Errorf("docs/openapi.yaml describes %s, which is not served", p)
		}
	}
}
