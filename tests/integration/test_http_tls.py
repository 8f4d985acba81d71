"""http mode over TLS: certificates chosen by SNI (first one by default),
TLS 1.2 and 1.3, ALPN http/1.1, X-Forwarded-Proto: https, keep-alive and bulk
bodies through TLS, the config file's `tls` key. Certificates are made with
the openssl command line."""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess

import pytest

from conftest import HttpClient, build_request, free_addr, split_addr

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI missing")


def make_cert(d, name):
    cert, key = d / ("%s.pem" % name), d / ("%s.key" % name)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=%s" % name,
                    "-addext", "subjectAltName=DNS:%s" % name],
                   check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    out = {n: make_cert(d, n) for n in ("one.test", "two.test")}
    combined = d / "combined.pem"
    combined.write_text(out["two.test"][0].read_text() + out["two.test"][1].read_text())
    out["combined"] = (combined, None)
    return out


def der(cert_path):
    return ssl.PEM_cert_to_DER_cert(cert_path.read_text())


def tls_connect(addr, sni=None, version=None, alpn=None, timeout=10):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(split_addr(addr), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=sni)


def tls_lb(http_lb, backend, certs, names=("one.test", "two.test"), extra=()):
    args = []
    for n in names:
        cert, key = certs[n]
        args += ["--tls", str(cert) if key is None else "%s,%s" % (cert, key)]
    return http_lb([backend], extra=args + list(extra))


@pytest.mark.parametrize("sni,expect", [
    ("one.test", "one.test"),
    ("two.test", "two.test"),
    ("TWO.test", "two.test"),        # names compare case-insensitively
    (None, "one.test"),              # no SNI: the first certificate
    ("unknown.test", "one.test"),    # unknown name: the first certificate
])
def test_sni_picks_the_certificate(http_backend, http_lb, certs, sni, expect):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs)
    s = tls_connect(lb.addr, sni=sni)
    try:
        assert s.getpeercert(binary_form=True) == der(certs[expect][0])
        with HttpClient(None, sock=s) as c:
            r = c.request()
            assert (r.status, r.body) == (200, b"rec\n")
    finally:
        s.close()


@pytest.mark.parametrize("version,name", [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
                                          (ssl.TLSVersion.TLSv1_3, "TLSv1.3")])
def test_tls_versions_and_forwarded_proto(http_backend, http_lb, certs, version, name):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs)
    s = tls_connect(lb.addr, sni="one.test", version=version)
    assert s.version() == name
    with HttpClient(None, sock=s) as c:
        r = c.request(fields=[("X-Forwarded-Proto", "http")])
        assert (r.status, r.body) == (200, b"rec\n")
    q = be.requests[0]
    assert q.lines("X-Forwarded-Proto") == ["https"]
    assert q.lines("X-Forwarded-For") == ["127.0.0.1"]
    assert q.lines("Via") == ["1.1 strata"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls_1_1_is_refused(http_backend, http_lb, certs):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this python cannot offer TLS 1.1")
    raw = socket.create_connection(split_addr(lb.addr), timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        ctx.wrap_socket(raw, server_hostname="one.test").close()
    raw.close()
    assert be.accepted == 0


def test_alpn_negotiates_http11(http_backend, http_lb, certs):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs)
    s = tls_connect(lb.addr, sni="two.test", alpn=["h2", "http/1.1"])
    assert s.selected_alpn_protocol() == "http/1.1"
    with HttpClient(None, sock=s) as c:
        assert c.request().status == 200
    s = tls_connect(lb.addr, sni="two.test", alpn=["http/1.1"])
    assert s.selected_alpn_protocol() == "http/1.1"
    s.close()


def test_keepalive_and_pipelining_over_tls(http_backend, http_lb, certs):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs)
    with HttpClient(None, sock=tls_connect(lb.addr, sni="one.test")) as c:
        for i in range(5):
            assert c.request(target="/k%d" % i).body == b"rec\n"
        c.send(b"".join(build_request("GET", "/p%d" % i) for i in range(20)))
        assert [c.response().body for _ in range(20)] == [b"rec\n"] * 20
    assert [q.target for q in be.requests] == (["/k%d" % i for i in range(5)] +
                                               ["/p%d" % i for i in range(20)])


def test_bulk_bodies_over_tls(py_server, http_lb, certs):
    data = os.urandom(8 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest().encode()

    def handler(conn):
        from conftest import SockReader
        rd = SockReader(conn)
        while True:
            head = rd.read_until(b"\r\n\r\n")
            if head is None:
                return
            if head.startswith(b"PUT"):
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = rd.read_exact(n)
                reply = hashlib.sha256(body).hexdigest().encode()
            else:
                reply = data
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply) + reply)

    srv = py_server(handler)
    srv.name = "bulk"
    lb = tls_lb(http_lb, srv, certs)
    with HttpClient(None, sock=tls_connect(lb.addr, sni="one.test", timeout=60)) as c:
        r = c.request("GET", "/big")
        assert len(r.body) == len(data) and hashlib.sha256(r.body).hexdigest().encode() == digest
        r = c.request("PUT", "/up", body=data)
        assert r.body == digest


def test_combined_pem_without_a_key_file(http_backend, http_lb, certs):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs, names=("combined",))
    s = tls_connect(lb.addr, sni="two.test")
    assert s.getpeercert(binary_form=True) == der(certs["two.test"][0])
    with HttpClient(None, sock=s) as c:
        assert c.request().status == 200


def test_tls_in_a_config_file(http_backend, start_lb, tmp_conf, certs):
    be = http_backend("rec")
    listen, admin = free_addr(), free_addr()
    (c1, k1), (c2, k2) = certs["one.test"], certs["two.test"]
    path = tmp_conf("[global]\nthreads = 1\nadmin = %s\naccess-log = off\n"
                    "[pool web]\nserver = %s,name=rec\nhealth-check = none\n"
                    "[listen front]\nbind = %s\npool = web\ntls = %s %s\ntls = %s,%s\n"
                    % (admin, be.addr, listen, c1, k1, c2, k2))
    start_lb(["-c", path], listen=listen, admin=admin)
    for sni in ("one.test", "two.test"):
        s = tls_connect(listen, sni=sni)
        assert s.getpeercert(binary_form=True) == der(certs[sni][0])
        with HttpClient(None, sock=s) as c:
            assert c.request().body == b"rec\n"
    assert [q.get("X-Forwarded-Proto") for q in be.requests] == ["https", "https"]


def test_plain_http_on_a_tls_listener_is_not_served(http_backend, http_lb, certs):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs)
    with HttpClient(lb.addr, timeout=10) as c:
        c.send(build_request())
        try:
            data = c.rest()
        except (ConnectionResetError, OSError):
            data = b""
        assert b"HTTP/1.1 200" not in data
    assert be.accepted == 0
    # the lb still serves TLS clients
    with HttpClient(None, sock=tls_connect(lb.addr, sni="one.test")) as c:
        assert c.request().status == 200


def test_client_abandoning_the_handshake(http_backend, http_lb, certs):
    be = http_backend("rec")
    lb = tls_lb(http_lb, be, certs, extra=["--header-timeout", "1s"])
    for _ in range(5):
        s = socket.create_connection(split_addr(lb.addr), timeout=10)
        s.sendall(b"\x16\x03\x01\x00\xff\x01")  # a truncated ClientHello
        s.close()
    # a silent one is closed by the header timeout
    s = socket.create_connection(split_addr(lb.addr), timeout=10)
    try:
        assert s.recv(100) in (b"",)
    except ConnectionResetError:
        pass
    s.close()
    with HttpClient(None, sock=tls_connect(lb.addr, sni="one.test")) as c:
        assert c.request().status == 200
