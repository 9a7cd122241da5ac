"""The FastAPI catalog peer for `make bench`: GET /items, GET /items/{id} and POST /items on SQLite
with the standard library's sqlite3.

It stores items the way catalog does, so the comparison is of frameworks, not of databases:
- the same durability: WAL, `synchronous=NORMAL`, a 10 s busy timeout, foreign keys on;
- the same pooling: connections opened once and reused, a few readers and one writer (catalog keeps
  two readers per event loop and a single writer connection);
- the same schema and statements: an `items` row and one `item_tags` row per tag, written in one
  `BEGIN IMMEDIATE` transaction; a read is the item's row, then its tags;
- the same requirement on writes: POST /items needs `Authorization: Bearer <token>` (401
  `{"detail": "Not authenticated"}` with `WWW-Authenticate: Bearer` without it), through FastAPI's
  `OAuth2PasswordBearer`. Unlike catalog it verifies no signature and accepts any non-empty token,
  so on POST /items catalog does more work (an ES256 verification per request) than this peer.
"""
import os
import queue
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Optional

from fastapi import Depends, FastAPI, HTTPException, Query, Response
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field

DB = os.environ.get("CATALOG_DB", "catalog-fastapi.db")
READERS = 4
app = FastAPI()
# The bearer token is required, never checked (see the module's docstring).
bearer = OAuth2PasswordBearer(tokenUrl="/token")


def connect(writer: bool) -> sqlite3.Connection:
    # Autocommit (isolation_level=None): transactions are begun explicitly, as catalog does.
    conn = sqlite3.connect(DB, timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA synchronous = NORMAL")
    if writer:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.row_factory = sqlite3.Row
    return conn


# The writer first: it switches a new file to WAL and creates the schema before any reader opens.
_writer: "queue.Queue[sqlite3.Connection]" = queue.Queue()
_setup = connect(writer=True)
_setup.executescript(
    """
    CREATE TABLE IF NOT EXISTS items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        price DOUBLE PRECISION NOT NULL CHECK (price > 0),
        description TEXT,
        stock BIGINT NOT NULL CHECK (stock >= 0),
        version BIGINT NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS item_tags (
        item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        tag TEXT NOT NULL,
        PRIMARY KEY (item_id, position));
    CREATE INDEX IF NOT EXISTS item_tags_by_tag ON item_tags (tag);
    """
)
_writer.put(_setup)
_readers: "queue.Queue[sqlite3.Connection]" = queue.Queue()
for _ in range(READERS):
    _readers.put(connect(writer=False))


@contextmanager
def lease(pool: "queue.Queue[sqlite3.Connection]"):
    """A pooled connection, returned to its pool afterwards whatever happens."""
    conn = pool.get()
    try:
        yield conn
    finally:
        pool.put(conn)


class ItemCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(gt=0)
    description: Optional[str] = Field(default=None, max_length=2000)
    tags: list[str] = Field(default_factory=list, max_length=10)
    stock: int = Field(default=0, ge=0)


class Item(ItemCreate):
    id: int
    created_at: str
    updated_at: str


class ItemPage(BaseModel):
    items: list[Item]
    total: int
    limit: int
    offset: int


def items_from(rows, conn) -> list[Item]:
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    tags: dict[int, list[str]] = {}
    marks = ", ".join("?" for _ in ids)
    for row in conn.execute(f"SELECT item_id, tag FROM item_tags WHERE item_id IN ({marks}) ORDER BY item_id, position", ids):
        tags.setdefault(row["item_id"], []).append(row["tag"])
    return [
        Item(id=row["id"], name=row["name"], price=row["price"], description=row["description"],
             tags=tags.get(row["id"], []), stock=row["stock"], created_at=row["created_at"], updated_at=row["updated_at"])
        for row in rows
    ]


@app.post("/items", response_model=Item, status_code=201)
def create_item(item: ItemCreate, _token: str = Depends(bearer)):
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with lease(_writer) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "INSERT INTO items (name, price, description, stock, version, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id",
                (item.name, item.price, item.description, item.stock, now, now),
            ).fetchone()
            conn.execute("DELETE FROM item_tags WHERE item_id = ?", (row["id"],))
            for position, tag in enumerate(item.tags):
                conn.execute("INSERT INTO item_tags (item_id, position, tag) VALUES (?, ?, ?)", (row["id"], position, tag))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return Item(id=row["id"], created_at=now, updated_at=now, **item.model_dump())


@app.get("/items/{item_id}", response_model=Item)
def read_item(item_id: int, response: Response):
    with lease(_readers) as conn:
        rows = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchall()
        found = items_from(rows, conn)
    if not found:
        raise HTTPException(status_code=404, detail="Item not found")
    response.headers["etag"] = f'"item-{item_id}-v{rows[0]["version"]}"'
    return found[0]


@app.get("/items", response_model=ItemPage)
def list_items(limit: int = Query(default=50, ge=1, le=500), offset: int = Query(default=0, ge=0)):
    with lease(_readers) as conn:
        total = conn.execute("SELECT COUNT(*) AS total FROM items WHERE 1 = 1").fetchone()["total"]
        rows = conn.execute("SELECT * FROM items WHERE 1 = 1 ORDER BY id LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        found = items_from(rows, conn)
    return ItemPage(items=found, total=total, limit=limit, offset=offset)
