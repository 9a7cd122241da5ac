import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Prometheus

/// Cuts off clients that send a request too slowly (slowloris): the request head must arrive
/// within `REQUEST_HEADER_TIMEOUT` (10 s) of its first byte, or of the connection opening, and a
/// body may pause at most `REQUEST_BODY_TIMEOUT` (30 s) between two reads. Each held connection
/// costs a file descriptor and buffers; without a deadline a few hundred clients trickling bytes
/// hold them for ever while sending nothing a handler could refuse.
///
/// It wraps the server's child channel: a byte-level handler goes first in the pipeline (so it
/// also guards the first request of a server that upgrades to WebSockets, whose HTTP handlers come
/// later), and a handler after the HTTP codec tells it where each request's head and body end,
/// and when the answer is written. An upgraded WebSocket is never timed: its handlers are gone.
struct SlowClientGuard<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let limits: ReadDeadlines

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let phase = ReadPhase(limits: limits)
        do {
            try channel.pipeline.syncOperations.addHandler(ReadDeadlineHandler(phase: phase), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// The two deadlines, and the counter of connections they closed.
public struct ReadDeadlines: Sendable {
    /// From a request's first byte (or the connection opening) to the end of its head.
    public var header: Duration
    /// The longest pause between two reads of a request body.
    public var body: Duration
    let closed: Counter?

    /// The deadlines; `registry` gets `http_server_slow_clients_closed_total`.
    public init(header: Duration = .seconds(10), body: Duration = .seconds(30), registry: PrometheusCollectorRegistry? = nil) {
        self.header = header
        self.body = body
        self.closed = registry?.makeCounter(descriptor: .named("http_server_slow_clients_closed_total", "Connections closed for sending a request head or body too slowly."))
    }
}

/// Where a connection's current request stands, shared by its two handlers on its event loop.
final class ReadPhase {
    enum State {
        /// Between requests: the next byte starts a head.
        case idle
        /// Reading a head, since `since`.
        case head(since: NIODeadline)
        /// Reading a body; the last bytes came at `lastRead`.
        case body(lastRead: NIODeadline)
        /// The request is read; its answer is being made or written.
        case answering
    }

    let limits: ReadDeadlines
    var state: State
    /// The last bytes of the head so far (at most three), to find its blank line across reads.
    var tail: [UInt8] = []
    var codecSeen = false
    /// Bytes came while answering: a pipelined next request, whose head then starts when the
    /// answer ends.
    var readWhileAnswering = false

    init(limits: ReadDeadlines) {
        self.limits = limits
        self.state = .head(since: .now())
    }

    /// How often a connection's deadlines are checked: a quarter of the shorter one, so a
    /// deadline is enforced at most a quarter late, and no request pays for a timer of its own.
    var checkInterval: TimeAmount {
        let shorter = min(limits.header, limits.body)
        return .nanoseconds(max(25_000_000, Self.nanoseconds(shorter) / 4))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}

/// The byte-level half: watches the deadlines, and finds the end of a head itself when no codec
/// handler tells it (the first request of an upgrading server).
final class ReadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let phase: ReadPhase
    private var check: RepeatedTask?

    init(phase: ReadPhase) {
        self.phase = phase
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch phase.state {
        case .idle:
            phase.state = .head(since: .now())
            phase.tail = []
            scanForEndOfHead(unwrapInboundIn(data))
        case .head:
            scanForEndOfHead(unwrapInboundIn(data))
        case .body:
            phase.state = .body(lastRead: .now())
        case .answering:
            phase.readWhileAnswering = true
        }
        context.fireChannelRead(data)
    }

    /// Without a codec handler (before an upgrade decision), the head ends at the first blank line.
    private func scanForEndOfHead(_ buffer: ByteBuffer) {
        guard !phase.codecSeen else { return }
        var window = phase.tail
        for byte in buffer.readableBytesView {
            window.append(byte)
            if window.count > 4 { window.removeFirst() }
            if window == [13, 10, 13, 10] {
                phase.state = .answering
                return
            }
        }
        phase.tail = window
    }

    private func start(_ context: ChannelHandlerContext) {
        guard check == nil else { return }
        phase.state = .head(since: .now())
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let boundPhase = NIOLoopBound(phase, eventLoop: context.eventLoop)
        let interval = phase.checkInterval
        check = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { task in
            let phase = boundPhase.value
            let now = NIODeadline.now()
            switch phase.state {
            case .head(let since) where now - since >= .nanoseconds(ReadPhase.nanoseconds(phase.limits.header)):
                task.cancel()
                phase.limits.closed?.increment()
                // Nothing has been answered on this exchange yet: a 408 says why. Written from
                // this handler, the first in the pipeline, straight to the socket.
                let context = bound.value
                var answer = context.channel.allocator.buffer(capacity: 160)
                answer.writeString("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: 28\r\nConnection: close\r\n\r\n{\"detail\":\"Request Timeout\"}")
                context.writeAndFlush(NIOAny(answer)).whenComplete { _ in bound.value.close(promise: nil) }
            case .body(let lastRead) where now - lastRead >= .nanoseconds(ReadPhase.nanoseconds(phase.limits.body)):
                task.cancel()
                phase.limits.closed?.increment()
                bound.value.close(promise: nil)
            default:
                break
            }
        }
    }
}

/// The codec-level half: the head is in at `.head`, the body ends at `.end`, and the next
/// request's head may start once the answer's `.end` is written.
final class ReadPhaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var phase: ReadPhase?
    private var inFlight = 0

    init() {}

    /// Finds the connection's phase on the byte-level handler in front.
    func handlerAdded(context: ChannelHandlerContext) {
        phase = (try? context.pipeline.syncOperations.handler(type: ReadDeadlineHandler.self))?.phase
        phase?.codecSeen = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let phase else { return context.fireChannelRead(data) }
        switch unwrapInboundIn(data) {
        case .head:
            inFlight += 1
            // The body's first pause starts now.
            phase.state = .body(lastRead: .now())
        case .body:
            break
        case .end:
            phase.state = .answering
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let phase, case .end = unwrapOutboundIn(data) {
            inFlight = max(0, inFlight - 1)
            if inFlight == 0, case .answering = phase.state {
                phase.state = phase.readWhileAnswering ? .head(since: .now()) : .idle
                phase.readWhileAnswering = false
            }
        }
        context.write(data, promise: promise)
    }
}
