# SPDX-License-Identifier: Apache-2.0
"""Pod networking helpers for the CRI suite and bench/pod-net: the CNI network
the environment configured (scripts/kc-env.sh kc_cni_conf), what a container
reports about its interface (/sys, busybox `ip`, /proc/net), TCP exchanges
from the test's side, which runs in containerd's network namespace, and the
links and namespaces a pod may leave behind."""
import ipaddress
import json
import os
import socket
import struct
import subprocess
import threading

# One exec gathers everything (each exec costs a round trip into a VM).
IFACE_SCRIPT = ("cat /sys/class/net/eth0/mtu 2>&1; echo '--- mac'; "
                "cat /sys/class/net/eth0/address 2>&1; echo '--- ip'; ip -o addr 2>&1; "
                "echo '--- route'; cat /proc/net/route; echo '--- route6'; "
                "cat /proc/net/ipv6_route 2>&1; echo '--- inet6'; cat /proc/net/if_inet6 2>&1")


class CniNet:
    """The bridge network of a CNI conflist: bridge name, MTU, the IPv4 and
    IPv6 ranges and their gateways (host-local's default: the first address)."""

    def __init__(self, path):
        with open(path) as f:
            conf = json.load(f)
        br = next(p for p in conf["plugins"] if p["type"] == "bridge")
        self.bridge = br["bridge"]
        # host-local keeps one file per reserved address here.
        self.ipam_dir = os.path.join(br["ipam"].get("dataDir", "/var/lib/cni/networks"),
                                     conf["name"])
        self.mtu = int(br.get("mtu", 1500))
        nets = [ipaddress.ip_network(r[0]["subnet"]) for r in br["ipam"]["ranges"]]
        self.v4 = next(n for n in nets if n.version == 4)
        self.v6 = next((n for n in nets if n.version == 6), None)
        self.gw4 = self.v4[1]
        self.gw6 = self.v6[1] if self.v6 else None


def parse_iface(text):
    """IFACE_SCRIPT's output: {"mtu", "mac", "addrs" [(iface, ip_interface)],
    "route4" [(iface, dst, gw)], "route6" [(iface, dst, gw)], "raw"}."""
    sec = {"mtu": []}
    cur = "mtu"
    for ln in text.splitlines():
        if ln.startswith("--- "):
            cur = ln[4:]
            sec[cur] = []
        else:
            sec[cur].append(ln)
    r = {"raw": text, "mtu": None, "addrs": [], "route4": [], "route6": []}
    m = "".join(sec.get("mtu", [])).strip()
    r["mtu"] = int(m) if m.isdigit() else m
    r["mac"] = "".join(sec.get("mac", [])).strip()
    for ln in sec.get("ip", []):
        # "2: eth0    inet 10.88.77.5/24 brd ... scope global eth0\..."
        t = ln.split()
        for fam in ("inet", "inet6"):
            if fam in t and len(t) > t.index(fam) + 1:
                r["addrs"].append((t[1], ipaddress.ip_interface(t[t.index(fam) + 1])))
    for ln in sec.get("route", [])[1:]:
        t = ln.split()
        if len(t) >= 8:
            dst = ipaddress.ip_address(struct.pack("<I", int(t[1], 16)))
            gw = ipaddress.ip_address(struct.pack("<I", int(t[2], 16)))
            plen = bin(int(t[7], 16)).count("1")
            r["route4"].append((t[0], ipaddress.ip_network("%s/%d" % (dst, plen), False), gw))
    for ln in sec.get("route6", []):
        t = ln.split()
        # Skip reject routes (RTF_REJECT: the kernel's "unreachable ::/0 dev lo").
        if len(t) >= 10 and len(t[0]) == 32 and not int(t[8], 16) & 0x200:
            dst = ipaddress.ip_address(bytes.fromhex(t[0]))
            gw = ipaddress.ip_address(bytes.fromhex(t[4]))
            r["route6"].append((t[9], ipaddress.ip_network("%s/%d" % (dst, int(t[1], 16)),
                                                           False), gw))
    for ln in sec.get("inet6", []):
        # /proc/net/if_inet6 also carries the prefix length; `ip` may lack IPv6.
        t = ln.split()
        if len(t) >= 6 and len(t[0]) == 32:
            a = ipaddress.ip_interface("%s/%d" % (ipaddress.ip_address(bytes.fromhex(t[0])),
                                                  int(t[2], 16)))
            if (t[5], a) not in r["addrs"]:
                r["addrs"].append((t[5], a))
    return r


def iface_problems(seen, net, ip4, ip6, mac=None, ifname="eth0"):
    """What differs between the pod's CNI result (and its veth's MAC) and what
    the container sees."""
    p = []
    if seen["mtu"] != net.mtu:
        p.append("%s MTU: expected %d, seen %r" % (ifname, net.mtu, seen["mtu"]))
    if mac and seen["mac"] != mac:
        p.append("%s MAC: expected the veth's %s, seen %r" % (ifname, mac, seen["mac"]))
    addrs = [a for i, a in seen["addrs"] if i == ifname]
    for ip, n in ((ip4, net.v4), (ip6, net.v6)):
        if ip is None or n is None:
            continue
        want = ipaddress.ip_interface("%s/%d" % (ip, n.prefixlen))
        if want not in addrs:
            p.append("%s: expected address %s, seen %s" %
                     (ifname, want, [str(a) for a in addrs] or "no address"))
    for key, gw in (("route4", net.gw4), ("route6", net.gw6)):
        if gw is None:
            continue
        dflt = [(i, g) for i, d, g in seen[key] if d.prefixlen == 0]
        if (ifname, gw) not in dflt:
            p.append("default route (IPv%d): expected via %s dev %s, seen %s" %
                     (gw.version, gw, ifname,
                      ["via %s dev %s" % (g, i) for i, g in dflt] or "none"))
    return p


def _connect(addr, port, timeout):
    fam = socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((str(addr), port))
    return s


def _read_all(s):
    b = bytearray()
    while True:
        x = s.recv(65536)
        if not x:
            return bytes(b)
        b += x


def line_exchange(addr, port, line, timeout=15):
    """Send LINE + newline, read until the peer closes: the reply."""
    with _connect(addr, port, timeout) as s:
        s.sendall(line + b"\n")
        return _read_all(s)


def echo_exchange(addr, port, data, timeout=30):
    """Stream DATA to an echo server while reading it back; what came back."""
    with _connect(addr, port, timeout) as s:
        err = []

        def send():
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(e)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        got = _read_all(s)
        t.join(timeout)
        if err:
            raise err[0]
        return got


class LineServer:
    """Listens on ADDR:PORT (in the test's namespace); answers one connection's
    first line with PREFIX + line, then closes. .got: the line received."""

    def __init__(self, addr, port, prefix=b"node:", timeout=30, report=None):
        fam = socket.AF_INET6 if ipaddress.ip_address(addr).version == 6 else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((str(addr), port))
        self.sock.listen(4)
        self.sock.settimeout(timeout)
        self.prefix = prefix
        self.report = report  # called with (line, peer) before the reply goes out
        self.got = None
        self.peer = None
        self.error = None
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        try:
            c, self.peer = self.sock.accept()
            with c:
                c.settimeout(15)
                b = b""
                while b"\n" not in b:
                    x = c.recv(4096)
                    if not x:
                        break
                    b += x
                self.got = b.split(b"\n")[0]
                if self.report:
                    self.report(self.got, self.peer)
                c.sendall(self.prefix + self.got + b"\n")
        except OSError as e:
            self.error = e

    def close(self):
        self.t.join(1)
        self.sock.close()


def ip_links(netns=None):
    """`ip -o link` of this namespace or of a /run/netns file or /proc path:
    {ifindex: (name, line)}."""
    cmd = ["ip", "-o", "link", "show"]
    if netns:
        cmd = ["nsenter", "--net=" + netns] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True)
    links = {}
    for ln in r.stdout.splitlines():
        t = ln.split(":", 2)
        if len(t) == 3:
            links[int(t[0])] = (t[1].strip().split("@")[0], ln)
    return links


def tc_ingress(dev, netns=None):
    cmd = ["tc", "qdisc", "show", "dev", dev]
    if netns:
        cmd = ["nsenter", "--net=" + netns] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True)
    return [ln for ln in r.stdout.splitlines() if "ingress" in ln]


def link_mac(netns, ifname="eth0"):
    cmd = ["nsenter", "--net=" + netns, "ip", "-o", "link", "show", ifname]
    t = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
    return t[t.index("link/ether") + 1] if "link/ether" in t else None


def peer_index(netns, ifname="eth0"):
    """The ifindex of IFNAME's veth peer, seen from inside NETNS ("eth0@if12")."""
    for _, (name, ln) in ip_links(netns).items():
        if name == ifname:
            t = ln.split(":", 2)[1].strip().split("@")
            if len(t) == 2 and t[1].startswith("if") and t[1][2:].isdigit():
                return int(t[1][2:])
    return None


def netns_of(info):
    """The pod's network namespace path in PodSandboxStatus' verbose info."""
    if info.get("netns"):  # a sandbox controller's own info (vmm-sandboxer's)
        return info["netns"]
    try:
        doc = json.loads(info.get("info", "{}"))
        spec = doc.get("runtimeSpec") or {}
        for ns in spec.get("linux", {}).get("namespaces", []):
            if ns.get("type") == "network" and ns.get("path"):
                return ns["path"]
    except ValueError:
        pass
    return None


def leftovers(rec, net):
    """What a removed pod left of its network. REC: {"netns", "veth", "ips"}
    recorded when it started."""
    left = []
    for ip in rec.get("ips", []):
        if os.path.exists(os.path.join(net.ipam_dir, ip)):
            left.append("host-local still reserves %s" % ip)
    ns = rec.get("netns")
    if ns and os.path.exists(ns):
        left.append("netns %s still exists" % ns)
        for _, (name, _) in ip_links(ns).items():
            if name.startswith("kctap"):
                left.append("%s in the pod's netns" % name)
            elif name == "eth0" and tc_ingress("eth0", ns):
                left.append("ingress qdisc on the pod's eth0: %s" % tc_ingress("eth0", ns))
    here = ip_links()
    for idx, (name, ln) in here.items():
        if rec.get("veth") and name == rec["veth"]:
            left.append("the pod's veth %s is still in containerd's netns" % name)
        if name.startswith("kctap"):
            left.append("%s in containerd's netns" % name)
    for _, (name, _) in ip_links("/proc/1/ns/net").items():
        if name.startswith("kctap"):
            left.append("%s in the node's root netns" % name)
    return left


def bridge_ports(bridge):
    return sorted(name for _, (name, ln) in ip_links().items() if " master %s " % bridge in ln)


def main(argv):
    """The node side of tests/integration/test_ctr_net.sh:
      script                   prints IFACE_SCRIPT
      iface MTU ADDR4/LEN ADDR6/LEN GW4 GW6 MAC < IFACE_SCRIPT output
      line ADDR PORT TOKEN     expects "pong:TOKEN\\n" back
      echo ADDR PORT NBYTES    random bytes must come back unchanged
      serve ADDR PORT          prints "ready", then "got LINE from PEER-ADDR"
    Exit 0 when it matches, else 1 with what was seen."""
    import sys
    import types
    cmd, args = argv[0], argv[1:]
    try:
        if cmd == "script":
            print(IFACE_SCRIPT)
        elif cmd == "iface":
            a4, a6 = ipaddress.ip_interface(args[1]), ipaddress.ip_interface(args[2])
            net = types.SimpleNamespace(mtu=int(args[0]), v4=a4.network, v6=a6.network,
                                        gw4=ipaddress.ip_address(args[3]),
                                        gw6=ipaddress.ip_address(args[4]))
            seen = parse_iface(sys.stdin.read())
            bad = iface_problems(seen, net, a4.ip, a6.ip, args[5])
            if bad:
                print("; ".join(bad) + "\n  the container sees:\n  " +
                      seen["raw"].strip().replace("\n", "\n  "))
                return 1
        elif cmd == "line":
            tok = args[2].encode()
            got = line_exchange(args[0], int(args[1]), tok)
            if got != b"pong:" + tok + b"\n":
                print("sent %r, expected %r back, got %r" % (tok, b"pong:" + tok + b"\n", got))
                return 1
        elif cmd == "echo":
            data = os.urandom(int(args[2]))
            back = echo_exchange(args[0], int(args[1]), data)
            if back != data:
                print("echo of %d random bytes: %d came back%s" %
                      (len(data), len(back), ", different" if len(back) == len(data) else ""))
                return 1
        elif cmd == "serve":
            # What it got is out before the reply: the caller may stop it as
            # soon as its client is done.
            srv = LineServer(args[0], int(args[1]), report=lambda ln, peer: print(
                "got %s from %s" % (ln.decode(errors="replace"), peer[0]), flush=True))
            print("ready", flush=True)
            srv.t.join(40)
            srv.close()
            if srv.got is None:
                print("nothing received (%s)" % (srv.error or "no connection"))
                return 1
        else:
            print("unknown command %r" % cmd)
            return 2
    except OSError as e:
        print("%s %s: %s" % (cmd, " ".join(args), e))
        return 1
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
