/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * qlb-h3server: an HTTP/3 server (ngtcp2 + nghttp3 + GnuTLS) whose every
 * server connection ID is minted by libqlb, so that qlb's load balancers and
 * the host's SK_REUSEPORT program route each packet to the one worker
 * process that owns the connection, through client migration included.
 *
 * Files:
 *   main.c   options, TLS credentials, worker processes, the event loop
 *   cids.c   everything libqlb: minting CIDs, reset tokens, the agent
 *   quic.c   ngtcp2: accepting, reading, writing, closing connections
 *   http3.c  nghttp3: the two routes, /bytes/N and /whoami
 */
#ifndef QLB_H3SERVER_H
#define QLB_H3SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "qlb/libqlb.h"

/* What the command line sets; read-only once the workers run. */
struct h3_opts {
	const char *address;
	const char *port;
	unsigned int workers;
	uint32_t generation;
	const char *agent_path; /* NULL with --no-agent */
	const char *cert_file;
	const char *key_file;
	const char *host_name; /* overrides the agent's / gethostname() */
	bool retry;	       /* answer token-less Initials with Retry */
	int verbose;
	unsigned int drain_timeout_s;

	/* --no-agent: the one QUIC-LB config this server mints under */
	struct {
		unsigned int config_id;
		uint8_t server_id[QLB_SID_MAX_LEN];
		unsigned int sid_len;
		unsigned int nonce_len;
		uint8_t key[16];
		bool has_key;
		bool encode_length;
		unsigned int worker_bits;
	} standalone;

	/* Shared by all workers of a host so that any worker can recompute
	 * a reset token or check a Retry token another worker made. */
	uint8_t reset_secret[16];
	uint8_t token_secret[32];
};

struct h3_conn;
struct h3_stream;

/* One worker process: one socket of the reuseport group. */
struct h3_worker {
	const struct h3_opts *o;
	unsigned int index; /* 0..workers-1 in this process group */
	int fd;
	gnutls_certificate_credentials_t cred;
	char host[64];

	/* CID source: the agent's client, or a standalone minter. */
	struct qlb_client *agent;
	bool agent_gone;  /* agent closed its end; configs as last pushed */
	bool agent_drain; /* a newer generation took over */
	struct qlb_minter minter;
	bool have_minter;
	uint32_t worker_id;
	/* one minter per live agent config, for connections whose CID
	 * length differs from the active config's (see cids.c) */
	struct qlb_minter live[QLB_CONFIG_MAX];
	bool live_ok[QLB_CONFIG_MAX];

	struct h3_conn *conns;
	unsigned int nconns;
	bool draining;
	uint64_t drain_deadline;
};

/* One QUIC connection and its HTTP/3 layer. */
struct h3_conn {
	struct h3_conn *next;
	struct h3_worker *w;
	ngtcp2_conn *qc;
	nghttp3_conn *h3;
	struct h3_stream *streams; /* open requests (http3.c) */
	gnutls_session_t tls;
	ngtcp2_crypto_conn_ref ref; /* how ngtcp2's TLS glue finds qc */
	ngtcp2_cid client_dcid;	    /* the client's first DCID (Initials) */
	char name[2 * NGTCP2_MAX_CIDLEN + 1]; /* first SCID in hex, for logs */
	struct sockaddr_storage peer;	      /* current client address */
	unsigned int migrations;
	unsigned int requests;
	uint64_t body_bytes; /* response bytes handed to nghttp3 */
	uint64_t t_accept;
	int app_error; /* nghttp3 error that ends the connection */
	bool dead;     /* remove at the end of this loop turn */
};

/* main.c */
uint64_t h3_now(void);
void h3_log(const struct h3_worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *h3_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/* cids.c */
int h3_cids_init(struct h3_worker *w);
int h3_mint_cid(struct h3_worker *w, ngtcp2_cid *cid, size_t want_len,
		uint8_t *reset_token);
size_t h3_short_dcid_len(const struct h3_worker *w, uint8_t first_cid_octet);
int h3_active_config(const struct h3_worker *w);
void h3_reset_token(const struct h3_worker *w, const uint8_t *cid, size_t len,
		    uint8_t *token);
int h3_agent_fd(const struct h3_worker *w);
void h3_agent_process(struct h3_worker *w);
void h3_agent_retry(struct h3_worker *w);

/* quic.c */
void h3_on_datagram(struct h3_worker *w, uint8_t *data, size_t len,
		    const struct sockaddr *local, socklen_t local_len,
		    const struct sockaddr *remote, socklen_t remote_len);
void h3_on_timers(struct h3_worker *w);
void h3_flush_all(struct h3_worker *w);
void h3_reap(struct h3_worker *w);
uint64_t h3_next_expiry(struct h3_worker *w);
void h3_conn_close(struct h3_conn *c, int liberr);

/* http3.c */
int h3_http_setup(struct h3_conn *c);
void h3_http_quic_callbacks(ngtcp2_callbacks *cb);
void h3_http_free(struct h3_conn *c);

#endif /* QLB_H3SERVER_H */
