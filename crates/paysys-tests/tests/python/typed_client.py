"""An off-the-shelf gRPC client for paysys.v1.PaySystem (run by tests/grpc_typed.rs).

Generates the stubs from proto/ with grpc_tools.protoc into a temporary directory, calls the
typed RPCs on the edge, and lists each server's services through gRPC server reflection.

usage: typed_client.py PROTO_DIR EDGE_HOST:PORT SECRET TRANS_EXT_ID [name=HOST:PORT ...]
The internal bearer token comes from PAYSYS_INTERNAL_TOKEN (never argv); every call carries it
as `authorization` metadata, and the client also shows what a caller without it gets.
Prints key=value lines; exits non-zero on any failure (missing packages included).
"""
import collections
import importlib
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from google.protobuf.descriptor_pool import DescriptorPool

proto_dir, edge, secret, trans_ext_id = sys.argv[1:5]
others = dict(a.split("=", 1) for a in sys.argv[5:])


def show(key, *values):
    print(key + "=" + ",".join(str(v) for v in values), flush=True)


out = tempfile.mkdtemp(prefix="paysys-grpc-py-")
rc = protoc.main([
    "grpc_tools.protoc",
    "-I" + proto_dir,
    "--python_out=" + out,
    "--grpc_python_out=" + out,
    "paysys/v1/paysystem.proto",
])
if rc != 0:
    sys.exit("grpc_tools.protoc failed: %d" % rc)
sys.path.insert(0, out)
pb = importlib.import_module("paysys.v1.paysystem_pb2")
pb_grpc = importlib.import_module("paysys.v1.paysystem_pb2_grpc")

TOKEN = os.environ["PAYSYS_INTERNAL_TOKEN"]


class _Details(collections.namedtuple("_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")), grpc.ClientCallDetails):
    pass


class Bearer(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call, reflection's streams included."""

    def _details(self, d):
        md = list(d.metadata or []) + [("authorization", "Bearer " + TOKEN)]
        return _Details(d.method, d.timeout, md, d.credentials, d.wait_for_ready, d.compression)

    def intercept_unary_unary(self, cont, d, request):
        return cont(self._details(d), request)

    def intercept_stream_stream(self, cont, d, requests):
        return cont(self._details(d), requests)


def channel_to(target, token=True):
    ch = grpc.insecure_channel(target)
    grpc.channel_ready_future(ch).result(timeout=10)
    return grpc.intercept_channel(ch, Bearer()) if token else ch


channel = channel_to(edge)
stub = pb_grpc.PaySystemStub(channel)

channels = stub.GetChannelsList(pb.GetChannelsListRequest(merchant_id="1", secret=secret), timeout=20)
assert channels.status == "1", channels
show("channels", *["%s:%s" % (c.id, c.currency) for c in channels.channels])


def seed_000(trans_id, merchant_secret):
    return pb.TransactionRequest(
        merchant_id="1",
        secret=merchant_secret,
        trans_ext_id=trans_id,
        payment=pb.MerchantPayment(channel_id="18912", currency="PLN"),
        articles=[pb.MerchantArticle(prod_id="55555", sap_index="45000437", vat_rate="23",
                                     name="test product", quantity=1, price=10)],
        customer=pb.MerchantCustomer(ext_id="1234qwera", company="test", firstname="tester",
                                     lastname="testowski", email="tomek@test.pl",
                                     street="piękna", city="krk", phone="48501123123",
                                     postcode="31-620", country="PL"),
        client_ip="127.0.0.1",
        test=False,
        next_url="http://onet.pl",
    )


started = stub.SetTransactionSync(seed_000(trans_ext_id, secret), timeout=20)
assert started.status == "1" and started.action_type == "REDIRECT_USER", started
show("redirect", started.redirect_url)


def code_of(call):
    try:
        call()
    except grpc.RpcError as e:
        return e.code().name
    return "OK"


bad = seed_000(trans_ext_id + "-bad", secret)
bad.articles[0].price = -1
show("bad_field", code_of(lambda: stub.SetTransactionSync(bad, timeout=20)))
show("bad_secret", code_of(lambda: stub.SetTransactionSync(seed_000(trans_ext_id + "-x", "wrong"), timeout=20)))


# Without the token: the typed RPC and reflection are refused, gRPC health answers.
bare = channel_to(edge, token=False)
show("no_token", code_of(lambda: pb_grpc.PaySystemStub(bare).GetChannelsList(
    pb.GetChannelsListRequest(merchant_id="1", secret=secret), timeout=20)))
show("no_token_reflection", code_of(lambda: ProtoReflectionDescriptorDatabase(bare).get_services()))
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

show("no_token_health", health_pb2_grpc.HealthStub(bare).Check(
    health_pb2.HealthCheckRequest(service=""), timeout=10).status)


def services(target):
    ch = channel_to(target)
    db = ProtoReflectionDescriptorDatabase(ch)
    return ch, db, sorted(db.get_services())


_ch, db, listed = services(edge)
show("services_edge", *listed)
# The descriptors served by reflection describe the typed RPCs.
service = DescriptorPool(db).FindServiceByName("paysys.v1.PaySystem")
show("pay_system_methods", *[m.name for m in service.methods])

for name, target in others.items():
    _c, _d, listed = services(target)
    show("services_" + name, *listed)
