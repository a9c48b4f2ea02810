#!/usr/bin/env python3
"""Prints the XDP features a network interface's driver advertises (the kernel's netdev
generic-netlink family, Linux 6.3+): whether it has native XDP, XDP_REDIRECT, and
AF_XDP zero-copy (NETDEV_XDP_ACT_XSK_ZEROCOPY, which the kernel requires before it lets
a socket bind with XDP_ZEROCOPY; without it the bind fails with EOPNOTSUPP).

    xdp-features.py IFACE
"""
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NETDEV_CMD_DEV_GET = 1
NETDEV_A_DEV_IFINDEX = 1
NETDEV_A_DEV_XDP_FEATURES = 3
NETDEV_A_DEV_XDP_ZC_MAX_SEGS = 4
NLM_F_REQUEST = 1
NLMSG_ERROR = 2

# enum netdev_xdp_act (include/uapi/linux/netdev.h)
XDP_ACT = [
    (1 << 0, "basic (native XDP)"),
    (1 << 1, "redirect"),
    (1 << 2, "ndo-xmit"),
    (1 << 3, "xsk-zerocopy (AF_XDP zero-copy)"),
    (1 << 4, "hw-offload"),
    (1 << 5, "rx-sg"),
    (1 << 6, "ndo-xmit-sg"),
]


def attribute(kind, payload):
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


def attributes(data):
    found = {}
    while len(data) >= 4:
        length, kind = struct.unpack_from("HH", data)
        if length < 4:
            break
        found[kind & 0x3FFF] = data[4:length]
        data = data[(length + 3) & ~3:]
    return found


def request(sock, family, command, payload):
    header = struct.pack("BBH", command, 1, 0)
    message = header + payload
    sock.send(struct.pack("IHHII", 16 + len(message), family, NLM_F_REQUEST, 1, 0) + message)
    reply = sock.recv(65536)
    length, kind = struct.unpack_from("IH", reply)
    if kind == NLMSG_ERROR:
        (error,) = struct.unpack_from("i", reply, 16)
        raise OSError(-error, "netlink request failed")
    return attributes(reply[20:length])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    iface = sys.argv[1]
    try:
        index = socket.if_nametoindex(iface)
    except OSError:
        sys.exit(f"xdp-features: no interface {iface}")
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sock.bind((0, 0))
    try:
        family = request(sock, GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                         attribute(CTRL_ATTR_FAMILY_NAME, b"netdev\0"))
    except OSError:
        sys.exit("xdp-features: this kernel has no netdev netlink family (Linux 6.3+)")
    (family_id,) = struct.unpack("H", family[CTRL_ATTR_FAMILY_ID][:2])
    device = request(sock, family_id, NETDEV_CMD_DEV_GET,
                     attribute(NETDEV_A_DEV_IFINDEX, struct.pack("I", index)))
    (features,) = struct.unpack("Q", device[NETDEV_A_DEV_XDP_FEATURES][:8])
    names = [name for bit, name in XDP_ACT if features & bit] or ["none"]
    print(f"{iface}: XDP features 0x{features:x}: {', '.join(names)}")
    if NETDEV_A_DEV_XDP_ZC_MAX_SEGS in device:
        (segs,) = struct.unpack("I", device[NETDEV_A_DEV_XDP_ZC_MAX_SEGS][:4])
        print(f"{iface}: zero-copy max segments {segs}")


main()
