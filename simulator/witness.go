package simulator

import (
	"cmp"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// witness counts mutating operations on one system that overlap in time and
// keeps the last few of them. It lives inside System and is guarded by its
// mutex.
type witness struct {
	active   int
	overlaps int64
	// epoch changes whenever an overlap begins, so a mutation can tell at
	// its end whether anything overlapped it while it ran.
	epoch uint64
	seq   uint64
	log   []logRecord // ring buffer, grown up to the fleet's log size
	next  int         // next slot to overwrite once the ring is full
}

// logRecord is the compact stored form of a LogEntry.
type logRecord struct {
	seq              uint64
	start            int64 // unix nanoseconds
	dur              int64
	face, op, detail string
	result           int32
	overlapped       bool
}

// LogEntry is one mutating operation in a system's request log.
type LogEntry struct {
	// Seq numbers the system's mutations from 1, in the order they began.
	Seq uint64
	// Face is the protocol face that received it ("redfish", later "ipmi").
	Face string
	// Op is the operation ("Reset", "PatchBoot", "InsertMedia", ...).
	Op string
	// Detail qualifies Op (the reset type, the device, ...).
	Detail string `json:",omitempty"`
	Start  time.Time
	// Duration is how long the operation was in flight at the BMC, injected
	// latency included.
	Duration time.Duration
	// Result is the face's result code (the HTTP status for Redfish).
	Result int
	// Overlapped is true if another mutation of the same system was in
	// flight at any time during this one.
	Overlapped bool
}

// Mutation is a mutating operation in flight, from BeginMutation to End.
type Mutation struct {
	s                *System
	seq              uint64
	epoch            uint64
	start            time.Time
	face, op, detail string
	overlapped       bool
}

// BeginMutation marks the start of a mutating operation (a reset, a boot
// override change, a media insert or eject) received through face. If
// another mutation of the system is still in flight, the system's overlap
// count goes up. Every face calls it around each mutating request and calls
// End when the answer is decided; locking tests read Overlaps and RequestLog
// to prove that no two operations ever hit one BMC at once.
func (s *System) BeginMutation(face, op, detail string) Mutation {
	start := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.witness
	m := Mutation{s: s, start: start, face: face, op: op, detail: detail}
	if w.active > 0 {
		w.overlaps++
		w.epoch++
		m.overlapped = true
	}
	w.active++
	w.seq++
	m.seq, m.epoch = w.seq, w.epoch
	return m
}

// End marks the end of the mutation with the face's result code (an HTTP
// status for Redfish) and appends it to the system's request log.
func (m Mutation) End(result int) {
	if m.s == nil {
		return
	}
	dur := time.Since(m.start)
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.witness
	w.active--
	rec := logRecord{
		seq: m.seq, start: m.start.UnixNano(), dur: int64(dur),
		face: m.face, op: m.op, detail: m.detail, result: int32(result),
		overlapped: m.overlapped || w.epoch != m.epoch,
	}
	size := s.fleet.logSize
	switch {
	case size <= 0:
	case len(w.log) < size:
		w.log = append(w.log, rec)
	default:
		w.log[w.next] = rec
		w.next = (w.next + 1) % size
	}
}

// Overlaps returns how many mutations began while another mutation of the
// same system was in flight.
func (s *System) Overlaps() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.witness.overlaps
}

// RequestLog returns the system's most recent completed mutations, oldest
// first (at most Config.RequestLogSize).
func (s *System) RequestLog() []LogEntry {
	s.mu.Lock()
	w := &s.witness
	recs := make([]logRecord, 0, len(w.log))
	recs = append(recs, w.log[w.next:]...)
	recs = append(recs, w.log[:w.next]...)
	s.mu.Unlock()
	out := make([]LogEntry, len(recs))
	for i, r := range recs {
		out[i] = LogEntry{
			Seq: r.seq, Face: r.face, Op: r.op, Detail: r.detail,
			Start: time.Unix(0, r.start), Duration: time.Duration(r.dur),
			Result: int(r.result), Overlapped: r.overlapped,
		}
	}
	slices.SortFunc(out, func(a, b LogEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}

// ResetWitness clears the overlap count and the request log.
func (s *System) ResetWitness() {
	s.mu.Lock()
	defer s.mu.Unlock()
	active := s.witness.active
	s.witness = witness{active: active, seq: s.witness.seq}
}

// RequestCounts are the Redfish requests a system has received: reads (GET
// and HEAD) and writes (every other method, logins on its own port
// included). Tests assert with them that a read-only client sends only
// reads, and how many.
type RequestCounts struct {
	Reads, Writes uint64
}

// requestCounter counts a system's Redfish requests; lock-free, so that
// counting costs nothing measurable on the request path.
type requestCounter struct{ reads, writes atomic.Uint64 }

func (c *requestCounter) count(method string) {
	if method == http.MethodGet || method == http.MethodHead {
		c.reads.Add(1)
	} else {
		c.writes.Add(1)
	}
}

// Requests returns the Redfish requests the system has received since it
// was made: the requests to its resources, and on its own port
// (Config.PortPerSystem) every request.
func (s *System) Requests() RequestCounts {
	return RequestCounts{Reads: s.requests.reads.Load(), Writes: s.requests.writes.Load()}
}
