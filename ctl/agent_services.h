/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * Which service a socket group of the host serves (docs/host.md,
 * "Services"): the service with a VIP of exactly the group's bound address
 * and port; for a wildcard-bound group (0.0.0.0 or ::) the one service with
 * a VIP of that port and family; with one service, every group.
 */
#ifndef QLB_CTL_AGENT_SERVICES_H
#define QLB_CTL_AGENT_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * qlb_group_service() - the service of the socket group bound to
 * @addr:@port.
 * @family: AF_INET or AF_INET6
 * @addr:   the bound address, network order (4 or 16 bytes)
 * @port:   the bound port, host order
 * Return: an index into @cfg->services, or -1 with a message in @err
 * naming the group and the candidate services (none, or several).
 */
int qlb_group_service(const struct qlb_config *cfg, int family,
		      const void *addr, uint16_t port, char *err,
		      size_t errlen);

/*
 * qlb_host_service() - host @host's entry (an index into @cfg->hosts) in
 * service @s, or NULL when the host does not serve it.
 */
const struct qlb_conf_svc_host *qlb_host_service(const struct qlb_config *cfg,
						 unsigned int s,
						 unsigned int host);

/* How many services host @host serves. */
unsigned int qlb_host_nservices(const struct qlb_config *cfg,
				unsigned int host);

#endif /* QLB_CTL_AGENT_SERVICES_H */
