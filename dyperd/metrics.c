// SPDX-License-Identifier: GPL-2.0-or-later
/* Metrics in the Prometheus text format (metrics.h). */

#include <inttypes.h>

#include "dyperd/daemon.h"
#include "dyperd/metrics.h"

/* Seconds: a local table answers in tens of microseconds, a remote
 * enforcer in milliseconds to seconds. */
static const double bounds[METRICS_BUCKETS] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 1, 5,
};

void histogram_observe(struct histogram *h, uint64_t ns)
{
	double s = (double)ns / 1e9;

	for (unsigned i = 0; i < METRICS_BUCKETS; i++)
		if (s <= bounds[i])
			h->le[i]++;
	h->count++;
	h->sum_ns += ns;
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	head(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void hist(FILE *f, const char *name, const char *help, const struct histogram *h)
{
	head(f, name, "histogram", help);
	for (unsigned i = 0; i < METRICS_BUCKETS; i++)
		fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, bounds[i], h->le[i]);
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %.9f\n%s_count %" PRIu64 "\n", name,
		h->count, name, (double)h->sum_ns / 1e9, name, h->count);
}

void metrics_prometheus(const struct dyperd *d, FILE *f)
{
	const struct stats *st = &d->st;
	const struct metrics *m = &d->metrics;

	one(f, "dyper_pinholes", "gauge", "Pinholes in dyperd's table now.", d->table.count);
	one(f, "dyper_pinhole_capacity", "gauge", "Most pinholes at once (capacity).",
	    d->cfg.capacity);
	one(f, "dyper_requests_waiting", "gauge", "Open requests waiting for capacity.",
	    d->n_waiting);
	one(f, "dyper_channels", "gauge", "Agent channels connected.", d->n_channels);
	one(f, "dyper_requests_total", "counter", "Agent messages received.", st->requests);
	one(f, "dyper_pinholes_opened_total", "counter", "Pinholes opened for agents.", st->opens);
	head(f, "dyper_pinholes_closed_total", "counter",
	     "Pinholes closed, by cause (socket-closed, one-shot, owner, lifetime, admin, stale, "
	     "lease-lapsed).");
	for (unsigned i = 0; i < CLOSE_N; i++)
		fprintf(f, "dyper_pinholes_closed_total{reason=\"%s\"} %" PRIu64 "\n",
			close_cause_name(i), d->events.by_cause[i]);
	one(f, "dyper_requests_denied_total", "counter",
	    "Open requests the policy, a quota or verification denied.", st->denials);
	one(f, "dyper_requests_refused_total", "counter",
	    "Requests refused for other reasons (no such pinhole, capacity, memory).", st->refusals);
	one(f, "dyper_requests_rate_limited_total", "counter",
	    "Agent messages dropped by a channel's rate limit.", st->rate_limited);
	one(f, "dyper_repairs_total", "counter", "Repairs of an enforcer's structure.", st->repairs);
	one(f, "dyper_batches_total", "counter", "Batches submitted to the enforcers.", st->batches);
	one(f, "dyper_batch_operations_total", "counter",
	    "Pinhole operations in batches the enforcers applied.", st->batch_ops);
	one(f, "dyper_enforcer_errors_total", "counter",
	    "Batches and pinhole operations an enforcer refused.", m->enforcer_errors);
	one(f, "dyper_queue_timeouts_total", "counter",
	    "Open requests that waited for capacity too long.", st->queue_timeouts);
	one(f, "dyper_watch_events_dropped_total", "counter",
	    "Events not delivered to a dyperctl watch that read too slowly.", d->events.dropped);
	hist(f, "dyper_open_latency_seconds", "Agent open requests: from receipt to the reply.",
	     &m->open_lat);
	hist(f, "dyper_close_latency_seconds", "Agent close requests: from receipt to the reply.",
	     &m->close_lat);
	hist(f, "dyper_batch_latency_seconds", "Enforcer batches: from submission to the answer.",
	     &m->batch_lat);
}
