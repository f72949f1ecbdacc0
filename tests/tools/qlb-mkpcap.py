#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
"""qlb-mkpcap: client packets toward the VIPs, as a classic pcap for
`qlbctl trace` (tests/netns/ops_*.sh). Never sent anywhere.

  qlb-mkpcap.py OUT --vip4 A --vip6 A [--port P] [--initials N]
                [--cid HEX ...] [--seed S]

--initials N: N client Initials (version 1, 1200 bytes, random 8-byte
DCID) from random 4-tuples, alternately IPv4 and IPv6 (sources in
198.19.0.0/16 and 2001:db8:ff::/48). Each --cid: one short-header packet
with that DCID toward each VIP family. The same seed gives the same file.
"""
import argparse
import ipaddress
import random
import struct


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def frame(src, dst, sport, dport, payload):
    eth_dst = bytes.fromhex('020000000002')
    eth_src = bytes.fromhex('020000000001')
    udp_len = 8 + len(payload)
    if src.version == 4:
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0,
                         src.packed, dst.packed)
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        udp = struct.pack('!HHHH', sport, dport, udp_len, 0) + payload
        return eth_dst + eth_src + b'\x08\x00' + ip + udp
    udp = struct.pack('!HHHH', sport, dport, udp_len, 0) + payload
    pseudo = src.packed + dst.packed + struct.pack('!IxxxB', udp_len, 17)
    c = csum(pseudo + udp) or 0xffff
    udp = udp[:6] + struct.pack('!H', c) + udp[8:]
    ip = struct.pack('!IHBB16s16s', 0x60000000, udp_len, 17, 64, src.packed, dst.packed)
    return eth_dst + eth_src + b'\x86\xdd' + ip + udp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--vip4', required=True)
    ap.add_argument('--vip6', required=True)
    ap.add_argument('--port', type=int, default=443)
    ap.add_argument('--initials', type=int, default=0)
    ap.add_argument('--cid', action='append', default=[])
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    vips = [ipaddress.ip_address(a.vip4), ipaddress.ip_address(a.vip6)]

    def source(v):
        if v == 4:
            return ipaddress.ip_address('198.19.%d.%d' % (rnd.randrange(256), rnd.randrange(1, 255)))
        return ipaddress.ip_address('2001:db8:ff::%x:%x' % (rnd.randrange(65536), rnd.randrange(1, 65536)))

    frames = []
    for i in range(a.initials):
        v = 4 if i % 2 == 0 else 6
        dcid = rnd.randbytes(8)
        p = bytes([0xc0, 0, 0, 0, 1, 8]) + dcid + bytes([8]) + rnd.randbytes(8)
        p += b'\0' * (1200 - len(p))
        frames.append(frame(source(v), vips[i % 2], rnd.randrange(1024, 65536), a.port, p))
    for c in a.cid:
        for k, v in enumerate((4, 6)):
            p = bytes([0x40]) + bytes.fromhex(c) + rnd.randbytes(24)
            frames.append(frame(source(v), vips[k], rnd.randrange(1024, 65536), a.port, p))
    with open(a.out, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for n, fr in enumerate(frames):
            f.write(struct.pack('<IIII', n // 1000, n % 1000, len(fr), len(fr)))
            f.write(fr)


if __name__ == '__main__':
    main()
