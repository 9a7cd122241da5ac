import CurlHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceKitTesting
import ServiceLifecycle
import Synchronization

/// A request context that remembers the client's port, so tests can count connections.
struct ConnectionContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remotePort: Int

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remotePort = source.channel.remoteAddress?.port ?? 0
    }
}

/// What the loopback test server saw.
final class ServerLedger: Sendable {
    let hits = Atomic<Int>(0)
    let ports = Mutex<Set<Int>>([])
    let lastHeaders = Mutex<HTTPFields>([:])
    /// How many of the next `/flaky` answers are 503.
    let failuresLeft = Atomic<Int>(0)
    /// Whether `/status` answers 500 (true) or 200.
    let failing = Atomic<Bool>(false)
}

/// The answer that `/gzip` sends compressed: "compressed hello! " 200 times, gzip'd by Python.
let gzipPayload = Data(base64Encoded: "H4sIAAAAAAACA+3IwQkAMAgEwVZMbebAh8EQ+4cU4s5zvM596ta2UGYtc4ZhGIZhGIZhGGbAfI2fnwMQDgAA")!
let gzipPlainText = String(repeating: "compressed hello! ", count: 200)

/// A Hummingbird app on a free loopback port with the endpoints the client tests need.
func withTestServer(_ body: @Sendable (_ baseURL: String, _ ledger: ServerLedger) async throws -> Void) async throws {
    let ledger = ServerLedger()
    let router = Router(context: ConnectionContext.self)
    router.middlewares.add(LedgerMiddleware(ledger: ledger))
    router.get("/echo/{n}") { _, context in
        try context.parameters.require("n")
    }
    router.post("/json") { request, context -> Response in
        let body = try await request.body.collect(upTo: 1 << 20)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }
    router.get("/headers") { request, _ -> Response in
        var fields: [String: String] = [:]
        for field in request.headers { fields[field.name.canonicalName] = field.value }
        let data = try JSONEncoder().encode(fields)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }
    router.get("/gzip") { request, _ -> Response in
        guard request.headers[.acceptEncoding]?.contains("gzip") == true else { return Response(status: .notAcceptable) }
        return Response(status: .ok, headers: [.contentEncoding: "gzip", .contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(data: gzipPayload)))
    }
    router.get("/slow") { request, _ -> String in
        let ms = request.uri.queryParameters.get("ms", as: Int.self) ?? 2000
        try await Task.sleep(for: .milliseconds(ms))
        return "late"
    }
    router.get("/flaky") { _, _ -> Response in
        if ledger.failuresLeft.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 {
            return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "try later")))
        }
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }
    router.post("/flaky") { _, _ -> Response in
        if ledger.failuresLeft.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 {
            return Response(status: .serviceUnavailable)
        }
        return Response(status: .ok)
    }
    router.get("/status") { _, _ -> Response in
        Response(status: ledger.failing.load(ordering: .relaxed) ? .internalServerError : .ok)
    }
    router.get("/bytes/{count}") { _, context -> Response in
        let count = try context.parameters.require("count", as: Int.self)
        return Response(status: .ok, headers: [.contentLength: String(count)], body: ResponseBody(contentLength: count) { writer in
            let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)
            var left = count
            while left > 0 {
                let size = min(left, chunk.readableBytes)
                try await writer.write(chunk.getSlice(at: 0, length: size)!)
                left -= size
            }
            try await writer.finish(nil)
        })
    }
    router.put("/count") { request, _ -> String in
        var total = 0
        for try await chunk in request.body { total += chunk.readableBytes }
        return String(total)
    }
    router.post("/count") { request, _ -> String in
        var total = 0
        for try await chunk in request.body { total += chunk.readableBytes }
        return String(total)
    }
    // A plain server, not HummingbirdTesting's live framework: that one keeps a connection of its
    // own open to the server, which would blur the connection counts these tests rely on.
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: "test-server")
    logger.logLevel = .warning
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
    let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CurlHTTPError.connectionRefused }
        do {
            try await body("http://127.0.0.1:\(port)", ledger)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

struct LedgerMiddleware: RouterMiddleware {
    typealias Context = ConnectionContext
    let ledger: ServerLedger

    func handle(_ request: Request, context: ConnectionContext, next: (Request, ConnectionContext) async throws -> Response) async throws -> Response {
        ledger.hits.add(1, ordering: .relaxed)
        ledger.ports.withLock { _ = $0.insert(context.remotePort) }
        ledger.lastHeaders.withLock { $0 = request.headers }
        return try await next(request, context)
    }
}

/// A TCP server that accepts connections and closes each as soon as a request arrives: a peer
/// that crashes mid-exchange. Counts the connections it accepted.
final class DroppingServer: Sendable {
    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private let counter: Counter
    private let channel: any Channel
    var port: Int { channel.localAddress!.port! }
    /// Connections accepted so far.
    var accepted: Int { counter.value.load(ordering: .relaxed) }

    init() async throws {
        let counter = Counter()
        self.counter = counter
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.value.add(1, ordering: .relaxed)
                return channel.pipeline.addHandler(CloseOnRead())
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async throws {
        try await channel.close()
    }

    static func with(_ body: (DroppingServer) async throws -> Void) async throws {
        let server = try await DroppingServer()
        do {
            try await body(server)
            try await server.close()
        } catch {
            try? await server.close()
            throw error
        }
    }
}

private final class CloseOnRead: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.close(promise: nil)
    }
}

/// A client named for thread counts, with room for large bodies on a loaded machine.
func largeBodyConfiguration(_ name: String) -> ClientConfiguration {
    var configuration = ClientConfiguration()
    configuration.threadName = name
    configuration.timeout = .seconds(60)
    return configuration
}

/// This process's resident memory, from /proc/self/statm.
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Threads of this process whose name starts with `prefix` (from /proc/self/task/*/comm).
func threads(named prefix: String) -> Int {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.filter { task in
        let name = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
        return name.hasPrefix(prefix)
    }.count
}

/// Open file descriptors of this process that are TCP sockets connected to `port` on loopback:
/// the client's connections to one test server, however many other tests run beside it.
func socketsConnected(toPort port: Int) -> Int {
    let inodes = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { fd -> String? in
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
            target.hasPrefix("socket:[")
        else { return nil }
        return String(target.dropFirst(8).dropLast())
    })
    let hexPort = String(format: ":%04X", port)
    var count = 0
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        guard let text = procFile(table) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count > 9, columns[2].hasSuffix(hexPort), inodes.contains(String(columns[9])) else { continue }
            count += 1
        }
    }
    return count
}

/// The whole of a /proc file. They report size 0 and are produced a page at a time, so read until
/// the end rather than trusting a single read.
func procFile(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    guard let data = try? handle.readToEnd() else { return nil }
    return String(decoding: data, as: UTF8.self)
}
