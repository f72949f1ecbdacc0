// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The host agent's data plane (agent_daemon.h): loads the decapsulation
 * and SK_REUSEPORT programs, pins them and their maps under host.pin_dir
 * (reusing what a previous agent pinned), attaches decapsulation to
 * host.interface, and publishes the config to the maps.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent_daemon.h"
#include "agent_probe.h"
#include "agent_services.h"
#include "bpf_util.h"
#include "common.h"
#include "qlb_decap.skel.h"
#include "qlb_reuseport.skel.h"

/*
 * ag_put_hcfg() - make qlb_hcfg_v2[@k] hold @hc (its epoch ignored). An
 * entry that changes is first written absent, then whole: an array update
 * is a plain copy, and a program reading it meanwhile must never see a key
 * half old and half new as a present config. A changed entry takes a new
 * epoch, unique over all rows, so decisions cached under the old entry, or
 * under another service's, are never reused.
 */
static int ag_put_hcfg(struct agent *ag, __u32 k, struct qlb_host_cfg *hc)
{
	struct qlb_host_cfg old;
	int err = 0;

	if (bpf_map_lookup_elem(ag->m_hcfg, &k, &old))
		memset(&old, 0, sizeof(old));
	hc->epoch = old.epoch;
	if (!memcmp(&old, hc, sizeof(*hc)))
		goto out;
	if (old.present) {
		old.present = 0;
		if (bpf_map_update_elem(ag->m_hcfg, &k, &old, BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	ag->epoch = ag->epoch + 1 ? ag->epoch + 1 : 1;
	hc->epoch = ag->epoch;
	if (hc->present) {
		hc->present = 0;
		if (bpf_map_update_elem(ag->m_hcfg, &k, hc, BPF_ANY)) {
			err = -errno;
			goto out;
		}
		hc->present = 1;
	}
	if (bpf_map_update_elem(ag->m_hcfg, &k, hc, BPF_ANY))
		err = -errno;
out:
	/* round keys do not stay on the stack */
	explicit_bzero(&old, sizeof(old));
	return err;
}

/* Service @s's config @id for this host: its codec state and server ID
 * (host part), or absent when the host has no server ID under it. */
static int ag_build_hcfg(struct agent *ag, unsigned int s, unsigned int id,
			 struct qlb_host_cfg *hc)
{
	const struct qlb_conf_service *svc = &ag->cfg.services[s];
	const struct qlb_conf_svc_host *sh =
		qlb_host_service(&ag->cfg, s, ag->me_idx);
	const struct qlb_conf_cid *c = &svc->configs[id];

	memset(hc, 0, sizeof(*hc));
	if (!sh || !c->present || !sh->has_sid[id])
		return 0;
	if (qlb_service_cid_cfg(svc, id, &hc->cid)) {
		ag_log("service \"%s\" config %u: cannot build its codec state",
		       svc->name, id);
		return -EINVAL;
	}
	memcpy(hc->host_sid, sh->sid[id], c->sid_len);
	hc->present = 1;
	return 0;
}

/*
 * ag_write_rows() - rows 1 + s of qlb_hcfg_v2: service s's configs when the
 * host serves several services and s is one of them, else absent.
 */
static int ag_write_rows(struct agent *ag)
{
	struct qlb_host_cfg hc;
	unsigned int s, id;
	int err = 0;

	for (s = 0; s < QLB_HOST_MAX_SERVICES && !err; s++) {
		for (id = 0; id < QLB_CONFIG_MAX && !err; id++) {
			if (ag->multi && s < ag->cfg.nservices)
				err = ag_build_hcfg(ag, s, id, &hc);
			else
				memset(&hc, 0, sizeof(hc));
			if (!err)
				err = ag_put_hcfg(
					ag, QLB_HOST_CFG_KEY(1 + s, id), &hc);
		}
	}
	explicit_bzero(&hc, sizeof(hc));
	return err;
}

/* Row 0 of qlb_hcfg_v2: the one service's configs, or by_group. */
static int ag_write_row0(struct agent *ag, int one)
{
	struct qlb_host_cfg hc;
	unsigned int id;
	int err = 0;

	for (id = 0; id < QLB_CONFIG_MAX && !err; id++) {
		memset(&hc, 0, sizeof(hc));
		if (ag->multi)
			hc.by_group = 1;
		else if (one >= 0)
			err = ag_build_hcfg(ag, (unsigned int)one, id, &hc);
		if (!err)
			err = ag_put_hcfg(ag, QLB_HOST_CFG_KEY(0, id), &hc);
	}
	explicit_bzero(&hc, sizeof(hc));
	return err;
}

/* The highest epoch in a qlb_hcfg pinned by an agent from before
 * services, 0 when there is none. */
static uint32_t ag_old_hcfg_epoch(struct agent *ag)
{
	char path[PATH_MAX + 64];
	uint32_t max = 0;
	__u32 k;
	int fd;

	snprintf(path, sizeof(path), "%s/qlb_hcfg", ag->pin_dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	for (k = 0; k < QLB_CONFIG_MAX; k++) {
		struct qlb_host_cfg hc;

		if (!bpf_map_lookup_elem(fd, &k, &hc) && hc.epoch > max)
			max = hc.epoch;
		explicit_bzero(&hc, sizeof(hc));
	}
	close(fd);
	return max;
}

/*
 * ag_write_hcfg() - publish the decode state of every service this host
 * serves (qlb/abi/host_abi.h): with one service, its configs in row 0, as
 * before services; with several, each service's in its row, the groups'
 * rows in qlb_worksel, and row 0 sending the program there. The order
 * keeps every datagram decoded under its own service's configs or none:
 * the rows a change needs exist before row 0 points at them.
 */
int ag_write_hcfg(struct agent *ag)
{
	unsigned int s, n = 0;
	int one = -1, err;
	uint32_t k;

	ag->me_idx = (unsigned int)(ag->me - ag->cfg.hosts);
	for (s = 0; s < ag->cfg.nservices; s++) {
		if (!qlb_host_service(&ag->cfg, s, ag->me_idx))
			continue;
		if (one < 0)
			one = (int)s;
		n++;
	}
	/* epochs are unique over all rows: the highest one written so far,
	 * and above those of an agent from before services (qlb_hcfg),
	 * whose program shares the decoded-CID cache */
	if (!ag->epoch)
		ag->epoch = ag_old_hcfg_epoch(ag);
	for (k = 0; k < QLB_HOST_CFG_ROWS * QLB_CONFIG_MAX; k++) {
		struct qlb_host_cfg hc;

		if (!bpf_map_lookup_elem(ag->m_hcfg, &k, &hc) &&
		    hc.epoch > ag->epoch)
			ag->epoch = hc.epoch;
		explicit_bzero(&hc, sizeof(hc));
	}
	ag->multi = n > 1;
	if (!ag->multi) {
		/* row 0 first: the groups' rows no longer matter then */
		err = ag_write_row0(ag, one);
		if (!err)
			err = ag_write_rows(ag);
		ag_write_group_rows(ag);
		return err;
	}
	err = ag_write_rows(ag);
	if (err)
		return err;
	ag_write_group_rows(ag);
	return ag_write_row0(ag, one);
}

/* Whom decapsulation takes packets from, and for what (agent_probe.h). */
static int ag_write_dc_trust(struct agent *ag)
{
	static struct qlb_host_trust t;
	char err[256];
	int e;

	qlb_host_trust_of(&ag->cfg, &t);
	e = qlb_host_trust_write(bpf_map__fd(ag->dc->maps.qlb_dc_src),
				 bpf_map__fd(ag->dc->maps.qlb_dc_vip), &t, err,
				 sizeof(err));
	if (e) {
		ag_log("%s", err);
		return e;
	}
	if (!t.nsrc || !t.nvip)
		ag_log("no %s configured (host.%s): every encapsulated packet "
		       "is dropped",
		       !t.nsrc ? "LB encap source" : "VIP",
		       !t.nsrc ? "lb_sources" : "vips");
	return 0;
}

/*
 * host.flow_timeout and the seed of hash_secret into qlb_rp_flowcfg[0]. One
 * 16-byte array update: the program reads either the old or the new
 * settings, and records already made are judged by the new timeout from
 * then on.
 */
static int ag_write_flow_cfg(struct agent *ag)
{
	struct qlb_rp_flow_cfg f = {0};
	__u32 k = 0;

	if (ag->cfg.host.flow_timeout)
		f.timeout_ns = (__u64)ag->cfg.host.flow_timeout * 1000000000ull;
	else
		f.off = 1;
	if (ag->cfg.hash_secret.present) {
		__u32 key[4];

		memcpy(key, ag->cfg.hash_secret.key, sizeof(key));
		f.dcid_seed = qlb_host_dcid_seed(key);
		explicit_bzero(key, sizeof(key));
	}
	if (bpf_map_update_elem(bpf_map__fd(ag->rp->maps.qlb_rp_flowcfg), &k,
				&f, BPF_ANY)) {
		int e = errno;

		ag_log("%s/%s: cannot write the flow table settings: %s",
		       ag->pin_dir, QLB_PIN_FLOW_CFG, strerror(e));
		return -e;
	}
	return 0;
}

int ag_write_dc_cfg(struct agent *ag)
{
	struct qlb_dc_cfg d = {0};
	__u32 k = 0;
	int err;

	if (ag->me->address.family == AF_INET) {
		memcpy(&d.addr4, &ag->me->address.v4, 4);
		d.has4 = 1;
	} else if (ag->me->address.family == AF_INET6) {
		memcpy(d.addr6, &ag->me->address.v6, 16);
		d.has6 = 1;
	}
	d.gue_port = htons(ag->cfg.host.gue_port);
	if (bpf_map_update_elem(ag->m_dc_cfg, &k, &d, BPF_ANY))
		return -errno;
	err = ag_write_flow_cfg(ag);
	if (err)
		return err;
	return ag_write_dc_trust(ag);
}

/*
 * The XDP program attached to @ifindex in @mode: its ID (0 = none) and
 * whether it is a qlb_decap (ours to replace or remove; anything else, an
 * LB node's program on the same machine or a firewall, never is).
 */
static uint32_t ag_xdp_current(int ifindex, enum qlb_xdp_mode mode, bool *ours,
			       char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info = {0};
	__u32 len = sizeof(info);
	uint32_t id = qlb_xdp_attached(ifindex, mode);
	int fd;

	*ours = false;
	name[0] = 0;
	if (!id)
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		snprintf(name, BPF_OBJ_NAME_LEN, "%s", info.name);
		*ours = !strcmp(info.name, "qlb_decap");
	}
	if (fd >= 0)
		close(fd);
	return id;
}

/* Remove a qlb_decap from @ifindex in both modes (nothing else). */
static void ag_xdp_remove(int ifindex)
{
	static const enum qlb_xdp_mode modes[] = {QLB_XDP_NATIVE,
						  QLB_XDP_GENERIC};
	char name[BPF_OBJ_NAME_LEN];
	unsigned int k;
	bool ours;

	for (k = 0; k < 2; k++) {
		uint32_t id = ag_xdp_current(ifindex, modes[k], &ours, name);

		if (id && ours)
			qlb_xdp_detach(ifindex, modes[k], id);
	}
}

/* Attach (or atomically replace) the decap program on host.interface:
 * native XDP where the driver has it, else generic. */
int ag_attach_xdp(struct agent *ag)
{
	static const enum qlb_xdp_mode modes[] = {QLB_XDP_NATIVE,
						  QLB_XDP_GENERIC};
	const char *ifname = ag->cfg.host.interface;
	char name[BPF_OBJ_NAME_LEN];
	uint32_t old[2];
	unsigned int k;
	int ifindex, err = 0;
	bool ours;

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
	for (k = 0; k < 2; k++) {
		old[k] = ag_xdp_current(ifindex, modes[k], &ours, name);
		if (old[k] && !ours) {
			ag_log("cannot attach decapsulation to %s: XDP program "
			       "%u (%s) is attached there already; not "
			       "replacing it",
			       ifname, old[k], name[0] ? name : "?");
			return -EBUSY;
		}
	}
	if (ag->ifindex && ag->ifindex != ifindex)
		ag_xdp_remove(ag->ifindex); /* a reload changed the interface */
	for (k = 0; k < 2; k++) {
		err = qlb_xdp_attach(ifindex, ag->prog_dc, modes[k], old[k]);
		if (!err)
			break;
	}
	if (err) {
		ag_log("cannot attach decapsulation to %s: %s", ifname,
		       strerror(-err));
		return err;
	}
	ag->xdp_mode = modes[k];
	ag->ifindex = ifindex;
	return 0;
}

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

/* Program and map descriptors of the loaded objects. */
static void ag_take_fds(struct agent *ag)
{
	ag->prog_rp = bpf_program__fd(ag->rp->progs.qlb_reuseport_select);
	ag->prog_dc = bpf_program__fd(ag->dc->progs.qlb_decap);
	ag->m_socks = bpf_map__fd(ag->rp->maps.qlb_socks);
	ag->m_hcfg = bpf_map__fd(ag->rp->maps.qlb_hcfg_v2);
	ag->m_work = bpf_map__fd(ag->rp->maps.qlb_work);
	ag->m_worksel = bpf_map__fd(ag->rp->maps.qlb_worksel);
	ag->m_grp_rows = bpf_map__fd(ag->rp->maps.qlb_grp_rows);
	ag->m_workers = bpf_map__fd(ag->rp->maps.qlb_workers);
	ag->m_gens = bpf_map__fd(ag->rp->maps.qlb_gens);
	ag->m_rp_stats = bpf_map__fd(ag->rp->maps.qlb_rp_stats);
	ag->m_dc_cfg = bpf_map__fd(ag->dc->maps.qlb_dc_cfg);
	ag->m_dc_stats = bpf_map__fd(ag->dc->maps.qlb_dc_stats);
}

/*
 * The pid holding a flock() on the inode of @fd, from /proc/locks (flock
 * itself does not tell), or 0 when not found.
 */
static pid_t ag_lock_holder(int fd)
{
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	char line[256];
	pid_t pid = 0;
	FILE *f;
	int p;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 00:1d:5678 0 EOF" */
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &p, &maj,
			   &min, &ino) == 4 &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) &&
		    ino == st.st_ino)
			pid = p;
	}
	fclose(f);
	return pid;
}

/*
 * ag_lock_pin_dir() - one agent per pin_dir: two would unpin and rewrite
 * each other's programs and maps. bpffs holds no regular files, so the
 * lock is a flock() on the directory itself, held until the agent exits.
 */
static int ag_lock_pin_dir(struct agent *ag)
{
	int fd = open(ag->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pid_t holder;

	if (fd < 0) {
		ag_log("cannot open %s: %s", ag->pin_dir, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;

		if (err != EWOULDBLOCK) {
			ag_log("cannot lock %s: %s", ag->pin_dir,
			       strerror(err));
			close(fd);
			return -err;
		}
		holder = ag_lock_holder(fd);
		if (holder)
			ag_log("%s is in use by another agent (pid %d); not "
			       "starting a second one",
			       ag->pin_dir, (int)holder);
		else
			ag_log("%s is in use by another agent; not starting "
			       "a second one",
			       ag->pin_dir);
		close(fd);
		return -EBUSY;
	}
	ag->lock_fd = fd;
	return 0;
}

int ag_open_dataplane(struct agent *ag, bool pin)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	int err;

	qlb_bpf_log_init();
	if (pin) {
		err = qlb_mkdir_p(ag->pin_dir, 0700);
		if (err) {
			ag_log("cannot create %s: %s", ag->pin_dir,
			       strerror(-err));
			return err;
		}
		err = ag_lock_pin_dir(ag);
		if (err)
			return err;
	}
	ag->rp = qlb_reuseport__open_opts(&oo);
	ag->dc = qlb_decap__open_opts(&oo);
	if (!ag->rp || !ag->dc) {
		ag_log("cannot open the BPF objects: %s", strerror(errno));
		return -errno;
	}
	/* the decoded-CID cache: QLB_RP_CACHE_SETS for each possible CPU
	 * (host_abi.h) */
	err = libbpf_num_possible_cpus();
	if (err < 0 ||
	    bpf_map__set_max_entries(ag->rp->maps.qlb_rp_cache,
				     QLB_RP_CACHE_SETS * (__u32)err)) {
		ag_log("cannot size %s for the possible CPUs", "qlb_rp_cache");
		return -EINVAL;
	}
	if (pin &&
	    (ag_set_pins(ag, ag->rp->obj) || ag_set_pins(ag, ag->dc->obj))) {
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
	if (!pin)
		return 0;
	err = ag_pin_prog(ag, ag->prog_rp, QLB_PIN_PROG_RP);
	if (!err)
		err = ag_pin_prog(ag, ag->prog_dc, QLB_PIN_PROG_DC);
	return err;
}

void ag_close_dataplane(struct agent *ag)
{
	if (ag->lock_fd >= 0)
		close(ag->lock_fd); /* the next agent may start */
	ag->lock_fd = -1;
	qlb_reuseport__destroy(ag->rp);
	qlb_decap__destroy(ag->dc);
	ag->rp = NULL;
	ag->dc = NULL;
}

void ag_sum_stats(int fd, __u64 *out, unsigned int n)
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

int qlb_agent_detach(const char *cfg_path)
{
	static const char *const pins[] = {
		QLB_PIN_SOCKS,
		QLB_PIN_HCFG,
		QLB_PIN_WORK,
		QLB_PIN_WORKSEL,
		QLB_PIN_WORKERS,
		QLB_PIN_GENS,
		QLB_PIN_RP_STATS,
		QLB_PIN_DC_CFG,
		QLB_PIN_DC_STATS,
		QLB_PIN_PROG_RP,
		QLB_PIN_PROG_DC,
		QLB_PIN_DC_SRC,
		QLB_PIN_DC_VIP,
		QLB_PIN_RP_CACHE,
		QLB_PIN_FLOWS,
		QLB_PIN_FLOW_CFG,
		QLB_PIN_GRP_ROWS,
		/* of an agent from before services */
		"qlb_hcfg",
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
	if (ifindex)
		ag_xdp_remove(ifindex);
	for (i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg.host.pin_dir,
			 pins[i]);
		unlink(path);
	}
	rmdir(cfg.host.pin_dir);
	qlb_config_free(&cfg);
	return QLB_EXIT_OK;
}
