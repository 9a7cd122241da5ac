"""The FastAPI gateway peer for `make bench`: GET /api/users/{id}/dashboard, as a FastAPI user writes
it with httpx and `asyncio.gather`, against the same three ServiceKit services as the ServiceKit
gateway (`Services/Gateway`).

It does what the gateway's dashboard does:
- the same three calls, at once: `GET /users/{id}` on users, `GET /orders?limit=20&offset=0&user_id={id}`
  on orders and `GET /items?limit=10&offset=0` on catalog;
- one shared `httpx.AsyncClient` per worker (opened at start-up, closed at shutdown), HTTP/1.1 with
  keep-alive, a pool as large as CurlHTTP's (128 idle connections across all peers, no cap on open
  ones), CurlHTTP's 2 s connect timeout, and one deadline for the whole aggregation:
  `PEER_TIMEOUT` (default 5s, as ServiceKit's), each call ending by it;
- typed answers: each peer's JSON is validated into pydantic models (the gateway decodes into its
  `@Model` types) and the answer is `{"user", "orders", "items", "degraded"}` through
  `response_model`; fields a model does not name are kept, so the shape is the services' own;
- the same failures: a failed orders or catalog call leaves its part null and names it in
  `degraded`; the user missing is 404, users late 504, users failing otherwise 503;
- the same propagation: each call carries a `traceparent` with the incoming trace id and a new
  span id, and `X-Request-ID` (the incoming one, or the trace id, as ServiceKit does), so the
  services log and parse the same headers whichever gateway calls them.

What it does not do (the ServiceKit gateway does): retries of 502/503/504 answers, a circuit
breaker, client metrics. With healthy services none of them changes a request's work but the
metrics (a timer and a counter per call).
"""
import asyncio
import os
import re
import secrets
from contextlib import asynccontextmanager
from typing import Optional

import httpx
from fastapi import FastAPI, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict


def duration(text: str) -> float:
    """Seconds of a ServiceKit duration: `5s`, `500ms`, `1m`, or a bare number of seconds."""
    match = re.fullmatch(r"\s*([\d.]+)\s*(ms|s|m)?\s*", text)
    if not match:
        raise SystemExit(f"PEER_TIMEOUT: expected a duration such as 5s or 500ms, got {text!r}")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


USERS_URL = os.environ.get("USERS_URL", "http://127.0.0.1:8081").rstrip("/")
CATALOG_URL = os.environ.get("CATALOG_URL", "http://127.0.0.1:8082").rstrip("/")
ORDERS_URL = os.environ.get("ORDERS_URL", "http://127.0.0.1:8083").rstrip("/")
PEER_TIMEOUT = duration(os.environ.get("PEER_TIMEOUT", "5s"))
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$")

client: httpx.AsyncClient


@asynccontextmanager
async def lifespan(_app: FastAPI):
    global client
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(PEER_TIMEOUT, connect=2.0),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=128),
    )
    try:
        yield
    finally:
        await client.aclose()


app = FastAPI(lifespan=lifespan)


class Model(BaseModel):
    # Fields the services add and a model does not name pass through unchanged.
    model_config = ConfigDict(extra="allow")


class User(Model):
    id: int
    username: str
    email: str
    created_at: str


class OrderLine(Model):
    item_id: int
    name: str
    quantity: int
    unit_price: float


class Order(Model):
    id: int
    user_id: str
    status: str
    lines: list[OrderLine]
    total: float
    created_at: str


class OrderPage(Model):
    orders: list[Order]


class Item(Model):
    id: int
    name: str
    price: float
    description: Optional[str] = None
    tags: list[str]
    stock: int
    created_at: str
    updated_at: str


class ItemPage(Model):
    items: list[Item]


class Dashboard(BaseModel):
    user: User
    orders: Optional[list[Order]]
    items: Optional[list[Item]]
    degraded: list[str]


class PeerStatus(Exception):
    """A peer answered, but not 2xx."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def outbound_headers(request: Request) -> dict[str, str]:
    """traceparent (the incoming trace id, a new span id) and X-Request-ID, as CurlHTTP sends them."""
    headers = {}
    incoming = TRACEPARENT.match(request.headers.get("traceparent", ""))
    trace_id = incoming.group(1) if incoming else secrets.token_hex(16)
    headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-{incoming.group(2) if incoming else '01'}"
    headers["x-request-id"] = request.headers.get("x-request-id") or trace_id
    return headers


async def fetch(url: str, params: Optional[dict], headers: dict, deadline: float, model: type[BaseModel]):
    """One peer's answer as `model`, or the exception that ended it, by the aggregation's deadline."""
    try:
        async with asyncio.timeout_at(deadline):
            response = await client.get(url, params=params, headers=headers)
        if not 200 <= response.status_code < 300:
            raise PeerStatus(response.status_code)
        return model.model_validate_json(response.content)
    except Exception as error:  # a failed part is named in `degraded`, never raised
        return error


@app.get("/api/users/{user_id}/dashboard", response_model=Dashboard)
async def dashboard(request: Request, user_id: int = Path()):
    headers = outbound_headers(request)
    deadline = asyncio.get_running_loop().time() + PEER_TIMEOUT
    user, orders, items = await asyncio.gather(
        fetch(f"{USERS_URL}/users/{user_id}", None, headers, deadline, User),
        fetch(f"{ORDERS_URL}/orders", {"limit": 20, "offset": 0, "user_id": user_id}, headers, deadline, OrderPage),
        fetch(f"{CATALOG_URL}/items", {"limit": 10, "offset": 0}, headers, deadline, ItemPage),
    )
    if isinstance(user, PeerStatus) and user.status == 404:
        raise HTTPException(status_code=404, detail="User not found")
    if isinstance(user, (TimeoutError, httpx.TimeoutException)):
        raise HTTPException(status_code=504, detail="users did not answer in time")
    if isinstance(user, Exception):
        raise HTTPException(status_code=503, detail="users is unavailable")
    degraded = []
    if isinstance(orders, Exception):
        degraded.append("orders")
    if isinstance(items, Exception):
        degraded.append("catalog")
    return Dashboard(
        user=user,
        orders=None if isinstance(orders, Exception) else orders.orders,
        items=None if isinstance(items, Exception) else items.items,
        degraded=degraded,
    )
