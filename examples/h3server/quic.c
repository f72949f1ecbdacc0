// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The QUIC side (ngtcp2 0.12 API): find the connection a datagram belongs
 * to, accept new ones (with an optional Retry), feed packets in, write
 * packets out, run timers, close.
 *
 * Connections are found by a linear search over the server CIDs ngtcp2
 * reports for each one: plenty for an example with tens of connections per
 * worker. A production server keeps a hash table instead, updated from
 * get_new_connection_id and remove_connection_id.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "h3server.h"

#define H3_MAX_PKT   1500 /* our links' MTU: no larger datagram */
#define H3_MAX_BURST 64	  /* packets per connection per loop turn */
#define H3_MAX_SCIDS 64	  /* room for ngtcp2_conn_get_scid() */

/* ---- sending ---- */

/*
 * Send from the address the client talks to (the VIP, which lives on the
 * host's loopback), whatever address the socket is bound to: that is what
 * makes the return path direct.
 */
static void send_packet(struct h3_worker *w, const ngtcp2_path *path,
			const uint8_t *data, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {
		.msg_name = path->remote.addr,
		.msg_namelen = path->remote.addrlen,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.buf,
	};
	const struct sockaddr *local =
		(const struct sockaddr *)path->local.addr;
	struct cmsghdr *cm;

	memset(&cbuf, 0, sizeof(cbuf));
	cm = (struct cmsghdr *)cbuf.buf;
	if (local->sa_family == AF_INET) {
		struct in_pktinfo pi = {
			.ipi_spec_dst =
				((const struct sockaddr_in *)local)->sin_addr,
		};

		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
	} else {
		/* also right for v4-mapped sources on a dual-stack socket */
		struct in6_pktinfo pi = {
			.ipi6_addr =
				((const struct sockaddr_in6 *)local)->sin6_addr,
		};

		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		msg.msg_controllen = CMSG_SPACE(sizeof(pi));
	}
	for (int i = 0; i < 3; i++) {
		if (sendmsg(w->fd, &msg, 0) >= 0 || errno != EINTR)
			break;
	}
	/* EAGAIN and the like: the packet is lost, QUIC recovers it. */
}

/* ---- finding, accepting ---- */

static bool cid_is(const ngtcp2_cid *cid, const uint8_t *data, size_t len)
{
	return cid->datalen == len && !memcmp(cid->data, data, len);
}

static struct h3_conn *find_conn(struct h3_worker *w, const uint8_t *dcid,
				 size_t dcidlen)
{
	ngtcp2_cid scids[H3_MAX_SCIDS];

	for (struct h3_conn *c = w->conns; c; c = c->next) {
		size_t n;

		if (c->dead)
			continue;
		/* Retransmitted Initials and 0-RTT still carry the client's
		 * DCID; the kernel hashes it, so they come back here. */
		if (cid_is(&c->client_dcid, dcid, dcidlen))
			return c;
		n = ngtcp2_conn_get_num_scid(c->qc);
		if (n > H3_MAX_SCIDS)
			continue;
		ngtcp2_conn_get_scid(c->qc, scids);
		for (size_t i = 0; i < n; i++)
			if (cid_is(&scids[i], dcid, dcidlen))
				return c;
	}
	return NULL;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct h3_conn *)ref->user_data)->qc;
}

static void rand_cb(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
	gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

/* libqlb integration point: every NEW_CONNECTION_ID is a routable CID. */
static int get_new_cid_cb(ngtcp2_conn *qc, ngtcp2_cid *cid, uint8_t *token,
			  size_t cidlen, void *user_data)
{
	struct h3_conn *c = user_data;

	if (h3_mint_cid(c->w, cid, cidlen, token))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int handshake_completed_cb(ngtcp2_conn *qc, void *user_data)
{
	struct h3_conn *c = user_data;

	return h3_http_setup(c) ? NGTCP2_ERR_CALLBACK_FAILURE : 0;
}

static int path_validation_cb(ngtcp2_conn *qc, uint32_t flags,
			      const ngtcp2_path *path,
			      ngtcp2_path_validation_result res,
			      void *user_data)
{
	struct h3_conn *c = user_data;
	char a[INET6_ADDRSTRLEN + 8];

	h3_log(c->w, "conn %s: path to %s %s", c->name,
	       h3_addr_str((const struct sockaddr *)path->remote.addr, a,
			   sizeof(a)),
	       res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS
		       ? "validated"
		       : "failed validation");
	return 0;
}

/* TLS 1.3 only, ALPN "h3", ngtcp2's GnuTLS glue. */
static int tls_new(struct h3_conn *c)
{
	static const char prio[] =
		"%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:"
		"-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-"
		"128-CCM";
	gnutls_datum_t alpn = {.data = (unsigned char *)"h3", .size = 2};

	if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET |
					 GNUTLS_NO_END_OF_EARLY_DATA))
		return -1;
	if (gnutls_priority_set_direct(c->tls, prio, NULL) ||
	    ngtcp2_crypto_gnutls_configure_server_session(c->tls) ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
				   c->w->cred) ||
	    gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY))
		return -1;
	c->ref.get_conn = get_conn;
	c->ref.user_data = c;
	gnutls_session_set_ptr(c->tls, &c->ref);
	ngtcp2_conn_set_tls_native_handle(c->qc, c->tls);
	return 0;
}

static void conn_free(struct h3_conn *c)
{
	h3_http_free(c);
	if (c->qc)
		ngtcp2_conn_del(c->qc);
	if (c->tls)
		gnutls_deinit(c->tls);
	free(c);
}

static void ngtcp2_log_cb(void *user_data, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * A new connection for the client Initial @hd. @odcid is the client's first
 * DCID when this Initial answers our Retry (NULL otherwise).
 */
static struct h3_conn *conn_new(struct h3_worker *w, const ngtcp2_pkt_hd *hd,
				const ngtcp2_cid *odcid,
				const ngtcp2_path *path)
{
	ngtcp2_callbacks cb = {
		.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
		.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
		.encrypt = ngtcp2_crypto_encrypt_cb,
		.decrypt = ngtcp2_crypto_decrypt_cb,
		.hp_mask = ngtcp2_crypto_hp_mask_cb,
		.update_key = ngtcp2_crypto_update_key_cb,
		.delete_crypto_aead_ctx =
			ngtcp2_crypto_delete_crypto_aead_ctx_cb,
		.delete_crypto_cipher_ctx =
			ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
		.get_path_challenge_data =
			ngtcp2_crypto_get_path_challenge_data_cb,
		.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
		.rand = rand_cb,
		.get_new_connection_id = get_new_cid_cb,
		.handshake_completed = handshake_completed_cb,
		.path_validation = path_validation_cb,
	};
	ngtcp2_settings settings;
	ngtcp2_transport_params params;
	ngtcp2_cid scid;
	struct h3_conn *c;
	char a[INET6_ADDRSTRLEN + 8], dcid[2 * NGTCP2_MAX_CIDLEN + 1] = "";

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w = w;
	h3_http_quic_callbacks(&cb);

	ngtcp2_settings_default(&settings);
	settings.initial_ts = h3_now();
	settings.max_window = 24 << 20;
	settings.max_stream_window = 16 << 20;
	if (w->o->verbose > 1)
		settings.log_printf = ngtcp2_log_cb;

	ngtcp2_transport_params_default(&params);
	params.initial_max_data = 1 << 20;
	params.initial_max_stream_data_bidi_remote = 256 << 10;
	params.initial_max_stream_data_bidi_local = 256 << 10;
	params.initial_max_stream_data_uni = 256 << 10;
	params.initial_max_streams_bidi = 100;
	params.initial_max_streams_uni = 3;
	params.max_idle_timeout = 30 * NGTCP2_SECONDS;
	/* room for the client to hold spare CIDs, which it needs to migrate */
	params.active_connection_id_limit = 7;

	/* libqlb integration point: the first server CID, and its token. */
	if (h3_mint_cid(w, &scid, 0, params.stateless_reset_token))
		goto fail;
	params.stateless_reset_token_present = 1;
	if (odcid) {
		params.original_dcid = *odcid;
		params.retry_scid = hd->dcid;
		params.retry_scid_present = 1;
	} else {
		params.original_dcid = hd->dcid;
	}

	if (ngtcp2_conn_server_new(&c->qc, &hd->scid, &scid, path, hd->version,
				   &cb, &settings, &params, NULL, c))
		goto fail;
	if (tls_new(c))
		goto fail;

	c->client_dcid = hd->dcid;
	for (size_t i = 0; i < scid.datalen; i++)
		sprintf(c->name + 2 * i, "%02x", scid.data[i]);
	memcpy(&c->peer, path->remote.addr, path->remote.addrlen);
	c->t_accept = h3_now();
	c->next = w->conns;
	w->conns = c;
	w->nconns++;
	for (size_t i = 0; i < hd->dcid.datalen; i++)
		sprintf(dcid + 2 * i, "%02x", hd->dcid.data[i]);
	h3_log(w, "conn %s: accepted from %s, config %u, client DCID %s%s",
	       c->name,
	       h3_addr_str((const struct sockaddr *)path->remote.addr, a,
			   sizeof(a)),
	       qlb_cid_config_id(scid.data[0]), dcid,
	       odcid ? " (after Retry)" : "");
	return c;
fail:
	h3_log(w, "cannot set up a connection");
	conn_free(c);
	return NULL;
}

/* libqlb integration point: the Retry SCID is a server CID like the others,
 * so the client's next Initial comes straight back to this worker. */
static void send_retry(struct h3_worker *w, const ngtcp2_pkt_hd *hd,
		       const ngtcp2_path *path)
{
	uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
	uint8_t buf[H3_MAX_PKT];
	ngtcp2_ssize tokenlen, n;
	ngtcp2_cid scid;

	if (h3_mint_cid(w, &scid, 0, NULL))
		return;
	tokenlen = ngtcp2_crypto_generate_retry_token(
		token, w->o->token_secret, sizeof(w->o->token_secret),
		hd->version, path->remote.addr, path->remote.addrlen, &scid,
		&hd->dcid, h3_now());
	if (tokenlen < 0)
		return;
	n = ngtcp2_crypto_write_retry(buf, sizeof(buf), hd->version, &hd->scid,
				      &scid, &hd->dcid, token, tokenlen);
	if (n > 0)
		send_packet(w, path, buf, n);
}

/*
 * A short-header packet for no connection of ours: tell the client with a
 * stateless reset. The token is recomputed from the DCID and the host's
 * secret, so it matches what whichever worker minted the CID announced.
 */
static void send_stateless_reset(struct h3_worker *w,
				 const ngtcp2_version_cid *vc,
				 const ngtcp2_path *path, size_t pktlen)
{
	uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
	uint8_t rnd[64], buf[H3_MAX_PKT];
	size_t max = pktlen - 1 < sizeof(rnd) ? pktlen - 1 : sizeof(rnd);
	ngtcp2_ssize n;

	/* RFC 9000 10.3.3: smaller than the packet that triggered it */
	if (pktlen < 1 || max < NGTCP2_STATELESS_RESET_TOKENLEN +
					  NGTCP2_MIN_STATELESS_RESET_RANDLEN)
		return;
	h3_reset_token(w, vc->dcid, vc->dcidlen, token);
	gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd));
	n = ngtcp2_pkt_write_stateless_reset(
		buf, sizeof(buf), token, rnd,
		max - NGTCP2_STATELESS_RESET_TOKENLEN);
	if (n > 0)
		send_packet(w, path, buf, n);
	if (w->o->verbose)
		h3_log(w, "stateless reset for an unknown connection");
}

static void send_version_negotiation(struct h3_worker *w,
				     const ngtcp2_version_cid *vc,
				     const ngtcp2_path *path)
{
	uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
	uint8_t buf[H3_MAX_PKT], rnd;
	ngtcp2_ssize n;

	gnutls_rnd(GNUTLS_RND_NONCE, &rnd, 1);
	n = ngtcp2_pkt_write_version_negotiation(
		buf, sizeof(buf), rnd, vc->scid, vc->scidlen, vc->dcid,
		vc->dcidlen, versions, 1);
	if (n > 0)
		send_packet(w, path, buf, n);
}

/* ---- closing ---- */

static void conn_done(struct h3_conn *c, const char *why)
{
	char a[INET6_ADDRSTRLEN + 8];

	if (c->dead)
		return;
	c->dead = true;
	h3_log(c->w,
	       "conn %s: closed (%s) peer=%s requests=%u body_bytes=%llu "
	       "migrations=%u secs=%.3f",
	       c->name, why,
	       h3_addr_str((const struct sockaddr *)&c->peer, a, sizeof(a)),
	       c->requests, (unsigned long long)c->body_bytes, c->migrations,
	       (h3_now() - c->t_accept) / 1e9);
}

/*
 * Close on our side: send CONNECTION_CLOSE once and forget the connection.
 * (A stricter server would linger for three PTOs to answer retransmissions
 * with the same close; the client's idle timer covers it.)
 */
void h3_conn_close(struct h3_conn *c, int liberr)
{
	ngtcp2_connection_close_error ccerr;
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	uint8_t buf[H3_MAX_PKT];
	ngtcp2_ssize n;

	if (c->dead)
		return;
	if (ngtcp2_conn_is_in_closing_period(c->qc) ||
	    ngtcp2_conn_is_in_draining_period(c->qc)) {
		conn_done(c, "closing");
		return;
	}
	ngtcp2_connection_close_error_default(&ccerr);
	if (c->app_error)
		ngtcp2_connection_close_error_set_application_error(
			&ccerr,
			nghttp3_err_infer_quic_app_error_code(c->app_error),
			NULL, 0);
	else if (liberr == NGTCP2_ERR_CRYPTO)
		ngtcp2_connection_close_error_set_transport_error_tls_alert(
			&ccerr, ngtcp2_conn_get_tls_alert(c->qc), NULL, 0);
	else
		ngtcp2_connection_close_error_set_transport_error_liberr(
			&ccerr, liberr, NULL, 0);
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(c->qc, &ps.path, &pi, buf,
					       sizeof(buf), &ccerr, h3_now());
	if (n > 0)
		send_packet(c->w, &ps.path, buf, n);
	conn_done(c, c->app_error ? nghttp3_strerror(c->app_error)
				  : ngtcp2_strerror(liberr));
}

/* ---- reading ---- */

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return !memcmp(a, b, sizeof(struct sockaddr_in));
	return !memcmp(a, b, sizeof(struct sockaddr_in6));
}

/* ngtcp2 validates a migrated client's new path itself; we only log it. */
static void note_path(struct h3_conn *c)
{
	const ngtcp2_path *p = ngtcp2_conn_get_path(c->qc);
	const struct sockaddr *now = (const struct sockaddr *)p->remote.addr;
	char a[INET6_ADDRSTRLEN + 8], b[INET6_ADDRSTRLEN + 8];

	if (same_addr(now, (struct sockaddr *)&c->peer))
		return;
	c->migrations++;
	h3_log(c->w,
	       "conn %s: client moved from %s to %s after %llu body bytes",
	       c->name, h3_addr_str((struct sockaddr *)&c->peer, a, sizeof(a)),
	       h3_addr_str(now, b, sizeof(b)),
	       (unsigned long long)c->body_bytes);
	memcpy(&c->peer, now, p->remote.addrlen);
}

static void conn_read(struct h3_conn *c, const ngtcp2_path *path,
		      const uint8_t *data, size_t len)
{
	ngtcp2_pkt_info pi = {0};
	int rv = ngtcp2_conn_read_pkt(c->qc, path, &pi, data, len, h3_now());

	switch (rv) {
	case 0:
		note_path(c);
		return;
	case NGTCP2_ERR_DRAINING: /* the client closed the connection */
		conn_done(c, "by client");
		return;
	case NGTCP2_ERR_DROP_CONN:
		conn_done(c, "dropped");
		return;
	default:
		h3_conn_close(c, rv);
	}
}

void h3_on_datagram(struct h3_worker *w, uint8_t *data, size_t len,
		    const struct sockaddr *local, socklen_t local_len,
		    const struct sockaddr *remote, socklen_t remote_len)
{
	ngtcp2_path path = {
		.local = {(ngtcp2_sockaddr *)local, local_len},
		.remote = {(ngtcp2_sockaddr *)remote, remote_len},
	};
	ngtcp2_version_cid vc;
	ngtcp2_pkt_hd hd;
	ngtcp2_cid odcid;
	struct h3_conn *c;
	int rv;

	if (len < 2)
		return;
	/* libqlb integration point: a short header does not say how long
	 * its DCID is; our CIDs' first octet does. */
	rv = ngtcp2_pkt_decode_version_cid(&vc, data, len,
					   h3_short_dcid_len(w, data[1]));
	if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
		send_version_negotiation(w, &vc, &path);
		return;
	}
	if (rv < 0)
		return;

	c = find_conn(w, vc.dcid, vc.dcidlen);
	if (c) {
		conn_read(c, &path, data, len);
		return;
	}
	if (!(data[0] & 0x80)) {
		send_stateless_reset(w, &vc, &path, len);
		return;
	}

	rv = ngtcp2_accept(&hd, data, len);
	if (rv == NGTCP2_ERR_RETRY) {
		send_retry(w, &hd, &path);
		return;
	}
	if (rv < 0)
		return;
	if (hd.token.len &&
	    hd.token.base[0] == NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
		if (ngtcp2_crypto_verify_retry_token(
			    &odcid, hd.token.base, hd.token.len,
			    w->o->token_secret, sizeof(w->o->token_secret),
			    hd.version, path.remote.addr, path.remote.addrlen,
			    &hd.dcid, 10 * NGTCP2_SECONDS, h3_now())) {
			h3_log(w, "dropping an Initial with a bad Retry token");
			return;
		}
		c = conn_new(w, &hd, &odcid, &path);
	} else if (w->o->retry) {
		send_retry(w, &hd, &path);
		return;
	} else {
		c = conn_new(w, &hd, NULL, &path);
	}
	if (c)
		conn_read(c, &path, data, len);
}

/* ---- writing and timers ---- */

/*
 * Write whatever the connection has to send: HTTP/3 stream data from
 * nghttp3, and QUIC's own frames. Stops after one burst of the size the
 * congestion controller allows; ngtcp2's pacing timer brings us back.
 */
static void conn_write(struct h3_conn *c)
{
	uint8_t buf[H3_MAX_PKT];
	ngtcp2_path_storage ps;
	ngtcp2_pkt_info pi;
	size_t mtu = ngtcp2_conn_get_path_max_tx_udp_payload_size(c->qc);
	size_t burst = ngtcp2_conn_get_send_quantum(c->qc) / mtu;
	uint64_t ts = h3_now();

	if (mtu > sizeof(buf))
		mtu = sizeof(buf);
	if (burst < 1)
		burst = 1;
	if (burst > H3_MAX_BURST)
		burst = H3_MAX_BURST;
	ngtcp2_path_storage_zero(&ps);

	for (size_t sent = 0; sent < burst && !c->dead;) {
		nghttp3_vec vec[16];
		nghttp3_ssize nvec = 0;
		int64_t stream_id = -1;
		int fin = 0;
		uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
		ngtcp2_ssize ndatalen, n;

		if (c->h3 && ngtcp2_conn_get_max_data_left(c->qc)) {
			nvec = nghttp3_conn_writev_stream(c->h3, &stream_id,
							  &fin, vec, 16);
			if (nvec < 0) {
				c->app_error = (int)nvec;
				h3_conn_close(c, NGTCP2_ERR_CALLBACK_FAILURE);
				return;
			}
		}
		if (fin)
			flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		n = ngtcp2_conn_writev_stream(
			c->qc, &ps.path, &pi, buf, mtu, &ndatalen, flags,
			stream_id, (const ngtcp2_vec *)vec, nvec, ts);
		if (n < 0) {
			switch (n) {
			case NGTCP2_ERR_STREAM_DATA_BLOCKED:
				nghttp3_conn_block_stream(c->h3, stream_id);
				continue;
			case NGTCP2_ERR_STREAM_SHUT_WR:
				nghttp3_conn_shutdown_stream_write(c->h3,
								   stream_id);
				continue;
			case NGTCP2_ERR_WRITE_MORE:
				/* packet not full yet: add more stream data */
				if (nghttp3_conn_add_write_offset(
					    c->h3, stream_id, ndatalen))
					goto fail;
				continue;
			}
			h3_conn_close(c, (int)n);
			return;
		}
		if (ndatalen >= 0 &&
		    nghttp3_conn_add_write_offset(c->h3, stream_id, ndatalen))
			goto fail;
		if (n == 0)
			break;
		send_packet(c->w, &ps.path, buf, n);
		sent++;
	}
	ngtcp2_conn_update_pkt_tx_time(c->qc, ts);
	return;
fail:
	h3_conn_close(c, NGTCP2_ERR_CALLBACK_FAILURE);
}

void h3_flush_all(struct h3_worker *w)
{
	for (struct h3_conn *c = w->conns; c; c = c->next)
		if (!c->dead)
			conn_write(c);
}

void h3_on_timers(struct h3_worker *w)
{
	uint64_t now = h3_now();

	for (struct h3_conn *c = w->conns; c; c = c->next) {
		int rv;

		if (c->dead || ngtcp2_conn_get_expiry(c->qc) > now)
			continue;
		rv = ngtcp2_conn_handle_expiry(c->qc, now);
		if (rv == NGTCP2_ERR_IDLE_CLOSE)
			conn_done(c, "idle");
		else if (rv)
			h3_conn_close(c, rv);
	}
}

uint64_t h3_next_expiry(struct h3_worker *w)
{
	uint64_t t = UINT64_MAX;

	for (struct h3_conn *c = w->conns; c; c = c->next) {
		uint64_t e;

		if (c->dead)
			continue;
		e = ngtcp2_conn_get_expiry(c->qc);
		if (e < t)
			t = e;
	}
	return t;
}

/* Free the connections closed during this loop turn (never from inside
 * an ngtcp2 or nghttp3 callback). */
void h3_reap(struct h3_worker *w)
{
	struct h3_conn **pp = &w->conns;

	while (*pp) {
		struct h3_conn *c = *pp;

		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		w->nconns--;
		conn_free(c);
	}
}
