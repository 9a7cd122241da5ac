import Foundation
import Hummingbird
import ServiceKit
import SQLKit

/// A small service that exercises the framework the way a real one does.
@Model
struct Thing {
    @Model
    struct Part {
        @Field(minLength: 2) var label: String
        @Field(ge: 1) var count: Int
    }

    @Field(minLength: 1, maxLength: 10) var name: String
    @Field(pattern: "^[A-Z]{2}$") var code: String = "AA"
    @Field(gt: 0, lt: 1000) var price: Double
    @Field(ge: 1, le: 5) var quantity: Int = 1
    @Field(format: .email) var email: String
    @Field(maxItems: 2, itemMinLength: 1) var tags: [String] = []
    @Field(minItems: 1) var parts: [Part]
}

@Model
struct ThingOut {
    var id: Int
    var name: String
}

@Model
struct ThingPath {
    @Field(ge: 1) var id: Int
}

@Model
struct ThingQuery {
    @Field(ge: 1, le: 100) var limit: Int = 10
}

@Model
struct RequestEcho {
    var requestId: String
}

/// The request's own id, as a dependency: what a handler can ask about the request it answers.
struct CurrentRequestID: Dependency {
    static func resolve(in scope: RequestScope) async throws -> String { scope.context.requestID }
}

struct DemoFailure: Error, CustomStringConvertible {
    var description: String { "secret internal detail 42" }
}

enum DemoService {
    static let definition = ServiceDefinition(
        name: "demo", defaultPort: 0, defaultAdminPort: 0,
        migrations: [Migration(1, "things", statements: ["CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"])]
    ) { router, dependencies in
        router.post("/things", status: .created) { (thing: Body<Thing>, database: Depends<Database>) -> ThingOut in
            try await database.value.write { db in
                let row = try await db.raw("INSERT INTO things (name) VALUES (\(bind: thing.name)) RETURNING id").first()
                return ThingOut(id: try row!.decode(column: "id", as: Int.self), name: thing.name)
            }
        }
        router.get("/things/{id}", errors: [DeclaredError(.notFound, "Thing not found")]) { (path: Path<ThingPath>, query: Query<ThingQuery>) -> ThingOut in
            throw HTTPProblem.notFound("Thing not found")
        }
        router.get("/boom") { () -> ThingOut in
            throw DemoFailure()
        }
        router.get("/hello") { (id: Depends<CurrentRequestID>) -> RequestEcho in
            RequestEcho(requestId: id.value)
        }
    }
}
