// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "pcap.h"

#define MAGIC_USEC   0xa1b2c3d4u
#define MAGIC_NSEC   0xa1b23c4du
#define MAGIC_PCAPNG 0x0a0d0d0au

static uint32_t get32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

int qlb_pcap_fopen(struct qlb_pcap_reader *r, FILE *f)
{
	uint8_t h[24];
	uint32_t magic;
	size_t n;

	memset(r, 0, sizeof(*r));
	r->f = f;
	n = fread(h, 1, sizeof(h), f);
	if (n != sizeof(h)) {
		snprintf(r->err, sizeof(r->err),
			 "not a pcap file: %zu bytes, a header needs 24", n);
		return -1;
	}
	memcpy(&magic, h, 4);
	if (magic == MAGIC_USEC || magic == MAGIC_NSEC) {
		r->nsec = magic == MAGIC_NSEC;
	} else if (__builtin_bswap32(magic) == MAGIC_USEC ||
		   __builtin_bswap32(magic) == MAGIC_NSEC) {
		r->swap = true;
		r->nsec = __builtin_bswap32(magic) == MAGIC_NSEC;
	} else if (magic == MAGIC_PCAPNG) {
		snprintf(r->err, sizeof(r->err),
			 "pcapng is not supported: convert with 'editcap -F "
			 "pcap' or capture with 'tcpdump -w' (classic pcap)");
		return -1;
	} else {
		snprintf(r->err, sizeof(r->err), "not a pcap file: magic %08x",
			 magic);
		return -1;
	}
	if ((h[4] | h[5] << 8) != 2 && (h[5] | h[4] << 8) != 2) {
		snprintf(r->err, sizeof(r->err),
			 "unsupported pcap major version");
		return -1;
	}
	r->snaplen = get32(h + 16, r->swap);
	r->linktype = get32(h + 20, r->swap) & 0x0fffffff;
	if (!r->snaplen || r->snaplen > QLB_PCAP_MAX_SNAPLEN)
		r->snaplen = QLB_PCAP_MAX_SNAPLEN; /* files in the wild say 0 */
	return 0;
}

int qlb_pcap_open(struct qlb_pcap_reader *r, const char *path)
{
	FILE *f = fopen(path, "rb");
	int rc;

	if (!f) {
		memset(r, 0, sizeof(*r));
		snprintf(r->err, sizeof(r->err), "cannot open: %s",
			 strerror(errno));
		return -1;
	}
	rc = qlb_pcap_fopen(r, f);
	r->own = true;
	if (rc) {
		fclose(f);
		r->f = NULL;
	}
	return rc;
}

int qlb_pcap_next(struct qlb_pcap_reader *r, uint8_t *buf, size_t cap,
		  struct qlb_pcap_rec *rec)
{
	uint8_t h[16];
	size_t n;

	if (!r->f)
		return -1;
	n = fread(h, 1, sizeof(h), r->f);
	if (n == 0 && feof(r->f))
		return 0;
	if (n != sizeof(h)) {
		snprintf(r->err, sizeof(r->err),
			 "record %lu: truncated header (%zu of 16 bytes)",
			 r->count + 1, n);
		return -1;
	}
	rec->ts_sec = get32(h, r->swap);
	rec->ts_frac = get32(h + 4, r->swap);
	rec->caplen = get32(h + 8, r->swap);
	rec->origlen = get32(h + 12, r->swap);
	if (rec->caplen > r->snaplen || rec->caplen > cap) {
		snprintf(r->err, sizeof(r->err),
			 "record %lu: length %u beyond the limit %zu",
			 r->count + 1, rec->caplen,
			 cap < r->snaplen ? cap : (size_t)r->snaplen);
		return -1;
	}
	n = fread(buf, 1, rec->caplen, r->f);
	if (n != rec->caplen) {
		snprintf(r->err, sizeof(r->err),
			 "record %lu: truncated data (%zu of %u bytes)",
			 r->count + 1, n, rec->caplen);
		return -1;
	}
	r->count++;
	return 1;
}

void qlb_pcap_close(struct qlb_pcap_reader *r)
{
	if (r->f && r->own)
		fclose(r->f);
	r->f = NULL;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* native order: readers follow the magic */
}

int qlb_pcap_create(struct qlb_pcap_writer *w, const char *path,
		    uint32_t linktype)
{
	uint8_t h[24] = {0};

	w->f = fopen(path, "wb");
	if (!w->f)
		return -errno;
	put32(h, MAGIC_USEC);
	h[4] = 2; /* version 2.4, little or big end alike via the magic */
	h[6] = 4;
	if (*(const uint16_t *)"\0\1" == 1) { /* big-endian host */
		h[4] = 0;
		h[5] = 2;
		h[6] = 0;
		h[7] = 4;
	}
	put32(h + 16, QLB_PCAP_MAX_SNAPLEN);
	put32(h + 20, linktype);
	if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h)) {
		int e = errno;

		fclose(w->f);
		w->f = NULL;
		return -e;
	}
	return 0;
}

int qlb_pcap_write(struct qlb_pcap_writer *w, const struct qlb_pcap_rec *rec,
		   const uint8_t *data, size_t len)
{
	uint8_t h[16];

	put32(h, rec->ts_sec);
	put32(h + 4, rec->ts_frac);
	put32(h + 8, (uint32_t)len);
	put32(h + 12, (uint32_t)len);
	if (fwrite(h, 1, sizeof(h), w->f) != sizeof(h) ||
	    fwrite(data, 1, len, w->f) != len)
		return -EIO;
	return 0;
}

int qlb_pcap_finish(struct qlb_pcap_writer *w)
{
	int rc = 0;

	if (!w->f)
		return 0;
	if (fclose(w->f))
		rc = -errno;
	w->f = NULL;
	return rc;
}
