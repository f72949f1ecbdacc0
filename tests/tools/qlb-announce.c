// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-announce: drives ctl/announce.c from the tests, without the LB
 * node's long-running process.
 *   qlb-announce -f FILE sync [all|none|I,J,...]   (VIP entry indexes)
 *   qlb-announce -f FILE withdraw
 *   qlb-announce -f FILE read          one line per VIP: "ADDR yes|no"
 *   qlb-announce -f FILE daemon        the routing daemon's state
 *   qlb-announce -f FILE drain MS
 *   qlb-announce -f FILE status|metrics   what lb status / metrics show
 * Exit 0 on success, 1 on error, 2 on usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "announce.h"
#include "common.h"
#include "config.h"

static int usage(void)
{
	fprintf(stderr, "usage: qlb-announce -f FILE "
			"sync [all|none|I,J,..] | withdraw | read | daemon | "
			"status | metrics | drain MS\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *file = NULL;
	struct qlb_config cfg;
	bool want[QLB_MAX_VIPS] = {0};
	char err[256] = "";
	char abuf[64];
	int c, ret = 0;

	while ((c = getopt(argc, argv, "f:")) != -1) {
		if (c == 'f')
			file = optarg;
		else
			return usage();
	}
	if (!file || optind >= argc)
		return usage();
	if (qlb_config_load(file, &cfg, stderr))
		return 1;
	if (!strcmp(argv[optind], "sync")) {
		const char *sel = optind + 1 < argc ? argv[optind + 1] : "all";

		if (!strcmp(sel, "all")) {
			for (unsigned int i = 0; i < cfg.lb.nvips; i++)
				want[i] = true;
		} else if (strcmp(sel, "none")) {
			char *dup = strdup(sel), *save = NULL, *t;

			for (t = strtok_r(dup, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				unsigned long i = strtoul(t, NULL, 10);

				if (i < cfg.lb.nvips)
					want[i] = true;
			}
			free(dup);
		}
		ret = qlb_announce_sync(&cfg, want, err, sizeof(err));
	} else if (!strcmp(argv[optind], "withdraw")) {
		ret = qlb_announce_withdraw_all(&cfg, err, sizeof(err));
	} else if (!strcmp(argv[optind], "read")) {
		ret = qlb_announce_read(&cfg, want, err, sizeof(err));
		for (unsigned int i = 0; !ret && i < cfg.lb.nvips; i++)
			printf("%s %s\n",
			       qlb_addr_str(&cfg.lb.vips[i].addr, abuf,
					    sizeof(abuf)),
			       want[i] ? "yes" : "no");
	} else if (!strcmp(argv[optind], "daemon")) {
		struct qlb_daemon_status st;

		qlb_announce_daemon(&cfg, &st);
		printf("state %s %s\n", qlb_daemon_state_name(st.state),
		       st.version);
		if (st.error[0])
			printf("error %s\n", st.error);
		for (unsigned int i = 0; i < st.npeers; i++)
			printf("peer %s %s %s\n", st.peers[i].name,
			       st.peers[i].state, st.peers[i].info);
		for (unsigned int i = 0; i < cfg.lb.nvips; i++)
			printf("exported %s %s\n",
			       qlb_addr_str(&cfg.lb.vips[i].addr, abuf,
					    sizeof(abuf)),
			       st.exported[i] ? "yes" : "no");
	} else if (!strcmp(argv[optind], "status")) {
		qlb_announce_status_show(&cfg, true, NULL);
	} else if (!strcmp(argv[optind], "metrics")) {
		qlb_announce_metrics(stdout, &cfg);
	} else if (!strcmp(argv[optind], "drain") && optind + 1 < argc) {
		ret = qlb_announce_drain(&cfg,
					 (unsigned int)atoi(argv[optind + 1]),
					 err, sizeof(err));
	} else {
		qlb_config_free(&cfg);
		return usage();
	}
	if (ret)
		fprintf(stderr, "qlb-announce: %s\n", err);
	qlb_config_free(&cfg);
	return ret ? 1 : 0;
}
