/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * libqlb: what a QUIC server links to so that the load balancer can route
 * its connections. Two layers:
 *
 *  1. The minter: given a QUIC-LB config and this worker's server ID, mint
 *     routable connection IDs whose nonces never repeat under one key.
 *     Usable on its own (no agent), e.g. in tests or for servers that learn
 *     their config some other way.
 *  2. The agent client: connect to the host agent (qlbctl agent), register
 *     a reuseport socket with a generation, learn the worker ID and the live
 *     configs, mint under the config the fleet currently mints under, and be
 *     told of config changes without a restart.
 *
 * Thread safety: a minter or a client is used by one thread at a time.
 * Every function that can fail returns a negative errno value.
 *
 * Using it from ngtcp2: call qlb_client_mint() for the first server CID
 * (ngtcp2_conn_server_new's scid) and in the get_new_connection_id
 * callback; derive the stateless reset token with qlb_reset_token().
 * examples/ shows it whole.
 */
#ifndef QLB_LIBQLB_H
#define QLB_LIBQLB_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "qlb/cid.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libqlb is built with -fvisibility=hidden: public functions say so. */
#ifndef QLB_API
#define QLB_API __attribute__((visibility("default")))
#endif

/* ---- minter ----------------------------------------------------------- */

struct qlb_minter {
	struct qlb_cid_cfg cfg;
	uint8_t sid[QLB_SID_MAX_LEN]; /* full server ID, worker bits included */
	uint8_t nonce_ctr[QLB_NONCE_MAX_LEN];	/* next nonce, big endian */
	uint8_t nonce_start[QLB_NONCE_MAX_LEN]; /* where the counter began */
	bool exhausted;
	/* Plaintext configs only: the counter goes through a permutation
	 * under this random per-minter key, so that nonces stay unique yet
	 * show no relation to each other (nothing else hides them). */
	uint8_t perm_rk[QLB_AES_RK_LEN];
};

/*
 * qlb_cid_cfg_init() - fill @cfg (key schedule included) from its fields.
 * @key: 16 bytes, or NULL for plaintext.
 * Return: 0, or -EINVAL when a length is outside the draft's limits.
 */
int qlb_cid_cfg_init(struct qlb_cid_cfg *cfg, unsigned int id,
		     unsigned int sid_len, unsigned int nonce_len,
		     const uint8_t *key, bool encode_length,
		     unsigned int worker_bits);

/*
 * qlb_minter_init() - prepare to mint under @cfg for server ID @sid
 * (cfg->sid_len bytes). The nonce counter starts at a random value.
 * Return: 0 or -EINVAL / -EIO (no randomness).
 */
int qlb_minter_init(struct qlb_minter *m, const struct qlb_cid_cfg *cfg,
		    const uint8_t *sid);

/*
 * qlb_minter_mint() - write a new CID to @cid (room for QLB_CID_MAX_LEN).
 * Return: the CID length, or -EOVERFLOW once every nonce has been used
 * (the server must then wait for a new config or mint unroutable CIDs).
 */
int qlb_minter_mint(struct qlb_minter *m, uint8_t *cid);

/*
 * qlb_mint_unroutable() - a random CID with config bits 0b111 and the
 * length self-encoded, for a server with no usable config. @len >= 8.
 * Return: @len or -EINVAL.
 */
int qlb_mint_unroutable(uint8_t *cid, size_t len);

/*
 * qlb_decode() - diagnostics: decode @cid under @cfg.
 * @sid: receives cfg->sid_len bytes, @nonce cfg->nonce_len bytes; either
 * may be NULL.
 * Return: 0, -EINVAL (too short, or config bits differ from cfg->id).
 */
int qlb_decode(const struct qlb_cid_cfg *cfg, const uint8_t *cid,
	       size_t cid_len, uint8_t *sid, uint8_t *nonce);

/*
 * qlb_reset_token() - the stateless reset token for @cid: a keyed MAC
 * (AES-128 CBC-MAC over the length-prefixed CID) under a per-server secret
 * @secret, so any worker that knows the secret can recompute it.
 */
void qlb_reset_token(const uint8_t secret[16], const uint8_t *cid,
		     size_t cid_len, uint8_t token[16]);

/* ---- agent client ---------------------------------------------------- */

enum qlb_conf_state_pub {
	QLB_STATE_ROUTABLE = 0, /* routed by LBs, not minted yet */
	QLB_STATE_ACTIVE = 1,	/* the config servers mint under */
	QLB_STATE_RETIRING = 2, /* still routed, no longer minted */
};

/* One live QUIC-LB config as the agent tells it to a server. */
struct qlb_live_config {
	struct qlb_cid_cfg cfg;
	uint8_t state;		      /* enum qlb_conf_state_pub */
	uint8_t sid[QLB_SID_MAX_LEN]; /* this worker's full server ID */
};

struct qlb_client;

/* Called from qlb_client_process() after the agent pushed new configs. */
typedef void (*qlb_config_cb)(struct qlb_client *cl, void *arg);

/*
 * qlb_client_connect() - connect to the agent's Unix socket @path.
 * Return: a client, or NULL with errno set (EACCES when the agent refuses
 * this process's uid/gid).
 */
struct qlb_client *qlb_client_connect(const char *path);

/*
 * qlb_client_connect_err() - qlb_client_connect() that also writes why it
 * failed to @msg (@len bytes), the agent's own words for a refusal.
 */
QLB_API struct qlb_client *qlb_client_connect_err(const char *path, char *msg,
						  size_t len);

/*
 * qlb_client_register() - hand @fd (a bound SO_REUSEPORT UDP socket) to the
 * agent as a member of @generation. On success the agent has put it in the
 * socket map, and the client knows its worker ID and the live configs.
 * Return: 0, -EACCES (refused), -ENOSPC (no worker ID left), -EINVAL (not
 * a bound SO_REUSEPORT UDP socket), -EEXIST (registered already), -ESTALE
 * (a generation older than the working one), -EPROTO; the agent's words
 * are in qlb_client_last_error().
 */
int qlb_client_register(struct qlb_client *cl, int fd, uint32_t generation);

/* Worker ID the agent gave the registered socket. */
uint32_t qlb_client_worker_id(const struct qlb_client *cl);

/* Host name the agent serves (from its config). */
const char *qlb_client_host_name(const struct qlb_client *cl);

/*
 * qlb_client_mint() - a new CID under the active config (for a new
 * connection or NEW_CONNECTION_ID). Falls back to an unroutable CID of
 * @fallback_len bytes when there is no active config.
 * Return: the CID length, or a negative errno.
 */
int qlb_client_mint(struct qlb_client *cl, uint8_t *cid, size_t fallback_len);

/* Config id the client currently mints under, or -1 (none). */
int qlb_client_active_config(const struct qlb_client *cl);

/* Live configs: returns their number, *out points into the client. */
int qlb_client_configs(const struct qlb_client *cl,
		       const struct qlb_live_config **out);

/* File descriptor to poll for readability (config pushes). */
int qlb_client_fd(const struct qlb_client *cl);

/* Set the callback run after a config push. */
void qlb_client_on_config(struct qlb_client *cl, qlb_config_cb cb, void *arg);

/*
 * qlb_client_process() - read pending messages from the agent (call when
 * qlb_client_fd() is readable). Return: 0; -ECONNRESET when the agent
 * went away or broke the protocol (the registered socket keeps working;
 * reconnect at leisure); another negative errno (e.g. -EINVAL for a config
 * push the client refused: it keeps minting under the configs it had).
 */
int qlb_client_process(struct qlb_client *cl);

/*
 * qlb_client_declare_generation() - tell the agent @generation will have
 * @size sockets; it becomes the working generation by itself once that
 * many are registered. Call before qlb_client_register(); every worker of
 * the generation may call it (the same size is harmless).
 * Return: 0, -EINVAL, or the agent's refusal (qlb_client_last_error()).
 */
QLB_API int qlb_client_declare_generation(struct qlb_client *cl,
					  uint32_t generation, uint32_t size);

/* Make @generation the working one now (what qlbctl agent promote does). */
QLB_API int qlb_client_promote(struct qlb_client *cl, uint32_t generation);

/* The agent's reason for the last refused request ("" when none). */
QLB_API const char *qlb_client_last_error(const struct qlb_client *cl);

/*
 * qlb_client_reconnect() - after qlb_client_process() returned -ECONNRESET
 * (the agent restarted), connect again and re-announce the registered
 * socket: the worker keeps its ID and its CIDs keep routing.
 * Return: 0, or a negative errno (try again later; the socket keeps
 * receiving its packets meanwhile).
 */
QLB_API int qlb_client_reconnect(struct qlb_client *cl);

/* Generation the socket was registered with. */
QLB_API uint32_t qlb_client_generation(const struct qlb_client *cl);

/* The working generation as last told by the agent (0 = none). */
QLB_API uint32_t qlb_client_working_generation(const struct qlb_client *cl);

/*
 * qlb_client_draining() - true once another generation took over: the
 * socket still receives its own connections' packets and no new ones; a
 * server exits when its connections are done. The qlb_config_cb runs when
 * this changes, as after a config push.
 */
QLB_API bool qlb_client_draining(const struct qlb_client *cl);

/* Close the connection to the agent (the socket stays registered). */
void qlb_client_close(struct qlb_client *cl);

#ifdef __cplusplus
}
#endif

#endif /* QLB_LIBQLB_H */
