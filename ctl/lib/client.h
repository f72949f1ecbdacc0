/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* libqlb's agent client (ctl/lib/client.c): what is not public API. */
#ifndef QLB_CTL_LIB_CLIENT_H
#define QLB_CTL_LIB_CLIENT_H

#include "qlb/libqlb.h"

/*
 * qlb_client_adopt() - a client around @fd (-1: none yet), a stream
 * connected to an agent before its HELLO: what qlb_client_connect() makes
 * before it connects. Every message, HELLO included, then goes through
 * qlb_client_process() as in a server's poll loop; the fuzzer of the
 * client's parser (tests/fuzz/fuzz_agent_client.c) starts here.
 * Return: the client (qlb_client_close() frees it, closing @fd), or NULL.
 */
struct qlb_client *qlb_client_adopt(int fd);

#endif /* QLB_CTL_LIB_CLIENT_H */
