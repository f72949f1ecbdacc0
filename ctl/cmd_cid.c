// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlbctl cid encode|decode: the QUIC-LB codec on the command line, for
 * operators and for tests outside the project (the interface is a
 * contract: see issue 2 and docs/cid.md). Exit 0 on success, 1 on a bad
 * value or an undecodable CID (one-line reason), 2 on usage errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common.h"
#include "config.h"
#include "qlb/libqlb.h"

static const char usage_encode[] =
	"Usage: qlbctl cid encode --config-id N --server-id HEX --nonce-len N\n"
	"                         [--nonce HEX] [--key HEX]\n"
	"                         [--no-encode-length [--low-bits N]]\n"
	"Prints the CID as lower-case hex. The server ID length is that of "
	"HEX.\n"
	"  --config-id N       config rotation codepoint, 0..6\n"
	"  --server-id HEX     1..15 bytes\n"
	"  --nonce-len N       4..18 bytes; server ID + nonce <= 19 bytes\n"
	"  --nonce HEX         the nonce (default: random)\n"
	"  --key HEX           16-byte AES-128 key (default: plaintext CID)\n"
	"  --no-encode-length  low 5 bits of the first octet are not CID "
	"length - 1\n"
	"  --low-bits N        those 5 bits, 0..31 (default: random)\n";

static const char usage_decode[] =
	"Usage: qlbctl cid decode --server-id-len N --nonce-len N [--key HEX] "
	"CID_HEX\n"
	"       qlbctl cid decode -f FILE CID_HEX\n"
	"Prints: config_id=N server_id=HEX nonce=HEX (one JSON object with "
	"-j).\n"
	"  --server-id-len N   server ID bytes, 1..15\n"
	"  --nonce-len N       nonce bytes, 4..18\n"
	"  --key HEX           16-byte AES-128 key (default: plaintext CID)\n"
	"  -f, --file FILE     take the config named by the CID's config bits\n"
	"                      from a qlb YAML file\n";

static const char usage_cid[] =
	"Usage: qlbctl [-j] cid {encode|decode} ...\n"
	"  encode   build a QUIC-LB connection ID\n"
	"  decode   take a QUIC-LB connection ID apart\n"
	"'qlbctl cid COMMAND --help' for details.\n";

static void try_encode(FILE *f)
{
	fputs("Try 'qlbctl cid encode --help'.\n", f);
}

static void try_decode(FILE *f)
{
	fputs("Try 'qlbctl cid decode --help'.\n", f);
}

/* A usage error: reason, a pointer to the help, exit 2. */
static int usage_err(const char *sub, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	return qlb_usage_err(strcmp(sub, "encode") ? try_decode : try_encode,
			     "cid %s: %s", sub, msg);
}

/*
 * A length or codepoint option: any whole number parses here (a wide
 * range), so that one out of the codec's range gets the codec's own
 * reason with exit 1 below rather than a usage error.
 */
static int num_opt(const char *sub, const char *opt, const char *s, long *out)
{
	uint32_t v;

	if (qlb_parse_u32(opt, s, 0, 1000000, &v)) {
		if (!qlb_json)
			(strcmp(sub, "encode") ? try_decode
					       : try_encode)(stderr);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_key(const char *s, uint8_t key[16])
{
	uint8_t buf[17];
	int n = qlb_parse_hex(s, buf, sizeof(buf));

	if (n != 16) {
		qlb_err("key must be 32 hex digits (16 bytes), got '%s'", s);
		return -1;
	}
	memcpy(key, buf, 16);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

enum {
	O_CONFIG_ID = 256,
	O_SERVER_ID,
	O_NONCE_LEN,
	O_NONCE,
	O_KEY,
	O_NO_ENCLEN,
	O_LOW_BITS,
	O_SID_LEN
};

static int cid_encode(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config-id", required_argument, NULL, O_CONFIG_ID},
		{"server-id", required_argument, NULL, O_SERVER_ID},
		{"nonce-len", required_argument, NULL, O_NONCE_LEN},
		{"nonce", required_argument, NULL, O_NONCE},
		{"key", required_argument, NULL, O_KEY},
		{"no-encode-length", no_argument, NULL, O_NO_ENCLEN},
		{"low-bits", required_argument, NULL, O_LOW_BITS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *sid_hex = NULL, *nonce_hex = NULL, *key_hex = NULL;
	long id = -1, nonce_len = -1, low_bits = -1;
	uint8_t sid[QLB_SID_MAX_LEN + 1], nonce[QLB_NONCE_MAX_LEN + 1], key[16];
	uint8_t cid[QLB_CID_MAX_LEN];
	bool enc_len = true;
	struct qlb_cid_cfg cfg;
	int o, sid_len, len, ret = QLB_EXIT_ERR;
	char hex[2 * QLB_CID_MAX_LEN + 1];

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_CONFIG_ID:
			if (num_opt("encode", "--config-id", optarg, &id))
				return QLB_EXIT_USAGE;
			break;
		case O_SERVER_ID:
			sid_hex = optarg;
			break;
		case O_NONCE_LEN:
			if (num_opt("encode", "--nonce-len", optarg,
				    &nonce_len))
				return QLB_EXIT_USAGE;
			break;
		case O_NONCE:
			nonce_hex = optarg;
			break;
		case O_KEY:
			key_hex = optarg;
			break;
		case O_NO_ENCLEN:
			enc_len = false;
			break;
		case O_LOW_BITS:
			if (num_opt("encode", "--low-bits", optarg, &low_bits))
				return QLB_EXIT_USAGE;
			break;
		case 'h':
			fputs(usage_encode, stdout);
			return QLB_EXIT_OK;
		default:
			return usage_err(
				"encode",
				"unknown option or missing value: '%s'",
				argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_err("encode", "unexpected argument '%s'",
				 argv[optind]);
	if (id < 0)
		return usage_err("encode", "%s", "--config-id is required");
	if (!sid_hex)
		return usage_err("encode", "%s", "--server-id is required");
	if (nonce_len < 0)
		return usage_err("encode", "%s", "--nonce-len is required");
	if (low_bits >= 0 && enc_len)
		return usage_err("encode", "%s",
				 "--low-bits needs --no-encode-length");

	if (id >= QLB_CONFIG_MAX) {
		qlb_err("config id %ld is out of range 0..6 (%s)", id,
			id == QLB_CR_UNROUTABLE
				? "0b111 is reserved for unroutable CIDs"
				: "3 bits");
		return QLB_EXIT_ERR;
	}
	sid_len = qlb_parse_hex(sid_hex, sid, sizeof(sid));
	if (sid_len < 0) {
		qlb_err("server ID '%s' is not hex of 1..15 bytes", sid_hex);
		return QLB_EXIT_ERR;
	}
	if (sid_len > QLB_SID_MAX_LEN) {
		qlb_err("server ID is %d bytes, at most %d", sid_len,
			QLB_SID_MAX_LEN);
		return QLB_EXIT_ERR;
	}
	if (nonce_len < QLB_NONCE_MIN_LEN || nonce_len > QLB_NONCE_MAX_LEN ||
	    sid_len + nonce_len > QLB_PT_MAX_LEN) {
		qlb_err("nonce length %ld is out of range: 4..18 bytes and "
			"server ID + nonce <= 19 (server ID is %d)",
			nonce_len, sid_len);
		return QLB_EXIT_ERR;
	}
	if (low_bits > 31) {
		qlb_err("--low-bits %ld does not fit in 5 bits (0..31)",
			low_bits);
		return QLB_EXIT_ERR;
	}
	if (nonce_hex) {
		int n = qlb_parse_hex(nonce_hex, nonce, sizeof(nonce));

		if (n < 0) {
			qlb_err("nonce '%s' is not hex", nonce_hex);
			return QLB_EXIT_ERR;
		}
		if (n != nonce_len) {
			qlb_err("nonce is %d bytes but --nonce-len is %ld", n,
				nonce_len);
			return QLB_EXIT_ERR;
		}
	} else if (getrandom(nonce, (size_t)nonce_len, 0) != nonce_len) {
		qlb_err("cannot get a random nonce: %s", strerror(errno));
		return QLB_EXIT_ERR;
	}
	if (low_bits < 0) {
		uint8_t r = 0;

		if (getrandom(&r, 1, 0) != 1) {
			qlb_err("cannot get random bits: %s", strerror(errno));
			return QLB_EXIT_ERR;
		}
		low_bits = r & 0x1f;
	}
	if (key_hex && parse_key(key_hex, key))
		return QLB_EXIT_ERR;
	if (qlb_cid_cfg_init(&cfg, (unsigned int)id, (unsigned int)sid_len,
			     (unsigned int)nonce_len, key_hex ? key : NULL,
			     enc_len, 0)) {
		qlb_err("invalid config (server ID %d bytes, nonce %ld bytes)",
			sid_len, nonce_len);
		goto out;
	}
	len = qlb_cid_encode(&cfg, sid, nonce, (uint8_t)low_bits, cid);
	if (len < 0) {
		qlb_err("cannot encode under this config");
		goto out;
	}
	qlb_hex(cid, (size_t)len, hex);
	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_str(&w, "cid", hex);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		printf("%s\n", hex);
	}
	ret = QLB_EXIT_OK;
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(&cfg, sizeof(cfg));
	return ret;
}

static int cid_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{"server-id-len", required_argument, NULL, O_SID_LEN},
		{"nonce-len", required_argument, NULL, O_NONCE_LEN},
		{"key", required_argument, NULL, O_KEY},
		{"file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *key_hex = NULL, *file = NULL, *cid_hex;
	long sid_len = -1, nonce_len = -1;
	uint8_t cid[QLB_CID_MAX_LEN + 1], key[16], sid[QLB_SID_MAX_LEN];
	uint8_t nonce[QLB_NONCE_MAX_LEN];
	char sid_s[2 * QLB_SID_MAX_LEN + 1], nonce_s[2 * QLB_NONCE_MAX_LEN + 1];
	struct qlb_cid_cfg cfg;
	struct qlb_config *conf = NULL;
	unsigned int id;
	int o, len, ret = QLB_EXIT_ERR;

	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (o) {
		case O_SID_LEN:
			if (num_opt("decode", "--server-id-len", optarg,
				    &sid_len))
				return QLB_EXIT_USAGE;
			break;
		case O_NONCE_LEN:
			if (num_opt("decode", "--nonce-len", optarg,
				    &nonce_len))
				return QLB_EXIT_USAGE;
			break;
		case O_KEY:
			key_hex = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'h':
			fputs(usage_decode, stdout);
			return QLB_EXIT_OK;
		default:
			return usage_err(
				"decode",
				"unknown option or missing value: '%s'",
				argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_err("decode", "%s", "CID_HEX is required");
	if (optind + 1 < argc)
		return usage_err("decode", "unexpected argument '%s'",
				 argv[optind + 1]);
	cid_hex = argv[optind];
	if (file && (sid_len >= 0 || nonce_len >= 0 || key_hex))
		return usage_err(
			"decode", "%s",
			"-f takes the lengths and key from the file: give "
			"either -f or --server-id-len/--nonce-len/--key");
	if (!file && (sid_len < 0 || nonce_len < 0))
		return usage_err("decode", "%s",
				 "--server-id-len and --nonce-len are required "
				 "(or -f FILE)");

	len = qlb_parse_hex(cid_hex, cid, sizeof(cid));
	if (len < 0) {
		qlb_err("CID '%s' is not hex (an even number of hex digits, no "
			"prefix)",
			cid_hex);
		return QLB_EXIT_ERR;
	}
	if (len > QLB_CID_MAX_LEN) {
		qlb_err("CID is %d bytes, longer than QUIC's 20", len);
		return QLB_EXIT_ERR;
	}
	id = qlb_cid_config_id(cid[0]);
	if (id == QLB_CR_UNROUTABLE) {
		qlb_err("CID has config bits 0b111: unroutable by design, "
			"nothing to decode");
		return QLB_EXIT_ERR;
	}

	if (file) {
		conf = calloc(1, sizeof(*conf));
		if (!conf) {
			qlb_err("out of memory");
			return QLB_EXIT_ERR;
		}
		if (qlb_config_load(file, conf, stderr)) {
			qlb_err("%s: invalid config (problems listed above)",
				file);
			free(conf);
			return QLB_EXIT_ERR;
		}
		if (!conf->configs[id].present) {
			qlb_err("CID has config id %u, which %s does not "
				"define",
				id, file);
			goto out;
		}
		if (qlb_config_cid_cfg(conf, id, &cfg)) {
			qlb_err("%s: config %u is not usable", file, id);
			goto out;
		}
	} else {
		if (sid_len < QLB_SID_MIN_LEN || sid_len > QLB_SID_MAX_LEN ||
		    nonce_len < QLB_NONCE_MIN_LEN ||
		    nonce_len > QLB_NONCE_MAX_LEN ||
		    sid_len + nonce_len > QLB_PT_MAX_LEN) {
			qlb_err("lengths out of range: server ID 1..15, nonce "
				"4..18, together <= 19 bytes");
			goto out;
		}
		if (key_hex && parse_key(key_hex, key))
			goto out;
		if (qlb_cid_cfg_init(&cfg, id, (unsigned int)sid_len,
				     (unsigned int)nonce_len,
				     key_hex ? key : NULL, true, 0)) {
			qlb_err("invalid config");
			goto out;
		}
	}
	if ((unsigned int)len < qlb_cid_len(&cfg)) {
		qlb_err("CID is %d bytes, config %u needs %u (1 + %u server ID "
			"+ %u nonce)",
			len, id, qlb_cid_len(&cfg), cfg.sid_len, cfg.nonce_len);
		goto out;
	}
	if (qlb_decode(&cfg, cid, (size_t)len, sid, nonce)) {
		qlb_err("cannot decode the CID under config %u", id);
		goto out;
	}
	qlb_hex(sid, cfg.sid_len, sid_s);
	qlb_hex(nonce, cfg.nonce_len, nonce_s);
	if (qlb_json) {
		struct qlb_json_w w;

		jw_init(&w, stdout);
		jw_obj_open(&w, NULL);
		jw_uint(&w, "config_id", id);
		jw_str(&w, "server_id", sid_s);
		jw_str(&w, "nonce", nonce_s);
		jw_obj_close(&w);
		jw_end(&w);
	} else {
		printf("config_id=%u server_id=%s nonce=%s\n", id, sid_s,
		       nonce_s);
	}
	ret = QLB_EXIT_OK;
out:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(&cfg, sizeof(cfg));
	if (conf) {
		qlb_config_free(conf);
		free(conf);
	}
	return ret;
}

static void usage(FILE *f)
{
	fputs(usage_cid, f);
}

int cmd_cid(int argc, char **argv)
{
	static const struct qlb_cmd subs[] = {
		{"encode", cid_encode, "build a QUIC-LB connection ID"},
		{"decode", cid_decode, "take a QUIC-LB connection ID apart"},
	};

	return qlb_cmd_select(subs, QLB_ARRAY_SIZE(subs), argc - 1, argv + 1,
			      "cid command", usage);
}
