// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * Everything this server does with libqlb, in one file. A QUIC server that
 * wants qlb to route its connections needs these five things and no more:
 *
 *  1. A CID source: register the reuseport socket with the host agent
 *     (qlb_client_connect, qlb_client_declare_generation,
 *     qlb_client_register), which answers with this
 *     worker's ID and the live QUIC-LB configs; or, with no agent, a
 *     standalone qlb_minter for a server ID given on the command line.
 *  2. Every server connection ID minted by it: the first SCID
 *     (ngtcp2_conn_server_new), every NEW_CONNECTION_ID
 *     (ngtcp2's get_new_connection_id callback) and the Retry SCID. A CID
 *     from anywhere else would be routed by the 4-tuple hash, which breaks
 *     as soon as the client migrates.
 *  3. Stateless reset tokens from qlb_reset_token() under a secret all
 *     the host's workers share: a packet for a lost connection may reach
 *     any of them, and the token must match what the owner announced.
 *  4. The length of a short-header DCID, which QUIC does not carry: read
 *     it from the CID's first octet (the config's length self-encoding).
 *  5. Config pushes: poll qlb_client_fd(), call qlb_client_process(); the
 *     next qlb_client_mint() uses the new active config. The same push
 *     says when a newer generation took over (qlb_client_draining()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "h3server.h"

/* Unroutable (0b111) CIDs when nothing else fits; the draft wants >= 8. */
#define H3_FALLBACK_CID_LEN 8

/* Put @worker into the low bits of the server ID (host part has them 0). */
static void sid_set_worker(uint8_t *sid, unsigned int sid_len, uint32_t worker)
{
	for (int i = (int)sid_len - 1; i >= 0 && worker; i--) {
		sid[i] |= worker & 0xff;
		worker >>= 8;
	}
}

/*
 * Keep one minter per live config so that a connection whose CIDs have the
 * length of an older config can still get routable CIDs of that length
 * while the config is being retired (ngtcp2 keeps one SCID length per
 * connection). Minters whose config did not change keep their counter.
 */
static void sync_live_minters(struct h3_worker *w)
{
	const struct qlb_live_config *lc;
	int n = qlb_client_configs(w->agent, &lc);
	bool seen[QLB_CONFIG_MAX] = {false};

	for (int i = 0; i < n; i++) {
		unsigned int id = lc[i].cfg.id;
		struct qlb_minter *m;

		if (id >= QLB_CONFIG_MAX)
			continue;
		m = &w->live[id];
		seen[id] = true;
		if (w->live_ok[id] &&
		    !memcmp(&m->cfg, &lc[i].cfg, sizeof(m->cfg)) &&
		    !memcmp(m->sid, lc[i].sid, lc[i].cfg.sid_len))
			continue;
		w->live_ok[id] = qlb_minter_init(m, &lc[i].cfg, lc[i].sid) == 0;
	}
	for (unsigned int id = 0; id < QLB_CONFIG_MAX; id++)
		if (!seen[id])
			w->live_ok[id] = false;
}

/*
 * The agent pushed configs, or the working generation changed. New CIDs
 * use the new active config from now on; a generation that lost its place
 * drains: its sockets still get their own connections' packets, and no
 * new ones.
 */
static void on_config_push(struct qlb_client *cl, void *arg)
{
	struct h3_worker *w = arg;

	sync_live_minters(w);
	h3_log(w, "agent: minting under config %d, working generation %u",
	       qlb_client_active_config(cl), qlb_client_working_generation(cl));
	if (qlb_client_draining(cl) && !w->agent_drain) {
		w->agent_drain = true;
		h3_log(w, "agent: generation %u took over; draining",
		       qlb_client_working_generation(cl));
	}
}

int h3_cids_init(struct h3_worker *w)
{
	const struct h3_opts *o = w->o;
	int rv;

	if (!o->agent_path) {
		struct qlb_cid_cfg cfg;
		uint8_t sid[QLB_SID_MAX_LEN] = {0};

		rv = qlb_cid_cfg_init(
			&cfg, o->standalone.config_id, o->standalone.sid_len,
			o->standalone.nonce_len,
			o->standalone.has_key ? o->standalone.key : NULL,
			o->standalone.encode_length, o->standalone.worker_bits);
		if (rv < 0) {
			h3_log(w, "bad QUIC-LB config: %s", strerror(-rv));
			return -1;
		}
		if (w->index >= (1u << o->standalone.worker_bits)) {
			h3_log(w, "worker %u does not fit in %u worker bits",
			       w->index, o->standalone.worker_bits);
			return -1;
		}
		memcpy(sid, o->standalone.server_id, o->standalone.sid_len);
		sid_set_worker(sid, o->standalone.sid_len, w->index);
		rv = qlb_minter_init(&w->minter, &cfg, sid);
		if (rv < 0) {
			h3_log(w, "cannot start the CID minter: %s",
			       strerror(-rv));
			return -1;
		}
		w->have_minter = true;
		w->worker_id = w->index;
		return 0;
	}

	/* The agent may still be starting: retry for up to five seconds. */
	for (int i = 0; i < 50 && !w->agent; i++) {
		w->agent = qlb_client_connect(o->agent_path);
		if (!w->agent && errno == EACCES)
			break;
		if (!w->agent)
			usleep(100 * 1000);
	}
	if (!w->agent) {
		h3_log(w, "cannot connect to the agent at %s: %s",
		       o->agent_path, strerror(errno));
		return -1;
	}
	/* Every worker declares the generation's size: the agent makes it
	 * the working generation once all of them registered. */
	rv = qlb_client_declare_generation(w->agent, o->generation, o->workers);
	if (rv < 0) {
		h3_log(w, "the agent refused generation %u: %s", o->generation,
		       qlb_client_last_error(w->agent));
		return -1;
	}
	rv = qlb_client_register(w->agent, w->fd, o->generation);
	if (rv < 0) {
		h3_log(w, "the agent at %s refused our socket: %s (%s)",
		       o->agent_path, strerror(-rv),
		       qlb_client_last_error(w->agent));
		return -1;
	}
	w->worker_id = qlb_client_worker_id(w->agent);
	if (!o->host_name && qlb_client_host_name(w->agent))
		snprintf(w->host, sizeof(w->host), "%s",
			 qlb_client_host_name(w->agent));
	qlb_client_on_config(w->agent, on_config_push, w);
	sync_live_minters(w);
	return 0;
}

/* A CID of exactly @len bytes from a live config that is still routed. */
static int mint_with_len(struct h3_worker *w, uint8_t *buf, size_t len)
{
	for (unsigned int id = 0; id < QLB_CONFIG_MAX; id++) {
		if (w->live_ok[id] && qlb_cid_len(&w->live[id].cfg) == len) {
			int n = qlb_minter_mint(&w->live[id], buf);

			if (n > 0)
				return n;
		}
	}
	return qlb_mint_unroutable(
		buf, len < H3_FALLBACK_CID_LEN ? H3_FALLBACK_CID_LEN : len);
}

/*
 * h3_mint_cid() - a new server CID and its stateless reset token.
 * @want_len: the length the connection already uses, or 0 for a new one.
 * Return: 0, or -1 when no CID could be made.
 */
int h3_mint_cid(struct h3_worker *w, ngtcp2_cid *cid, size_t want_len,
		uint8_t *reset_token)
{
	uint8_t buf[QLB_CID_MAX_LEN];
	int n;

	if (w->agent)
		n = qlb_client_mint(w->agent, buf,
				    want_len ? want_len : H3_FALLBACK_CID_LEN);
	else
		n = qlb_minter_mint(&w->minter, buf);
	if (n ==
	    -EOVERFLOW) /* nonce space used up: unroutable until a new config */
		n = qlb_mint_unroutable(buf, want_len ? want_len
						      : H3_FALLBACK_CID_LEN);
	if (n > 0 && want_len && (size_t)n != want_len)
		n = mint_with_len(w, buf, want_len);
	if (n <= 0) {
		h3_log(w, "cannot mint a connection ID: %s", strerror(-n));
		return -1;
	}
	ngtcp2_cid_init(cid, buf, n);
	if (reset_token)
		h3_reset_token(w, buf, n, reset_token);
	return 0;
}

void h3_reset_token(const struct h3_worker *w, const uint8_t *cid, size_t len,
		    uint8_t *token)
{
	qlb_reset_token(w->o->reset_secret, cid, len, token);
}

/* Length of a CID that starts with @octet, as we minted it. */
size_t h3_short_dcid_len(const struct h3_worker *w, uint8_t octet)
{
	unsigned int id = qlb_cid_config_id(octet);
	const struct qlb_cid_cfg *cfg = NULL;

	if (id == QLB_CR_UNROUTABLE) /* our fallback CIDs self-encode */
		return (octet & 0x1f) + 1;
	if (w->have_minter && w->minter.cfg.id == id)
		cfg = &w->minter.cfg;
	else if (w->agent && w->live_ok[id])
		cfg = &w->live[id].cfg;
	if (!cfg)
		return H3_FALLBACK_CID_LEN; /* not ours: any length will do */
	if (cfg->flags & QLB_CID_F_ENCODE_LEN)
		return (octet & 0x1f) + 1;
	return qlb_cid_len(cfg);
}

int h3_active_config(const struct h3_worker *w)
{
	if (w->agent)
		return qlb_client_active_config(w->agent);
	return w->have_minter ? w->minter.cfg.id : -1;
}

int h3_agent_fd(const struct h3_worker *w)
{
	return w->agent && !w->agent_gone ? qlb_client_fd(w->agent) : -1;
}

void h3_agent_process(struct h3_worker *w)
{
	int rv = qlb_client_process(w->agent);

	if (rv == -ECONNRESET) {
		/* The agent restarted. Our socket stays in its map and our
		 * CIDs keep routing; mint under the configs we know until
		 * h3_agent_retry() gets through. */
		h3_log(w, "agent went away; keeping config %d, reconnecting",
		       qlb_client_active_config(w->agent));
		w->agent_gone = true;
	} else if (rv < 0) {
		h3_log(w, "agent message: %s", strerror(-rv));
	}
}

/* Called about once a second while the agent is gone. */
void h3_agent_retry(struct h3_worker *w)
{
	if (qlb_client_reconnect(w->agent) == 0) {
		w->agent_gone = false;
		sync_live_minters(w);
		h3_log(w, "agent back; worker %u, config %d",
		       qlb_client_worker_id(w->agent),
		       qlb_client_active_config(w->agent));
	}
}
