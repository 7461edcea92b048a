package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/bmc-agent/bmc-agent/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// docs/grafana-bmc-telemetry.json is valid JSON, and every bmc_* metric its
// queries use is one the telemetry collector serves (a renamed metric breaks
// this test, not an operator's dashboard); each of those metrics is also in
// docs/operations.md.
func TestGrafanaDashboardMetrics(t *testing.T) {
	raw, err := os.ReadFile("../docs/grafana-bmc-telemetry.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	served := map[string]bool{}
	ch := make(chan *prometheus.Desc, 64)
	go func() { metrics.NewTelemetry(&entries{}).Describe(ch); close(ch) }()
	name := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		served[name.FindStringSubmatch(d.String())[1]] = true
	}
	ops, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bbmc_[a-z_]+`)
	count := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, m := range used.FindAllString(q.Expr, -1) {
				count++
				if !served[m] {
					t.Errorf("panel %q uses %s, which the agent does not serve", p.Title, m)
				}
			}
		}
	}
	for m := range served {
		if !strings.Contains(string(ops), "`"+m+"`") {
			t.Errorf("%s is not in docs/operations.md", m)
		}
	}
	if count == 0 {
		t.Fatal("the dashboard uses no bmc_* metric")
	}
}
