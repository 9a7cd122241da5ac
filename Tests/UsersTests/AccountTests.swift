import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Testing
import Users

/// Registration, reading and listing accounts, on both engines.
@Suite struct AccountTests {
    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func anAccountIsRegisteredReadAndListedWithoutItsPassword(engine: SQLEngine) async throws {
        let logs = CapturedLogs()
        try await withUsers(engine, logs: logs) { service in
            try await service.api(.live) { client in
                let created = try await client.register("ann", email: "Ann@Example.org")
                #expect(created.status == .created)
                let user = try object(created)
                #expect(Set(user.keys) == ["id", "username", "email", "created_at"])
                #expect(user["username"] as? String == "ann")
                let id = try #require(user["id"] as? Int)

                let read = try await client.execute(uri: "/users/\(id)", method: .get)
                #expect(read.status == .ok)
                #expect(try object(read)["email"] as? String == "Ann@Example.org")
                #expect(try await client.execute(uri: "/users/999", method: .get).status == .notFound)

                _ = try await client.register("bob")
                let page = try object(try await client.execute(uri: "/users?limit=1&offset=1", method: .get))
                #expect(page["total"] as? Int == 2)
                #expect((page["users"] as? [[String: Any]])?.first?["username"] as? String == "bob")
                #expect(page["limit"] as? Int == 1)

                let answers = [created, read].map { String(buffer: $0.body) }
                for answer in answers {
                    #expect(!answer.contains("password"))
                    #expect(!answer.contains("$2b$"))
                }
            }
        }
        let logged = logs.records.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(!logged.contains("$2b$"), "no log line carries a bcrypt hash")
        #expect(!logged.contains("correct horse"), "no log line carries a password")
    }

    @Test(arguments: [SQLEngine.sqlite, .postgres])
    func aTakenUsernameOrEmailIs409AlsoWhenRegistrationsRace(engine: SQLEngine) async throws {
        try await withUsers(engine) { service in
            try await service.api(.live) { client in
                #expect(try await client.register("ann").status == .created)
                let sameName = try await client.register("ann", email: "other@example.org")
                #expect(sameName.status == .conflict)
                #expect(try object(sameName)["detail"] as? String == "Username already registered")
                let sameEmail = try await client.register("ann2", email: "ANN@example.org")
                #expect(sameEmail.status == .conflict)
                #expect(try object(sameEmail)["detail"] as? String == "Email already registered")

                // Eight registrations of one name at once: the unique index lets exactly one win.
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<8 {
                        group.addTask { try await client.register("racer", email: "racer\(index)@example.org").status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == .created }.count == 1)
                #expect(statuses.filter { $0 == .conflict }.count == 7)
                let page = try object(try await client.execute(uri: "/users", method: .get))
                #expect(page["total"] as? Int == 2)
            }
        }
    }

    @Test func badRegistrationsAre422NamingEveryField() async throws {
        try await withUsers { service in
            try await service.api { client in
                let bad = try await client.register("A!", email: "not-an-email", password: "short")
                #expect(bad.status == .unprocessableContent)
                let fields = (try object(bad)["detail"] as? [[String: Any]] ?? []).compactMap { ($0["loc"] as? [String])?.last }
                #expect(Set(fields) == ["username", "email", "password"])
                // bcrypt reads 72 bytes: 30 three-byte characters are 90, refused rather than cut.
                let long = try await client.register("carl", password: String(repeating: "€", count: 30))
                #expect(long.status == .unprocessableContent)
                #expect(String(buffer: long.body).contains("72 bytes"))
            }
        }
    }

    /// Hashes run on NIO's thread pool: while slow hashes are in flight, a cheap request answers
    /// before any of them (an ordering, not a timing: it holds on busy cores).
    @Test func hashingPasswordsNeverHoldsUpOtherRequests() async throws {
        try await withUsers(environment: ["BCRYPT_COST": "13"]) { service in
            try await service.api(.live) { client in
                // One connection per request: the test client's own connection answers in order.
                let port = try #require(client.port)
                let (cheapAnswered, hashesAnswered) = try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { group in
                    for index in 0..<4 {
                        group.addTask {
                            let body = #"{"username": "slow\#(index)", "email": "slow\#(index)@example.org", "password": "correct horse"}"#
                            let created = try await ServiceProcess.request(port: port, "/users", method: .post, body: body)
                            #expect(created.status == .created)
                            return .now
                        }
                    }
                    try await Task.sleep(for: .milliseconds(100))
                    let cheap = try await ServiceProcess.request(port: port, "/users?limit=1")
                    #expect(cheap.status == .ok)
                    let cheapAnswered = ContinuousClock.now
                    return (cheapAnswered, try await group.reduce(into: []) { $0.append($1) })
                }
                let firstHash = try #require(hashesAnswered.min())
                #expect(cheapAnswered < firstHash, "the cheap request answered before every hash")
            }
        }
    }
}
