// client-bench: CurlHTTP against AsyncHTTPClient, GET on the same loopback server, in one process.
//
// For each in-flight count both clients get a warm-up, then four measured segments in the order
// A B B A (which client is A alternates per row), so drift in the machine's load falls on both.
// Every loop stops at a deadline or a request count, whichever comes first.
import AsyncHTTPClient
import CurlHTTP
import Foundation
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Options

struct Options {
    var url = "http://127.0.0.1:18301/hello"
    /// Measured seconds per client per row, split over two segments.
    var duration = 10.0
    var warmup = 2.0
    var concurrencies = [1, 16, 64]
    /// Requests per segment at most, which also bounds the latency arrays.
    var maxRequests = 2_000_000
    var out = "."
    /// "both", or one client alone (for profiling one of them): "curl" or "ahc".
    var only = "both"

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.dropFirst().makeIterator()
        func value(_ flag: String) -> String {
            guard let value = iterator.next() else { fail("\(flag) needs a value") }
            return value
        }
        while let flag = iterator.next() {
            switch flag {
            case "--url": options.url = value(flag)
            case "--duration": options.duration = required(Double(value(flag)), "--duration: seconds")
            case "--warmup": options.warmup = required(Double(value(flag)), "--warmup: seconds")
            case "--concurrency":
                options.concurrencies = value(flag).split(separator: ",").map { required(Int($0), "--concurrency: e.g. 1,16,64") }
            case "--max-requests": options.maxRequests = required(Int(value(flag)), "--max-requests: a count")
            case "--out": options.out = value(flag)
            case "--client":
                options.only = value(flag)
                guard ["both", "curl", "ahc"].contains(options.only) else { fail("--client: both, curl or ahc") }
            case "-h", "--help":
                print("usage: client-bench --url http://127.0.0.1:PORT/PATH [--duration S] [--warmup S] [--concurrency 1,16,64] [--max-requests N] [--out DIR] [--client both|curl|ahc]")
                exit(0)
            default: fail("unknown option \(flag)")
            }
        }
        // Load goes to this machine only, never to anything else on the network.
        guard let host = URLComponents(string: options.url)?.host, host == "127.0.0.1" || host == "localhost" else {
            fail("--url must point at 127.0.0.1")
        }
        guard options.duration > 0, options.warmup >= 0, options.maxRequests > 0, options.concurrencies.allSatisfy({ $0 > 0 && $0 <= 1024 }) else {
            fail("durations, counts and in-flight numbers must be positive")
        }
        return options
    }
}

func required<Value>(_ value: Value?, _ message: String) -> Value {
    guard let value else { fail(message) }
    return value
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("client-bench: \(message)\n".utf8))
    exit(2)
}

// MARK: - Clients

/// One GET of the whole body; true when the answer was a 200.
protocol BenchClient: Sendable {
    var name: String { get }
    func get() async throws -> Bool
    func shutdown() async throws
}

struct CurlBench: BenchClient {
    let name = "CurlHTTP"
    let client: CurlClient
    let request: ClientRequest

    init(url: String) {
        var configuration = ClientConfiguration()
        // Metrics stay at their default: the process-wide MetricsSystem, which is a no-op unbootstrapped.
        configuration.retry = .none
        client = CurlClient(configuration: configuration)
        request = ClientRequest(url: url)
    }

    func get() async throws -> Bool {
        let response = try await client.execute(request)
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status.code == 200
    }

    func shutdown() async throws { await client.shutdown() }
}

struct AHCBench: BenchClient {
    let name = "AsyncHTTPClient"
    let client: HTTPClient
    let request: HTTPClientRequest

    init(url: String, connections: Int) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(64, connections))
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(10))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        request = HTTPClientRequest(url: url)
    }

    func get() async throws -> Bool {
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status.code == 200
    }

    func shutdown() async throws { try await client.shutdown() }
}

// MARK: - Measuring

/// The whole process's user plus system CPU time in microseconds, and its context switches
/// (voluntary and not), which count the thread hand-offs a request costs.
func processUsage() -> (cpuMicroseconds: Int64, contextSwitches: Int64) {
    var usage = rusage()
    #if os(Linux)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func micros(_ time: timeval) -> Int64 { Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_usec) }
    return (micros(usage.ru_utime) + micros(usage.ru_stime), Int64(usage.ru_nvcsw + usage.ru_nivcsw))
}

extension Duration {
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

/// What one load loop measured.
struct Segment {
    var latencies: [Int64] = []
    var errors = 0
    var elapsedNanoseconds: Int64 = 0
    var cpuMicroseconds: Int64 = 0
    var contextSwitches: Int64 = 0
}

/// Shared by the workers of one loop: requests started so far.
final class Issued: Sendable {
    let count = Atomic<Int>(0)
}

/// `concurrency` workers each sending one request after another until `seconds` pass or
/// `maxRequests` have been started.
func load(_ client: some BenchClient, concurrency: Int, seconds: Double, maxRequests: Int) async -> Segment {
    let issued = Issued()
    let clock = ContinuousClock()
    let begin = clock.now
    let deadline = begin + .milliseconds(Int64(seconds * 1000))
    let before = processUsage()
    let perWorker = min(maxRequests / concurrency + 1, 1 << 16)
    var segment = await withTaskGroup(of: Segment.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                var mine = Segment()
                mine.latencies.reserveCapacity(perWorker)
                while clock.now < deadline, issued.count.wrappingAdd(1, ordering: .relaxed).oldValue < maxRequests {
                    let sent = clock.now
                    do {
                        if try await client.get() {
                            mine.latencies.append((clock.now - sent).nanoseconds)
                        } else {
                            mine.errors += 1
                        }
                    } catch {
                        mine.errors += 1
                    }
                }
                return mine
            }
        }
        var all = Segment()
        all.latencies.reserveCapacity(min(maxRequests, 1 << 20))
        for await worker in group {
            all.latencies.append(contentsOf: worker.latencies)
            all.errors += worker.errors
        }
        return all
    }
    segment.elapsedNanoseconds = (clock.now - begin).nanoseconds
    let after = processUsage()
    segment.cpuMicroseconds = after.cpuMicroseconds - before.cpuMicroseconds
    segment.contextSwitches = after.contextSwitches - before.contextSwitches
    return segment
}

struct Row: Codable {
    var concurrency: Int
    var client: String
    var requests: Int
    var errors: Int
    var seconds: Double
    var requestsPerSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    var cpuMicrosecondsPerRequest: Double
    var contextSwitchesPerRequest: Double

    init(concurrency: Int, client: String, segments: [Segment]) {
        var latencies = segments.flatMap(\.latencies)
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return .nan }
            let rank = Int((p * Double(latencies.count)).rounded(.up)) - 1
            return Double(latencies[min(max(rank, 0), latencies.count - 1)]) / 1e6
        }
        self.concurrency = concurrency
        self.client = client
        requests = latencies.count
        errors = segments.map(\.errors).reduce(0, +)
        seconds = Double(segments.map(\.elapsedNanoseconds).reduce(0, +)) / 1e9
        requestsPerSecond = seconds > 0 ? Double(requests) / seconds : 0
        p50Milliseconds = percentile(0.50)
        p99Milliseconds = percentile(0.99)
        let cpu = Double(segments.map(\.cpuMicroseconds).reduce(0, +))
        cpuMicrosecondsPerRequest = requests > 0 ? cpu / Double(requests) : .nan
        let switches = Double(segments.map(\.contextSwitches).reduce(0, +))
        contextSwitchesPerRequest = requests > 0 ? switches / Double(requests) : .nan
    }
}

// MARK: - Output

func format(_ value: Double, _ digits: Int) -> String {
    value.isFinite ? String(format: "%.\(digits)f", value) : "n/a"
}

func markdown(_ rows: [Row], options: Options) -> String {
    var lines = [
        "GET \(URLComponents(string: options.url)?.path ?? options.url) on bare Hummingbird, "
            + "\(format(options.duration, 0)) s measured per client per row (two segments, A B B A), "
            + "\(format(options.warmup, 0)) s warm-up each; CPU is the client process's user+sys time (getrusage).",
        "",
        "| in flight | metric | CurlHTTP | AsyncHTTPClient | CurlHTTP/AHC | CurlHTTP ahead |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for concurrency in options.concurrencies {
        guard let curl = rows.first(where: { $0.concurrency == concurrency && $0.client == "CurlHTTP" }),
            let ahc = rows.first(where: { $0.concurrency == concurrency && $0.client == "AsyncHTTPClient" })
        else { continue }
        let metrics: [(String, Double, Double, Int, Bool)] = [
            ("req/s", curl.requestsPerSecond, ahc.requestsPerSecond, 0, true),
            ("p50 ms", curl.p50Milliseconds, ahc.p50Milliseconds, 3, false),
            ("p99 ms", curl.p99Milliseconds, ahc.p99Milliseconds, 3, false),
            ("CPU µs/req", curl.cpuMicrosecondsPerRequest, ahc.cpuMicrosecondsPerRequest, 1, false),
        ]
        for (name, a, b, digits, higherIsBetter) in metrics {
            let ratio = b > 0 ? a / b : .nan
            let ahead = higherIsBetter ? a > b : a < b
            lines.append("| \(concurrency) | \(name) | \(format(a, digits)) | \(format(b, digits)) | \(format(ratio, 2))× | \(ahead ? "yes" : "**no**") |")
        }
        if curl.errors + ahc.errors > 0 {
            lines.append("| \(concurrency) | errors | \(curl.errors) | \(ahc.errors) | | |")
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

func write(_ text: String, to name: String, in directory: String) {
    let path = (directory as NSString).appendingPathComponent(name)
    do {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
        fail("cannot write \(path): \(error)")
    }
}

// MARK: - Run

let options = Options.parse(CommandLine.arguments)
do {
    try FileManager.default.createDirectory(atPath: options.out, withIntermediateDirectories: true)
} catch {
    fail("cannot create \(options.out): \(error)")
}
var clients: [any BenchClient] = []
if options.only != "ahc" { clients.append(CurlBench(url: options.url)) }
if options.only != "curl" { clients.append(AHCBench(url: options.url, connections: options.concurrencies.max() ?? 64)) }
for client in clients {
    do {
        guard try await client.get() else { fail("\(client.name): \(options.url) did not answer 200") }
    } catch {
        fail("\(client.name): \(options.url): \(error)")
    }
}

var rows: [Row] = []
var log: [String] = []
@MainActor func note(_ line: String) {
    log.append(line)
    FileHandle.standardError.write(Data("client-bench: \(line)\n".utf8))
}

for (index, concurrency) in options.concurrencies.enumerated() {
    let order = index.isMultiple(of: 2) ? clients : clients.reversed()
    for client in order where options.warmup > 0 {
        _ = await load(client, concurrency: concurrency, seconds: options.warmup, maxRequests: options.maxRequests)
    }
    var segments: [String: [Segment]] = [:]
    for client in order + order.reversed() {
        let segment = await load(client, concurrency: concurrency, seconds: options.duration / 2, maxRequests: options.maxRequests)
        segments[client.name, default: []].append(segment)
        let seconds = Double(segment.elapsedNanoseconds) / 1e9
        note("\(concurrency) in flight, \(client.name): \(segment.latencies.count) ok, \(segment.errors) errors in "
            + "\(format(seconds, 2)) s = \(format(Double(segment.latencies.count) / seconds, 0)) req/s, "
            + "CPU \(format(Double(segment.cpuMicroseconds) / Double(max(segment.latencies.count, 1)), 1)) µs/req, "
            + "\(format(Double(segment.contextSwitches) / Double(max(segment.latencies.count, 1)), 2)) context switches/req")
    }
    for client in clients {
        rows.append(Row(concurrency: concurrency, client: client.name, segments: segments[client.name] ?? []))
    }
}
for client in clients {
    try? await client.shutdown()
}

let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
// A row with no successful request has no percentiles.
encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
let json = try encoder.encode(rows)
write(String(decoding: json, as: UTF8.self) + "\n", to: "client.json", in: options.out)
write(log.joined(separator: "\n") + "\n", to: "client.txt", in: options.out)
let table = markdown(rows, options: options)
write(table, to: "client.md", in: options.out)
print(table, terminator: "")
