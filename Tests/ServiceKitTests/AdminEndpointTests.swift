import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Testing

/// The admin port: probes, metrics, info, loggers, runtime figures.
@Suite struct AdminEndpointTests {
    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func readinessIs503UntilMigrationsAreDoneAndAgainOnceShutdownBegins() async throws {
        let service = try InProcessService.make(DemoService.definition)
        do {
            try await service.admin { client async throws in
                let before = try await client.execute(uri: "/readyz", method: .get)
                #expect(before.status == .serviceUnavailable)
                let body = try json(before.body)
                #expect(body["status"] as? String == "fail")
                let checks = try #require(body["checks"] as? [[String: Any]])
                #expect(checks.map { $0["name"] as? String } == ["shutdown", "migrations", "serving", "database"])
                #expect(checks.allSatisfy { $0["duration_ms"] is Double || $0["duration_ms"] is Int })
            }
            try await service.migrate()
            try await service.admin { client async throws in
                #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
                #expect(try await client.execute(uri: "/livez", method: .get).status == .ok)
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            }
            service.runtime.probes.beginShutdown()
            try await service.admin { client async throws in
                #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
                #expect(try await client.execute(uri: "/livez", method: .get).status == .ok)
            }
        } catch {
            await service.close()
            throw error
        }
        await service.close()
    }

    @Test func aFailingCheckIsNamedWithItsError() async throws {
        var definition = DemoService.definition
        definition.readinessChecks = { _ in [HealthCheck("peer:users") { throw HarnessError("connection refused") }] }
        try await InProcessService.with(definition) { service in
            try await service.admin { client async throws in
                let response = try await client.execute(uri: "/readyz", method: .get)
                #expect(response.status == .serviceUnavailable)
                let checks = try #require(try json(response.body)["checks"] as? [[String: Any]])
                let peer = try #require(checks.first { $0["name"] as? String == "peer:users" })
                #expect(peer["status"] as? String == "fail")
                #expect((peer["error"] as? String)?.contains("connection refused") == true)
            }
        }
    }

    @Test func metricsLabelRequestsByRouteTemplateNotRawPath() async throws {
        try await InProcessService.with(DemoService.definition) { service in
            try await service.api { client async throws in
                _ = try await client.execute(uri: "/things/41", method: .get)
                _ = try await client.execute(uri: "/things/42", method: .get)
                _ = try await client.execute(uri: "/missing/1", method: .get)
            }
            try await service.admin { client async throws in
                let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                #expect(text.contains(#"http_server_request_duration_seconds_count{http_route="/things/{id}",http_request_method="GET",http_response_status_code="404"} 2"#))
                #expect(!text.contains("/things/41"))
                #expect(!text.contains("/missing/1"))
                #expect(text.contains(#"build_info{version="test",revision="test"} 1"#))
                for name in ["http_server_active_requests", "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds", "background_tasks_in_flight"] {
                    #expect(text.contains("# TYPE \(name) "), "missing \(name)")
                }
            }
        }
    }

    @Test func adminPathsDoNotAnswerOnTheAPIPort() async throws {
        try await InProcessService.with(DemoService.definition) { service in
            try await service.api { client async throws in
                for path in ["/metrics", "/livez", "/readyz", "/healthz", "/info", "/loggers", "/debug/vars"] {
                    #expect(try await client.execute(uri: path, method: .get).status == .notFound, "\(path)")
                }
            }
        }
    }

    @Test func loggersAreReadAndSetAtRunTimeAndAnUnknownLevelChangesNothing() async throws {
        try await InProcessService.with(DemoService.definition) { service in
            try await service.admin { client async throws in
                let initial = try json(try await client.execute(uri: "/loggers", method: .get).body)
                #expect(initial["level"] as? String == "info")
                let set = try await client.execute(uri: "/loggers", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"level": "warn"}"#))
                #expect(set.status == .ok)
                #expect(try json(set.body)["level"] as? String == "warning")
                let one = try await client.execute(uri: "/loggers", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"level": "debug", "logger": "sql"}"#))
                #expect((try json(one.body)["loggers"] as? [String: String])?["sql"] == "debug")
                let bad = try await client.execute(uri: "/loggers", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"level": "loud"}"#))
                #expect(bad.status == .unprocessableContent)
                let after = try json(try await client.execute(uri: "/loggers", method: .get).body)
                #expect(after["level"] as? String == "warning")
            }
        }
    }

    @Test func infoShowsTheBuildAndMasksSecrets() async throws {
        try await InProcessService.with(DemoService.definition, configure: { configuration in
            configuration.environment = ["JWT_PRIVATE_KEY": "-----BEGIN KEY", "LOG_LEVEL": "info"]
        }) { service in
            try await service.admin { client async throws in
                let info = try json(try await client.execute(uri: "/info", method: .get).body)
                #expect(info["name"] as? String == "demo")
                #expect(info["version"] as? String == "test")
                for key in ["revision", "build_date", "swift_version"] { #expect(info[key] is String, "\(key)") }
                let config = try #require(info["config"] as? [String: String])
                #expect(config["JWT_PRIVATE_KEY"] == "***")
                #expect(config["LOG_LEVEL"] == "info")
            }
        }
    }

    @Test func debugVarsReportRuntimeFigures() async throws {
        try await InProcessService.with(DemoService.definition) { service in
            try await service.admin { client async throws in
                let vars = try json(try await client.execute(uri: "/debug/vars", method: .get).body)
                #expect((vars["rss_bytes"] as? Int ?? 0) > 0)
                #expect((vars["threads"] as? Int ?? 0) > 0)
                #expect((vars["open_fds"] as? Int ?? 0) > 0)
                #expect(vars["background_tasks"] as? Int == 0)
            }
        }
    }
}
