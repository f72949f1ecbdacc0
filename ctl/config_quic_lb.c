// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * quic_lb: of the qlb configuration (see config.c for the schema machinery
 * and docs/config.md): the QUIC-LB configs, their keys (inline or in a key
 * file), states, and the marks qlbctl rotate edits the text at.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config_int.h"
#include "common.h"
#include "qlb/libqlb.h"

#define MAX_DRAIN_TIME (10u * 365 * 86400)

/* ---- quic_lb.configs ---------------------------------------------------- */

/* One item of quic_lb.configs while it is parsed. */
struct conf_item {
	struct qlb_conf_cid q;
	unsigned int id;
	bool store;    /* a valid, new id: the item is kept */
	bool len_ok;   /* server_id_len and nonce_len valid */
	bool state_ok; /* state: absent or valid */
};

static bool conf_id(struct ctx *c, const struct qlb_key *k,
		    const yaml_node_t *m, const yaml_node_t *v,
		    const char *sect, const char *path, void *obj, void *aux)
{
	struct conf_item *it = aux;
	struct conf_seen *s;
	unsigned int id;

	/* a bad or duplicate id still gets the rest of the item checked */
	if (v->type == YAML_SCALAR_NODE && !strcmp(qlb_y_sval(v), "7")) {
		qlb_y_diag(&c->y, v, path,
			   "7 is above the maximum 6 (0b111 marks unroutable "
			   "CIDs)");
		return true;
	}
	if (!qlb_y_uint(&c->y, v, path, 0, QLB_CONFIG_MAX - 1, &id))
		return true;
	s = &c->tgt->seen[id];
	if (s->item) {
		qlb_y_diag(&c->y, v, path,
			   "config %u is already defined at %d:%d", id,
			   QLB_Y_LINE(s->id), QLB_Y_COL(s->id));
		return true;
	}
	s->item = m;
	s->id = v;
	s->idx = -1; /* set by the caller, which knows the index */
	it->id = id;
	it->q.id = id;
	it->store = true;
	return true;
}

/* server_id_len, or its other name sid_len (not both). */
static bool conf_sid_len(struct ctx *c, const struct qlb_key *k,
			 const yaml_node_t *m, const yaml_node_t *v,
			 const char *sect, const char *path, void *obj,
			 void *aux)
{
	const yaml_node_t *alias = qlb_y_get(&c->y, m, "sid_len", NULL);
	struct conf_item *it = aux;
	bool ok = true;

	if (v && alias) {
		char ap[96];

		snprintf(ap, sizeof(ap), "%s.sid_len", sect);
		qlb_y_diag(&c->y, alias, ap,
			   "give server_id_len or sid_len, not both");
		ok = false;
	}
	if (!v)
		v = alias;
	if (!v) {
		qlb_y_diag(&c->y, m, sect,
			   "missing required key 'server_id_len'");
		it->len_ok = false;
		return false;
	}
	if (!qlb_y_uint(&c->y, v, path, QLB_SID_MIN_LEN, QLB_SID_MAX_LEN,
			&it->q.sid_len)) {
		it->len_ok = false;
		return false;
	}
	return ok;
}

static bool conf_nonce_len(struct ctx *c, const struct qlb_key *k,
			   const yaml_node_t *m, const yaml_node_t *v,
			   const char *sect, const char *path, void *obj,
			   void *aux)
{
	struct conf_item *it = aux;
	struct qlb_conf_cid *q = &it->q;

	if (!v || !qlb_y_uint(&c->y, v, path, QLB_NONCE_MIN_LEN,
			      QLB_NONCE_MAX_LEN, &q->nonce_len)) {
		it->len_ok = false;
		return false;
	}
	if (it->len_ok && q->sid_len + q->nonce_len > QLB_PT_MAX_LEN) {
		qlb_y_diag(&c->y, v, path,
			   "server_id_len %u + nonce_len %u = %u is above the "
			   "maximum %d",
			   q->sid_len, q->nonce_len, q->sid_len + q->nonce_len,
			   QLB_PT_MAX_LEN);
		return false;
	}
	return true;
}

static bool conf_worker_bits(struct ctx *c, const struct qlb_key *k,
			     const yaml_node_t *m, const yaml_node_t *v,
			     const char *sect, const char *path, void *obj,
			     void *aux)
{
	struct conf_item *it = aux;
	unsigned int u;

	if (!qlb_y_uint(&c->y, v, path, 0, 16, &u))
		return false;
	if (it->len_ok && u >= 8 * it->q.sid_len) {
		qlb_y_diag(&c->y, v, path,
			   "%u leaves no host bits in a %u-byte server ID "
			   "(must be below %u)",
			   u, it->q.sid_len, 8 * it->q.sid_len);
		return false;
	}
	it->q.worker_bits = u;
	return true;
}

/* key and key_file together: one of them, or neither (plaintext). */
static bool conf_key(struct ctx *c, const struct qlb_key *k,
		     const yaml_node_t *m, const yaml_node_t *keyn,
		     const char *sect, const char *path, void *obj, void *aux)
{
	struct conf_item *it = aux;
	yaml_node_t *kfk = NULL;
	const yaml_node_t *kfn = qlb_y_get(&c->y, m, "key_file", &kfk);
	char fp[96];
	bool ok = true;

	snprintf(fp, sizeof(fp), "%s.key_file", sect);
	if (keyn && kfn) {
		qlb_y_diag(&c->y, kfk, fp,
			   "give key or key_file, not both (key at %d:%d)",
			   QLB_Y_LINE(keyn), QLB_Y_COL(keyn));
		ok = false;
	} else if (keyn) {
		uint8_t b[QLB_SID_MAX_LEN + 16];
		int n = qlb_y_want_scalar(&c->y, keyn, path, "32 hex digits")
				? qlb_y_hex(&c->y, keyn, path, b, sizeof(b),
					    true)
				: -1;

		if (n >= 0 && n != 16)
			qlb_y_diag(&c->y, keyn, path,
				   "must be 32 hex digits (16 bytes), got %d "
				   "bytes",
				   n);
		if (n == 16) {
			memcpy(it->q.key, b, 16);
			it->q.has_key = true;
		} else {
			ok = false;
		}
		explicit_bzero(b, sizeof(b));
	} else if (kfn) {
		if (!qlb_y_want_scalar(&c->y, kfn, fp, "a path") ||
		    !qlb_conf_read_key_file(c, kfn, fp, it->q.key_file,
					    it->q.key))
			ok = false;
		else
			it->q.has_key = true;
	}
	return ok;
}

static bool conf_state(struct ctx *c, const struct qlb_key *k,
		       const yaml_node_t *m, const yaml_node_t *v,
		       const char *sect, const char *path, void *obj, void *aux)
{
	struct conf_item *it = aux;
	unsigned int u;
	bool ok = true;

	if (qlb_y_enum(&c->y, v, path, qlb_conf_state_names, 3, &u))
		it->q.state = (enum qlb_conf_state)u;
	else
		ok = it->state_ok = false;
	if (it->store) {
		c->tgt->seen[it->id].state = v;
		qlb_y_span(&c->y, v, &c->tgt->marks->state[it->id]);
	}
	return ok;
}

static bool conf_since(struct ctx *c, const struct qlb_key *k,
		       const yaml_node_t *m, const yaml_node_t *v,
		       const char *sect, const char *path, void *obj, void *aux)
{
	struct conf_item *it = aux;
	long long ll;
	bool ok = qlb_y_int(&c->y, v, path, 0, INT64_MAX, &ll);

	if (ok)
		it->q.since = ll;
	if (it->store)
		qlb_y_span(&c->y, v, &c->tgt->marks->since[it->id]);
	return ok;
}

#define CID(f) QLB_FIELD(struct qlb_conf_cid, f)
static const struct qlb_key conf_keys[] = {
	{"id", KT_HOOK, K_REQUIRED, .fn = conf_id},
	{"server_id_len", KT_HOOK, K_ABSENT, .fn = conf_sid_len},
	{"sid_len", KT_HOOK, 0, .fn = NULL}, /* read by conf_sid_len */
	{"nonce_len", KT_HOOK, K_REQUIRED | K_ABSENT, .fn = conf_nonce_len},
	{"worker_bits", KT_HOOK, .fn = conf_worker_bits},
	{"key", KT_HOOK, K_ABSENT, .fn = conf_key}, /* and key_file */
	{"key_file", KT_HOOK, 0, .fn = NULL},	    /* read by conf_key */
	{"encode_length", KT_BOOL, CID(encode_length), .def = true},
	{"state", KT_HOOK, CID(state), .def = QLB_CONF_ACTIVE,
	 .fn = conf_state},
	{"since", KT_HOOK, .fn = conf_since},
	{"drain_time", KT_UINT, 0, 0, MAX_DRAIN_TIME, CID(drain_time),
	 .def = QLB_DEFAULT_DRAIN_TIME},
	{NULL}};
#undef CID

static void mark_item(struct ctx *c, const yaml_node_t *m, unsigned int id)
{
	struct qlb_conf_marks *mk = c->tgt->marks;
	size_t start = qlb_y_boff(&c->y, m->start_mark.index), i, end = 0, ls;
	yaml_node_pair_t *p;

	mk->key_col[id] = (int)m->start_mark.column;
	mk->item_block[id] = m->data.mapping.style == YAML_BLOCK_MAPPING_STYLE;
	/* the '-' precedes the first key, usually on the same line */
	for (i = start; i > c->y.bom; i--) {
		char ch = c->y.text[i - 1];

		if (ch == '-')
			break;
		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
			mk->item_block[id] = false;
			return;
		}
	}
	if (i == c->y.bom) {
		mk->item_block[id] = false;
		return;
	}
	i--;
	for (ls = i; ls > c->y.bom && c->y.text[ls - 1] != '\n'; ls--)
		;
	mk->dash_col[id] = (int)(i - ls);
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		size_t e = qlb_y_boff(
			&c->y, qlb_y_node(&c->y, p->value)->end_mark.index);

		if (e > end)
			end = e;
	}
	while (end < c->y.len && c->y.text[end] != '\n')
		end++;
	if (end < c->y.len)
		end++;
	/* comment lines indented under the item belong to it */
	for (;;) {
		size_t j = end;

		while (j < c->y.len &&
		       (c->y.text[j] == ' ' || c->y.text[j] == '\t'))
			j++;
		if (j >= c->y.len || c->y.text[j] != '#' ||
		    (int)(j - end) <= mk->dash_col[id])
			break;
		while (j < c->y.len && c->y.text[j] != '\n')
			j++;
		end = j < c->y.len ? j + 1 : j;
	}
	mk->item[id].start = ls;
	mk->item[id].end = end;
	mk->item[id].line = (int)m->start_mark.line + 1;
	mk->item[id].col = mk->dash_col[id] + 1;
}

static void parse_config(struct ctx *c, const yaml_node_t *m, const char *list,
			 int idx)
{
	struct conf_item it = {.len_ok = true, .state_ok = true};
	char path[128];
	bool known;
	int r;

	snprintf(path, sizeof(path), "%s[%d]", list, idx);
	qlb_keys_defaults(conf_keys, &it.q);
	it.q.pos.line = QLB_Y_LINE(m);
	it.q.pos.col = QLB_Y_COL(m);
	r = qlb_keys_parse(c, m, path, conf_keys, &it.q, &it, &known);
	if (r >= 0 && it.store) {
		struct conf_seen *s = &c->tgt->seen[it.id];

		it.q.present = true;
		mark_item(c, m, it.id);
		c->tgt->configs[it.id] = it.q;
		s->idx = idx;
		s->ok = known && r == 1;
		s->state_ok = it.state_ok;
	}
	explicit_bzero(&it.q, sizeof(it.q));
}

static bool parse_configs(struct ctx *c, const struct qlb_key *k,
			  const yaml_node_t *map, const yaml_node_t *cs,
			  const char *sect, const char *path, void *obj,
			  void *aux)
{
	const yaml_node_t *active = NULL;
	int i;

	if (!qlb_y_want_seq(&c->y, cs, path))
		return false;
	c->tgt->marks->configs_block =
		cs->data.sequence.style == YAML_BLOCK_SEQUENCE_STYLE;
	if (!qlb_y_seq_len(cs))
		qlb_y_diag(&c->y, cs, path, "at least one config is needed");
	for (i = 0; i < qlb_y_seq_len(cs); i++)
		parse_config(c, qlb_y_seq_item(&c->y, cs, i), path, i);
	for (i = 0; i < QLB_CONFIG_MAX; i++) {
		const struct qlb_conf_cid *q = &c->tgt->configs[i];
		const struct conf_seen *s = &c->tgt->seen[i];
		char p[128];

		if (!q->present || !s->state_ok || q->state != QLB_CONF_ACTIVE)
			continue;
		if (!active) {
			active = s->state ? s->state : s->item;
			continue;
		}
		snprintf(p, sizeof(p), "%s[%d]%s", path, s->idx,
			 s->state ? ".state" : "");
		qlb_y_diag(&c->y, s->state ? s->state : s->item, p,
			   "config %d is active, and so is the config at "
			   "%d:%d: at most one config may be active (the "
			   "others routable or retiring)",
			   i, QLB_Y_LINE(active), QLB_Y_COL(active));
	}
	return true;
}

static const struct qlb_key quic_lb_keys[] = {
	{"configs", KT_HOOK, K_REQUIRED, .fn = parse_configs}, {NULL}};

bool qlb_conf_parse_quic_lb(struct ctx *c, const struct qlb_key *k,
			    const yaml_node_t *root, const yaml_node_t *n,
			    const char *sect, const char *path, void *obj,
			    void *aux)
{
	if (!n) {
		qlb_y_diag(&c->y, root, "",
			   "missing required section 'quic_lb'");
		return false;
	}
	return qlb_keys_parse(c, n, path, quic_lb_keys, NULL, NULL, NULL) == 1;
}
