import CCurl
import HTTPTypes
import NIOCore
import Synchronization

/// The status and headers of a response, delivered as soon as the head is complete.
struct ResponseHead: Sendable {
    let status: HTTPResponse.Status
    let httpVersion: String
    let headers: HTTPFields
    let body: ResponseBody
}

/// How a transfer ended, for metrics and logs.
struct TransferOutcome: Sendable {
    let status: Int?
    let error: (any Error)?
    let duration: Duration
    let reusedConnection: Bool
}

typealias BodyChunks = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDemand
>

/// One request in flight: an easy handle and the state its libcurl callbacks fill in.
///
/// Invariant: once submitted, every `var` below is read and written only on the driver thread
/// (in libcurl callbacks or driver commands), so the class needs no lock for them. The head
/// continuation is set before submission, which the driver's command lock publishes.
final class Transfer: @unchecked Sendable {
    let easy: EasyHandle
    let url: String
    /// The driver this transfer runs on; commands from other threads go through it.
    let driver: MultiDriver
    let started: ContinuousClock.Instant
    /// Set from any thread when the awaiting task is cancelled; checked by the driver on add.
    let cancelled = Atomic<Bool>(false)
    /// Set once the transfer has ended: `finish` runs once, and a body read to its end queues no
    /// needless cancel.
    let ended = Atomic<Bool>(false)
    /// Called once on the driver thread when the transfer ends, however it ends.
    let onComplete: @Sendable (TransferOutcome) -> Void

    var headContinuation: CheckedContinuation<ResponseHead, any Error>?
    var bytesToSend: ByteBuffer?
    var pipe: UploadPipe?
    /// The task that feeds `pipe`; owned by this transfer and cancelled when it ends.
    var feeder: Task<Void, Never>?
    var statusLineSeen = false
    var headers = HTTPFields()
    var headDelivered = false
    var bodySource: BodyChunks.Source?
    /// The consumer is behind: hold data in libcurl until it asks for more.
    var receivePaused = false

    init(easy: EasyHandle, url: String, driver: MultiDriver, onComplete: @escaping @Sendable (TransferOutcome) -> Void) {
        self.easy = easy
        self.driver = driver
        self.url = url
        self.started = .now
        self.onComplete = onComplete
    }

    /// The pointer libcurl hands back to the callbacks. The driver keeps the transfer alive in its
    /// table for as long as the handle is in the multi handle, so it is never dangling there.
    var userdata: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ userdata: UnsafeMutableRawPointer?) -> Transfer {
        Unmanaged<Transfer>.fromOpaque(userdata!).takeUnretainedValue()
    }

    /// Installs the callbacks; the options describing the request are set by the client.
    func installCallbacks() {
        easy.set(CURLOPT_WRITEFUNCTION, callback: { buffer, size, count, userdata in
            Transfer.from(userdata).received(buffer, size * count)
        })
        easy.set(CURLOPT_WRITEDATA, pointer: userdata)
        easy.set(CURLOPT_HEADERFUNCTION, callback: { buffer, size, count, userdata in
            Transfer.from(userdata).receivedHeader(buffer, size * count)
        })
        easy.set(CURLOPT_HEADERDATA, pointer: userdata)
        if bytesToSend != nil || pipe != nil {
            easy.set(CURLOPT_READFUNCTION, callback: { buffer, size, count, userdata in
                Transfer.from(userdata).send(into: buffer, size * count)
            })
            easy.set(CURLOPT_READDATA, pointer: userdata)
        }
    }

    private func receivedHeader(_ buffer: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let buffer, !headDelivered else { return count }
        let line = UnsafeRawBufferPointer(start: buffer, count: count)
        if line.starts(with: "HTTP/".utf8) {
            // A new status line: an interim 1xx answer before it is discarded.
            headers = HTTPFields()
            statusLineSeen = true
            return count
        }
        if count <= 2, line.first == UInt8(ascii: "\r") || line.first == UInt8(ascii: "\n") {
            let status = easy.info(CURLINFO_RESPONSE_CODE)
            if status >= 200 || !statusLineSeen { deliverHead(status: status) }
            return count
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return count }
        let name = String(decoding: line[..<colon], as: UTF8.self)
        var value = line[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x0D || last == 0x0A || last == 0x20 { value = value.dropLast() }
        if let fieldName = HTTPField.Name(name) {
            headers.append(HTTPField(name: fieldName, value: String(decoding: value, as: UTF8.self)))
        }
        return count
    }

    private func deliverHead(status: Int) {
        headDelivered = true
        let new = BodyChunks.makeSequence(
            backPressureStrategy: .init(lowWatermark: 4, highWatermark: 16),
            finishOnDeinit: false,
            delegate: BodyDemand(transfer: self)
        )
        bodySource = new.source
        let head = ResponseHead(
            status: HTTPResponse.Status(code: status),
            httpVersion: Self.versionName(easy.info(CURLINFO_HTTP_VERSION)),
            headers: headers,
            body: ResponseBody(chunks: new.sequence)
        )
        headContinuation?.resume(returning: head)
        headContinuation = nil
    }

    private static func versionName(_ version: Int) -> String {
        switch version {
        case Int(CURL_HTTP_VERSION_1_0): "1.0"
        case Int(CURL_HTTP_VERSION_2_0): "2"
        case Int(CURL_HTTP_VERSION_3): "3"
        default: "1.1"
        }
    }

    private func received(_ buffer: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let buffer, let bodySource else { return count }
        if receivePaused { return FLEET_CURL_WRITEFUNC_PAUSE }
        let chunk = ByteBuffer(bytes: UnsafeRawBufferPointer(start: buffer, count: count))
        switch bodySource.yield(chunk) {
        case .produceMore: break
        case .stopProducing: receivePaused = true
        // The consumer has gone: a short count makes libcurl abort the transfer.
        case .dropped: return 0
        }
        return count
    }

    private func send(into buffer: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let buffer else { return 0 }
        if var bytes = bytesToSend {
            let taken = min(count, bytes.readableBytes)
            bytes.withUnsafeReadableBytes { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress!, byteCount: taken)
            }
            bytes.moveReaderIndex(forwardBy: taken)
            bytesToSend = bytes
            return taken
        }
        guard let pipe else { return 0 }
        switch pipe.read(into: UnsafeMutableRawPointer(buffer), count: count) {
        case .bytes(let copied): return copied
        case .empty: return FLEET_CURL_READFUNC_PAUSE
        case .end: return 0
        case .failed: return FLEET_CURL_READFUNC_ABORT
        }
    }

    /// Ends the transfer: the awaiting task or the body's consumer sees `error`, or the body ends.
    func finish(error: (any Error)?) {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let headContinuation {
            self.headContinuation = nil
            headContinuation.resume(throwing: error ?? CurlHTTPError(.connectionClosed, "\(url): no response head"))
        } else if let bodySource {
            if let error { bodySource.finish(error) } else { bodySource.finish() }
        }
        bodySource = nil
        pipe?.close()
        feeder?.cancel()
        feeder = nil
        let status = headDelivered ? easy.info(CURLINFO_RESPONSE_CODE) : nil
        let reused = easy.info(CURLINFO_NUM_CONNECTS) == 0
        onComplete(TransferOutcome(status: status, error: error, duration: .now - started, reusedConnection: reused))
    }
}

/// Tells the driver when the body's consumer wants more (resume reading) or has gone (abort).
struct BodyDemand: NIOAsyncSequenceProducerDelegate {
    let transfer: Transfer

    func produceMore() {
        transfer.driver.resumeReceiving(transfer)
    }

    func didTerminate() {
        // Also called when a complete body has been read: nothing to abort then.
        guard !transfer.ended.load(ordering: .acquiring) else { return }
        transfer.driver.cancel(transfer)
    }
}
