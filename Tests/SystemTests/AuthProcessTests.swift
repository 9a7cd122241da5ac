import Foundation
import HTTPTypes
import FleetTestSupport
import ServiceKitTesting
import Testing

/// Tokens issued by a real users process and checked by a real catalog process, which fetches
/// users' JWKS through CurlHTTP: every way a token can be wrong is a 401 with RFC 6750's
/// challenge, and a valid one writes.
@Suite(.serialized) struct AuthProcessTests {
    /// A way to present a token, and whether catalog must take it.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let accepted: Bool
        let error: Bool
        let authorization: @Sendable (TestIssuer) throws -> String?
        var testDescription: String { name }
    }

    static let now = Date()
    static func claims(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
        var claims = TestIssuer.claims()
        change(&claims)
        return claims
    }

    static let cases: [Case] = [
        Case(name: "a valid token", accepted: true, error: false) { try $0.authorization() },
        Case(name: "a token expired within the leeway", accepted: true, error: false) { issuer in
            "Bearer " + (try issuer.token(claims { $0["exp"] = Int(now.timeIntervalSince1970) - 5 }))
        },
        Case(name: "no header", accepted: false, error: false) { _ in nil },
        Case(name: "another scheme", accepted: false, error: false) { _ in "Basic YW5uOnNlY3JldA==" },
        Case(name: "a Bearer header without a token", accepted: false, error: true) { _ in "Bearer " },
        Case(name: "a token that is not a JWS", accepted: false, error: true) { _ in "Bearer not.a-token" },
        Case(name: "alg none", accepted: false, error: true) { _ in "Bearer " + (try TestIssuer.unsigned()) },
        Case(name: "HS256 signed with the public key", accepted: false, error: true) { "Bearer " + (try $0.hmacWithPublicKey()) },
        Case(name: "a wrong algorithm in the header", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(TestIssuer.claims(), header: ["alg": "ES384", "typ": "JWT", "kid": issuer.kid]))
        },
        Case(name: "a bad signature", accepted: false, error: true) { issuer in
            let token = try issuer.token()
            let other = try issuer.token(claims { $0["sub"] = "2" })
            return "Bearer " + token.split(separator: ".").prefix(2).joined(separator: ".") + "." + other.split(separator: ".")[2]
        },
        Case(name: "a tampered payload", accepted: false, error: true) { issuer in
            let parts = try issuer.token().split(separator: ".").map(String.init)
            return "Bearer " + parts[0] + "." + (try TestIssuer.part(claims { $0["sub"] = "42" })) + "." + parts[2]
        },
        Case(name: "a foreign key with its own kid", accepted: false, error: true) { _ in try TestIssuer().authorization() },
        Case(name: "a foreign key claiming the real kid", accepted: false, error: true) { issuer in
            let foreign = try TestIssuer()
            return "Bearer " + (try foreign.token(TestIssuer.claims(), header: ["alg": "ES256", "typ": "JWT", "kid": issuer.kid]))
        },
        Case(name: "no kid", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(TestIssuer.claims(), header: ["alg": "ES256", "typ": "JWT"]))
        },
        Case(name: "an expired token", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(claims { $0["exp"] = Int(now.timeIntervalSince1970) - 3600 }))
        },
        Case(name: "nbf in the future", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(claims { $0["nbf"] = Int(now.timeIntervalSince1970) + 3600 }))
        },
        Case(name: "a wrong audience", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(claims { $0["aud"] = "somebody-else" }))
        },
        Case(name: "a wrong issuer", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(claims { $0["iss"] = "https://evil.example" }))
        },
        Case(name: "no exp", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(claims { $0["exp"] = nil }))
        },
        Case(name: "no sub", accepted: false, error: true) { issuer in
            "Bearer " + (try issuer.token(claims { $0["sub"] = nil }))
        },
    ]

    @Test(arguments: cases)
    func catalogTakesOnlyAValidTokenFromUsers(_ presented: Case) async throws {
        try await UsersAndCatalog.with { _, catalog, issuer in
            var headers: HTTPFields = [:]
            if let value = try presented.authorization(issuer) { headers[.authorization] = value }
            let answer = try await catalog.api("/items", method: .post, headers: headers, body: #"{"name": "Lamp", "price": 3}"#)
            if presented.accepted {
                #expect(answer.status == .created, "\(presented.name): \(String(buffer: answer.body ?? .init()))")
            } else {
                #expect(answer.status == .unauthorized, "\(presented.name)")
                let challenge = answer.headers[.wwwAuthenticate] ?? ""
                #expect(challenge.hasPrefix("Bearer"), "\(presented.name): \(challenge)")
                #expect(challenge.contains(#"error="invalid_token""#) == presented.error, "\(presented.name): \(challenge)")
                #expect(try await catalog.api("/items").status == .ok, "reads stay open")
            }
        }
    }

    /// Users' JWKS request count, from its own metrics.
    static func jwksFetches(_ users: ServiceProcess) async throws -> Int {
        let text = String(buffer: try await users.admin("/metrics").body ?? .init())
        return text.split(separator: "\n")
            .filter { $0.hasPrefix("http_server_request_duration_seconds_count") && $0.contains(#"http_route="/.well-known/jwks.json""#) }
            .compactMap { $0.split(separator: " ").last.flatMap { Int(Double($0) ?? -1) } }
            .reduce(0, +)
    }

    @Test func aFloodOfUnknownKidsCostsUsersAtMostOneFetchPerInterval() async throws {
        try await UsersAndCatalog.with(catalog: ["JWKS_REFETCH_INTERVAL": "60s"]) { users, catalog, issuer in
            #expect(try await catalog.api("/items", method: .post, headers: issuer.bearer(), body: #"{"name": "Lamp", "price": 3}"#).status == .created)
            let afterFirst = try await Self.jwksFetches(users)
            #expect(afterFirst == 1)
            for _ in 0..<40 {
                let stranger = try TestIssuer()
                let answer = try await catalog.api("/items", method: .post, headers: stranger.bearer(), body: #"{"name": "Lamp", "price": 3}"#)
                #expect(answer.status == .unauthorized)
            }
            #expect(try await Self.jwksFetches(users) <= afterFirst + 1, "40 unknown kids, at most one more fetch")
        }
    }

    @Test func whileUsersIsDownTheLastGoodKeysStillCheckTokens() async throws {
        try await UsersAndCatalog.with { users, catalog, issuer in
            #expect(try await catalog.api("/items", method: .post, headers: issuer.bearer(), body: #"{"name": "Lamp", "price": 3}"#).status == .created)
            #expect(await users.stop() == 0)
            let written = try await catalog.api("/items", method: .post, headers: issuer.bearer(), body: #"{"name": "Desk", "price": 30}"#)
            #expect(written.status == .created, "the cached keys still verify")
            let stranger = try await catalog.api("/items", method: .post, headers: TestIssuer().bearer(), body: #"{"name": "Desk", "price": 30}"#)
            #expect(stranger.status == .unauthorized)
        }
    }

    @Test func beforeAnyKeysCouldBeFetchedAWriteIs503NotA401() async throws {
        let issuer = try TestIssuer()
        let unreachable = try ClosedPort()
        try await ServiceProcess.with("catalog", environment: ["USERS_URL": "http://127.0.0.1:\(unreachable.port)"]) { catalog in
            try await catalog.waitUntilReady()
            let answer = try await catalog.api("/items", method: .post, headers: issuer.bearer(), body: #"{"name": "Lamp", "price": 3}"#)
            #expect(answer.status == .serviceUnavailable, "the client keeps its token: users is down, not the token bad")
            #expect(answer.headers[.retryAfter] != nil)
        }
        _ = unreachable.port  // held until catalog has stopped
    }

    @Test func aTokenFromUsersOwnTokenRouteWritesToCatalog() async throws {
        try await UsersAndCatalog.with { users, catalog, _ in
            let registered = try await users.api("/users", method: .post, body: #"{"username": "ann", "email": "ann@example.org", "password": "correct horse"}"#)
            #expect(registered.status == .created)
            let answer = try await users.api("/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: "username=ann&password=correct+horse")
            let body = try JSONSerialization.jsonObject(with: Data((answer.body ?? .init()).readableBytesView)) as? [String: Any]
            let token = try #require(body?["access_token"] as? String)
            let created = try await catalog.api("/items", method: .post, headers: [.authorization: "Bearer \(token)"], body: #"{"name": "Lamp", "price": 3}"#)
            #expect(created.status == .created)
        }
    }
}
