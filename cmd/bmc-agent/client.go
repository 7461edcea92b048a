package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/httpbasic"
	"github.com/gophercloud/gophercloud/v2/openstack/baremetal/noauth"
	"github.com/spf13/cobra"
)

// clientConfig is how the client subcommands reach an agent. They speak the
// Ironic bare metal API through gophercloud, the Go client other tools use,
// so the CLI works against Ironic itself too.
type clientConfig struct {
	url          string
	username     string
	password     string
	cacert       string
	insecure     bool
	microversion string
	output       string
	timeout      time.Duration
}

func (c *clientConfig) flags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.url, "url", "http://127.0.0.1:6385", "the agent's API endpoint")
	f.StringVar(&c.username, "username", "", "user for HTTP Basic authentication")
	f.StringVar(&c.password, "password", "", "password for HTTP Basic authentication (prefer BMC_AGENT_PASSWORD)")
	f.StringVar(&c.cacert, "cacert", "", "CA bundle to verify the agent's TLS certificate")
	f.BoolVar(&c.insecure, "insecure", false, "do not verify the agent's TLS certificate")
	f.StringVar(&c.microversion, "microversion", "latest", "Ironic API microversion to request")
	f.StringVarP(&c.output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&c.timeout, "request-timeout", 60*time.Second, "timeout of each API request")
}

// client builds the gophercloud service client.
func (c *clientConfig) client() (*gophercloud.ServiceClient, error) {
	if c.output != "table" && c.output != "json" {
		return nil, &usageError{fmt.Errorf("--output must be table or json, not %q", c.output)}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.cacert != "" || c.insecure {
		tc := &tls.Config{InsecureSkipVerify: c.insecure} //nolint:gosec // asked for by --insecure
		if c.cacert != "" {
			pem, err := os.ReadFile(c.cacert)
			if err != nil {
				return nil, &usageError{fmt.Errorf("--cacert: %w", err)}
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &usageError{fmt.Errorf("--cacert %s holds no PEM certificate", c.cacert)}
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	endpoint := strings.TrimSuffix(c.url, "/") + "/v1/"
	var sc *gophercloud.ServiceClient
	var err error
	if c.username != "" || c.password != "" {
		sc, err = httpbasic.NewBareMetalHTTPBasic(httpbasic.EndpointOpts{IronicEndpoint: endpoint, IronicUser: c.username, IronicUserPassword: c.password})
	} else {
		sc, err = noauth.NewBareMetalNoAuth(noauth.EndpointOpts{IronicEndpoint: endpoint})
	}
	if err != nil {
		return nil, &usageError{err}
	}
	sc.HTTPClient = http.Client{Transport: tr, Timeout: c.timeout}
	sc.Microversion = c.microversion
	return sc, nil
}

// apiError turns a gophercloud error into the agent's message: Ironic puts
// it, JSON-encoded, in error_message.faultstring.
func apiError(op string, err error) error {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %s (HTTP %d)", op, faultString(ue.Body), ue.Actual)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func faultString(body []byte) string {
	var outer struct {
		ErrorMessage json.RawMessage `json:"error_message"`
	}
	if json.Unmarshal(body, &outer) != nil || len(outer.ErrorMessage) == 0 {
		return strings.TrimSpace(string(body))
	}
	// error_message is a JSON string holding a JSON object, or the object.
	raw := []byte(outer.ErrorMessage)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = []byte(s)
	}
	var inner struct {
		Faultstring string `json:"faultstring"`
	}
	if json.Unmarshal(raw, &inner) == nil && inner.Faultstring != "" {
		return inner.Faultstring
	}
	return strings.TrimSpace(string(raw))
}

// printer writes a command's result as a table or as JSON.
type printer struct {
	w      io.Writer
	format string
}

func (p printer) json(v any) error {
	enc := json.NewEncoder(p.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header. Control characters in a cell are
// shown escaped (\x1b, \n, \t): cells hold what BMCs report (sensor names,
// vendors, errors), which must neither drive the terminal nor break the
// table.
func (p printer) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	cells := make([]string, 0, len(header))
	for _, r := range rows {
		cells = cells[:0]
		for _, c := range r {
			cells = append(cells, printable(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// printable returns s with each control character escaped as Go would
// quote it.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// fields prints one object as a field/value table or as JSON.
func (p printer) fields(v any, keys []string) error {
	if p.format == "json" {
		return p.json(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, []string{k, cell(m[k])})
	}
	return p.table([]string{"FIELD", "VALUE"}, rows)
}

// cell renders a JSON value for a table.
func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case map[string]any, []any:
		b, _ := json.Marshal(t)
		return string(b)
	}
	return fmt.Sprint(v)
}
