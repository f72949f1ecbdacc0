// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host agent daemon (qlbctl agent -f qlb.yaml): loads and pins the
 * decapsulation and SK_REUSEPORT programs and their maps under
 * host.pin_dir, serves host.agent_socket where servers register their
 * sockets, assigns worker IDs, runs socket generations, and pushes config
 * changes. The data plane lives in the pinned maps: the agent may die and
 * restart at any time; it then rebuilds its view from those maps.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "common.h"
#include "config.h"
#include "agent.h"
#include "qlb/host_abi.h"
#include "qlb/agent_proto.h"
#include "qlb/libqlb.h"
#include "qlb_reuseport.skel.h"
#include "qlb_decap.skel.h"

#define AG_MAX_CONNS 1024
#define AG_RBUF	     512 /* peers only send small requests */
#define AG_CHECK_MS  200 /* socket liveness poll */

struct ag_conn {
	int fd;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int worker;	/* registered through here, or -1 */
	int pending_fd; /* SCM_RIGHTS not yet consumed */
	size_t rlen;
	uint8_t rbuf[AG_RBUF];
};

struct ag_worker {
	struct qlb_worker_rec rec;
	int conn; /* index into conns[], or -1 */
};

struct ag_gen {
	uint32_t gen;
	struct qlb_gen_rec rec;
	uint32_t live; /* counted by ag_update_gens() */
};

struct agent {
	const char *cfg_path;
	struct qlb_config cfg;
	const struct qlb_conf_host *me;
	char sock_path[PATH_MAX];
	char pin_dir[PATH_MAX];
	struct qlb_reuseport *rp;
	struct qlb_decap *dc;
	int prog_rp, prog_dc;
	int m_socks, m_hcfg, m_work, m_worksel, m_workers, m_gens;
	int m_rp_stats, m_dc_stats, m_dc_cfg;
	int ifindex, xdp_mode; /* 1 native, 2 generic */
	int lfd, sfd;
	struct ag_conn *conns[AG_MAX_CONNS];
	struct ag_worker *workers; /* QLB_HOST_MAX_WORKERS */
	uint32_t max_workers, next_id;
	struct ag_gen gens[QLB_HOST_MAX_GENS];
	unsigned int ngens;
	uint32_t working;
	struct ag_group {
		struct qlb_group_key key; /* slot 0 */
		struct qlb_work_set ws;	  /* what its live buffer holds */
		bool used;
	} groups[QLB_HOST_MAX_GROUPS];
	uint64_t started_ns, refused;
	bool stop;
};

static uint64_t now_real_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void ag_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ag_log(const char *fmt, ...)
{
	char ts[32];
	struct timespec t;
	struct tm tm;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld qlb-agent: ", ts, t.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX], *p;

	if (strlen(path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp, path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- configuration -------------------------------------------------- */

/*
 * ag_load() - read and check @path for the agent. Nothing running is
 * touched. Return: 0 or -1 (reasons printed).
 */
static int ag_load(const char *path, struct qlb_config *cfg,
		   const struct qlb_conf_host **me)
{
	if (qlb_config_load(path, cfg, stderr))
		return -1;
	if (!cfg->host.present) {
		ag_log("%s: no host: section (the agent needs host.name)",
		       path);
		goto bad;
	}
	*me = qlb_config_host(cfg, cfg->host.name);
	if (!*me) {
		ag_log("%s: host.name '%s' names no entry of hosts:", path,
		       cfg->host.name);
		goto bad;
	}
	return 0;
bad:
	qlb_config_free(cfg);
	return -1;
}

/* Worker IDs must fit the worker bits of every config this host uses. */
static uint32_t ag_max_workers(const struct qlb_config *cfg,
			       const struct qlb_conf_host *me)
{
	uint32_t max = QLB_HOST_MAX_WORKERS;
	unsigned int id;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *c = &cfg->configs[id];

		if (c->present && me->has_sid[id] &&
		    (1u << c->worker_bits) < max)
			max = 1u << c->worker_bits;
	}
	return max;
}

/*
 * ag_write_hcfg() - publish the decode state of every config. An entry
 * that changes is first written absent, then whole: an array update is a
 * plain copy, and a program reading it meanwhile must never see a key
 * half old and half new as a present config.
 */
static int ag_write_hcfg(struct agent *ag)
{
	unsigned int id;

	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		struct qlb_host_cfg old, hc;
		const struct qlb_conf_cid *c = &ag->cfg.configs[id];
		__u32 k = id;

		memset(&hc, 0, sizeof(hc));
		if (c->present && ag->me->has_sid[id]) {
			if (qlb_config_cid_cfg(&ag->cfg, id, &hc.cid)) {
				ag_log("config %u: cannot build its codec "
				       "state",
				       id);
				return -EINVAL;
			}
			memcpy(hc.host_sid, ag->me->sid[id], c->sid_len);
			hc.present = 1;
		}
		if (bpf_map_lookup_elem(ag->m_hcfg, &k, &old))
			memset(&old, 0, sizeof(old));
		/* same content, same epoch; changed content, a new epoch, so
		 * decisions cached under the old entry are never reused */
		hc.epoch = old.epoch;
		if (!memcmp(&old, &hc, sizeof(hc))) {
			/* round keys do not stay on the stack */
			explicit_bzero(&old, sizeof(old));
			explicit_bzero(&hc, sizeof(hc));
			continue;
		}
		if (old.present) {
			old.present = 0;
			if (bpf_map_update_elem(ag->m_hcfg, &k, &old, BPF_ANY))
				return -errno;
		}
		hc.epoch = old.epoch + 1 ? old.epoch + 1 : 1;
		if (hc.present) {
			hc.present = 0;
			if (bpf_map_update_elem(ag->m_hcfg, &k, &hc, BPF_ANY))
				return -errno;
			hc.present = 1;
		}
		if (bpf_map_update_elem(ag->m_hcfg, &k, &hc, BPF_ANY))
			return -errno;
		explicit_bzero(&old, sizeof(old));
		explicit_bzero(&hc, sizeof(hc));
	}
	return 0;
}

static int ag_write_dc_cfg(struct agent *ag)
{
	struct qlb_dc_cfg d = {0};
	__u32 k = 0;

	if (ag->me->address.family == AF_INET) {
		memcpy(&d.addr4, &ag->me->address.v4, 4);
		d.has4 = 1;
	} else if (ag->me->address.family == AF_INET6) {
		memcpy(d.addr6, &ag->me->address.v6, 16);
		d.has6 = 1;
	}
	d.gue_port = htons(ag->cfg.host.gue_port);
	return bpf_map_update_elem(ag->m_dc_cfg, &k, &d, BPF_ANY) ? -errno : 0;
}

/* Attach (or atomically replace) the decap program on host.interface. */
static int ag_attach_xdp(struct agent *ag)
{
	const char *ifname = ag->cfg.host.interface;
	int ifindex, err;

	if (!*ifname) {
		ag->ifindex = 0;
		return 0;
	}
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		ag_log("cannot attach decapsulation to %s: no such interface",
		       ifname);
		return -ENODEV;
	}
	/* Never replace somebody else's XDP program (an LB node's on the same
	 * machine, a firewall): only an older qlb_decap is ours to swap. */
	{
		__u32 ids[2] = {0, 0};
		int k;

		bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &ids[0]);
		bpf_xdp_query_id(ifindex, XDP_FLAGS_SKB_MODE, &ids[1]);
		for (k = 0; k < 2; k++) {
			struct bpf_prog_info info = {0};
			__u32 len = sizeof(info);
			int fd;

			if (!ids[k])
				continue;
			fd = bpf_prog_get_fd_by_id(ids[k]);
			if (fd >= 0 &&
			    !bpf_obj_get_info_by_fd(fd, &info, &len) &&
			    !strcmp(info.name, "qlb_decap")) {
				close(fd);
				continue;
			}
			if (fd >= 0)
				close(fd);
			ag_log("cannot attach decapsulation to %s: XDP program "
			       "%u "
			       "(%s) is attached there already; not replacing "
			       "it",
			       ifname, ids[k], info.name[0] ? info.name : "?");
			return -EBUSY;
		}
	}
	if (ag->ifindex && ag->ifindex != ifindex) {
		/* interface changed by a reload: leave the old one clean */
		bpf_xdp_detach(ag->ifindex, XDP_FLAGS_DRV_MODE, NULL);
		bpf_xdp_detach(ag->ifindex, XDP_FLAGS_SKB_MODE, NULL);
	}
	err = bpf_xdp_attach(ifindex, ag->prog_dc, XDP_FLAGS_DRV_MODE, NULL);
	if (!err) {
		ag->xdp_mode = 1;
	} else {
		err = bpf_xdp_attach(ifindex, ag->prog_dc, XDP_FLAGS_SKB_MODE,
				     NULL);
		if (err) {
			ag_log("cannot attach decapsulation to %s: %s", ifname,
			       strerror(-err));
			return err;
		}
		ag->xdp_mode = 2;
	}
	ag->ifindex = ifindex;
	return 0;
}

/* ---- data plane ----------------------------------------------------- */

static int ag_pin_prog(struct agent *ag, int fd, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", ag->pin_dir, name);
	unlink(path); /* an older agent's program: still attached, kept alive */
	if (bpf_obj_pin(fd, path)) {
		ag_log("cannot pin %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * Pin every map of @obj under pin_dir by its name; libbpf then reuses a
 * map already pinned there (the running data plane) instead of making a
 * new one, and refuses one of another layout. Set here rather than with
 * LIBBPF_PIN_BY_NAME in the object, so a plain bpftool load of the object
 * pins nothing under /sys/fs/bpf.
 */
static int ag_set_pins(struct agent *ag, struct bpf_object *obj)
{
	char path[PATH_MAX + 64];
	struct bpf_map *m;
	int err;

	bpf_object__for_each_map(m, obj)
	{
		if (bpf_map__is_internal(m))
			continue; /* .rodata (AES tables) is per program */
		snprintf(path, sizeof(path), "%s/%s", ag->pin_dir,
			 bpf_map__name(m));
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

/* libbpf's own log (verifier output included) only with -v. */
static int ag_libbpf_print(enum libbpf_print_level level, const char *fmt,
			   va_list ap)
{
	if (!qlb_verbose || (level == LIBBPF_DEBUG && qlb_verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Program and map descriptors of the loaded objects (fuzzers reuse it). */
static void ag_take_fds(struct agent *ag)
{
	ag->prog_rp = bpf_program__fd(ag->rp->progs.qlb_reuseport_select);
	ag->prog_dc = bpf_program__fd(ag->dc->progs.qlb_decap);
	ag->m_socks = bpf_map__fd(ag->rp->maps.qlb_socks);
	ag->m_hcfg = bpf_map__fd(ag->rp->maps.qlb_hcfg);
	ag->m_work = bpf_map__fd(ag->rp->maps.qlb_work);
	ag->m_worksel = bpf_map__fd(ag->rp->maps.qlb_worksel);
	ag->m_workers = bpf_map__fd(ag->rp->maps.qlb_workers);
	ag->m_gens = bpf_map__fd(ag->rp->maps.qlb_gens);
	ag->m_rp_stats = bpf_map__fd(ag->rp->maps.qlb_rp_stats);
	ag->m_dc_cfg = bpf_map__fd(ag->dc->maps.qlb_dc_cfg);
	ag->m_dc_stats = bpf_map__fd(ag->dc->maps.qlb_dc_stats);
}

static int ag_open_dataplane(struct agent *ag)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	int err;

	libbpf_set_print(ag_libbpf_print);
	err = mkdir_p(ag->pin_dir, 0700);
	if (err) {
		ag_log("cannot create %s: %s", ag->pin_dir, strerror(-err));
		return err;
	}
	ag->rp = qlb_reuseport__open_opts(&oo);
	ag->dc = qlb_decap__open_opts(&oo);
	if (!ag->rp || !ag->dc) {
		ag_log("cannot open the BPF objects: %s", strerror(errno));
		return -errno;
	}
	if (ag_set_pins(ag, ag->rp->obj) || ag_set_pins(ag, ag->dc->obj)) {
		ag_log("cannot set pin paths under %s", ag->pin_dir);
		return -EINVAL;
	}
	err = qlb_reuseport__load(ag->rp);
	if (err) {
		ag_log("cannot load qlb_reuseport_select (pinned maps under %s "
		       "of another layout? -v shows the verifier): %s",
		       ag->pin_dir, strerror(-err));
		return err;
	}
	err = qlb_decap__load(ag->dc);
	if (err) {
		ag_log("cannot load qlb_decap: %s", strerror(-err));
		return err;
	}
	ag_take_fds(ag);
	err = ag_pin_prog(ag, ag->prog_rp, QLB_PIN_PROG_RP);
	if (!err)
		err = ag_pin_prog(ag, ag->prog_dc, QLB_PIN_PROG_DC);
	return err;
}

/* The cookie of the socket in slot @id, 0 when the slot is empty. */
static uint64_t ag_slot_cookie(struct agent *ag, uint32_t id)
{
	__u64 cookie = 0;

	if (bpf_map_lookup_elem(ag->m_socks, &id, &cookie))
		return 0;
	return cookie;
}

static struct ag_gen *ag_gen_find(struct agent *ag, uint32_t gen)
{
	unsigned int i;

	for (i = 0; i < ag->ngens; i++)
		if (ag->gens[i].gen == gen)
			return &ag->gens[i];
	return NULL;
}

static struct ag_gen *ag_gen_get(struct agent *ag, uint32_t gen)
{
	struct ag_gen *g = ag_gen_find(ag, gen);

	if (g)
		return g;
	if (ag->ngens >= QLB_HOST_MAX_GENS) {
		/* full: reuse the oldest declared generation that never got a
		 * socket, so declarations alone cannot block every new
		 * generation (they persist in the pinned map) */
		unsigned int i;

		for (i = 0; i < ag->ngens; i++) {
			struct ag_gen *e = &ag->gens[i];

			if (e->rec.state == QLB_GEN_NEW && !e->live &&
			    (!g || e->rec.since_ns < g->rec.since_ns))
				g = e;
		}
		if (!g)
			return NULL;
		bpf_map_delete_elem(ag->m_gens, &g->gen);
		ag_log("generation %u: declared but never registered a "
		       "socket; dropped to make room",
		       g->gen);
	} else {
		g = &ag->gens[ag->ngens++];
	}
	memset(g, 0, sizeof(*g));
	g->gen = gen;
	g->rec.state = QLB_GEN_NEW;
	g->rec.since_ns = now_real_ns();
	return g;
}

/* The group of a bound socket, from getsockname(). */
static int ag_group_of(int fd, struct qlb_group_key *g)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);

	memset(g, 0, sizeof(*g));
	if (getsockname(fd, (struct sockaddr *)&a, &l))
		return -errno;
	g->family = a.ss_family;
	if (a.ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const void *)&a;

		g->port = ntohs(v4->sin_port);
		memcpy(&g->addr[0], &v4->sin_addr, 4);
	} else if (a.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const void *)&a;

		g->port = ntohs(v6->sin6_port);
		memcpy(g->addr, &v6->sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

static struct ag_group *ag_group_get(struct agent *ag,
				     const struct qlb_group_key *k)
{
	struct ag_group *free_g = NULL;
	unsigned int i;

	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		struct ag_group *g = &ag->groups[i];

		if (g->used && !memcmp(&g->key, k, sizeof(*k)))
			return g;
		if (!g->used && !free_g)
			free_g = g;
	}
	if (free_g) {
		memset(free_g, 0, sizeof(*free_g));
		free_g->key = *k;
		free_g->used = true;
	}
	return free_g;
}

/* Publish @ws as group @g's working set: fill the slot the program does
 * not read, then switch to it. */
static int ag_publish(struct agent *ag, struct ag_group *g,
		      const struct qlb_work_set *ws)
{
	struct qlb_group_key k = g->key;
	__u32 sel = 0, slot;

	k.slot = 0;
	bpf_map_lookup_elem(ag->m_worksel, &k, &sel);
	slot = (sel & 1) ^ 1;
	k.slot = slot;
	if (bpf_map_update_elem(ag->m_work, &k, ws, BPF_ANY))
		return -errno;
	k.slot = 0;
	if (bpf_map_update_elem(ag->m_worksel, &k, &slot, BPF_ANY))
		return -errno;
	g->ws = *ws;
	return 0;
}

/*
 * ag_recover() - rebuild the agent's view from the pinned maps: workers
 * whose socket is still in its slot, generations, the working one.
 */
static void ag_recover(struct agent *ag)
{
	struct qlb_work_set ws;
	__u32 k, next, sel = 0;
	struct qlb_gen_rec gr;
	unsigned int live = 0, stale = 0;
	uint32_t id;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		struct qlb_worker_rec r;

		if (bpf_map_lookup_elem(ag->m_workers, &id, &r) || !r.in_use)
			continue;
		if (r.cookie && ag_slot_cookie(ag, id) == r.cookie) {
			ag->workers[id].rec = r;
			/* round robin goes on after the newest ID */
			ag->next_id = id + 1;
			live++;
		} else {
			memset(&r, 0, sizeof(r));
			bpf_map_update_elem(ag->m_workers, &id, &r, BPF_ANY);
			stale++;
		}
	}
	if (bpf_map_get_next_key(ag->m_gens, NULL, &k) == 0) {
		do {
			if (!bpf_map_lookup_elem(ag->m_gens, &k, &gr)) {
				struct ag_gen *g = ag_gen_get(ag, k);

				if (g)
					g->rec = gr;
			}
		} while (bpf_map_get_next_key(ag->m_gens, &k, &next) == 0 &&
			 (k = next, 1));
	}
	{
		struct qlb_group_key gk, gnext;
		bool first = true;

		while (bpf_map_get_next_key(ag->m_worksel, first ? NULL : &gk,
					    &gnext) == 0) {
			struct ag_group *g;

			first = false;
			gk = gnext;
			if (bpf_map_lookup_elem(ag->m_worksel, &gk, &sel))
				continue;
			g = ag_group_get(ag, &gk);
			gnext = gk;
			gnext.slot = sel & 1;
			if (!g || bpf_map_lookup_elem(ag->m_work, &gnext, &ws))
				continue;
			g->ws = ws;
			if (ws.generation)
				ag->working = ws.generation;
		}
	}
	if (live || stale || ag->working)
		ag_log("recovered from %s: %u live workers, %u closed, working "
		       "generation %u",
		       ag->pin_dir, live, stale, ag->working);
}

/* ---- connections ---------------------------------------------------- */

static int ag_send(struct ag_conn *c, uint16_t type, const void *body,
		   uint32_t len)
{
	struct qlb_ap_hdr h = {
		.magic = QLB_AP_MAGIC,
		.version = QLB_AP_VERSION,
		.type = type,
		.len = len,
	};
	struct iovec iov[2] = {
		{.iov_base = &h, .iov_len = sizeof(h)},
		{.iov_base = (void *)body, .iov_len = len},
	};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	size_t want = sizeof(h) + len, done = 0;

	/* the socket has a send timeout: a peer that does not read is cut */
	while (done < want) {
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
		while (n > 0 && m.msg_iovlen) {
			if ((size_t)n >= m.msg_iov[0].iov_len) {
				n -= (ssize_t)m.msg_iov[0].iov_len;
				m.msg_iov++;
				m.msg_iovlen--;
			} else {
				m.msg_iov[0].iov_base =
					(char *)m.msg_iov[0].iov_base + n;
				m.msg_iov[0].iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

static int ag_result(struct ag_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ag_result(struct ag_conn *c, int code, const char *fmt, ...)
{
	struct qlb_ap_result r = {.code = code};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	return ag_send(c, QLB_AP_RESULT, &r, sizeof(r));
}

/* The configs a worker mints under, with its own server IDs. */
static void ag_build_configs(struct agent *ag, uint32_t worker,
			     struct qlb_ap_configs *m)
{
	unsigned int id;

	memset(m, 0, sizeof(*m));
	for (id = 0; id < QLB_CONFIG_MAX; id++) {
		const struct qlb_conf_cid *c = &ag->cfg.configs[id];
		struct qlb_ap_config *a;
		unsigned int sl, b;

		if (!c->present || !ag->me->has_sid[id])
			continue;
		a = &m->cfg[m->count++];
		a->id = id;
		a->sid_len = c->sid_len;
		a->nonce_len = c->nonce_len;
		a->worker_bits = c->worker_bits;
		a->flags = (c->has_key ? QLB_AP_CF_KEY : 0) |
			   (c->encode_length ? QLB_AP_CF_ENCODE_LEN : 0);
		a->state = c->state;
		if (c->has_key)
			memcpy(a->key, c->key, 16);
		sl = c->sid_len;
		memcpy(a->sid, ag->me->sid[id], sl);
		/* server ID = host part | worker ID in the low worker bits */
		for (b = 0; b < c->worker_bits && b < 32; b += 8)
			a->sid[sl - 1 - b / 8] |= (uint8_t)(worker >> b);
	}
}

static int ag_send_configs(struct agent *ag, struct ag_conn *c)
{
	struct qlb_ap_configs m;
	int err;

	ag_build_configs(ag, (uint32_t)c->worker, &m);
	err = ag_send(c, QLB_AP_CONFIGS, &m, sizeof(m));
	explicit_bzero(&m, sizeof(m));
	return err;
}

static void ag_close_conn(struct agent *ag, int i)
{
	struct ag_conn *c = ag->conns[i];

	if (!c)
		return;
	if (c->worker >= 0 && ag->workers[c->worker].conn == i)
		ag->workers[c->worker].conn = -1;
	if (c->pending_fd >= 0)
		close(c->pending_fd);
	close(c->fd);
	free(c);
	ag->conns[i] = NULL;
}

/* ---- generations ---------------------------------------------------- */

static void ag_push_generation(struct agent *ag)
{
	struct qlb_ap_generation m = {.working_generation = ag->working};
	int i;

	for (i = 0; i < AG_MAX_CONNS; i++) {
		struct ag_conn *c = ag->conns[i];

		/* a peer that cannot take it is shut down, not freed: this
		 * runs inside request handlers that still hold their conn;
		 * the main loop closes it when poll() reports the hangup */
		if (c && c->worker >= 0 &&
		    ag_send(c, QLB_AP_GENERATION, &m, sizeof(m)))
			shutdown(c->fd, SHUT_RDWR);
	}
}

/*
 * ag_write_work_set() - give every SO_REUSEPORT group the working
 * generation's sockets of that group; forget groups without any socket.
 */
static void ag_write_work_set(struct agent *ag)
{
	static struct qlb_work_set ws;
	unsigned int i;
	uint32_t id;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		if (ag->workers[id].rec.in_use &&
		    !ag_group_get(ag, &ag->workers[id].rec.group))
			ag_log("more than %d socket groups: worker %u has no "
			       "fallback set",
			       QLB_HOST_MAX_GROUPS, id);
	}
	for (i = 0; i < QLB_HOST_MAX_GROUPS; i++) {
		struct ag_group *g = &ag->groups[i];
		bool any = false;

		if (!g->used)
			continue;
		memset(&ws, 0, sizeof(ws));
		ws.generation = ag->working;
		for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
			const struct qlb_worker_rec *r = &ag->workers[id].rec;

			if (!r->in_use ||
			    memcmp(&r->group, &g->key, sizeof(g->key)))
				continue;
			any = true;
			if (ag->working && r->generation == ag->working &&
			    ws.nworkers < QLB_HOST_GEN_MAX)
				ws.workers[ws.nworkers++] = id;
		}
		if (!any) {
			struct qlb_group_key k = g->key;

			/* the group is gone with its last socket */
			k.slot = 0;
			bpf_map_delete_elem(ag->m_worksel, &k);
			bpf_map_delete_elem(ag->m_work, &k);
			k.slot = 1;
			bpf_map_delete_elem(ag->m_work, &k);
			g->used = false;
			continue;
		}
		if (ws.generation == g->ws.generation &&
		    ws.nworkers == g->ws.nworkers &&
		    !memcmp(ws.workers, g->ws.workers,
			    ws.nworkers * sizeof(__u32)))
			continue;
		if (ag_publish(ag, g, &ws))
			ag_log("cannot write a working set: %s",
			       strerror(errno));
	}
}

/*
 * ag_update_gens() - recount generations and decide the working one:
 * none or an empty one gives way to the newest live generation; a NEW
 * generation takes over once it has its declared size (or host.workers)
 * of live sockets. The previously working generation drains: its CIDs
 * still reach it, new connections no longer do.
 */
static void ag_update_gens(struct agent *ag, uint32_t promote)
{
	uint32_t old = ag->working, id, best = 0;
	unsigned int i, j;

	for (i = 0; i < ag->ngens; i++)
		ag->gens[i].live = 0;
	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		struct ag_gen *g;

		if (!ag->workers[id].rec.in_use)
			continue;
		g = ag_gen_get(ag, ag->workers[id].rec.generation);
		if (g)
			g->live++;
	}
	if (promote) {
		ag->working = promote;
	} else {
		struct ag_gen *w = ag_gen_find(ag, ag->working);

		if (!w || !w->live)
			ag->working = 0;
		for (i = 0; i < ag->ngens; i++) {
			struct ag_gen *g = &ag->gens[i];
			uint32_t size = g->rec.size ? g->rec.size
						    : ag->cfg.host.workers;

			if (!g->live)
				continue;
			if (!ag->working) {
				if (g->gen > best)
					best = g->gen;
			} else if (g->gen > ag->working &&
				   g->rec.state == QLB_GEN_NEW && size &&
				   g->live >= size && g->gen > best) {
				best = g->gen;
			}
		}
		if (best)
			ag->working = best;
	}
	for (i = 0, j = 0; i < ag->ngens; i++) {
		struct ag_gen *g = &ag->gens[i];
		uint32_t st = g->rec.state;

		if (g->gen == ag->working)
			st = QLB_GEN_WORKING;
		else if (st == QLB_GEN_WORKING)
			st = QLB_GEN_DRAINING;
		else if (st == QLB_GEN_NEW && ag->working &&
			 g->gen < ag->working)
			st = QLB_GEN_DRAINING;
		if (st != g->rec.state) {
			g->rec.state = st;
			g->rec.since_ns = now_real_ns();
		}
		/* a generation is gone once its last socket closed; a NEW one
		 * may wait for its first socket */
		if (!g->live && st != QLB_GEN_NEW) {
			bpf_map_delete_elem(ag->m_gens, &g->gen);
			if (st == QLB_GEN_DRAINING)
				ag_log("generation %u drained: its last socket "
				       "closed",
				       g->gen);
			continue;
		}
		bpf_map_update_elem(ag->m_gens, &g->gen, &g->rec, BPF_ANY);
		ag->gens[j++] = *g;
	}
	ag->ngens = j;
	ag_write_work_set(ag);
	if (ag->working != old) {
		ag_log("working generation %u -> %u", old, ag->working);
		ag_push_generation(ag);
	}
}

static void ag_drop_worker(struct agent *ag, uint32_t id, const char *why)
{
	struct ag_worker *w = &ag->workers[id];
	struct qlb_worker_rec zero = {0};

	ag_log("worker %u (generation %u, pid %u) %s", id, w->rec.generation,
	       w->rec.pid, why);
	if (w->conn >= 0 && ag->conns[w->conn])
		ag->conns[w->conn]->worker = -1;
	w->conn = -1;
	w->rec = zero;
	bpf_map_update_elem(ag->m_workers, &id, &zero, BPF_ANY);
}

/* Workers whose socket left its slot (closed) are gone. */
static void ag_check_workers(struct agent *ag)
{
	bool changed = false;
	uint32_t id;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++) {
		if (!ag->workers[id].rec.in_use)
			continue;
		if (ag_slot_cookie(ag, id) == ag->workers[id].rec.cookie)
			continue;
		ag_drop_worker(ag, id, "closed its socket");
		changed = true;
	}
	if (changed)
		ag_update_gens(ag, 0);
}

/* ---- requests ------------------------------------------------------- */

static int sock_int(int fd, int level, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &l))
		return -1;
	return v;
}

/* Why @fd cannot be a worker socket, or NULL; @g gets its group. */
static const char *ag_bad_socket(int fd, struct qlb_group_key *g)
{
	if (sock_int(fd, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
	    sock_int(fd, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_UDP)
		return "not a UDP socket";
	if (sock_int(fd, SOL_SOCKET, SO_REUSEPORT) != 1)
		return "SO_REUSEPORT is not set";
	if (ag_group_of(fd, g))
		return "getsockname failed or not IP";
	if (!g->port)
		return "not bound";
	return NULL;
}

static int ag_alloc_id(struct agent *ag, int prefer)
{
	uint32_t i, id;

	if (prefer >= 0 && (uint32_t)prefer < ag->max_workers &&
	    !ag->workers[prefer].rec.in_use &&
	    !ag_slot_cookie(ag, (uint32_t)prefer))
		return prefer;
	/* round robin: a freed ID is reused as late as possible, so stale
	 * CIDs of a closed worker rarely meet its successor */
	for (i = 0; i < ag->max_workers; i++) {
		id = (ag->next_id + i) % ag->max_workers;
		if (ag->workers[id].rec.in_use || ag_slot_cookie(ag, id))
			continue;
		ag->next_id = (id + 1) % ag->max_workers;
		return (int)id;
	}
	return -1;
}

static void ag_registered(struct agent *ag, struct ag_conn *c)
{
	const struct ag_worker *w = &ag->workers[c->worker];
	struct qlb_ap_registered m = {
		.worker_id = (uint32_t)c->worker,
		.generation = w->rec.generation,
		.working_generation = ag->working,
		.cookie = w->rec.cookie,
	};

	if (ag_send(c, QLB_AP_REGISTERED, &m, sizeof(m)) == 0)
		ag_send_configs(ag, c);
}

/* Register c->pending_fd as a worker of @gen (with worker ID @prefer if free).
 */
static void ag_do_register(struct agent *ag, int ci, uint32_t gen,
			   uint32_t gen_size, int prefer)
{
	struct ag_conn *c = ag->conns[ci];
	struct qlb_worker_rec rec = {0};
	const char *bad;
	socklen_t l = sizeof(rec.cookie);
	struct ag_gen *g;
	__u64 v;
	int id, fd = c->pending_fd;

	if (c->worker >= 0) {
		ag_result(c, -EALREADY,
			  "this connection registered worker %d "
			  "already (one socket per connection)",
			  c->worker);
		return;
	}
	if (fd < 0) {
		ag_result(c, -EBADF, "no socket came with the request");
		return;
	}
	if (gen == 0) {
		ag_result(c, -EINVAL, "generation 0 is reserved");
		return;
	}
	if (ag->working && gen < ag->working && !ag_gen_find(ag, gen)) {
		ag_result(c, -ESTALE,
			  "generation %u is older than the working "
			  "generation %u",
			  gen, ag->working);
		return;
	}
	bad = ag_bad_socket(fd, &rec.group);
	if (bad) {
		ag_result(c, -EINVAL, "socket refused: %s", bad);
		return;
	}
	{
		uint64_t ck = 0;
		socklen_t cl = sizeof(ck);
		uint32_t k;

		getsockopt(fd, SOL_SOCKET, SO_COOKIE, &ck, &cl);
		for (k = 0; ck && k < QLB_HOST_MAX_WORKERS; k++) {
			if (!ag->workers[k].rec.in_use ||
			    ag->workers[k].rec.cookie != ck)
				continue;
			/* one socket, one worker ID: a second slot would
			 * split its CIDs between two IDs */
			ag_result(c, -EEXIST,
				  "this socket is worker %u already "
				  "(RESUME re-attaches it)",
				  k);
			return;
		}
	}
	g = ag_gen_get(ag, gen);
	if (!g) {
		ag_result(c, -ENOSPC, "too many live generations (%d)",
			  QLB_HOST_MAX_GENS);
		return;
	}
	id = ag_alloc_id(ag, prefer);
	if (id < 0) {
		ag_result(c, -ENOSPC,
			  "no worker ID left (%u, the smallest "
			  "2^worker_bits of this host's configs)",
			  ag->max_workers);
		return;
	}
	v = (__u64)fd;
	if (bpf_map_update_elem(ag->m_socks, &id, &v, BPF_ANY)) {
		ag_result(c, -errno, "cannot put the socket in %s: %s",
			  QLB_PIN_SOCKS, strerror(errno));
		return;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &ag->prog_rp,
		       sizeof(ag->prog_rp))) {
		int e = errno;

		bpf_map_delete_elem(ag->m_socks, &id);
		ag_result(c, -e, "cannot attach %s to the socket's group: %s",
			  QLB_PIN_PROG_RP, strerror(e));
		return;
	}
	getsockopt(fd, SOL_SOCKET, SO_COOKIE, &rec.cookie, &l);
	rec.registered_ns = now_real_ns();
	rec.generation = gen;
	rec.pid = (uint32_t)c->pid;
	rec.uid = c->uid;
	rec.in_use = 1;
	bpf_map_update_elem(ag->m_workers, &id, &rec, BPF_ANY);
	ag->workers[id].rec = rec;
	ag->workers[id].conn = ci;
	c->worker = id;
	if (gen_size && !g->rec.size)
		g->rec.size = gen_size;
	/* the sockarray holds no reference: the server's close ends it */
	close(fd);
	c->pending_fd = -1;
	ag_log("registered worker %d generation %u pid %d uid %u", id, gen,
	       (int)c->pid, (unsigned int)c->uid);
	ag_update_gens(ag, 0);
	ag_registered(ag, c);
}

static void ag_do_resume(struct agent *ag, int ci,
			 const struct qlb_ap_resume *m)
{
	struct ag_conn *c = ag->conns[ci];
	uint64_t cookie = 0;
	socklen_t l = sizeof(cookie);
	uint32_t id = m->worker_id;
	struct ag_worker *w;

	if (c->worker >= 0 || c->pending_fd < 0) {
		ag_result(c, -EINVAL,
			  "RESUME needs a fresh connection and its socket");
		return;
	}
	if (getsockopt(c->pending_fd, SOL_SOCKET, SO_COOKIE, &cookie, &l) ||
	    id >= QLB_HOST_MAX_WORKERS) {
		ag_result(c, -EINVAL, "RESUME: bad socket or worker ID");
		return;
	}
	w = &ag->workers[id];
	if (ag_slot_cookie(ag, id) != cookie) {
		/* not in its slot any more (maps rebuilt): register anew,
		 * under the same ID when it is free */
		ag_log("worker %u (pid %d) re-registers: its slot no longer "
		       "holds its socket",
		       id, (int)c->pid);
		ag_do_register(ag, ci, m->generation, 0, (int)id);
		return;
	}
	if (!w->rec.in_use || w->rec.cookie != cookie) {
		/* in the socket map but unknown to us: adopt it */
		memset(&w->rec, 0, sizeof(w->rec));
		w->rec.cookie = cookie;
		w->rec.registered_ns = now_real_ns();
		w->rec.generation = m->generation;
		w->rec.in_use = 1;
		ag_group_of(c->pending_fd, &w->rec.group);
	}
	w->rec.pid = (uint32_t)c->pid;
	w->rec.uid = c->uid;
	bpf_map_update_elem(ag->m_workers, &id, &w->rec, BPF_ANY);
	if (w->conn >= 0 && ag->conns[w->conn] && w->conn != ci)
		ag->conns[w->conn]->worker = -1;
	w->conn = ci;
	c->worker = (int)id;
	/* a restarted agent may run a newer program: give it to the group */
	setsockopt(c->pending_fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF,
		   &ag->prog_rp, sizeof(ag->prog_rp));
	close(c->pending_fd);
	c->pending_fd = -1;
	ag_log("worker %u generation %u (pid %d) reconnected", id,
	       w->rec.generation, (int)c->pid);
	ag_update_gens(ag, 0);
	ag_registered(ag, c);
}

static void ag_sum_stats(int fd, __u64 *out, unsigned int n)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *v;
	__u32 k;
	int cpu;

	memset(out, 0, n * sizeof(*out));
	if (ncpu <= 0)
		return;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return;
	for (k = 0; k < n; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (cpu = 0; cpu < ncpu; cpu++)
			out[k] += v[cpu];
	}
	free(v);
}

static void ag_do_status(struct agent *ag, struct ag_conn *c)
{
	struct qlb_ap_status *s;
	struct qlb_ap_worker *w;
	struct qlb_ap_gen *g;
	unsigned int nw = 0, i, nc = 0;
	size_t len;
	uint32_t id;
	char *buf;

	for (id = 0; id < QLB_HOST_MAX_WORKERS; id++)
		nw += ag->workers[id].rec.in_use;
	for (i = 0; i < AG_MAX_CONNS; i++)
		nc += ag->conns[i] != NULL;
	len = sizeof(*s) + nw * sizeof(*w) + ag->ngens * sizeof(*g);
	buf = calloc(1, len);
	if (!buf) {
		ag_result(c, -ENOMEM, "out of memory");
		return;
	}
	s = (void *)buf;
	w = (void *)(s + 1);
	g = (void *)(w + nw);
	s->agent_pid = (uint32_t)getpid();
	s->working_generation = ag->working;
	s->nworkers = nw;
	s->ngens = ag->ngens;
	s->max_workers = ag->max_workers;
	s->nclients = nc;
	s->ifindex = (uint32_t)ag->ifindex;
	s->xdp_mode = (uint32_t)ag->xdp_mode;
	s->started_ns = ag->started_ns;
	s->refused = ag->refused;
	snprintf(s->host, sizeof(s->host), "%s", ag->cfg.host.name);
	ag_sum_stats(ag->m_rp_stats, s->rp_stats, QLB_RP_STAT_MAX);
	ag_sum_stats(ag->m_dc_stats, s->dc_stats, QLB_DC_STAT_MAX);
	for (id = 0, i = 0; id < QLB_HOST_MAX_WORKERS && i < nw; id++) {
		const struct ag_worker *x = &ag->workers[id];

		if (!x->rec.in_use)
			continue;
		w[i].worker_id = id;
		w[i].generation = x->rec.generation;
		w[i].pid = x->rec.pid;
		w[i].uid = x->rec.uid;
		w[i].cookie = x->rec.cookie;
		w[i].connected = x->conn >= 0;
		i++;
	}
	for (i = 0; i < ag->ngens; i++) {
		g[i].generation = ag->gens[i].gen;
		g[i].size = ag->gens[i].rec.size;
		g[i].state = ag->gens[i].rec.state;
		g[i].nworkers = ag->gens[i].live;
	}
	ag_send(c, QLB_AP_STATUS, buf, (uint32_t)len);
	free(buf);
}

/* Handle one message; return -1 to close the connection. */
static int ag_handle(struct agent *ag, int ci, const struct qlb_ap_hdr *h,
		     const uint8_t *body)
{
	struct ag_conn *c = ag->conns[ci];

	switch (h->type) {
	case QLB_AP_REGISTER: {
		const struct qlb_ap_register *m = (const void *)body;

		if (h->len != sizeof(*m) || m->flags)
			return -1;
		ag_do_register(ag, ci, m->generation, m->gen_size, -1);
		break;
	}
	case QLB_AP_RESUME:
		if (h->len != sizeof(struct qlb_ap_resume))
			return -1;
		ag_do_resume(ag, ci, (const void *)body);
		break;
	case QLB_AP_DECLARE: {
		const struct qlb_ap_gen_req *m = (const void *)body;
		struct ag_gen *g;

		if (h->len != sizeof(*m))
			return -1;
		if (!m->generation ||
		    (ag->working && m->generation < ag->working &&
		     !ag_gen_find(ag, m->generation))) {
			ag_result(c, -EINVAL, "generation %u is not a new one",
				  m->generation);
			break;
		}
		g = ag_gen_get(ag, m->generation);
		if (!g) {
			ag_result(c, -ENOSPC, "too many live generations");
			break;
		}
		if (m->size && g->rec.size != m->size) {
			g->rec.size = m->size;
			bpf_map_update_elem(ag->m_gens, &g->gen, &g->rec,
					    BPF_ANY);
			ag_update_gens(ag, 0);
		}
		ag_result(c, 0, "generation %u: size %u", m->generation,
			  g->rec.size);
		break;
	}
	case QLB_AP_PROMOTE: {
		const struct qlb_ap_gen_req *m = (const void *)body;
		struct ag_gen *g;

		if (h->len != sizeof(*m))
			return -1;
		ag_update_gens(ag, 0); /* fresh live counts */
		g = ag_gen_find(ag, m->generation);
		if (!g || !g->live) {
			ag_result(c, -ENOENT,
				  "generation %u has no live socket",
				  m->generation);
			break;
		}
		if (m->generation != ag->working) {
			ag_log("promote of generation %u asked by pid %d",
			       m->generation, (int)c->pid);
			ag_update_gens(ag, m->generation);
		}
		ag_result(c, 0, "generation %u is working", m->generation);
		break;
	}
	case QLB_AP_STATUS_REQ:
		ag_do_status(ag, c);
		break;
	default:
		ag_result(c, -EOPNOTSUPP, "unknown request %u", h->type);
		break;
	}
	return ag->conns[ci] ? 0 : -1;
}

static void ag_read(struct agent *ag, int ci)
{
	struct ag_conn *c = ag->conns[ci];
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {c->rbuf + c->rlen, AG_RBUF - c->rlen};
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;

	n = recvmsg(c->fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	for (cm = n >= 0 ? CMSG_FIRSTHDR(&m) : NULL; cm;
	     cm = CMSG_NXTHDR(&m, cm)) {
		int *fds = (int *)CMSG_DATA(cm);
		size_t k, nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < nfd; k++) {
			/* one socket per request: a newer one replaces */
			if (c->pending_fd >= 0)
				close(c->pending_fd);
			c->pending_fd = fds[k];
		}
	}
	if (n <= 0) {
		ag_close_conn(ag, ci);
		return;
	}
	c->rlen += (size_t)n;
	while (c->rlen >= sizeof(struct qlb_ap_hdr)) {
		struct qlb_ap_hdr h;

		memcpy(&h, c->rbuf, sizeof(h));
		if (h.magic != QLB_AP_MAGIC || h.version != QLB_AP_VERSION ||
		    h.len > AG_RBUF - sizeof(h)) {
			ag_result(c, -EPROTONOSUPPORT,
				  "protocol version %u "
				  "expected",
				  QLB_AP_VERSION);
			ag_log("pid %d: malformed message or other version; "
			       "closing",
			       (int)c->pid);
			ag_close_conn(ag, ci);
			return;
		}
		if (c->rlen < sizeof(h) + h.len)
			break;
		if (ag_handle(ag, ci, &h, c->rbuf + sizeof(h))) {
			ag_close_conn(ag, ci);
			return;
		}
		c = ag->conns[ci];
		memmove(c->rbuf, c->rbuf + sizeof(h) + h.len,
			c->rlen - sizeof(h) - h.len);
		c->rlen -= sizeof(h) + h.len;
	}
}

/* May this peer talk to the agent? */
static bool ag_allowed(struct agent *ag, int fd, const struct ucred *cr)
{
	const struct qlb_conf_agent *a = &ag->cfg.host;
	gid_t groups[256];
	socklen_t l = sizeof(groups);
	unsigned int i, k, n;

	/* the agent's own uid can open the pinned maps anyway */
	if (cr->uid == geteuid())
		return true;
	for (i = 0; i < a->nallow_uids; i++)
		if (a->allow_uids[i] == cr->uid)
			return true;
	for (i = 0; i < a->nallow_gids; i++)
		if (a->allow_gids[i] == cr->gid)
			return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &l))
		return false;
	n = l / sizeof(gid_t);
	for (k = 0; k < n; k++)
		for (i = 0; i < a->nallow_gids; i++)
			if (a->allow_gids[i] == groups[k])
				return true;
	return false;
}

static void ag_accept(struct agent *ag)
{
	struct qlb_ap_hello hello = {0};
	struct timeval tv = {.tv_sec = 1};
	struct ucred cr;
	socklen_t l = sizeof(cr);
	struct ag_conn *c;
	int fd, i;

	fd = accept4(ag->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (i = 0; i < AG_MAX_CONNS && ag->conns[i]; i++)
		;
	c = i < AG_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		ag_log("too many connections; refusing one");
		close(fd);
		return;
	}
	c->fd = fd;
	c->worker = -1;
	c->pending_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l)) {
		free(c);
		close(fd);
		return;
	}
	c->pid = cr.pid;
	c->uid = cr.uid;
	c->gid = cr.gid;
	ag->conns[i] = c;
	if (!ag_allowed(ag, fd, &cr)) {
		ag->refused++;
		ag_log("refused pid %d uid %u gid %u: not in host.allow_uids / "
		       "host.allow_gids",
		       (int)cr.pid, (unsigned int)cr.uid, (unsigned int)cr.gid);
		ag_result(c, -EACCES,
			  "uid %u gid %u may not use the agent of "
			  "host %s (host.allow_uids / host.allow_gids)",
			  (unsigned int)cr.uid, (unsigned int)cr.gid,
			  ag->cfg.host.name);
		ag_close_conn(ag, i);
		return;
	}
	hello.agent_pid = (uint32_t)getpid();
	hello.max_workers = ag->max_workers;
	snprintf(hello.host, sizeof(hello.host), "%s", ag->cfg.host.name);
	if (ag_send(c, QLB_AP_HELLO, &hello, sizeof(hello)))
		ag_close_conn(ag, i);
}

static int ag_listen(struct agent *ag)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[PATH_MAX], *slash;
	mode_t um;
	int fd, err;

	snprintf(dir, sizeof(dir), "%s", ag->sock_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		bool existed;

		*slash = 0;
		existed = access(dir, F_OK) == 0;
		err = mkdir_p(dir, 0750);
		if (err) {
			ag_log("cannot create %s: %s", dir, strerror(-err));
			return err;
		}
		/* servers of the allowed group must reach the socket; a
		 * directory that was there already is left as it is */
		if (!existed && ag->cfg.host.nallow_gids &&
		    chown(dir, (uid_t)-1, ag->cfg.host.allow_gids[0]))
			ag_log("cannot give %s to group %u: %s", dir,
			       ag->cfg.host.allow_gids[0], strerror(errno));
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (strlen(ag->sock_path) >= sizeof(a.sun_path)) {
		ag_log("socket path too long: %s", ag->sock_path);
		return -ENAMETOOLONG;
	}
	memcpy(a.sun_path, ag->sock_path, strlen(ag->sock_path) + 1);
	/* a live agent answers on it: do not steal its socket */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		ag_log("another agent serves %s already", ag->sock_path);
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(ag->sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	um = umask(0117);
	err = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(um);
	if (err || chmod(ag->sock_path, 0660) ||
	    (ag->cfg.host.nallow_gids &&
	     chown(ag->sock_path, (uid_t)-1, ag->cfg.host.allow_gids[0])) ||
	    listen(fd, 64)) {
		err = -errno;
		ag_log("cannot serve %s: %s", ag->sock_path, strerror(errno));
		close(fd);
		return err;
	}
	ag->lfd = fd;
	return 0;
}

/* Apply a (re)loaded config to the data plane and the servers. */
static int ag_apply(struct agent *ag)
{
	int err, i;

	err = ag_write_hcfg(ag);
	if (!err)
		err = ag_write_dc_cfg(ag);
	if (err) {
		ag_log("cannot write the data-plane config: %s",
		       strerror(-err));
		return err;
	}
	ag->max_workers = ag_max_workers(&ag->cfg, ag->me);
	if (ag->next_id >= ag->max_workers)
		ag->next_id = 0;
	for (i = 0; i < AG_MAX_CONNS; i++) {
		struct ag_conn *c = ag->conns[i];

		if (c && c->worker >= 0 && ag_send_configs(ag, c))
			shutdown(c->fd, SHUT_RDWR);
	}
	return 0;
}

static void ag_reload(struct agent *ag)
{
	struct qlb_config ncfg, ocfg;
	const struct qlb_conf_host *nme, *ome;
	char oldif[sizeof(ag->cfg.host.interface)];

	ag_log("SIGHUP: reloading %s", ag->cfg_path);
	if (ag_load(ag->cfg_path, &ncfg, &nme)) {
		ag_log("reload failed: %s is not valid; keeping the running "
		       "state",
		       ag->cfg_path);
		return;
	}
	if (strcmp(ncfg.host.agent_socket, ag->sock_path) ||
	    strcmp(ncfg.host.pin_dir, ag->pin_dir))
		ag_log("host.agent_socket and host.pin_dir take effect at the "
		       "next start only");
	ocfg = ag->cfg;
	ome = ag->me;
	memcpy(oldif, ag->cfg.host.interface, sizeof(oldif));
	ag->cfg = ncfg;
	ag->me = nme;
	if (ag_apply(ag)) {
		ag_log("reload failed; keeping the running state");
		ag->cfg = ocfg;
		ag->me = ome;
		ag_apply(ag);
		qlb_config_free(&ncfg);
		return;
	}
	if (strcmp(oldif, ag->cfg.host.interface))
		ag_attach_xdp(ag);
	qlb_config_free(&ocfg);
	ag_log("reloaded %s", ag->cfg_path);
	ag_update_gens(ag, 0);
}

int qlb_agent_run(const char *cfg_path)
{
	struct agent *ag;
	sigset_t ss;
	int err = -1, i;

	ag = calloc(1, sizeof(*ag));
	if (!ag)
		return QLB_EXIT_ERR;
	ag->workers = calloc(QLB_HOST_MAX_WORKERS, sizeof(*ag->workers));
	if (!ag->workers)
		goto out_free;
	for (i = 0; i < QLB_HOST_MAX_WORKERS; i++)
		ag->workers[i].conn = -1;
	ag->lfd = ag->sfd = -1;
	ag->cfg_path = cfg_path;
	ag->started_ns = now_real_ns();
	if (ag_load(cfg_path, &ag->cfg, &ag->me))
		goto out_free;
	snprintf(ag->sock_path, sizeof(ag->sock_path), "%s",
		 ag->cfg.host.agent_socket);
	snprintf(ag->pin_dir, sizeof(ag->pin_dir), "%s", ag->cfg.host.pin_dir);

	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	ag->sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);

	if (ag_open_dataplane(ag))
		goto out;
	ag_recover(ag);
	if (ag_apply(ag) || ag_attach_xdp(ag))
		goto out;
	ag_update_gens(ag, 0);
	if (ag_listen(ag))
		goto out;
	ag_log("serving %s for host %s (pins %s, decap on %s %s, worker IDs < "
	       "%u)",
	       ag->sock_path, ag->cfg.host.name, ag->pin_dir,
	       *ag->cfg.host.interface ? ag->cfg.host.interface : "(none)",
	       ag->xdp_mode == 1   ? "native"
	       : ag->xdp_mode == 2 ? "generic"
				   : "",
	       ag->max_workers);

	while (!ag->stop) {
		struct pollfd p[AG_MAX_CONNS + 2];
		int map[AG_MAX_CONNS + 2], np = 0, r;

		p[np] = (struct pollfd){.fd = ag->sfd, .events = POLLIN};
		map[np++] = -2;
		p[np] = (struct pollfd){.fd = ag->lfd, .events = POLLIN};
		map[np++] = -1;
		for (i = 0; i < AG_MAX_CONNS; i++) {
			if (!ag->conns[i])
				continue;
			p[np] = (struct pollfd){.fd = ag->conns[i]->fd,
						.events = POLLIN};
			map[np++] = i;
		}
		r = poll(p, (nfds_t)np, AG_CHECK_MS);
		if (r < 0 && errno != EINTR)
			break;
		for (i = 0; r > 0 && i < np; i++) {
			if (!p[i].revents)
				continue;
			if (map[i] == -2) {
				struct signalfd_siginfo si;

				while (read(ag->sfd, &si, sizeof(si)) ==
				       sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						ag_reload(ag);
					else
						ag->stop = true;
				}
			} else if (map[i] == -1) {
				ag_accept(ag);
			} else if (ag->conns[map[i]]) {
				ag_read(ag, map[i]);
			}
		}
		ag_check_workers(ag);
	}
	ag_log("stopping; the data plane keeps running from %s", ag->pin_dir);
	err = 0;
out:
	for (i = 0; i < AG_MAX_CONNS; i++)
		ag_close_conn(ag, i);
	if (ag->lfd >= 0) {
		close(ag->lfd);
		unlink(ag->sock_path);
	}
	if (ag->sfd >= 0)
		close(ag->sfd);
	qlb_reuseport__destroy(ag->rp);
	qlb_decap__destroy(ag->dc);
	qlb_config_free(&ag->cfg);
out_free:
	free(ag->workers);
	explicit_bzero(ag, sizeof(*ag));
	free(ag);
	return err ? QLB_EXIT_ERR : QLB_EXIT_OK;
}

/* qlbctl agent detach -f FILE: remove the decap program and the pins. */
int qlb_agent_detach(const char *cfg_path)
{
	static const char *const pins[] = {
		QLB_PIN_SOCKS,	  QLB_PIN_HCFG,	   QLB_PIN_WORK,
		QLB_PIN_WORKSEL,  QLB_PIN_WORKERS, QLB_PIN_GENS,
		QLB_PIN_RP_STATS, QLB_PIN_DC_CFG,  QLB_PIN_DC_STATS,
		QLB_PIN_PROG_RP,  QLB_PIN_PROG_DC,
	};
	const struct qlb_conf_host *me;
	struct qlb_config cfg;
	char path[PATH_MAX + 64];
	unsigned int i;
	int ifindex;

	if (ag_load(cfg_path, &cfg, &me))
		return QLB_EXIT_ERR;
	ifindex = *cfg.host.interface ? (int)if_nametoindex(cfg.host.interface)
				      : 0;
	if (ifindex) {
		bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
	}
	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg.host.pin_dir,
			 pins[i]);
		unlink(path);
	}
	rmdir(cfg.host.pin_dir);
	qlb_config_free(&cfg);
	return QLB_EXIT_OK;
}
