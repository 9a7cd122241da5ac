"""The FastAPI peer for `make bench`: the same three endpoints, as a FastAPI user writes them."""
from typing import Optional

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field

app = FastAPI()


class Item(BaseModel):
    id: int
    name: str
    price: float
    tags: list[str]
    q: Optional[str] = None


class ItemCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(gt=0)
    tags: list[str] = Field(default_factory=list, max_length=10)
    stock: int = Field(default=0, ge=0)


ITEMS = {i: Item(id=i, name=f"Item {i}", price=i / 10, tags=["bench"]) for i in range(1, 1001)}


@app.get("/hello")
async def hello():
    return {"message": "Hello, world"}


@app.get("/items/{item_id}", response_model=Item)
async def read_item(item_id: int = Path(ge=1), q: Optional[str] = Query(default=None, max_length=50)):
    item = ITEMS.get(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return item.model_copy(update={"q": q})


@app.post("/items", response_model=Item, status_code=201)
async def create_item(item: ItemCreate):
    return Item(id=1001, name=item.name, price=item.price, tags=item.tags)
