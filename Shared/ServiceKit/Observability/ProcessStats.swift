import Foundation
import Prometheus
import Synchronization

/// Figures about this process read from Linux's /proc: memory, CPU time, threads, descriptors.
public struct ProcessStats: Sendable {
    /// Resident set size in bytes.
    public var residentMemoryBytes: Int
    /// Virtual memory size in bytes.
    public var virtualMemoryBytes: Int
    /// User plus system CPU time in seconds.
    public var cpuSeconds: Double
    /// Threads in the process.
    public var threads: Int
    /// Open file descriptors.
    public var openFileDescriptors: Int
    /// The soft limit on file descriptors.
    public var maxFileDescriptors: Int
    /// Process start, seconds since the Unix epoch.
    public var startTimeSeconds: Double

    /// Reads the current figures; zeros where /proc is missing (not Linux).
    public static func read() -> ProcessStats {
        var stats = ProcessStats(
            residentMemoryBytes: 0, virtualMemoryBytes: 0, cpuSeconds: 0, threads: 0,
            openFileDescriptors: 0, maxFileDescriptors: 0, startTimeSeconds: 0
        )
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after the command name, which may itself hold spaces and parentheses.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double { Double(fields[number - 3]) ?? 0 }
            if fields.count > 22 {
                stats.cpuSeconds = (field(14) + field(15)) / ticks
                stats.threads = Int(field(20))
                stats.virtualMemoryBytes = Int(field(23))
                stats.residentMemoryBytes = Int(field(24)) * pageSize
                stats.startTimeSeconds = bootTime + field(22) / ticks
            }
        }
        stats.openFileDescriptors = max(0, ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count ?? 1) - 1)
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            stats.maxFileDescriptors = Int(clamping: limit.rlim_cur)
        }
        return stats
    }

    private static let bootTime: Double = {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }()
}

/// The standard `process_*` metrics, refreshed from /proc at each scrape.
final class ProcessMetrics: Sendable {
    private let resident: Gauge
    private let virtual: Gauge
    private let cpu: Counter
    private let threads: Gauge
    private let openFDs: Gauge
    private let maxFDs: Gauge
    private let start: Gauge
    private let lastCPU = Mutex<Double>(0)

    init(registry: PrometheusCollectorRegistry) {
        resident = registry.makeGauge(descriptor: .named("process_resident_memory_bytes", "Resident memory size in bytes."))
        virtual = registry.makeGauge(descriptor: .named("process_virtual_memory_bytes", "Virtual memory size in bytes."))
        cpu = registry.makeCounter(descriptor: .named("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."))
        threads = registry.makeGauge(descriptor: .named("process_threads", "Number of OS threads in the process."))
        openFDs = registry.makeGauge(descriptor: .named("process_open_fds", "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: .named("process_max_fds", "Maximum number of open file descriptors."))
        start = registry.makeGauge(descriptor: .named("process_start_time_seconds", "Start time of the process since unix epoch in seconds."))
    }

    func update() {
        let stats = ProcessStats.read()
        resident.set(Double(stats.residentMemoryBytes))
        virtual.set(Double(stats.virtualMemoryBytes))
        threads.set(Double(stats.threads))
        openFDs.set(Double(stats.openFileDescriptors))
        maxFDs.set(Double(stats.maxFileDescriptors))
        start.set(stats.startTimeSeconds)
        // The counter only moves forward: add what CPU time grew by since the last scrape.
        let delta = lastCPU.withLock { last -> Double in
            let grown = max(0, stats.cpuSeconds - last)
            last = max(last, stats.cpuSeconds)
            return grown
        }
        if delta > 0 { cpu.increment(by: delta) }
    }
}
