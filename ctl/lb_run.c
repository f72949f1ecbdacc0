// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* `qlbctl lb run`: see lb_run.h. */
#include "common.h"
#include "lb_run.h"

int cmd_lb_run(int argc, char **argv)
{
	qlb_err("lb run: not built yet");
	return QLB_EXIT_ERR;
}
