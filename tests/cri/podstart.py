# SPDX-License-Identifier: Apache-2.0
"""bench/cri-pod-start's driver: RunPodSandbox + CreateContainer +
StartContainer until the container is running, per handler, alternating;
prints one "HANDLER ms ms ..." line per handler, and the Pss (KiB) of what one
running pod of the last handler adds: every process whose command line names
the pod (the shim when there is one, VMM, virtiofsd, vsock daemon). Also
bench/native-vs-shim's, with --handlers."""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite  # noqa: E402


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pod_pids(needle):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open("/proc/%s/cmdline" % p, "rb").read().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if needle in cmd and "podstart.py" not in cmd:
                out.append(int(p))
    return out


def main():
    ap = argparse.ArgumentParser()
    for k in ("socket", "api_proto", "gen", "logs", "shim_needle"):
        ap.add_argument("--" + k.replace("_", "-"), default="")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--handlers", default="runc,kuasar-vmm")
    a = ap.parse_args()
    times = {h: [] for h in a.handlers.split(",")}
    measured = a.handlers.split(",")[-1]
    s = {}
    for h in times:
        ns = argparse.Namespace(socket=a.socket, api_proto=a.api_proto, gen=a.gen, handler=h,
                                logs=a.logs, sandboxer_dir="")
        s[h] = suite.Suite(ns)
    next(iter(s.values())).c.wait_ready()
    for i in range(a.runs + 1):  # the first of each is a warm-up
        for h, st in s.items():
            t0 = time.monotonic()
            pod, cfg = st.pod("bench%d" % i)
            cid = st.container(pod, cfg, "app", ["sleep", "3600"])
            while st.status(cid).state != st.pb.CONTAINER_RUNNING:
                time.sleep(0.005)
            ms = (time.monotonic() - t0) * 1000
            if i:
                times[h].append(ms)
            if i == a.runs and h == measured:
                # One running pod: what it costs in memory.
                pids = pod_pids(pod)
                print("PSS %d %s" % (sum(pss_kib(p) for p in pids), len(pids)))
            st.remove_pod(pod)
    for h, t in times.items():
        print(h, " ".join("%.0f" % x for x in t))


if __name__ == "__main__":
    main()
