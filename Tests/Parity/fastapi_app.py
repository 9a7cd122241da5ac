"""The FastAPI reference app for the parity test; ServiceKit serves the same routes."""

from enum import Enum

from fastapi import Cookie, FastAPI, Form, Header, Path, Query, UploadFile
from pydantic import AnyHttpUrl, BaseModel, EmailStr, Field


class Color(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"


class Sort(str, Enum):
    asc = "asc"
    desc = "desc"


class Address(BaseModel):
    street: str = Field(min_length=1)
    city: str = Field(min_length=1, max_length=40)
    zip: str = Field(pattern=r"^[0-9]{5}$")


class PetIn(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    age: int = Field(ge=0, le=30)
    weight: float = Field(gt=0, lt=200)
    email: EmailStr
    homepage: AnyHttpUrl | None = None
    color: Color = Color.red
    tags: list[str] = Field(min_length=1, max_length=3)
    vaccinated: bool = False
    address: Address
    previous: list[Address] = []
    nickname: str | None = None


class PetOut(PetIn):
    id: int


class PetRef(BaseModel):
    id: int


class SearchOut(BaseModel):
    q: str
    limit: int
    offset: int
    sort: Sort
    tag: list[str]
    colors: list[Color]
    active: bool | None
    min_weight: float | None


class WhoAmI(BaseModel):
    x_token: str
    x_count: int
    session: str


class LoginOut(BaseModel):
    username: str


class UploadOut(BaseModel):
    filename: str | None
    size: int


app = FastAPI(title="Parity")


@app.post("/pets", status_code=201, response_model=PetOut)
def create_pet(pet: PetIn):
    return PetOut(id=1, **pet.model_dump())


@app.get("/pets/{pet_id}", response_model=PetRef)
def get_pet(pet_id: int = Path(ge=1)):
    return PetRef(id=pet_id)


@app.get("/search", response_model=SearchOut)
def search(
    q: str = Query(min_length=2, max_length=50),
    limit: int = Query(10, ge=1, le=100),
    offset: int = Query(0, ge=0),
    sort: Sort = Sort.asc,
    tag: list[str] = Query([]),
    colors: list[Color] = Query([]),
    active: bool | None = None,
    min_weight: float | None = Query(None, gt=0),
):
    return SearchOut(q=q, limit=limit, offset=offset, sort=sort, tag=tag, colors=colors,
                     active=active, min_weight=min_weight)


@app.get("/whoami", response_model=WhoAmI)
def whoami(
    x_token: str = Header(min_length=8),
    x_count: int = Header(ge=0),
    session: str = Cookie(min_length=4),
):
    return WhoAmI(x_token=x_token, x_count=x_count, session=session)


@app.post("/login", response_model=LoginOut)
def login(
    username: str = Form(min_length=3),
    password: str = Form(min_length=8),
    remember: bool = Form(False),
):
    return LoginOut(username=username)


@app.post("/upload", response_model=UploadOut)
async def upload(file: UploadFile, description: str = Form(max_length=50)):
    return UploadOut(filename=file.filename, size=len(await file.read()))
