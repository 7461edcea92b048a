package metrics

import (
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// namespace prefixes every metric of the agent.
const namespace = "bmc_agent"

// Registry is the agent's private metrics registry: the Go runtime and
// process collectors, and whatever collectors the program registers.
type Registry struct {
	reg *prometheus.Registry
	log *slog.Logger
	// streams are the collectors that write their own text exposition
	// (RegisterStream), gathered by streamReg for every other format.
	streams   []Streamer
	streamReg *prometheus.Registry
}

// Streamer is a collector that can also write its series in the text
// exposition format itself, much faster than the registry gathers them:
// the telemetry of a fleet (Telemetry.WriteText).
type Streamer interface {
	prometheus.Collector
	WriteText(w io.Writer) error
}

// New returns a registry holding the Go runtime and process collectors
// (go_*, process_*: memory, CPU, file descriptors). log receives errors met
// while serving /metrics; nil discards them.
func New(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &Registry{reg: reg, log: log, streamReg: prometheus.NewRegistry()}
}

// RegisterStream adds a Streamer; it fails if its metrics clash with
// another stream's.
func (r *Registry) RegisterStream(s Streamer) error {
	if err := r.streamReg.Register(s); err != nil {
		return err
	}
	r.streams = append(r.streams, s)
	return nil
}

// Register adds collectors; it fails if one clashes with a registered one.
func (r *Registry) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Gatherer returns the registry and the streams for reading, e.g. in tests.
func (r *Registry) Gatherer() prometheus.Gatherer {
	return prometheus.Gatherers{r.reg, r.streamReg}
}

// Handler serves the registry in the Prometheus exposition formats. A
// collector that fails (the database is down) is logged and left out; the
// rest is served.
//
// In the text format, which Prometheus asks for, the streams write their
// own series after the registry's, compressed (if the scraper accepts gzip)
// at gzip's fastest level: a fleet's telemetry is half a million series, 60
// MB of text, that the registry would take seconds and hundreds of MB to
// gather. Any other format (protobuf) gathers everything through the
// registry.
func (r *Registry) Handler() http.Handler {
	all := promhttp.HandlerFor(r.Gatherer(), promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{r.log},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      r.reg, // promhttp_metric_handler_errors_total
	})
	if len(r.streams) == 0 {
		return all
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		format := expfmt.Negotiate(req.Header)
		if format.FormatType() != expfmt.TypeTextPlain {
			all.ServeHTTP(w, req)
			return
		}
		mfs, err := r.reg.Gather()
		if err != nil {
			r.log.Warn("serving /metrics", "err", err) // what was gathered is served
		}
		w.Header().Set("Content-Type", string(format))
		var out io.Writer = w
		if acceptsGzip(req) {
			w.Header().Set("Content-Encoding", "gzip")
			gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
			defer gz.Close()
			out = gz
		}
		enc := expfmt.NewEncoder(out, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				r.log.Debug("serving /metrics", "err", err) // the scraper went away
				return
			}
		}
		for _, s := range r.streams {
			if err := s.WriteText(out); err != nil {
				r.log.Debug("serving /metrics", "err", err)
				return
			}
		}
	})
}

// acceptsGzip says whether the request's Accept-Encoding lists gzip with a
// non-zero quality.
func acceptsGzip(req *http.Request) bool {
	for part := range strings.SplitSeq(req.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}

// slogPrinter adapts slog to promhttp's Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("serving /metrics", "err", fmt.Sprint(v...)) }
