import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Testing

enum WriteThings: AuthScope { static let name = "things:write" }

@Model
struct Caller {
    var subject: String?
}

/// A demo service with one route per auth dependency.
enum GuardedService {
    static let definition = ServiceDefinition(name: "guarded", defaultPort: 0, defaultAdminPort: 0) { router, _ in
        router.get("/whoami") { (user: Depends<OptionalUser>) -> Caller in Caller(subject: user.value?.subject) }
        router.get("/mine") { (user: Depends<CurrentUser>) -> Caller in Caller(subject: user.subject) }
        router.post("/things") { (user: Depends<Scoped<WriteThings>>) -> Caller in Caller(subject: user.subject) }
    }
}

/// `CurrentUser`, `OptionalUser` and `Scoped`: what each lets through, and what each documents.
@Suite struct AuthDependencyTests {
    func body(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func anOptionalUserIsNilWithoutATokenButABadTokenIsStill401() async throws {
        let issuer = try TestIssuer()
        try await InProcessService.with(GuardedService.definition) { service in
            try await service.api(overrides: issuer.overrides()) { client in
                let anonymous = try await client.execute(uri: "/whoami", method: .get)
                #expect(anonymous.status == .ok)
                #expect(try body(anonymous)["subject"] is NSNull)
                let known = try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: try issuer.authorization(subject: "7")])
                #expect(try body(known)["subject"] as? String == "7")
                let forged = try await client.execute(uri: "/whoami", method: .get, headers: [.authorization: try TestIssuer().authorization()])
                #expect(forged.status == .unauthorized)
                #expect(forged.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            }
        }
    }

    @Test func aMissingScopeIs403WithInsufficientScopeAndAHeldOneIsLetThrough() async throws {
        let issuer = try TestIssuer()
        try await InProcessService.with(GuardedService.definition) { service in
            try await service.api(overrides: issuer.overrides()) { client in
                let none = try await client.execute(uri: "/things", method: .post)
                #expect(none.status == .unauthorized)
                let unscoped = try await client.execute(uri: "/things", method: .post, headers: [.authorization: try issuer.authorization()])
                #expect(unscoped.status == .forbidden)
                #expect(unscoped.headers[.wwwAuthenticate] == #"Bearer error="insufficient_scope", scope="things:write""#)
                let scoped = try await client.execute(uri: "/things", method: .post, headers: [.authorization: try issuer.authorization(scope: "read things:write")])
                #expect(scoped.status == .ok)
            }
        }
    }

    @Test func theDocumentMarksRequiredOptionalAndScopedRoutes() async throws {
        try await InProcessService.with(GuardedService.definition) { service in
            try await service.api { client in
                let document = try body(try await client.execute(uri: "/openapi.json", method: .get))
                let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
                let optional = try #require(paths["/whoami"]?["get"]?["security"] as? [[String: Any]])
                #expect(optional.contains { $0.isEmpty }, "an empty requirement: anonymous callers are answered too")
                let required = try #require(paths["/mine"]?["get"]?["security"] as? [[String: Any]])
                #expect(!required.contains { $0.isEmpty })
                #expect(required.contains { $0["OAuth2PasswordBearer"] != nil } && required.contains { $0["bearerAuth"] != nil })
                let scoped = try #require(paths["/things"]?["post"]?["responses"] as? [String: Any])
                #expect(scoped["401"] != nil && scoped["403"] != nil)
            }
        }
    }
}
