import json
import time
import urllib.request

from hardware_adapters.doubles.loopback import JsonHandler, LoopbackServer


class Echo(JsonHandler):
    def do_POST(self) -> None:
        self.state.append(self.read_body())
        self.send_json(201, {"echo": json.loads(self.state[-1])})


def test_loopback_server_serves_real_http() -> None:
    seen: list[bytes] = []
    with LoopbackServer(Echo, state=seen) as srv:
        req = urllib.request.Request(srv.url + "/x", data=b'{"a": 1}', method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 201
            assert json.loads(resp.read()) == {"echo": {"a": 1}}
    assert seen == [b'{"a": 1}']


class Fails(JsonHandler):
    def do_POST(self) -> None:
        self.read_body()
        self.send_json(200, {"ok": True})
        raise (ConnectionResetError if self.path == "/gone" else ValueError)("while answering")


def test_a_client_gone_before_its_answer_is_no_traceback_and_a_real_error_still_is(capsys) -> None:
    """A process killed mid-request (vend hil --faults) resets its connections: the double says nothing;
    a fault of the double's own is still reported on stderr."""
    err = ""
    with LoopbackServer(Fails, state=[]) as srv:
        for path in ("/gone", "/bug"):
            req = urllib.request.Request(srv.url + path, data=b"{}", method="POST")
            with urllib.request.urlopen(req, timeout=5) as resp:
                assert resp.status == 200
        deadline = time.monotonic() + 5
        while "ValueError" not in err:  # the second request's error is reported after the first's would be
            assert time.monotonic() < deadline, "the double's own error was not reported"
            time.sleep(0.01)
            err += capsys.readouterr().err
    assert "ConnectionResetError: while answering" not in err + capsys.readouterr().err
