/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dyperd's metrics for Prometheus (`dyperctl stats --prometheus`, for
 * node exporter's textfile collector): counters beside struct stats, and
 * latency histograms with fixed buckets.
 */
#ifndef DYPERD_METRICS_H
#define DYPERD_METRICS_H

#include <stdint.h>
#include <stdio.h>

#define METRICS_BUCKETS 14

struct histogram {
	uint64_t le[METRICS_BUCKETS];	/* observations <= the bucket's bound */
	uint64_t count;
	uint64_t sum_ns;
};

struct metrics {
	struct histogram open_lat;	/* agent's open: request to reply */
	struct histogram close_lat;	/* agent's close: request to reply */
	struct histogram batch_lat;	/* enforcer batch: submit to answer */
	uint64_t enforcer_errors;	/* batches or operations an enforcer refused */
};

void histogram_observe(struct histogram *h, uint64_t ns);

struct dyperd;
/* The Prometheus text format (version 0.0.4) of @d's statistics. */
void metrics_prometheus(const struct dyperd *d, FILE *f);

#endif
