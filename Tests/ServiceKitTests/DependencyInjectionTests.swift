import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Synchronization
import Testing

/// Counts resolutions and clean-ups, so tests can see what happened per request.
final class DependencyLedger: Injectable {
    let resolutions = Atomic<Int>(0)
    let cleanups = Mutex<[String]>([])
}

/// A per-request "session" that needs the ledger and closes after the response.
struct Session: Dependency {
    static func resolve(in scope: RequestScope) async throws -> Int {
        let ledger = try await scope.resolve(DependencyLedger.self)
        let number = ledger.resolutions.wrappingAdd(1, ordering: .relaxed).newValue
        scope.onCleanup { error in
            ledger.cleanups.withLock { $0.append(error == nil ? "closed \(number)" : "rolled back \(number)") }
        }
        return number
    }
}

/// The current user, built from the session and the bearer token: a dependency of dependencies.
struct CurrentUsername: Dependency {
    static func resolve(in scope: RequestScope) async throws -> String {
        let token = try await scope.resolve(BearerToken.self)
        let session = try await scope.resolve(Session.self)
        return "\(token)@\(session)"
    }

    static func document(_ operation: inout OperationDescription) { BearerToken.document(&operation) }
}

@Model struct Who {
    var user: String
    var session: Int
    var page: Int
}

enum DependencyDemo {
    static let ledger = DependencyLedger()

    static func definition(ledger: DependencyLedger) -> ServiceDefinition {
        ServiceDefinition(name: "deps", defaultPort: 0, defaultAdminPort: 0) { router, _ in
            router.provide(ledger)
            let secured = router.group("/me", tags: ["me"], dependencies: [BearerToken.self])
            secured.get("") { (user: Depends<CurrentUsername>, session: Depends<Session>, page: Depends<Pagination>) -> Who in
                Who(user: user.value, session: session.value, page: page.value.limit)
            }
            secured.get("/fail") { (session: Depends<Session>) -> Who in
                throw HTTPProblem.conflict("no")
            }
        }
    }
}

@Suite struct DependencyInjectionTests {
    static let auth: HTTPFields = [.authorization: "Bearer t0k"]

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func aDependencyUsedTwiceInARequestIsResolvedOnceAndCleanedUpAfterIt() async throws {
        let ledger = DependencyLedger()
        try await InProcessService.with(DependencyDemo.definition(ledger: ledger)) { service in
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/me?limit=7", method: .get, headers: Self.auth)
                #expect(response.status == .ok)
                let body = try json(response.body)
                #expect(body["user"] as? String == "t0k@1")
                #expect(body["session"] as? Int == 1)
                #expect(body["page"] as? Int == 7)
                #expect(ledger.resolutions.load(ordering: .relaxed) == 1)
                #expect(ledger.cleanups.withLock { $0 } == ["closed 1"])
                _ = try await client.execute(uri: "/me", method: .get, headers: Self.auth)
                #expect(ledger.resolutions.load(ordering: .relaxed) == 2, "a new request resolves again")
            }
        }
    }

    @Test func aCleanupSeesTheHandlersError() async throws {
        let ledger = DependencyLedger()
        try await InProcessService.with(DependencyDemo.definition(ledger: ledger)) { service in
            try await service.api { client async throws in
                #expect(try await client.execute(uri: "/me/fail", method: .get, headers: Self.auth).status == .conflict)
                #expect(ledger.cleanups.withLock { $0 } == ["rolled back 1"])
            }
        }
    }

    @Test func aGroupsSharedDependencyGuardsEveryRouteInIt() async throws {
        try await InProcessService.with(DependencyDemo.definition(ledger: DependencyLedger())) { service in
            try await service.api { client async throws in
                for path in ["/me", "/me/fail"] {
                    let response = try await client.execute(uri: path, method: .get)
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate] == "Bearer")
                }
            }
        }
    }

    @Test func dependencyInputsJoinTheRoutes422() async throws {
        try await InProcessService.with(DependencyDemo.definition(ledger: DependencyLedger())) { service in
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/me?limit=0&offset=-1", method: .get, headers: Self.auth)
                #expect(response.status == .unprocessableContent)
                let detail = try #require(try json(response.body)["detail"] as? [[String: Any]])
                #expect(detail.map { ($0["loc"] as? [String])?.joined(separator: ".") } == ["query.limit", "query.offset"])
            }
        }
    }

    @Test func testsCanOverrideAnyDependency() async throws {
        var overrides = DependencyOverrides()
        overrides.override(CurrentUsername.self) { _ in "alice" }
        overrides.override(BearerToken.self) { _ in "stub" }
        try await InProcessService.with(DependencyDemo.definition(ledger: DependencyLedger())) { service in
            try await service.api(overrides: overrides) { client async throws in
                let response = try await client.execute(uri: "/me", method: .get)
                #expect(response.status == .ok)
                #expect(try json(response.body)["user"] as? String == "alice")
            }
        }
    }

    @Test func theSameTestRunsInProcessAndAgainstALiveServer() async throws {
        for framework: TestingSetup in [.router, .live] {
            try await InProcessService.with(DependencyDemo.definition(ledger: DependencyLedger())) { service in
                try await service.api(framework) { client async throws in
                    let response = try await client.execute(uri: "/me", method: .get, headers: Self.auth)
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test func securityAndSharedDependenciesAreDocumented() async throws {
        try await InProcessService.with(DependencyDemo.definition(ledger: DependencyLedger())) { service in
            try await service.api { client async throws in
                let document = try json(try await client.execute(uri: "/openapi.json", method: .get).body)
                let me = try #require((document["paths"] as? [String: [String: [String: Any]]])?["/me"]?["get"])
                #expect(me["security"] as? [[String: [String]]] == [["bearerAuth": []]])
                #expect((me["responses"] as? [String: Any])?.keys.sorted() == ["200", "401", "422"])
                let names = (me["parameters"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names == ["limit", "offset"])
                let schemes = (document["components"] as? [String: Any])?["securitySchemes"] as? [String: [String: Any]]
                #expect(schemes?["bearerAuth"]?["scheme"] as? String == "bearer")
            }
        }
    }
}
