"""EmulatorServer over real loopback sockets: serving, keep-alive, every fault kind, clean stop."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections import deque
from collections.abc import Iterator

import httpx
import pytest

from winback import errors
from winback.connectors.auth import StaticToken
from winback.connectors.http import HttpClient
from winback.connectors.retry import AmbiguousWriteError, RetryPolicy
from winback.emulator.server import FAULT_KINDS, EmulatorServer, FaultPlan, Request, Response, iter_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]

ROWS = [{"id": i, "name": f"row {i}", "pad": "x" * 40} for i in range(300)]


class TinyApp:
    """Echoes JSON, records every request it really handled, streams JSONL and can crash."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str, bytes]] = []
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.handled.append((request.method, request.path, request.body))
            count = len(self.handled)
        if request.path == "/stream":
            return Response(body=iter_jsonl(ROWS, batch=50), content_type="application/jsonl")
        if request.path == "/crash":
            raise RuntimeError("boom")
        return Response.json(
            {"method": request.method, "path": request.path, "q": request.param("q"), "n": count, "pad": "y" * 200},
            headers={"X-Count": str(count)},
        )

    def fault_response(self, kind: str, request: Request) -> Response:
        headers = {"Retry-After": "0"} if kind == "429" else {}
        return Response.json({"errorMessage": f"fault {kind}", "errorCode": kind}, status=int(kind), headers=headers)


@pytest.fixture
def app() -> TinyApp:
    return TinyApp()


def serve(app: TinyApp, **plan) -> EmulatorServer:
    return EmulatorServer(app, faults=FaultPlan(**plan)).start()


@pytest.fixture
def server(app: TinyApp) -> Iterator[EmulatorServer]:
    with EmulatorServer(app) as running:
        yield running


def scripted(app: TinyApp, *kinds: str | None, **plan) -> EmulatorServer:
    return serve(app, script=deque(kinds), **plan)


# --- serving -----------------------------------------------------------------------------------


def test_serves_json(server: EmulatorServer, app: TinyApp) -> None:
    response = httpx.get(f"{server.url}/orders", params={"q": "a b"}, timeout=2)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-count"] == "1"
    body = response.json()
    assert body["method"] == "GET" and body["path"] == "/orders" and body["q"] == "a b"
    posted = httpx.post(f"{server.url}/things", json={"x": 1}, timeout=2)
    assert posted.json()["method"] == "POST"
    assert app.handled[-1] == ("POST", "/things", b'{"x":1}')
    assert server.requests_served == 2


def test_keep_alive_serves_several_requests_on_one_connection(server: EmulatorServer) -> None:
    ports = set()
    with httpx.Client(base_url=server.url, timeout=2) as client:
        for i in range(5):
            response = client.get("/ping") if i % 2 else client.post("/ping", content=b"z" * 1000)
            assert response.status_code == 200 and response.json()["n"] == i + 1
            assert response.http_version == "HTTP/1.1"
            ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])
    assert len(ports) == 1


def test_app_crash_answers_500_and_the_server_goes_on(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.url, timeout=2) as client:
        assert client.get("/crash").status_code == 500
        assert client.get("/fine").status_code == 200


def test_streamed_body_arrives_whole_with_chunked_encoding(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.url, timeout=2) as client:
        with client.stream("GET", "/stream") as response:
            assert response.headers["transfer-encoding"] == "chunked"
            assert "content-length" not in response.headers
            body = b"".join(response.iter_raw())
        assert [json.loads(line) for line in body.decode().splitlines()] == ROWS
        assert client.get("/after-stream").status_code == 200  # connection still usable
        head = client.head("/stream")
        assert head.status_code == 200 and head.content == b""
        assert client.get("/after-head").status_code == 200


def test_an_answer_is_one_write_and_a_head_has_no_body(server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Head and body leave in one socket write (apart, each answer cost both sides an extra
    socket round); a HEAD's head still promises the body's length and sends none."""
    writes: list[int] = []
    original = socketserver._SocketWriter.write

    def counted(self: socketserver._SocketWriter, data: bytes) -> int:
        writes.append(len(data))
        return original(self, data)

    monkeypatch.setattr(socketserver._SocketWriter, "write", counted)
    with httpx.Client(base_url=server.url, timeout=2) as client:
        response = client.get("/one")
        assert response.status_code == 200 and response.json()["path"] == "/one"
        assert len(writes) == 1 and writes[0] > len(response.content) > 200
        head = client.head("/two")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) > 200
        after = client.get("/three")  # the same connection: nothing was left unread by the HEAD
        assert after.json()["path"] == "/three"
    assert len(writes) == 3


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504"])
def test_status_faults_use_the_apps_error_shape(app: TinyApp, kind: str) -> None:
    with scripted(app, kind) as server, httpx.Client(base_url=server.url, timeout=2) as client:
        faulted = client.get("/orders")
        assert faulted.status_code == int(kind)
        assert faulted.json() == {"errorMessage": f"fault {kind}", "errorCode": kind}
        assert app.handled == []
        assert client.get("/orders").status_code == 200  # script exhausted; same connection works
        assert server.faults.injected == {kind: 1}
    if kind == "429":
        assert faulted.headers["retry-after"] == "0"


def test_drop_closes_without_answer_and_without_handling(app: TinyApp) -> None:
    with scripted(app, "drop") as server, httpx.Client(base_url=server.url, timeout=2) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/write", json={"a": 1})
        assert app.handled == []
        assert server.requests_served == 1
        assert client.get("/again").status_code == 200


def test_timeout_stalls_past_a_short_client_timeout(app: TinyApp) -> None:
    with scripted(app, "timeout", timeout_s=0.6) as server:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{server.url}/slow", timeout=httpx.Timeout(2, read=0.2))
        assert time.monotonic() - started < 0.6
        assert app.handled == []


def test_timeout_then_closes_for_a_patient_client(app: TinyApp) -> None:
    with scripted(app, "timeout", timeout_s=0.2) as server:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            httpx.get(f"{server.url}/slow", timeout=2)


def test_malformed_truncates_a_read(app: TinyApp) -> None:
    with scripted(app, "malformed") as server, httpx.Client(base_url=server.url, timeout=2) as client:
        bad = client.get("/orders")
        good = client.get("/orders")
    assert bad.status_code == 200
    assert 0 < len(bad.content) < len(good.content)
    assert good.content.startswith(bad.content[:20])
    with pytest.raises(ValueError):
        bad.json()
    assert server.faults.injected == {"malformed": 1}


def test_malformed_becomes_503_on_writes_but_not_on_graphql_queries(app: TinyApp) -> None:
    with scripted(app, "malformed", "malformed", "malformed") as server:
        with httpx.Client(base_url=server.url, timeout=2) as client:
            write = client.post("/orders", json={"a": 1})
            query = client.post("/admin/api/2026-07/graphql.json", json={"query": "{ shop { name } }"})
            mutation = client.post("/admin/api/2026-07/graphql.json", json={"query": "mutation { x }"})
    assert write.status_code == 503
    assert query.status_code == 200 and len(query.content) > 0
    with pytest.raises(ValueError):
        query.json()
    assert mutation.status_code == 503
    assert server.faults.injected == {"503": 2, "malformed": 1}
    assert [h[1] for h in app.handled] == ["/admin/api/2026-07/graphql.json"]


def test_drop_after_applies_the_write_but_never_answers(app: TinyApp) -> None:
    with scripted(app, "drop_after") as server, httpx.Client(base_url=server.url, timeout=2) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/customers", json={"email": "a@example.com"})
        assert app.handled == [("POST", "/customers", b'{"email":"a@example.com"}')]


def test_drop_after_on_a_read_is_a_plain_drop(app: TinyApp) -> None:
    with scripted(app, "drop_after") as server, httpx.Client(base_url=server.url, timeout=2) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get("/orders")
        assert app.handled == []
        assert server.faults.injected == {"drop": 1}


def test_paths_filter_limits_faults_and_keeps_the_script_for_matching_paths(app: TinyApp) -> None:
    with scripted(app, "500", paths=("/orders",)) as server, httpx.Client(base_url=server.url, timeout=2) as client:
        assert client.get("/customers").status_code == 200
        assert client.get("/products").status_code == 200
        assert client.get("/orders").status_code == 500
        assert client.get("/orders").status_code == 200


def test_fault_rate_over_the_wire_is_reproducible(app: TinyApp) -> None:
    def run() -> list[int]:
        with serve(TinyApp(), rate=0.5, kinds=("500", "503", "429"), seed=42) as server:
            with httpx.Client(base_url=server.url, timeout=2) as client:
                return [client.get("/x").status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert {200, 500, 503, 429} >= set(first) and 200 in first and len(set(first)) > 1


# --- FaultPlan without sockets -----------------------------------------------------------------


def fake_request(path: str = "/orders", method: str = "GET") -> Request:
    return Request(method=method, path=path, query={}, headers={}, body=b"")


def test_fault_plan_is_deterministic_for_a_seed() -> None:
    def sequence(seed: int) -> list[str | None]:
        plan = FaultPlan(rate=0.3, seed=seed)
        return [plan.next_fault(fake_request()) for _ in range(200)]

    assert sequence(7) == sequence(7)
    assert sequence(7) != sequence(8)
    faults = [kind for kind in sequence(7) if kind]
    assert 30 < len(faults) < 90
    assert set(faults) <= set(FAULT_KINDS)


def test_fault_plan_counts_injections_and_rejects_unknown_kinds() -> None:
    plan = FaultPlan(script=deque(["429", None, "500", "429"]))
    kinds = [plan.next_fault(fake_request()) for _ in range(5)]
    assert kinds == ["429", None, "500", "429", None]
    assert plan.injected == {"429": 2, "500": 1} and plan.total_injected() == 3
    with pytest.raises(ValueError, match="teapot"):
        FaultPlan(kinds=("429", "teapot"))


def test_zero_rate_never_faults() -> None:
    plan = FaultPlan(rate=0.0)
    assert all(plan.next_fault(fake_request()) is None for _ in range(100))


# --- stopping ----------------------------------------------------------------------------------


def test_server_stops_cleanly_even_with_kept_alive_connections(app: TinyApp) -> None:
    server = EmulatorServer(app).start()
    client = httpx.Client(base_url=server.url, timeout=1)
    try:
        assert client.get("/one").status_code == 200
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.0
        assert server._thread is None
        with pytest.raises(httpx.TransportError):
            client.get("/two")  # neither the kept-alive connection nor a new one is answered
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/three", timeout=1)
        assert [h[1] for h in app.handled] == ["/one"]
    finally:
        client.close()
    server.stop()  # idempotent


def test_stop_right_after_start_does_not_hang(app: TinyApp) -> None:
    started = time.monotonic()
    for _ in range(5):
        EmulatorServer(app).start().stop()
    assert time.monotonic() - started < 2.0


# --- with the real HTTP client -----------------------------------------------------------------


class NoSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def http_client(server: EmulatorServer, sleep: NoSleep) -> HttpClient:
    return HttpClient(
        base_url=server.url,
        auth=StaticToken("secret_emulator_token_1234"),
        store_label="Emulated store 1",
        timeout=httpx.Timeout(2.0, read=0.3),
        retry=RetryPolicy(attempts=5),
        sleep=sleep,
    )


async def test_http_client_rides_out_every_read_fault(app: TinyApp) -> None:
    sleep = NoSleep()
    with scripted(app, "429", "500", "drop", "timeout", timeout_s=0.5) as server:
        async with http_client(server, sleep) as client:
            assert (await client.get_json("/orders"))["path"] == "/orders"
            assert client.requests_sent == 5
    assert len(sleep.waits) == 4 and sleep.waits[0] == 0.0


async def test_http_client_reports_a_dropped_write_as_ambiguous(app: TinyApp) -> None:
    sleep = NoSleep()
    with scripted(app, "drop_after") as server:
        async with http_client(server, sleep) as client:
            with pytest.raises(AmbiguousWriteError):
                await client.post_json("/customers", {"email": "a@example.com"}, idempotent=False)
            assert client.requests_sent == 1
    assert len(app.handled) == 1


async def test_http_client_maps_malformed_to_unexpected_response(app: TinyApp) -> None:
    with scripted(app, "malformed") as server:
        async with http_client(server, NoSleep()) as client:
            with pytest.raises(errors.UnexpectedResponseError, match="Emulated store 1"):
                await client.get_json("/orders")
