// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* The host's decapsulation trust lists and probe responder: agent_probe.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "agent_probe.h"
#include "agent_services.h"
#include "qlb/abi/health_proto.h"
#include "qlb/abi/host_abi.h"

/* ---- trust lists --------------------------------------------------------- */

static bool addr_eq(const struct qlb_addr *a, const struct qlb_addr *b)
{
	if (a->family != b->family)
		return false;
	return !memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
}

static void add_src(struct qlb_host_trust *t, const struct qlb_addr *a)
{
	unsigned int i;

	if (!a->family)
		return;
	for (i = 0; i < t->nsrc; i++)
		if (addr_eq(&t->src[i], a))
			return;
	if (t->nsrc < QLB_DC_MAX_SRC)
		t->src[t->nsrc++] = *a;
}

static void add_vip(struct qlb_host_trust *t, const struct qlb_conf_vip *v)
{
	unsigned int i;

	for (i = 0; i < t->nvip; i++)
		if (addr_eq(&t->vip[i].addr, &v->addr) &&
		    t->vip[i].port == v->port)
			return;
	if (t->nvip < QLB_TRUST_MAX_VIPS)
		t->vip[t->nvip++] = *v;
}

void qlb_host_trust_of(const struct qlb_config *cfg, struct qlb_host_trust *t)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < cfg->host.nlb_sources; i++)
		add_src(t, &cfg->host.lb_sources[i]);
	for (i = 0; i < cfg->host.nvips; i++)
		add_vip(t, &cfg->host.vips[i]);
	if (cfg->lb.present) {
		add_src(t, &cfg->lb.encap_source_v4);
		add_src(t, &cfg->lb.encap_source_v6);
	}
	/* lb.vips: the lb section's, and every service's VIPs (services:
	 * list theirs there in a host-only file too) */
	for (i = 0; i < cfg->lb.nvips; i++)
		add_vip(t, &cfg->lb.vips[i]);
	t->health_port = cfg->host.health_port ? cfg->host.health_port
					       : QLB_DEFAULT_HEALTH_PORT;
}

static void dc_addr(const struct qlb_addr *a, __u32 *family, __u32 addr[4])
{
	memset(addr, 0, 16);
	if (a->family == AF_INET) {
		*family = QLB_DC_AF_INET;
		memcpy(addr, &a->v4, 4);
	} else {
		*family = QLB_DC_AF_INET6;
		memcpy(addr, &a->v6, 16);
	}
}

/* The qlb_dc_vip entries of @t, into @k / @kind (room for 3 per VIP). */
static unsigned int vip_keys(const struct qlb_host_trust *t,
			     struct qlb_dc_vip *k, __u32 *kind)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < t->nvip; i++) {
		struct qlb_dc_vip base = {0};
		const uint16_t ports[3] = {t->vip[i].port, t->health_port, 0};
		const __u32 kinds[3] = {QLB_DC_VIP_PORT, QLB_DC_VIP_HEALTH,
					QLB_DC_VIP_ICMP};

		dc_addr(&t->vip[i].addr, &base.family, base.addr);
		for (j = 0; j < 3; j++) {
			unsigned int m;

			if (j == 1 && !t->health_port)
				continue;
			base.port = htons(ports[j]);
			for (m = 0; m < n; m++)
				if (!memcmp(&k[m], &base, sizeof(base)))
					break;
			if (m < n)
				continue; /* a VIP port is also kind 1 */
			k[n] = base;
			kind[n++] = kinds[j];
		}
	}
	return n;
}

/* Delete every key of @fd (key size @ks) not among @want (@n keys). */
static void drop_stale(int fd, const void *want, unsigned int n, size_t ks)
{
	static uint8_t dead[QLB_DC_MAX_VIP][24];
	uint8_t key[64], next[64];
	unsigned int i, ndead = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ks);
		prev = key;
		for (i = 0; i < n; i++)
			if (!memcmp((const uint8_t *)want + i * ks, key, ks))
				break;
		if (i == n && ndead < QLB_DC_MAX_VIP)
			memcpy(dead[ndead++], key, ks);
	}
	/* deleted after the walk: deleting under it restarts it */
	for (i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, dead[i]);
}

int qlb_host_trust_write(int src_fd, int vip_fd, const struct qlb_host_trust *t,
			 char *err, size_t errlen)
{
	static struct qlb_dc_addr srcs[QLB_DC_MAX_SRC];
	static struct qlb_dc_vip vips[3 * QLB_TRUST_MAX_VIPS];
	static __u32 kinds[3 * QLB_TRUST_MAX_VIPS];
	unsigned int i, nv;
	__u32 one = 1;

	memset(srcs, 0, sizeof(srcs));
	for (i = 0; i < t->nsrc; i++) {
		dc_addr(&t->src[i], &srcs[i].family, srcs[i].addr);
		if (bpf_map_update_elem(src_fd, &srcs[i], &one, BPF_ANY))
			goto fail;
	}
	nv = vip_keys(t, vips, kinds);
	for (i = 0; i < nv; i++)
		if (bpf_map_update_elem(vip_fd, &vips[i], &kinds[i], BPF_ANY))
			goto fail;
	drop_stale(src_fd, srcs, t->nsrc, sizeof(srcs[0]));
	drop_stale(vip_fd, vips, nv, sizeof(vips[0]));
	return 0;
fail:
	snprintf(err, errlen, "cannot write the decapsulation trust lists: %s",
		 strerror(errno));
	return -errno;
}

/* ---- the responder ------------------------------------------------------- */

/* Answers per second at most, per service of the file: an LB node probes
 * each (service, host) pair once per interval. */
#define RESP_RATE 200

struct qlb_probe_resp {
	const struct qlb_config *cfg;
	struct qlb_host_trust trust;
	char pin_dir[PATH_MAX];
	int fd[2]; /* IPv4, IPv6 */
	uint16_t port;
	int m_worksel, m_work, m_socks, m_workers;
	uint64_t answered, refused;
	uint64_t tb_sec; /* token bucket: this second and its count */
	unsigned int tb_used;
};

static int resp_socket(int family, uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd, one = 1;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		sl = sizeof(*s);
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)))
			goto fail;
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		sl = sizeof(*s);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			       sizeof(one)) ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			       sizeof(one)))
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, sl))
		goto fail;
	return fd;
fail:
	snprintf(err, errlen,
		 "health responder: cannot bind UDP %s port %u: %s",
		 family == AF_INET ? "IPv4" : "IPv6", port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int pin_get(const char *dir, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

static void resp_maps(struct qlb_probe_resp *r)
{
	int *fds[] = {&r->m_worksel, &r->m_work, &r->m_socks, &r->m_workers};
	const char *names[] = {QLB_PIN_WORKSEL, QLB_PIN_WORK, QLB_PIN_SOCKS,
			       QLB_PIN_WORKERS};
	unsigned int i;

	for (i = 0; i < 4; i++)
		if (*fds[i] < 0)
			*fds[i] = pin_get(r->pin_dir, names[i]);
}

struct qlb_probe_resp *qlb_probe_resp_open(const struct qlb_config *cfg,
					   const char *pin_dir, char *err,
					   size_t errlen)
{
	struct qlb_probe_resp *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(err, errlen, "health responder: out of memory");
		return NULL;
	}
	r->fd[0] = r->fd[1] = -1;
	r->m_worksel = r->m_work = r->m_socks = r->m_workers = -1;
	snprintf(r->pin_dir, sizeof(r->pin_dir), "%s", pin_dir);
	qlb_probe_resp_set_config(r, cfg);
	r->port = r->trust.health_port;
	r->fd[0] = resp_socket(AF_INET, r->port, err, errlen);
	if (r->fd[0] < 0)
		goto fail;
	r->fd[1] = resp_socket(AF_INET6, r->port, err, errlen);
	if (r->fd[1] < 0)
		goto fail;
	resp_maps(r);
	return r;
fail:
	qlb_probe_resp_close(r);
	return NULL;
}

void qlb_probe_resp_set_config(struct qlb_probe_resp *r,
			       const struct qlb_config *cfg)
{
	r->cfg = cfg;
	qlb_host_trust_of(cfg, &r->trust);
}

uint16_t qlb_probe_resp_port(const struct qlb_probe_resp *r)
{
	return r->port;
}

int qlb_probe_resp_fds(const struct qlb_probe_resp *r, int *fds, int max)
{
	int n = 0, i;

	for (i = 0; i < 2; i++)
		if (r->fd[i] >= 0 && n < max)
			fds[n++] = r->fd[i];
	return n;
}

void qlb_probe_resp_counts(const struct qlb_probe_resp *r, uint64_t *answered,
			   uint64_t *refused)
{
	*answered = r->answered;
	*refused = r->refused;
}

void qlb_probe_resp_close(struct qlb_probe_resp *r)
{
	int i, *fds[] = {&r->m_worksel, &r->m_work, &r->m_socks,
			 &r->m_workers, &r->fd[0],  &r->fd[1]};

	if (!r)
		return;
	for (i = 0; i < 6; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	free(r);
}

/* Whether decapsulation (our pinned program) is attached to
 * host.interface; true when the file names no interface. */
static bool decap_attached(struct qlb_probe_resp *r)
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info), ids[2] = {0, 0};
	int ifindex, fd, k;

	if (!r->cfg->host.interface[0])
		return true;
	ifindex = (int)if_nametoindex(r->cfg->host.interface);
	if (!ifindex)
		return false;
	fd = pin_get(r->pin_dir, QLB_PIN_PROG_DC);
	if (fd < 0)
		return false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return false;
	}
	close(fd);
	bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &ids[0]);
	bpf_xdp_query_id(ifindex, XDP_FLAGS_SKB_MODE, &ids[1]);
	for (k = 0; k < 2; k++)
		if (ids[k] && ids[k] == info.id)
			return true;
	return false;
}

/* Whether group @g serves a VIP (any group when no VIP is known). */
static bool vip_group(const struct qlb_probe_resp *r,
		      const struct qlb_group_key *g)
{
	static const __u32 zero[4];
	unsigned int i;

	if (!r->trust.nvip)
		return true;
	for (i = 0; i < r->trust.nvip; i++) {
		const struct qlb_conf_vip *v = &r->trust.vip[i];

		if (v->port != g->port)
			continue;
		/* a wildcard group serves every address of its family
		 * (an IPv6 one, without V6ONLY, IPv4 too) */
		if (!memcmp(g->addr, zero, sizeof(zero)))
			return true;
		if ((int)g->family == v->addr.family &&
		    !memcmp(g->addr, v->addr.bytes,
			    v->addr.family == AF_INET ? 4 : 16))
			return true;
	}
	return false;
}

static bool worker_live(struct qlb_probe_resp *r, __u32 id)
{
	struct qlb_worker_rec rec;
	__u64 cookie = 0;

	if (bpf_map_lookup_elem(r->m_socks, &id, &cookie) || !cookie)
		return false;
	if (r->m_workers >= 0 &&
	    !bpf_map_lookup_elem(r->m_workers, &id, &rec) && rec.in_use)
		return rec.cookie == cookie;
	return true;
}

int qlb_hp_service_of(const struct qlb_config *cfg, unsigned int flags,
		      uint32_t tag, const struct qlb_addr *dst)
{
	unsigned int s, v;
	int found = -1, n = 0;

	/* one service: every group is its, whatever the probe names */
	if (!cfg->services || cfg->nservices <= 1)
		return -1;
	if (flags & QLB_HP_F_SERVICE) {
		for (s = 0; s < cfg->nservices; s++) {
			if (qlb_hp_service_tag(cfg->services[s].name) != tag)
				continue;
			found = (int)s;
			n++;
		}
		if (n == 1)
			return found;
	}
	/* the service of the VIP the probe went to, when the address names
	 * one (two services may share it on different ports) */
	found = -1;
	n = 0;
	for (v = 0; dst && dst->family && v < cfg->lb.nvips; v++) {
		const struct qlb_conf_vip *vp = &cfg->lb.vips[v];

		if (!addr_eq(&vp->addr, dst) || (int)vp->service == found)
			continue;
		if (found >= 0) {
			n = 2;
			break;
		}
		found = (int)vp->service;
		n = 1;
	}
	return n == 1 && found < (int)cfg->nservices ? found : -1;
}

/* Whether group @g counts for service @svc (-1: any service). */
static bool svc_group(const struct qlb_probe_resp *r,
		      const struct qlb_group_key *g, int svc)
{
	char err[256];
	int family = (int)g->family;

	if (!vip_group(r, g))
		return false;
	if (svc < 0)
		return true;
	if (family != AF_INET && family != AF_INET6)
		return false;
	/* a group of no service (refused at registration) counts for none */
	return qlb_group_service(r->cfg, family, g->addr, g->port, err,
				 sizeof(err)) == svc;
}

unsigned int qlb_probe_resp_check(struct qlb_probe_resp *r, int svc,
				  unsigned int *ngroups, unsigned int *nbad)
{
	static struct qlb_work_set ws;
	struct qlb_group_key k, next;
	void *prev = NULL;

	*ngroups = *nbad = 0;
	if (!decap_attached(r))
		return QLB_HP_NO_DECAP;
	resp_maps(r);
	if (r->m_worksel < 0 || r->m_work < 0 || r->m_socks < 0)
		return QLB_HP_NO_GROUP;
	while (!bpf_map_get_next_key(r->m_worksel, prev, &next)) {
		__u32 sel, i;
		bool live = false;

		k = next;
		prev = &k;
		if (!svc_group(r, &k, svc))
			continue;
		if (bpf_map_lookup_elem(r->m_worksel, &k, &sel))
			continue;
		(*ngroups)++;
		k.slot = sel & 1;
		if (!bpf_map_lookup_elem(r->m_work, &k, &ws) && ws.generation)
			for (i = 0;
			     i < ws.nworkers && i < QLB_HOST_GEN_MAX && !live;
			     i++)
				live = worker_live(r, ws.workers[i]);
		k.slot = 0;
		if (!live)
			(*nbad)++;
	}
	if (!*ngroups)
		return QLB_HP_NO_GROUP;
	return *nbad ? QLB_HP_GROUP_DOWN : QLB_HP_OK;
}

static bool src_trusted(const struct qlb_probe_resp *r,
			const struct sockaddr_storage *ss)
{
	struct qlb_addr a = {0};
	unsigned int i;

	if (ss->ss_family == AF_INET) {
		a.family = AF_INET;
		a.v4 = ((const struct sockaddr_in *)ss)->sin_addr;
	} else {
		a.family = AF_INET6;
		a.v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
	for (i = 0; i < r->trust.nsrc; i++)
		if (addr_eq(&r->trust.src[i], &a))
			return true;
	return false;
}

static bool rate_ok(struct qlb_probe_resp *r)
{
	unsigned int nsvc = r->cfg->nservices ? r->cfg->nservices : 1;
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if ((uint64_t)t.tv_sec != r->tb_sec) {
		r->tb_sec = (uint64_t)t.tv_sec;
		r->tb_used = 0;
	}
	return r->tb_used++ < RESP_RATE * nsvc;
}

/* Write one control message into @o; returns the control length it takes. */
static size_t put_cmsg(struct cmsghdr *o, int level, int type, const void *data,
		       size_t len)
{
	o->cmsg_level = level;
	o->cmsg_type = type;
	o->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(o), data, len);
	return CMSG_SPACE(len);
}

/* Answer one datagram; -1 when none is queued. */
static int resp_one(struct qlb_probe_resp *r, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cin, cout;
	struct sockaddr_storage from;
	struct qlb_hp_msg m;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_name = &from,
			    .msg_namelen = sizeof(from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cin.buf,
			    .msg_controllen = sizeof(cin.buf)};
	struct cmsghdr *c;
	struct qlb_addr dst = {0};
	unsigned int ng, nb, st;
	bool have_dst = false;
	ssize_t n;
	int svc;

	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return -1;
	if (n != (ssize_t)sizeof(m) || (mh.msg_flags & MSG_TRUNC) ||
	    ntohl(m.magic) != QLB_HP_MAGIC || m.version != QLB_HP_VERSION ||
	    m.type != QLB_HP_PROBE || !src_trusted(r, &from) || !rate_ok(r)) {
		r->refused++;
		return 0;
	}
	memset(cout.buf, 0, sizeof(cout.buf));
	/* answer from the address the probe was sent to (the VIP): the
	 * same return path as a server's answer to a client */
	{
		struct msghdr in = mh;

		mh.msg_control = cout.buf;
		for (c = CMSG_FIRSTHDR(&in); c; c = CMSG_NXTHDR(&in, c)) {
			struct cmsghdr *o = (struct cmsghdr *)cout.buf;

			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				dst.family = AF_INET;
				dst.v4 = pi.ipi_addr;
				pi.ipi_spec_dst = pi.ipi_addr;
				pi.ipi_ifindex = 0;
				mh.msg_controllen =
					put_cmsg(o, IPPROTO_IP, IP_PKTINFO, &pi,
						 sizeof(pi));
				have_dst = true;
			} else if (c->cmsg_level == IPPROTO_IPV6 &&
				   c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				dst.family = AF_INET6;
				dst.v6 = pi.ipi6_addr;
				pi.ipi6_ifindex = 0;
				mh.msg_controllen =
					put_cmsg(o, IPPROTO_IPV6, IPV6_PKTINFO,
						 &pi, sizeof(pi));
				have_dst = true;
			}
		}
	}
	if (!have_dst) {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	m.host[sizeof(m.host) - 1] = 0;
	/* the service the probe is for: the one it names, else the one of
	 * the VIP it went to; -1 = every VIP group, as before services */
	svc = qlb_hp_service_of(r->cfg, m.flags, ntohl(m.service), &dst);
	if (strcmp(m.host, r->cfg->host.name)) {
		st = QLB_HP_WRONG_HOST;
		ng = nb = 0;
	} else {
		st = qlb_probe_resp_check(r, svc, &ng, &nb);
	}
	/* the verdict speaks for the service the probe named when it
	 * checked that service's groups, or every group of a file with one
	 * service (they are all that service's) */
	m.flags &= QLB_HP_F_SERVICE;
	if ((m.flags & QLB_HP_F_SERVICE) &&
	    (svc >= 0 || r->cfg->nservices <= 1))
		m.flags |= QLB_HP_F_SERVICE_CHECKED;
	m.type = QLB_HP_ANSWER;
	m.status = (uint8_t)st;
	m.ngroups = htons((uint16_t)(ng > 0xffff ? 0xffff : ng));
	m.nbad = htons((uint16_t)(nb > 0xffff ? 0xffff : nb));
	memset(m.host, 0, sizeof(m.host));
	snprintf(m.host, sizeof(m.host), "%s", r->cfg->host.name);
	mh.msg_flags = 0;
	if (sendmsg(fd, &mh, MSG_DONTWAIT) == (ssize_t)sizeof(m))
		r->answered++;
	return 0;
}

void qlb_probe_resp_input(struct qlb_probe_resp *r, int fd)
{
	int k;

	for (k = 0; k < 64; k++)
		if (resp_one(r, fd) < 0)
			break;
}
