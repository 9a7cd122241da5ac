import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Testing
@testable import Users

/// `POST /token`, the claims it signs, the keys that check them, and its defences.
@Suite struct TokenTests {
    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func aTokenCarriesTheStandardClaimsAndAuthenticatesMe(engine: SQLEngine) async throws {
        try await withUsers(engine) { service in
            try await service.api(.live) { client in
                let id = try #require(try object(try await client.register("ann"))["id"] as? Int)
                let answer = try await client.token("ann")
                #expect(answer.status == .ok)
                let body = try object(answer)
                #expect(body["token_type"] as? String == "bearer")
                #expect(body["expires_in"] as? Int == 3600)
                let token = try #require(body["access_token"] as? String)

                let header = try tokenPart(token, 0)
                #expect(header["alg"] as? String == "ES256")
                let claims = try tokenPart(token, 1)
                #expect(claims["sub"] as? String == String(id))
                #expect(claims["iss"] as? String == "fleet-users")
                #expect(claims["aud"] as? String == "fleet")
                let iat = try #require(claims["iat"] as? Double)
                let exp = try #require(claims["exp"] as? Double)
                #expect(exp - iat == 3600)
                #expect(abs(iat - Date().timeIntervalSince1970) < 60)
                #expect(claims["scope"] == nil, "no scope was asked for")

                let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get)
                #expect(jwks.headers[.cacheControl] == "public, max-age=300")
                let keys = try #require(try object(jwks)["keys"] as? [[String: Any]])
                #expect(keys.map { $0["kid"] as? String } == [header["kid"] as? String])
                #expect(keys.first?["kty"] as? String == "EC")
                #expect(keys.first?["d"] == nil, "the private part is never published")

                let me = try await client.execute(uri: "/users/me", method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(me.status == .ok)
                #expect(try object(me)["username"] as? String == "ann")
                let anonymous = try await client.execute(uri: "/users/me", method: .get)
                #expect(anonymous.status == .unauthorized)
                #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
            }
        }
    }

    @Test func aWrongPasswordAndAnUnknownUserGetTheSame401() async throws {
        try await withUsers { service in
            try await service.api { client in
                _ = try await client.register("ann")
                let wrong = try await client.token("ann", password: "wrong password")
                let unknown = try await client.token("nobody")
                for answer in [wrong, unknown] {
                    #expect(answer.status == .unauthorized)
                    #expect(answer.headers[.wwwAuthenticate] == "Bearer")
                    #expect(try object(answer)["detail"] as? String == "Incorrect username or password")
                }
            }
        }
    }

    @Test func onlyScopesTheAccountHoldsAreGranted() async throws {
        try await withUsers { service in
            try await service.api { client in
                let id = try #require(try object(try await client.register("ann"))["id"] as? Int)
                let none = try object(try await client.token("ann", scope: "items:write admin"))
                #expect(none["scope"] == nil || none["scope"] is NSNull)
                #expect(try tokenPart(try #require(none["access_token"] as? String), 1)["scope"] == nil)

                try await UserStore(database: service.runtime.database).grant(["items:write"], to: id)
                let some = try object(try await client.token("ann", scope: "items:write admin"))
                #expect(some["scope"] as? String == "items:write")
                #expect(try tokenPart(try #require(some["access_token"] as? String), 1)["scope"] as? String == "items:write")
            }
        }
    }

    @Test func repeatedFailuresAreRefusedWith429AndRetryAfterEvenWithTheRightPassword() async throws {
        try await withUsers(environment: ["LOGIN_MAX_FAILURES": "3", "LOGIN_LOCKOUT": "30s"]) { service in
            try await service.api { client in
                _ = try await client.register("ann")
                for _ in 0..<3 { #expect(try await client.token("ann", password: "guess guess").status == .unauthorized) }
                let refused = try await client.token("ann")
                #expect(refused.status == .tooManyRequests)
                let wait = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...30).contains(wait))
            }
        }
    }

    @Test func theThrottleForgetsTheOldestKeysInsteadOfGrowing() {
        let throttle = LoginThrottle(maxFailures: 2, window: .seconds(60), capacity: 1000)
        for index in 0..<20_000 { throttle.recordFailure(["user:made-up-\(index)"]) }
        #expect(throttle.trackedKeys <= 1000)
        throttle.recordFailure(["client:1.2.3.4"])
        throttle.recordFailure(["client:1.2.3.4"])
        #expect(throttle.retryAfter(["client:1.2.3.4"]) != nil, "the newest lockout survives the flood")
    }

    /// A failed login for an unknown user costs a bcrypt check as a wrong password does, so its
    /// time does not reveal which usernames exist. Medians of interleaved rounds.
    @Test func aFailureForAnUnknownUserTakesAsLongAsAWrongPassword() async throws {
        try await withUsers(environment: ["BCRYPT_COST": "10", "LOGIN_MAX_FAILURES": "10000"]) { service in
            try await service.api(.live) { client in
                _ = try await client.register("ann")
                var known: [Duration] = []
                var unknown: [Duration] = []
                let clock = ContinuousClock()
                for round in 0..<15 {
                    let first = round.isMultiple(of: 2)
                    for wrongPassword in [first, !first] {
                        let took = try await clock.measure {
                            let answer = try await client.token(wrongPassword ? "ann" : "nobody\(round)", password: "not the password")
                            #expect(answer.status == .unauthorized)
                        }
                        if wrongPassword { known.append(took) } else { unknown.append(took) }
                    }
                }
                func median(_ values: [Duration]) -> Double { values.sorted()[values.count / 2].seconds }
                let ratio = median(unknown) / median(known)
                #expect((0.7...1.4).contains(ratio), "unknown/known median time ratio \(ratio)")
            }
        }
    }

    @Test func withoutAKeyOneIsGeneratedOnceKeptAndWarnedAbout() async throws {
        let data = try TemporaryDirectory.make(prefix: "users-keys")
        func kid(_ logs: CapturedLogs) async throws -> String {
            try await InProcessService.with(UsersService.definition, logHandler: logs.factory, configure: { $0.dataDirectory = data }) { service in
                try await service.api { client in
                    let keys = try #require(try object(try await client.execute(uri: "/.well-known/jwks.json", method: .get))["keys"] as? [[String: Any]])
                    return try #require(keys.first?["kid"] as? String)
                }
            }
        }
        let first = CapturedLogs()
        let second = CapturedLogs()
        let firstKID = try await kid(first)
        let secondKID = try await kid(second)
        #expect(firstKID == secondKID, "a restart keeps the key, so tokens stay valid")
        #expect(first.records.contains { $0.level == .warning && $0.message.contains("generated a signing key") })
        #expect(!second.records.contains { $0.message.contains("generated a signing key") })
        let attributes = try FileManager.default.attributesOfItem(atPath: data + "/users-jwt-key.pem")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    /// The rotation runbook of docs/operations.md: publish the next key, switch to it keeping the
    /// old one as previous; tokens of either key are accepted throughout.
    @Test func aRotationPublishesBothKeysAndTokensOfEitherStayValid() async throws {
        let old = try TestIssuer()
        let new = try TestIssuer()
        try await withUsers(environment: ["JWT_PRIVATE_KEY_FILE": old.pemFile, "JWT_NEXT_KEY_FILE": new.pemFile]) { service in
            try await service.api { client in
                let keys = try #require(try object(try await client.execute(uri: "/.well-known/jwks.json", method: .get))["keys"] as? [[String: Any]])
                #expect(keys.compactMap { $0["kid"] as? String } == [old.kid, new.kid])
                let id = try #require(try object(try await client.register("ann"))["id"] as? Int)
                let token = try #require(try object(try await client.token("ann"))["access_token"] as? String)
                #expect(try tokenPart(token, 0)["kid"] as? String == old.kid, "the current key signs")
                _ = id
            }
        }
        try await withUsers(environment: ["JWT_PRIVATE_KEY_FILE": new.pemFile, "JWT_PREVIOUS_KEY_FILE": old.pemFile]) { service in
            try await service.api { client in
                let keys = try #require(try object(try await client.execute(uri: "/.well-known/jwks.json", method: .get))["keys"] as? [[String: Any]])
                #expect(keys.compactMap { $0["kid"] as? String } == [new.kid, old.kid])
                let id = try #require(try object(try await client.register("ann"))["id"] as? Int)
                let before = try old.token(TestIssuer.claims(subject: String(id)))
                #expect(try await client.execute(uri: "/users/me", method: .get, headers: [.authorization: "Bearer \(before)"]).status == .ok)
                let after = try #require(try object(try await client.token("ann"))["access_token"] as? String)
                #expect(try tokenPart(after, 0)["kid"] as? String == new.kid)
            }
        }
    }

    @Test func aKeyGivenInlineAsPEMSignsTheTokens() async throws {
        let issuer = try TestIssuer()
        try await withUsers(environment: ["JWT_PRIVATE_KEY": issuer.key.pemRepresentation]) { service in
            try await service.api { client in
                _ = try await client.register("ann")
                let token = try #require(try object(try await client.token("ann"))["access_token"] as? String)
                #expect(try tokenPart(token, 0)["kid"] as? String == issuer.kid)
                let masked = try await service.admin { admin in
                    let info = try object(try await admin.execute(uri: "/info", method: .get))
                    return (info["config"] as? [String: Any])?["JWT_PRIVATE_KEY"] as? String
                }
                #expect(masked == "***", "/info never shows the key")
            }
        }
    }

    @Test func theDocumentOffersThePasswordFlowAndMarksWhichRoutesNeedAToken() async throws {
        try await withUsers { service in
            try await service.api { client in
                let document = try object(try await client.execute(uri: "/openapi.json", method: .get))
                let schemes = try #require((document["components"] as? [String: Any])?["securitySchemes"] as? [String: Any])
                let oauth = try #require(schemes["OAuth2PasswordBearer"] as? [String: Any])
                #expect(oauth["type"] as? String == "oauth2")
                let password = (oauth["flows"] as? [String: Any])?["password"] as? [String: Any]
                #expect(password?["tokenUrl"] as? String == "/token")
                let paths = try #require(document["paths"] as? [String: Any])
                func security(_ path: String, _ method: String) -> [[String: Any]]? {
                    ((paths[path] as? [String: Any])?[method] as? [String: Any])?["security"] as? [[String: Any]]
                }
                #expect(security("/users/me", "get")?.contains { $0["OAuth2PasswordBearer"] != nil } == true)
                #expect(security("/users/{id}", "get") == nil)
                #expect(security("/token", "post") == nil)
                let tokenBody = ((paths["/token"] as? [String: Any])?["post"] as? [String: Any])?["requestBody"] as? [String: Any]
                #expect((tokenBody?["content"] as? [String: Any])?["application/x-www-form-urlencoded"] != nil)
            }
        }
    }
}
