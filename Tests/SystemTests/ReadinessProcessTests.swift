import Foundation
import ServiceKitTesting
import Testing

/// Readiness of a real process means serving: the first 200 from `/readyz` comes only once the
/// API port accepts connections.
@Suite struct ReadinessProcessTests {
    @Test func theFirstReadyAnswerComesOnlyOnceTheAPIPortAcceptsConnections() async throws {
        for _ in 0..<3 {
            let data = try TemporaryDirectory.make(prefix: "ready")
            defer { try? FileManager.default.removeItem(atPath: data) }
            try await ServiceProcess.with("catalog", environment: ["DATABASE_URL": "sqlite:///\(data)/catalog.db"]) { catalog in
                let deadline = ContinuousClock.now + .seconds(60)
                var ready = false
                while !ready, ContinuousClock.now < deadline, catalog.isRunning {
                    if let answer = try? await catalog.admin("/readyz"), answer.status == .ok { ready = true; break }
                    try await Task.sleep(for: .milliseconds(2))
                }
                #expect(ready, "catalog never became ready: \(catalog.stderr)")
                // Straight after the first 200: the API port must already take a connection.
                let connection = try? RawHTTPConnection(port: catalog.port)
                #expect(connection != nil, "readiness passed before the API port accepted connections")
            }
        }
    }
}
