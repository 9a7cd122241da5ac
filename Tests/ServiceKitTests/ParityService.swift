import ServiceKit

// The routes of Tests/Parity/fastapi_app.py, on ServiceKit: `compare.py` sends the same bad
// requests to both and checks that every error's `loc` and `type` agree.

enum Color: String, ModelEnum { case red, green, blue }
enum Sort: String, ModelEnum { case asc, desc }

@Model struct Address {
    @Field(minLength: 1) var street: String
    @Field(minLength: 1, maxLength: 40) var city: String
    @Field(pattern: "^[0-9]{5}$") var zip: String
}

@Model struct PetIn {
    @Field(minLength: 1, maxLength: 20) var name: String
    @Field(ge: 0, le: 30) var age: Int
    @Field(gt: 0, lt: 200) var weight: Double
    @Field(format: .email) var email: String
    @Field(format: .url) var homepage: String?
    var color: Color = .red
    @Field(minItems: 1, maxItems: 3) var tags: [String]
    var vaccinated: Bool = false
    var address: Address
    var previous: [Address] = []
    var nickname: String?
}

@Model struct PetOut {
    var id: Int
    var name: String
    var age: Int
    var weight: Double
    var email: String
    var homepage: String?
    var color: Color
    var tags: [String]
    var vaccinated: Bool
    var address: Address
    var previous: [Address]
    var nickname: String?
}

@Model struct PetPath {
    @Field(ge: 1) var petId: Int
}

@Model struct PetRef {
    var id: Int
}

@Model struct SearchQuery {
    @Field(minLength: 2, maxLength: 50) var q: String
    @Field(ge: 1, le: 100) var limit: Int = 10
    @Field(ge: 0) var offset: Int = 0
    var sort: Sort = .asc
    var tag: [String] = []
    var colors: [Color] = []
    var active: Bool?
    @Field(gt: 0) var minWeight: Double?
}

@Model struct SearchOut {
    var q: String
    var limit: Int
    var offset: Int
    var sort: Sort
    var tag: [String]
    var colors: [Color]
    var active: Bool?
    var minWeight: Double?
}

@Model struct WhoHeaders {
    @Field(minLength: 8) var xToken: String
    @Field(ge: 0) var xCount: Int
}

@Model struct WhoCookies {
    @Field(minLength: 4) var session: String
}

@Model struct WhoAmI {
    var xToken: String
    var xCount: Int
    var session: String
}

@Model struct LoginForm {
    @Field(minLength: 3) var username: String
    @Field(minLength: 8) var password: String
    var remember: Bool = false
}

@Model struct LoginOut {
    var username: String
}

@Model struct UploadForm {
    var file: UploadedFile
    @Field(maxLength: 50) var description: String
}

@Model struct UploadOut {
    var filename: String?
    var size: Int
}

enum ParityService {
    static let definition = ServiceDefinition(name: "parity", defaultPort: 0, defaultAdminPort: 0) { router, _ in
        router.post("/pets", status: .created) { (pet: Body<PetIn>) -> PetOut in
            let p = pet.value
            return PetOut(
                id: 1, name: p.name, age: p.age, weight: p.weight, email: p.email, homepage: p.homepage, color: p.color,
                tags: p.tags, vaccinated: p.vaccinated, address: p.address, previous: p.previous, nickname: p.nickname
            )
        }
        router.get("/pets/{pet_id}") { (path: Path<PetPath>) -> PetRef in PetRef(id: path.petId) }
        router.get("/search") { (query: Query<SearchQuery>) -> SearchOut in
            let q = query.value
            return SearchOut(q: q.q, limit: q.limit, offset: q.offset, sort: q.sort, tag: q.tag, colors: q.colors, active: q.active, minWeight: q.minWeight)
        }
        router.get("/whoami") { (headers: Header<WhoHeaders>, cookies: Cookie<WhoCookies>) -> WhoAmI in
            WhoAmI(xToken: headers.xToken, xCount: headers.xCount, session: cookies.session)
        }
        router.post("/login") { (form: Form<LoginForm>) -> LoginOut in LoginOut(username: form.username) }
        router.post("/upload") { (form: Multipart<UploadForm>) -> UploadOut in
            UploadOut(filename: form.file.filename, size: form.file.size)
        }
    }
}
