# SPDX-License-Identifier: Apache-2.0
"""A gRPC client of vmm-sandboxer's sandbox Controller, as stock containerd
2.x is one: Debian's python3-grpcio, message classes generated at test time
(protoc --python_out) from proto/containerd/services/sandbox/v1/sandbox.proto
and its imports, calls by name through channel.unary_unary.

Run by tests/integration/test_sandboxer_grpc.c against a real daemon. Prints one line
per check ("ok - ..." or "FAIL ...") and exits 1 if any failed.

  --case api   no VM: Platform, errors with their codes and messages, a bad
               body, oversize, 50 concurrent calls, a Wait that stays open and
               returns after Stop, a Wait cancelled by the client, deadlines,
               connections given back; leaves sandbox `grpc-ttrpc` for the
               driver to find over ttrpc
  --case vm    Create + Start of a real guest, Status ready, Stop, Wait, Shutdown
  --case containerd
               through stock containerd 2.x (its sandbox-controllers service,
               socket = containerd's, every request naming sandboxer `kuasar`,
               a `[proxy_plugins.kuasar] type = "sandbox"` pointing at the
               daemon): containerd's own gRPC client does the talking to us
  --start      (containerd) also Start a real guest through it
"""
import argparse
import os
import subprocess
import sys
import threading
import time

import grpc

SVC = "/containerd.services.sandbox.v1.Controller/"
FILES = [
    "containerd/services/sandbox/v1/sandbox.proto",
    "containerd/types/metrics.proto",
    "containerd/types/mount.proto",
    "containerd/types/platform.proto",
    "containerd/types/sandbox.proto",
]

fails = 0


def check(cond, what, detail=""):
    global fails
    if cond:
        print("ok   - " + what)
    else:
        fails += 1
        print("FAIL " + what + (": " + str(detail) if detail else ""))
    return cond


def load(proto_dir, gen):
    os.makedirs(gen, exist_ok=True)
    subprocess.run(["protoc", "-I", proto_dir, "--python_out", gen] + FILES, check=True)
    sys.path.insert(0, gen)
    from containerd.services.sandbox.v1 import sandbox_pb2  # noqa: E402

    return sandbox_pb2


class Controller:
    def __init__(self, pb, socket, sandboxer=None, namespace=None):
        self.pb = pb
        self.ch = grpc.insecure_channel("unix://" + socket)
        self.sandboxer = sandboxer
        self.md = (("containerd-namespace", namespace),) if namespace else None

    def stub(self, method, raw=False):
        m = self.pb.DESCRIPTOR.services_by_name["Controller"].methods_by_name.get(method)
        resp = getattr(self.pb, m.output_type.name) if m else self.pb.ControllerPlatformResponse
        ser = (lambda b: b) if raw else (lambda r: r.SerializeToString())
        return self.ch.unary_unary(SVC + method, request_serializer=ser,
                                   response_deserializer=resp.FromString)

    def req(self, method, **fields):
        m = self.pb.DESCRIPTOR.services_by_name["Controller"].methods_by_name[method]
        if self.sandboxer:
            fields["sandboxer"] = self.sandboxer
        return getattr(self.pb, m.input_type.name)(**fields)

    def call(self, method, timeout=30, **fields):
        return self.stub(method)(self.req(method, **fields), timeout=timeout, metadata=self.md)

    def future(self, method, timeout=None, **fields):
        return self.stub(method).future(self.req(method, **fields), timeout=timeout,
                                        metadata=self.md)

    def error(self, method, payload=None, timeout=30, **fields):
        """The RpcError a call ends with (None if it succeeded)."""
        try:
            if payload is not None:
                self.stub(method, raw=True)(payload, timeout=timeout)
            else:
                self.call(method, timeout=timeout, **fields)
        except grpc.RpcError as e:
            return e
        return None


def expect_error(c, what, code, needle, method, **kw):
    e = c.error(method, **kw)
    ok = e is not None and e.code() == code and needle in (e.details() or "")
    check(ok, "%s: %s" % (what, code.name),
          "got %s %r" % (e.code().name, e.details()) if e else "succeeded")


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_until(pred, secs=10.0):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def log_has(path, text):
    with open(path, errors="replace") as f:
        return text in f.read()


def case_api(pb, args):
    fds0 = nfds(args.pid)
    c = Controller(pb, args.socket)
    C = grpc.StatusCode

    p = c.call("Platform")
    check(p.platform.os == "linux" and p.platform.architecture == "amd64", "Platform",
          p)
    expect_error(c, "Create with a bad id", C.INVALID_ARGUMENT, "sandbox_id `../x`", "Create",
                 sandbox_id="../x")
    expect_error(c, "Status of an unknown id", C.NOT_FOUND, "sandbox `nope` not found",
                 "Status", sandbox_id="nope")
    expect_error(c, "a garbage body", C.INVALID_ARGUMENT,
                 "malformed containerd.services.sandbox.v1.ControllerStatusRequest", "Status",
                 payload=b"\xff\xff\xff\xff")
    expect_error(c, "an unknown method", C.UNIMPLEMENTED, "method Nope not implemented",
                 "Nope", payload=b"")
    e = c.error("Status", payload=b"\x0a" + b"\x00" * (5 << 20))
    check(e is not None and e.code() == C.RESOURCE_EXHAUSTED and
          "larger than max" in e.details(), "a 5 MiB request: RESOURCE_EXHAUSTED",
          e and (e.code(), e.details()))
    # A status message with bytes that must be percent-encoded, back intact.
    expect_error(c, "an id with spaces, % and UTF-8", C.INVALID_ARGUMENT,
                 "sandbox_id `a b%\u00e9`", "Create", sandbox_id="a b%\u00e9")

    c.call("Create", sandbox_id="grpc-1")
    expect_error(c, "Create twice", C.ALREADY_EXISTS, "grpc-1 already exists", "Create",
                 sandbox_id="grpc-1")
    st = c.call("Status", sandbox_id="grpc-1", verbose=True)
    check(st.state == "SANDBOX_NOTREADY" and st.info.get("state") == "created",
          "Status of a created sandbox", st)

    # Many calls at once on one channel (one HTTP/2 connection), answered in
    # whatever order.
    results, lock = [], threading.Lock()

    def worker(i):
        try:
            if i % 2:
                r = c.call("Platform").platform.os == "linux"
            else:
                r = c.call("Status", sandbox_id="grpc-1").sandbox_id == "grpc-1"
        except grpc.RpcError as e:
            r = e
        with lock:
            results.append(r)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    check(len(results) == 50 and all(r is True for r in results), "50 concurrent calls",
          [r for r in results if r is not True][:3])

    # A Wait stays open while other calls go on, and returns after Stop.
    w = c.future("Wait", sandbox_id="grpc-1")
    for _ in range(5):
        c.call("Platform")
        c.call("Status", sandbox_id="grpc-1")
    time.sleep(0.3)
    check(not w.done(), "Wait stays open while other calls proceed")
    c.call("Stop", sandbox_id="grpc-1")
    try:
        r = w.result(timeout=10)
        check(r.exit_status == 0 and r.exited_at.seconds > 0, "Wait returns after Stop", r)
    except grpc.RpcError as e:
        check(False, "Wait returns after Stop", (e.code(), e.details()))
    st = c.call("Status", sandbox_id="grpc-1")
    check(st.exited_at.seconds > 0, "Status after Stop has exited_at", st)

    # A Wait the client cancels (RST_STREAM): the call is cancelled in the
    # daemon, which goes on; Stop then has no waiter left to answer.
    c.call("Create", sandbox_id="grpc-2")
    w = c.future("Wait", sandbox_id="grpc-2")
    time.sleep(0.3)
    check(w.cancel(), "Wait cancelled by the client")
    check(wait_until(lambda: log_has(args.log, "Wait cancelled by the client")),
          "the daemon saw the cancel")
    check(c.call("Platform").platform.os == "linux", "the daemon serves after the cancel")
    c.call("Stop", sandbox_id="grpc-2")
    c.call("Shutdown", sandbox_id="grpc-2")

    # grpc-timeout: the call's deadline in the daemon.
    c.call("Create", sandbox_id="grpc-3")
    t0 = time.time()
    e = c.error("Wait", timeout=0.5, sandbox_id="grpc-3")
    check(e is not None and e.code() == C.DEADLINE_EXCEEDED and time.time() - t0 < 5,
          "Wait with a 0.5 s deadline: DEADLINE_EXCEEDED", e and e.code())
    c.call("Shutdown", sandbox_id="grpc-3")

    c.call("Shutdown", sandbox_id="grpc-1")
    check(not os.path.exists(os.path.join(args.dir, "grpc-1")), "Shutdown removed the sandbox")
    expect_error(c, "Status after Shutdown", C.NOT_FOUND, "grpc-1", "Status",
                 sandbox_id="grpc-1")
    # For the driver: a sandbox made over gRPC, looked at over ttrpc.
    c.call("Create", sandbox_id="grpc-ttrpc")

    c.ch.close()
    check(wait_until(lambda: nfds(args.pid) == fds0), "connections given back",
          "%d fds, %d before" % (nfds(args.pid), fds0))


def case_vm(pb, args):
    c = Controller(pb, args.socket)
    c.call("Create", sandbox_id="grpc-vm",
           annotations={"io.kuasar.vm.memory_mb": "256"})
    w = c.future("Wait", sandbox_id="grpc-vm")
    r = c.call("Start", timeout=180, sandbox_id="grpc-vm")
    check(r.pid > 0 and r.address.startswith("ttrpc+") and r.version == 2,
          "Start over gRPC boots the VM", r)
    st = c.call("Status", sandbox_id="grpc-vm")
    check(st.state == "SANDBOX_READY" and st.pid == r.pid and st.address == r.address,
          "Status: ready", st)
    check(not w.done(), "Wait open while the VM runs")
    c.call("Stop", timeout=120, sandbox_id="grpc-vm")
    wr = w.result(timeout=30)
    check(wr.exited_at.seconds > 0, "Wait returns after Stop (exit %d)" % wr.exit_status, wr)
    c.call("Shutdown", sandbox_id="grpc-vm")
    check(not os.path.exists(os.path.join(args.dir, "grpc-vm")), "Shutdown removed it")
    c.ch.close()


def case_containerd(pb, args):
    c = Controller(pb, args.socket, sandboxer="kuasar", namespace="default")
    C = grpc.StatusCode

    e = c.error("Platform")
    if e is not None and e.code() == C.UNIMPLEMENTED and e.details() == "method Platform not implemented":
        # grpc-go's own answer: containerd's service has no Platform to pass on.
        print("skipped: Platform (containerd's Controller service does not pass it on)")
    else:
        p = c.call("Platform")
        check(p.platform.os == "linux", "Platform through containerd", p)
    expect_error(c, "Create with a bad id", C.INVALID_ARGUMENT, "sandbox_id `../x`", "Create",
                 sandbox_id="../x")
    expect_error(c, "Status of an unknown id", C.NOT_FOUND, "sandbox `nope` not found",
                 "Status", sandbox_id="nope")
    c.call("Create", sandbox_id="ctd-1", netns_path="/var/run/netns/kc-ctd-1")
    check(os.path.isdir(os.path.join(args.dir, "ctd-1")), "Create made the sandbox")
    st = c.call("Status", sandbox_id="ctd-1", verbose=True)
    # The info map is what CRI shows as PodSandboxStatus' info in this mode.
    check(st.sandbox_id == "ctd-1" and st.state == "SANDBOX_NOTREADY" and
          st.info.get("state") == "created" and
          st.info.get("netns") == "/var/run/netns/kc-ctd-1", "Status through containerd", st)
    w = c.future("Wait", sandbox_id="ctd-1")
    time.sleep(0.5)
    check(not w.done(), "Wait stays open")
    c.call("Stop", sandbox_id="ctd-1")
    try:
        r = w.result(timeout=20)
        check(r.exited_at.seconds > 0, "Wait returns after Stop", r)
    except grpc.RpcError as e:
        check(False, "Wait returns after Stop", (e.code(), e.details()))
    # Cancelled here, containerd cancels its own call to the daemon.
    c.call("Create", sandbox_id="ctd-2")
    w = c.future("Wait", sandbox_id="ctd-2")
    time.sleep(0.5)
    check(w.cancel(), "Wait cancelled by the client")
    check(wait_until(lambda: log_has(args.log, "Wait cancelled by the client")),
          "containerd passed the cancel on (RST_STREAM)")
    if args.start:
        r = c.call("Start", timeout=180, sandbox_id="ctd-2")
        check(r.pid > 0, "Start through containerd boots the VM", r)
        st = c.call("Status", sandbox_id="ctd-2")
        check(st.state == "SANDBOX_READY" and st.pid == r.pid, "Status: ready", st)
        c.call("Stop", timeout=120, sandbox_id="ctd-2")
        st = c.call("Status", sandbox_id="ctd-2")
        check(st.state == "SANDBOX_NOTREADY" and st.exited_at.seconds > 0, "stopped", st)
    for sid in ("ctd-1", "ctd-2"):
        c.call("Shutdown", sandbox_id=sid)
        check(not os.path.exists(os.path.join(args.dir, sid)), "Shutdown removed " + sid)
    c.ch.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--proto", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--case", choices=["api", "vm", "containerd"], default="api")
    ap.add_argument("--start", action="store_true")
    args = ap.parse_args()
    pb = load(args.proto, args.gen)
    {"api": case_api, "vm": case_vm, "containerd": case_containerd}[args.case](pb, args)
    print("grpc_controller: %d failed" % fails)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
