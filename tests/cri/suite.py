# SPDX-License-Identifier: Apache-2.0
"""The CRI suite: kubelet's calls through containerd's CRI plugin, the same
cases for every runtime handler (runc is the reference, kuasar-vmm must
agree). Prints "ok   - NAME" / "FAIL NAME: why" lines and exits 1 on any
failure.

  suite.py --socket S --api-proto P --gen DIR --handler H --logs DIR
           [--sandboxer-dir D] [--phase all|before-restart|after-restart]
           [--state FILE] [--only CASE,...] [--cni-conf CONFLIST]
"""
import argparse
import ipaddress
import json
import os
import subprocess
import sys
import time
import traceback
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cri as crimod  # noqa: E402
import netcheck  # noqa: E402
import wsstream  # noqa: E402

IMAGE = os.environ.get("KC_CRI_IMAGE", "localhost/kuasar-c/busybox:test")
NOETC = os.environ.get("KC_NOETC_IMAGE", "localhost/kuasar-c/busybox-noetc:test")
EXIT_DEADLINE = 120
# TCP ports of the network cases: the pod's servers, and the node's listener.
LINE_PORT, ECHO_PORT, NODE_PORT = 7070, 7071, 7080


class Failed(Exception):
    pass


class Skipped(Exception):
    """A check that cannot apply to this handler: printed with its reason."""


def check(cond, msg):
    if not cond:
        raise Failed(msg)


class Suite:
    def __init__(self, args):
        self.a = args
        self.pb = crimod.load_api(args.api_proto, args.gen)
        self.c = crimod.Cri(self.pb, args.socket)
        self.handler = args.handler
        # Our VM handlers: the shim (kuasar-vmm) and Kuasar's native mode
        # (kuasar-native*: containerd's sandbox API, no pause container).
        self.vm = args.handler.startswith("kuasar")
        self.native = args.handler.startswith("kuasar-native")
        self.pods = []
        conf = getattr(args, "cni_conf", "")
        self.net = netcheck.CniNet(conf) if conf else None
        self.podnet = {}  # pod id -> {"netns", "veth"}: what its network must not leave
        self.ports_reported = set()

    # ------------------------------------------------------------ helpers
    def pod(self, name, hostname=None, dns=None, share_pid=False, cgroup=True, resources=None):
        pb = self.pb
        uid = uuid.uuid4().hex[:12]
        ns = pb.NamespaceOption(
            network=pb.POD, pid=pb.POD if share_pid else pb.CONTAINER, ipc=pb.POD
        )
        linux = pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)
        )
        if cgroup:
            linux.cgroup_parent = "/kctest-pods/pod" + uid
        if resources:
            linux.resources.CopyFrom(pb.LinuxContainerResources(**resources))
        logdir = os.path.join(self.a.logs, "%s-%s" % (name, uid))
        os.makedirs(logdir, exist_ok=True)
        cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="kctest", attempt=0),
            hostname=hostname or name,
            log_directory=logdir,
            linux=linux,
        )
        if dns:
            cfg.dns_config.CopyFrom(pb.DNSConfig(**dns))
        r = self.c.rt("RunPodSandbox", config=cfg, runtime_handler=self.handler)
        self.pods.append(r.pod_sandbox_id)
        if self.net:
            self.record_net(r.pod_sandbox_id)
        return r.pod_sandbox_id, cfg

    def record_net(self, pod):
        """The pod's netns and its veth's node end (containerd's netns side),
        so that nothing_left can look for them after the pod is gone."""
        st = self.c.rt("PodSandboxStatus", pod_sandbox_id=pod, verbose=True)
        ips = [st.status.network.ip] + [x.ip for x in st.status.network.additional_ips]
        rec = {"netns": netcheck.netns_of(st.info), "veth": None, "ips": [x for x in ips if x]}
        if rec["netns"]:
            idx = netcheck.peer_index(rec["netns"])
            rec["veth"] = netcheck.ip_links().get(idx, (None,))[0] if idx else None
        self.podnet[pod] = rec
        check(rec["netns"] and rec["veth"] and rec["ips"],
              "cannot tell the pod's netns, veth and addresses: %s (info: %s)" % (rec, str(st.info)[:1500]))

    def container(self, pod, cfg, name, cmd, image=IMAGE, memory=0, envs=None, start=True,
                  seccomp=False, mounts=None):
        pb = self.pb
        # The container's own namespace options (CRI's default mode is POD).
        pod_ns = cfg.linux.security_context.namespace_options
        sc = pb.LinuxContainerSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.POD, pid=pod_ns.pid, ipc=pb.POD))
        if seccomp:
            sc.seccomp.CopyFrom(pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))
        res = pb.LinuxContainerResources()
        if memory:
            res.memory_limit_in_bytes = memory
        cc = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name, attempt=0),
            image=pb.ImageSpec(image=image),
            command=cmd,
            log_path=name + ".log",
            envs=[pb.KeyValue(key=k, value=v.encode()) for k, v in (envs or {}).items()],
            linux=pb.LinuxContainerConfig(resources=res, security_context=sc),
            mounts=mounts or [],
        )
        r = self.c.rt("CreateContainer", pod_sandbox_id=pod, config=cc, sandbox_config=cfg)
        if start:
            self.c.rt("StartContainer", container_id=r.container_id)
        return r.container_id

    def status(self, cid):
        return self.c.rt("ContainerStatus", container_id=cid).status

    def wait_exit(self, cid, deadline=EXIT_DEADLINE):
        end = time.time() + deadline
        while True:
            st = self.status(cid)
            if st.state == self.pb.CONTAINER_EXITED:
                return st
            check(time.time() < end, "container %s did not exit in %d s" % (cid[:12], deadline))
            time.sleep(0.1)

    def sh(self, cid, script, timeout=30):
        r = self.c.rt("ExecSync", container_id=cid, cmd=["sh", "-c", script], timeout=timeout)
        return r.exit_code, r.stdout.decode(), r.stderr.decode()

    def out(self, cid, script):
        code, out, err = self.sh(cid, script)
        check(code == 0, "`%s` exited %d: %s%s" % (script, code, out, err))
        return out.strip()

    def remove_pod(self, pod):
        self.c.rt("StopPodSandbox", pod_sandbox_id=pod)
        self.c.rt("RemovePodSandbox", pod_sandbox_id=pod)
        if pod in self.pods:
            self.pods.remove(pod)
        self.nothing_left(pod)

    def nothing_left(self, pod):
        # Our VM and its helpers carry the pod id on their command lines.
        left = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if pod in cmd and "suite.py" not in cmd:
                left.append("%s: %s" % (p, cmd[:120]))
        check(not left, "processes left for pod %s: %s" % (pod[:12], left))
        with open("/proc/self/mountinfo") as f:
            mounts = [ln.split()[4] for ln in f if pod in ln]
        check(not mounts, "mounts left for pod %s: %s" % (pod[:12], mounts[:5]))
        if self.a.sandboxer_dir:
            d = os.path.join(self.a.sandboxer_dir, pod)
            check(not os.path.exists(d), "sandbox dir %s left" % d)
        if self.net and pod in self.podnet:
            left = netcheck.leftovers(self.podnet.pop(pod), self.net)
            check(not left, "network left for pod %s: %s" % (pod[:12], "; ".join(left)))
            if not self.pods:
                # Reported once: a leak fails the case that made it, not every later one.
                ports = [p for p in netcheck.bridge_ports(self.net.bridge)
                         if p not in self.ports_reported]
                self.ports_reported.update(ports)
                check(not ports, "no pod runs, yet bridge %s has ports %s" %
                      (self.net.bridge, ports))

    def cleanup(self):
        for pod in list(self.pods):
            try:
                self.remove_pod(pod)
            except Exception:
                pass

    # -------------------------------------------------------------- cases
    def case_lifecycle(self):
        """Pod ready; a container's exit code, stdout and stderr in CRI log
        format; remove everything; nothing left."""
        pod, cfg = self.pod("life")
        st = self.c.rt("PodSandboxStatus", pod_sandbox_id=pod).status
        check(st.state == self.pb.SANDBOX_READY, "pod state %d" % st.state)
        cid = self.container(pod, cfg, "app", ["sh", "-c", "echo out; echo err >&2; exit 3"])
        st = self.wait_exit(cid)
        check(st.exit_code == 3, "exit code %d" % st.exit_code)
        with open(os.path.join(cfg.log_directory, "app.log")) as f:
            lines = [ln.split(" ", 3)[1:] for ln in f.read().splitlines()]
        check(["stdout", "F", "out"] in lines, "CRI log lacks stdout line: %s" % lines)
        check(["stderr", "F", "err"] in lines, "CRI log lacks stderr line: %s" % lines)
        self.c.rt("RemoveContainer", container_id=cid)
        self.remove_pod(pod)

    def case_pod_identity(self):
        """Hostname, resolv.conf and hosts are the pod's, in an image without /etc."""
        dns = {"servers": ["10.0.0.53"], "searches": ["kc.test"], "options": ["ndots:2"]}
        pod, cfg = self.pod("ident", hostname="kc-pod-host", dns=dns)
        cid = self.container(pod, cfg, "app", ["sleep", "3600"], image=NOETC)
        check(self.out(cid, "hostname") == "kc-pod-host", "hostname is not the pod's")
        rc = self.out(cid, "cat /etc/resolv.conf")
        check("nameserver 10.0.0.53" in rc and "kc.test" in rc and "ndots:2" in rc,
              "resolv.conf: %r" % rc)
        self.out(cid, "test -f /etc/hosts")
        self.out(cid, "test -d /dev/shm && touch /dev/shm/x")
        self.remove_pod(pod)

    def case_shared_namespaces(self):
        """Containers of a pod share UTS and IPC; PID only with
        shareProcessNamespace; never the host's (or the VM's) PID namespace."""
        for share in (False, True):
            pod, cfg = self.pod("ns%d" % share, share_pid=share)
            a = self.container(pod, cfg, "a", ["sleep", "3600"])
            b = self.container(pod, cfg, "b", ["sleep", "3600"])
            ns = {}
            for cid in (a, b):
                ns[cid] = {t: self.out(cid, "readlink /proc/self/ns/" + t)
                           for t in ("uts", "ipc", "pid")}
            check(ns[a]["uts"] == ns[b]["uts"], "UTS not shared: %s" % ns)
            # The pod's /dev/shm is one.
            self.out(a, "echo shm-%d >/dev/shm/kc-shared" % share)
            check(self.out(b, "cat /dev/shm/kc-shared") == "shm-%d" % share,
                  "/dev/shm is not shared in the pod")
            check(ns[a]["ipc"] == ns[b]["ipc"], "IPC not shared: %s" % ns)
            for cid in (a, b):
                check(self.out(cid, "hostname") == cfg.hostname,
                      "a container's hostname is not the pod's")
            if share:
                check(ns[a]["pid"] == ns[b]["pid"], "PID not shared: %s" % ns)
                ps = self.out(a, "ps -o comm")
                pid1 = self.out(a, "cat /proc/1/cmdline | tr '\\0' ' '").strip()
                if self.native:
                    # containerd's sandbox API runs no pause container: the
                    # pod's first container is PID 1 (as Kubernetes without
                    # a pause container), both sleeps are in it.
                    check(ps.count("sleep") >= 2, "shared PID ns lacks b's sleep: %s" % ps)
                    check(pid1 == "sleep 3600", "PID 1 of the shared PID namespace: %r" % pid1)
                else:
                    check("pause" in ps and "sleep" in ps, "shared PID ns lacks pause: %s" % ps)
                    # The pod's own PID namespace: pause is its PID 1.
                    check(pid1 == "/pause", "PID 1 of the shared PID namespace is not pause")
                # Nothing of the node or of the VM (vmm-task) is in it.
                check("vmm-task" not in ps and "containerd" not in ps,
                      "the pod sees processes that are not its own: %s" % ps)
            else:
                check(ns[a]["pid"] != ns[b]["pid"], "PID shared without asking: %s" % ns)
                check(self.out(a, "cat /proc/1/cmdline | tr '\\0' ' '").startswith("sleep"),
                      "PID 1 of a container is not its own process")
            self.remove_pod(pod)

    def case_resources(self):
        """The memory limit is readable in the container; Update applies; stats."""
        pod, cfg = self.pod("res")
        mem = 64 << 20
        cid = self.container(pod, cfg, "app", ["sleep", "3600"], memory=mem)
        read = ("cat /sys/fs/cgroup/memory.max 2>/dev/null || "
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
        check(self.out(cid, read) == str(mem), "memory limit: %s" % self.out(cid, read))
        self.c.rt("UpdateContainerResources", container_id=cid,
                  linux=self.pb.LinuxContainerResources(memory_limit_in_bytes=96 << 20))
        check(self.out(cid, read) == str(96 << 20), "updated limit: %s" % self.out(cid, read))
        st = self.c.rt("ContainerStats", container_id=cid).stats
        check(st.memory.working_set_bytes.value > 0, "no memory stats: %s" % st)
        listed = [x for x in self.c.rt("ListContainerStats").stats if x.attributes.id == cid]
        check(listed and listed[0].memory.working_set_bytes.value > 0,
              "ListContainerStats lacks the container's numbers")
        self.remove_pod(pod)

    def case_pod_size(self):
        """The pod's resources (kubelet's sandbox resources, PodOverhead
        included) size the VM: 2 CPUs and 384 MiB here (the default is 1 and 256)."""
        res = {"cpu_period": 100000, "cpu_quota": 200000, "memory_limit_in_bytes": 384 << 20}
        pod, cfg = self.pod("size", resources=res)
        cid = self.container(pod, cfg, "app", ["sleep", "3600"])
        ncpu = int(self.out(cid, "grep -c ^processor /proc/cpuinfo"))
        mem_kb = int(self.out(cid, "awk '/^MemTotal/ {print $2}' /proc/meminfo"))
        if self.vm:
            check(ncpu == 2, "the VM has %d CPUs, not 2" % ncpu)
            check(300 << 10 < mem_kb <= 384 << 10, "the VM has %d KiB, not ~384 MiB" % mem_kb)
        else:
            check(ncpu >= 1 and mem_kb > 0, "no CPUs or memory seen")
        self.remove_pod(pod)

    def case_seccomp_runtime_default(self):
        """seccompProfile: RuntimeDefault (Pod Security "restricted"): containerd's
        default profile is in force, for the process and for an exec."""
        pod, cfg = self.pod("seccomp")
        cid = self.container(pod, cfg, "app", ["sleep", "3600"], seccomp=True)
        check(self.out(cid, "grep ^Seccomp: /proc/self/status") == "Seccomp:\t2",
              "no filter in force: %s" % self.out(cid, "grep ^Seccomp: /proc/self/status"))
        code, out, err = self.sh(cid, "unshare -U true")
        check(code != 0 and "Operation not permitted" in out + err,
              "unshare allowed under RuntimeDefault: %d %s%s" % (code, out, err))
        plain = self.container(pod, cfg, "plain", ["sleep", "3600"])
        check(self.out(plain, "grep ^Seccomp: /proc/self/status") == "Seccomp:\t0",
              "a container without a profile is filtered")
        self.remove_pod(pod)

    def case_exec(self):
        """ExecSync: exit codes, stdout and stderr, env of the container."""
        pod, cfg = self.pod("exec")
        cid = self.container(pod, cfg, "app", ["sleep", "3600"], envs={"KC_VAR": "v1"})
        code, out, err = self.sh(cid, "echo $KC_VAR; echo e >&2; exit 5")
        check((code, out, err) == (5, "v1\n", "e\n"), "ExecSync: %r" % ((code, out, err),))
        self.remove_pod(pod)

    def case_streaming(self):
        """Exec and Attach through containerd's streaming server (WebSocket),
        with and without a tty, stdin included; ReopenContainerLog."""
        pod, cfg = self.pod("stream")
        cid = self.container(pod, cfg, "app", ["sh", "-c",
                             "while true; do echo tick; sleep 0.2; done"])
        url = self.c.rt("Exec", container_id=cid, cmd=["sh", "-c", "echo o; echo e >&2; exit 3"],
                        stdout=True, stderr=True).url
        out, code = wsstream.Stream(url).collect()
        check((out[1], out[2], code) == (b"o\n", b"e\n", 3), "exec: %r, exit %r" % (out, code))
        # stdin reaches the process; EOF ends it.
        url = self.c.rt("Exec", container_id=cid, cmd=["sh", "-c", "read l; echo got:$l"],
                        stdin=True, stdout=True, stderr=True).url
        st = wsstream.Stream(url)
        st.send(0, b"kc-input\n")
        out, code = st.collect()
        check(out[1] == b"got:kc-input\n" and code == 0, "exec stdin: %r, exit %r" % (out, code))
        # A tty with stdin, as `kubectl exec -it` asks (kubectl drops -t without
        # -i; containerd's CRI then closes the output as soon as the empty
        # stdin ends, a race only an on-host runtime reliably wins).
        url = self.c.rt("Exec", container_id=cid, cmd=["tty"], tty=True, stdin=True,
                        stdout=True).url
        out, code = wsstream.Stream(url).collect()
        check(out[1].strip().startswith(b"/dev/pts/") and code == 0,
              "exec tty: %r, exit %r" % (out, code))
        url = self.c.rt("Attach", container_id=cid, stdout=True, stderr=True).url
        out, _ = wsstream.Stream(url).collect(deadline_s=20, until=lambda o: b"tick" in o[1])
        check(b"tick" in out[1], "attach saw no output: %r" % out)
        # The log moves away, CRI reopens it: new lines land in the new file.
        log = os.path.join(cfg.log_directory, "app.log")
        os.rename(log, log + ".1")
        self.c.rt("ReopenContainerLog", container_id=cid)
        end = time.time() + 20
        while time.time() < end and not (os.path.exists(log) and "tick" in open(log).read()):
            time.sleep(0.2)
        check(os.path.exists(log) and "tick" in open(log).read(), "no output after reopen")
        self.remove_pod(pod)

    def case_stop_grace(self):
        """StopContainer: SIGTERM first, SIGKILL after the grace period."""
        pod, cfg = self.pod("stop")
        trap = self.container(pod, cfg, "trap", ["sh", "-c",
                              "trap 'exit 7' TERM; while true; do sleep 0.1; done"])
        deaf = self.container(pod, cfg, "deaf", ["sleep", "3600"])
        time.sleep(1)  # let sh install its trap
        t0 = time.time()
        self.c.rt("StopContainer", container_id=trap, timeout=30)
        check(self.status(trap).exit_code == 7, "trap exit %d after %.1f s" %
              (self.status(trap).exit_code, time.time() - t0))
        t0 = time.time()
        self.c.rt("StopContainer", container_id=deaf, timeout=2)
        took = time.time() - t0
        st = self.status(deaf)
        check(st.exit_code == 137, "deaf exit %d" % st.exit_code)
        check(1.5 <= took < 20, "stop took %.1f s with a 2 s grace period" % took)
        self.remove_pod(pod)

    # ------------------------------------------------------------ network
    def net_pod(self, name):
        """A pod whose container answers on TCP: port LINE_PORT replies
        "pong:" + the first line it reads, ECHO_PORT echoes everything
        (busybox nc, one process per connection). Returns pod, cfg, the
        container and the pod's IPv4 and IPv6 addresses from PodSandboxStatus."""
        check(self.net is not None, "no --cni-conf: the suite does not know the pod network")
        pod, cfg = self.pod(name)
        resp = ("printf '%%s\\n' '#!/bin/sh' 'read l' 'echo \"pong:$l\"' >/tmp/kc-resp && "
                "chmod +x /tmp/kc-resp && { nc -ll -p %d -e cat & "
                "exec nc -ll -p %d -e /tmp/kc-resp; }" % (ECHO_PORT, LINE_PORT))
        cid = self.container(pod, cfg, "srv", ["sh", "-c", resp])
        # Listening, seen from inside (independent of the network path).
        code, out, err = self.sh(cid, "i=0; while [ $i -lt 100 ]; do "
                                 "[ $(netstat -ltn | grep -c -E ':(%d|%d) ') -ge 2 ] && exit 0; "
                                 "sleep 0.1; i=$((i+1)); done; netstat -ltn; exit 1"
                                 % (LINE_PORT, ECHO_PORT))
        check(code == 0, "the pod's nc servers do not listen: %s%s" % (out, err))
        st = self.c.rt("PodSandboxStatus", pod_sandbox_id=pod).status
        ips = [st.network.ip] + [x.ip for x in st.network.additional_ips]
        ip4 = next((ipaddress.ip_address(x) for x in ips if x and ":" not in x), None)
        ip6 = next((ipaddress.ip_address(x) for x in ips if ":" in x), None)
        check(ip4 in self.net.v4 and ip6 in self.net.v6,
              "PodSandboxStatus: expected an address in %s and one in %s, got ip %r "
              "additional_ips %r" % (self.net.v4, self.net.v6, st.network.ip,
                                     [x.ip for x in st.network.additional_ips]))
        return pod, cfg, cid, ip4, ip6

    def try_all(self, checks):
        """Run every (what, fn) and fail with all the differences at once."""
        bad = []
        for what, fn in checks:
            try:
                fn()
            except Exception as e:
                bad.append("%s: %s" % (what, e if isinstance(e, (Failed, OSError))
                                       else traceback.format_exc().strip()))
        check(not bad, "%d of %d checks failed:\n    %s" % (len(bad), len(checks),
                                                           "\n    ".join(bad)))

    def node_to_pod(self, ip):
        tok = b"kc-%s-%s" % (str(ip).encode(), uuid.uuid4().hex[:8].encode())
        got = netcheck.line_exchange(ip, LINE_PORT, tok)
        check(got == b"pong:" + tok + b"\n", "sent %r, expected %r back, got %r" %
              (tok, b"pong:" + tok + b"\n", got[:200]))
        # More than a window of segments at the pod's MTU, in both directions at once.
        data = os.urandom(256 << 10)
        back = netcheck.echo_exchange(ip, ECHO_PORT, data)
        check(back == data, "echo of %d random bytes: %d came back%s" %
              (len(data), len(back), ", different" if len(back) == len(data) else ""))

    def pod_connect(self, cid, ip, port, tok):
        """In the container: send TOK to IP:PORT with busybox nc; its output."""
        code, out, err = self.sh(cid, "echo %s | nc -w 10 %s %d" % (tok, ip, port), timeout=30)
        check(code == 0, "`nc %s %d` in the container exited %d: %s" % (
            ip, port, code, (out + err).strip()))
        return out

    def pod_to_node(self, cid, gw, pod_ip):
        srv = netcheck.LineServer(gw, NODE_PORT)
        try:
            tok = "kc-node-%s" % uuid.uuid4().hex[:8]
            out = self.pod_connect(cid, gw, NODE_PORT, tok)
        finally:
            srv.close()
        check(srv.got == tok.encode(), "the node's listener on %s got %r, expected %r%s" %
              (gw, srv.got, tok, " (%s)" % srv.error if srv.error else ""))
        check(out == "node:%s\n" % tok, "the container read %r, expected %r" %
              (out, "node:%s\n" % tok))
        check(srv.peer and ipaddress.ip_address(srv.peer[0]) == pod_ip,
              "the connection came from %s, not from the pod's %s" %
              (srv.peer and srv.peer[0], pod_ip))

    def case_network(self):
        """The pod's CNI interface as its container sees it: PodSandboxStatus'
        IPv4 and IPv6 addresses on eth0, MTU 1400, default routes via the
        bridge; TCP node -> pod and pod -> node, IPv4 and IPv6, exact bytes."""
        pod, cfg, cid, ip4, ip6 = self.net_pod("net")
        net = self.net

        def iface():
            seen = netcheck.parse_iface(self.sh(cid, netcheck.IFACE_SCRIPT)[1])
            mac = netcheck.link_mac(self.podnet[pod]["netns"])
            bad = netcheck.iface_problems(seen, net, ip4, ip6, mac)
            check(not bad, "; ".join(bad) + "\n      the container sees:\n      " +
                  seen["raw"].strip().replace("\n", "\n      "))

        def tap_path():
            # What nothing_left looks for once the pod is gone must be what is there now.
            ns = self.podnet[pod]["netns"]
            taps = [n for n, _ in netcheck.ip_links(ns).values() if n.startswith("kctap")]
            check(taps and netcheck.tc_ingress("eth0", ns),
                  "the pod's netns has no kctap* link (%s) or no ingress qdisc on eth0 (%s)" %
                  (taps, netcheck.tc_ingress("eth0", ns)))
        checks = [("interface", iface)]
        if self.vm:
            checks.append(("veth -> tap", tap_path))
        self.try_all(checks + [
            ("node -> pod %s" % ip4, lambda: self.node_to_pod(ip4)),
            ("node -> pod %s" % ip6, lambda: self.node_to_pod(ip6)),
            ("pod -> node %s" % net.gw4, lambda: self.pod_to_node(cid, net.gw4, ip4)),
            ("pod -> node %s" % net.gw6, lambda: self.pod_to_node(cid, net.gw6, ip6)),
        ])
        self.remove_pod(pod)

    def case_pod_to_pod(self):
        """Two pods (two VMs under kuasar-vmm): B connects to A's IPv4 and IPv6."""
        a, _, _, a4, a6 = self.net_pod("neta")
        b, bcfg = self.pod("netb")
        cli = self.container(b, bcfg, "cli", ["sleep", "3600"])

        def to(ip):
            tok = "kc-p2p-%s" % uuid.uuid4().hex[:8]
            out = self.pod_connect(cli, ip, LINE_PORT, tok)
            check(out == "pong:%s\n" % tok, "pod B read %r, expected %r" %
                  (out, "pong:%s\n" % tok))
        self.try_all([("pod B -> pod A %s" % a4, lambda: to(a4)),
                      ("pod B -> pod A %s" % a6, lambda: to(a6))])
        self.remove_pod(b)
        self.remove_pod(a)

    def before_restart(self):
        pod, cfg = self.pod("restart")
        cid = self.container(pod, cfg, "app", ["sleep", "3600"])
        self.out(cid, "true")
        self.pods.remove(pod)  # survives this process
        with open(self.a.state, "w") as f:
            json.dump({"pod": pod, "cid": cid, "net": self.podnet.pop(pod, None)}, f)

    def after_restart(self):
        with open(self.a.state) as f:
            s = json.load(f)
        self.pods.append(s["pod"])
        if s.get("net"):
            self.podnet[s["pod"]] = s["net"]
        st = self.c.rt("PodSandboxStatus", pod_sandbox_id=s["pod"]).status
        check(st.state == self.pb.SANDBOX_READY, "pod not ready after restart")
        cst = self.status(s["cid"]).state
        check(cst == self.pb.CONTAINER_RUNNING, "container not running")
        check(self.out(s["cid"], "echo alive") == "alive", "exec after restart")
        self.remove_pod(s["pod"])


    # vmm-sandboxer restarts (native mode): its task endpoints must come back
    # with the tasks they served. Phase 1 (before): a pod with a counter and a
    # heartbeat. The runner then stops containerd, kill -9s the sandboxer and
    # starts both again: phase 2 (quiet) wants every task as it was and the
    # counter's log without a gap (what the agent held while no host was
    # there). The runner kill -9s the sandboxer again, containerd running:
    # containerd then drops the tasks it had on the broken connection (as it
    # does for a dead shim, runc's included), and phase 3 (crash) wants the pod
    # kept, its old processes gone from the VM (no orphans), and the endpoint
    # serving new containers.
    COUNTER = "i=0; while [ $i -lt 100000 ]; do echo line-$i; i=$((i+1)); sleep 0.3; done"
    HEARTBEAT = "i=0; while :; do i=$((i+1)); echo $i >/dev/shm/kc-hb; sleep 0.2; done"

    def counter_lines(self, cid):
        path = self.status(cid).log_path
        nums = []
        with open(path) as f:
            for ln in f:
                # CRI log format: TIME STREAM TAG MESSAGE
                parts = ln.rstrip("\n").split(" ", 3)
                if len(parts) == 4 and parts[3].startswith("line-"):
                    nums.append(int(parts[3][5:]))
        return nums

    def before_sbx_restart(self):
        pod, cfg = self.pod("sbxrestart")
        counter = self.container(pod, cfg, "counter", ["sh", "-c", self.COUNTER])
        hb = self.container(pod, cfg, "heartbeat", ["sh", "-c", self.HEARTBEAT])
        self.out(hb, "true")
        self.pods.remove(pod)  # survives this process
        with open(self.a.state, "w") as f:
            json.dump({"pod": pod, "counter": counter, "hb": hb,
                       "net": self.podnet.pop(pod, None), "t": time.time(),
                       "cfg": cfg.SerializeToString().hex()}, f)

    def load_state(self):
        with open(self.a.state) as f:
            s = json.load(f)
        self.pods.append(s["pod"])
        if s.get("net"):
            self.podnet[s["pod"]] = s["net"]
        return s

    def heartbeat_moves(self, cid):
        a = self.out(cid, "cat /dev/shm/kc-hb; sleep 1; cat /dev/shm/kc-hb").split()
        return len(a) == 2 and a[0] != a[1]

    def after_sbx_restart_quiet(self):
        s = self.load_state()
        st = self.c.rt("PodSandboxStatus", pod_sandbox_id=s["pod"]).status
        check(st.state == self.pb.SANDBOX_READY, "pod not ready after the restarts")
        for cid in (s["counter"], s["hb"]):
            check(self.status(cid).state == self.pb.CONTAINER_RUNNING,
                  "container %s not running after the restarts" % cid[:12])
        check(self.out(s["hb"], "echo alive") == "alive", "exec after the restarts")
        check(self.heartbeat_moves(s["hb"]), "the heartbeat stopped")
        # Lines written after the restart, and none missing before them.
        end = time.time() + 20
        while True:
            nums = self.counter_lines(s["counter"])
            if len(nums) * 0.3 > time.time() - s["t"] - 3 or time.time() > end:
                break
            time.sleep(0.5)
        check(nums and nums == list(range(len(nums))),
              "the counter's log has gaps or repeats: %s" %
              [n for i, n in enumerate(nums) if n != i][:10])
        check(len(nums) * 0.3 > time.time() - s["t"] - 5,
              "the counter's output stopped at line %d (%.0f s after it began)" %
              (len(nums), time.time() - s["t"]))

    def after_sbx_crash(self):
        s = self.load_state()
        st = self.c.rt("PodSandboxStatus", pod_sandbox_id=s["pod"]).status
        check(st.state == self.pb.SANDBOX_READY, "pod not ready after the crash")
        # containerd saw the connection to its tasks break: it reports them
        # exited, as it does when a shim dies.
        for cid in (s["counter"], s["hb"]):
            self.wait_exit(cid)
        cfg = self.pb.PodSandboxConfig.FromString(bytes.fromhex(s["cfg"]))
        fresh = self.container(s["pod"], cfg, "fresh", ["sleep", "3600"])
        check(self.out(fresh, "echo alive") == "alive", "exec in a new container")
        end = time.time() + 20
        while self.heartbeat_moves(fresh):
            check(time.time() < end, "the old heartbeat process still runs in the VM (orphan)")
        self.remove_pod(s["pod"])


CASES = ["lifecycle", "pod_identity", "shared_namespaces", "resources", "pod_size", "exec",
         "streaming", "seccomp_runtime_default", "stop_grace", "network", "pod_to_pod"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--api-proto", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--handler", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--sandboxer-dir", default="")
    ap.add_argument("--phase", default="all")
    ap.add_argument("--state", default="")
    ap.add_argument("--only", default="")
    ap.add_argument("--cni-conf", default="")
    a = ap.parse_args()
    s = Suite(a)
    s.c.wait_ready()
    label = a.label or a.handler
    fails = skips = 0
    if a.phase == "all":
        todo = [(n, getattr(s, "case_" + n)) for n in CASES if not a.only or n in a.only.split(",")]
    elif a.phase == "before-sbx-restart":
        todo = [("vmm-sandboxer restart (before)", s.before_sbx_restart)]
    elif a.phase == "after-sbx-restart-quiet":
        todo = [("vmm-sandboxer restart while containerd is down: tasks and output kept",
                 s.after_sbx_restart_quiet)]
    elif a.phase == "after-sbx-crash":
        todo = [("vmm-sandboxer kill -9 under containerd: pod kept, no orphans, endpoint serves",
                 s.after_sbx_crash)]
    elif a.phase == "before-restart":
        todo = [("containerd restart (before)", s.before_restart)]
    else:
        todo = [("containerd restart: pod kept and manageable", s.after_restart)]
    for name, fn in todo:
        t0 = time.time()
        try:
            fn()
            print("ok   - %s: %s (%.1f s)" % (label, name, time.time() - t0), flush=True)
        except Skipped as e:
            skips += 1
            print("skip - %s: %s: %s" % (label, name, e), flush=True)
        except Exception as e:
            fails += 1
            why = str(e) if isinstance(e, Failed) else traceback.format_exc().strip()
            print("FAIL %s: %s: %s" % (label, name, why), flush=True)
            s.cleanup()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
