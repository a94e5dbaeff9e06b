package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"conversa/conversation"
)

// metrics implements conversation.Metrics on Prometheus.
type metrics struct {
	ingested       *prometheus.CounterVec
	ingestDuration *prometheus.HistogramVec
	delivered      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "conversa_ingest_total",
			Help: "Inbound messages by channel and outcome (stored, duplicate, rejected, error).",
		}, []string{"channel", "outcome"}),
		ingestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "conversa_ingest_duration_seconds",
			Help:    "Time to ingest one inbound message, until it is durable.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"channel"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "conversa_delivery_total",
			Help: "Delivery attempts by channel and outcome (sent, retry, failed).",
		}, []string{"channel", "outcome"}),
	}
	reg.MustRegister(m.ingested, m.ingestDuration, m.delivered)
	return m
}

func (m *metrics) Ingested(ch conversation.ChannelKind, outcome string, d time.Duration) {
	m.ingested.WithLabelValues(string(ch), outcome).Inc()
	if outcome == "stored" {
		m.ingestDuration.WithLabelValues(string(ch)).Observe(d.Seconds())
	}
}

func (m *metrics) Delivered(ch conversation.ChannelKind, outcome string) {
	m.delivered.WithLabelValues(string(ch), outcome).Inc()
}

// jobsCollector reports the durable job queue's depth at scrape time, zero
// included, for the job kinds this server runs and any other found.
type jobsCollector struct {
	store conversation.Store
	kinds []string
	desc  *prometheus.Desc
}

func newJobsCollector(store conversation.Store, kinds ...string) *jobsCollector {
	return &jobsCollector{store: store, kinds: kinds, desc: prometheus.NewDesc("conversa_jobs",
		"Unfinished durable jobs by kind and state (pending, running, failed).", []string{"kind", "state"}, nil)}
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.JobCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	type key struct {
		kind  string
		state conversation.JobState
	}
	depth := map[key]int{}
	for _, k := range c.kinds {
		for _, st := range []conversation.JobState{conversation.JobPending, conversation.JobRunning, conversation.JobFailed} {
			depth[key{k, st}] = 0
		}
	}
	for _, n := range counts {
		depth[key{n.Kind, n.State}] = n.Count
	}
	for k, n := range depth {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.kind, string(k.state))
	}
}
