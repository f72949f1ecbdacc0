/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * `qlbctl lb run -f FILE`: the LB node's long-running process. It applies
 * the file, then keeps the node right while it runs: health checking of
 * the hosts (ctl/health.c), VIP announcement to the routing daemon
 * (ctl/announce.c), reload on SIGHUP, and withdrawal on stop or when the
 * data plane is gone.
 */
#ifndef QLB_CTL_LB_RUN_H
#define QLB_CTL_LB_RUN_H

int cmd_lb_run(int argc, char **argv);

#endif /* QLB_CTL_LB_RUN_H */
