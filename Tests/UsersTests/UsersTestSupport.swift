import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Users

/// A migrated users service on `engine` with a cheap bcrypt cost, closed afterwards.
func withUsers<Value>(
    _ engine: SQLEngine = .sqlite, logs: CapturedLogs? = nil, environment: [String: String] = [:],
    _ body: (InProcessService) async throws -> Value
) async throws -> Value {
    func run(_ url: DatabaseURL?) async throws -> Value {
        try await InProcessService.with(UsersService.definition, database: url, logHandler: logs?.factory, configure: { configuration in
            configuration.environment["BCRYPT_COST"] = "4"
            for (name, value) in environment { configuration.environment[name] = value }
        }, body)
    }
    switch engine {
    case .sqlite: return try await run(nil)
    case .postgres: return try await PostgresServer.with { server in try await run(try DatabaseURL(parsing: server.url)) }
    }
}

extension TestClientProtocol {
    /// `POST /users` with a JSON body.
    func register(_ username: String, email: String? = nil, password: String = "correct horse") async throws -> TestResponse {
        let body = try JSONSerialization.data(withJSONObject: ["username": username, "email": email ?? "\(username)@example.org", "password": password])
        return try await execute(uri: "/users", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: body))
    }

    /// `POST /token` with a form body.
    func token(_ username: String, password: String = "correct horse", scope: String? = nil) async throws -> TestResponse {
        var form = "username=\(username)&password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password)"
        if let scope { form += "&scope=\(scope.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? scope)" }
        return try await execute(uri: "/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: form))
    }
}

/// The JSON object of a response body.
func object(_ response: TestResponse) throws -> [String: Any] {
    guard let value = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any] else {
        throw HarnessError("not a JSON object: \(String(buffer: response.body))")
    }
    return value
}

/// The decoded JSON of a token's header or payload part.
func tokenPart(_ token: String, _ index: Int) throws -> [String: Any] {
    let part = String(token.split(separator: ".", omittingEmptySubsequences: false)[index])
    var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    guard let data = Data(base64Encoded: base64), let value = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw HarnessError("not a JSON token part: \(part)")
    }
    return value
}
