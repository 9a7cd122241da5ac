// The benchmark service: the three framework-overhead endpoints on ServiceKit with everything a
// production service has on (metrics, access log, request ids, trace context, body limit, errors).
import ServiceKit

struct BenchItem: Codable, Sendable {
    var id: Int
    var name: String
    var price: Double
    var tags: [String]
    var q: String?
}

struct BenchItemCreate: RequestModel {
    var name: String
    var price: Double
    var tags: [String]
    var stock: Int

    init(from fields: inout FieldReader) {
        name = fields.string("name", minLength: 1, maxLength: 100)
        price = fields.double("price", gt: 0)
        tags = fields.stringArray("tags", default: [], maxItems: 10)
        stock = fields.int("stock", default: 0, ge: 0)
    }
}

let items: [Int: BenchItem] = Dictionary(uniqueKeysWithValues: (1...1000).map {
    ($0, BenchItem(id: $0, name: "Item \($0)", price: Double($0) / 10, tags: ["bench"], q: nil))
})

let definition = ServiceDefinition(name: "bench", defaultPort: 8090, defaultAdminPort: 9090) { router, _ in
    router.get("/hello") { _, _ in ["message": "Hello, world"] }
    router.get("/items/{id}") { request, context -> BenchItem in
        var input = RequestInputs(request, context)
        let id = input.path("id", Int.self, ge: 1)
        let q = input.query("q", maxLength: 50)
        try input.validate()
        guard var item = items[id] else { throw HTTPProblem.notFound("Item not found") }
        item.q = q
        return item
    }
    router.post("/items", status: .created) { request, context -> BenchItem in
        var input = RequestInputs(request, context)
        let new = try await input.body(BenchItemCreate.self)
        try input.validate()
        return BenchItem(id: 1001, name: new.name, price: new.price, tags: new.tags, q: nil)
    }
}

await ServiceMain.run(definition)
