// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl: one CLI for the LB node, the host agent and the CID codec.
 * qlbctl [-j] [-p] [-v] COMMAND ...; commands match by unique prefix.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct cmd cmds[] = {
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
	size_t i;

	fprintf(f, "Usage: qlbctl [-j] [-p] [-v] COMMAND [ARGS...]\n\n"
		   "Options:\n"
		   "  -j, --json     JSON output (errors included)\n"
		   "  -p, --pretty   pretty JSON (implies -j)\n"
		   "  -v, --verbose  more detail, libbpf's log\n"
		   "  -h, --help     this help; 'qlbctl COMMAND --help' for a "
		   "command\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].help);
}

int main(int argc, char **argv)
{
	const struct cmd *found = NULL;
	size_t i, n;
	int a = 1;

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
			qlb_warn("unknown option '%s'", o);
			usage(stderr);
			return QLB_EXIT_USAGE;
		}
	}
	if (a >= argc) {
		usage(stderr);
		return QLB_EXIT_USAGE;
	}
	n = strlen(argv[a]);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strncmp(argv[a], cmds[i].name, n))
			continue;
		if (strlen(cmds[i].name) == n) {
			found = &cmds[i];
			break;
		}
		if (found) {
			qlb_warn("'%s' is ambiguous", argv[a]);
			return QLB_EXIT_USAGE;
		}
		found = &cmds[i];
	}
	if (!found) {
		qlb_warn("unknown command '%s'", argv[a]);
		usage(stderr);
		return QLB_EXIT_USAGE;
	}
	return found->fn(argc - a, argv + a);
}
