"""Running out of file descriptors: the lb pauses accepting (no busy loop),
clients wait in the backlog and are served once descriptors are free again,
and a local shortage is not blamed on the servers.

The descriptor limit is lowered on the running lb with prlimit(2) to exactly
what it uses now + 2 per connection to hold (client + server socket) +
`spare`, so which system call runs out first is deterministic."""

import os
import resource
import socket
import time

import pytest

from conftest import HttpConn, http_get_via, server_stats, split_addr, wait_until

HELD = 10


def fd_list(pid):
    return sorted(int(x) for x in os.listdir("/proc/%d/fd" % pid))


def squeeze_fds(proc, held, spare):
    # wait for the table to settle (the readiness probe's admin connection)
    last = [None]

    def stable():
        now = fd_list(proc.pid)
        same = now == last[0]
        last[0] = now
        return same
    wait_until(stable, 5, "a stable descriptor table", interval=0.2)
    fds = last[0]
    if fds != list(range(len(fds))):
        pytest.skip("descriptor table has holes: %r" % fds)
    lim = len(fds) + 2 * held + spare
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (lim, lim))
    return lim


def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime (fields 14, 15)


def send_request(addr):
    s = socket.create_connection(split_addr(addr), timeout=10)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return s


def test_out_of_descriptors_clients_wait_and_are_served_later(start_echo, lb_for):
    e = start_echo("a")
    lb = lb_for([e], check="none", threads=1)
    squeeze_fds(lb.proc, HELD, spare=0)
    held = [HttpConn(lb.addr) for _ in range(HELD)]
    for c in held:
        assert c.get() == "a"
    # no descriptor left: these wait in the listen backlog
    waiting = [send_request(lb.addr) for _ in range(5)]
    for s in waiting:
        s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            s.recv(100)
    # ... and the lb does not spin on the readable listener meanwhile
    t0 = cpu_ticks(lb.proc.pid)
    time.sleep(1.0)
    assert cpu_ticks(lb.proc.pid) - t0 < 50, "the lb is busy while out of descriptors"
    assert "Too many open files" in lb.proc.stderr()
    # descriptors come back: the waiting clients are served
    for c in held:
        c.close()
    for s in waiting:
        s.settimeout(10)
        data = b""
        while not data.endswith(b"a\n"):
            chunk = s.recv(1000)
            assert chunk, "closed instead of served"
            data += chunk
        assert data.startswith(b"HTTP/1.1 200")
        s.close()
    assert lb.proc.alive()
    assert server_stats(lb.admin, "a")["connect_errors"] == 0


def test_local_descriptor_shortage_is_not_blamed_on_the_server(start_echo, lb_for):
    e = start_echo("a")
    lb = lb_for([e], check="tcp", interval="1m", fall=2, rise=1, threads=1)
    squeeze_fds(lb.proc, HELD, spare=1)
    held = [HttpConn(lb.addr) for _ in range(HELD)]
    for c in held:
        assert c.get() == "a"
    extra = []
    for _ in range(3):
        try:
            extra.append(send_request(lb.addr))
        except OSError:
            pass
    time.sleep(0.5)
    for s in extra + held:
        (s.sock if isinstance(s, HttpConn) else s).close()
    time.sleep(0.3)
    st = server_stats(lb.admin, "a")
    assert (st["state"], st["connect_errors"], st["health_transitions"]) == ("up", 0, 0), st
    assert http_get_via(lb.addr) == "a"
