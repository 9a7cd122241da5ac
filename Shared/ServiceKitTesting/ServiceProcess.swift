import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A real service process for system tests: started from the built executable with a chosen
/// environment, its stdout and stderr captured line by line, stopped (and killed if it must be)
/// when the test is done, whether or not it passed.
public final class ServiceProcess: @unchecked Sendable {
    /// API port.
    public let port: Int
    /// Admin port.
    public let adminPort: Int
    private let process: Process
    private let lock = NSLock()
    private var stdoutBuffer = Data()
    private var stderrBuffer = Data()
    /// How many of the two output pipes have reached end of file.
    private var pipesClosed = 0

    /// Starts `executable` (a product name under the build folder, or a path) with `environment`
    /// on top of a minimal one; `PORT` and `ADMIN_PORT` are free loopback ports unless given.
    public init(_ executable: String, arguments: [String] = [], environment: [String: String] = [:], directory: String? = nil) throws {
        let port = try environment["PORT"].flatMap(Int.init) ?? FreePort.next()
        let adminPort = try environment["ADMIN_PORT"].flatMap(Int.init) ?? FreePort.next()
        self.port = port
        self.adminPort = adminPort
        process = Process()
        // Through `env --default-signal`: the test process may ignore SIGTERM (swift-service-lifecycle
        // ignores the signals it watches), ignored signals are inherited, and a shell cannot trap a
        // signal that was ignored when it started.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal=TERM,INT,HUP", executable.contains("/") ? executable : BuiltProducts.path(executable)] + arguments
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PORT": String(port), "ADMIN_PORT": String(adminPort)]
        env.merge(environment) { _, new in new }
        process.environment = env
        let workDirectory = try directory ?? TemporaryDirectory.make(prefix: "proc")
        process.currentDirectoryURL = URL(fileURLWithPath: workDirectory)
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        drain(out.fileHandleForReading) { [weak self] data in self?.lock.withLock { self?.stdoutBuffer.append(data) } }
        drain(err.fileHandleForReading) { [weak self] data in self?.lock.withLock { self?.stderrBuffer.append(data) } }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether it is still running.
    public var isRunning: Bool { process.isRunning }

    /// Complete stdout lines so far.
    public var stdoutLines: [String] {
        lock.withLock { String(decoding: stdoutBuffer, as: UTF8.self) }.split(separator: "\n").map(String.init)
    }

    /// Everything written to stderr so far.
    public var stderr: String {
        lock.withLock { String(decoding: stderrBuffer, as: UTF8.self) }
    }

    /// Waits until `/readyz` answers 200 on the admin port.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard isRunning else { throw HarnessError("process exited (\(process.terminationStatus)) before ready: \(stderr) \(stdoutLines.suffix(3).joined(separator: "\n"))") }
            if let response = try? await admin("/readyz"), response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("not ready within \(timeout)")
    }

    /// One request to the admin port.
    public func admin(_ path: String, method: HTTPRequest.Method = .get, body: String? = nil) async throws -> TestClient.Response {
        try await Self.request(port: adminPort, path, method: method, body: body)
    }

    /// One request to the API port.
    public func api(_ path: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:], body: String? = nil) async throws -> TestClient.Response {
        try await Self.request(port: port, path, method: method, headers: headers, body: body)
    }

    /// One request on a new connection to `127.0.0.1:port`.
    public static func request(port: Int, _ path: String, method: HTTPRequest.Method = .get, headers: HTTPFields = [:], body: String? = nil) async throws -> TestClient.Response {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(30))) { client in
            var fields = headers
            if body != nil, fields[.contentType] == nil { fields[.contentType] = "application/json" }
            return try await client.execute(.init(path, method: method, headers: fields, body: body.map { ByteBuffer(string: $0) }))
        }
    }

    /// One request with a body of raw bytes (a gzipped one, say) on a new connection.
    public static func request(port: Int, _ path: String, method: HTTPRequest.Method = .post, headers: HTTPFields = [:], bytes: ByteBuffer) async throws -> TestClient.Response {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(30))) { client in
            try await client.execute(.init(path, method: method, headers: headers, body: bytes))
        }
    }

    /// Sends a signal (SIGTERM by default).
    public func signal(_ signal: Int32 = SIGTERM) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to end; kills it after `timeout` and returns nil.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        // The process has exited, but its last output may still be in the pipes: wait until both
        // are read to the end (a child that inherited them may hold them open; not past 2 s).
        let drained = ContinuousClock.now + .seconds(2)
        while lock.withLock({ pipesClosed }) < 2, ContinuousClock.now < drained {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }

    /// SIGTERM, then wait; SIGKILL if it does not end in time. Safe to call more than once.
    @discardableResult
    public func stop(timeout: Duration = .seconds(30)) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        signal(SIGTERM)
        return await waitForExit(timeout: timeout)
    }

    private func drain(_ handle: FileHandle, _ sink: @escaping @Sendable (Data) -> Void) {
        Thread { [weak self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                sink(data)
            }
            self?.lock.withLock { self?.pipesClosed += 1 }
        }.start()
    }

    /// Runs `body` with a started process and stops it afterwards, also when `body` throws.
    public static func with<Value>(
        _ executable: String, environment: [String: String] = [:], directory: String? = nil,
        _ body: (ServiceProcess) async throws -> Value
    ) async throws -> Value {
        let process = try ServiceProcess(executable, environment: environment, directory: directory)
        do {
            let value = try await body(process)
            await process.stop()
            return value
        } catch {
            await process.stop(timeout: .seconds(5))
            throw error
        }
    }
}

/// Where `swift build` put the executables the system tests start.
public enum BuiltProducts {
    /// The build folder: `FLEET_BIN_DIR`, else the folder of the running test bundle.
    public static var directory: String {
        if let configured = ProcessInfo.processInfo.environment["FLEET_BIN_DIR"], !configured.isEmpty { return configured }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // The test binary may sit inside a `.xctest` bundle folder; the build folder holds the
        // modules SwiftPM built (ServiceKit's among them).
        while folder.path != "/" && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("ServiceKit.build").path) {
            folder.deleteLastPathComponent()
        }
        return folder.path
    }

    /// The path of executable `name`.
    public static func path(_ name: String) -> String { directory + "/" + name }

    /// The repository root (holds Package.swift), for scripts the tests run.
    public static var repositoryRoot: String {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while folder.path != "/" && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            folder.deleteLastPathComponent()
        }
        return folder.path
    }
}
