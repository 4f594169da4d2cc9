// Package breaker is a circuit breaker: after a run of failures of a
// dependency that reel can do without for a while (Redis, and whatever
// else degrades rather than fails), calls stop going to it for a period,
// so that requests take the fallback at once instead of each waiting out
// its timeout; then one trial call at a time finds out whether it is back.
// Every breaker's state and transitions are Prometheus metrics, and each
// transition is logged once.
package breaker

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// State is a breaker's state; its value is the metric's.
type State int

const (
	// Closed: calls go through.
	Closed State = iota
	// HalfOpen: the open period is over; one trial call at a time goes
	// through, and its outcome closes or opens the breaker again.
	HalfOpen
	// Open: calls fail at once with ErrOpen.
	Open
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	}
	return "open"
}

// ErrOpen is what Do returns without calling while the breaker is open.
var ErrOpen = errors.New("circuit breaker open")

// Metrics are the breakers' Prometheus metrics, registered once per
// registry and shared by every breaker that reports to it.
type Metrics struct {
	state       *prometheus.GaugeVec
	transitions *prometheus.CounterVec
}

// NewMetrics registers the breaker metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reel_breaker_state",
			Help: "Circuit breaker state by name: 0 closed, 1 half-open, 2 open.",
		}, []string{"name"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reel_breaker_transitions_total",
			Help: "Circuit breaker state changes, by name and the state entered.",
		}, []string{"name", "to"}),
	}
	reg.MustRegister(m.state, m.transitions)
	return m
}

// Options configure a breaker. Zero fields take the defaults.
type Options struct {
	// Failures in a row that open the breaker. Default 3.
	Failures int
	// OpenFor is how long it stays open before a trial. Default 2 s.
	OpenFor time.Duration
	// Metrics, when set, receive the breaker's state.
	Metrics *Metrics
	// Log receives one line per transition. Default: slog.Default().
	Log *slog.Logger
	// What names the dependency in the log lines ("Redis").
	What string
	// Now is the clock; tests replace it. Default: time.Now.
	Now func() time.Time
}

// Breaker guards calls to one dependency. It is safe for concurrent use.
type Breaker struct {
	name string
	o    Options

	mu       sync.Mutex
	state    State
	failures int       // in a row, while closed
	openedAt time.Time // when it last opened
	trial    bool      // a half-open trial is in flight
}

// New returns a closed breaker called name (the metric label).
func New(name string, o Options) *Breaker {
	if o.Failures <= 0 {
		o.Failures = 3
	}
	if o.OpenFor <= 0 {
		o.OpenFor = 2 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.What == "" {
		o.What = name
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b := &Breaker{name: name, o: o}
	if o.Metrics != nil {
		o.Metrics.state.WithLabelValues(name).Set(float64(Closed))
	}
	return b
}

// State is the breaker's state now (an open breaker whose period is over
// reports HalfOpen).
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && b.o.Now().Sub(b.openedAt) >= b.o.OpenFor {
		return HalfOpen
	}
	return b.state
}

// Allow reports whether a call may go to the dependency now; every allowed
// call must be followed by Done with its outcome.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		return true
	case Open:
		if b.o.Now().Sub(b.openedAt) < b.o.OpenFor {
			return false
		}
		b.set(HalfOpen, nil)
	}
	if b.trial {
		return false
	}
	b.trial = true
	return true
}

// Done records the outcome of a call Allow let through: nil is a success.
func (b *Breaker) Done(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == HalfOpen {
		b.trial = false
		if err != nil {
			b.openedAt = b.o.Now()
			b.set(Open, err)
		} else {
			b.failures = 0
			b.set(Closed, nil)
		}
		return
	}
	if err == nil {
		b.failures = 0
		return
	}
	if b.state == Closed {
		if b.failures++; b.failures >= b.o.Failures {
			b.openedAt = b.o.Now()
			b.set(Open, err)
		}
	}
}

// Skip ends a call Allow let through without an outcome: one that never
// reached the dependency (this process was too busy to send it), which
// says nothing of its health.
func (b *Breaker) Skip() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == HalfOpen {
		b.trial = false
	}
}

// Do calls fn when the breaker allows it and records its outcome; it
// returns ErrOpen without calling fn otherwise.
func (b *Breaker) Do(fn func() error) error {
	if !b.Allow() {
		return ErrOpen
	}
	err := fn()
	b.Done(err)
	return err
}

// set changes the state, with its metric and log line; b.mu is held.
func (b *Breaker) set(s State, cause error) {
	if s == b.state {
		return
	}
	from := b.state
	b.state = s
	if m := b.o.Metrics; m != nil {
		m.state.WithLabelValues(b.name).Set(float64(s))
		m.transitions.WithLabelValues(b.name, s.String()).Inc()
	}
	switch {
	case s == Open && from == Closed:
		b.o.Log.Warn(b.o.What+" is failing: callers take their fallback until it answers again",
			"breaker", b.name, "retry_in", b.o.OpenFor.String(), "err", cause)
	case s == Closed:
		b.o.Log.Info(b.o.What+" answers again", "breaker", b.name)
	}
}
