import Foundation
import ServiceKitTesting
import Testing

/// `make run`'s script starts the fleet, waits for readiness and stops everything on SIGTERM.
@Suite struct RunFleetScriptTests {
    @Test func theScriptStartsEveryServiceAndLeavesNoProcessBehind() async throws {
        let offset = 20_000 + Int.random(in: 0..<20_000)
        let root = BuiltProducts.repositoryRoot
        let data = try TemporaryDirectory.make(prefix: "run")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let script = try ServiceProcess(
            root + "/scripts/run-fleet.sh",
            arguments: ["--no-build"],
            environment: [
                "FLEET_PORT_OFFSET": String(offset), "FLEET_BIN_DIR": BuiltProducts.directory,
                "DATABASE_URL": "sqlite:///\(data)/fleet.db",
            ]
        )
        let catalogAdmin = 9082 + offset
        let deadline = ContinuousClock.now + .seconds(60)
        while !script.stderr.contains("all services ready") {
            #expect(script.isRunning, "script ended early: \(script.stderr)")
            guard script.isRunning, ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(script.stderr.contains("catalog ready"))
        #expect(try await ServiceProcess.request(port: catalogAdmin, "/readyz").status == .ok)
        let children = try await Command.run(["pgrep", "-P", String(script.pid)]).output
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(!children.isEmpty)

        script.signal(SIGTERM)
        let status = await script.waitForExit(timeout: .seconds(30))
        #expect(status == 0)
        try await Task.sleep(for: .milliseconds(100))
        for child in children {
            let alive = FileManager.default.fileExists(atPath: "/proc/\(child)") && !(((try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? "").contains(") Z "))
            #expect(!alive, "process \(child) was left running")
        }
        await #expect(throws: (any Error).self) { _ = try await ServiceProcess.request(port: catalogAdmin, "/readyz") }
    }
}
