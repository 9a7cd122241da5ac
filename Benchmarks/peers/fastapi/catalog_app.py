"""The FastAPI catalog peer for `make bench`: GET /items/{id} and POST /items on SQLite with the
standard library's sqlite3, as its users would write it (one connection per request)."""
import json
import os
import sqlite3
from datetime import datetime, timezone
from typing import Optional

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

DB = os.environ.get("CATALOG_DB", "catalog-fastapi.db")
app = FastAPI()


def connect():
    conn = sqlite3.connect(DB, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.row_factory = sqlite3.Row
    return conn


with connect() as setup:
    setup.execute(
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
        " price REAL NOT NULL, description TEXT, tags TEXT NOT NULL, stock INTEGER NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )


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


def row_to_item(row) -> Item:
    return Item(
        id=row["id"], name=row["name"], price=row["price"], description=row["description"],
        tags=json.loads(row["tags"]), stock=row["stock"], created_at=row["created_at"], updated_at=row["updated_at"],
    )


@app.post("/items", response_model=Item, status_code=201)
def create_item(item: ItemCreate):
    now = datetime.now(timezone.utc).isoformat()
    with connect() as conn:
        cursor = conn.execute(
            "INSERT INTO items (name, price, description, tags, stock, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (item.name, item.price, item.description, json.dumps(item.tags), item.stock, now, now),
        )
        row = conn.execute("SELECT * FROM items WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return row_to_item(row)


@app.get("/items/{item_id}", response_model=Item)
def read_item(item_id: int):
    with connect() as conn:
        row = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return row_to_item(row)
