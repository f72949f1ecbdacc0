// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * The pcap reader and writer of `qlbctl trace`: round trips, both byte
 * orders and timestamp precisions, and hostile files (pcapng, truncation,
 * lengths beyond the snap length or the buffer, random bytes) that must
 * end in a clear error, never a crash or an over-read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "pcap.h"

static FILE *mem(const uint8_t *b, size_t n)
{
	FILE *f = tmpfile();

	fwrite(b, 1, n, f);
	rewind(f);
	return f;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

int main(void)
{
	char path[] = "/tmp/qlb-test-pcap-XXXXXX";
	struct qlb_pcap_writer w;
	struct qlb_pcap_reader r;
	struct qlb_pcap_rec rec = {1700000000, 123456, 0, 0}, got;
	uint8_t frame[1514], buf[2048], file[4096];
	int fd = mkstemp(path), i, rc;
	FILE *f;

	for (i = 0; i < (int)sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	close(fd);
	CHECK(qlb_pcap_create(&w, path, QLB_PCAP_LINKTYPE_ETHERNET) == 0,
	      "create");
	for (i = 0; i < 3; i++) {
		rec.ts_frac = i;
		CHECK(qlb_pcap_write(&w, &rec, frame, 60 + i * 700) == 0,
		      "write %d", i);
	}
	CHECK(qlb_pcap_finish(&w) == 0, "finish");
	CHECK(qlb_pcap_open(&r, path) == 0, "open: %s", r.err);
	CHECK(r.linktype == 1 && !r.swap && !r.nsec, "header fields");
	for (i = 0; i < 3; i++) {
		rc = qlb_pcap_next(&r, buf, sizeof(buf), &got);
		CHECK(rc == 1 && got.caplen == 60u + i * 700 &&
			      got.ts_sec == rec.ts_sec &&
			      got.ts_frac == (uint32_t)i &&
			      !memcmp(buf, frame, got.caplen),
		      "record %d read back (rc %d)", i, rc);
	}
	CHECK(qlb_pcap_next(&r, buf, sizeof(buf), &got) == 0, "clean EOF");
	qlb_pcap_close(&r);
	/* a buffer smaller than a record: refused, not overrun */
	CHECK(qlb_pcap_open(&r, path) == 0, "reopen");
	CHECK(qlb_pcap_next(&r, buf, 100, &got) == 1, "small record fits");
	CHECK(qlb_pcap_next(&r, buf, 100, &got) == -1 &&
		      strstr(r.err, "beyond"),
	      "record larger than the buffer: %s", r.err);
	qlb_pcap_close(&r);
	unlink(path);

	/* big-endian file with nanosecond stamps, written by hand */
	memset(file, 0, sizeof(file));
	be32(file, 0xa1b23c4d);
	file[5] = 2;
	file[7] = 4;
	be32(file + 16, 65535);
	be32(file + 20, 1);
	be32(file + 24, 5);
	be32(file + 28, 999999999);
	be32(file + 32, 4);
	be32(file + 36, 4);
	memcpy(file + 40, "abcd", 4);
	f = mem(file, 44);
	CHECK(qlb_pcap_fopen(&r, f) == 0 &&
		      r.swap == (*(uint16_t *)"\1\0" == 1) && r.nsec,
	      "big-endian nsec header");
	CHECK(qlb_pcap_next(&r, buf, sizeof(buf), &got) == 1 &&
		      got.caplen == 4 && got.ts_frac == 999999999 &&
		      !memcmp(buf, "abcd", 4),
	      "big-endian record");
	fclose(f);

	/* truncated record data and header */
	f = mem(file, 42);
	CHECK(qlb_pcap_fopen(&r, f) == 0, "header");
	CHECK(qlb_pcap_next(&r, buf, sizeof(buf), &got) == -1 &&
		      strstr(r.err, "truncated data"),
	      "truncated data: %s", r.err);
	fclose(f);
	f = mem(file, 30);
	CHECK(qlb_pcap_fopen(&r, f) == 0, "header");
	CHECK(qlb_pcap_next(&r, buf, sizeof(buf), &got) == -1 &&
		      strstr(r.err, "truncated header"),
	      "truncated header: %s", r.err);
	fclose(f);
	/* caplen beyond the snap length */
	be32(file + 16, 64);
	be32(file + 32, 65);
	f = mem(file, 44);
	CHECK(qlb_pcap_fopen(&r, f) == 0, "header");
	CHECK(qlb_pcap_next(&r, buf, sizeof(buf), &got) == -1,
	      "caplen > snaplen");
	fclose(f);
	/* pcapng and garbage */
	be32(file, 0x0a0d0d0a);
	f = mem(file, 44);
	CHECK(qlb_pcap_fopen(&r, f) == -1 && strstr(r.err, "pcapng"),
	      "pcapng named: %s", r.err);
	fclose(f);
	f = mem((const uint8_t *)"hello", 5);
	CHECK(qlb_pcap_fopen(&r, f) == -1, "five bytes");
	fclose(f);

	/* random records after a valid header: always a clean answer */
	srand(7);
	for (i = 0; i < 2000; i++) {
		size_t n = 24 + (size_t)(rand() % 200), j;
		int recs = 0;

		be32(file, 0xa1b2c3d4);
		be32(file + 16, 1500);
		for (j = 24; j < n; j++)
			file[j] = (uint8_t)rand();
		if (rand() & 1)
			be32(file + 32, rand() % 64); /* plausible lengths */
		f = mem(file, n);
		if (qlb_pcap_fopen(&r, f) == 0)
			while ((rc = qlb_pcap_next(&r, buf, sizeof(buf),
						   &got)) == 1)
				recs++;
		fclose(f);
		if (recs > 100)
			break;
	}
	CHECK(i == 2000, "random files stop cleanly");
	return t_done("test_pcap");
}
