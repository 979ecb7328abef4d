# SPDX-License-Identifier: Apache-2.0
"""A small CRI client for the test suite: runtime.v1 RuntimeService and
ImageService over containerd's socket, with Debian's python3-grpcio and
message classes generated (protoc --python_out) from CRI's api.proto at
test time."""
import os
import re
import subprocess
import sys
import time

import grpc


def load_api(api_proto, out_dir):
    """Generate api_pb2.py from CRI's api.proto into out_dir and import it."""
    os.makedirs(out_dir, exist_ok=True)
    src = os.path.join(out_dir, "api.proto")
    with open(api_proto) as f:
        text = f.read()
    # protoc 3.21 does not know this field option (added in protobuf 22).
    text = re.sub(r"\s*\[debug_redact\s*=\s*true\]", "", text)
    if not os.path.exists(src) or open(src).read() != text:
        with open(src, "w") as f:
            f.write(text)
        subprocess.run(["protoc", "-I", out_dir, "--python_out", out_dir, src], check=True)
    sys.path.insert(0, out_dir)
    import api_pb2  # noqa: E402

    return api_pb2


class Cri:
    """Calls by method name; the request and answer types come from the
    generated service descriptors, like the product's rpc_call."""

    def __init__(self, pb, socket, timeout=120):
        self.pb = pb
        self.timeout = timeout
        self.ch = grpc.insecure_channel("unix://" + socket)
        self.stubs = {}

    def call(self, service, method, rpc_timeout=None, **fields):
        """fields: the request's (e.g. StopContainer's own `timeout`)."""
        key = (service, method)
        m = self.pb.DESCRIPTOR.services_by_name[service].methods_by_name[method]
        req_cls = getattr(self.pb, m.input_type.name)
        if key not in self.stubs:
            resp_cls = getattr(self.pb, m.output_type.name)
            self.stubs[key] = self.ch.unary_unary(
                "/runtime.v1.%s/%s" % (service, method),
                request_serializer=req_cls.SerializeToString,
                response_deserializer=resp_cls.FromString,
            )
        return self.stubs[key](req_cls(**fields), timeout=rpc_timeout or self.timeout)

    def rt(self, method, rpc_timeout=None, **fields):
        return self.call("RuntimeService", method, rpc_timeout, **fields)

    def img(self, method, rpc_timeout=None, **fields):
        return self.call("ImageService", method, rpc_timeout, **fields)

    def wait_ready(self, deadline_s=30):
        end = time.time() + deadline_s
        while True:
            try:
                st = self.rt("Status", rpc_timeout=5)
                conds = {c.type: c.status for c in st.status.conditions}
                if conds.get("RuntimeReady"):
                    return st
            except grpc.RpcError:
                pass
            if time.time() > end:
                raise TimeoutError("CRI not ready")
            time.sleep(0.2)
