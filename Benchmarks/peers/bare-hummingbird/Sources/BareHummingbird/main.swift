import Foundation
import Hummingbird

struct Item: ResponseCodable {
    var id: Int
    var name: String
    var price: Double
    var tags: [String]
    var q: String?
}

struct ItemCreate: Decodable {
    var name: String
    var price: Double
    var tags: [String]?
    var stock: Int?
}

let items: [Int: Item] = Dictionary(uniqueKeysWithValues: (1...1000).map {
    ($0, Item(id: $0, name: "Item \($0)", price: Double($0) / 10, tags: ["bench"], q: nil))
})

let router = Router()
router.get("/hello") { _, _ in ["message": "Hello, world"] }
router.get("/items/{id}") { request, context -> Item in
    // The same rules the ServiceKit route declares (`id` ≥ 1, `q` at most 50 characters), by hand.
    let id = try context.parameters.require("id", as: Int.self)
    let q = request.uri.queryParameters["q"].map(String.init)
    guard id >= 1, (q?.count ?? 0) <= 50 else { throw HTTPError(.unprocessableContent) }
    guard var item = items[id] else { throw HTTPError(.notFound) }
    item.q = q
    return item
}
router.post("/items") { request, context -> EditedResponse<Item> in
    let new = try await request.decode(as: ItemCreate.self, context: context)
    // The same rules the ServiceKit model declares, checked by hand as a bare app would.
    guard (1...100).contains(new.name.count), new.price > 0, (new.tags?.count ?? 0) <= 10, (new.stock ?? 0) >= 0 else {
        throw HTTPError(.unprocessableContent)
    }
    return EditedResponse(status: .created, response: Item(id: 1001, name: new.name, price: new.price, tags: new.tags ?? [], q: nil))
}

let port = Int(ProcessInfo.processInfo.environment["PORT"] ?? "8091") ?? 8091
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
