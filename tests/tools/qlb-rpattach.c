// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * qlb-rpattach ADDR PORT empty|detach: join the SO_REUSEPORT group bound to
 * ADDR:PORT with a short-lived socket and either attach the empty
 * SK_REUSEPORT program (bench/qlb_bench_rp_empty.bpf.c; prints its id) or
 * detach the group's program so the kernel's own hash picks sockets. The
 * program stays with the group after this process exits. For benchmarks.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "qlb_bench_rp_empty.skel.h"

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *a4 = (void *)&ss;
	struct sockaddr_in6 *a6 = (void *)&ss;
	struct qlb_bench_rp_empty *sk = NULL;
	struct bpf_prog_info info = {0};
	__u32 ilen = sizeof(info);
	socklen_t alen;
	int fd, one = 1, pfd, rc = 1;

	if (argc != 4)
		goto usage;
	if (inet_pton(AF_INET, argv[1], &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((unsigned short)atoi(argv[2]));
		alen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, argv[1], &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((unsigned short)atoi(argv[2]));
		alen = sizeof(*a6);
	} else {
		goto usage;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, alen)) {
		perror("qlb-rpattach: join the group");
		return 1;
	}
	if (!strcmp(argv[3], "detach")) {
		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &one,
			       sizeof(one))) {
			perror("qlb-rpattach: SO_DETACH_REUSEPORT_BPF");
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (strcmp(argv[3], "empty"))
		goto usage;
	sk = qlb_bench_rp_empty__open_and_load();
	if (!sk) {
		perror("qlb-rpattach: load");
		goto out;
	}
	pfd = bpf_program__fd(sk->progs.qlb_bench_rp_empty);
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &pfd,
		       sizeof(pfd))) {
		perror("qlb-rpattach: SO_ATTACH_REUSEPORT_EBPF");
		goto out;
	}
	bpf_obj_get_info_by_fd(pfd, &info, &ilen);
	printf("prog_id=%u\n", info.id);
	rc = 0;
out:
	qlb_bench_rp_empty__destroy(sk);
	close(fd);
	return rc;
usage:
	fprintf(stderr, "usage: qlb-rpattach ADDR PORT empty|detach\n");
	return 2;
}
