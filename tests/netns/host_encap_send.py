#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""Send encapsulated QUIC-shaped datagrams the way an LB node does and count
the direct answers (used by tests/netns/host_decap.sh).

  host_encap_send.py IFNAME DSTMAC KIND COUNT OUTER_SRC OUTER_DST \
                     INNER_SRC INNER_DST PORT GUE_PORT

KIND: gue (outer UDP to GUE_PORT, inner IP right after it), gue-badsum
(the same with a wrong outer IPv4 header checksum: expect no answer), ipip (outer
protocol 4 or 41 by the inner family; IPIP, 6in4, 4in6 or IP6IP6 by the
two families). The inner datagram goes from INNER_SRC:random port to
INNER_DST:PORT; the answer must come back to INNER_SRC directly from
INNER_DST:PORT. Exit 0 when every datagram got its answer.
"""
import ipaddress
import os
import select
import socket
import struct
import sys
import time

ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000,
                    64, proto, 0, src.packed, dst.packed)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def ip6(src, dst, nh, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, 64,
                       src.packed, dst.packed) + payload


def udp(src, dst, sport, dport, payload, checksum=True):
    length = 8 + len(payload)
    h = struct.pack("!HHHH", sport, dport, length, 0)
    if not checksum:
        return h + payload
    if src.version == 4:
        pseudo = struct.pack("!4s4sBBH", src.packed, dst.packed, 0, 17, length)
    else:
        pseudo = struct.pack("!16s16sIxxxB", src.packed, dst.packed, length, 17)
    c = csum(pseudo + h + payload) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + payload


def ip(src, dst, proto, payload):
    return ip4(src, dst, proto, payload) if src.version == 4 else \
        ip6(src, dst, proto, payload)


def main():
    if len(sys.argv) != 11:
        print(__doc__, file=sys.stderr)
        return 2
    ifname, mac, kind, count = sys.argv[1:5]
    osrc, odst, isrc, idst = (ipaddress.ip_address(a) for a in sys.argv[5:9])
    port, gue_port = int(sys.argv[9]), int(sys.argv[10])
    count = int(count)
    mac = bytes.fromhex(mac.replace(":", ""))
    assert osrc.version == odst.version and isrc.version == idst.version

    rx = socket.socket(socket.AF_INET if isrc.version == 4 else socket.AF_INET6,
                       socket.SOCK_DGRAM)
    rx.bind((str(isrc), 0))
    sport = rx.getsockname()[1]
    ethertype = ETH_P_IP if osrc.version == 4 else ETH_P_IPV6
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ethertype))

    answers = {}
    sent = received = 0
    deadline = time.monotonic() + 10 + count * 0.01
    for i in range(count):
        # a short-header QUIC packet with an unroutable (0b111) 8-byte CID
        cid = bytes([0xE7]) + os.urandom(7)
        payload = bytes([0x40]) + cid + struct.pack("!I", i) + os.urandom(24)
        inner = ip(isrc, idst, 17, udp(isrc, idst, sport, port, payload))
        inner_proto = 4 if isrc.version == 4 else 41
        if kind in ("gue", "gue-badsum"):
            sp = 49152 + (i % 16384)
            outer = ip(osrc, odst, 17, udp(osrc, odst, sp, gue_port, inner, False))
            if kind == "gue-badsum":
                outer = outer[:10] + bytes([outer[10] ^ 0x5A]) + outer[11:]
        elif kind == "ipip":
            outer = ip(osrc, odst, inner_proto, inner)
        else:
            print("unknown kind", kind, file=sys.stderr)
            return 2
        tx.sendto(outer, (ifname, ethertype, 0, 0, mac))
        sent += 1
        # one in flight at a time: no loss from a full socket buffer
        while received < sent and time.monotonic() < deadline:
            r, _, _ = select.select([rx], [], [], 1.0)
            if not r:
                break
            data, frm = rx.recvfrom(2048)
            if frm[0] != str(idst) or frm[1] != port:
                print("answer from the wrong address:", frm, file=sys.stderr)
                continue
            received += 1
            line = data.decode(errors="replace").strip()
            key = " ".join(line.split()[:3])
            answers[key] = answers.get(key, 0) + 1
    name = "%s outer=IPv%d inner=IPv%d" % (kind, osrc.version, isrc.version)
    print("%s: sent=%d received=%d" % (name, sent, received))
    for k, v in sorted(answers.items()):
        print("   %s: %d" % (k, v))
    return 0 if sent == received and sent > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
