// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * libFuzzer harness of libqlb's side of the agent protocol: what a QUIC
 * server's libqlb makes of arbitrary bytes from its agent socket
 * (include/qlb/abi/agent_proto.h), through the public qlb_client_process().
 *
 * A client is normally made by qlb_client_connect(), which needs a live
 * agent; this harness makes one around one end of a socketpair instead
 * (qlb_client_adopt(), what qlb_client_connect() makes before connecting),
 * writes the input to the other end, closes it, and processes until the
 * client sees the end.
 *
 * Checked on every input: no memory error, leak or UB; at most 7 live
 * configs, each one the codec accepts; the active index is one of them;
 * the host name is terminated; when a config is active, a minted CID
 * decodes under it to this worker's server ID; otherwise the fallback CID
 * is unroutable (config bits 0b111).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qlb/abi/agent_proto.h"
#include "qlb/libqlb.h"
#include "lib/client.h"
#include "fz.h"

static void on_config(struct qlb_client *cl, void *arg)
{
	(*(int *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct qlb_live_config *lc;
	struct qlb_client *cl;
	uint8_t cid[QLB_CID_MAX_LEN];
	int sp[2], n, i, r, pushes = 0, rounds, active;
	size_t off = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		abort();
	cl = qlb_client_adopt(sp[0]);
	if (!cl)
		abort();
	qlb_client_on_config(cl, on_config, &pushes);

	/* feed in pieces, processing in between, as a server's poll loop
	 * would */
	for (rounds = 0; rounds < 4096; rounds++) {
		size_t chunk = size - off < 700 ? size - off : 700;
		ssize_t w = chunk ? send(sp[1], data + off, chunk, MSG_NOSIGNAL)
				  : 0;

		if (w > 0)
			off += (size_t)w;
		if (off == size)
			shutdown(sp[1], SHUT_WR);
		r = qlb_client_process(cl);
		if (r == -ECONNRESET)
			break;
		/* a refused CONFIGS gives its errno; the stream goes on */
		FZ_ASSERT(r == 0 || r == -EINVAL || r == -EIO);
	}
	FZ_ASSERT(rounds < 4096);
	FZ_ASSERT(qlb_client_fd(cl) == -1);

	n = qlb_client_configs(cl, &lc);
	FZ_ASSERT(n >= 0 && n <= QLB_AP_NCONFIGS);
	/* the client mints under the last config the agent marked active */
	active = -1;
	for (i = 0; i < n; i++) {
		FZ_ASSERT(qlb_cid_cfg_valid(&lc[i].cfg) &&
			  lc[i].cfg.id < QLB_CONFIG_MAX);
		if (lc[i].state == QLB_STATE_ACTIVE)
			active = i;
	}
	FZ_ASSERT(memchr(qlb_client_host_name(cl), 0, QLB_AP_HOST_LEN));
	r = qlb_client_mint(cl, cid, 8);
	if (active >= 0) {
		const struct qlb_live_config *a = &lc[active];
		uint8_t sid[QLB_SID_MAX_LEN];

		FZ_ASSERT(r == (int)qlb_cid_len(&a->cfg));
		FZ_ASSERT(qlb_decode(&a->cfg, cid, (size_t)r, sid, NULL) == 0);
		FZ_ASSERT(!memcmp(sid, a->sid, a->cfg.sid_len));
		FZ_ASSERT(qlb_client_active_config(cl) == a->cfg.id);
	} else {
		FZ_ASSERT(r == 8 &&
			  qlb_cid_config_id(cid[0]) == QLB_CR_UNROUTABLE);
	}
	close(sp[1]);
	qlb_client_close(cl);
	return 0;
}
