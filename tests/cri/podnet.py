# SPDX-License-Identifier: Apache-2.0
"""bench/pod-net's driver: one pod per handler (runc: the CNI veth straight
into the container; kuasar-vmm: veth -> tap -> the VM's virtio-net), each
running pod-net-io's server (bound in from the node); from the node side
(containerd's network namespace, where this runs) TCP round trips and bulk
transfers both ways, the handlers alternating round by round. Prints a
markdown table and the kuasar-vmm / runc ratios."""
import argparse
import ipaddress
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402

PORT = 7090
HANDLERS = ("runc", "kuasar-vmm")


def client(binary, *args):
    r = subprocess.run([binary] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise RuntimeError((r.stderr or r.stdout).strip())
    return [float(x) for x in r.stdout.split()[1:]]


def server_pod(st, io):
    """A pod running pod-net-io's server; its IPv4 address."""
    pod, cfg = st.pod("bench-net")
    mount = st.pb.Mount(container_path="/kc/pod-net-io", host_path=io, readonly=True)
    cid = st.container(pod, cfg, "srv", ["/kc/pod-net-io", "serve", str(PORT)], mounts=[mount])
    code, out, err = st.sh(cid, "i=0; while [ $i -lt 100 ]; do netstat -ltn | grep -q ':%d ' "
                           "&& exit 0; sleep 0.1; i=$((i+1)); done; exit 1" % PORT)
    if code != 0:
        raise RuntimeError("the server does not listen: %s%s" % (out, err))
    ip = st.c.rt("PodSandboxStatus", pod_sandbox_id=pod).status.network.ip
    return ipaddress.ip_address(ip)


def main():
    ap = argparse.ArgumentParser()
    for k in ("socket", "api_proto", "gen", "logs", "cni_conf", "io"):
        ap.add_argument("--" + k.replace("_", "-"), required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtt-n", type=int, default=2000)
    ap.add_argument("--rtt-size", type=int, default=64)
    ap.add_argument("--mib", type=int, default=64)
    a = ap.parse_args()
    s, addr = {}, {}
    for h in HANDLERS:
        ns = argparse.Namespace(socket=a.socket, api_proto=a.api_proto, gen=a.gen, handler=h,
                                logs=a.logs, sandboxer_dir="", cni_conf=a.cni_conf)
        s[h] = suite.Suite(ns)
    s["runc"].c.wait_ready()
    res = {h: {"rtt": [], "p99": [], "put": [], "get": []} for h in HANDLERS}
    errors = {}
    try:
        for h, st in s.items():
            try:
                addr[h] = server_pod(st, a.io)
            except Exception as e:  # the other handler is still measured
                d = getattr(e, "details", None)
                errors[h] = (d() if callable(d) else str(e))[:400]
        for _ in range(a.rounds + 1):  # the first round warms up
            for h in HANDLERS:
                if h in errors:
                    continue
                try:
                    med, p99, _ = client(a.io, "rtt", addr[h], PORT, a.rtt_n, a.rtt_size)
                    put = client(a.io, "put", addr[h], PORT, a.mib)[0]
                    get = client(a.io, "get", addr[h], PORT, a.mib)[0]
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    errors[h] = str(e)
                    continue
                for k, v in (("rtt", med), ("p99", p99), ("put", put), ("get", get)):
                    res[h][k].append(v)
    finally:
        for st in s.values():
            st.cleanup()
    for h in HANDLERS:  # drop the warm-up round
        for k in res[h]:
            res[h][k] = res[h][k][1:]

    def med(h, k):
        return statistics.median(res[h][k]) if res[h][k] else None

    def cell(h, k, fmt):
        return fmt % med(h, k) if med(h, k) is not None else "n/a"

    print("| node <-> pod over TCP (IPv4), %d rounds after a warm-up | runc (veth) | "
          "kuasar-vmm (veth -> tap -> VM) | kuasar-vmm / runc |" % a.rounds)
    print("|---|---:|---:|---:|")
    rows = (("round trip of %d B, median of %d (us)" % (a.rtt_size, a.rtt_n), "rtt", "%.0f"),
            ("round trip, p99 (us)", "p99", "%.0f"),
            ("node -> pod, %d MiB (MiB/s)" % a.mib, "put", "%.0f"),
            ("pod -> node, %d MiB (MiB/s)" % a.mib, "get", "%.0f"))
    for label, k, fmt in rows:
        r, v = med("runc", k), med("kuasar-vmm", k)
        ratio = "%.2fx" % (v / r) if r and v else "n/a"
        print("| %s | %s | %s | %s |" % (label, cell("runc", k, fmt), cell("kuasar-vmm", k, fmt),
                                         ratio))
    for h in HANDLERS:
        if not res[h]["rtt"]:
            continue
        print("%s runs: rtt %s us, put %s MiB/s, get %s MiB/s" % (
            h, " ".join("%.0f" % x for x in res[h]["rtt"]),
            " ".join("%.0f" % x for x in res[h]["put"]),
            " ".join("%.0f" % x for x in res[h]["get"])))
    for h, e in errors.items():
        print("%s: not measured: %s" % (h, e))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
