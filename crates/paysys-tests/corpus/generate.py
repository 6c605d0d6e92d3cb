#!/usr/bin/env python3
"""Generates the bad input corpus (issue 11 point 3) that `tests/bad_input.rs` iterates.

    python3 crates/paysys-tests/corpus/generate.py      # rewrites merchant/*.jsonl, callbacks/*.jsonl

Deterministic: no randomness, no clock; running it twice gives the same bytes. Every case is one
line of JSON; the format is described in README.md next to this script. Cases are built from the
seeds' valid requests (000 Mobiltek, 001/002 Teleaudio, 003 Netopia, 004 MoCoPay, as the test
harness's fixtures know them) by one mutation each, so the answer names exactly what was broken.

Expectations are what the system answers, checked by reading the code and docs (README "The
merchant API", docs/providers/*.md): change one only together with the behaviour it pins.
"""

import base64
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# Merchants and secrets of crates/paysys-tests/src/lib.rs.
M1 = ("1", "merchant-1-secret")
M34801 = ("34801", "merchant-34801-secret")
M19 = ("19", "merchant-19-secret")
M40 = ("40", "merchant-40-secret")
M50 = ("50", "merchant-50-secret")

INVALID_PARAMS = -32602
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
METHOD_NOT_FOUND = -32601
UNAUTHORIZED = -32001

# Characters the mutations use, written as escapes so this file has no invisible characters.
NUL = "\u0000"
BEL = "\u0007"
ESC = "\u001b"
DEL = "\u007f"
NEL = "\u0085"
RLO = "\u202e"  # right-to-left override (Trojan Source)
LRE = "\u202a"  # left-to-right embedding
RLI = "\u2067"  # right-to-left isolate
PDI = "\u2069"  # pop directional isolate
ZWSP = "\u200b"
ZWJ = "\u200d"
BOM = "\ufeff"
EMOJI = "\U0001f4b8"  # money with wings
FLAG_PL = "\U0001f1f5\U0001f1f1"

I64_MAX = 9223372036854775807


def b64(data):
    return base64.b64encode(data).decode("ascii")


def compact(v):
    """JSON text as a client would send it (ASCII-only, escapes for everything else)."""
    return json.dumps(v, ensure_ascii=True, separators=(",", ":"))


class CorpusFile:
    def __init__(self, rel):
        self.rel = rel
        self.cases = []
        self.names = set()

    def add(self, case):
        name = case["name"]
        assert name not in self.names, f"duplicate case name {name} in {self.rel}"
        self.names.add(name)
        self.cases.append(case)

    def write(self):
        path = os.path.join(HERE, self.rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="ascii", newline="\n") as f:
            for c in self.cases:
                f.write(json.dumps(c, ensure_ascii=True, separators=(", ", ": ")) + "\n")
        return len(self.cases)


# ---------------------------------------------------------------------------------------------
# Merchant requests
# ---------------------------------------------------------------------------------------------


def seed_000_one_time(tid):
    return {
        "trans_ext_id": tid, "seller_id": "34801", "merchant_id": "1", "user_agreements": "2",
        "invoice_series_id": "1",
        "payment": {"channel_id": "18912", "currency": "PLN"},
        "articles": [{"prod_id": "55555", "sap_index": "45000437", "vat_rate": "23",
                      "name": "test product", "quantity": "1", "price": "10"}],
        "customer": {"ext_id": "1234qwera", "company": "test", "firstname": "tester",
                     "lastname": "testowski", "email": "tomek@test.pl", "street": "pi\u0119kna",
                     "city": "krk", "phone": "48501123123", "postcode": "31-620", "country": "PL"},
        "client_ip": "127.0.0.1", "test": "False", "next_url": "http://onet.pl",
        "secret": M1[1],
    }


def seed_000_subscription(tid):
    return {
        "trans_ext_id": tid, "merchant_id": "34801", "invoice_required": False,
        "payment": {"channel_id": "18913", "currency": "PLN"},
        "articles": [{"prod_id": "55555", "sap_index": "45000437", "vat_rate": "23",
                      "name": "test product", "quantity": "1", "price": "10"}],
        "customer": {"ext_id": "1234qwera", "company": "test", "firstname": "testersu",
                     "lastname": "testowski", "email": "tomek_sync@test.pl",
                     "street": "pi\u0119kniejsza", "city": "KRK", "phone": "48501123123",
                     "postcode": "31-620", "country": "PL"},
        "client_ip": "127.0.0.1", "test": "False", "next_url": "http://onet.pl",
        "secret": M34801[1],
    }


def seed_001(tid):
    return {
        "trans_ext_id": tid, "merchant_id": "19", "invoice_required": False,
        "payment": {"channel_id": "9041", "amount": "0", "currency": "PLN"},
        "articles": [{"prod_id": "511", "sap_index": "45000437", "vat_rate": "23",
                      "name": "test product", "quantity": "1", "price": "100",
                      "config": [{"name": "teleaudio_service_id", "value": "511"}]}],
        "customer": {"ext_id": "1234qwera", "name": "test", "firstname": "tester",
                     "lastname": "testowski", "email": "test@test.pl", "street": "blotna",
                     "city": "krakow", "phone": "48519532621", "postcode": "31-620"},
        "test": "True", "next_url": "https://sympatia.onet.pl", "secret": M19[1],
    }


def seed_002(tid):
    return {
        "trans_ext_id": tid, "merchant_id": "19",
        "payment": {"channel_id": "9042", "amount": "0", "currency": "PLN", "config": {}},
        "articles": [{"prod_id": "512", "name": "premium article", "quantity": "1",
                      "price": "250"}],
        "customer": {"ext_id": "user-7", "email": "reader@test.pl", "phone": "48519532621"},
        "client_ip": "127.0.0.1", "secret": M19[1],
    }


def seed_003(tid, channel="7001", config=None):
    payment = {"channel_id": channel, "currency": "RON"}
    if config is not None:
        payment["config"] = config
    return {
        "trans_ext_id": tid, "merchant_id": "40", "secret": M40[1], "payment": payment,
        "articles": [{"prod_id": "p-1", "name": "Abonament lunar", "quantity": "1",
                      "price": "1234"}],
        "customer": {"ext_id": "cust-40", "firstname": "Ana Maria", "lastname": "Popescu",
                     "email": "ana@example.ro", "phone": "40722000000",
                     "street": "Str. Lunga 1", "city": "Brasov", "postcode": "500001",
                     "country": "RO"},
        "client_ip": "127.0.0.1", "test": "False", "next_url": "http://shop.example/back",
    }


def seed_004(tid):
    return {
        "trans_ext_id": tid, "merchant_id": "50", "secret": M50[1],
        "payment": {"channel_id": "8001", "currency": "EUR"},
        "articles": [{"prod_id": "CHMIBSUB", "name": "premium article", "quantity": "1",
                      "price": "199"}],
        "customer": {"ext_id": "reader-7", "email": "reader@example.com",
                     "phone": "385991112222"},
        "client_ip": "203.0.113.7", "next_url": "https://merchant.example/back",
    }


def call(method, params, id_="x"):
    req = {"jsonrpc": "2.0", "method": method, "params": params}
    if id_ is not None:
        req["id"] = id_
    return req


def invalid(*fields, **more):
    e = {"code": INVALID_PARAMS}
    if fields:
        e["data_has"] = list(fields)
    e.update(more)
    return e


def err(code, **more):
    e = {"code": code}
    e.update(more)
    return e


_MISSING = object()


def parse_path(path):
    """`articles[0].price` -> ["articles", 0, "price"]."""
    out = []
    for part in path.split("."):
        while "[" in part:
            head, rest = part.split("[", 1)
            if head:
                out.append(head)
            idx, part = rest.split("]", 1)
            out.append(int(idx))
        if part:
            out.append(part)
    return out


def mutate(params, path, value):
    """A copy of `params` with `path` set to `value` (or removed when `value` is _MISSING)."""
    p = copy.deepcopy(params)
    keys = parse_path(path)
    target = p
    for k in keys[:-1]:
        target = target[k]
    if value is _MISSING:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return p


def merchant_envelope():
    f = CorpusFile("merchant/envelope.jsonl")
    channels = call("get_channels_list", {"merchant_id": M1[0], "secret": M1[1]}, 1)
    ok_body = compact(channels)

    def raw(name, body, expect, **extra):
        c = {"name": name, "body": body, "expect": expect}
        c.update(extra)
        f.add(c)

    parse = lambda: err(PARSE_ERROR, id=None)  # noqa: E731
    # Not JSON at all, or not quite JSON.
    raw("empty body", "", parse())
    raw("whitespace only", "  \n\t ", parse())
    raw("unclosed object", "{nope", parse())
    raw("truncated request", ok_body[: len(ok_body) // 2], parse())
    raw("truncated by one byte", ok_body[:-1], parse())
    raw("trailing garbage", ok_body + " x", parse())
    raw("two objects back to back", ok_body + ok_body, parse())
    raw("single quotes", ok_body.replace('"', "'"), parse())
    raw("trailing comma", ok_body[:-1] + ",}", parse())
    raw("comment", "/* hi */" + ok_body, parse())
    raw("NaN literal", '{"jsonrpc":"2.0","method":"get_channels_list","params":{"merchant_id":NaN},"id":1}', parse())
    raw("Infinity literal", '{"jsonrpc":"2.0","method":"get_channels_list","params":{"merchant_id":Infinity},"id":1}', parse())
    raw("number 1e400 overflows f64", '{"jsonrpc":"2.0","method":"get_channels_list","params":{"merchant_id":1e400},"id":1}', parse())
    raw("id 1e400", '{"jsonrpc":"2.0","method":"rpc.discover","id":1e400}', parse())
    raw("hex number", '{"jsonrpc":"2.0","method":"rpc.discover","id":0x10}', parse())
    raw("leading zero number", '{"jsonrpc":"2.0","method":"rpc.discover","id":01}', parse())
    raw("plus sign number", '{"jsonrpc":"2.0","method":"rpc.discover","id":+1}', parse())
    raw("lone high surrogate escape", '{"jsonrpc":"2.0","method":"rpc.discover\\ud800","id":1}', parse())
    raw("lone low surrogate escape", '{"jsonrpc":"2.0","method":"rpc.discover","id":"\\udc00"}', parse())
    raw("reversed surrogate pair", '{"jsonrpc":"2.0","method":"rpc.discover","id":"\\udc00\\ud800"}', parse())
    raw("bad escape", '{"jsonrpc":"2.0","method":"rpc.discover","id":"\\x41"}', parse())
    raw("short unicode escape", '{"jsonrpc":"2.0","method":"rpc.discover","id":"\\u12"}', parse())
    raw("raw NUL inside a string", '{"jsonrpc":"2.0","method":"rpc.discover","id":"a' + NUL + 'b"}', parse())
    raw("raw control character inside a string", '{"jsonrpc":"2.0","method":"rpc.discover","id":"a' + BEL + 'b"}', parse())
    raw("raw newline inside a string", '{"jsonrpc":"2.0","method":"rpc.discover","id":"a\nb"}', parse())
    discover_with_id = lambda raw_id: b'{"jsonrpc":"2.0","method":"rpc.discover","id":"' + raw_id + b'"}'  # noqa: E731
    for name, body in [
        ("latin-1 byte inside a string", discover_with_id(b"caf\xe9")),
        ("overlong UTF-8 encoding of a quote", discover_with_id(b"a\xc0\xa2")),
        ("UTF-8 encoded surrogate bytes", discover_with_id(b"\xed\xa0\x80")),
        ("invalid UTF-8 continuation byte", discover_with_id(b"\x80")),
        ("UTF-16LE body", '{"jsonrpc":"2.0","method":"rpc.discover","id":1}'.encode("utf-16-le")),
        ("UTF-16 body with a byte order mark", '{"jsonrpc":"2.0","method":"rpc.discover","id":1}'.encode("utf-16")),
    ]:
        f.add({"name": name, "body_b64": b64(body), "expect": parse()})
    raw("UTF-8 byte order mark before the body", BOM + '{"jsonrpc":"2.0","method":"rpc.discover","id":1}', parse())
    raw("nesting 200 deep in params", '{"jsonrpc":"2.0","method":"get_channels_list","params":{"merchant_id":"1","secret":"merchant-1-secret","deep":' + "[" * 200 + "]" * 200 + '},"id":1}', parse())
    f.add({"name": "nesting 100000 deep", "body": "@OPEN@", "expand": {"@OPEN@": ["[", 100000]}, "expect": parse()})
    raw("duplicate keys, last jsonrpc wrong", '{"jsonrpc":"2.0","method":"rpc.discover","id":1,"jsonrpc":"1.0"}', err(INVALID_REQUEST, id=1))
    raw("duplicate keys, last method unknown", '{"jsonrpc":"2.0","method":"rpc.discover","id":1,"method":"rpc.uncover"}', err(METHOD_NOT_FOUND, id=1))

    # JSON, but not a request object.
    for name, body in [("null", "null"), ("true", "true"), ("a number", "42"),
                       ("a string", '"rpc.discover"'), ("an empty object", "{}")]:
        raw(f"top level {name}", body, err(INVALID_REQUEST, id=None))

    def req(name, obj, expect, **extra):
        raw(name, compact(obj), expect, **extra)

    # jsonrpc member.
    for name, v in [("1.0", "1.0"), ("2", "2"), ("2.0 with a space", "2.0 "), ("number 2.0", 2.0),
                    ("null", None), ("object", {"v": "2.0"}), ("2.0 with a NUL", "2.0" + NUL)]:
        req(f"jsonrpc {name}", {"jsonrpc": v, "method": "rpc.discover", "id": 7}, err(INVALID_REQUEST, id=7))
    req("jsonrpc missing", {"method": "rpc.discover", "id": "a"}, err(INVALID_REQUEST, id="a"))
    # method member.
    for name, v in [("number", 1), ("null", None), ("array", ["rpc.discover"]), ("object", {"name": "rpc.discover"}), ("true", True)]:
        req(f"method {name}", {"jsonrpc": "2.0", "method": v, "id": 7}, err(INVALID_REQUEST, id=7))
    req("method missing", {"jsonrpc": "2.0", "id": 7}, err(INVALID_REQUEST, id=7))
    for name, v in [("empty", ""), ("upper case", "GET_CHANNELS_LIST"), ("leading space", " get_channels_list"),
                    ("trailing NUL", "get_channels_list" + NUL), ("bidi override", RLO + "get_channels_list"),
                    ("zero-width space", "get" + ZWSP + "_channels_list"), ("emoji", EMOJI),
                    ("rpc prefix", "rpc.discover.x"), ("path traversal", "../get_channels_list"),
                    ("internal name", "merchant_call")]:
        req(f"method {name}", call(v, {"merchant_id": M1[0], "secret": M1[1]}, 7), err(METHOD_NOT_FOUND, id=7))
    f.add({"name": "method 100 KB long", "body": compact(call("@BIG@", {}, 7)), "expand": {"@BIG@": ["m", 102400]},
           "expect": err(METHOD_NOT_FOUND, id=7)})
    # params member.
    for name, v in [("string", "merchant_id=1"), ("number", 1), ("true", True), ("null", None)]:
        req(f"params {name}", {"jsonrpc": "2.0", "method": "get_channels_list", "params": v, "id": 7}, err(INVALID_REQUEST, id=7))
    req("params empty array", call("get_channels_list", [], 7), invalid("params", id=7))
    req("params positional", call("get_channels_list", [M1[0], M1[1]], 7), invalid("params", id=7))
    req("params missing", {"jsonrpc": "2.0", "method": "get_channels_list", "id": 7}, invalid("params", id=7))
    req("params positional for set_transaction_sync", call("set_transaction_sync", [seed_000_one_time("env-pos-1")], 7), invalid("params", id=7))
    # id member.
    for name, v in [("object", {"a": 1}), ("array", [1]), ("true", True), ("false", False), ("empty object", {})]:
        req(f"id {name}", call("rpc.discover", {}, v), err(INVALID_REQUEST, id=None))
    req("id object on a merchant call", call("get_channels_list", {"merchant_id": M1[0], "secret": M1[1]}, {"id": 1}), err(INVALID_REQUEST, id=None))
    # Odd but valid ids are echoed (the call itself runs: rpc.discover reads nothing).
    for name, v in [("fraction", 1.5), ("negative", -7), ("zero", 0), ("empty string", ""),
                    ("NUL", NUL), ("bidi override", RLO + "abc"), ("emoji", EMOJI), ("i64 max", I64_MAX)]:
        req(f"id {name} is echoed", call("rpc.discover", {}, v), {"result": True, "id": v})
    raw("id beyond u64 is a number", '{"jsonrpc":"2.0","method":"rpc.discover","id":18446744073709551616}', {"result": True})
    f.add({"name": "id 100 KB long is echoed", "body": compact(call("rpc.discover", {}, "@BIG@")), "expand": {"@BIG@": ["i", 102400]},
           "expect": {"result": True}})
    req("extra top-level member is ignored", dict(channels, extra={"x": 1}), {"result": True, "id": 1})
    req("explicit null id is not a notification", call("no_such_method", {}, None) | {"id": None}, err(METHOD_NOT_FOUND, id=None))
    # Notifications get no answer, not even an error.
    req("notification of an unknown method", call("no_such_method", {}, None), {"http": 204, "no_body": True})
    req("notification with a wrong secret", call("get_channels_list", {"merchant_id": M1[0], "secret": "wrong"}, None), {"http": 204, "no_body": True})
    req("notification with bad params", call("set_transaction_sync", mutate(seed_000_one_time("env-notif-1"), "articles[0].price", "ten"), None),
        {"http": 204, "no_body": True})
    req("notification with an invalid params type is still answered", {"jsonrpc": "2.0", "method": "get_channels_list", "params": "x"},
        err(INVALID_REQUEST, id=None))
    # Transport: content types, HTTP methods, size.
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx",
               "text/html", "application/xml", "json", ""]:
        raw(f"content type {ct or 'empty'}", ok_body, err(INVALID_REQUEST, id=None), content_type=ct)
    raw("no content type", ok_body, err(INVALID_REQUEST, id=None), content_type=None)
    raw("form-encoded body as form", "jsonrpc=2.0&method=get_channels_list&id=1", err(INVALID_REQUEST, id=None),
        content_type="application/x-www-form-urlencoded")
    raw("content type with charset is fine", ok_body, {"result": True, "id": 1}, content_type="application/json; charset=utf-8")
    f.add({"name": "GET", "http_method": "GET", "body": "", "content_type": None, "expect": err(INVALID_REQUEST, id=None)})
    f.add({"name": "GET another path", "http_method": "GET", "path": "/some/where?x=1", "body": "", "content_type": None,
           "expect": err(INVALID_REQUEST, id=None)})
    for m in ["PUT", "DELETE", "PATCH"]:
        f.add({"name": f"{m}", "http_method": m, "body": ok_body, "expect": err(INVALID_REQUEST, id=None)})
    f.add({"name": "body over 1 MiB", "body": '{"jsonrpc":"2.0","method":"rpc.discover","id":1,"pad":"@PAD@"}',
           "expand": {"@PAD@": ["x", 1048576]}, "expect": {"http": 413, "code": INVALID_REQUEST, "id": None}})
    f.add({"name": "body of 1 MiB of spaces", "body": "@PAD@", "expand": {"@PAD@": [" ", 1048577]},
           "expect": {"http": 413, "code": INVALID_REQUEST, "id": None}})
    return f


def merchant_batch():
    f = CorpusFile("merchant/batch.jsonl")

    def raw(name, body, expect, **extra):
        c = {"name": name, "body": body, "expect": expect}
        c.update(extra)
        f.add(c)

    inv = {"code": INVALID_REQUEST, "id": None}
    discover = lambda i: call("rpc.discover", {}, i)  # noqa: E731
    wrong = lambda i, m=M1[0]: call("get_channels_list", {"merchant_id": m, "secret": "wrong"}, i)  # noqa: E731
    raw("empty batch", "[]", err(INVALID_REQUEST, id=None, data_text="empty batch"))
    raw("empty batch with whitespace", "[ \n ]", err(INVALID_REQUEST, id=None))
    raw("batch of one number", "[1]", {"batch": [inv]})
    raw("batch of numbers", "[1,2,3]", {"batch": [inv, inv, inv]})
    raw("batch of null", "[null]", {"batch": [inv]})
    raw("batch of strings", '["rpc.discover","x"]', {"batch": [inv, inv]})
    raw("batch of booleans", "[true,false]", {"batch": [inv, inv]})
    raw("batch of empty objects", "[{},{}]", {"batch": [inv, inv]})
    raw("nested empty batch", "[[]]", {"batch": [inv]})
    raw("nested batch", compact([[discover(1), discover(2)]]), {"batch": [inv]})
    raw("deeply nested batch", "[" * 50 + "]" * 50, {"batch": [inv]})
    raw("unclosed batch", "[" + compact(discover(1)) + ",", err(PARSE_ERROR, id=None))
    raw("batch with a parse error inside", '[{"jsonrpc":"2.0","method":"rpc.discover","id":1},{"jsonrpc":"2.0","method"]', err(PARSE_ERROR, id=None))
    raw("batch of 101 calls", compact([discover(i) for i in range(101)]), err(INVALID_REQUEST, id=None, data_text="at most 100"))
    raw("batch of 101 notifications", compact([call("rpc.discover", {}, None) for _ in range(101)]), err(INVALID_REQUEST, id=None, data_text="at most 100"))
    raw("batch of 101 wrong secrets", compact([wrong(i) for i in range(101)]), err(INVALID_REQUEST, id=None, data_text="at most 100"))
    raw("batch of 1000 numbers", "[" + ",".join(["1"] * 1000) + "]", err(INVALID_REQUEST, id=None, data_text="at most 100"))
    raw("batch of 100 wrong secrets", compact([wrong(i) for i in range(100)]),
        {"batch_len": 100, "batch_each": {"code": UNAUTHORIZED}})
    raw("batch of 100 wrong secrets of many merchants", compact([wrong(i, str(1000 + i)) for i in range(100)]),
        {"batch_len": 100, "batch_each": {"code": UNAUTHORIZED}})
    raw("batch mixing valid and invalid", compact([discover(1), {"foo": 1}, call("nope", {}, 2), call("rpc.discover", {}, None)]),
        {"batch": [{"result": True, "id": 1}, inv, {"code": METHOD_NOT_FOUND, "id": 2}]})
    raw("batch of invalid notifications gets no answer", compact([call("nope", {}, None), wrong(None)]), {"http": 204, "no_body": True})
    raw("batch with object and array ids", compact([call("rpc.discover", {}, {"a": 1}), call("rpc.discover", {}, [1])]), {"batch": [inv, inv]})
    raw("batch with duplicate ids", compact([wrong(5), wrong(5)]), {"batch": [{"code": UNAUTHORIZED, "id": 5}, {"code": UNAUTHORIZED, "id": 5}]})
    raw("batch with an invalid params type", compact([{"jsonrpc": "2.0", "method": "get_channels_list", "params": "x", "id": 3}]),
        {"batch": [{"code": INVALID_REQUEST, "id": 3}]})
    raw("batch with a wrong jsonrpc version", compact([{"jsonrpc": "1.0", "method": "rpc.discover", "id": 3}, discover(4)]),
        {"batch": [{"code": INVALID_REQUEST, "id": 3}, {"result": True, "id": 4}]})
    raw("batch of bad orders, each named", compact([
        call("set_transaction_sync", mutate(seed_000_one_time("batch-bad-1"), "articles[0].price", "ten"), 1),
        call("set_transaction_sync", mutate(seed_000_one_time("batch-bad-2"), "customer.email", "nobody"), 2),
        call("set_subscription", mutate(seed_000_subscription("batch-bad-3"), "payment.currency", "EUR"), 3),
    ]), {"batch": [invalid("articles[0].price", id=1), invalid("customer.email", id=2), invalid("payment.currency", id=3)]})
    raw("batch reusing one trans_ext_id for two bad orders", compact([
        call("set_transaction_sync", mutate(seed_000_one_time("batch-same-1"), "articles[0].quantity", "0"), 1),
        call("set_transaction_sync", mutate(seed_000_one_time("batch-same-1"), "articles[0].quantity", "-1"), 2),
    ]), {"batch": [invalid("articles[0].quantity", id=1), invalid("articles[0].quantity", id=2)]})
    raw("batch with a wrong secret then a good one", compact([
        wrong(1), call("get_channels_list", {"merchant_id": M1[0], "secret": M1[1]}, 2)]),
        {"batch": [{"code": UNAUTHORIZED, "id": 1}, {"result": True, "id": 2}]})
    raw("batch of 100 bad orders", compact([
        call("set_transaction_sync", mutate(seed_000_one_time(f"batch-many-{i}"), "articles[0].price", str(-i - 1)), i) for i in range(100)]),
        {"batch_len": 100, "batch_each": invalid("articles[0].price")})
    return f


def merchant_auth():
    f = CorpusFile("merchant/auth.jsonl")
    unauth = {"code": UNAUTHORIZED}

    def add(name, method, params, expect, **extra):
        c = {"name": name, "json": call(method, params, name), "expect": dict(expect, id=name)}
        c.update(extra)
        f.add(c)

    base = lambda n: seed_000_one_time(f"auth-{n}")  # noqa: E731
    for i, (name, secret) in enumerate([
        ("wrong secret", "wrong"), ("empty secret", ""), ("secret of spaces", "   "),
        ("secret with a trailing space", M1[1] + " "), ("secret upper case", M1[1].upper()),
        ("secret with a NUL", M1[1] + NUL), ("secret with a bidi override", RLO + M1[1]),
        ("secret of another merchant", M34801[1]), ("secret 257 characters", "s" * 257),
        ("secret 2 KB", "s" * 2048), ("secret number", 123), ("secret true", True),
        ("secret array", [M1[1]]), ("secret object", {"value": M1[1]}),
        ("secret null", None), ("secret that is SQL", "' OR '1'='1"),
    ]):
        add(name, "set_transaction_sync", mutate(base(i), "secret", secret), unauth)
    add("secret missing", "set_transaction_sync", mutate(base(20), "secret", _MISSING), unauth)
    for i, (name, mid) in enumerate([
        ("unknown merchant", "999"), ("merchant 0", "0"), ("merchant -1", "-1"),
        ("merchant fullwidth digit", "\uff11"), ("merchant that is SQL", "1' OR '1'='1"),
        ("merchant with a zero-width space", "1" + ZWSP), ("merchant emoji", EMOJI),
        ("merchant of another secret", "34801"),
    ]):
        add(name, "set_transaction_sync", mutate(base(30 + i), "merchant_id", mid), unauth)
    for i, (name, mid) in enumerate([
        ("merchant_id empty", ""), ("merchant_id object", {"id": "1"}), ("merchant_id array", ["1"]),
        ("merchant_id true", True), ("merchant_id null", None), ("merchant_id 65 characters", "1" * 65),
        ("merchant_id with a NUL", "1" + NUL), ("merchant_id with an escape character", "1" + ESC + "[31m"),
        ("merchant_id with a bidi override", RLO + "1"),
    ]):
        add(name, "set_transaction_sync", mutate(base(50 + i), "merchant_id", mid), invalid("merchant_id"))
    add("no merchant_id and no secret", "get_channels_list", {}, invalid("merchant_id"))
    add("merchant_id without a secret", "get_channels_list", {"merchant_id": M1[0]}, unauth)
    add("get_channels_list with another merchant's secret", "get_channels_list", {"merchant_id": M1[0], "secret": M34801[1]}, unauth)
    add("get_channels_list for an unknown merchant", "get_channels_list", {"merchant_id": "424242", "secret": M1[1]}, unauth)
    add("get_transaction_status with a wrong secret", "get_transaction_status", {"merchant_id": M1[0], "secret": "x", "trans_ext_id": "{{order.mobiltek}}"}, unauth)
    add("unsubscribe with a wrong secret", "unsubscribe", {"secret": "nope", "order_ext_id": "{{order.mobiltek_sub}}", "client_ip": "127.0.0.1"}, unauth)
    add("confirm_teleaudio_payment with a wrong secret", "confirm_teleaudio_payment", {"secret": "nope", "trans_ext_id": "t", "code": "123456"}, unauth)
    add("modify_subscription_price with a wrong secret", "modify_subscription_price", {"merchant_id": M34801[0], "secret": M1[1], "order_ext_id": "{{order.mobiltek_sub}}", "price": "5"}, unauth)
    add("move_subscription_payment with a wrong secret", "move_subscription_payment", {"merchant_id": M34801[0], "secret": "", "order_ext_id": "{{order.mobiltek_sub}}", "date": "2030-01-01 10:00:00"}, unauth)
    add("set_subscription with a wrong secret", "set_subscription", mutate(seed_000_subscription("auth-sub-1"), "secret", M1[1]), unauth)
    add("set_transaction with a wrong secret", "set_transaction", mutate(seed_002("auth-async-1"), "secret", M50[1]), unauth)
    # Another merchant's channel, order or subscription is "no such ... for this merchant".
    add("merchant 1 on merchant 34801's channel", "set_transaction_sync", mutate(base(70), "payment.channel_id", "18913"), invalid("payment.channel_id"))
    add("merchant 34801 on merchant 1's channel", "set_subscription",
        mutate(mutate(seed_000_subscription("auth-71"), "payment.channel_id", "18912"), "payment.currency", "PLN"), invalid("payment.channel_id"))
    add("merchant 40 on merchant 50's MoCoPay channel", "set_transaction_sync", mutate(mutate(seed_003("auth-72"), "payment.channel_id", "8001"), "payment.currency", "EUR"), invalid("payment.channel_id"))
    add("merchant 50 on merchant 40's Netopia channel", "set_transaction_sync", mutate(mutate(seed_004("auth-73"), "payment.channel_id", "7001"), "payment.currency", "RON"), invalid("payment.channel_id"))
    add("merchant 19 on merchant 1's channel", "set_transaction", mutate(mutate(seed_002("auth-74"), "payment.channel_id", "18912"), "payment.currency", "PLN"), invalid("payment.channel_id"))
    add("status of another merchant's order", "get_transaction_status", {"merchant_id": M34801[0], "secret": M34801[1], "trans_ext_id": "{{order.mobiltek}}"}, invalid("trans_ext_id"))
    add("unsubscribe another merchant's subscription", "unsubscribe", {"merchant_id": M1[0], "secret": M1[1], "order_ext_id": "{{order.mobiltek_sub}}"}, invalid("order_ext_id"))
    add("unsubscribe another merchant's subscription by secret alone", "unsubscribe", {"secret": M19[1], "order_ext_id": "{{order.mobiltek_sub}}"}, invalid("order_ext_id"))
    add("price change of another merchant's subscription", "modify_subscription_price", {"merchant_id": M40[0], "secret": M40[1], "order_ext_id": "{{order.mobiltek_sub}}", "price": "5"}, invalid("order_ext_id"))
    add("confirm another merchant's order", "confirm_teleaudio_payment", {"secret": M19[1], "trans_ext_id": "{{order.mobiltek}}", "code": "123456"},
        {"result_has": {"/status": "-1", "/result": "400 - BADTRANSACTION"}})
    add("trans_ext_id of merchant 1 reused by merchant 34801 with a bad channel", "set_transaction_sync",
        mutate(mutate(mutate(base(75), "merchant_id", "34801"), "secret", M34801[1]), "trans_ext_id", "{{order.mobiltek}}"), invalid("payment.channel_id"))

    # The signature header (X-PaySys-Signature).
    def signed(name, params, sign, expect, method="get_channels_list"):
        f.add({"name": name, "json": call(method, params, name), "sign": sign, "expect": dict(expect, id=name)})

    sig_refused = {"code": UNAUTHORIZED, "data_has": ["X-PaySys-Signature"]}
    p1 = {"merchant_id": M1[0]}
    signed("signature garbage", p1, {"header": "garbage"}, sig_refused)
    signed("signature empty", p1, {"header": ""}, sig_refused)
    signed("signature without v1", p1, {"header": "t={{now}}"}, sig_refused)
    signed("signature of zeros", p1, {"header": "t={{now}},v1=" + "0" * 64}, sig_refused)
    signed("signature upper-case hex", p1, {"secret": M1[1], "upper": True}, sig_refused)
    signed("signature 1000 s old", p1, {"secret": M1[1], "t_offset": -1000}, sig_refused)
    signed("signature 1000 s ahead", p1, {"secret": M1[1], "t_offset": 1000}, sig_refused)
    signed("signature at i64 max", p1, {"header": "t=9223372036854775807,v1=" + "0" * 64}, sig_refused)
    signed("signature at t=0", p1, {"header": "t=0,v1=" + "0" * 64}, sig_refused)
    signed("signature negative t", p1, {"header": "t=-5,v1=" + "0" * 64}, sig_refused)
    signed("signature over another body", p1, {"secret": M1[1], "over": '{"jsonrpc":"2.0"}'}, sig_refused)
    signed("signature with another merchant's secret", p1, {"secret": M34801[1]}, sig_refused)
    signed("signature by merchant 1 for merchant 34801", {"merchant_id": M34801[0]}, {"secret": M1[1]}, sig_refused)
    signed("signature for an unknown merchant", {"merchant_id": "999"}, {"secret": M1[1]}, sig_refused)
    signed("signature header 300 characters", p1, {"header": "t={{now}},v1=" + "a" * 287}, sig_refused)
    signed("signature with two v1 (first right)", p1, {"secret": M1[1], "append": ",v1=" + "0" * 64}, sig_refused)
    signed("signature but no merchant_id", {}, {"secret": M1[1]}, invalid("merchant_id"))
    signed("signature and a wrong secret parameter", {"merchant_id": M1[0], "secret": "wrong"}, {"secret": M1[1]}, unauth)
    signed("signed request with bad params", {"merchant_id": M1[0], "trans_ext_id": "has space"}, {"secret": M1[1]},
           invalid("trans_ext_id"), method="get_transaction_status")
    f.add({"name": "signed batch naming two merchants", "json": [
        call("get_transaction_status", {"merchant_id": M1[0], "trans_ext_id": "nope-1"}, 1),
        call("get_transaction_status", {"merchant_id": M34801[0], "trans_ext_id": "nope-2"}, 2)],
        "sign": {"secret": M1[1]},
        "expect": {"batch": [invalid("trans_ext_id", id=1), dict(sig_refused, id=2)]}})
    return f


# Mutations of set_transaction_sync (seed 000) field by field: (path, value, field named).
STRING_FIELDS = [
    "trans_ext_id", "payment.channel_id", "payment.currency", "articles[0].prod_id",
    "articles[0].name", "articles[0].sap_index", "customer.email", "customer.phone",
    "customer.country", "customer.firstname", "customer.lastname", "customer.ext_id",
    "customer.street", "customer.city", "customer.postcode", "customer.company",
    "client_ip", "next_url", "seller_id", "user_agreements", "invoice_series_id",
]
OBJECT_FIELDS = ["payment", "customer"]
INTEGER_FIELDS = ["articles[0].price", "articles[0].quantity", "payment.amount", "payment.validity_time"]
MAX_LEN = {
    "trans_ext_id": 64, "payment.channel_id": 64, "articles[0].prod_id": 64, "articles[0].name": 255,
    "articles[0].sap_index": 64, "customer.email": 254, "customer.phone": 20, "customer.firstname": 100,
    "customer.lastname": 100, "customer.ext_id": 64, "customer.street": 200, "customer.city": 100,
    "customer.postcode": 20, "customer.company": 200, "client_ip": 45, "next_url": 2048,
    "seller_id": 64, "user_agreements": 64, "invoice_series_id": 64,
}


def merchant_order_params():
    f = CorpusFile("merchant/order_params.jsonl")
    n = [0]

    def case(name, params, expect, method="set_transaction_sync", **extra):
        n[0] += 1
        c = {"name": name, "json": call(method, params, name), "expect": dict(expect, id=name)}
        c.update(extra)
        f.add(c)

    def one(name, path, value, named=None, base=seed_000_one_time, method="set_transaction_sync", **extra):
        tid = f"bad-{n[0] + 1}"
        p = mutate(base(tid), path, value)
        case(name, p, invalid(named or path), method=method, **extra)

    # Wrong JSON types.
    for path in STRING_FIELDS:
        for tname, v in [("object", {"v": "x"}), ("array", ["x"]), ("boolean", True)]:
            one(f"{path} is an {tname}" if tname[0] in "aeiou" else f"{path} is a {tname}", path, v)
    for path in OBJECT_FIELDS:
        for tname, v in [("string", "card"), ("number", 7), ("array", [{}]), ("boolean", False)]:
            one(f"{path} is a {tname}", path, v)
    one("articles is an object", "articles", {"0": {}})
    one("articles is a string", "articles", "many")
    one("articles is null", "articles", None)
    one("articles[0] is a string", "articles[0]", "article", named="articles[0]")
    one("articles[0] is null", "articles[0]", None, named="articles[0]")
    one("articles[0] is an array", "articles[0]", [], named="articles[0]")
    one("articles[0].config is a number", "articles[0].config", 5)
    one("articles[0].config is a string", "articles[0].config", "teleaudio_service_id=511")
    one("articles[0].config entry without value", "articles[0].config", [{"name": "x"}], named="articles[0].config[0]")
    one("articles[0].config entry with empty name", "articles[0].config", [{"name": "", "value": "1"}], named="articles[0].config[0]")
    one("articles[0].config value is an object", "articles[0].config", {"k": {"nested": 1}}, named="articles[0].config.k")
    one("articles[0].config value with a NUL", "articles[0].config", [{"name": "note", "value": "a" + NUL}], named="articles[0].config[0]")
    one("articles[0].config value with a NUL, object form", "articles[0].config", {"note": "a" + NUL}, named="articles[0].config.note")
    one("articles[0].config value with an escape character", "articles[0].config", {"note": ESC + "[2J"}, named="articles[0].config.note")
    one("articles[0].config name with a right-to-left override", "articles[0].config", [{"name": "no" + RLO + "te", "value": "1"}], named="articles[0].config[0]")
    one("articles[0].config name with a NUL, object form", "articles[0].config", {"no" + NUL + "te": "1"}, named="articles[0].config")
    one("articles[0].config value of 256 characters", "articles[0].config", {"note": "v" * 256}, named="articles[0].config.note")
    one("articles[0].config name of 65 characters", "articles[0].config", {"n" * 65: "1"}, named="articles[0].config")
    one("articles[0].config value of 100 KB", "articles[0].config", [{"name": "note", "value": "@BIG@"}], named="articles[0].config[0]",
        expand={"@BIG@": ["v", 102400]})
    one("webbilling service named with a NUL", "articles[0].config", [{"name": "teleaudio_service_id", "value": "511" + NUL}],
        named="articles[0].config[0]", base=seed_002, method="set_transaction")
    one("payment.config value with a NUL", "payment.config", {"service_id": "30576" + NUL}, named="payment.config.service_id")
    one("payment.config is a string", "payment.config", "service_id=1")
    one("payment.config value is an array", "payment.config", {"service_id": ["1"]}, named="payment.config.service_id")
    one("test is a number", "test", 2)
    one("test is an array", "test", [])
    one("test is Maybe", "test", "Maybe")
    one("test is yes", "test", "yes")
    one("invoice_required is perhaps", "invoice_required", "perhaps")
    one("invoice_required is an object", "invoice_required", {})
    # Integers: types, spellings, overflows.
    for path in INTEGER_FIELDS:
        for vname, v in [
            ("an object", {"v": 1}), ("an array", [1]), ("true", True), ("a word", "ten"),
            ("10.5", "10.5"), ("a JSON fraction", 10.5), ("a JSON float 1e2", 1e2), ("1e2 as text", "1e2"),
            ("+10", "+10"), ("0x10", "0x10"), ("fullwidth digits", "\uff11\uff10"),
            ("Arabic-Indic digits", "\u0661\u0660"), ("blank", "  "), ("10 with a NUL", "10" + NUL),
            ("2^63", 9223372036854775808), ("2^63 as text", "9223372036854775808"),
            ("-2^63-1", -9223372036854775809), ("20 digits as text", "99999999999999999999"),
            ("1 000 with a space", "1 000"), ("10 with a zero-width space", "10" + ZWSP),
        ]:
            one(f"{path} is {vname}", path, v)
    for path, v, named in [
        ("articles[0].price", "-1", None), ("articles[0].price", -10, None),
        ("articles[0].price", I64_MAX, None), ("articles[0].price", str(I64_MAX), None),
        ("articles[0].price", 100000001, None), ("articles[0].price", "-9223372036854775808", None),
        ("articles[0].price", "0", "articles"), ("articles[0].price", 0, "articles"),
        ("articles[0].price", "-0", "articles"),
        ("articles[0].quantity", "0", None), ("articles[0].quantity", -1, None),
        ("articles[0].quantity", 10001, None), ("articles[0].quantity", I64_MAX, None),
        ("payment.amount", "-1", None), ("payment.amount", "11", None), ("payment.amount", I64_MAX, None),
        ("payment.amount", "10", "articles"),
        ("payment.validity_time", 0, None), ("payment.validity_time", -1, None),
        ("payment.validity_time", 2592001, None), ("payment.validity_time", I64_MAX, None),
    ]:
        one(f"{path} = {json.dumps(v)}", path, v, named=named)
    for name, number in [("JSON -0", "-0"), ("JSON -0.0", "-0.0"), ("JSON 1E1", "1E1"), ("JSON 10.0", "10.0")]:
        n[0] += 1
        body = compact(call("set_transaction_sync", mutate(seed_000_one_time(f"bad-{n[0]}"), "articles[0].price", "@N@"), f"price {name}"))
        f.add({"name": f"price {name}", "body": body.replace('"@N@"', number), "expect": invalid("articles[0].price", id=f"price {name}")})
    one("vat_rate 101", "articles[0].vat_rate", "101")
    one("vat_rate -1", "articles[0].vat_rate", "-1")
    one("vat_rate 23.", "articles[0].vat_rate", "23.")
    one("vat_rate .5", "articles[0].vat_rate", ".5")
    one("vat_rate 1e2", "articles[0].vat_rate", "1e2")
    one("vat_rate abc", "articles[0].vat_rate", "abc")
    one("vat_rate 23,5", "articles[0].vat_rate", "23,5")
    one("vat_rate is an object", "articles[0].vat_rate", {})
    one("vat_rate is 2^64", "articles[0].vat_rate", 18446744073709551616)
    # Sizes: one character over each limit; some far over.
    for path, limit in MAX_LEN.items():
        value = "a" * (limit + 1)
        if path == "customer.email":
            value = "a" * (limit - 4) + "@t.pl"
        elif path == "customer.phone":
            value = "4" * (limit + 1)
        elif path == "client_ip":
            value = "1" * (limit + 1)
        elif path == "next_url":
            value = "http://x.pl/" + "a" * (limit - 11)
        one(f"{path} over {limit} characters", path, value)
    for path in ["articles[0].name", "customer.firstname", "next_url", "customer.email"]:
        tid = f"bad-{n[0] + 1}"
        name = f"{path} of 100 KB"
        c = {"name": name, "json": call("set_transaction_sync", mutate(seed_000_one_time(tid), path, "@BIG@"), name),
             "expand": {"@BIG@": ["\u0119", 102400]}, "expect": invalid(path, id=name)}
        n[0] += 1
        f.add(c)
    one("101 articles", "articles", [seed_000_one_time("x")["articles"][0]] * 101, named="articles")
    one("empty articles", "articles", [], named="articles")
    one("many bad articles are each named", "articles",
        [dict(seed_000_one_time("x")["articles"][0], price=str(-i)) for i in range(1, 4)], named="articles[2].price")
    # Unicode: NUL, control characters, bidi controls, zero-width, emoji where an id is expected.
    for path in ["articles[0].name", "customer.firstname", "customer.street", "articles[0].prod_id", "payment.channel_id",
                 "customer.email", "next_url", "customer.ext_id", "seller_id"]:
        one(f"{path} with a NUL", path, "ab" + NUL + "cd")
    for path, ch, chname in [("articles[0].name", BEL, "bell"), ("articles[0].name", ESC + "[2J", "terminal escape"),
                             ("articles[0].name", DEL, "delete"), ("articles[0].name", NEL, "next line"),
                             ("articles[0].name", "\r\n", "CRLF"), ("customer.city", "\t", "tab inside"),
                             ("customer.lastname", "\u0080", "C1 control")]:
        one(f"{path} with a {chname}", path, "ab" + ch + "cd")
    for path in ["articles[0].name", "customer.firstname", "customer.lastname", "customer.company",
                 "customer.street", "customer.city", "articles[0].prod_id", "customer.ext_id",
                 "customer.email", "next_url", "customer.postcode", "articles[0].sap_index"]:
        value = {"customer.email": "tomek" + RLO + "lp.tset@x.pl", "next_url": "http://onet.pl/" + RLO + "gpj.exe"}.get(path, "test " + RLO + "gnp.exe")
        one(f"{path} with a right-to-left override", path, value)
    one("articles[0].name with a left-to-right embedding", "articles[0].name", "a" + LRE + "b")
    one("articles[0].name with a bidi isolate", "articles[0].name", "a" + RLI + "b" + PDI)
    one("customer.firstname with a bidi isolate", "customer.firstname", RLI + "tester" + PDI)
    for path, value in [("trans_ext_id", "abc" + ZWSP), ("trans_ext_id", EMOJI), ("trans_ext_id", "zam\u00f3wienie-1"),
                        ("trans_ext_id", RLO + "abc"), ("trans_ext_id", "a" + NUL), ("trans_ext_id", "has space"),
                        ("trans_ext_id", "../../etc/passwd"), ("trans_ext_id", "1'; DROP TABLE orders; --"),
                        ("trans_ext_id", "a/b"), ("trans_ext_id", "x" * 65), ("trans_ext_id", ""), ("trans_ext_id", "   "),
                        ("trans_ext_id", "\uff41\uff42"), ("trans_ext_id", "a" + ZWJ + "b"),
                        ("payment.channel_id", "18912" + ZWSP), ("payment.channel_id", EMOJI), ("payment.channel_id", "\uff11\uff18\uff19\uff11\uff12"),
                        ("payment.channel_id", "18912 OR 1=1"), ("payment.channel_id", "424242"), ("payment.channel_id", "0"),
                        ("payment.currency", "PLN" + ZWSP), ("payment.currency", "pln"), ("payment.currency", "\U0001f4b6"),
                        ("payment.currency", "ZZZ"), ("payment.currency", "EUR"), ("payment.currency", "PL"), ("payment.currency", "PLNN"),
                        ("customer.phone", "48501" + ZWSP + "123123"), ("customer.phone", "\u0664\u0668\u0665\u0660\u0661\u0661\u0662\u0663\u0661\u0662\u0663"),
                        ("customer.phone", "48 501 123 123"), ("customer.phone", "12ab"), ("customer.phone", "4850112312312345"),
                        ("customer.country", FLAG_PL), ("customer.country", "\u00c4\u00d6"), ("customer.country", "P1"),
                        ("customer.country", "POL"), ("customer.country", "Poland"),
                        ("customer.email", "not-an-email"), ("customer.email", "a@b"), ("customer.email", "@test.pl"),
                        ("customer.email", "a@.pl"), ("customer.email", "a@test."),
                        ("client_ip", "300.1.1.1"), ("client_ip", "127.0.0.1:80"), ("client_ip", "localhost"),
                        ("client_ip", "1.2.3"), ("client_ip", "::g"), ("client_ip", "127.0.0.1" + ZWSP), ("client_ip", 127),
                        ("next_url", "javascript:alert(1)"), ("next_url", "ftp://x"), ("next_url", "data:text/html,<script>"),
                        ("next_url", "http://"), ("next_url", "//onet.pl"), ("next_url", "http://exa mple.com"),
                        ("next_url", "file:///etc/passwd"), ("next_url", 42)]:
        one(f"{path} = {json.dumps(value, ensure_ascii=True)}", path, value)
    # Missing required fields.
    for path in ["trans_ext_id", "payment", "payment.channel_id", "payment.currency", "articles",
                 "articles[0].prod_id", "articles[0].name", "articles[0].quantity", "articles[0].price",
                 "customer", "merchant_id"]:
        one(f"{path} missing", path, _MISSING)
    for path in ["payment", "customer", "trans_ext_id", "articles[0].price", "payment.channel_id"]:
        one(f"{path} null", path, None)
    one("articles[0].name blank", "articles[0].name", "   ")
    one("set_transaction without customer.phone", "customer.phone", _MISSING, base=seed_002, method="set_transaction")
    one("set_transaction with a bad customer.phone", "customer.phone", "123", base=seed_002, method="set_transaction")
    one("set_subscription (seed 000) missing articles", "articles", _MISSING, base=seed_000_subscription, method="set_subscription")
    one("set_subscription (seed 001) with price 2^63", "articles[0].price", "9223372036854775808", base=seed_001, method="set_subscription")
    one("set_transaction_sync (seed 003) with price 10.50", "articles[0].price", "10.50", base=seed_003)
    one("set_transaction_sync (seed 004) with an RLO in the name", "articles[0].name", RLO + "premium", base=seed_004)
    # Extra unknown fields are ignored (never named); the one real fault is the only field named.
    for i, (where, extra) in enumerate([
        ("top level", {"amount": 1}), ("top level", {"status": "paid"}), ("top level", {"__proto__": {"admin": True}}),
        ("top level", {"merchant": "34801"}), ("top level", {"trans_ext_ids": ["a", "b"]}),
        ("payment", {"amount_minor": 1}), ("articles[0]", {"discount": "100"}), ("customer", {"ssn": "123"}),
        ("top level", {f"f{k}": k for k in range(200)}), ("top level", {"x" * 1000: "y"}),
    ]):
        p = mutate(seed_000_one_time(f"bad-extra-{i}"), "payment.channel_id", "424242")
        target = p if where == "top level" else p[where.split("[")[0]] if "[" not in where else p["articles"][0]
        target.update(extra)
        name = f"unknown field in {where} #{i} is ignored"
        case(name, p, invalid(data_keys=["payment.channel_id"]))
    # Seed-specific: the channel, its kind and its currency decide; settings are the operator's.
    case("set_subscription on a one-time channel", seed_000_one_time("bad-kind-1"), invalid("payment.channel_id"), method="set_subscription")
    case("set_transaction_sync on a subscription channel", mutate(mutate(seed_000_subscription("bad-kind-2"), "merchant_id", "34801"), "secret", M34801[1]),
         invalid("payment.channel_id"))
    case("set_transaction_sync on the asynchronous webbilling channel", seed_002("bad-kind-3"), invalid("payment.channel_id"))
    case("set_transaction on a redirect channel", mutate(seed_000_one_time("bad-kind-4"), "customer.phone", "48501123123"),
         invalid("payment.channel_id"), method="set_transaction")
    case("set_transaction on a subscription channel", mutate(seed_002("bad-kind-5"), "payment.channel_id", "9041"),
         invalid("payment.channel_id"), method="set_transaction")
    case("set_subscription on a provider without an adapter", mutate(seed_000_subscription("bad-kind-6"), "payment.channel_id", "7999"),
         invalid("payment.channel_id", data_text="payu"), method="set_subscription")
    case("payment.config sets the channel's service_id", mutate(seed_000_one_time("bad-cfg-1"), "payment.config", {"service_id": "99999"}),
         invalid("payment.config.service_id"))
    case("payment.config sets MoCoPay's pid", mutate(seed_004("bad-cfg-2"), "payment.config", {"pid": "PP27638049"}),
         invalid("payment.config.pid"))
    case("payment.config sets Netopia's seller account", seed_003("bad-cfg-3", "7002", {"payments_no": "3", "interval_day": "30", "signature": "XXXX-XXXX-XXXX-XXXX-XXXX"}),
         invalid("payment.config.signature"), method="set_subscription")
    case("article config names another Teleaudio service", mutate(seed_001("bad-cfg-4"), "articles[0].config", [{"name": "teleaudio_service_id", "value": "99999"}]),
         invalid("articles[0].config.teleaudio_service_id"), method="set_subscription")
    case("article config names another Teleaudio service as an object", mutate(seed_001("bad-cfg-5"), "articles[0].config", {"teleaudio_service_id": 512}),
         invalid("articles[0].config.teleaudio_service_id"), method="set_subscription")
    for i, (cfg, named) in enumerate([
        ({"payments_no": "abc", "interval_day": "30"}, "payment.config.payments_no"),
        ({"payments_no": "-1", "interval_day": "30"}, "payment.config.payments_no"),
        ({"payments_no": "3", "interval_day": "0"}, "payment.config.interval_day"),
        ({"payments_no": "3", "interval_day": "9223372036854775808"}, "payment.config.interval_day"),
        ({"payments_no": "99999999999", "interval_day": "30"}, "payment.config.payments_no"),
        ({"payments_no": "3", "interval_day": "30" + NUL}, "payment.config.interval_day"),
    ]):
        case(f"Netopia recurrence {compact(cfg)}", seed_003(f"bad-rec-{i}", "7002", cfg), invalid(named), method="set_subscription")
    case("Netopia subscription without recurrence settings", seed_003("bad-rec-9", "7002", None), invalid(), method="set_subscription")
    case("several bad fields are all named", mutate(mutate(mutate(seed_000_one_time("bad-many-1"), "articles[0].price", "x"), "customer.email", "y"), "client_ip", "z"),
         invalid("articles[0].price", "customer.email", "client_ip"))
    return f


def merchant_other_methods():
    f = CorpusFile("merchant/other_methods.jsonl")

    def add(name, method, params, expect):
        f.add({"name": name, "json": call(method, params, name), "expect": dict(expect, id=name)})

    a1 = {"merchant_id": M1[0], "secret": M1[1]}
    a34801 = {"merchant_id": M34801[0], "secret": M34801[1]}
    a19 = {"merchant_id": M19[0], "secret": M19[1]}
    # get_transaction_status
    add("status without an id", "get_transaction_status", dict(a1), invalid("trans_ext_id"))
    for name, v in [("empty", ""), ("65 characters", "x" * 65), ("with a space", "a b"), ("object", {"id": 1}),
                    ("array", ["a"]), ("true", True), ("emoji", EMOJI), ("with a NUL", "a" + NUL), ("bidi", RLO + "a"),
                    ("zero-width", "{{order.mobiltek}}" + ZWSP), ("unknown", "no-such-order"), ("number", 12345),
                    ("SQL", "' OR 1=1 --"), ("wildcard", "%"), ("upper-cased real id", "{{order.mobiltek_upper}}")]:
        add(f"status with trans_ext_id {name}", "get_transaction_status", dict(a1, trans_ext_id=v), invalid("trans_ext_id"))
    add("status with order_ext_id unknown", "get_transaction_status", dict(a1, order_ext_id="no-such-order"), invalid("order_ext_id"))
    add("status with both ids, trans_ext_id unknown", "get_transaction_status", dict(a1, trans_ext_id="no-such", order_ext_id="{{order.mobiltek}}"), invalid("trans_ext_id"))
    # unsubscribe
    add("unsubscribe without an id", "unsubscribe", dict(a34801), invalid("order_ext_id"))
    add("unsubscribe unknown", "unsubscribe", dict(a34801, order_ext_id="no-such-order"), invalid("order_ext_id"))
    add("unsubscribe with a bad client_ip", "unsubscribe", dict(a34801, order_ext_id="{{order.mobiltek_sub}}", client_ip="999.0.0.1"), invalid("client_ip"))
    add("unsubscribe with client_ip as an object", "unsubscribe", dict(a34801, order_ext_id="{{order.mobiltek_sub}}", client_ip={}), invalid("client_ip"))
    add("unsubscribe a one-time order", "unsubscribe", dict(a1, order_ext_id="{{order.mobiltek}}"), invalid("order_ext_id", data_text="not a subscription"))
    add("unsubscribe with order_ext_id 65 characters", "unsubscribe", dict(a34801, order_ext_id="s" * 65), invalid("order_ext_id"))
    add("unsubscribe with order_ext_id emoji", "unsubscribe", dict(a34801, order_ext_id=EMOJI), invalid("order_ext_id"))
    add("unsubscribe with order_ext_id null", "unsubscribe", dict(a34801, order_ext_id=None), invalid("order_ext_id"))
    # confirm_teleaudio_payment: an unknown order is the seed's own BADTRANSACTION answer.
    bad_tx = {"result_has": {"/status": "-1", "/result": "400 - BADTRANSACTION"}}
    add("confirm without a code", "confirm_teleaudio_payment", dict(a19, trans_ext_id="t-1"), invalid("code"))
    add("confirm without an id", "confirm_teleaudio_payment", dict(a19, code="123456"), invalid("trans_ext_id"))
    add("confirm with a 33-character code", "confirm_teleaudio_payment", dict(a19, trans_ext_id="t-1", code="1" * 33), invalid("code"))
    add("confirm with a code object", "confirm_teleaudio_payment", dict(a19, trans_ext_id="t-1", code={"c": 1}), invalid("code"))
    add("confirm with a code with a NUL", "confirm_teleaudio_payment", dict(a19, trans_ext_id="t-1", code="12" + NUL), invalid("code"))
    add("confirm with an id of 65 characters", "confirm_teleaudio_payment", dict(a19, trans_ext_id="t" * 65, code="123456"), invalid("trans_ext_id"))
    add("confirm an unknown order", "confirm_teleaudio_payment", dict(a19, trans_ext_id="no-such-order", code="123456"), bad_tx)
    add("confirm an id with a bidi override", "confirm_teleaudio_payment", dict(a19, trans_ext_id=RLO + "t-1", code="123456"), invalid("trans_ext_id"))
    add("confirm a synchronous order", "confirm_teleaudio_payment", dict(a1, trans_ext_id="{{order.mobiltek}}", code="123456"), bad_tx)
    # modify_subscription_price / move_subscription_payment
    sub = dict(a34801, order_ext_id="{{order.mobiltek_sub}}")
    for name, v in [("0", "0"), ("-1", -1), ("a word", "abc"), ("10.5", "10.5"), ("a JSON fraction", 10.5),
                    ("2^63", 9223372036854775808), ("2^63 as text", "9223372036854775808"), ("an object", {}),
                    ("null", None), ("true", True)]:
        add(f"price change to {name}", "modify_subscription_price", dict(sub, price=v), invalid("price"))
    add("price change without a price", "modify_subscription_price", dict(sub), invalid("price"))
    add("price change without an id", "modify_subscription_price", dict(a34801, price="5"), invalid("order_ext_id"))
    add("price change of an unknown subscription", "modify_subscription_price", dict(a34801, order_ext_id="nope", price="5"), invalid("order_ext_id"))
    add("price change of a Mobiltek subscription", "modify_subscription_price", dict(sub, price="5"), invalid("order_ext_id", data_text="mobiltek"))
    add("price change of a one-time order", "modify_subscription_price", dict(a1, order_ext_id="{{order.mobiltek}}", price="5"), invalid("order_ext_id", data_text="not a subscription"))
    for name, v in [("a European date", "18.09.2011"), ("a time the clocks skip", "2026-03-29 03:30:00"),
                    ("30 February", "2026-02-30 10:00:00"), ("hour 24", "2026-01-01 24:00:00"),
                    ("41 characters", "2026-01-01 10:00:00" + " " * 21 + "x"), ("a number", 20260101),
                    ("a word", "tomorrow"), ("an object", {"date": "2026-01-01"}), ("with a NUL", "2026-01-01 10:00:00" + NUL),
                    ("year 99999", "99999-01-01 10:00:00"), ("RFC 3339 without an offset", "2026-01-01T10:00:00")]:
        add(f"move to {name}", "move_subscription_payment", dict(sub, date=v), invalid("date"))
    add("move without a date", "move_subscription_payment", dict(sub), invalid("date"))
    add("move a Mobiltek subscription", "move_subscription_payment", dict(sub, date="2030-01-01 10:00:00"), invalid("order_ext_id", data_text="mobiltek"))
    # get_channels_list reads only; unknown params are ignored.
    add("channels with unknown params", "get_channels_list", dict(a1, page=2, filter={"provider": "x"}, limit=-1), {"result": True})
    add("channels with a 10 KB unknown param", "get_channels_list", dict(a1, note="n" * 10240), {"result": True})
    return f


# ---------------------------------------------------------------------------------------------
# Provider callbacks
# ---------------------------------------------------------------------------------------------

MOBILTEK_FIELDS = ["notification_id", "transaction_id", "service_id", "msisdn", "operator_id", "type",
                   "amount", "charge_id", "reason", "timestamp"]


def mobiltek_payment(nid, tid="{{mobiltek.tid}}", **over):
    fields = {"notification_id": nid, "transaction_id": tid, "service_id": "30576", "msisdn": "48501123123",
              "operator_id": "26001", "type": "PAYMENT", "amount": "0.1", "charge_id": f"c-{nid}", "reason": "",
              "timestamp": "1700000000"}
    fields.update(over)
    return [[k, fields[k]] for k in MOBILTEK_FIELDS if fields.get(k) is not None]


def callbacks_mobiltek():
    f = CorpusFile("callbacks/mobiltek.jsonl")
    form_ct = "application/x-www-form-urlencoded"

    def add(name, expect, form=None, sign=None, effect=None, **extra):
        c = {"name": name, "provider": "mobiltek", "method": "POST", "path": "/mobiltek/notify", "content_type": form_ct}
        if form is not None:
            c["form"] = form
        if sign is not None:
            c["sign"] = sign
        c.update(extra)
        c["expect"] = expect
        if effect:
            c["effect"] = effect
        f.add(c)

    bad_hash = {"http": 401, "body_is": "ERROR bad hash"}
    # Not signed by Mobiltek: refused before any field is read, nothing stored.
    add("no hash", bad_hash, form=mobiltek_payment("mt-u-1"))
    add("empty hash", bad_hash, form=mobiltek_payment("mt-u-2") + [["hash", ""]])
    add("hash of zeros", bad_hash, form=mobiltek_payment("mt-u-3") + [["hash", "0" * 128]])
    add("hash upper-case hex", bad_hash, form=mobiltek_payment("mt-u-4"), sign={"upper": True})
    add("hash cut to 127 digits", bad_hash, form=mobiltek_payment("mt-u-5"), sign={"truncate": 127})
    add("hash with a digit appended", bad_hash, form=mobiltek_payment("mt-u-6"), sign={"append": "0"})
    add("hash with a space appended", bad_hash, form=mobiltek_payment("mt-u-6b"), sign={"append": " "})
    add("hash of SHA-256 length", bad_hash, form=mobiltek_payment("mt-u-7"), sign={"truncate": 64})
    add("hash with another secret", bad_hash, form=mobiltek_payment("mt-u-8"), sign={"secret": "not-the-secret"})
    add("amount raised after signing", bad_hash, form=mobiltek_payment("mt-u-9", amount="100"), sign={"over": {"amount": "0.1"}})
    add("type changed after signing", bad_hash, form=mobiltek_payment("mt-u-10"), sign={"over": {"type": "PAYMENT_FAILED"}})
    add("transaction changed after signing", bad_hash, form=mobiltek_payment("mt-u-11"), sign={"over": {"transaction_id": "9999999999999999"}})
    add("service changed after signing", bad_hash, form=mobiltek_payment("mt-u-12", service_id="1"), sign={"over": {"service_id": "30576"}})
    add("msisdn changed after signing", bad_hash, form=mobiltek_payment("mt-u-13", msisdn="48600000000"), sign={"over": {"msisdn": "48501123123"}})
    add("notification_id changed after signing", bad_hash, form=mobiltek_payment("mt-u-14"), sign={"over": {"notification_id": "other"}})
    add("amount given twice, the forged one last", bad_hash, form=mobiltek_payment("mt-u-15") + [["amount", "100"]], sign={"over": {"amount": "0.1"}})
    add("hash in the query string instead", bad_hash, form=mobiltek_payment("mt-u-16"), sign={"target": "query"})
    add("fields as JSON", bad_hash, body='{"notification_id":"mt-u-17","transaction_id":"{{mobiltek.tid}}","type":"PAYMENT","hash":"00"}', content_type="application/json")
    add("empty body", bad_hash, body="")
    add("GET with the fields in the query", bad_hash, method="GET", query=mobiltek_payment("mt-u-18"), sign={"target": "query"}, content_type=None)
    add("latin-1 bytes in the reason, signed as UTF-8", bad_hash, form=mobiltek_payment("mt-u-19", reason="caf\u00e9"), sign={}, latin1_fields=["reason"])
    add("percent-encoding garbage", bad_hash, body="notification_id=mt-u-20%ZZ&transaction_id=%&type=PAYMENT%G1&hash=%%%")
    add("multipart body", bad_hash, body="--x\r\nContent-Disposition: form-data; name=\"notification_id\"\r\n\r\nmt-u-21\r\n--x--\r\n",
        content_type="multipart/form-data; boundary=x")
    add("body over 256 KB", {"http": 413}, body="notification_id=mt-u-22&reason=@PAD@", expand={"@PAD@": ["r", 270000]})
    # Signed, but a field is malformed: 400 naming it, nothing stored.
    for nid, name, over, named in [
        ("", "notification_id empty", {}, "notification_id"),
        ("n" * 65, "notification_id 65 characters", {}, "notification_id"),
        ("mt-b-3", "transaction_id letters", {"transaction_id": "abc"}, "transaction_id"),
        ("mt-b-4", "transaction_id 21 digits", {"transaction_id": "1" * 21}, "transaction_id"),
        ("mt-b-5", "service_id empty", {"service_id": ""}, "service_id"),
        ("mt-b-6", "msisdn too short", {"msisdn": "12"}, "msisdn"),
        ("mt-b-7", "type unknown", {"type": "REFUND"}, "type"),
        ("mt-b-8", "type lower case", {"type": "payment"}, "type"),
        ("mt-b-9", "amount missing on a payment", {"amount": ""}, "amount"),
        ("mt-b-10", "amount with three decimals", {"amount": "0.001"}, "amount"),
        ("mt-b-11", "amount negative", {"amount": "-0.1"}, "amount"),
        ("mt-b-12", "amount zero", {"amount": "0"}, "amount"),
        ("mt-b-13", "amount with an exponent", {"amount": "1e2"}, "amount"),
        ("mt-b-14", "amount with a comma", {"amount": "0,1"}, "amount"),
        ("mt-b-15", "amount of 20 digits", {"amount": "99999999999999999999"}, "amount"),
        ("mt-b-16", "amount beyond i64 in grosz", {"amount": "92233720368547758.08"}, "amount"),
        ("mt-b-17", "charge_id missing on a payment", {"charge_id": ""}, "charge_id"),
        ("mt-b-18", "charge_id 129 characters", {"charge_id": "c" * 129}, "charge_id"),
        ("mt-b-19", "timestamp a word", {"timestamp": "yesterday"}, "timestamp"),
        ("mt-b-20", "timestamp negative", {"timestamp": "-1"}, "timestamp"),
        ("mt-b-21", "timestamp of 20 digits", {"timestamp": "99999999999999999999"}, "timestamp"),
        ("mt-b-22", "msisdn with letters", {"msisdn": "48abc123123"}, "msisdn"),
        ("mt-b-23", "notification_id with a NUL", {"notification_id": "mt-b-23" + NUL, "amount": "100"}, "notification_id"),
        ("mt-b-24", "reason with a NUL", {"reason": "no" + NUL + "funds", "type": "PAYMENT_FAILED", "transaction_id": "{{mobiltek.sub_tid}}"}, "reason"),
        ("mt-b-25", "charge_id with a NUL", {"charge_id": "c" + NUL, "amount": "100"}, "charge_id"),
        ("mt-b-26", "operator_id with a NUL", {"operator_id": "26001" + NUL, "amount": "100"}, "operator_id"),
        ("mt-b-27", "notification_id with an escape character", {"notification_id": "mt-b-27" + ESC + "[2J", "amount": "100"}, "notification_id"),
    ]:
        # 1.00 PLN, not the order's 0.10: a case that got past the checks by mistake would be a
        # discrepancy, never a payment.
        fields = mobiltek_payment(nid, **{"amount": "1.00", **over})
        add(f"signed, {name}", {"http": 400, "body_has": f"ERROR {named}"}, form=fields, sign={})
    # Signed, well formed, for no transaction of ours: 404, nothing stored.
    add("signed, unknown transaction", {"http": 404, "body_has": "transaction_id: unknown"}, form=mobiltek_payment("mt-n-1", tid="9999999999999999"), sign={})
    add("signed, unknown transaction, unregistration", {"http": 404, "body_has": "transaction_id: unknown"},
        form=mobiltek_payment("mt-n-2", tid="1000000000000001", type="UNREGISTRATION", amount="", charge_id=""), sign={})
    add("signed, unknown transaction, unknown extra field ignored", {"http": 404}, form=mobiltek_payment("mt-n-3", tid="1000000000000002") + [["admin", "1"]], sign={})
    add("signed, transaction id of zero", {"http": 404}, form=mobiltek_payment("mt-n-4", tid="0"), sign={})
    # Signed for a real pending transaction, but not fitting it: refused, kept as a discrepancy.
    disc = {"http": 400, "body_has": "ERROR"}
    add("signed, amount is not the order's", disc, form=mobiltek_payment("mt-d-1", amount="100"), sign={}, effect="discrepancy")
    add("signed, registration of a one-time order", disc, form=mobiltek_payment("mt-d-2", type="REGISTRATION", amount="", charge_id=""), sign={}, effect="discrepancy")
    add("signed, charge of a one-time order", disc, form=mobiltek_payment("mt-d-3", type="CHARGE"), sign={}, effect="discrepancy")
    add("signed, another service", {"http": 400, "body_has": "service_id"}, form=mobiltek_payment("mt-d-4", service_id="99999"), sign={}, effect="discrepancy")
    add("signed, payment of the right amount for a subscription", {"http": 400, "body_has": "ERROR type"},
        form=mobiltek_payment("mt-d-5", tid="{{mobiltek.sub_tid}}"), sign={}, effect="discrepancy")
    add("signed, failed payment for a subscription", disc,
        form=mobiltek_payment("mt-d-6", tid="{{mobiltek.sub_tid}}", type="PAYMENT_FAILED", reason="no funds"), sign={}, effect="discrepancy")
    add("signed, unknown extra field with a NUL", {"http": 400, "body_has": "NUL"},
        form=mobiltek_payment("mt-d-7", amount="1.00") + [["note", "a" + NUL]], sign={})
    add("signed, the same misfit again", {"http": 400, "body_has": "refused before"}, form=mobiltek_payment("mt-d-1", amount="100"), sign={})
    add("signed, resend of a misfit with another amount", {"http": 400, "body_has": "refused before"}, form=mobiltek_payment("mt-d-1", amount="200"), sign={})
    return f


def teleaudio_callback(event_id, **over):
    # A charge of 0.01 PLN: not the subscription's price (1.00 PLN), so a case that got past the
    # checks by mistake would be a discrepancy, never a charge.
    cb = {"event_id": event_id, "type": "CHARGE_SUCCESS", "reference": "{{teleaudio.ref}}", "provider_id": "tsub-1",
          "msisdn": "48519532621", "amount": 1, "currency": "PLN", "charge_id": f"ch-{event_id}", "reason": "",
          "timestamp": 1700000000}
    for k, v in over.items():
        if v is _MISSING:
            del cb[k]
        else:
            cb[k] = v
    return cb


def callbacks_teleaudio():
    f = CorpusFile("callbacks/teleaudio.jsonl")

    def add(name, expect, body=None, json_=None, sign=None, effect=None, **extra):
        c = {"name": name, "provider": "teleaudio", "method": "POST", "path": "/teleaudio/notify", "content_type": "application/json"}
        if json_ is not None:
            c["body"] = compact(json_)
        if body is not None:
            c["body"] = body
        if sign is not None:
            c["sign"] = sign
        c.update(extra)
        c["expect"] = expect
        if effect:
            c["effect"] = effect
        f.add(c)

    bad_sig = {"http": 401, "body_is": "ERROR bad signature"}
    add("no signature", bad_sig, json_=teleaudio_callback("ta-u-1"))
    add("empty signature", bad_sig, json_=teleaudio_callback("ta-u-2"), sign={"header": ""})
    add("signature of zeros", bad_sig, json_=teleaudio_callback("ta-u-3"), sign={"header": "0" * 64})
    add("signature upper-case hex", bad_sig, json_=teleaudio_callback("ta-u-4"), sign={"upper": True})
    add("signature with a sha256= prefix", bad_sig, json_=teleaudio_callback("ta-u-5"), sign={"prefix": "sha256="})
    add("signature with another secret", bad_sig, json_=teleaudio_callback("ta-u-6"), sign={"secret": "wrong-secret"})
    add("amount raised after signing", bad_sig, json_=teleaudio_callback("ta-u-7", amount=100000), sign={"over": compact(teleaudio_callback("ta-u-7"))})
    add("reference changed after signing", bad_sig, json_=teleaudio_callback("ta-u-8"), sign={"over": compact(teleaudio_callback("ta-u-8", reference="other"))})
    add("signed body plus a trailing newline", bad_sig, body=compact(teleaudio_callback("ta-u-9")) + "\n", sign={"over": compact(teleaudio_callback("ta-u-9"))})
    add("signature in the query string", bad_sig, json_=teleaudio_callback("ta-u-10"), sign={"target": "query"})
    add("not JSON, unsigned", bad_sig, body="event_id=ta-u-11&type=CHARGE_SUCCESS")
    add("empty body, unsigned", bad_sig, body="")
    add("body over 256 KB", {"http": 413}, body='{"event_id":"ta-u-12","reason":"@PAD@"}', expand={"@PAD@": ["r", 270000]})
    # Signed, malformed: 400, nothing stored.
    for eid, name, body, has in [
        ("ta-b-1", "not JSON", "event_id=1", "body:"),
        ("ta-b-2", "empty object", "{}", "body:"),
        ("ta-b-3", "an array", "[]", "body:"),
        ("ta-b-4", "empty body", "", "body:"),
        ("ta-b-5", "truncated JSON", compact(teleaudio_callback("ta-b-5"))[:40], "body:"),
        ("ta-b-6", "type unknown", compact(teleaudio_callback("ta-b-6", type="REFUND")), "type"),
        ("ta-b-7", "event_id empty", compact(teleaudio_callback("")), "event_id"),
        ("ta-b-8", "event_id 65 characters", compact(teleaudio_callback("e" * 65)), "event_id"),
        ("ta-b-9", "reference empty", compact(teleaudio_callback("ta-b-9", reference="")), "reference"),
        ("ta-b-10", "amount as text", compact(teleaudio_callback("ta-b-10", amount="100")), "body:"),
        ("ta-b-11", "amount a fraction", compact(teleaudio_callback("ta-b-11", amount=1.5)), "body:"),
        ("ta-b-12", "amount 2^63", compact(teleaudio_callback("ta-b-12", amount=9223372036854775808)), "body:"),
        ("ta-b-13", "amount negative on a charge", compact(teleaudio_callback("ta-b-13", amount=-5)), "amount"),
        ("ta-b-14", "currency unknown on a charge", compact(teleaudio_callback("ta-b-14", currency="XYZ")), "currency"),
        ("ta-b-15", "charge_id missing on a charge", compact(teleaudio_callback("ta-b-15", charge_id=_MISSING)), "charge_id"),
        ("ta-b-16", "timestamp a word", compact(teleaudio_callback("ta-b-16", timestamp="now")), "body:"),
        ("ta-b-17", "msisdn null", compact(teleaudio_callback("ta-b-17", msisdn=None)), "body:"),
        ("ta-b-18", "reference missing", compact(teleaudio_callback("ta-b-18", reference=_MISSING)), "body:"),
        ("ta-b-19", "duplicate amount key", compact(teleaudio_callback("ta-b-19"))[:-1] + ',"amount":1}', "body:"),
        ("ta-b-20", "byte order mark", BOM + compact(teleaudio_callback("ta-b-20")), "body:"),
        ("ta-b-21", "nested 200 deep", compact(teleaudio_callback("ta-b-21"))[:-1] + ',"x":' + "[" * 200 + "]" * 200 + "}", "body:"),
        ("ta-b-22", "lone surrogate escape", compact(teleaudio_callback("ta-b-22"))[:-1] + ',"note":"\\ud800"}', "body:"),
        ("ta-b-30", "unknown field with a NUL", compact(dict(teleaudio_callback("ta-b-30"), note="a" + NUL)), "body:"),
        ("ta-b-23", "event_id with a NUL", compact(teleaudio_callback("ta-b-23" + NUL)), "event_id"),
        ("ta-b-24", "reason with a NUL", compact(teleaudio_callback("ta-b-24", type="PAYMENT_FAILED", reason="no" + NUL)), "reason"),
        ("ta-b-25", "charge_id with a NUL", compact(teleaudio_callback("ta-b-25", charge_id="c" + NUL)), "charge_id"),
        ("ta-b-26", "msisdn with a NUL", compact(teleaudio_callback("ta-b-26", msisdn="4851" + NUL)), "msisdn"),
        ("ta-b-27", "reference with a NUL", compact(teleaudio_callback("ta-b-27", reference="{{teleaudio.ref}}" + NUL)), "reference"),
        ("ta-b-28", "provider_id with an escape character", compact(teleaudio_callback("ta-b-28", provider_id="t" + ESC + "[2J")), "provider_id"),
    ]:
        add(f"signed, {name}", {"http": 400, "body_has": has}, body=body, sign={})
    f.add({"name": "signed, latin-1 bytes in the reason", "provider": "teleaudio", "method": "POST", "path": "/teleaudio/notify",
           "content_type": "application/json", "body": json.dumps(teleaudio_callback("ta-b-29", reason="caf\u00e9"), ensure_ascii=False, separators=(",", ":")),
           "latin1": True, "sign": {}, "expect": {"http": 400, "body_has": "body:"}})
    # Signed, well formed, for no order of ours.
    add("signed, unknown reference", {"http": 404, "body_has": "reference: unknown"}, json_=teleaudio_callback("ta-n-1", reference="no-such-ref"), sign={})
    add("signed, unknown reference with a bidi override", {"http": 404}, json_=teleaudio_callback("ta-n-2", reference=RLO + "ref"), sign={})
    # Signed for the real pending subscription, not fitting it: discrepancies.
    disc = {"http": 400, "body_has": "ERROR"}
    add("signed, one-time payment of the right amount on a subscription", {"http": 400, "body_has": "PAYMENT_SUCCESS"},
        json_=teleaudio_callback("ta-d-1", type="PAYMENT_SUCCESS", amount=100), sign={}, effect="discrepancy")
    add("signed, charge in another currency", disc, json_=teleaudio_callback("ta-d-2", currency="EUR", amount=100), sign={}, effect="discrepancy")
    add("signed, charge of another price", disc, json_=teleaudio_callback("ta-d-3"), sign={}, effect="discrepancy")
    add("signed, failed payment on a subscription", disc, json_=teleaudio_callback("ta-d-4", type="PAYMENT_FAILED", reason="no funds"), sign={}, effect="discrepancy")
    add("signed, the same misfit again", {"http": 400, "body_has": "refused before"}, json_=teleaudio_callback("ta-d-1", type="PAYMENT_SUCCESS", amount=100), sign={})
    return f


NETOPIA_ORDER_HEAD = ('<?xml version="1.0" encoding="utf-8"?><order type="card" id="{id}" timestamp="20260314103000">'
                      '<signature>SAND-BOX0-SELL-ER00-0001</signature><invoice currency="{cur}" amount="{amount}"></invoice>'
                      '<url><confirm>http://127.0.0.1/netopia/ipn</confirm><return>http://shop.example/back</return></url>')


def netopia_ipn(ref="{{netopia.ref}}", cur="RON", amount="12.34", action="confirmed", crc="c0ffee", purchase="p-1",
                processed="0.01", error_code="0", extra="", head=None):
    """An approved IPN; by default of 0.01 RON for the 12.34 RON fixture order, so that one a
    case meant to be refused got through by mistake would be a discrepancy, never a payment."""
    mp = f'<mobilpay timestamp="20260314103512" crc="{crc}"><action>{action}</action><purchase>{purchase}</purchase>'
    if processed is not None:
        mp += f"<processed_amount>{processed}</processed_amount>"
    mp += f'{extra}<error code="{error_code}">msg</error></mobilpay>'
    return (head or NETOPIA_ORDER_HEAD.format(id=ref, cur=cur, amount=amount)) + mp + "</order>"


def callbacks_netopia():
    f = CorpusFile("callbacks/netopia.jsonl")
    ct = "application/x-www-form-urlencoded"
    unauth = {"http": 200, "body_has": ['error_type="2"', 'error_code="1"'], "content_type": "application/xml"}
    malformed = {"http": 200, "body_has": ['error_type="2"', 'error_code="2"'], "content_type": "application/xml"}
    permanent = {"http": 200, "body_has": ['error_type="2"'], "content_type": "application/xml"}

    def add(name, expect, effect=None, **c):
        case = {"name": name, "provider": "netopia", "method": "POST", "path": "/netopia/ipn", "content_type": ct}
        case.update(c)
        case["expect"] = expect
        if effect:
            case["effect"] = effect
        f.add(case)

    # Spoilt envelopes carry an IPN for no order of ours: even one that opened (RC4 has no
    # integrity) could change nothing.
    good = netopia_ipn(ref="no-such-order-envelope")
    add("empty body", unauth, body="")
    add("env_key missing", unauth, form=[["data", "AAAA"], ["cipher", "rc4"]])
    add("data missing", unauth, form=[["env_key", "AAAA"], ["cipher", "rc4"]])
    add("env_key empty", unauth, form=[["env_key", ""], ["data", "AAAA"]])
    add("env_key not base64", unauth, form=[["env_key", "!!!"], ["data", "AAAA"]])
    add("data not base64", unauth, form=[["env_key", "AAAA"], ["data", "%%%"]])
    add("env_key of 16 bytes", unauth, form=[["env_key", "AAAAAAAAAAAAAAAAAAAAAA=="], ["data", "AAAA"]])
    add("env_key of 256 zero bytes", unauth, form=[["env_key", "A" * 344], ["data", "AAAAAAAAAAAAAAAAAAAAAA=="]])
    add("env_key of 256 zero bytes, aes", unauth, form=[["env_key", "A" * 344], ["data", "AAAAAAAAAAAAAAAAAAAAAA=="], ["cipher", "aes-256-cbc"], ["iv", "AAAAAAAAAAAAAAAAAAAAAA=="]])
    add("cipher des", unauth, form=[["env_key", "AAAA"], ["data", "AAAA"], ["cipher", "des"]])
    add("cipher aes-128-cbc", unauth, form=[["env_key", "AAAA"], ["data", "AAAA"], ["cipher", "aes-128-cbc"], ["iv", "AAAAAAAAAAAAAAAAAAAAAA=="]])
    add("aes without iv", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "drop": ["iv"]})
    add("aes with an 8-byte iv", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "set": {"iv": "AAAAAAAAAAA="}})
    add("aes with an iv that is not base64", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "set": {"iv": "??"}})
    add("sealed for a stranger's certificate", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "cert": "stranger"})
    add("sealed for mobilPay's certificate instead of ours", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "cert": "netopia"})
    add("rc4 sealed for a stranger's certificate", unauth, seal={"xml": good, "cipher": "rc4", "cert": "stranger"})
    add("aes data cut in half", permanent, seal={"xml": good, "cipher": "aes-256-cbc", "truncate": {"data": 0.5}})
    add("aes data cut by one block", permanent, seal={"xml": good, "cipher": "aes-256-cbc", "cut_bytes": {"data": 16}})
    add("aes data cut by one byte", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "cut_bytes": {"data": 1}})
    add("env_key cut in half", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "truncate": {"env_key": 0.5}})
    add("env_key cut by one byte", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "cut_bytes": {"env_key": 1}})
    add("env_key with a flipped byte", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "flip": {"env_key": 100}})
    add("aes data with its last byte flipped", permanent, seal={"xml": good, "cipher": "aes-256-cbc", "flip": {"data": -1}})
    add("aes data with its first byte flipped", permanent, seal={"xml": good, "cipher": "aes-256-cbc", "flip": {"data": 0}})
    add("rc4 data cut in half", permanent, seal={"xml": good, "cipher": "rc4", "truncate": {"data": 0.5}})
    add("rc4 data with a flipped byte", permanent, seal={"xml": good, "cipher": "rc4", "flip": {"data": 10}})
    add("env_key of one envelope, data of another", permanent, seal={"xml": good, "cipher": "aes-256-cbc", "swap_env_key": True})
    add("rc4 envelope read as aes", unauth, seal={"xml": good, "cipher": "rc4", "set": {"cipher": "aes-256-cbc", "iv": "AAAAAAAAAAAAAAAAAAAAAA=="}})
    add("aes envelope read as rc4", unauth, seal={"xml": good, "cipher": "aes-256-cbc", "set": {"cipher": "rc4"}})
    add("percent-encoding garbage", unauth, body="env_key=%ZZ%&data=%G0")
    f.add({"name": "latin-1 bytes in env_key", "provider": "netopia", "method": "POST", "path": "/netopia/ipn", "content_type": ct,
           "body_b64": "ZW52X2tleT3p6enpJmRhdGE9QUFBQQ==", "expect": unauth})
    add("fields as JSON", unauth, body='{"env_key":"AAAA","data":"AAAA"}', content_type="application/json")
    add("GET with the envelope in the query", unauth, method="GET", seal={"xml": good, "cipher": "aes-256-cbc", "target": "query"}, content_type=None)
    add("body over 256 KB", {"http": 413}, body="env_key=@PAD@", expand={"@PAD@": ["A", 270000]})
    # Opened with our key, but not an IPN we can read: refused for good, nothing stored.
    for name, xml in [
        ("not XML", "this is not xml"),
        ("empty plaintext", ""),
        ("an HTML page", "<html><body>hi</body></html>"),
        ("a DOCTYPE (XXE)", '<?xml version="1.0"?><!DOCTYPE order [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + good.split("?>", 1)[1].replace("c0ffee", "&x;")),
        ("billion laughs", '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' + good.split("?>", 1)[1]),
        ("no mobilpay element", NETOPIA_ORDER_HEAD.format(id="{{netopia.ref}}", cur="RON", amount="12.34") + "</order>"),
        ("unknown action", netopia_ipn(action="approved")),
        ("error code a word", netopia_ipn(error_code="x")),
        ("error code negative", netopia_ipn(error_code="-1")),
        ("error code 2^32", netopia_ipn(error_code="4294967296")),
        ("processed amount with three decimals", netopia_ipn(processed="12.345")),
        ("processed amount negative", netopia_ipn(processed="-1.00")),
        ("processed amount with an exponent", netopia_ipn(processed="1e3")),
        ("processed amount of 30 digits", netopia_ipn(processed="9" * 30)),
        ("invoice amount a word", netopia_ipn(amount="lots")),
        ("invoice currency unknown", netopia_ipn(cur="XYZ")),
        ("crc empty", netopia_ipn(crc="")),
        ("current_payment_count negative", netopia_ipn(extra="<current_payment_count>-1</current_payment_count>")),
        ("current_payment_count 2^32", netopia_ipn(extra="<current_payment_count>4294967296</current_payment_count>")),
        ("order id missing", netopia_ipn(head='<?xml version="1.0" encoding="utf-8"?><order type="card" timestamp="20260314103000"><signature>SAND-BOX0-SELL-ER00-0001</signature><invoice currency="RON" amount="12.34"></invoice>')),
        ("unclosed order", netopia_ipn()[: -len("</order>")]),
        ("truncated XML", netopia_ipn()[:120]),
        ("a NUL character reference", netopia_ipn(purchase="p&#0;1", processed="0.01")),
        ("an escape character reference", netopia_ipn(purchase="p&#27;[2J", processed="0.01")),
    ]:
        add(f"opened, {name}", malformed, seal={"xml": xml, "cipher": "aes-256-cbc"})
    add("opened, an escape character in the crc attribute", malformed, seal={"xml": netopia_ipn(crc="c&#27;c"), "cipher": "aes-256-cbc"})
    add("opened, a control character in CDATA", malformed, seal={"xml": netopia_ipn(purchase="<![CDATA[p" + BEL + "]]>"), "cipher": "aes-256-cbc"})
    add("opened, raw NUL byte in purchase", malformed, seal={"xml": netopia_ipn(purchase="p" + NUL + "1", processed="0.01"), "cipher": "aes-256-cbc"})
    add("opened, latin-1 XML declared UTF-8", malformed, seal={"xml": netopia_ipn(purchase="p-\u00e9", processed="0.01"), "cipher": "aes-256-cbc", "latin1": True})
    add("opened, UTF-16 XML", malformed, seal={"xml": netopia_ipn().replace("utf-8", "utf-16"), "cipher": "aes-256-cbc", "utf16": True})
    # Opened and well formed, for no order of ours: permanent failure, nothing stored.
    add("opened, unknown order", {"http": 200, "body_has": ['error_type="2"', 'error_code="4"']}, seal={"xml": netopia_ipn(ref="no-such-order"), "cipher": "aes-256-cbc"})
    add("opened, unknown order, rc4", {"http": 200, "body_has": ['error_type="2"', 'error_code="4"']}, seal={"xml": netopia_ipn(ref="no-such-order-2"), "cipher": "rc4"})
    # Opened, for the real pending order, but not fitting it: discrepancies.
    add("opened, amount is not the order's", {"http": 200, "body_has": ['error_type="2"', 'error_code="5"']},
        seal={"xml": netopia_ipn(purchase="p-d-1", processed="0.01"), "cipher": "aes-256-cbc"}, effect="discrepancy")
    add("opened, currency is not the order's", {"http": 200, "body_has": ['error_type="2"', 'error_code="5"']},
        seal={"xml": netopia_ipn(purchase="p-d-2", cur="EUR", amount="12.34", processed="12.34"), "cipher": "aes-256-cbc"}, effect="discrepancy")
    add("opened, a charge of a one-time order", {"http": 200, "body_has": ['error_type="2"', 'error_code="5"']},
        seal={"xml": netopia_ipn(purchase="p-d-3", extra='<current_payment_count>2</current_payment_count>').replace(
            "</invoice>", '</invoice><recurrence payments_no="3" interval_day="30"/>'), "cipher": "aes-256-cbc"}, effect="discrepancy")
    add("opened, another seller account", {"http": 200, "body_has": ['error_type="2"', 'error_code="5"', "signature"]},
        seal={"xml": netopia_ipn(purchase="p-d-4", processed="12.34").replace("SAND-BOX0-SELL-ER00-0001", "ABCD-1234-EFGH-5678-IJKL"), "cipher": "aes-256-cbc"},
        effect="discrepancy")
    # Opened, an authorisation or a pending step: acknowledged with its crc, no effect.
    for action in ["paid", "paid_pending", "confirmed_pending", "new"]:
        add(f"opened, action {action} changes nothing", {"http": 200, "body_has": ["<crc>crc-" + action.replace("_", "-") + "</crc>"]},
            seal={"xml": netopia_ipn(action=action, crc="crc-" + action.replace("_", "-")), "cipher": "aes-256-cbc"})
    return f


def mocopay_session(**over):
    p = {"sessionId": "5e55105e55105e55105e55105e551050", "requestId": "", "referenceId": "{{mocopay.ref}}",
         "sessionType": "onetime", "status": "PaymentComplete", "pid": "CHMIBSUB", "currencyCode": "EUR",
         "chargedAmount": "199", "time": "2026-01-01 10:00:00"}
    for k, v in over.items():
        p[k] = v
    return [[k, v] for k, v in p.items() if v is not _MISSING and v != ""]


def mocopay_transaction(**over):
    p = {"transactionId": "7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a", "sessionId": "5e55105e55105e55105e55105e551050",
         "referenceId": "{{mocopay.ref}}", "sessionType": "onetime", "status": "success", "amount": "199",
         "currencyCode": "EUR", "pid": "CHMIBSUB", "time": "2026-01-01 10:00:00"}
    for k, v in over.items():
        p[k] = v
    return [[k, v] for k, v in p.items() if v is not _MISSING and v != ""]


def callbacks_mocopay():
    f = CorpusFile("callbacks/mocopay.jsonl")

    def add(name, expect, query=None, raw_query=None, path="/mocopay/notify", method="GET", effect=None, **c):
        case = {"name": name, "provider": "mocopay", "method": method, "path": path, "content_type": None}
        if query is not None:
            case["query"] = query
        if raw_query is not None:
            case["raw_query"] = raw_query
        case.update(c)
        case["expect"] = expect
        if effect:
            case["effect"] = effect
        f.add(case)

    def bad(param):
        return {"http": 400, "body_has": f"ERROR {param}:"}

    # Malformed hints: refused naming the parameter, MoCoPay never asked, nothing stored.
    add("no parameters", bad("sessionId"), raw_query="")
    add("session, sessionId missing", bad("sessionId"), query=mocopay_session(sessionId=_MISSING))
    add("session, sessionType missing", bad("sessionType"), query=mocopay_session(sessionType=_MISSING))
    add("session, sessionType weekly", bad("sessionType"), query=mocopay_session(sessionType="weekly"))
    add("session, status missing", bad("status"), query=mocopay_session(status=_MISSING))
    add("session, status with a space", bad("status"), query=mocopay_session(status="Payment Complete"))
    add("session, pid missing", bad("pid"), query=mocopay_session(pid=_MISSING))
    add("session, sessionId twice", bad("sessionId"), query=mocopay_session() + [["sessionId", "other"]])
    add("session, sessionId with a space", bad("sessionId"), query=mocopay_session(sessionId="a b"))
    add("session, sessionId 129 characters", bad("sessionId"), query=mocopay_session(sessionId="s" * 129))
    add("session, sessionId with a NUL", bad("sessionId"), query=mocopay_session(sessionId="s" + NUL))
    add("session, sessionId emoji", bad("sessionId"), query=mocopay_session(sessionId=EMOJI))
    add("session, mcc two digits", bad("mcc"), query=mocopay_session(mcc="22"))
    add("session, mnc one digit", bad("mnc"), query=mocopay_session(mnc="1"))
    add("session, lang upper case", bad("lang"), query=mocopay_session(lang="HR"))
    add("session, phone letters", bad("phone"), query=mocopay_session(phone="abc"))
    add("session, amount without currencyCode", bad("currencyCode"), query=mocopay_session(currencyCode=_MISSING))
    add("session, currencyCode lower case", bad("currencyCode"), query=mocopay_session(currencyCode="eur"))
    add("session, chargedAmount a fraction", bad("chargedAmount"), query=mocopay_session(chargedAmount="1.5"))
    add("session, chargedAmount negative", bad("chargedAmount"), query=mocopay_session(chargedAmount="-1"))
    add("session, chargedAmount of 20 digits", bad("chargedAmount"), query=mocopay_session(chargedAmount="99999999999999999999"))
    add("session, series a word", bad("series"), query=mocopay_session(series="many"))
    add("session, time a word", bad("time"), query=mocopay_session(time="yesterday"))
    add("session, referenceId with a NUL", bad("referenceId"), query=mocopay_session(referenceId="{{mocopay.ref}}" + NUL))
    add("session, referenceId with an escape character", bad("referenceId"), query=mocopay_session(referenceId="r" + ESC + "[2J"))
    add("session, userId 129 bytes", bad("userId"), query=mocopay_session(userId="u" * 129))
    add("transaction, amount missing", bad("amount"), query=mocopay_transaction(amount=_MISSING))
    add("transaction, amount a fraction", bad("amount"), query=mocopay_transaction(amount="1.99"))
    add("transaction, amount 2^63", bad("amount"), query=mocopay_transaction(amount="9223372036854775808"))
    add("transaction, status ok", bad("status"), query=mocopay_transaction(status="ok"))
    add("transaction, currencyCode missing", bad("currencyCode"), query=mocopay_transaction(currencyCode=_MISSING))
    add("transaction, sessionId missing", bad("sessionId"), query=mocopay_transaction(sessionId=_MISSING))
    add("transaction, reason 513 bytes", bad("reason"), query=mocopay_transaction(status="failed", reason="r" * 513))
    add("transaction, transactionId with a space", bad("transactionId"), query=mocopay_transaction(transactionId="t x"))
    add("transaction, transactionId twice", bad("transactionId"), query=mocopay_transaction() + [["transactionId", "t2"]])
    add("percent-encoding garbage in a value", bad("sessionType"), raw_query="sessionId=abc&sessionType=%ZZ&status=x&pid=p")
    add("latin-1 byte in sessionId", bad("sessionId"), raw_query="sessionId=s%E9&sessionType=onetime&status=PaymentComplete&pid=CHMIBSUB")
    # Well formed but forged: verifyPayment does not know them, so nothing is believed.
    forged = {"http": 401, "body_has": "ERROR verifyPayment"}
    add("forged session notification for a real order", forged, query=mocopay_session())
    add("forged session notification, subscription authorized", forged, query=mocopay_session(sessionType="subscription", status="Authorized", pid="PP27638049"))
    add("forged session notification, unknown status", forged, query=mocopay_session(status="Refunded"))
    add("forged transaction notification for a real order", forged, query=mocopay_transaction())
    add("forged failed transaction notification", forged, query=mocopay_transaction(status="failed", reason="no funds"))
    add("forged transaction notification on the test route", forged, query=mocopay_transaction(), path="/mocopay/test/notify")
    add("forged notification posted instead of GET", forged, query=mocopay_transaction(), method="POST")
    add("forged notification with a huge amount", forged, query=mocopay_transaction(amount="9223372036854775807"))
    add("forged notification, latin-1 referenceId", forged, raw_query="sessionId=abcdef&sessionType=onetime&status=PaymentComplete&pid=CHMIBSUB&referenceId=caf%E9")
    # The user's return: carried by the browser, believed for nothing.
    add("return without parameters", {"http": 400, "body_has": "not a MoCoPay return"}, raw_query="", path="/mocopay/return")
    add("return with sid and sessionId disagreeing", {"http": 400}, query=[["sid", "a"], ["sessionId", "b"]], path="/mocopay/return")
    add("return with sessionId twice", {"http": 400}, query=[["sessionId", "a"], ["sessionId", "b"]], path="/mocopay/return")
    add("forged return saying PaymentComplete", {"http": 302, "location": "https://merchant.example/back"},
        query=[["sessionId", "forged"], ["referenceId", "{{mocopay.ref}}"], ["status", "PaymentComplete"]], path="/mocopay/return")
    add("return for an unknown order", {"http": 200, "body_has": "Thank you"},
        query=[["sessionId", "forged"], ["referenceId", "no-such-ref"], ["status", "PaymentComplete"]], path="/mocopay/return")
    return f


def main():
    files = [merchant_envelope(), merchant_batch(), merchant_auth(), merchant_order_params(), merchant_other_methods(),
             callbacks_mobiltek(), callbacks_teleaudio(), callbacks_netopia(), callbacks_mocopay()]
    total = 0
    for f in files:
        n = f.write()
        total += n
        print(f"{f.rel}: {n}")
    print(f"total: {total}")


if __name__ == "__main__":
    main()
