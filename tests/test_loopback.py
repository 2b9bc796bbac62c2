import json
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
