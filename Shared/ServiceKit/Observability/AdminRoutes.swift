import Foundation
import Hummingbird
import Logging

/// The admin port's endpoints: probes, Prometheus metrics, build and configuration info, run-time
/// log levels and runtime figures. Served only on `ADMIN_PORT`, never on the API port.
struct AdminRoutes: Sendable {
    let runtime: ServiceRuntime

    func register(_ router: APIRouter) {
        let probes = runtime.probes
        router.on(.get, "/livez") { _, _ in
            try JSONResponse.make(probes.liveness())
        }
        router.on(.get, "/readyz") { _, _ in
            let report = await probes.readiness()
            return try JSONResponse.make(report, status: report.passed ? .ok : .serviceUnavailable)
        }
        router.on(.get, "/healthz") { _, _ in
            let report = await probes.readiness()
            return try JSONResponse.make(HealthReport(report: report, uptime: probes.uptime.seconds), status: report.passed ? .ok : .serviceUnavailable)
        }
        let metrics = runtime.metrics
        router.on(.get, "/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render()))
            )
        }
        let configuration = runtime.configuration
        router.on(.get, "/info") { _, _ in
            try JSONResponse.make(Info(
                name: configuration.serviceName, version: configuration.build.version,
                revision: configuration.build.revision, dirty: configuration.build.dirty, build_date: configuration.build.buildDate,
                swift_version: Self.swiftVersion, config: configuration.maskedEnvironment
            ))
        }
        let levels = runtime.logLevels
        router.on(.get, "/loggers") { _, _ in
            try JSONResponse.make(LoggersState(levels))
        }
        router.on(.put, "/loggers") { request, context in
            let json = try await RequestInputs.readJSON(request, limit: 16 * 1024)
            let change = try LevelChange.validate(json)
            levels.set(change.level.level, for: change.logger)
            context.logger.notice("log level changed", metadata: ["to": .string(change.level.level.rawValue), "target": .string(change.logger ?? "root")])
            return try JSONResponse.make(LoggersState(levels))
        }
        let background = runtime.background
        router.on(.get, "/debug/vars") { _, _ in
            let stats = ProcessStats.read()
            return try JSONResponse.make(RuntimeVars(
                rss_bytes: stats.residentMemoryBytes, virtual_bytes: stats.virtualMemoryBytes,
                heap_bytes: Self.heapBytes(), threads: stats.threads, open_fds: stats.openFileDescriptors,
                cpu_seconds: stats.cpuSeconds, uptime_seconds: probes.uptime.seconds,
                background_tasks: background.runningCount, in_flight_requests: metrics.requestsInFlight
            ))
        }
    }

    static let swiftVersion: String = {
        #if compiler(>=6.3)
            return "6.3"
        #elseif compiler(>=6.2)
            return "6.2"
        #elseif compiler(>=6.1)
            return "6.1"
        #else
            return "6.0"
        #endif
    }()

    /// The data segment (heap and thread stacks) from /proc/self/statm, in bytes.
    static func heapBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 5, let pages = Int(fields[5]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

struct HealthReport: Encodable {
    let status: String
    let checks: [ProbeReport.Check]
    let uptime_seconds: Double

    init(report: ProbeReport, uptime: Double) {
        status = report.status
        checks = report.checks
        uptime_seconds = uptime
    }
}

struct Info: Encodable {
    let name: String
    let version: String
    let revision: String
    let dirty: Bool
    let build_date: String
    let swift_version: String
    let config: [String: String]
}

struct RuntimeVars: Encodable {
    let rss_bytes: Int
    let virtual_bytes: Int
    let heap_bytes: Int
    let threads: Int
    let open_fds: Int
    let cpu_seconds: Double
    let uptime_seconds: Double
    let background_tasks: Int
    let in_flight_requests: Int
}

struct LoggersState: Encodable {
    let level: String
    let loggers: [String: String]

    init(_ levels: LogLevels) {
        let snapshot = levels.snapshot()
        level = snapshot.root.rawValue
        loggers = snapshot.loggers.mapValues(\.rawValue)
    }
}

/// `PUT /loggers` body: `{"level": "debug"}`, optionally with `"logger": "<label>"`.
@Model
struct LevelChange {
    var level: LevelName
    @Field(minLength: 1, maxLength: 200) var logger: String?
}

/// The level names `PUT /loggers` accepts: swift-log's, and `warn` for `warning`.
enum LevelName: String, ModelEnum {
    case trace, debug, info, notice, warn, warning, error, critical

    var level: Logger.Level { self == .warn ? .warning : Logger.Level(rawValue: rawValue) ?? .info }
}
