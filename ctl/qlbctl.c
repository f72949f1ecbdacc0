// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl: one CLI for the LB node, the host agent and the CID codec.
 * qlbctl [-j] [-p] [-v] COMMAND ...; commands match by unique prefix.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"

static const struct qlb_cmd cmds[] = {
	{"cid", cmd_cid, "encode or decode a QUIC-LB connection ID"},
	{"validate", cmd_validate, "check a YAML config file whole"},
	{"lb", cmd_lb, "LB node: apply, status, stats, metrics, detach"},
	{"trace", cmd_trace, "run a pcap through the XDP program offline"},
	{"agent", cmd_agent, "host agent: run, status, promote"},
	{"rotate", cmd_rotate,
	 "key and config rotation: new, promote, retire, status"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: qlbctl [-j] [-p] [-v] COMMAND [ARGS...]\n\n"
		   "Options:\n"
		   "  -j, --json     JSON output (errors included)\n"
		   "  -p, --pretty   pretty JSON (implies -j)\n"
		   "  -v, --verbose  more detail, libbpf's log\n"
		   "  -h, --help     this help; 'qlbctl COMMAND --help' for a "
		   "command\n\n"
		   "Commands:\n");
	qlb_cmd_list(f, cmds, QLB_ARRAY_SIZE(cmds));
}

int main(int argc, char **argv)
{
	int a = 1;

	/* global options first, so that -j holds for every later error */
	for (; a < argc && argv[a][0] == '-'; a++) {
		const char *o = argv[a];

		if (!strcmp(o, "-j") || !strcmp(o, "--json")) {
			qlb_json = true;
		} else if (!strcmp(o, "-p") || !strcmp(o, "--pretty")) {
			qlb_json = qlb_pretty = true;
		} else if (!strcmp(o, "-v") || !strcmp(o, "--verbose")) {
			qlb_verbose++;
		} else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
			usage(stdout);
			return QLB_EXIT_OK;
		} else if (!strcmp(o, "--")) {
			a++;
			break;
		} else {
			return qlb_usage_err(usage, "unknown option '%s'", o);
		}
	}
	return qlb_cmd_select(cmds, QLB_ARRAY_SIZE(cmds), argc - a, argv + a,
			      "command", usage);
}
