/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * The host's side of health checking and of the decapsulation trust
 * lists, for the agent's loop:
 *
 *  - qlb_host_trust_of() / qlb_host_trust_write(): whom the decapsulation
 *    program takes packets from (the LB nodes' encap sources) and for what
 *    (the VIPs at their ports, at the health port, ICMP to a VIP), into
 *    the maps of include/qlb/abi/decap_trust.h.
 *  - the probe responder: answers the LB nodes' probes
 *    (include/qlb/abi/health_proto.h) on the VIPs at the health port, after
 *    checking that decapsulation is attached and that every socket group
 *    of the probed service (qlb_hp_service_of(); the groups mapped by
 *    qlb_group_service(), ctl/agent_services.h) has a live socket in its
 *    working generation. It lives in the agent's process: a dead agent
 *    answers nothing.
 */
#ifndef QLB_CTL_AGENT_PROBE_H
#define QLB_CTL_AGENT_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "qlb/abi/decap_trust.h"

#define QLB_TRUST_MAX_VIPS (2 * QLB_MAX_VIPS)

struct qlb_host_trust {
	unsigned int nsrc, nvip;
	struct qlb_addr src[QLB_DC_MAX_SRC];
	struct qlb_conf_vip vip[QLB_TRUST_MAX_VIPS];
	uint16_t health_port;
};

/*
 * qlb_host_trust_of() - the lists of @cfg: host.lb_sources and host.vips,
 * plus lb.encap_source_v4/v6 when the file has an lb section (one file for
 * both roles), plus lb.vips: the lb section's and every service's VIPs
 * (a host-only file's services list theirs there). Duplicates are kept
 * once.
 */
void qlb_host_trust_of(const struct qlb_config *cfg, struct qlb_host_trust *t);

/*
 * qlb_host_trust_write() - make the maps @src_fd (qlb_dc_src) and @vip_fd
 * (qlb_dc_vip) hold exactly @t: new entries first, then stale ones go, so
 * allowed traffic never sees a gap.
 * Return: 0, or -errno with a message in @err.
 */
int qlb_host_trust_write(int src_fd, int vip_fd, const struct qlb_host_trust *t,
			 char *err, size_t errlen);

struct qlb_probe_resp;

/*
 * qlb_probe_resp_open() - bind the responder on the health port of @cfg
 * (host.health_port, any address, both families) for the data plane
 * pinned under @pin_dir. @cfg is kept by reference until close or
 * qlb_probe_resp_set_config().
 * Return: the responder, or NULL with a message in @err.
 */
struct qlb_probe_resp *qlb_probe_resp_open(const struct qlb_config *cfg,
					   const char *pin_dir, char *err,
					   size_t errlen);

/* A reloaded config (same port: else close and open again). */
void qlb_probe_resp_set_config(struct qlb_probe_resp *r,
			       const struct qlb_config *cfg);

/* The port bound. */
uint16_t qlb_probe_resp_port(const struct qlb_probe_resp *r);

/* Descriptors to poll for POLLIN; returns how many (<= max). */
int qlb_probe_resp_fds(const struct qlb_probe_resp *r, int *fds, int max);

/* Answer what is queued on @fd (bounded per call). */
void qlb_probe_resp_input(struct qlb_probe_resp *r, int fd);

/*
 * qlb_hp_service_of() - the service a probe is answered for: @flags/@tag
 * of the probe (QLB_HP_F_SERVICE, qlb_hp_service_tag()), @dst the VIP it
 * was sent to (family 0: unknown), over the services of the host's file
 * @cfg: the one service of that tag; else the one service with a VIP at
 * @dst; else -1.
 * Return: an index into cfg->services, or -1: every VIP group of the host
 * (a file of one service, an LB node's probe without a service to a VIP
 * address that two services share, or a service this file lacks).
 */
int qlb_hp_service_of(const struct qlb_config *cfg, unsigned int flags,
		      uint32_t tag, const struct qlb_addr *dst);

/*
 * qlb_probe_resp_check() - the verdict an answer for service @svc (-1:
 * every VIP group of the host) would carry now (enum qlb_hp_status), with
 * the socket groups of the service seen and how many of them have no live
 * socket.
 */
unsigned int qlb_probe_resp_check(struct qlb_probe_resp *r, int svc,
				  unsigned int *ngroups, unsigned int *nbad);

/* Answers sent and probes refused (bad format, untrusted source, rate). */
void qlb_probe_resp_counts(const struct qlb_probe_resp *r, uint64_t *answered,
			   uint64_t *refused);

void qlb_probe_resp_close(struct qlb_probe_resp *r);

#endif /* QLB_CTL_AGENT_PROBE_H */
