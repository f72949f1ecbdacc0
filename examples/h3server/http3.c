// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * HTTP/3 (nghttp3 0.8) on a QUIC connection: the callbacks that pass data
 * between ngtcp2 and nghttp3, and the two routes:
 *
 *   /bytes/N       N bytes of filler (the download the tests migrate under)
 *   /whoami        one line naming the host, worker, generation and config
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h3server.h"

#define H3_MAX_BODY (1ull << 40) /* largest /bytes/N served */

struct h3_stream {
	struct h3_stream *next, **pprev; /* in the connection's list */
	char path[128];
	uint64_t left;	/* filler bytes not handed to nghttp3 yet */
	char text[256]; /* a short body (whoami, errors) */
	size_t text_len;
	bool text_sent;
	char status[4];
	char length[24];
};

/* Bodies point into this buffer, which never changes or goes away, so we
 * need not track what nghttp3 still holds until the peer acknowledges it. */
static uint8_t filler[16384];

/* ---- ngtcp2 -> nghttp3 ---- */

static int recv_stream_data_cb(ngtcp2_conn *qc, uint32_t flags,
			       int64_t stream_id, uint64_t offset,
			       const uint8_t *data, size_t len, void *user_data,
			       void *stream_user_data)
{
	struct h3_conn *c = user_data;
	nghttp3_ssize n;

	if (h3_http_setup(c))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	n = nghttp3_conn_read_stream(c->h3, stream_id, data, len,
				     flags & NGTCP2_STREAM_DATA_FLAG_FIN);
	if (n < 0) {
		c->app_error = (int)n;
		return NGTCP2_ERR_CALLBACK_FAILURE;
	}
	/* What nghttp3 consumed (headers, not body) frees flow control now;
	 * request bodies are consumed in recv_data_cb. */
	ngtcp2_conn_extend_max_stream_offset(qc, stream_id, n);
	ngtcp2_conn_extend_max_offset(qc, n);
	return 0;
}

static int acked_stream_data_offset_cb(ngtcp2_conn *qc, int64_t stream_id,
				       uint64_t offset, uint64_t len,
				       void *user_data, void *stream_user_data)
{
	struct h3_conn *c = user_data;

	if (c->h3 && nghttp3_conn_add_ack_offset(c->h3, stream_id, len))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int stream_close_cb(ngtcp2_conn *qc, uint32_t flags, int64_t stream_id,
			   uint64_t app_error_code, void *user_data,
			   void *stream_user_data)
{
	struct h3_conn *c = user_data;
	int rv;

	if (!(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET))
		app_error_code = NGHTTP3_H3_NO_ERROR;
	if (c->h3) {
		rv = nghttp3_conn_close_stream(c->h3, stream_id,
					       app_error_code);
		if (rv && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
			c->app_error = rv;
			return NGTCP2_ERR_CALLBACK_FAILURE;
		}
	}
	/* let the client open another request stream */
	if (ngtcp2_is_bidi_stream(stream_id))
		ngtcp2_conn_extend_max_streams_bidi(qc, 1);
	return 0;
}

static int stream_reset_cb(ngtcp2_conn *qc, int64_t stream_id,
			   uint64_t final_size, uint64_t app_error_code,
			   void *user_data, void *stream_user_data)
{
	struct h3_conn *c = user_data;

	if (c->h3 && nghttp3_conn_shutdown_stream_read(c->h3, stream_id))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

static int stream_stop_sending_cb(ngtcp2_conn *qc, int64_t stream_id,
				  uint64_t app_error_code, void *user_data,
				  void *stream_user_data)
{
	return stream_reset_cb(qc, stream_id, 0, app_error_code, user_data,
			       stream_user_data);
}

static int extend_max_remote_streams_bidi_cb(ngtcp2_conn *qc,
					     uint64_t max_streams,
					     void *user_data)
{
	struct h3_conn *c = user_data;

	if (c->h3)
		nghttp3_conn_set_max_client_streams_bidi(c->h3, max_streams);
	return 0;
}

static int extend_max_stream_data_cb(ngtcp2_conn *qc, int64_t stream_id,
				     uint64_t max_data, void *user_data,
				     void *stream_user_data)
{
	struct h3_conn *c = user_data;

	if (c->h3 && nghttp3_conn_unblock_stream(c->h3, stream_id))
		return NGTCP2_ERR_CALLBACK_FAILURE;
	return 0;
}

void h3_http_quic_callbacks(ngtcp2_callbacks *cb)
{
	cb->recv_stream_data = recv_stream_data_cb;
	cb->acked_stream_data_offset = acked_stream_data_offset_cb;
	cb->stream_close = stream_close_cb;
	cb->stream_reset = stream_reset_cb;
	cb->stream_stop_sending = stream_stop_sending_cb;
	cb->extend_max_remote_streams_bidi = extend_max_remote_streams_bidi_cb;
	cb->extend_max_stream_data = extend_max_stream_data_cb;
}

/* ---- nghttp3 callbacks ---- */

static void stream_free(struct h3_stream *s)
{
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	free(s);
}

static int begin_headers_cb(nghttp3_conn *h3, int64_t stream_id,
			    void *conn_user_data, void *stream_user_data)
{
	struct h3_conn *c = conn_user_data;
	struct h3_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NGHTTP3_ERR_NOMEM;
	/* listed, because nghttp3_conn_del() frees its streams without
	 * telling us: h3_http_free() frees what is left */
	s->next = c->streams;
	s->pprev = (struct h3_stream **)&c->streams;
	if (s->next)
		s->next->pprev = &s->next;
	c->streams = s;
	nghttp3_conn_set_stream_user_data(h3, stream_id, s);
	return 0;
}

static int recv_header_cb(nghttp3_conn *h3, int64_t stream_id, int32_t token,
			  nghttp3_rcbuf *name, nghttp3_rcbuf *value,
			  uint8_t flags, void *conn_user_data,
			  void *stream_user_data)
{
	struct h3_stream *s = stream_user_data;
	nghttp3_vec v = nghttp3_rcbuf_get_buf(value);

	if (s && token == NGHTTP3_QPACK_TOKEN__PATH) {
		size_t n = v.len < sizeof(s->path) - 1 ? v.len
						       : sizeof(s->path) - 1;

		memcpy(s->path, v.base, n);
		s->path[n] = '\0';
	}
	return 0;
}

static nghttp3_ssize read_body_cb(nghttp3_conn *h3, int64_t stream_id,
				  nghttp3_vec *vec, size_t veccnt,
				  uint32_t *pflags, void *conn_user_data,
				  void *stream_user_data)
{
	struct h3_conn *c = conn_user_data;
	struct h3_stream *s = stream_user_data;
	size_t n = 0;

	if (s->text_len) {
		if (!s->text_sent && veccnt) {
			vec[n].base = (uint8_t *)s->text;
			vec[n++].len = s->text_len;
			s->text_sent = true;
		}
		*pflags |= NGHTTP3_DATA_FLAG_EOF;
		return n;
	}
	while (n < veccnt && s->left) {
		size_t chunk =
			s->left < sizeof(filler) ? s->left : sizeof(filler);

		vec[n].base = filler;
		vec[n++].len = chunk;
		s->left -= chunk;
		c->body_bytes += chunk;
	}
	if (!s->left)
		*pflags |= NGHTTP3_DATA_FLAG_EOF;
	return n;
}

static void set_text(struct h3_stream *s, const char *status, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));
static void set_text(struct h3_stream *s, const char *status, const char *fmt,
		     ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s->text, sizeof(s->text), fmt, ap);
	va_end(ap);
	s->text_len = n < 0			    ? 0
		      : (size_t)n < sizeof(s->text) ? (size_t)n
						    : sizeof(s->text) - 1;
	snprintf(s->status, sizeof(s->status), "%s", status);
}

static int respond(struct h3_conn *c, int64_t stream_id, struct h3_stream *s)
{
	const struct h3_worker *w = c->w;
	nghttp3_data_reader dr = {.read_data = read_body_cb};
	uint64_t body_len;
	char *end;

	if (!strncmp(s->path, "/bytes/", 7)) {
		unsigned long long n = strtoull(s->path + 7, &end, 10);

		if (end == s->path + 7 || *end || n > H3_MAX_BODY) {
			set_text(s, "400", "bad length\n");
		} else {
			snprintf(s->status, sizeof(s->status), "200");
			s->left = n;
		}
	} else if (!strcmp(s->path, "/whoami")) {
		set_text(s, "200",
			 "host=%s worker=%u generation=%" PRIu32
			 " config_id=%d pid=%d cid=%s\n",
			 w->host, w->worker_id, w->o->generation,
			 h3_active_config(w), (int)getpid(), c->name);
	} else {
		set_text(s, "404", "not found\n");
	}
	body_len = s->text_len ? s->text_len : s->left;
	snprintf(s->length, sizeof(s->length), "%" PRIu64, body_len);

	nghttp3_nv nva[] = {
		{(uint8_t *)":status", (uint8_t *)s->status, 7,
		 strlen(s->status), NGHTTP3_NV_FLAG_NONE},
		{(uint8_t *)"server", (uint8_t *)"qlb-h3server", 6, 12,
		 NGHTTP3_NV_FLAG_NONE},
		{(uint8_t *)"content-type",
		 (uint8_t *)(s->text_len ? "text/plain"
					 : "application/octet-stream"),
		 12, s->text_len ? 10 : 24, NGHTTP3_NV_FLAG_NONE},
		{(uint8_t *)"content-length", (uint8_t *)s->length, 14,
		 strlen(s->length), NGHTTP3_NV_FLAG_NONE},
	};

	c->requests++;
	if (w->o->verbose)
		h3_log(w, "conn %s: request %s -> %s", c->name, s->path,
		       s->status);
	return nghttp3_conn_submit_response(c->h3, stream_id, nva, 4, &dr);
}

/*
 * Answer as soon as the request headers are in: a request body (the tests
 * upload one to keep the client sending) is drained while we respond.
 */
static int end_headers_cb(nghttp3_conn *h3, int64_t stream_id, int fin,
			  void *conn_user_data, void *stream_user_data)
{
	struct h3_stream *s = stream_user_data;

	if (!s)
		return 0;
	return respond(conn_user_data, stream_id, s);
}

static int h3_stream_close_cb(nghttp3_conn *h3, int64_t stream_id,
			      uint64_t app_error_code, void *conn_user_data,
			      void *stream_user_data)
{
	if (stream_user_data)
		stream_free(stream_user_data);
	return 0;
}

/* Request bodies are read and dropped: give the flow control back. */
static int consume_cb(nghttp3_conn *h3, int64_t stream_id, size_t consumed,
		      void *conn_user_data, void *stream_user_data)
{
	struct h3_conn *c = conn_user_data;

	ngtcp2_conn_extend_max_stream_offset(c->qc, stream_id, consumed);
	ngtcp2_conn_extend_max_offset(c->qc, consumed);
	return 0;
}

static int recv_data_cb(nghttp3_conn *h3, int64_t stream_id,
			const uint8_t *data, size_t len, void *conn_user_data,
			void *stream_user_data)
{
	return consume_cb(h3, stream_id, len, conn_user_data, stream_user_data);
}

static int stop_sending_cb(nghttp3_conn *h3, int64_t stream_id,
			   uint64_t app_error_code, void *conn_user_data,
			   void *stream_user_data)
{
	struct h3_conn *c = conn_user_data;

	ngtcp2_conn_shutdown_stream_read(c->qc, stream_id, app_error_code);
	return 0;
}

static int reset_stream_cb(nghttp3_conn *h3, int64_t stream_id,
			   uint64_t app_error_code, void *conn_user_data,
			   void *stream_user_data)
{
	struct h3_conn *c = conn_user_data;

	ngtcp2_conn_shutdown_stream_write(c->qc, stream_id, app_error_code);
	return 0;
}

/*
 * h3_http_setup() - start HTTP/3 on @c once 1-RTT keys exist: the nghttp3
 * connection and our three unidirectional streams (control, QPACK encoder
 * and decoder). Idempotent.
 */
int h3_http_setup(struct h3_conn *c)
{
	nghttp3_callbacks cb = {
		.stream_close = h3_stream_close_cb,
		.recv_data = recv_data_cb,
		.deferred_consume = consume_cb,
		.begin_headers = begin_headers_cb,
		.recv_header = recv_header_cb,
		.end_headers = end_headers_cb,
		.stop_sending = stop_sending_cb,
		.reset_stream = reset_stream_cb,
	};
	nghttp3_settings settings;
	int64_t ctrl, qenc, qdec;

	if (c->h3)
		return 0;
	if (filler[0] == 0)
		memset(filler, 'q', sizeof(filler));
	nghttp3_settings_default(&settings);
	settings.qpack_max_dtable_capacity = 4096;
	settings.qpack_blocked_streams = 100;
	if (nghttp3_conn_server_new(&c->h3, &cb, &settings, NULL, c))
		return -1;
	nghttp3_conn_set_max_client_streams_bidi(
		c->h3, ngtcp2_conn_get_local_transport_params(c->qc)
			       ->initial_max_streams_bidi);
	if (ngtcp2_conn_open_uni_stream(c->qc, &ctrl, NULL) ||
	    nghttp3_conn_bind_control_stream(c->h3, ctrl) ||
	    ngtcp2_conn_open_uni_stream(c->qc, &qenc, NULL) ||
	    ngtcp2_conn_open_uni_stream(c->qc, &qdec, NULL) ||
	    nghttp3_conn_bind_qpack_streams(c->h3, qenc, qdec)) {
		h3_log(c->w, "conn %s: cannot open HTTP/3 streams", c->name);
		return -1;
	}
	return 0;
}

void h3_http_free(struct h3_conn *c)
{
	if (c->h3)
		nghttp3_conn_del(c->h3);
	c->h3 = NULL;
	while (c->streams)
		stream_free(c->streams);
}
