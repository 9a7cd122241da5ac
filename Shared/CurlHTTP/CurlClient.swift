import CCurl
import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOFileSystem
import NIOPosix
import ServiceLifecycle
import Synchronization
import W3CTraceContext

/// An async HTTP client on one libcurl multi handle, driven by one thread of its own.
///
/// Run it in the service's `ServiceGroup` (it is a `Service`) or scope it with `withClient`; either
/// way shutdown lets in-flight calls finish and frees every handle and the thread.
public final class CurlClient: Service, Sendable {
    /// How the client was set up.
    public let configuration: ClientConfiguration
    /// Made on first use, so a service with no peers pays for neither libcurl nor a thread.
    private let lazyDriver = Mutex<LazyDriver>(.notStarted)
    private let breakers: CircuitBreakers
    private let budget: RetryBudget
    private let metrics: ClientMetrics

    private enum LazyDriver {
        case notStarted
        /// libcurl is being loaded; callers (and a shutdown) wait here until it is.
        case loading([CheckedContinuation<Void, Never>])
        case running(MultiDriver)
        case stopped
    }

    /// A client; its thread and multi handle start with the first request.
    public init(configuration: ClientConfiguration = ClientConfiguration()) {
        self.configuration = configuration
        let metrics = ClientMetrics(factory: configuration.metricsFactory)
        self.metrics = metrics
        self.breakers = CircuitBreakers(policy: configuration.circuitBreaker) { peer, state in
            metrics.circuit(peer: peer, state: state)
        }
        self.budget = RetryBudget(policy: configuration.retryBudget)
    }

    /// A client for the duration of `body`, shut down (gracefully) however `body` ends.
    @discardableResult
    public static func withClient<Result>(
        configuration: ClientConfiguration = ClientConfiguration(), _ body: (CurlClient) async throws -> Result
    ) async throws -> Result {
        let client = CurlClient(configuration: configuration)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    /// The running driver, started on first use (loading libcurl first); nil once the client is
    /// shut down. Throws when libcurl cannot be loaded.
    ///
    /// `dlopen` reads and maps libcurl's thirty libraries: it runs on NIO's blocking-I/O pool, not
    /// under the lock and not on a thread that serves requests. Callers racing the first load each
    /// wait there (libcurl's loader runs once); the lock only guards the quick driver start.
    private func startedDriver() async throws -> MultiDriver? {
        enum Step { case ready(MultiDriver?), load, wait }
        while true {
            let step = lazyDriver.withLock { state -> Step in
                switch state {
                case .running(let driver): return .ready(driver)
                case .stopped: return .ready(nil)
                case .loading: return .wait
                case .notStarted:
                    state = .loading([])
                    return .load
                }
            }
            switch step {
            case .ready(let driver): return driver
            case .wait: await waitForLoad()
            case .load:
                let load = configuration.loadLibrary
                let problem = try? await NIOThreadPool.singleton.runIfActive { load() }
                let (driver, waiters) = lazyDriver.withLock { state -> (MultiDriver?, [CheckedContinuation<Void, Never>]) in
                    guard case .loading(let waiters) = state else { return (nil, []) }
                    guard problem == .some(nil) else {
                        state = .notStarted
                        return (nil, waiters)
                    }
                    let driver = MultiDriver(
                        threadName: configuration.threadName, maxConnections: configuration.maxIdleConnections,
                        maxIdleHandles: 64, multiplex: configuration.httpVersion != .http1)
                    state = .running(driver)
                    return (driver, waiters)
                }
                for waiter in waiters { waiter.resume() }
                guard let driver else {
                    throw CurlHTTPError(.transport(Int32(CURLE_FAILED_INIT.rawValue)), (problem ?? nil) ?? "libcurl could not be loaded")
                }
                return driver
            }
        }
    }

    /// Returns once a load under way has ended (at once if none is).
    private func waitForLoad() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = lazyDriver.withLock { state -> Bool in
                guard case .loading(var waiters) = state else { return false }
                waiters.append(continuation)
                state = .loading(waiters)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }

    /// Serves until graceful shutdown, then waits for in-flight calls and frees everything.
    /// Cancelled instead, it aborts what is in flight.
    public func run() async throws {
        try? await gracefulShutdown()
        await stop(abort: Task.isCancelled ? .shutdown : nil)
    }

    /// Takes no new requests, lets in-flight ones finish, then stops the thread and frees handles.
    public func shutdown() async {
        await stop(abort: nil)
    }

    /// Stops the driver; if the waiting task is cancelled (the group's shutdown limit passed),
    /// what is still in flight is aborted instead of awaited.
    private func stop(abort: CurlHTTPError?) async {
        // A call that began before the shutdown may still be loading libcurl: let it finish
        // loading, so the call runs and is drained like any other in flight.
        var loading = true
        while loading {
            loading = lazyDriver.withLock { state in
                if case .loading = state { return true }
                return false
            }
            if loading { await waitForLoad() }
        }
        let running = lazyDriver.withLock { state -> MultiDriver? in
            defer { state = .stopped }
            if case .running(let driver) = state { return driver }
            return nil
        }
        guard let running else { return }
        await withTaskCancellationHandler {
            await running.stop(abort: abort)
        } onCancel: {
            running.abortInFlight(with: .shutdown)
        }
    }

    /// What the client holds right now, for tests and `/debug/vars`.
    public struct Statistics: Sendable {
        /// Easy handles alive, in flight or pooled.
        public let liveHandles: Int
        /// Transfers in the multi handle.
        public let inFlight: Int
    }

    /// Handles and transfers alive now.
    public var statistics: Statistics {
        let running = lazyDriver.withLock { state -> MultiDriver? in
            if case .running(let driver) = state { return driver }
            return nil
        }
        return Statistics(liveHandles: running?.liveHandles.load(ordering: .relaxed) ?? 0, inFlight: running?.inFlight.load(ordering: .relaxed) ?? 0)
    }

    /// The state of a peer's circuit breaker.
    public func circuitState(of peer: String) -> CircuitState {
        breakers.state(of: peer)
    }

    // MARK: - Sending

    /// Sends `request` and returns once the response head has arrived; the body streams after.
    /// Idempotent requests are retried on connection failures and 502/503/504, with backoff and
    /// jitter, within the retry budget and never past `deadline` (nor the incoming request's).
    public func execute(_ request: ClientRequest, deadline: ContinuousClock.Instant? = nil) async throws -> ClientResponse {
        let peer = request.peer ?? Self.peerName(of: request.url)
        let context = OutboundContext.current
        let deadline = [deadline, context?.deadline].compactMap { $0 }.min()
        let retryable = request.isIdempotent && (request.body?.isReplayable ?? true)
        var generator = SystemRandomNumberGenerator()
        budget.deposit()
        var attempt = 1
        while true {
            let retry = { [budget, metrics, configuration] () -> Duration? in
                guard retryable, attempt < configuration.retry.maxAttempts else { return nil }
                let pause = configuration.retry.backoff(beforeRetry: attempt - 1, using: &generator)
                if let deadline, ContinuousClock.now + pause >= deadline { return nil }
                let allowed = budget.withdraw()
                metrics.retried(peer: peer, allowed: allowed)
                return allowed ? pause : nil
            }
            guard breakers.permit(peer) else {
                metrics.record(peer: peer, method: request.method.rawValue, status: nil, error: CurlHTTPError.circuitOpen.kind, duration: .zero)
                throw CurlHTTPError(.circuitOpen, "\(peer): circuit open after repeated failures")
            }
            var timeout = request.timeout ?? configuration.timeout
            if let deadline {
                let left = deadline - .now
                guard left > .milliseconds(1) else {
                    breakers.release(peer)
                    throw CurlHTTPError(.timeout, "\(request.url): the deadline passed before the call")
                }
                timeout = min(timeout, left)
            }
            do {
                let response = try await attemptOnce(request, peer: peer, timeout: timeout, context: context, attempt: attempt)
                let code = response.status.code
                breakers.record(peer, success: code < 500)
                if configuration.retry.retryableStatuses.contains(code), let pause = retry() {
                    // Reading a short error body lets the connection be reused for the retry.
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    try await Task.sleep(for: pause)
                    attempt += 1
                    continue
                }
                return response
            } catch let error as CurlHTTPError {
                breakers.record(peer, success: false)
                if error.isConnectionFailure, let pause = retry() {
                    try await Task.sleep(for: pause)
                    attempt += 1
                    continue
                }
                throw error
            } catch {
                breakers.release(peer)
                throw error
            }
        }
    }

    /// Sends `request` and decodes a 2xx JSON answer; any other status throws `httpStatus`.
    public func json<Response: Decodable>(
        _ type: Response.Type = Response.self, for request: ClientRequest, deadline: ContinuousClock.Instant? = nil,
        limit: Int = 8 << 20, decoder: JSONDecoder = JSONDecoder()
    ) async throws -> Response {
        var request = request
        if request.headers[.accept] == nil { request.headers[.accept] = "application/json" }
        let response = try await execute(request, deadline: deadline)
        let body = try await response.body.collect(upTo: limit)
        guard (200..<300).contains(response.status.code) else {
            let text = String(decoding: body.readableBytesView.prefix(512), as: UTF8.self)
            throw CurlHTTPError.httpStatus(response.status.code, "\(request.method.rawValue) \(request.url): \(response.status.code) \(text)")
        }
        do {
            return try decoder.decode(Response.self, from: Data(body.readableBytesView))
        } catch {
            throw CurlHTTPError(.decoding, "\(request.url): \(error)")
        }
    }

    /// GETs `url` and decodes its JSON answer.
    public func get<Response: Decodable>(_ url: String, as type: Response.Type = Response.self, headers: HTTPFields = [:], peer: String? = nil) async throws -> Response {
        try await json(type, for: ClientRequest(method: .get, url: url, headers: headers, peer: peer))
    }

    /// POSTs `body` as JSON to `url` and decodes the JSON answer.
    public func post<Body: Encodable, Response: Decodable>(
        _ url: String, json body: Body, as type: Response.Type = Response.self, headers: HTTPFields = [:], peer: String? = nil
    ) async throws -> Response {
        try await json(type, for: ClientRequest(method: .post, url: url, headers: headers, body: try .json(body), peer: peer))
    }

    // MARK: - One attempt

    private func attemptOnce(_ request: ClientRequest, peer: String, timeout: Duration, context: OutboundContext?, attempt: Int) async throws -> ClientResponse {
        var uploadLength: Int64?
        if case .file(let path) = request.body?.storage {
            guard let info = try await FileSystem.shared.info(forFileAt: FilePath(path)) else {
                throw CurlHTTPError(.transport(Int32(CURLE_READ_ERROR.rawValue)), "\(path): no such file to send")
            }
            uploadLength = info.size
        }
        guard let driver = try await startedDriver() else { throw CurlHTTPError(.shutdown, "\(request.url): the client is shut down") }
        guard let easy = driver.makeHandle() else {
            throw CurlHTTPError(.transport(Int32(CURLE_OUT_OF_MEMORY.rawValue)), "curl_easy_init failed")
        }
        let method = request.method.rawValue
        let logger = configuration.logger
        let metrics = self.metrics
        let url = request.url
        let transfer = Transfer(easy: easy, url: url, driver: driver) { outcome in
            let kind = (outcome.error as? CurlHTTPError)?.kind ?? (outcome.error.map { _ in "cancelled" })
            metrics.record(peer: peer, method: method, status: outcome.status, error: kind, duration: outcome.duration)
            if logger.logLevel <= .debug {
                var metadata: Logger.Metadata = [
                    "peer": .string(peer), "method": .string(method), "url": .string(url),
                    "duration_ms": .stringConvertible(Double(outcome.duration.components.attoseconds / 1_000_000_000_000) / 1000
                        + Double(outcome.duration.components.seconds) * 1000),
                    "attempt": .stringConvertible(attempt), "reused_connection": .stringConvertible(outcome.reusedConnection),
                ]
                if let status = outcome.status { metadata["status"] = .stringConvertible(status) }
                if let kind { metadata["error"] = .string(kind) }
                if let requestID = context?.requestID { metadata["request_id"] = .string(requestID) }
                logger.debug("http client call", metadata: metadata)
            }
        }
        configure(easy, for: request, timeout: timeout, context: context, uploadLength: &uploadLength)
        switch request.body?.storage {
        case .bytes(let bytes):
            transfer.bytesToSend = bytes
        case .file(let path):
            let pipe = makePipe(for: transfer)
            transfer.feeder = Task { await Self.feed(pipe, fromFile: path) }
        case .stream(_, let makeChunks):
            let pipe = makePipe(for: transfer)
            transfer.feeder = Task { await Self.feed(pipe, from: makeChunks()) }
        case nil:
            break
        }
        transfer.installCallbacks()
        let head = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ResponseHead, any Error>) in
                transfer.headContinuation = continuation
                if !driver.submit(transfer) {
                    transfer.headContinuation = nil
                    transfer.feeder?.cancel()
                    continuation.resume(throwing: CurlHTTPError(.shutdown, "\(url): the client is shut down"))
                }
            }
        } onCancel: {
            transfer.cancelled.store(true, ordering: .releasing)
            transfer.driver.cancel(transfer)
        }
        return ClientResponse(status: head.status, httpVersion: head.httpVersion, headers: head.headers, body: head.body, peer: peer)
    }

    private func makePipe(for transfer: Transfer) -> UploadPipe {
        let pipe = UploadPipe(capacity: configuration.uploadBufferBytes) { [weak transfer] in
            guard let transfer else { return }
            transfer.driver.resumeSending(transfer)
        }
        transfer.pipe = pipe
        return pipe
    }

    private static func feed(_ pipe: UploadPipe, from chunks: AnyAsyncChunks) async {
        do {
            for try await chunk in chunks { try await pipe.append(chunk) }
            pipe.finish()
        } catch {
            pipe.finish(error: error)
        }
    }

    private static func feed(_ pipe: UploadPipe, fromFile path: String) async {
        do {
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(path)) { handle in
                for try await chunk in handle.readChunks(chunkLength: .kibibytes(64)) { try await pipe.append(chunk) }
            }
            pipe.finish()
        } catch {
            pipe.finish(error: error)
        }
    }

    private func configure(_ easy: EasyHandle, for request: ClientRequest, timeout: Duration, context: OutboundContext?, uploadLength: inout Int64?) {
        easy.set(CURLOPT_URL, request.url)
        easy.set(CURLOPT_NOSIGNAL, true)
        easy.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(easy.errorBuffer))
        easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        // Wait for an HTTP/2 connection being set up rather than open another beside it.
        easy.set(CURLOPT_PIPEWAIT, true)
        easy.set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        easy.set(CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout))
        easy.set(CURLOPT_TCP_KEEPALIVE, true)
        switch configuration.httpVersion {
        case .automatic: easy.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        case .http1: easy.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        case .http2PriorKnowledge: easy.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE))
        }
        if let caFile = configuration.caCertificateFile {
            easy.set(CURLOPT_CAINFO, caFile)
        }
        if request.decodesContent, request.headers[.acceptEncoding] == nil {
            // Empty means every encoding this libcurl decodes (gzip, deflate, br, zstd), decoded for us.
            easy.set(CURLOPT_ACCEPT_ENCODING, "")
        }

        var lines: [String] = []
        lines.reserveCapacity(request.headers.count + 4)
        for field in request.headers {
            // "Name:" would tell libcurl to drop the header; "Name;" sends it empty.
            lines.append(field.value.isEmpty ? "\(field.name.rawName);" : "\(field.name.rawName): \(field.value)")
        }
        if let trace = context?.trace, request.headers[.traceparent] == nil {
            var generator = SystemRandomNumberGenerator()
            let child = TraceContext(traceID: trace.traceID, spanID: .random(using: &generator), flags: trace.flags, state: trace.state)
            lines.append("traceparent: \(child.traceParentHeaderValue)")
            if let state = child.traceStateHeaderValue, !state.isEmpty, request.headers[.tracestate] == nil { lines.append("tracestate: \(state)") }
        }
        if let requestID = context?.requestID, request.headers[PropagationField.requestID] == nil {
            lines.append("X-Request-ID: \(requestID)")
        }

        let method = request.method
        if let body = request.body {
            if let contentType = body.contentType, request.headers[.contentType] == nil {
                lines.append("Content-Type: \(contentType)")
            }
            // libcurl would wait up to a second for "100 Continue" before a large body.
            lines.append("Expect:")
            switch body.storage {
            case .bytes(let bytes): uploadLength = Int64(bytes.readableBytes)
            case .stream(let length, _): uploadLength = length
            case .file: break
            }
            easy.set(CURLOPT_UPLOAD, true)
            easy.set(CURLOPT_INFILESIZE_LARGE, offset: uploadLength ?? -1)
            if method != .put { easy.set(CURLOPT_CUSTOMREQUEST, method.rawValue) }
        } else if method == .get {
            easy.set(CURLOPT_HTTPGET, true)
        } else if method == .head {
            easy.set(CURLOPT_NOBODY, true)
        } else if method == .post {
            easy.set(CURLOPT_POST, true)
            easy.set(CURLOPT_POSTFIELDSIZE, 0)
        } else {
            easy.set(CURLOPT_CUSTOMREQUEST, method.rawValue)
        }
        easy.setHeaders(lines)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// host:port of a URL, the default name of a peer. Sliced from the string: it runs on every
    /// call without a peer name, and `URLComponents` showed up in the client's profile.
    static func peerName(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let host = authority.split(separator: "@", maxSplits: 1).last ?? authority
        return host.isEmpty ? "unknown" : String(host)
    }
}
