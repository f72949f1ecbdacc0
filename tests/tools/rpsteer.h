// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-rpsteer (see qlb-rpsteer.c): what its check (rpsteer_check.c) and
 * bench (rpsteer_bench.c) share with the setup in qlb-rpsteer.c: the
 * SO_REUSEPORT group on 127.0.0.1 and its client, the configs, the
 * program's maps and the datagrams.
 */
#ifndef QLB_TESTS_RPSTEER_H
#define QLB_TESTS_RPSTEER_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "qlb/cid.h"
#include "qlb/abi/host_abi.h"
#include "qlb/libqlb.h"
#include "qlb_reuseport.skel.h"
#include "tool_util.h"

#define PORT	4433
#define NSOCK	8 /* workers 0..3: generation 1, 4..7: generation 2 */
#define NGEN1	4
#define NCFG	4
#define NO_SOCK 12 /* a worker ID (< 2^4) with no socket */

extern int rps_socks[NSOCK];
extern int rps_client;
extern struct sockaddr_in rps_dst;

/* configs of the bench and the test: plaintext 2+6, four-pass 3+6,
 * single-pass 8+8, four-pass 10+5 (the columns of docs/host.md) */
extern const unsigned int rps_cfg_sl[NCFG];
extern const unsigned int rps_cfg_nl[NCFG];
extern const unsigned int rps_cfg_wb[NCFG];
extern const char *const rps_cfg_name[NCFG];
extern struct qlb_host_cfg rps_hcfg[NCFG];
/* the group's row of qlb_hcfg_v2: 0 for one service, else row 0 is
 * by_group and the configs live in this row (--services) */
extern unsigned int rps_row;
extern int rps_shared_slot; /* --shared-slot */
extern int rps_svc64_rows;  /* --svc64-rows (bench) */

struct prog_set {
	struct qlb_reuseport *rp;    /* the real program */
	struct qlb_reuseport *ref;   /* reference copy, shared maps */
	struct qlb_reuseport *small; /* flow table of 64 entries */
	int m_hcfg, m_socks, m_work, m_worksel, m_workers, m_stats, m_fcfg,
		m_flows;
};

struct dgram {
	uint8_t b[80];
	size_t len;
};

/* qlb-rpsteer.c: the group, the program's copies and the datagrams */
void rps_die(const char *what);
int rps_group_socket_on(int port);
void rps_attach(int prog_fd);
void rps_write_hcfg(struct prog_set *ps, unsigned int id);
void rps_set_working(struct prog_set *ps, __u32 gen);
void rps_multi_layout(struct prog_set *ps, unsigned int row);
void rps_set_row0(struct prog_set *ps, int by_group);
void rps_setup(struct prog_set *ps, int with_ref);
__u64 rps_stat_sum(struct prog_set *ps, __u32 reason);
void rps_short_dgram(struct dgram *d, const uint8_t *cid);
void rps_long_dgram(struct dgram *d, const uint8_t *cid, unsigned int len);
void rps_mint(unsigned int id, unsigned int worker, int host, uint8_t *cid);
int rps_deliver(const struct dgram *d);
void rps_flows_clear(struct prog_set *ps);

/* the commands: rpsteer_check.c, rpsteer_bench.c */
int rps_cmd_check(int count);
int rps_cmd_bench(int rounds, int count);

#endif /* QLB_TESTS_RPSTEER_H */
