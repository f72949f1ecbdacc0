// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libqlb's agent client: what a QUIC server calls to register its
 * SO_REUSEPORT socket with the host agent (qlbctl agent), learn its worker
 * ID and the live QUIC-LB configs, and mint routable CIDs under the config
 * the fleet mints under. Protocol: include/qlb/abi/agent_proto.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qlb/libqlb.h"
#include "qlb/abi/agent_frame.h"
#include "lib/client.h"

#ifndef QLB_API
#define QLB_API __attribute__((visibility("default")))
#endif

#define CL_RBUF	      (16u << 10) /* the client never gets STATUS */
#define CL_TIMEOUT_MS 5000	  /* for answers to requests */

struct qlb_client {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t agent_pid, max_workers;
	char host[QLB_AP_HOST_LEN];
	/* the registered socket (not owned: the server closes it) */
	int reg_fd;
	bool registered;
	uint32_t worker_id, generation, working_gen, gen_size;
	bool was_working; /* our generation has been the working one */
	uint64_t cookie;
	/* live configs and one minter each, same index */
	int nconfigs, active;
	struct qlb_live_config cfgs[QLB_AP_NCONFIGS];
	struct qlb_minter minters[QLB_AP_NCONFIGS];
	qlb_config_cb cb;
	void *cb_arg;
	/* received bytes not yet parsed */
	size_t rlen;
	uint8_t rbuf[CL_RBUF];
	/* an answer a synchronous request waits for, stashed by the parser */
	int last_code;
	char last_msg[QLB_AP_MSG_LEN];
};

static void cl_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

static int cl_conn_configs(struct qlb_client *cl,
			   const struct qlb_ap_configs *m)
{
	struct qlb_live_config nc[QLB_AP_NCONFIGS];
	struct qlb_minter nm[QLB_AP_NCONFIGS];
	unsigned int i, j, n = m->count;
	int active = -1, err = 0;

	if (n > QLB_AP_NCONFIGS)
		return -EPROTO;
	memset(nc, 0, sizeof(nc));
	memset(nm, 0, sizeof(nm));
	for (i = 0; i < n; i++) {
		const struct qlb_ap_config *a = &m->cfg[i];

		err = qlb_cid_cfg_init(
			&nc[i].cfg, a->id, a->sid_len, a->nonce_len,
			(a->flags & QLB_AP_CF_KEY) ? a->key : NULL,
			a->flags & QLB_AP_CF_ENCODE_LEN, a->worker_bits);
		if (err)
			goto out;
		nc[i].state = a->state;
		memcpy(nc[i].sid, a->sid, QLB_SID_MAX_LEN);
		/* keep a running minter when nothing changed, so its nonce
		 * counter goes on instead of restarting at random */
		for (j = 0; j < (unsigned int)cl->nconfigs; j++) {
			if (!memcmp(&cl->cfgs[j].cfg, &nc[i].cfg,
				    sizeof(nc[i].cfg)) &&
			    !memcmp(cl->cfgs[j].sid, nc[i].sid,
				    QLB_SID_MAX_LEN))
				break;
		}
		if (j < (unsigned int)cl->nconfigs) {
			nm[i] = cl->minters[j];
		} else {
			err = qlb_minter_init(&nm[i], &nc[i].cfg, nc[i].sid);
			if (err)
				goto out;
		}
		if (a->state == QLB_STATE_ACTIVE)
			active = (int)i;
	}
	cl_wipe(cl->cfgs, sizeof(cl->cfgs));
	cl_wipe(cl->minters, sizeof(cl->minters));
	memcpy(cl->cfgs, nc, sizeof(nc));
	memcpy(cl->minters, nm, sizeof(nm));
	cl->nconfigs = (int)n;
	cl->active = active;
out:
	cl_wipe(nc, sizeof(nc));
	cl_wipe(nm, sizeof(nm));
	return err;
}

/*
 * cl_clear_vregs() - zero the vector registers. glibc's memcpy and
 * memmove carry bytes through them (on AVX-512 machines through
 * zmm16-31, which compiled code here never touches), so the round keys
 * just copied would sit there until something else overwrites them, and
 * a crash would write them into the core's register notes.
 */
static void cl_clear_vregs(void)
{
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		__asm__ volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
				 "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
				 "vpxord %%zmm18, %%zmm18, %%zmm18\n\t"
				 "vpxord %%zmm19, %%zmm19, %%zmm19\n\t"
				 "vpxord %%zmm20, %%zmm20, %%zmm20\n\t"
				 "vpxord %%zmm21, %%zmm21, %%zmm21\n\t"
				 "vpxord %%zmm22, %%zmm22, %%zmm22\n\t"
				 "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
				 "vpxord %%zmm24, %%zmm24, %%zmm24\n\t"
				 "vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
				 "vpxord %%zmm26, %%zmm26, %%zmm26\n\t"
				 "vpxord %%zmm27, %%zmm27, %%zmm27\n\t"
				 "vpxord %%zmm28, %%zmm28, %%zmm28\n\t"
				 "vpxord %%zmm29, %%zmm29, %%zmm29\n\t"
				 "vpxord %%zmm30, %%zmm30, %%zmm30\n\t"
				 "vpxord %%zmm31, %%zmm31, %%zmm31\n\t" ::
					 :);
	if (__builtin_cpu_supports("avx"))
		__asm__ volatile("vzeroall" ::
					 : "xmm0", "xmm1", "xmm2", "xmm3",
					   "xmm4", "xmm5", "xmm6", "xmm7",
					   "xmm8", "xmm9", "xmm10", "xmm11",
					   "xmm12", "xmm13", "xmm14", "xmm15");
	else
		__asm__ volatile("pxor %%xmm0, %%xmm0\n\t"
				 "pxor %%xmm1, %%xmm1\n\t"
				 "pxor %%xmm2, %%xmm2\n\t"
				 "pxor %%xmm3, %%xmm3\n\t"
				 "pxor %%xmm4, %%xmm4\n\t"
				 "pxor %%xmm5, %%xmm5\n\t"
				 "pxor %%xmm6, %%xmm6\n\t"
				 "pxor %%xmm7, %%xmm7\n\t"
				 "pxor %%xmm8, %%xmm8\n\t"
				 "pxor %%xmm9, %%xmm9\n\t"
				 "pxor %%xmm10, %%xmm10\n\t"
				 "pxor %%xmm11, %%xmm11\n\t"
				 "pxor %%xmm12, %%xmm12\n\t"
				 "pxor %%xmm13, %%xmm13\n\t"
				 "pxor %%xmm14, %%xmm14\n\t"
				 "pxor %%xmm15, %%xmm15\n\t" ::
					 : "xmm0", "xmm1", "xmm2", "xmm3",
					   "xmm4", "xmm5", "xmm6", "xmm7",
					   "xmm8", "xmm9", "xmm10", "xmm11",
					   "xmm12", "xmm13", "xmm14", "xmm15");
#endif
}

/*
 * cl_scrub() - after configs passed through: clear the stack below the
 * caller, where cl_conn_configs() and the key schedule had their frames,
 * and the vector registers. With the client's own memory MADV_DONTDUMP,
 * a core dump of the server then holds no key.
 */
static __attribute__((noinline)) void cl_scrub(void)
{
	unsigned char pad[32 << 10];

	explicit_bzero(pad, sizeof(pad));
	cl_clear_vregs();
}

/*
 * cl_handle() - act on one message from the agent.
 * Return: its type (>0) or a negative errno for a malformed message.
 */
static int cl_handle(struct qlb_client *cl, const struct qlb_ap_hdr *h,
		     const uint8_t *body)
{
	switch (h->type) {
	case QLB_AP_HELLO: {
		const struct qlb_ap_hello *m = (const void *)body;

		if (h->len != sizeof(*m))
			return -EPROTO;
		cl->agent_pid = m->agent_pid;
		cl->max_workers = m->max_workers;
		memcpy(cl->host, m->host, sizeof(cl->host));
		cl->host[sizeof(cl->host) - 1] = 0;
		break;
	}
	case QLB_AP_RESULT: {
		const struct qlb_ap_result *m = (const void *)body;

		if (h->len != sizeof(*m))
			return -EPROTO;
		cl->last_code = m->code;
		memcpy(cl->last_msg, m->msg, sizeof(cl->last_msg));
		cl->last_msg[sizeof(cl->last_msg) - 1] = 0;
		break;
	}
	case QLB_AP_REGISTERED: {
		const struct qlb_ap_registered *m = (const void *)body;

		if (h->len != sizeof(*m))
			return -EPROTO;
		cl->worker_id = m->worker_id;
		cl->generation = m->generation;
		cl->working_gen = m->working_generation;
		cl->cookie = m->cookie;
		if (cl->working_gen == cl->generation)
			cl->was_working = true;
		break;
	}
	case QLB_AP_CONFIGS: {
		int err;

		if (h->len != sizeof(struct qlb_ap_configs))
			return -EPROTO;
		err = cl_conn_configs(cl, (const void *)body);
		cl_scrub();
		if (err)
			return err;
		if (cl->cb)
			cl->cb(cl, cl->cb_arg);
		break;
	}
	case QLB_AP_GENERATION: {
		const struct qlb_ap_generation *m = (const void *)body;

		if (h->len != sizeof(*m))
			return -EPROTO;
		cl->working_gen = m->working_generation;
		if (cl->generation && cl->working_gen == cl->generation)
			cl->was_working = true;
		if (cl->cb)
			cl->cb(cl, cl->cb_arg);
		break;
	}
	default:
		/* unknown pushes from a newer agent of the same version */
		break;
	}
	return h->type;
}

/*
 * cl_pump() - read what the agent sent and handle whole messages.
 * @wait_type: return as soon as a message of this type was handled
 *             (0 = handle what is there and return).
 * @timeout_ms: how long to wait for it.
 * Return: @wait_type (or 0), -ECONNRESET when the agent closed,
 * -ETIMEDOUT, or another negative errno.
 */
static int cl_pump(struct qlb_client *cl, int wait_type, int timeout_ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct qlb_ap_hdr h;
		ssize_t n;
		int r, left;

		/* whole messages first */
		for (;;) {
			long whole = qlb_ap_frame(cl->rbuf, cl->rlen,
						  CL_RBUF - sizeof(h), &h);

			if (whole < 0)
				return -EPROTO;
			if (!whole)
				break;
			r = cl_handle(cl, &h, cl->rbuf + sizeof(h));
			memmove(cl->rbuf, cl->rbuf + whole,
				cl->rlen - (size_t)whole);
			cl->rlen -= (size_t)whole;
			if (r < 0)
				return r;
			if (wait_type && r == wait_type)
				return wait_type;
			/* a refusal ends any wait */
			if (wait_type && r == QLB_AP_RESULT)
				return QLB_AP_RESULT;
		}
		n = recv(cl->fd, cl->rbuf + cl->rlen, CL_RBUF - cl->rlen,
			 MSG_DONTWAIT);
		if (n > 0) {
			cl->rlen += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == EPIPE ? -ECONNRESET : -errno;
		if (!wait_type)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms - (int)((t.tv_sec - t0.tv_sec) * 1000 +
					  (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		{
			struct pollfd p = {.fd = cl->fd, .events = POLLIN};

			r = poll(&p, 1, left);
			if (r < 0 && errno != EINTR)
				return -errno;
		}
	}
}

static int cl_open(struct qlb_client *cl)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd, r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(a.sun_path, cl->path, sizeof(a.sun_path));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	cl->fd = fd;
	cl->rlen = 0;
	cl->last_code = 0;
	r = cl_pump(cl, QLB_AP_HELLO, CL_TIMEOUT_MS);
	if (r == QLB_AP_RESULT)
		r = cl->last_code ? cl->last_code : -EPROTO;
	if (r < 0) {
		close(fd);
		cl->fd = -1;
		return r;
	}
	return 0;
}

/* The client's memory in whole pages: it holds keys (the configs, the
 * minters' round keys, the received bytes), which must stay out of the
 * server's core dumps. */
static size_t cl_alloc_len(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t p = pg > 0 ? (size_t)pg : 4096;

	return (sizeof(struct qlb_client) + p - 1) / p * p;
}

struct qlb_client *qlb_client_adopt(int fd)
{
	struct qlb_client *cl;

	cl = mmap(NULL, cl_alloc_len(), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cl == MAP_FAILED)
		return NULL;
	/* best effort: an old kernel without it still gets a client */
	madvise(cl, cl_alloc_len(), MADV_DONTDUMP);
	cl->fd = fd;
	cl->reg_fd = -1;
	cl->active = -1;
	return cl;
}

QLB_API struct qlb_client *qlb_client_connect(const char *path)
{
	return qlb_client_connect_err(path, NULL, 0);
}

QLB_API struct qlb_client *qlb_client_connect_err(const char *path, char *msg,
						  size_t len)
{
	struct qlb_client *cl;
	int err;

	if (!path || !*path || strlen(path) >= sizeof(cl->path)) {
		errno = EINVAL;
		return NULL;
	}
	cl = qlb_client_adopt(-1);
	if (!cl)
		return NULL;
	strcpy(cl->path, path);
	err = cl_open(cl);
	if (err) {
		if (msg && len)
			snprintf(msg, len, "%s",
				 cl->last_msg[0] ? cl->last_msg
						 : strerror(-err));
		qlb_client_close(cl);
		errno = -err;
		return NULL;
	}
	return cl;
}

/* Send a request and wait for @want (or a RESULT). */
static int cl_request(struct qlb_client *cl, uint16_t type, const void *body,
		      uint32_t len, int pass_fd, int want)
{
	int r;

	if (cl->fd < 0)
		return -ENOTCONN;
	cl->last_code = 0;
	r = qlb_ap_send(cl->fd, type, body, len, pass_fd);
	if (r)
		return r == -EPIPE ? -ECONNRESET : r;
	r = cl_pump(cl, want, CL_TIMEOUT_MS);
	if (r == QLB_AP_RESULT && want != QLB_AP_RESULT)
		return cl->last_code ? cl->last_code : -EPROTO;
	if (r < 0)
		return r;
	if (want == QLB_AP_RESULT)
		return cl->last_code;
	return 0;
}

QLB_API int qlb_client_register(struct qlb_client *cl, int fd,
				uint32_t generation)
{
	struct qlb_ap_register m = {
		.generation = generation,
		.gen_size = cl->gen_size,
	};
	int r;

	if (fd < 0 || generation == 0)
		return -EINVAL;
	if (cl->registered)
		return -EALREADY;
	r = cl_request(cl, QLB_AP_REGISTER, &m, sizeof(m), fd,
		       QLB_AP_REGISTERED);
	if (r)
		return r;
	/* CONFIGS follows REGISTERED at once */
	r = cl_pump(cl, QLB_AP_CONFIGS, CL_TIMEOUT_MS);
	if (r < 0)
		return r;
	cl->reg_fd = fd;
	cl->registered = true;
	return 0;
}

QLB_API int qlb_client_declare_generation(struct qlb_client *cl,
					  uint32_t generation, uint32_t size)
{
	struct qlb_ap_gen_req m = {.generation = generation, .size = size};

	if (generation == 0)
		return -EINVAL;
	cl->gen_size = size;
	return cl_request(cl, QLB_AP_DECLARE, &m, sizeof(m), -1, QLB_AP_RESULT);
}

QLB_API int qlb_client_promote(struct qlb_client *cl, uint32_t generation)
{
	struct qlb_ap_gen_req m = {.generation = generation};

	return cl_request(cl, QLB_AP_PROMOTE, &m, sizeof(m), -1, QLB_AP_RESULT);
}

QLB_API const char *qlb_client_last_error(const struct qlb_client *cl)
{
	return cl->last_msg;
}

QLB_API int qlb_client_reconnect(struct qlb_client *cl)
{
	struct qlb_ap_resume m;
	int r;

	if (cl->fd >= 0) {
		close(cl->fd);
		cl->fd = -1;
	}
	r = cl_open(cl);
	if (r)
		return r;
	if (!cl->registered)
		return 0;
	m = (struct qlb_ap_resume){
		.worker_id = cl->worker_id,
		.generation = cl->generation,
		.cookie = cl->cookie,
	};
	r = cl_request(cl, QLB_AP_RESUME, &m, sizeof(m), cl->reg_fd,
		       QLB_AP_REGISTERED);
	if (r)
		return r;
	r = cl_pump(cl, QLB_AP_CONFIGS, CL_TIMEOUT_MS);
	return r < 0 ? r : 0;
}

QLB_API uint32_t qlb_client_worker_id(const struct qlb_client *cl)
{
	return cl->worker_id;
}

QLB_API uint32_t qlb_client_generation(const struct qlb_client *cl)
{
	return cl->generation;
}

QLB_API uint32_t qlb_client_working_generation(const struct qlb_client *cl)
{
	return cl->working_gen;
}

QLB_API bool qlb_client_draining(const struct qlb_client *cl)
{
	/* a new generation waiting for its promotion is not draining */
	return cl->registered && cl->working_gen != cl->generation &&
	       (cl->was_working || cl->working_gen > cl->generation);
}

QLB_API const char *qlb_client_host_name(const struct qlb_client *cl)
{
	return cl->host;
}

QLB_API int qlb_client_mint(struct qlb_client *cl, uint8_t *cid,
			    size_t fallback_len)
{
	int n;

	if (cl->active >= 0) {
		n = qlb_minter_mint(&cl->minters[cl->active], cid);
		if (n != -EOVERFLOW)
			return n;
	}
	if (fallback_len < 8 || fallback_len > QLB_CID_MAX_LEN)
		return -EINVAL;
	return qlb_mint_unroutable(cid, fallback_len);
}

QLB_API int qlb_client_active_config(const struct qlb_client *cl)
{
	return cl->active >= 0 ? cl->cfgs[cl->active].cfg.id : -1;
}

QLB_API int qlb_client_configs(const struct qlb_client *cl,
			       const struct qlb_live_config **out)
{
	*out = cl->cfgs;
	return cl->nconfigs;
}

QLB_API int qlb_client_fd(const struct qlb_client *cl)
{
	return cl->fd;
}

QLB_API void qlb_client_on_config(struct qlb_client *cl, qlb_config_cb cb,
				  void *arg)
{
	cl->cb = cb;
	cl->cb_arg = arg;
}

QLB_API int qlb_client_process(struct qlb_client *cl)
{
	int r;

	if (cl->fd < 0)
		return -ECONNRESET;
	r = cl_pump(cl, 0, 0);
	if (r == -ECONNRESET || r == -EPROTO) {
		close(cl->fd);
		cl->fd = -1;
		return -ECONNRESET;
	}
	return r < 0 ? r : 0;
}

QLB_API void qlb_client_close(struct qlb_client *cl)
{
	if (!cl)
		return;
	if (cl->fd >= 0)
		close(cl->fd);
	cl_wipe(cl, sizeof(*cl));
	munmap(cl, cl_alloc_len());
}
