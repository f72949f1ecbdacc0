// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include "common.h"

/* Placeholder until this command lands; it refuses rather than pretends. */
int cmd_trace(int argc, char **argv)
{
	(void)argc;
	qlb_err("'%s' is not built yet", argv[0]);
	return QLB_EXIT_ERR;
}
