package events

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the bus's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	published *prometheus.CounterVec
	streams   prometheus.Gauge
	replays   *prometheus.CounterVec
}

// NewMetrics registers the metrics of live events with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reel_events_published_total",
			Help: "Live events published, by way: redis (to every node) or local (this node only: no Redis, or Redis away).",
		}, []string{"via"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "reel_event_subscriptions",
			Help: "Open subscriptions to users' live events on this node (GET /api/v1/events streams).",
		}),
		replays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reel_event_resumes_total",
			Help: "Subscriptions made with a Last-Event-ID, by result: replayed, or reset (the id was outside the replay window).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.published, m.streams, m.replays)
	return m
}

func (m *Metrics) publishedVia(via string) {
	if m != nil {
		m.published.WithLabelValues(via).Inc()
	}
}

func (m *Metrics) subscribed(delta float64) {
	if m != nil {
		m.streams.Add(delta)
	}
}

func (m *Metrics) resumed(s *Subscription, lastID string) {
	if m == nil || lastID == "" {
		return
	}
	if s.Reset {
		m.replays.WithLabelValues("reset").Inc()
	} else {
		m.replays.WithLabelValues("replayed").Inc()
	}
}
