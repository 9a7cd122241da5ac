import Foundation
import Synchronization

/// Loopback ports for test servers.
public enum FreePort {
    private static let handedOut = Mutex<Set<Int>>([])

    /// A port that was free on 127.0.0.1 a moment ago, from 20000–32767: below Linux's ephemeral
    /// range (32768–60999), so no outgoing connection of a loaded suite can take it as its local
    /// port between this call and the server's bind (which made a service exit before ready).
    /// Each port is handed out once per test process.
    public static func next() throws -> Int {
        for _ in 0..<200 {
            let candidate = Int.random(in: 20_000...32_767)
            guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
            if (try? ClosedPort(port: candidate)) != nil { return candidate }
        }
        return try ClosedPort().port
    }
}

/// A loopback port held bound but not listening, for as long as this value lives: a connection to
/// it is refused, and no other process can take it meanwhile (a port from `FreePort.next()` may be
/// reused by another test's server on a busy machine).
public final class ClosedPort: Sendable {
    /// The port number.
    public let port: Int
    private let fd: Int32

    /// A port the kernel picks, or `port` when it is free.
    public init(port requested: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(requested).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
