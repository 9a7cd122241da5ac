import Foundation
import Subprocess

/// A throwaway PostgreSQL cluster for tests: Debian's server binaries, a cluster initialised in a
/// temporary folder, started on a free loopback port (as the `postgres` user when run as root,
/// since PostgreSQL refuses to run as root) and removed when stopped.
public final class PostgresServer: Sendable {
    /// `postgres://fleet@127.0.0.1:<port>/postgres?tlsmode=disable`.
    public let url: String
    private let binaries: String
    private let directory: String
    private let runAs: String?

    private init(url: String, binaries: String, directory: String, runAs: String?) {
        self.url = url
        self.binaries = binaries
        self.directory = directory
        self.runAs = runAs
    }

    /// Runs `body` with a fresh server and stops it afterwards, also when `body` throws.
    public static func with<Value>(_ body: (PostgresServer) async throws -> Value) async throws -> Value {
        let server = try await start()
        do {
            let value = try await body(server)
            await server.stop()
            return value
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Initialises and starts a cluster.
    public static func start() async throws -> PostgresServer {
        let binaries = try await locateBinaries()
        let runAs: String? = getuid() == 0 ? "postgres" : nil
        let directory = NSTemporaryDirectory() + "fleet-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let runAs {
            try FileManager.default.setAttributes([.ownerAccountName: runAs, .posixPermissions: 0o700], ofItemAtPath: directory)
        }
        let port = try FreePort.next()
        let server = PostgresServer(
            url: "postgres://fleet@127.0.0.1:\(port)/postgres?tlsmode=disable",
            binaries: binaries, directory: directory, runAs: runAs
        )
        do {
            try await server.run("initdb", ["-D", "\(directory)/data", "-U", "fleet", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
            try await server.run("pg_ctl", [
                "-D", "\(directory)/data", "-l", "\(directory)/server.log", "-w", "-t", "60",
                "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                "start",
            ])
        } catch {
            await server.stop()
            throw error
        }
        return server
    }

    /// Stops the server at once and removes its folder.
    public func stop() async {
        _ = try? await run("pg_ctl", ["-D", "\(directory)/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func run(_ tool: String, _ arguments: [String]) async throws {
        var command = ["\(binaries)/\(tool)"] + arguments
        if let runAs { command = ["runuser", "-u", runAs, "--"] + command }
        let result = try await Command.run(command)
        guard result.status == 0 else {
            throw HarnessError("\(tool) failed (\(result.status)): \(result.output)")
        }
    }

    /// The newest installed server's bin folder; installs Debian's `postgresql` when missing and root.
    static func locateBinaries() async throws -> String {
        if let found = newestInstalled() { return found }
        guard getuid() == 0 else {
            throw HarnessError("PostgreSQL is not installed; run: sudo apt-get install -y postgresql")
        }
        let install = try await Command.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
            environment: ["DEBIAN_FRONTEND": "noninteractive"]
        )
        guard install.status == 0, let found = newestInstalled() else {
            throw HarnessError("installing postgresql failed: \(install.output)")
        }
        return found
    }

    private static func newestInstalled() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        return nil
    }
}
