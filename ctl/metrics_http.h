/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* Serving Prometheus text over HTTP, for `lb metrics` and `agent metrics`. */
#ifndef QLB_CTL_METRICS_HTTP_H
#define QLB_CTL_METRICS_HTTP_H

#include <stdio.h>

/* Writes the whole exposition to @f; returns 0, or -1 when the counters
 * could not be read (the scrape then gets a 503). */
typedef int (*qlb_metrics_fn)(FILE *f, void *arg);

/*
 * qlb_metrics_listen() - serve @fn's text at every request on @addr
 * (ADDR:PORT, [V6ADDR]:PORT) until SIGINT or SIGTERM. One client at a time,
 * with receive and send timeouts, so a stuck scraper cannot hold it.
 * Return: an exit code (QLB_EXIT_OK, _ERR, _USAGE).
 */
int qlb_metrics_listen(const char *addr, qlb_metrics_fn fn, void *arg);

#endif
