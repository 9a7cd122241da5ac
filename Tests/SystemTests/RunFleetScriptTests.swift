import Foundation
import ServiceKitTesting
import Testing

/// `make run` and its script start the fleet, wait for readiness, and stop every service, leaving
/// no process behind and every port closed: on a signal to the script, on a signal to `make` alone
/// (GNU make forwards only SIGTERM to its recipe), on Ctrl-C, and when `make` is killed.
/// One fleet at a time: each starts real services, and the machine may have two busy cores.
@Suite(.serialized) struct RunFleetScriptTests {
    /// How a test ends the fleet.
    enum Stop: Sendable, CustomTestStringConvertible {
        /// SIGTERM to the process the test started.
        case sigterm
        /// SIGHUP to the process the test started.
        case sighup
        /// SIGINT to its whole process group, as a terminal sends it.
        case ctrlC
        /// SIGKILL to the process the test started: it can clean nothing up.
        case sigkill

        var testDescription: String {
            switch self {
            case .sigterm: "SIGTERM"
            case .sighup: "SIGHUP"
            case .ctrlC: "Ctrl-C"
            case .sigkill: "SIGKILL"
            }
        }
    }

    @Test(arguments: [Stop.sigterm, .sighup, .ctrlC])
    func theScriptStartsEveryServiceAndASignalStopsThemAllLeavingNoProcessBehind(stop: Stop) async throws {
        try await LocalFleet.with(make: false) { fleet in
            try await fleet.waitUntilReady()
            fleet.send(stop)
            #expect(await fleet.expectEverythingGone() == 0, "exit status; output: \(fleet.process.stderr)")
        }
    }

    @Test(arguments: [Stop.sigterm, .sighup, .ctrlC, .sigkill])
    func makeRunStopsEveryServiceWhenMakeAloneIsSignalledOrKilled(stop: Stop) async throws {
        try await LocalFleet.with(make: true) { fleet in
            try await fleet.waitUntilReady()
            fleet.send(stop)
            await fleet.expectEverythingGone()
            #expect(!FileManager.default.fileExists(atPath: fleet.pidFile), "pid file left behind")
        }
    }
}

/// One fleet for one test: `make run NO_BUILD=1` or `scripts/run-fleet.sh --no-build`, on ports of
/// its own (`FLEET_PORT_OFFSET`), with the built executables (`FLEET_BIN_DIR`) and a temporary
/// `FLEET_DATA_DIR`. Every process seen below the one started is recorded, so that whatever is
/// left when a test fails is killed, also processes that lost their parent.
///
/// Foundation's `Process` learns that its child ended only once every holder of a descriptor the
/// child inherited has closed it, and the script and the services inherit it. So while a service
/// is left running, `waitForExit` and `stop` (which kill and then wait for the exit) can block
/// for ever: whether a process runs is read from /proc instead, and the harness waits for the
/// process it started only once everything recorded has ended or been killed.
private final class LocalFleet {
    let process: ServiceProcess
    let offset: Int
    private let data: String
    /// The process started (make or the script), with its start time.
    private let root: ProcessEntry?
    private var seen: Set<ProcessEntry> = []

    var catalogPort: Int { 8082 + offset }
    var catalogAdmin: Int { 9082 + offset }
    var usersPort: Int { 8081 + offset }
    var usersAdmin: Int { 9081 + offset }
    var ordersPort: Int { 8083 + offset }
    var ordersAdmin: Int { 9083 + offset }
    var gatewayPort: Int { 8080 + offset }
    var gatewayAdmin: Int { 9080 + offset }
    /// The pid file `make run` passes to the script.
    var pidFile: String { BuiltProducts.repositoryRoot + "/.data/run-fleet-\(offset).pid" }

    private init(make: Bool) throws {
        offset = try Self.freeOffset()
        data = try TemporaryDirectory.make(prefix: "run")
        let root = BuiltProducts.repositoryRoot
        let environment = [
            "FLEET_PORT_OFFSET": String(offset), "FLEET_BIN_DIR": BuiltProducts.directory,
            "FLEET_DATA_DIR": data,
        ]
        if make {
            process = try ServiceProcess(try Self.executable("make"), arguments: ["run", "NO_BUILD=1"], environment: environment, directory: root)
        } else {
            process = try ServiceProcess(root + "/scripts/run-fleet.sh", arguments: ["--no-build"], environment: environment)
        }
        let pid = process.pid
        self.root = ProcessEntry.stat(pid).map { ProcessEntry(pid: pid, startTime: $0.startTime, name: $0.name) }
    }

    /// Runs `body` with a started fleet; afterwards kills anything of it still running (when the
    /// test failed) and removes its data, also when `body` throws.
    static func with(make: Bool, _ body: (LocalFleet) async throws -> Void) async throws {
        let fleet = try LocalFleet(make: make)
        defer { fleet.killWhatIsLeft() }
        try await body(fleet)
    }

    /// Waits (up to 2 minutes) for `all services ready`, then checks the catalog answers.
    func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while !process.stderr.contains("all services ready") {
            record()
            try #require(process.isRunning, "ended before the fleet was ready: \(process.stderr)")
            try #require(ContinuousClock.now < deadline, "not ready in time: \(process.stderr)")
            try await Task.sleep(for: .milliseconds(100))
        }
        record()
        for (name, admin) in [("users", usersAdmin), ("catalog", catalogAdmin), ("orders", ordersAdmin), ("gateway", gatewayAdmin)] {
            #expect(process.stderr.contains("\(name) ready"))
            #expect(try await ServiceProcess.request(port: admin, "/readyz").status == .ok)
            #expect(seen.contains { $0.name == name }, "no \(name) process among \(seen)")
        }
        // The gateway reaches every service's API and admin port as the script wired them.
        let status = try await ServiceProcess.request(port: gatewayPort, "/api/status")
        let body = try JSONSerialization.jsonObject(with: Data((status.body ?? .init()).readableBytesView)) as? [String: Any]
        #expect(body?["degraded"] as? [String] == [], "gateway status: \(String(describing: body))")
        #expect((body?["services"] as? [[String: Any]])?.count == 3)
    }

    /// Sends `stop` to the process the test started (to its group for Ctrl-C).
    func send(_ stop: RunFleetScriptTests.Stop) {
        record()
        switch stop {
        case .sigterm: process.signal(SIGTERM)
        case .sighup: process.signal(SIGHUP)
        case .sigkill: process.signal(SIGKILL)
        case .ctrlC:
            // The harness starts each process in a group of its own (its pid): the group holds
            // make, the script and the services, and not the test process.
            #expect(ProcessEntry.stat(process.pid)?.group == process.pid)
            kill(-process.pid, SIGINT)
        }
    }

    /// Waits (up to 1 minute) until the process started, every process seen below it and both
    /// ports are gone, and records what is still there as failures. Then kills what is left and
    /// returns the exit status of the process started.
    @discardableResult
    func expectEverythingGone() async -> Int32? {
        let deadline = ContinuousClock.now + .seconds(60)
        func running() -> [ProcessEntry] { ([root].compactMap { $0 } + seen).filter(\.isRunning).sorted { $0.pid < $1.pid } }
        func openPorts() -> [Int] { [usersPort, usersAdmin, catalogPort, catalogAdmin, ordersPort, ordersAdmin, gatewayPort, gatewayAdmin].filter { (try? RawHTTPConnection(port: $0)) != nil } }
        while (!running().isEmpty || !openPorts().isEmpty) && ContinuousClock.now < deadline {
            record()
            try? await Task.sleep(for: .milliseconds(100))
        }
        #expect(running().isEmpty, "left running: \(running()); output: \(process.stderr)")
        #expect(openPorts().isEmpty, "ports still open: \(openPorts())")
        killWhatIsLeft()
        // Nothing recorded holds the harness's descriptors any more: waiting cannot block.
        return await process.waitForExit(timeout: .seconds(10))
    }

    /// Adds to `seen` every process now below the one started or below one seen before (a
    /// script whose make is gone keeps its services). Only processes still running are looked
    /// under: a pid that ended may already name another process.
    private func record() {
        let parents = ([root].compactMap { $0 } + seen).filter(\.isRunning).map(\.pid)
        seen.formUnion(ProcessEntry.tree(below: parents))
    }

    /// Kills (SIGKILL) every process recorded that still runs, the process started first.
    private func killWhatIsLeft() {
        record()
        if let root, root.isRunning { kill(root.pid, SIGKILL) }
        for entry in seen where entry.isRunning { kill(entry.pid, SIGKILL) }
    }

    deinit {
        killWhatIsLeft()
        try? FileManager.default.removeItem(atPath: data)
    }

    /// An offset whose fleet ports are free, chosen at random so that tests and a fleet the
    /// developer runs (offset 0) do not collide. The ports stay below the kernel's ephemeral range
    /// (32768 and up), where FreePort's ports and outgoing connections live, and away from the
    /// benchmark's (18101-18301).
    private static func freeOffset() throws -> Int {
        for _ in 0..<100 {
            let offset = Int.random(in: 11_000..<23_000)
            if [8080, 9080, 8081, 9081, 8082, 9082, 8083, 9083].map({ $0 + offset }).allSatisfy({ (try? RawHTTPConnection(port: $0)) == nil }) { return offset }
        }
        throw HarnessError("no free port offset")
    }

    /// The path of `name` in PATH.
    private static func executable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(folder)/\(name)") {
            return "\(folder)/\(name)"
        }
        throw HarnessError("\(name) not found in PATH")
    }
}

/// A process as /proc shows it. Its pid and start time together name it: a pid is reused once
/// its process has ended.
private struct ProcessEntry: Hashable, CustomStringConvertible {
    var pid: Int32
    var startTime: UInt64
    var name: String

    var description: String { "\(name) (\(pid))" }

    /// Whether this very process still runs (a zombie has ended).
    var isRunning: Bool {
        guard let now = Self.stat(pid) else { return false }
        return now.startTime == startTime && now.state != "Z" && now.state != "X"
    }

    /// Fields of /proc/<pid>/stat, or nil when there is no such process.
    static func stat(_ pid: Int32) -> (name: String, state: Character, parent: Int32, group: Int32, startTime: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (name) ": state, ppid, pgrp, ...; starttime is the 22nd field of the line.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]), let group = Int32(fields[2]),
              let start = UInt64(fields[19])
        else { return nil }
        return (String(text[text.index(after: open)..<close]), state, parent, group, start)
    }

    /// Every process whose chain of parents leads to one of `roots` (not the roots themselves).
    static func tree(below roots: [Int32]) -> Set<ProcessEntry> {
        var children: [Int32: [ProcessEntry]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), let fields = stat(pid) else { continue }
            children[fields.parent, default: []].append(ProcessEntry(pid: pid, startTime: fields.startTime, name: fields.name))
        }
        var found: Set<ProcessEntry> = []
        var queue = roots
        while let next = queue.popLast() {
            for child in children[next] ?? [] where found.insert(child).inserted {
                queue.append(child.pid)
            }
        }
        return found
    }
}
