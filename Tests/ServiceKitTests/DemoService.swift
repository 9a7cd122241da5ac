import Foundation
import Hummingbird
import ServiceKit
import SQLKit

/// A small service that exercises the framework the way a real one does.
struct Thing: RequestModel {
    struct Part: RequestModel {
        var label: String
        var count: Int
        init(from fields: inout FieldReader) {
            label = fields.string("label", minLength: 2)
            count = fields.int("count", ge: 1)
        }
    }

    var name: String
    var code: String
    var price: Double
    var quantity: Int
    var email: String
    var tags: [String]
    var parts: [Part]

    init(from fields: inout FieldReader) {
        name = fields.string("name", minLength: 1, maxLength: 10)
        code = fields.string("code", default: "AA", pattern: "^[A-Z]{2}$")
        price = fields.double("price", gt: 0, lt: 1000)
        quantity = fields.int("quantity", default: 1, ge: 1, le: 5)
        email = fields.email("email")
        tags = fields.stringArray("tags", default: [], maxItems: 2, itemMinLength: 1)
        parts = fields.modelArray("parts", of: Part.self, minItems: 1)
    }
}

struct ThingOut: Codable, Sendable {
    var id: Int
    var name: String
}

struct DemoFailure: Error, CustomStringConvertible {
    var description: String { "secret internal detail 42" }
}

enum DemoService {
    static let definition = ServiceDefinition(
        name: "demo", defaultPort: 0, defaultAdminPort: 0,
        migrations: [Migration(1, "things", statements: ["CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"])]
    ) { router, dependencies in
        let database = dependencies.database
        router.post("/things", status: .created) { request, context in
            var input = RequestInputs(request, context)
            let thing = try await input.body(Thing.self)
            try input.validate()
            return try await database.write { db in
                let row = try await db.raw("INSERT INTO things (name) VALUES (\(bind: thing.name)) RETURNING id").first()
                return ThingOut(id: try row!.decode(column: "id", as: Int.self), name: thing.name)
            }
        }
        router.get("/things/{id}") { request, context -> ThingOut in
            var input = RequestInputs(request, context)
            let id = input.path("id", Int.self, ge: 1)
            let verbose = input.query("limit", default: 10, ge: 1, le: 100)
            try input.validate()
            _ = verbose
            throw HTTPProblem.notFound("Thing not found")
        }
        router.get("/boom") { _, _ -> ThingOut in
            throw DemoFailure()
        }
        router.get("/hello") { _, context in
            ["request_id": context.requestID]
        }
    }
}
