// The benchmark service: the three framework-overhead endpoints on ServiceKit with everything a
// production service has on (metrics, access log, request ids, trace context, body limit, errors),
// written as a user would: typed inputs and `@Model` types.
import ServiceKit

@Model struct Hello {
    var message: String
}

@Model struct BenchItem {
    var id: Int
    var name: String
    var price: Double
    var tags: [String]
    var q: String?
}

@Model struct BenchItemCreate {
    @Field(minLength: 1, maxLength: 100) var name: String
    @Field(gt: 0) var price: Double
    @Field(maxItems: 10) var tags: [String] = []
    @Field(ge: 0) var stock: Int = 0
}

@Model struct BenchItemPath {
    @Field(ge: 1) var id: Int
}

@Model struct BenchItemQuery {
    @Field(maxLength: 50) var q: String?
}

let items: [Int: BenchItem] = Dictionary(uniqueKeysWithValues: (1...1000).map {
    ($0, BenchItem(id: $0, name: "Item \($0)", price: Double($0) / 10, tags: ["bench"], q: nil))
})

let definition = ServiceDefinition(name: "bench", defaultPort: 8090, defaultAdminPort: 9090) { router, _ in
    router.get("/hello") { () -> Hello in Hello(message: "Hello, world") }
    router.get("/items/{id}") { (path: Path<BenchItemPath>, query: Query<BenchItemQuery>) -> BenchItem in
        guard var item = items[path.id] else { throw HTTPProblem.notFound("Item not found") }
        item.q = query.q
        return item
    }
    router.post("/items", status: .created) { (new: Body<BenchItemCreate>) -> BenchItem in
        BenchItem(id: 1001, name: new.name, price: new.price, tags: new.tags, q: nil)
    }
}

await ServiceMain.run(definition)
