// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl validate -f FILE: check a config file whole, print every problem as
 * file:line:col: message (or one JSON object with -j), touch nothing.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "common.h"
#include "config.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: qlbctl [-j] validate -f FILE\n\n"
		   "Check a qlb YAML config file whole: every problem is "
		   "printed as\n"
		   "FILE:LINE:COL: message. Exit 0 when valid, 1 when not, 2 "
		   "on usage errors.\n"
		   "With -j: "
		   "{\"file\":...,\"valid\":bool,\"errors\":[{\"line\",\"col\","
		   "\"message\"}]}.\n\n"
		   "  -f, --file FILE   the config file\n"
		   "  -h, --help        this help\n");
}

/* How many CID configs @cfg has; *@active: the active one's id, or -1. */
static unsigned int count_configs(const struct qlb_config *cfg, int *active)
{
	unsigned int i, nconf = 0;

	*active = -1;
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		if (!cfg->configs[i].present)
			continue;
		nconf++;
		if (cfg->configs[i].state == QLB_CONF_ACTIVE)
			*active = (int)i;
	}
	return nconf;
}

static void summary(const struct qlb_config *cfg, const char *file)
{
	int active;
	unsigned int nconf = count_configs(cfg, &active);

	printf("%s: ok: %u config%s", file, nconf, nconf == 1 ? "" : "s");
	if (active >= 0)
		printf(" (active %d)", active);
	else
		printf(" (none active)");
	printf(", %u host%s", cfg->nhosts, cfg->nhosts == 1 ? "" : "s");
	if (cfg->lb.present)
		printf(", lb on %s with %u VIP%s", cfg->lb.interface,
		       cfg->lb.nvips, cfg->lb.nvips == 1 ? "" : "s");
	if (cfg->host.present)
		printf(", host %s", cfg->host.name);
	/* the implicit service of a file without services: goes unsaid */
	if (cfg->nservices && !cfg->services[0].implicit)
		printf(", %u service%s", cfg->nservices,
		       cfg->nservices == 1 ? "" : "s");
	if (cfg->hash_secret.present)
		printf(", keyed flow hash");
	printf("\n");
}

static void json_out(const struct qlb_config *cfg, const char *file,
		     const struct qlb_diags *d, int n)
{
	struct qlb_json_w w;
	unsigned int i;

	jw_init(&w, stdout);
	jw_obj_open(&w, NULL);
	jw_str(&w, "file", file);
	jw_bool(&w, "valid", n == 0);
	jw_arr_open(&w, "errors");
	for (i = 0; i < d->n; i++) {
		jw_obj_open(&w, NULL);
		jw_int(&w, "line", d->v[i].line);
		jw_int(&w, "col", d->v[i].col);
		jw_str(&w, "message", d->v[i].msg ? d->v[i].msg : "");
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	if (n == 0) {
		int active;
		unsigned int nconf = count_configs(cfg, &active);

		jw_uint(&w, "configs", nconf);
		if (active >= 0)
			jw_int(&w, "active_config", active);
		else
			jw_null(&w, "active_config");
		jw_uint(&w, "hosts", cfg->nhosts);
		jw_bool(&w, "lb", cfg->lb.present);
		jw_bool(&w, "host", cfg->host.present);
		jw_arr_open(&w, "services");
		for (i = 0; i < cfg->nservices; i++) {
			const struct qlb_conf_service *s = &cfg->services[i];

			jw_obj_open(&w, NULL);
			jw_str(&w, "name", s->name);
			jw_bool(&w, "implicit", s->implicit);
			jw_bool(&w, "own_quic_lb", s->own_quic_lb);
			jw_uint(&w, "vips", s->nvips);
			jw_uint(&w, "hosts", s->nhosts);
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_bool(&w, "hash_secret", cfg->hash_secret.present);
	}
	jw_obj_close(&w);
	jw_end(&w);
}

int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	struct qlb_config cfg;
	struct qlb_diags d;
	const char *file = NULL;
	int o, n;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'f':
			file = optarg;
			break;
		case 'h':
			usage(stdout);
			return QLB_EXIT_OK;
		default:
			return qlb_usage_err(usage,
					     "validate: unknown option or "
					     "missing value: '%s'",
					     argv[optind - 1]);
		}
	}
	if (!file && optind < argc)
		file = argv[optind++]; /* "validate FILE" reads as well */
	if (!file)
		return qlb_usage_err(usage, "validate: -f FILE is required");
	if (optind < argc)
		return qlb_usage_err(usage,
				     "validate: unexpected argument '%s'",
				     argv[optind]);
	n = qlb_config_load_diag(file, &cfg, qlb_json ? NULL : stderr, &d);
	if (qlb_json)
		json_out(&cfg, file, &d, n);
	else if (!n)
		summary(&cfg, file);
	else
		fprintf(stderr, "%s: %d problem%s\n", file, n,
			n == 1 ? "" : "s");
	qlb_diags_free(&d);
	qlb_config_free(&cfg);
	return n ? QLB_EXIT_ERR : QLB_EXIT_OK;
}
