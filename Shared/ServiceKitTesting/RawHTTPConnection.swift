import Foundation

/// A plain TCP connection to a loopback server, for tests that must control exactly what is sent
/// and when: trickled bodies, chunked bodies, half-sent requests. Blocking calls run on their own
/// thread, never on the cooperative pool.
public final class RawHTTPConnection: @unchecked Sendable {
    private let fd: Int32

    /// Connects to `127.0.0.1:port`; `receiveBuffer` sets `SO_RCVBUF` before connecting (a small
    /// one makes a client that stops reading push back on the server after a few kilobytes).
    public init(port: Int, receiveBuffer: Int? = nil) throws {
        // A local until connected: a class whose stored properties are all set runs its deinit
        // when init throws, and a second close of a number another thread has reused since (a
        // NIO socket) made that thread's writes fail with EBADF, a crash of the test process.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED)
        }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends bytes; false when the server has closed the connection.
    @discardableResult
    public func send(_ text: String) async -> Bool {
        await send(Array(text.utf8))
    }

    /// Sends bytes; false when the server has closed the connection.
    @discardableResult
    public func send(_ bytes: [UInt8]) async -> Bool {
        await onThread { [fd] in
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
                if written <= 0 { return false }
                offset += written
            }
            return true
        }
    }

    /// Shuts both directions down: a read blocked on another thread returns at once (a test's
    /// reader that would otherwise wait for a close that a failed test never sends).
    public func shutdown() {
        _ = Foundation.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// The bytes one read returns; empty when the server has closed or nothing came for 30 s.
    public func receive(atMost count: Int = 65_536) async -> [UInt8] {
        await onThread { [fd] in
            var chunk = [UInt8](repeating: 0, count: count)
            let received = recv(fd, &chunk, count, 0)
            return received > 0 ? Array(chunk[0..<received]) : []
        }
    }

    /// Reads until the server closes or a complete response (by Content-Length) has arrived.
    public func readResponse() async -> RawHTTPResponse? {
        await onThread { [fd] in
            var data: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = recv(fd, &chunk, chunk.count, 0)
                if count <= 0 { break }
                data.append(contentsOf: chunk[0..<count])
                if let response = RawHTTPResponse(parsing: data), response.isComplete { return response }
            }
            return RawHTTPResponse(parsing: data)
        }
    }

    private func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.start()
        }
    }
}

/// A response parsed from raw bytes.
public struct RawHTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    /// The body bytes received so far, as text.
    public var body: String
    /// Whether the body is as long as Content-Length says.
    public var isComplete: Bool

    init?(parsing data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        guard let statusLine = head.first, statusLine.split(separator: " ").count >= 2,
            let status = Int(statusLine.split(separator: " ")[1])
        else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.status = status
        self.headers = headers
        self.body = String(text[split.upperBound...])
        let expected = headers["content-length"].flatMap(Int.init) ?? 0
        self.isComplete = body.utf8.count >= expected
    }
}
