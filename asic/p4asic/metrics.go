package p4asic

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the switch's Prometheus instruments. They live on the Switch,
// never in package state, so that two switches in one process are counted
// apart (each on its own registry).
type metrics struct {
	writeSeconds  *prometheus.HistogramVec
	writeErrors   *prometheus.CounterVec
	eventsDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		writeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "p4asic_write_seconds",
			Help:    "Duration of the P4Runtime writes that carried entities of a kind (one observation per write and kind).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"kind"}),
		writeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "p4asic_write_errors_total",
			Help: "Entity updates that the switch refused or the target failed, by entity kind.",
		}, []string{"kind"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "p4asic_events_dropped_total",
			Help: "Data-plane events dropped because a subscriber's channel was full.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.writeSeconds, m.writeErrors, m.eventsDropped} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register metrics: a switch already uses this registry: %w", err)
			}
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// unregister takes the instruments off reg, for a New that failed after
// registering them, so that the caller may try again with the same registry.
func (m *metrics) unregister(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range []prometheus.Collector{m.writeSeconds, m.writeErrors, m.eventsDropped} {
		reg.Unregister(c)
	}
}
